"""The run report's general-quality section: each RUN/**/winrate.json as one row, LC win rate first."""

from __future__ import annotations

from followkit.core.io import write_json
from followkit.report.html import render_html
from followkit.report.markdown import render_markdown
from followkit.report.views import load_run


def test_general_quality_section_lists_each_winrate(tmp_path):
    doc = {
        "model": "hf:run/train/dpo/merged",
        "baseline": "embedded:SmolLM2-135M-Instruct",
        "lc_win_rate": 0.4213,
        "lc_win_rate_stderr": 0.051,
        "win_rate": 0.45,
        "win_rate_stderr": 0.06,
        "avg_length": {"model": 312.4, "baseline": 290.0},
        "n_scored": 42,
        "judge": {"spec": "embedded"},
    }
    write_json(tmp_path / "general" / "winrate" / "dpo" / "winrate.json", doc)
    write_json(
        tmp_path / "general" / "winrate" / "sft" / "winrate.json", {**doc, "lc_win_rate": float("nan")}
    )
    md = render_markdown(load_run(tmp_path))
    assert "## General quality (length-controlled win rate vs the base)" in md
    assert (
        "| general/winrate/dpo | hf:run/train/dpo/merged vs embedded:SmolLM2-135M-Instruct | 42.1 ± 5.1 "
        "| 45.0 ± 6.0 | 312 / 290 | 42 | embedded |"
    ) in md
    assert "| general/winrate/sft | hf:run/train/dpo/merged vs embedded:SmolLM2-135M-Instruct | – |" in md
    page = render_html(load_run(tmp_path))
    assert "<h2>General quality (length-controlled win rate vs the base)</h2>" in page
    assert "<td class='num'>42.1 ± 5.1</td>" in page


def test_no_winrate_no_section(tmp_path):
    (tmp_path / "x").mkdir()
    assert "General quality" not in render_markdown(load_run(tmp_path))
    assert "General quality" not in render_html(load_run(tmp_path))
