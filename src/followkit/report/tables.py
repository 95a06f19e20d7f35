"""The run report's tables, built once as plain data from a RunView; report.md and report.html only
format them (followkit.report.markdown, followkit.report.html)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from followkit.core.io import read_json
from followkit.core.stats import COUNT_BINS, MIN_CELL, Comparison, Metric
from followkit.report.views import (
    BASELINE,
    METHOD_COMPARISONS,
    EvalView,
    RunView,
    by_constraint_bin,
    by_constraint_id,
    by_trace_type,
    comparisons,
    instruction_accuracy,
    panel_label,
    prompt_accuracy,
)


class Code(str):
    """A cell shown as code (a constraint id): backticks in Markdown, <code> on the page."""


@dataclass(frozen=True)
class Table:
    """One table of the report: its heading, columns and cells, and the sentences that go with it."""

    key: str  # what it is, for the renderer's pictures: "comparisons", "by_count", "training", ...
    title: str
    header: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)  # shown before the table
    bullets: list[str] = field(default_factory=list)  # a reading of each row, shown after it
    num_from: int = 1  # the first column of numbers, right-aligned on the page
    page_header: list[str] | None = None  # the page's column names, where they differ from header


def _pp(x: float) -> str:
    return f"{100 * x:+.1f}"


def _fmt(m: Metric) -> str:
    if m.n == 0:
        return "–"
    se = "" if m.stderr != m.stderr else f" ± {100 * m.stderr:.1f}"  # NaN check: one sample has no SE
    return f"{100 * m.value:.1f}{se}"


def _cell(m: Metric) -> str:
    """A table cell that shows its count instead of a percentage when too few prompts back it."""
    return f"n={m.n}" if 0 < m.n < MIN_CELL else _fmt(m)


def verdict(base: EvalView, ev: EvalView, c: Comparison) -> str:
    """The plain-language reading of one comparison."""
    from followkit.evaluate.compare import verdict_line

    return verdict_line(ev.name, c, "the base" if base.path.name == BASELINE else base.name)


def comparison_row(base: EvalView, ev: EvalView, c: Comparison) -> list[str]:
    """Cells of one comparison: model, prompts, the two differences with CIs, McNemar, verdict."""
    p, i = c.prompt_diff, c.inst_diff
    verdict = "better" if i.lo > 0 else ("worse" if i.hi < 0 else "no clear difference")
    return [
        ev.name,
        base.name,
        str(c.n_prompts),
        f"{_pp(p.diff)} [{_pp(p.lo)}, {_pp(p.hi)}]",
        f"{_pp(i.diff)} [{_pp(i.lo)}, {_pp(i.hi)}]",
        f"{c.mcnemar_b}/{c.mcnemar_c}, p={c.mcnemar_p:.3g}",
        verdict,
    ]


COMPARISON_HEADERS = [
    "model",
    "vs",
    "prompts",
    "prompt-level Δ pts [95% CI]",
    "instruction-level Δ pts [95% CI]",
    "McNemar b/c, p",
    "instruction level",
]


def general_quality(run_dir: Path) -> list[list[str]]:
    """Rows of the general-quality table: each RUN/**/winrate.json (followkit winrate), LC win rate first."""
    rows = []
    for path in sorted(Path(run_dir).rglob("winrate.json")):
        doc = read_json(path)

        def pct(key: str, doc: dict[str, Any] = doc) -> str:
            v, se = doc.get(key), doc.get(f"{key}_stderr")
            if v is None or v != v:
                return "–"
            return f"{100 * v:.1f}" + ("" if se is None or se != se else f" ± {100 * se:.1f}")

        lengths = doc.get("avg_length") or {}
        rows.append(
            [
                str(path.parent.relative_to(run_dir)),
                f"{doc.get('model', '')} vs {doc.get('baseline', '')}",
                pct("lc_win_rate"),
                pct("win_rate"),
                f"{lengths.get('model', float('nan')):.0f} / {lengths.get('baseline', float('nan')):.0f}",
                str(doc.get("n_scored", "")),
                str((doc.get("judge") or {}).get("spec", "")),
            ]
        )
    return rows


GENERAL_QUALITY_HEADERS = [
    "where",
    "model vs baseline",
    "LC win rate %",
    "win rate %",
    "avg chars model / baseline",
    "pairs",
    "judge",
]


def _ci(d: Any) -> str:
    return f"{_pp(d.diff)} [{_pp(d.lo)}, {_pp(d.hi)}]"


def run_summary(comps: list[tuple[EvalView, EvalView, Comparison]]) -> list[str]:
    """One plain sentence per benchmark: which models clearly beat the base on single constraints and on
    whole prompts (95% interval above zero), which are clearly worse, and how the methods compare."""
    lines = []
    for panel in dict.fromkeys(panel_label(e) for _, e, _ in comps):
        rows = [(b, e, c) for b, e, c in comps if panel_label(e) == panel]
        vs_base = [(e.path.name, c) for b, e, c in rows if b.path.name == BASELINE]
        parts = []
        for level, what in (("inst_diff", "single constraints"), ("prompt_diff", "whole prompts")):
            up = [f"{m} {_ci(getattr(c, level))}" for m, c in vs_base if getattr(c, level).lo > 0]
            down = [f"{m} {_ci(getattr(c, level))}" for m, c in vs_base if getattr(c, level).hi < 0]
            text = f"on {what}, " + (
                f"above the base: {', '.join(up)}" if up else "no model is clearly above the base"
            )
            parts.append(text + (f"; below it: {', '.join(down)}" if down else ""))
        for b, e, c in rows:
            if b.path.name != BASELINE:
                d = c.inst_diff
                word = "ahead of" if d.lo > 0 else ("behind" if d.hi < 0 else "not clearly different from")
                parts.append(
                    f"{e.path.name} is {word} {b.path.name} on single constraints ({_ci(d)}; whole prompts {_ci(c.prompt_diff)})"
                )
        unseen = " (constraints never seen in training)" if panel.startswith("ifbench") else ""
        lines.append(f"In short, {panel}{unseen}: " + "; ".join(parts) + ".")
    return lines


def comparison_table(comps: list[tuple[EvalView, EvalView, Comparison]]) -> Table:
    """The paired comparisons of every benchmark (followkit's, IFEval's, IFBench's), one row each."""
    return Table(
        "comparisons",
        "Compared with the baseline (paired, same prompts)",
        ["benchmark", *COMPARISON_HEADERS],
        [[panel_label(e), *comparison_row(b, e, c)] for b, e, c in comps],
        notes=[
            *run_summary(comps),
            "Each model against the base on the same prompts, then method against method "
            f"({', '.join(f'{o} vs {b}' for b, o in METHOD_COMPARISONS)}). Differences in percentage "
            "points, strict; 95% paired-bootstrap intervals over prompts; McNemar's exact test on "
            "prompt-level outcomes (b: only the first followed, c: only the second).",
        ],
        bullets=[f"{panel_label(e)}: {verdict(b, e, c)}" for b, e, c in comps],
        num_from=3,
    )


def accuracy_table(view: RunView) -> Table:
    """Prompt- and instruction-level strict accuracy of each evaluation."""
    rows = []
    for ev in view.evals:
        pa, ia = prompt_accuracy(ev), instruction_accuracy(ev)
        rows.append([ev.name, str(pa.n), _fmt(pa), _fmt(ia)])
    return Table(
        "accuracy",
        "Accuracy (strict, % ± standard error)",
        ["evaluation", "n", "prompt-level", "instruction-level"],
        rows,
        page_header=["evaluation", "n", "prompt-level %", "instruction-level %"],
    )


def count_table(view: RunView) -> Table:
    """Prompt-level accuracy in bins of the number of constraints."""
    per = [by_constraint_bin(ev) for ev in view.evals]
    bins = [b for b in COUNT_BINS if any(b in m for m in per)]
    return Table(
        "by_count",
        "Prompt-level accuracy by number of constraints",
        ["evaluation", *(f"k={b}" for b in bins)],
        [
            [ev.name, *(_cell(m[b]) if b in m else "–" for b in bins)]
            for ev, m in zip(view.evals, per, strict=True)
        ],
        notes=[
            f"Bins of the number of constraints; a cell over fewer than {MIN_CELL} prompts shows its count."
        ],
    )


def trace_type_table(view: RunView) -> Table:
    """Pass rate per TRACE type, one row per evaluation."""
    per = [by_trace_type(ev) for ev in view.evals]
    types = sorted({t for m in per for t in m})
    rows = [
        [ev.name, *(_fmt(m[t]) if t in m else "–" for t in types)]
        for ev, m in zip(view.evals, per, strict=True)
    ]
    return Table("trace_types", "Pass rate per TRACE type", ["evaluation", *types], rows)


def constraint_id_table(view: RunView) -> Table:
    """Pass rate per constraint id, one column per evaluation."""
    per = [by_constraint_id(ev) for ev in view.evals]
    ids = sorted({i for m in per for i in m})
    rows = [[Code(i), *(_fmt(m[i]) if i in m else "–" for m in per)] for i in ids]
    return Table(
        "constraint_ids", "Pass rate per constraint id", ["id", *(ev.name for ev in view.evals)], rows
    )


def training_table(view: RunView) -> Table:
    """Each training run's steps, first and last loss, and last reward accuracy."""
    rows = []
    for tv in view.trains:
        acc = tv.steps[-1].get("rewards/accuracies")
        rows.append(
            [
                tv.name,
                str(len(tv.steps)),
                f"{tv.steps[0]['loss']:.4f}",
                f"{tv.steps[-1]['loss']:.4f}",
                "–" if acc is None else f"{acc:.3f}",
            ]
        )
    return Table(
        "training", "Training", ["method", "steps", "first loss", "last loss", "last reward accuracy"], rows
    )


def report_tables(view: RunView) -> list[Table]:
    """The tables report.md and report.html both show, in their order."""
    tables = []
    if view.evals:
        comps = comparisons(view)
        if comps:
            tables.append(comparison_table(comps))
        tables += [accuracy_table(view), count_table(view), trace_type_table(view), constraint_id_table(view)]
    if view.trains:
        tables.append(training_table(view))
    gq = general_quality(view.run_dir)
    if gq:
        title = "General quality (length-controlled win rate vs the base)"
        tables.append(Table("general_quality", title, GENERAL_QUALITY_HEADERS, gq, num_from=2))
    return tables


def stages_table(view: RunView) -> Table | None:
    """Status and seconds of each stage of the last `followkit run` (report.md; the page shows them
    in its provenance table)."""
    if not view.stages:
        return None
    rows = [[str(s["stage"]), str(s["status"]), str(s["seconds"])] for s in view.stages]
    return Table("stages", "Stages of the last run", ["stage", "status", "seconds"], rows)


def provenance_table(view: RunView) -> Table:
    """Where each part of the run came from: manifests, evaluations and stages (report.html; report.md
    lists them)."""
    rows = []
    for where, man in view.manifests.items():
        versions = ", ".join(f"{k} {v}" for k, v in man.get("versions", {}).items())
        rows.append([where, str(man.get("stage", "")), str(man.get("config_sha256", ""))[:12], versions])
    for ev in view.evals:
        r = ev.results
        hashes = f"template {str(r.get('chat_template_sha256'))[:12]} · data {str(r.get('data_sha256'))[:12]}"
        rows.append([ev.name, "eval", str(r.get("model", "")), f"{hashes} · cache {r.get('cache')}"])
    rows += [
        [str(s["stage"]), str(s["status"]), f"{s['seconds']} s", str(s.get("detail", ""))]
        for s in view.stages
    ]
    header = ["where", "stage", "id / hash", "details"]
    return Table("provenance", "Provenance", header, rows, num_from=len(header))  # no column of numbers
