"""The run report: metrics by hand-derived numbers, and the HTML page in a real headless Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from followkit.core.io import write_json, write_jsonl
from followkit.report.markdown import render_markdown
from followkit.report.views import by_constraint_count, load_run
from followkit.report.write import write_report
from tests.helpers.paths import ARTIFACTS
from tests.helpers.report_runs import sample_row


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    base = tmp_path / "run"
    for name, rows in {
        "baseline": [[True], [False], [True, False], [False, False]],
        "dpo": [[True], [True], [True, True], [False, True]],
    }.items():
        d = base / "eval" / name
        write_jsonl(d / "samples.jsonl", [sample_row(i, v) for i, v in enumerate(rows)])
        write_json(
            d / "results.json",
            {"model": f"model-{name}", "chat_template_sha256": "ab" * 32, "data_sha256": "cd" * 32},
        )
    logs = [
        {"step": s, "loss": 0.7 - 0.05 * s, "rewards/accuracies": 0.5 + 0.05 * s, "rewards/margins": 0.1 * s}
        for s in range(1, 6)
    ]
    write_jsonl(base / "train" / "dpo" / "log.jsonl", logs)
    write_json(
        base / "data" / "manifest.json",
        {"stage": "compose", "config_sha256": "ef" * 32, "versions": {"python": "3.11"}},
    )
    return base


def test_metrics_match_hand_counts(run_dir: Path) -> None:
    view = load_run(run_dir)
    base = next(e for e in view.evals if e.name == "baseline")
    by_k = by_constraint_count(base)
    # k=1: one of two prompts followed; k=2: neither.
    assert by_k[1].value == pytest.approx(0.5) and by_k[1].n == 2
    assert by_k[2].value == 0.0
    # standard error of [1, 0]: sample std 0.7071 / sqrt(2) = 0.5
    assert by_k[1].stderr == pytest.approx(0.5)
    md = render_markdown(view)
    assert "| baseline | 4 | 25.0 ± 25.0 |" in md
    assert "| dpo | 4 | 75.0 ± 25.0 |" in md


def test_html_escapes_untrusted_text(run_dir: Path) -> None:
    paths = write_report(run_dir)
    page = paths["html"].read_text()
    assert "&lt;b&gt;not bold&lt;/b&gt;" in page and "<b>not bold</b>" not in page
    # paired differences, accuracy-by-k and training curves, inlined
    assert page.count("data:image/png;base64,") == 3
    assert json.loads(paths["json"].read_text())["dpo"]["prompt_level_strict"]["value"] == pytest.approx(0.75)


@pytest.mark.slow
def test_html_opens_in_headless_chromium(run_dir: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed (make test installs it from the system packages)")
    page = write_report(run_dir)["html"]
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    # The page's script marks the body when it ran to the end; window errors are recorded on it.
    assert 'data-ready="1"' in dom.stdout
    assert "data-errors" not in dom.stdout
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    subprocess.run(
        [chromium, *flags, f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri()],
        capture_output=True,
        timeout=120,
    )
    assert shot.exists() and shot.stat().st_size > 10_000


def test_paired_comparison_in_report_and_json(run_dir: Path) -> None:
    # baseline vs dpo on the same 4 prompts (hand-counted):
    #   prompt level 1/4 -> 3/4: +50 points; b (only baseline followed) = 0, c (only dpo) = 2,
    #   McNemar p = 2 * P(Bin(2, 1/2) <= 0) = 0.5
    #   instruction level 2/6 -> 5/6: +50 points
    paths = write_report(run_dir)
    (comp,) = json.loads(paths["comparison"].read_text())
    assert comp["model"] == "dpo" and comp["base"] == "baseline" and comp["n_prompts"] == 4
    assert comp["prompt_diff"]["diff"] == pytest.approx(0.5)
    assert comp["inst_diff"]["diff"] == pytest.approx(0.5)
    assert (comp["mcnemar_b"], comp["mcnemar_c"], comp["mcnemar_p"]) == (0, 2, 0.5)
    md = paths["markdown"].read_text()
    assert "## Compared with the baseline (paired, same prompts)" in md
    assert "| dpo | baseline | 4 | +50.0 [" in md and "0/2, p=0.5 |" in md
    # four prompts cannot show an effect with confidence, and the report must not pretend
    lo = comp["inst_diff"]["lo"]
    assert ("beats the base" in md) == (lo > 0)
    # small cells: 2 prompts with one constraint show their count, not "50.0 ± 50.0"
    assert "| baseline | n=2 | n=2 |" in md
    page = paths["html"].read_text()
    assert "Compared with the baseline" in page and "n=2" in page


def test_grpo_reward_curve_is_plotted(run_dir: Path) -> None:
    from followkit.report.plots import plot_training

    without = plot_training(load_run(run_dir))
    logs = [{"step": s, "loss": 0.1, "reward": 0.2 + 0.1 * s} for s in range(1, 4)]
    write_jsonl(run_dir / "train" / "grpo" / "log.jsonl", logs)
    view = load_run(run_dir)
    assert [t.name for t in view.trains] == ["dpo", "grpo"]
    with_reward = plot_training(view)
    assert with_reward and with_reward != without  # a fourth panel: the reward curve


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_users_report_html_is_never_overwritten(run_dir: Path) -> None:
    from followkit.core.errors import InputError
    from followkit.report.html import HTML_MARKER
    from followkit.report.write import written_by_followkit

    page = write_report(run_dir)["html"]
    assert HTML_MARKER in page.read_text()[:300] and written_by_followkit(page)
    write_report(run_dir)  # followkit's own page is replaced on a rerun
    (run_dir / "report.md").unlink()
    page.write_text("<!doctype html><html><head><title>My notes</title></head><body>mine</body></html>\n")
    before = _files(run_dir)
    with pytest.raises(InputError) as exc:
        write_report(run_dir)
    assert (
        str(exc.value) == f"{page}: was not written by followkit and is never overwritten: move it away first"
    )
    assert _files(run_dir) == before  # report.md not written either: both are checked first
    # A page from before the marker is recognised by its title; another generator's is not.
    page.write_text(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>followkit report: run</title>"
    )
    assert written_by_followkit(page)
    page.write_text("<html><head><meta name='generator' content='Hugo 0.1'></head></html>")
    assert not written_by_followkit(page)


def test_a_users_report_md_stops_the_html_too(run_dir: Path) -> None:
    from followkit.core.errors import InputError

    (run_dir / "report.md").write_text("# My own notes\n")
    before = _files(run_dir)
    with pytest.raises(InputError, match=r"report\.md: was not written by followkit"):
        write_report(run_dir)
    assert _files(run_dir) == before and not (run_dir / "report.html").exists()


def test_method_comparisons_and_lead_picture(run_dir: Path) -> None:
    # An SFT model beside DPO: dpo vs sft is compared directly, on the same 4 prompts (hand-counted):
    #   sft followed prompts 0 and 1 (2/4), dpo 0, 1, 2 (3/4): +25 points; b = 0, c = 1 (prompt 2)
    #   instruction level: sft 3/6, dpo 5/6: +33.3 points
    rows = [[True], [True], [False, True], [False, False]]
    d = run_dir / "eval" / "sft"
    write_jsonl(d / "samples.jsonl", [sample_row(i, v) for i, v in enumerate(rows)])
    write_json(d / "results.json", {"model": "model-sft", "config": {"benchmark": "followkit-bench"}})
    paths = write_report(run_dir)
    comps = json.loads(paths["comparison"].read_text())
    assert [(c["model"], c["base"]) for c in comps] == [
        ("dpo", "baseline"),
        ("sft", "baseline"),
        ("dpo", "sft"),
    ]
    direct = comps[-1]
    assert direct["prompt_diff"]["diff"] == pytest.approx(0.25)
    assert direct["inst_diff"]["diff"] == pytest.approx(2 / 6)
    assert (direct["mcnemar_b"], direct["mcnemar_c"]) == (0, 1)
    md = paths["markdown"].read_text()
    # the report leads with the picture of the differences, before the accuracy table
    assert md.index("![paired differences](paired_differences.png)") < md.index("## Accuracy (strict")
    assert (run_dir / "paired_differences.png").read_bytes()[:4] == b"\x89PNG"
    assert "dpo does not beat sft" in md or "dpo beats sft" in md
    assert "Whole prompts: dpo follows" in md


def test_split_halves_and_panel_label(tmp_path: Path) -> None:
    from followkit.core.errors import InputError
    from followkit.evaluate.base import EvalItem
    from followkit.evaluate.runner import split_items
    from followkit.report.views import EvalView, panel_label

    items = [EvalItem(id=str(k), messages=[]) for k in (1000, 1001, 1005, 1012)]
    assert [it.id for it in split_items(items, "dev", "x")] == ["1000", "1012"]
    assert [it.id for it in split_items(items, "test", "x")] == ["1001", "1005"]
    assert split_items(items, "all", "x") == items
    with pytest.raises(InputError, match="integer keys"):
        split_items([EvalItem(id="fk-1", messages=[])], "test", "bench.jsonl")
    ev = EvalView(
        "ifeval/sft",
        tmp_path / "ifeval" / "sft",
        {"config": {"benchmark": "ifeval:/x.jsonl", "split": "test"}},
        [],
    )
    assert panel_label(ev) == "ifeval (test half)"


def test_run_summary_says_plainly_what_moved_and_what_did_not(tmp_path):
    from followkit.core.stats import Comparison, Interval
    from followkit.report.tables import run_summary
    from followkit.report.views import EvalView

    def ev(bench: str, name: str) -> EvalView:
        return EvalView(f"{bench}/{name}", tmp_path / bench / name, {"benchmark": bench}, [])

    def comp(inst: tuple, prompt: tuple) -> Comparison:
        return Comparison(
            100, 150, 0.2, 0.2, 0.3, 0.3, Interval(*prompt), Interval(*inst), 3, 4, 0.5, 1000, 0
        )

    up, flat, down = (0.06, 0.03, 0.09), (0.01, -0.02, 0.04), (-0.05, -0.08, -0.01)
    comps = [
        (ev("ifeval", "baseline"), ev("ifeval", "dpo"), comp(up, flat)),
        (ev("ifeval", "baseline"), ev("ifeval", "sft"), comp(down, flat)),
        (ev("ifeval", "dpo"), ev("ifeval", "iopo"), comp(flat, flat)),
        (ev("ifbench", "baseline"), ev("ifbench", "dpo"), comp(flat, flat)),
    ]
    ifeval, ifbench = run_summary(comps)
    assert "on single constraints, above the base: dpo +6.0 [+3.0, +9.0]; below it: sft" in ifeval
    assert "on whole prompts, no model is clearly above the base" in ifeval
    assert "iopo is not clearly different from dpo" in ifeval
    assert ifbench.startswith(
        "In short, ifbench (constraints never seen in training): on single constraints, no model"
    )
