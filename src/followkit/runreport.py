"""`followkit report RUN_DIR`: report.md and a self-contained report.html for a pipeline run.

It reads what the stages left behind: each evaluation folder (results.json + samples.jsonl), each
training folder (log.jsonl), the stage manifests and the pipeline record. Nothing is recomputed
from models; the report is a view of the run's files.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from followkit.io import read_json, read_jsonl, write_json, write_text_atomic
from followkit.stats import (
    COUNT_BINS,
    MIN_CELL,
    Comparison,
    Metric,
    PromptOutcome,
    count_bin,
    mean_metric,
)


@dataclass
class ConstraintView:
    """One constraint of a sample as the report shows it."""

    id: str
    text: str
    passed: bool
    type: str | None = None  # TRACE type when the sample names it (judged TRACE constraints do)


@dataclass
class SampleView:
    """One evaluated sample: prompt, response and per-constraint verdicts (strict)."""

    id: str
    prompt: str
    response: str
    constraints: list[ConstraintView]

    @property
    def followed(self) -> bool:
        return all(c.passed for c in self.constraints)


@dataclass
class EvalView:
    """One evaluation folder of the run."""

    name: str
    path: Path
    results: dict[str, Any]
    samples: list[SampleView]
    outcomes: dict[str, PromptOutcome] = field(default_factory=dict)  # by sample id, for comparisons


@dataclass
class TrainView:
    """One training folder: its logged steps."""

    name: str
    path: Path
    steps: list[dict[str, Any]]


@dataclass
class RunView:
    """Everything the report shows."""

    run_dir: Path
    evals: list[EvalView] = field(default_factory=list)
    trains: list[TrainView] = field(default_factory=list)
    manifests: dict[str, dict] = field(default_factory=dict)
    pipeline: dict[str, Any] = field(default_factory=dict)
    stages: list[dict[str, Any]] = field(default_factory=list)
    comparisons: list[tuple[EvalView, EvalView, Comparison]] | None = None  # see comparisons()


def _sample_view(rec: dict[str, Any]) -> SampleView:
    """Adapt a samples.jsonl record (eval's format) to the report's view."""
    prompt = rec.get("prompt")
    if prompt is None:
        msgs = rec.get("messages") or []
        prompt = "\n\n".join(f"[{m.get('role')}] {m.get('content')}" for m in msgs)
    constraints = rec.get("constraints") or []
    verdicts = rec.get("verdicts") or {}
    strict = verdicts.get("strict") if isinstance(verdicts, dict) else None
    if strict is None:
        strict = rec.get("follow_instruction_list") or rec.get("strict") or []
    views = []
    for i, c in enumerate(constraints):
        cid = c.get("id", "?") if isinstance(c, dict) else str(c)
        text = c.get("text", "") if isinstance(c, dict) else ""
        passed = bool(strict[i]) if i < len(strict) else False
        ttype = c.get("type") if isinstance(c, dict) else None
        views.append(ConstraintView(cid, text, passed, ttype))
    if not views and rec.get("instruction_id_list"):
        views = [
            ConstraintView(cid, "", bool(p))
            for cid, p in zip(rec["instruction_id_list"], strict, strict=False)
        ]
    return SampleView(
        str(rec.get("id", rec.get("key", ""))), str(prompt), str(rec.get("response", "")), views
    )


def read_samples(path: Path, raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """samples.jsonl rows checked as followkit.records.EvalSample (older files: key/prompt through the
    'prompt' adapter); a row that still does not fit is shown as it is, since a report never refuses a
    finished run's samples."""
    from followkit.errors import InputError
    from followkit.records import EvalSample, parse_row

    out = []
    for line, rec in enumerate(raw, start=1):
        try:
            sample = parse_row(rec, EvalSample, path, line, shape="prompt")
            out.append(
                {**rec, "id": sample.id, "response": sample.response}
            )  # the row's own view fields kept
        except InputError:
            out.append(rec)
    return out


def load_run(run_dir: str | Path) -> RunView:
    """Collect the evaluation, training and provenance files of a run folder."""
    rd = Path(run_dir)
    view = RunView(rd)
    if (rd / "pipeline.json").exists():
        view.pipeline = read_json(rd / "pipeline.json")
    if (rd / ".pipeline" / "last_run.json").exists():
        view.stages = json.loads((rd / ".pipeline" / "last_run.json").read_text())
    for res in sorted(rd.rglob("results.json")):
        folder = res.parent
        samples_file = folder / "samples.jsonl"
        if not samples_file.exists():
            continue
        from followkit.evaluate.compare import outcomes

        raw = read_jsonl(samples_file)
        samples = [_sample_view(r) for r in read_samples(samples_file, raw)]
        name = str(folder.relative_to(rd)).removeprefix("eval/")
        view.evals.append(EvalView(name, folder, read_json(res), samples, outcomes(raw)))
    for log in sorted(rd.rglob("log.jsonl")):
        steps = [r for r in read_jsonl(log) if "loss" in r]
        if steps:
            view.trains.append(TrainView(log.parent.name, log.parent, steps))
    for man in sorted(rd.rglob("manifest.json")):
        view.manifests[str(man.parent.relative_to(rd))] = read_json(man)
    return view


def by_constraint_count(ev: EvalView) -> dict[int, Metric]:
    """Prompt-level strict accuracy grouped by number of constraints."""
    groups: dict[int, list[float]] = defaultdict(list)
    for s in ev.samples:
        groups[len(s.constraints)].append(1.0 if s.followed else 0.0)
    return {k: mean_metric(v) for k, v in sorted(groups.items())}


def by_constraint_bin(ev: EvalView) -> dict[str, Metric]:
    """Prompt-level strict accuracy in bins of the number of constraints (1, 2-3, 4-5, 6+)."""
    groups: dict[str, list[float]] = defaultdict(list)
    for s in ev.samples:
        groups[count_bin(len(s.constraints))].append(1.0 if s.followed else 0.0)
    return {k: mean_metric(groups[k]) for k in COUNT_BINS if k in groups}


BASELINE = "baseline"
"""The evaluation folder every sibling evaluation is compared with (same prompts, paired)."""


METHOD_COMPARISONS: tuple[tuple[str, str], ...] = (("dpo", "iopo"), ("sft", "dpo"))
"""(base, other) folders compared directly, beside the baseline: the seeds' claims that IOPO beats
DPO+SFT and DPO+SFT beats SFT, tested on the same prompts."""


def comparisons(view: RunView) -> list[tuple[EvalView, EvalView, Comparison]]:
    """(base, other, paired comparison): each evaluation against the `baseline` folder beside it, then
    the METHOD_COMPARISONS of that folder; computed once per view."""
    if view.comparisons is not None:
        return view.comparisons
    from followkit.evaluate.compare import compare_outcomes

    by_place = {(ev.path.parent, ev.path.name): ev for ev in view.evals}
    pairs: list[tuple[EvalView, EvalView]] = []
    for parent in dict.fromkeys(ev.path.parent for ev in view.evals):
        base = by_place.get((parent, BASELINE))
        if base is not None:
            pairs += [(base, ev) for ev in view.evals if ev.path.parent == parent and ev is not base]
        for b, o in METHOD_COMPARISONS:
            if (parent, b) in by_place and (parent, o) in by_place:
                pairs.append((by_place[(parent, b)], by_place[(parent, o)]))
    view.comparisons = [
        (b, e, compare_outcomes(b.outcomes, e.outcomes)) for b, e in pairs if b.outcomes and e.outcomes
    ]
    return view.comparisons


def panel_label(ev: EvalView) -> str:
    """What a group of evaluations measured: the benchmark, and the half of it when split."""
    cfg = ev.results.get("config") or {}
    name = str(ev.results.get("benchmark") or cfg.get("benchmark") or ev.path.parent.name).split(":")[0]
    split = cfg.get("split")
    return f"{name} ({split} half)" if split and split != "all" else name


def plot_differences(view: RunView) -> str | None:
    """The paired differences with their 95% intervals, one panel per benchmark: each method against
    the base, then method against method; prompt and instruction level side by side."""
    comps = comparisons(view)
    if not comps:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels: dict[Path, list[tuple[EvalView, EvalView, Comparison]]] = {}
    for b, e, c in comps:
        panels.setdefault(e.path.parent, []).append((b, e, c))
    rows = max(len(v) for v in panels.values())
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.2 * len(panels), 0.5 * rows + 1.6), sharey=False, squeeze=False
    )
    for ax, (_, group) in zip(axes[0], panels.items(), strict=True):
        labels = [f"{e.path.name} − {b.path.name}" for b, e, _ in group]
        for j, (_, _, c) in enumerate(group):
            y = len(group) - 1 - j
            for off, d, color, name in (
                (0.15, c.inst_diff, "#1f5fbf", "instruction level"),
                (-0.15, c.prompt_diff, "#d9822b", "prompt level"),
            ):
                ax.errorbar(
                    100 * d.diff,
                    y + off,
                    xerr=[[100 * (d.diff - d.lo)], [100 * (d.hi - d.diff)]],
                    fmt="o",
                    color=color,
                    capsize=3,
                    label=name if j == 0 else None,
                )
        ax.axvline(0, color="#555", lw=0.8)
        ax.set_yticks(range(len(group)), list(reversed(labels)), fontsize=8)
        ax.set_ylim(-0.6, len(group) - 0.4)
        ax.set_title(f"{panel_label(group[0][1])} · {group[0][2].n_prompts} prompts", fontsize=10)
        ax.set_xlabel("difference, points (95% CI)")
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].legend(fontsize=7, loc="lower right")
    return _png(fig)


