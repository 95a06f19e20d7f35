"""expand (TRACE stages 2-4) with a ScriptedBackend: valid, invalid, truncated, non-JSON and empty output."""

from __future__ import annotations

import json

import pytest

from followkit.backends.scripted import ScriptedBackend
from followkit.synth.common import ModelOutputError, extract_json
from followkit.synth.expand import ExpandConfig, run_expand

GOOD = {
    "task": "Describe a cat.",
    "constraints": [
        {"dimension": "numerical", "text": "Use at most 50 words."},
        {"dimension": "target_audience", "text": "Write for children."},
        {"dimension": "Tone and Style", "text": "Use at most 50 words."},
    ],
    "input": "NULL",
}
QC = {"keep": [1, 2], "removed": [{"index": 3, "reason": "redundant"}]}


def stage(chat):
    first = chat[0]["content"]
    if first.startswith("You are helping to build"):
        return "expand"
    if first.startswith("Split the instruction"):
        return "structure"
    if first.startswith("Check the numbered constraints"):
        return "qc"
    raise AssertionError(first[:40])


def script(
    structure_replies, qc_replies=None, expand_reply="Describe a cat for children in at most 50 words."
):
    """A backend replying per stage; structure/qc replies are lists consumed per attempt (retry = 2nd)."""

    def fn(chat, i):
        st = stage(chat)
        if st == "expand":
            return expand_reply
        attempt = (len(chat) - 1) // 2  # 0 first ask, 1 after a retry message
        replies = structure_replies if st == "structure" else (qc_replies or [json.dumps(QC)])
        return replies[min(attempt, len(replies) - 1)]

    return ScriptedBackend(fn)


def run(tmp_path, backend, n=3):
    cfg = ExpandConfig(n=n, seed=1, seeds="builtin", languages=["en"], batch_size=2)
    man = run_expand(cfg, tmp_path, backend=backend, progress=False)
    recs = [json.loads(x) for x in (tmp_path / "instructions.jsonl").read_text(encoding="utf-8").splitlines()]
    fails = [
        json.loads(x) for x in (tmp_path / "failures_expand.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    return man, recs, fails


def test_valid_json_becomes_instruction_with_dimensions_and_qc(tmp_path):
    man, recs, fails = run(tmp_path, script(["Here it is:\n```json\n" + json.dumps(GOOD) + "\n```"]))
    assert not fails and len(recs) == 3
    r = recs[0]
    assert r["task"] == "Describe a cat." and r["input"] is None
    assert r["constraints"] == [
        {"id": "judge:numerical", "kwargs": {}, "text": "Use at most 50 words.", "dimension": "numerical"},
        {
            "id": "judge:target_audience",
            "kwargs": {},
            "text": "Write for children.",
            "dimension": "target_audience",
        },
    ]
    assert r["prompt"] == "Describe a cat.\n1. Use at most 50 words.\n2. Write for children.\n"
    assert r["qc_removed"] == [{"text": "Use at most 50 words.", "reason": "redundant"}]
    assert r["requested_dimensions"] and r["seed_task"].startswith("en-")
    assert man["counts"] == {"requested": 3, "instructions": 3, "failed": 0, "failure_reasons": {}}


def test_invalid_then_valid_is_retried_with_the_error_shown(tmp_path):
    seen = []

    def fn(chat, i):
        st = stage(chat)
        if st == "expand":
            return "Describe a cat, briefly."
        if st == "structure":
            seen.append(chat)
            bad = {**GOOD, "constraints": [{"dimension": "vibes", "text": "x"}]}
            return json.dumps(bad) if len(chat) == 1 else json.dumps(GOOD)
        return json.dumps(QC)

    man, recs, fails = run(tmp_path, ScriptedBackend(fn), n=1)
    assert len(recs) == 1 and not fails
    retry = [c for c in seen if len(c) == 3][0]
    assert retry[1]["role"] == "assistant"
    assert retry[2]["content"].startswith(
        "Your reply could not be used: schema error at 'constraints[0].dimension'"
    )
    assert "unknown TRACE dimension 'vibes'" in retry[2]["content"]


@pytest.mark.parametrize(
    ("replies", "reason"),
    [
        (
            ['{"task": "Describe a cat.", "constraints": [{"dimension": "numerical", "te'],
            "structure: truncated JSON",
        ),
        (["I cannot do that."], "structure: non-JSON output"),
        ([""], "structure: empty output"),
        ([json.dumps({"task": "x", "constraints": []})], "structure: schema error at 'constraints'"),
        ([json.dumps({**GOOD, "extra": 1})], "structure: schema error at 'extra'"),
    ],
)
def test_invalid_twice_is_a_failure_with_reason_never_guessed(tmp_path, replies, reason):
    man, recs, fails = run(tmp_path, script(replies), n=2)
    assert recs == []
    assert len(fails) == 2 and all(f["reason"].startswith(reason) for f in fails)
    assert all("(after retry; first:" in f["reason"] for f in fails)
    assert man["counts"]["failed"] == 2 and man["counts"]["instructions"] == 0
    kind = {"structure: truncated JSON": "structure: truncated JSON output"}.get(reason, reason)
    assert man["counts"]["failure_reasons"] == {kind: 2}


def test_bad_qc_and_empty_expansion_fail_per_item(tmp_path):
    man, recs, fails = run(tmp_path, script([json.dumps(GOOD)], ['{"keep": [1], "removed": []}']), n=1)
    assert recs == [] and fails[0]["reason"].startswith("qc: schema error")
    man, recs, fails = run(tmp_path / "b", script([json.dumps(GOOD)], expand_reply="   "), n=1)
    assert recs == [] and fails[0]["reason"] == "expand: empty output"


def test_one_bad_item_does_not_stop_the_others(tmp_path):
    calls = {"n": 0}

    def fn(chat, i):
        st = stage(chat)
        if st == "expand":
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError("server hiccup")
            return "Describe a cat."
        return json.dumps(GOOD) if st == "structure" else json.dumps(QC)

    man, recs, fails = run(tmp_path, ScriptedBackend(fn), n=3)
    assert len(recs) == 2 and len(fails) == 1
    assert fails[0]["reason"].startswith("expand: backend error: RuntimeError: server hiccup")
    # A rerun retries exactly the failed item and appends it; the others are not redone.
    man, recs, fails = run(tmp_path, script([json.dumps(GOOD)]), n=3)
    assert len(recs) == 3 and not fails and len({r["id"] for r in recs}) == 3


def test_extract_json_reasons():
    assert extract_json('text {"a": 1} more') == {"a": 1}
    for raw, why in [
        ("", "empty"),
        ("[1, 2]", "non-JSON"),
        ('{"a": [1, 2', "truncated"),
        ("{'a': 1}", "non-JSON"),
    ]:
        with pytest.raises(ModelOutputError, match=why):
            extract_json(raw)
