"""The run report against snapshots taken before its tables were built once (issue 21).

report.md must stay byte for byte as it was; report.html must keep every table cell (th and td, in
order) and every list item. Each case is a run folder built here; `python -m tests.report.test_snapshots`
writes the snapshots anew, which is only right when the report is meant to change.
"""

from __future__ import annotations

import json
import os
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from followkit.core.io import write_json, write_jsonl
from followkit.report.html import render_html
from followkit.report.markdown import render_markdown
from followkit.report.views import load_run
from tests.helpers.paths import FIXTURES
from tests.helpers.report_runs import sample_row

SNAPSHOTS = FIXTURES / "report_snapshots"

IDS = (
    "punctuation:no_comma",
    "change_case:english_lowercase",
    "detectable_format:title",
    "keywords:existence",
    "custom:a<b>&c",  # unknown to the registry: TRACE type "other", escaped on the page
)


def _followkit_sample(i: int, k: int, offset: int) -> dict:
    """Sample i with k constraints; which pass depends on the model's offset (deterministic)."""
    verdicts = [(i * 7 + j * 3 + offset) % 5 != 0 for j in range(k)]
    constraints = [{"id": IDS[(i + j) % len(IDS)], "kwargs": {}, "text": f"rule {j} <&>"} for j in range(k)]
    if i % 4 == 0:
        constraints[0]["type"] = "style"  # the TRACE type named by the sample
    return {
        "id": f"s{i}",
        "messages": [{"role": "user", "content": f"prompt {i} <b>|pipe|</b>"}],
        "response": f"response {i}",
        "constraints": constraints,
        "verdicts": {"strict": verdicts, "loose": verdicts},
    }


def _ifeval_sample(i: int, offset: int) -> dict:
    """Sample i in IFEval's own output shape (key, instruction_id_list, follow_instruction_list)."""
    ids = [IDS[(i + j) % 4] for j in range(1 + i % 3)]
    return {
        "key": 1000 + 2 * i + 1,
        "prompt": f"ifeval prompt {i}",
        "response": f"r{i}",
        "instruction_id_list": ids,
        "follow_instruction_list": [(i * 5 + j * 2 + offset) % (3 + offset) != 0 for j in range(len(ids))],
    }


def _eval(folder: Path, samples: list[dict], results: dict) -> None:
    write_jsonl(folder / "samples.jsonl", samples)
    write_json(folder / "results.json", results)


def _winrate(folder: Path, model: str, lc: float) -> None:
    write_json(
        folder / "winrate.json",
        {
            "model": model,
            "baseline": "embedded:base",
            "lc_win_rate": lc,
            "lc_win_rate_stderr": 0.05,
            "win_rate": 0.45,
            "win_rate_stderr": float("nan"),
            "avg_length": {"model": 312.4, "baseline": 290.0},
            "n_scored": 42,
            "judge": {"spec": "embedded"},
        },
    )


def small(run: Path) -> None:
    """tests/report/test_views.py's run folder: baseline and dpo on four prompts, one training log, one manifest."""
    for name, rows in {
        "baseline": [[True], [False], [True, False], [False, False]],
        "dpo": [[True], [True], [True, True], [False, True]],
    }.items():
        _eval(
            run / "eval" / name,
            [sample_row(i, v) for i, v in enumerate(rows)],
            {"model": f"model-{name}", "chat_template_sha256": "ab" * 32, "data_sha256": "cd" * 32},
        )
    logs = [{"step": s, "loss": 0.7 - 0.05 * s, "rewards/accuracies": 0.5 + 0.05 * s} for s in range(1, 6)]
    write_jsonl(run / "train" / "dpo" / "log.jsonl", logs)
    write_json(run / "data" / "manifest.json", {"stage": "compose", "config_sha256": "ef" * 32})


def full(run: Path) -> None:
    """Every section: four methods on the own benchmark, IFEval's test half, IFBench, training, win
    rates, stage times and the pipeline record."""
    for offset, name in enumerate(("baseline", "sft", "dpo", "iopo")):
        _eval(
            run / "eval" / name,
            [_followkit_sample(i, 1 + i % 7, offset) for i in range(40)],
            {"model": f"m-{name}", "cache": {"hits": 3}, "config": {"benchmark": "followkit-bench"}},
        )
    for offset, name in enumerate(("baseline", "sft", "dpo")):
        _eval(
            run / "ifeval" / name,
            [_ifeval_sample(i, offset) for i in range(24)],
            {"model": f"m-{name}", "config": {"benchmark": "ifeval:/x/input.jsonl", "split": "test"}},
        )
    for offset, name in enumerate(("baseline", "dpo")):
        _eval(
            run / "ifbench" / name,
            [_followkit_sample(i, 1 + i % 2, 2 * offset) for i in range(12)],
            {"model": f"m-{name}", "benchmark": "ifbench:/y/test.jsonl"},
        )
    dpo = [{"step": s, "loss": 0.7 - 0.05 * s, "rewards/accuracies": 0.5 + 0.05 * s} for s in range(1, 6)]
    write_jsonl(run / "train" / "dpo" / "log.jsonl", dpo)
    write_jsonl(
        run / "train" / "grpo" / "log.jsonl", [{"step": s, "loss": 0.1, "reward": 0.3} for s in (1, 2)]
    )
    _winrate(run / "general" / "winrate" / "dpo", "hf:run/train/dpo/merged", 0.4213)
    _winrate(run / "general" / "winrate" / "sft", "hf:run/train/sft/merged", float("nan"))
    stages = [
        {"stage": "compose", "status": "done", "seconds": 1.5, "detail": "12 rows <ok>"},
        {"stage": "eval_baseline", "status": "cached", "seconds": 0},
    ]
    write_json(run / ".pipeline" / "last_run.json", stages)
    write_json(run / "pipeline.json", {"name": "default", "vars": {"seed": 7}})
    write_json(run / "data" / "manifest.json", {"stage": "compose", "config_sha256": "ef" * 32})
    write_json(
        run / "train" / "dpo" / "manifest.json",
        {"stage": "train", "config_sha256": "01" * 32, "versions": {"python": "3.11", "torch": "2.5"}},
    )