def _pp(x: float) -> str:
    return f"{100 * x:+.1f}"


DIFFERENCES_PNG = "paired_differences.png"
"""The report's lead picture, written beside report.md."""


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


def by_constraint_id(ev: EvalView) -> dict[str, Metric]:
    """Strict pass rate per constraint id."""
    groups: dict[str, list[float]] = defaultdict(list)
    for s in ev.samples:
        for c in s.constraints:
            groups[c.id].append(1.0 if c.passed else 0.0)
    return {k: mean_metric(v) for k, v in sorted(groups.items())}


def by_trace_type(ev: EvalView) -> dict[str, Metric]:
    """Strict pass rate per TRACE type (content, situation, style, format, example)."""
    from followkit.constraints import registry
    from followkit.constraints.taxonomy import DIMENSIONS

    groups: dict[str, list[float]] = defaultdict(list)
    reg = registry.registry()
    for s in ev.samples:
        for c in s.constraints:
            ct = reg.get(c.id)
            ttype = c.type or (DIMENSIONS[ct.dimension].type if ct is not None else "other")
            groups[ttype].append(1.0 if c.passed else 0.0)
    return {k: mean_metric(v) for k, v in sorted(groups.items())}


def prompt_accuracy(ev: EvalView) -> Metric:
    """Prompt-level strict accuracy over the samples."""
    return mean_metric([1.0 if s.followed else 0.0 for s in ev.samples])


