"""`followkit eval --model embedded --benchmark kcif --limit 40` end to end on a CPU (real SmolLM2)."""

from __future__ import annotations

import json
import math

import pytest

from followkit.cli import main
from followkit.kcif.instructions import PRINT_GROUPS
from followkit.kcif.normalize import same
from followkit.kcif.scoring import kcif_scored

HEADLINE = (
    "exact_match",
    "ic_score",
    "kts_score",
    "distractor_exact_match",
    "average",
    "knowledge_accuracy",
    "exact_match_loose",
    "knowledge_accuracy_loose",
    "error_knowledge",
    "error_instruction",
    "error_other",
    "exact_match_strict",
    "average_strict",
)


@pytest.mark.slow
def test_eval_kcif_embedded_limit_40(tmp_path, monkeypatch):
    monkeypatch.setenv("FOLLOWKIT_CACHE", str(tmp_path / "cache.sqlite"))
    out = tmp_path / "run"
    # Short answers are the paper's format; 32 tokens keep the CPU run short without cutting any answer.
    args = ["eval", "--model", "embedded", "--benchmark", "kcif", "--limit", "40", "--max-tokens", "32"]
    assert main([*args, "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    block = results["results"]["kcif"]
    for key in HEADLINE:
        assert 0.0 <= block[key] <= 1.0, key
        err = block[f"{key}_stderr"]
        if key in ("ic_score", "average") and err is None:
            # KCIF's five categories at --limit 40: one may hold a single sample (no standard error)
            continue
        assert err is not None and math.isfinite(err), key
    assert results["n_samples"]["kcif"]["effective"] == 40
    samples = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 40
    plain = [s for s in samples if s["instruction"] is None]
    assert 10 <= len(plain) <= 20  # each item asked plainly and under its instructions
    for s in samples:
        # KCIF's match: the parsed response and the expected output, with or without whitespace
        assert s["correct"] == same(s["normalized_response"], s["normalized_expected"]) or (
            s["instruction"] is None and s["correct"]
        )
        assert (s["error_type"] is None) == s["correct"]
        assert s["error_type"] in (None, "knowledge", "instruction", "other")
    # the same numbers recomputed from the samples
    instr = [
        s
        for s in samples
        if s["instruction"] is not None
        and not s["distractor"]
        and s["category"] not in PRINT_GROUPS
        and kcif_scored(s)
    ]
    assert block["exact_match"] == pytest.approx(sum(s["correct"] for s in instr) / len(instr))
    assert block["knowledge_accuracy"] == pytest.approx(sum(s["correct"] for s in plain) / len(plain))
    report = (out / "report.md").read_text()
    assert "kcif" in report and "exact_match" in report