def no_evals(run: Path) -> None:
    """Only win rates and stage times: no evaluation folder."""
    _winrate(run / "general" / "winrate" / "dpo", "hf:run/train/dpo/merged", 0.5)
    write_json(
        run / ".pipeline" / "last_run.json", [{"stage": "winrate_dpo", "status": "done", "seconds": 9}]
    )


def bare(run: Path) -> None:
    """Evaluations whose samples hold no constraints: empty bins, types and ids."""
    for name in ("baseline", "dpo"):
        _eval(run / "eval" / name, [{"id": "a", "messages": [], "response": "x"}], {"model": name})


CASES = {"small": small, "full": full, "no_evals": no_evals, "bare": bare}


class _Cells(HTMLParser):
    """Every table of a page as rows of (tag, text) cells, and the text of each list item outside the
    samples (the samples section is not built from tables)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[list[str]]]] = []
        self.items: list[str] = []
        self._cell: list[str] | None = None
        self._item: list[str] | None = None
        self._details = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("th", "td"):
            self._cell = [tag]
        elif tag == "li" and not self._details:
            self._item = []
        elif tag == "details":
            self._details += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td") and self._cell is not None:
            self.tables[-1][-1].append([self._cell[0], "".join(self._cell[1:])])
            self._cell = None
        elif tag == "li" and self._item is not None:
            self.items.append("".join(self._item))
            self._item = None
        elif tag == "details":
            self._details -= 1

    def handle_data(self, data: str) -> None:
        for part in (self._cell, self._item):
            if part is not None:
                part.append(data)


def page_contents(page: str) -> dict:
    """The tables and list items of a report page, as plain data."""
    parser = _Cells()
    parser.feed(page)
    return {"tables": parser.tables, "items": parser.items}


def render(case: str, where: Path) -> tuple[str, str]:
    """report.md and report.html of the case's run folder, named `run` (relative, so the text is stable)."""
    CASES[case](where / "run")
    here = Path.cwd()
    os.chdir(where)
    try:
        view = load_run("run")
        return render_markdown(view), render_html(view)
    finally:
        os.chdir(here)


@pytest.fixture()
def no_pictures(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pictures are not what these tests compare; leaving them out spares matplotlib."""
    from followkit.report import plots

    for name in ("plot_differences", "plot_by_count", "plot_training"):
        monkeypatch.setattr(plots, name, lambda view: None)


@pytest.mark.parametrize("case", sorted(CASES))
def test_report_matches_its_snapshot(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_pictures: None
) -> None:
    md, page = render(case, tmp_path)
    assert md == (SNAPSHOTS / case / "report.md").read_text(encoding="utf-8")
    want = json.loads((SNAPSHOTS / case / "page.json").read_text(encoding="utf-8"))
    assert page_contents(page) == want


def _dump(contents: dict) -> str:
    """page.json with one table row or list item a line, so a diff shows the cell that changed."""
    row = ",\n".join
    tables = row(
        "  [\n" + row("   " + json.dumps(r, ensure_ascii=False) for r in t) + "\n  ]"
        for t in contents["tables"]
    )
    items = row("  " + json.dumps(i, ensure_ascii=False) for i in contents["items"])
    return f'{{\n "tables": [\n{tables}\n ],\n "items": [\n{items}\n ]\n}}\n'


def write_snapshots() -> None:
    """Write each case's report.md and page.json (the page's tables and list items)."""
    for case in sorted(CASES):
        with tempfile.TemporaryDirectory() as tmp:
            md, page = render(case, Path(tmp))
        out = SNAPSHOTS / case
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.md").write_text(md, encoding="utf-8")
        (out / "page.json").write_text(_dump(page_contents(page)), encoding="utf-8")
        print(f"wrote {out}")


if __name__ == "__main__":
    write_snapshots()


def test_both_renderers_show_each_table_as_built(tmp_path: Path, no_pictures: None) -> None:
    from html import escape

    from followkit.report.tables import report_tables

    full(tmp_path / "run")
    view = load_run(tmp_path / "run")
    tables = report_tables(view)
    assert [t.key for t in tables] == [
        "comparisons",
        "accuracy",
        "by_count",
        "trace_types",
        "constraint_ids",
        "training",
        "general_quality",
    ]
    md, page = render_markdown(view), render_html(view)
    # the page's provenance table comes after them
    for t, cells in zip(tables, page_contents(page)["tables"], strict=False):
        assert f"\n## {t.title}\n" in md
        assert [text for _, text in cells[0]] == (t.page_header or t.header)
        assert [[text for _, text in row] for row in cells[1:]] == t.rows
        assert f"<h2>{escape(t.title)}</h2>" in page