def instruction_accuracy(ev: EvalView) -> Metric:
    """Instruction-level strict accuracy (micro average over constraints)."""
    return mean_metric([1.0 if c.passed else 0.0 for s in ev.samples for c in s.constraints])


def _cell(m: Metric) -> str:
    """A table cell that shows its count instead of a percentage when too few prompts back it."""
    return f"n={m.n}" if 0 < m.n < MIN_CELL else _fmt(m)


def _fmt(m: Metric) -> str:
    if m.n == 0:
        return "–"
    se = "" if m.stderr != m.stderr else f" ± {100 * m.stderr:.1f}"  # NaN check: one sample has no SE
    return f"{100 * m.value:.1f}{se}"


# ---------------------------------------------------------------- plots


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plot_by_count(view: RunView) -> str | None:
    """Grouped bars: strict prompt accuracy by number of constraints, one bar per evaluation."""
    if not view.evals:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = [b for b in COUNT_BINS if any(b in by_constraint_bin(ev) for ev in view.evals)]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    width = 0.8 / max(1, len(view.evals))
    for i, ev in enumerate(view.evals):
        m = by_constraint_bin(ev)
        xs = [j + (i - (len(view.evals) - 1) / 2) * width for j in range(len(bins))]
        ys = [100 * m[b].value if b in m else 0 for b in bins]
        es = [100 * m[b].stderr if b in m and m[b].stderr == m[b].stderr else 0 for b in bins]
        ax.bar(xs, ys, width=width, yerr=es, capsize=2, label=ev.name)
    ax.set_xlabel("constraints per prompt")
    ax.set_ylabel("prompt-level accuracy (%)")
    ax.set_xticks(range(len(bins)), bins)
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def plot_training(view: RunView) -> str | None:
    """Training curves: loss, reward accuracy and margin per method."""
    if not view.trains:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [("loss", "loss"), ("rewards/accuracies", "reward accuracy"), ("rewards/margins", "reward margin")]
    if any("reward" in r for tv in view.trains for r in tv.steps):  # GRPO: the verifiable reward per step
        keys.append(("reward", "GRPO reward (constraints followed)"))
    fig, axes = plt.subplots(1, len(keys), figsize=(11, 3.2))
    for ax, (key, label) in zip(axes, keys, strict=True):
        for tv in view.trains:
            pts = [(r.get("step", i), r[key]) for i, r in enumerate(tv.steps) if key in r]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", label=tv.name)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    return _png(fig)


