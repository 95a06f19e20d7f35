"""SPRIG end to end with the embedded model on followkit-bench: two small rounds on a CPU."""

from __future__ import annotations

import json

import pytest

from followkit.cli import main

pytestmark = pytest.mark.slow


def test_sprig_embedded_followkit_bench_two_rounds(tmp_path, capsys):
    # Beam 2, 2 rounds, 2 train / 2 validation / 2 held-out prompts, 32 tokens an answer: about 20
    # generations. The genetic variant shares every operation and is covered by the scripted test.
    out = tmp_path / "sprig"
    args = [
        "sprig",
        "--model",
        "embedded",
        "--benchmark",
        "followkit-bench",
        "--algorithm",
        "beam",
        "--beam",
        "2",
        "--rounds",
        "2",
        "--budget",
        "8",
        "--train",
        "2",
        "--val",
        "2",
        "--heldout",
        "2",
        "--n-add",
        "1",
        "--n-delete",
        "0",
        "--n-swap",
        "0",
        "--n-rephrase",
        "1",
        "--max-tokens",
        "32",
        "--lang",
        "en",
        "--no-cache",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "sprig.json").read_text())
    best = summary["best"]
    for split in ("train", "val", "heldout"):
        assert 0.0 <= best[split] <= 1.0
        assert 0.0 <= summary["baseline_empty_prompt"][split] <= 1.0
    assert summary["split_sizes"] == {"train": 2, "train_pool": 4, "val": 2, "heldout": 2}
    assert summary["metric"] == "inst_level_strict_acc"
    assert summary["search_calls"] <= 8
    assert summary["rounds"][0]["round"] == 0 and len(summary["rounds"]) >= 2
    assert (out / "best.txt").read_text(encoding="utf-8").strip() == best["prompt"]
    rows = [json.loads(ln) for ln in (out / "leaderboard.jsonl").read_text().splitlines()]
    assert len(rows) == summary["n_candidates"] >= 2
    assert (out / "score_by_round.png").stat().st_size > 1000
    assert f"val {best['val']:.3f}  held-out {best['heldout']:.3f}" in printed
    hint = "--system-prompt @" if best["components"] else "evaluate without --system-prompt"
    assert hint in printed