# ---------------------------------------------------------------- markdown


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


def render_markdown(view: RunView) -> str:
    """The report as Markdown."""
    lines = [f"# followkit run report: `{view.run_dir}`", ""]
    if view.evals:
        comps = comparisons(view)
        if comps:
            lines += [
                "## Compared with the baseline (paired, same prompts)",
                "",
                f"![paired differences]({DIFFERENCES_PNG})",
                "",
                "Each model against the base on the same prompts, then method against method "
                f"({', '.join(f'{o} vs {b}' for b, o in METHOD_COMPARISONS)}). Differences in percentage "
                "points, strict; 95% paired-bootstrap intervals over prompts; McNemar's exact test on "
                "prompt-level outcomes (b: only the first followed, c: only the second).",
                "",
                "| benchmark | " + " | ".join(COMPARISON_HEADERS) + " |",
                "|---|---|---|---|---|---|---|---|",
            ]
            lines += [
                f"| {panel_label(e)} | " + " | ".join(comparison_row(b, e, c)) + " |" for b, e, c in comps
            ]
            lines += [""] + [f"- {panel_label(e)}: {verdict(b, e, c)}" for b, e, c in comps]
            lines.append("")
        lines += [
            "## Accuracy (strict, % ± standard error)",
            "",
            "| evaluation | n | prompt-level | instruction-level |",
            "|---|---|---|---|",
        ]
        for ev in view.evals:
            pa, ia = prompt_accuracy(ev), instruction_accuracy(ev)
            lines.append(f"| {ev.name} | {pa.n} | {_fmt(pa)} | {_fmt(ia)} |")
        bins = [b for b in COUNT_BINS if any(b in by_constraint_bin(ev) for ev in view.evals)]
        lines += [
            "",
            "## Prompt-level accuracy by number of constraints",
            "",
            f"Bins of the number of constraints; a cell over fewer than {MIN_CELL} prompts shows its count.",
            "",
        ]
        lines.append("| evaluation | " + " | ".join(f"k={b}" for b in bins) + " |")
        lines.append("|---|" + "---|" * len(bins))
        for ev in view.evals:
            m = by_constraint_bin(ev)
            lines.append(f"| {ev.name} | " + " | ".join(_cell(m[b]) if b in m else "–" for b in bins) + " |")
        types = sorted({t for ev in view.evals for t in by_trace_type(ev)})
        lines += [
            "",
            "## Pass rate per TRACE type",
            "",
            "| evaluation | " + " | ".join(types) + " |",
            "|---|" + "---|" * len(types),
        ]
        for ev in view.evals:
            m = by_trace_type(ev)
            lines.append(f"| {ev.name} | " + " | ".join(_fmt(m[t]) if t in m else "–" for t in types) + " |")
        ids = sorted({i for ev in view.evals for i in by_constraint_id(ev)})
        lines += [
            "",
            "## Pass rate per constraint id",
            "",
            "| id | " + " | ".join(ev.name for ev in view.evals) + " |",
            "|---|" + "---|" * len(view.evals),
        ]
        per = [by_constraint_id(ev) for ev in view.evals]
        for cid in ids:
            lines.append(f"| `{cid}` | " + " | ".join(_fmt(m[cid]) if cid in m else "–" for m in per) + " |")
    if view.trains:
        lines += [
            "",
            "## Training",
            "",
            "| method | steps | first loss | last loss | last reward accuracy |",
            "|---|---|---|---|---|",
        ]
        for tv in view.trains:
            first, last = tv.steps[0], tv.steps[-1]
            acc = last.get("rewards/accuracies")
            lines.append(
                f"| {tv.name} | {len(tv.steps)} | {first['loss']:.4f} | {last['loss']:.4f} | {'–' if acc is None else f'{acc:.3f}'} |"
            )
    gq = general_quality(view.run_dir)
    if gq:
        lines += ["", "## General quality (length-controlled win rate vs the base)", ""]
        lines += [
            "| " + " | ".join(GENERAL_QUALITY_HEADERS) + " |",
            "|" + "---|" * len(GENERAL_QUALITY_HEADERS),
        ]
        lines += ["| " + " | ".join(r) + " |" for r in gq]
    if view.stages:
        lines += ["", "## Stages of the last run", "", "| stage | status | seconds |", "|---|---|---|"]
        lines += [f"| {s['stage']} | {s['status']} | {s['seconds']} |" for s in view.stages]
    lines += ["", "## Provenance", ""]
    for where, man in view.manifests.items():
        vers = man.get("versions", {})
        lines.append(
            f"- `{where}`: stage `{man.get('stage', '?')}`, config `{str(man.get('config_sha256', ''))[:12]}`, "
            + ", ".join(f"{k} {v}" for k, v in vers.items())
        )
    for ev in view.evals:
        r = ev.results
        lines.append(
            f"- eval `{ev.name}`: model `{r.get('model')}`, chat template `{str(r.get('chat_template_sha256'))[:12]}`, data `{str(r.get('data_sha256'))[:12]}`, cache {r.get('cache')}"
        )
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- html

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2433}
header{background:#1d2433;color:#fff;padding:18px 28px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#b8c0d0;font-size:13px}
main{max-width:1100px;margin:0 auto;padding:16px 28px}
section{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:14px 18px;margin:14px 0}
h2{font-size:16px;margin:4px 0 10px}table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:5px 8px;border-bottom:1px solid #e6e8ee;text-align:left}th{background:#f0f2f6}
td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%}details{border:1px solid #e6e8ee;border-radius:6px;margin:6px 0;padding:4px 10px}
summary{cursor:pointer;font-size:13px}pre{white-space:pre-wrap;background:#f6f7f9;padding:8px;border-radius:4px;font-size:12px}
.pass{color:#17803d}.fail{color:#c62828;font-weight:600}.tag{display:inline-block;border-radius:4px;padding:0 6px;font-size:11px;margin-right:4px}
.tag.pass{background:#e3f5e8}.tag.fail{background:#fde7e7}#controls{display:flex;gap:12px;align-items:center;margin-bottom:8px;font-size:13px}
"""

_JS = """
(function(){
  var q=document.getElementById('q'),f=document.getElementById('failedOnly'),e=document.getElementById('evalSel');
  function apply(){
    var text=(q.value||'').toLowerCase(),shown=0;
    document.querySelectorAll('details.sample').forEach(function(d){
      var ok=(!f.checked||d.dataset.failed==='1')&&(e.value===''||d.dataset.eval===e.value)&&
             (text===''||d.textContent.toLowerCase().indexOf(text)>=0);
      d.style.display=ok?'':'none'; if(ok){shown++;}
    });
    document.getElementById('shown').textContent=shown;
  }
  [q,f,e].forEach(function(el){el.addEventListener('input',apply);el.addEventListener('change',apply);});
  apply();
  document.body.dataset.ready='1';
})();
"""


def _table(headers: list[str], rows: list[list[str]], num_from: int = 1) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for r in rows:
        tds = "".join(
            f"<td class='num'>{c}</td>" if i >= num_from else f"<td>{c}</td>" for i, c in enumerate(r)
        )
        body.append(f"<tr>{tds}</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(view: RunView, max_samples: int = 400) -> str:
    """The report as one self-contained HTML page (plots inlined as PNG data)."""
    esc = html.escape
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>{HTML_MARKER}",
        f"<title>followkit report: {esc(str(view.run_dir))}</title><style>{_CSS}</style></head>",
        "<body><script>window.__errors=[];window.addEventListener('error',function(e){window.__errors.push(String(e.message));document.body.dataset.errors=window.__errors.join('|');});</script>",
        f"<header><h1>followkit run report</h1><p>{esc(str(view.run_dir))} · pipeline {esc(str(view.pipeline.get('name', '')))}</p></header><main>",
    ]
    if view.evals:
        comps = comparisons(view)
        if comps:
            img = plot_differences(view)
            parts.append(
                "<section><h2>Compared with the baseline (paired, same prompts)</h2>"
                + (f"<img alt='paired differences' src='data:image/png;base64,{img}'>" if img else "")
                + _table(
                    ["benchmark", *COMPARISON_HEADERS],
                    [[esc(panel_label(e)), *(esc(x) for x in comparison_row(b, e, c))] for b, e, c in comps],
                    3,
                )
                + "<ul>"
                + "".join(f"<li>{esc(panel_label(e))}: {esc(verdict(b, e, c))}</li>" for b, e, c in comps)
                + "</ul><p>Each model against the base on the same prompts, then method against method. "
                "Percentage points, strict; 95% paired-bootstrap intervals over prompts; "
                "McNemar's exact test on prompt-level outcomes.</p></section>"
            )
        rows = [
            [
                esc(ev.name),
                str(prompt_accuracy(ev).n),
                _fmt(prompt_accuracy(ev)),
                _fmt(instruction_accuracy(ev)),
            ]
            for ev in view.evals
        ]
        parts.append(
            "<section><h2>Accuracy (strict)</h2>"
            + _table(["evaluation", "n", "prompt-level %", "instruction-level %"], rows)
            + "</section>"
        )
        img = plot_by_count(view)
        bins = [b for b in COUNT_BINS if any(b in by_constraint_bin(ev) for ev in view.evals)]
        counts = [f"k={b}" for b in bins]
        rows = []
        for ev in view.evals:
            m = by_constraint_bin(ev)
            rows.append([esc(ev.name)] + [_cell(m[b]) if b in m else "–" for b in bins])
        parts.append(
            "<section><h2>Accuracy by number of constraints</h2>"
            + (
                f"<img alt='accuracy by number of constraints' src='data:image/png;base64,{img}'>"
                if img
                else ""
            )
            + _table(["evaluation", *counts], rows)
            + "</section>"
        )
        types = sorted({t for ev in view.evals for t in by_trace_type(ev)})
        rows = [
            [esc(ev.name)] + [_fmt(by_trace_type(ev)[t]) if t in by_trace_type(ev) else "–" for t in types]
            for ev in view.evals
        ]
        parts.append(
            "<section><h2>Pass rate per TRACE type</h2>" + _table(["evaluation"] + types, rows) + "</section>"
        )
        per = [by_constraint_id(ev) for ev in view.evals]
        ids = sorted({i for m in per for i in m})
        rows = [[f"<code>{esc(i)}</code>"] + [_fmt(m[i]) if i in m else "–" for m in per] for i in ids]
        parts.append(
            "<section><h2>Pass rate per constraint id</h2>"
            + _table(["id"] + [ev.name for ev in view.evals], rows)
            + "</section>"
        )
    if view.trains:
        img = plot_training(view)
        rows = []
        for tv in view.trains:
            last = tv.steps[-1]
            acc = last.get("rewards/accuracies")
            rows.append(
                [
                    esc(tv.name),
                    str(len(tv.steps)),
                    f"{tv.steps[0]['loss']:.4f}",
                    f"{last['loss']:.4f}",
                    "–" if acc is None else f"{acc:.3f}",
                ]
            )
        parts.append(
            "<section><h2>Training curves</h2>"
            + (f"<img alt='training curves' src='data:image/png;base64,{img}'>" if img else "")
            + _table(["method", "steps", "first loss", "last loss", "last reward accuracy"], rows)
            + "</section>"
        )
    gq = general_quality(view.run_dir)
    if gq:
        parts.append(
            "<section><h2>General quality (length-controlled win rate vs the base)</h2>"
            + _table(GENERAL_QUALITY_HEADERS, [[esc(c) for c in r] for r in gq], num_from=2)
            + "</section>"
        )
    if view.evals:
        opts = "".join(f"<option value='{esc(ev.name)}'>{esc(ev.name)}</option>" for ev in view.evals)
        samples = []
        total = 0
        for ev in view.evals:
            for s in ev.samples[:max_samples]:
                total += 1
                tags = "".join(
                    f"<span class='tag {'pass' if c.passed else 'fail'}' title='{esc(c.text)}'>{'✓' if c.passed else '✗'} {esc(c.id)}</span>"
                    for c in s.constraints
                )
                cons = "".join(
                    f"<li class='{'pass' if c.passed else 'fail'}'>{'✓' if c.passed else '✗'} <code>{esc(c.id)}</code> {esc(c.text)}</li>"
                    for c in s.constraints
                )
                samples.append(
                    f"<details class='sample' data-eval='{esc(ev.name)}' data-failed='{0 if s.followed else 1}'>"
                    f"<summary><b>{esc(ev.name)}</b> · {esc(s.id)} · {tags}</summary>"
                    f"<ul>{cons}</ul><b>Prompt</b><pre>{esc(s.prompt)}</pre><b>Response</b><pre>{esc(s.response)}</pre></details>"
                )
        parts.append(
            "<section><h2>Samples</h2><div id='controls'><select id='evalSel'><option value=''>all evaluations</option>"
            + opts
            + "</select><label><input type='checkbox' id='failedOnly'> failed only</label>"
            + f"<input id='q' placeholder='search text' size='28'><span><span id='shown'>{total}</span> shown</span></div>"
            + "".join(samples)
            + "</section>"
        )
    prov = []
    for where, man in view.manifests.items():
        prov.append(
            [
                esc(where),
                esc(str(man.get("stage", ""))),
                esc(str(man.get("config_sha256", ""))[:12]),
                esc(", ".join(f"{k} {v}" for k, v in man.get("versions", {}).items())),
            ]
        )
    for ev in view.evals:
        r = ev.results
        prov.append(
            [
                esc(ev.name),
                "eval",
                esc(str(r.get("model", ""))),
                esc(
                    f"template {str(r.get('chat_template_sha256'))[:12]} · data {str(r.get('data_sha256'))[:12]} · cache {r.get('cache')}"
                ),
            ]
        )
    if view.stages:
        prov += [
            [esc(s["stage"]), esc(s["status"]), f"{s['seconds']} s", esc(s.get("detail", ""))]
            for s in view.stages
        ]
    parts.append(
        "<section><h2>Provenance</h2>" + _table(["where", "stage", "id / hash", "details"], prov, num_from=99)
    )
    if view.pipeline:
        parts.append(
            f"<details><summary>pipeline config</summary><pre>{esc(json.dumps(view.pipeline, indent=2, ensure_ascii=False))}</pre></details>"
        )
    parts.append("</section></main>")
    parts.append(f"<script>{_JS}</script></body></html>")
    return "".join(parts)


REPORT_MARKER = "<!-- written by `followkit report`: rerunning it replaces this file -->"
"""The first line of a report.md that `followkit report` wrote (and so may replace)."""

_OWN_HEADINGS = ("# followkit run report:", "# followkit eval:")  # reports written before the marker

HTML_MARKER = "<meta name='generator' content='followkit report'>"
"""In the head of every report.html followkit writes: the mark that lets a rerun replace the page."""

_HTML_MARKER_RE = re.compile(r"""<meta\s+name=["']generator["']\s+content=["']followkit\b""", re.IGNORECASE)
_OWN_HTML_TITLE = "<title>followkit report: "  # pages written before the marker
_HTML_HEAD_CHARS = 4096  # the marker and title sit at the very start of the page


def written_by_followkit(path: str | Path) -> bool:
    """True if the report at path is one followkit wrote and may replace.

    report.html: the generator meta tag (or, from before it, the report's title) in the head;
    report.md: the marker or one of followkit's headings on the first line.
    """
    try:
        with Path(path).open(encoding="utf-8", errors="replace") as fh:
            if Path(path).suffix.lower() in (".html", ".htm"):
                head = fh.read(_HTML_HEAD_CHARS)
                return _HTML_MARKER_RE.search(head) is not None or _OWN_HTML_TITLE in head
            first = fh.readline().strip()
    except OSError:
        return False
    return first == REPORT_MARKER or first.startswith(_OWN_HEADINGS)


def write_report(run_dir: str | Path) -> dict[str, Path]:
    """Write report.md, report.html and report.json into the run folder; return their paths.

    A report.md or report.html that followkit did not write (written_by_followkit) is never
    replaced: InputError naming it, before anything is written.
    """
    view = load_run(run_dir)
    rd = Path(run_dir)
    md, page = rd / "report.md", rd / "report.html"
    for path in (md, page):  # both checked before either is written: a refusal changes nothing
        if path.is_dir() or (path.exists() and not written_by_followkit(path)):
            from followkit.errors import InputError

            raise InputError(
                "was not written by followkit and is never overwritten: move it away first", path=str(path)
            )
    markdown, page_html = render_markdown(view), render_html(view)
    write_text_atomic(md, REPORT_MARKER + "\n" + markdown)
    write_text_atomic(page, page_html)
    img = plot_differences(view)
    if img:
        (rd / DIFFERENCES_PNG).write_bytes(base64.b64decode(img))
    summary = {
        ev.name: {
            "prompt_level_strict": prompt_accuracy(ev).to_dict(),
            "instruction_level_strict": instruction_accuracy(ev).to_dict(),
            "by_constraint_count": {str(k): m.to_dict() for k, m in by_constraint_count(ev).items()},
        }
        for ev in view.evals
    }
    write_json(rd / "report.json", summary)
    write_json(
        rd / "comparison.json",
        [{"model": e.name, "base": b.name, **c.to_dict()} for b, e, c in comparisons(view)],
    )
    return {"markdown": md, "html": page, "json": rd / "report.json", "comparison": rd / "comparison.json"}
