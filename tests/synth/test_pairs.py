"""pairs: DPO selection rules, SFT records, IOPO operators and the four IOPO verdict properties."""

from __future__ import annotations

import json
import random

import pytest

from followkit.backends.scripted import ScriptedBackend
from followkit.constraints.perturb import perturb_add, perturb_delete_add, perturb_modify
from followkit.constraints.verify import check_all
from followkit.core.io import write_jsonl
from followkit.core.records import Constraint, PreferencePair, render_prompt
from followkit.synth.pairs import (
    PairsConfig,
    run_pairs,
    select_dpo,
    select_margin,
)


def v(ok: bool | None, cid: str = "x") -> dict:
    return {"id": cid, "source": "rule", "strict": ok, "loose": ok}


def resp(iid: str, sample: int, verdicts: list[dict], text: str | None = None) -> dict:
    return {
        "key": f"{iid}#{sample}",
        "id": iid,
        "sample": sample,
        "messages": [{"role": "user", "content": f"prompt {iid}"}],
        "response": text if text is not None else f"response {iid} {sample}",
        "model": "scripted:s",
        "constraints": [{"id": "x", "kwargs": {}, "text": "t"}] * len(verdicts),
        "verdicts": verdicts,
        "task": "t",
        "input": None,
        "language": "en",
    }


def test_dpo_chosen_passes_rejected_has_fewest_failures():
    samples = [
        resp("a", 0, [v(False), v(False), v(False)]),
        resp("a", 1, [v(True), v(True), v(True)]),
        resp("a", 2, [v(True), v(False), v(True)]),
        resp("a", 3, [v(False), v(True), v(True)]),
        resp("a", 4, [v(True), v(True), v(True)]),
    ]
    chosen, rejected = select_dpo(samples)
    assert chosen["sample"] == 1  # the first passing one
    assert rejected["sample"] == 2  # one failure; sample 3 ties and comes later


def test_dpo_needs_both_sides_and_skips_unknown_and_identical():
    assert select_dpo([resp("a", 0, [v(True)]), resp("a", 1, [v(True)])]) is None
    assert select_dpo([resp("a", 0, [v(False)]), resp("a", 1, [v(False)])]) is None
    # An unknown verdict (unparsable judge) is neither chosen nor rejected.
    assert select_dpo([resp("a", 0, [v(True), v(None)]), resp("a", 1, [v(False), v(None)])]) is None
    assert select_dpo([resp("a", 0, [v(True)], "same"), resp("a", 1, [v(False)], " same ")]) is None
    # Loose mode reads the loose verdicts.
    s = [resp("a", 0, [{"id": "x", "strict": False, "loose": True}]), resp("a", 1, [v(False)])]
    assert select_dpo(s, "strict") is None and select_dpo(s, "loose")[0]["sample"] == 0


def test_dpo_and_sft_files(tmp_path):
    recs = [
        resp("a", 0, [v(False), v(True)]),
        resp("a", 1, [v(True), v(True)]),
        resp("b", 0, [v(False)]),
        resp("c", 0, [v(True)]),
    ]
    write_jsonl(tmp_path / "responses.jsonl", recs)
    man = run_pairs(PairsConfig(format="dpo"), tmp_path, progress=False)
    (pair,) = [json.loads(x) for x in (tmp_path / "pairs_dpo.jsonl").read_text(encoding="utf-8").splitlines()]
    PreferencePair.model_validate({k: pair[k] for k in ("prompt", "chosen", "rejected", "meta")})
    assert pair["prompt"] == [{"role": "user", "content": "prompt a"}]
    assert pair["chosen"] == [{"role": "assistant", "content": "response a 1"}]
    assert pair["rejected"] == [{"role": "assistant", "content": "response a 0"}]
    assert pair["meta"]["rejected_failures"] == 1 and pair["meta"]["chosen_key"] == "a#1"
    assert pair["meta"]["rejected_verdicts"] == recs[0]["verdicts"]
    assert man["counts"]["records"] == 1
    run_pairs(PairsConfig(format="sft"), tmp_path, progress=False)
    sft = [json.loads(x) for x in (tmp_path / "sft.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [s["id"] for s in sft] == ["a", "c"]
    assert sft[0]["messages"] == [
        {"role": "user", "content": "prompt a"},
        {"role": "assistant", "content": "response a 1"},
    ]


def test_margin_pairs_need_no_passing_sample():
    samples = [
        resp("a", 0, [v(False), v(True), v(False)]),
        resp("a", 1, [v(True), v(True), v(False)]),  # 2 met: chosen
        resp("a", 2, [v(False), v(False), v(False)]),  # 0 met: rejected
        resp("a", 3, [v(True), v(False), v(True)]),  # ties with 1, later
        resp("a", 4, [v(False), v(False), v(False)]),  # ties with 2, later
    ]
    assert select_dpo(samples) is None  # no sample meets all three
    chosen, rejected = select_margin(samples)
    assert (chosen["sample"], rejected["sample"]) == (1, 2)
    assert select_margin(samples, min_margin=2)[0]["sample"] == 1
    assert select_margin(samples, min_margin=3) is None
    # Equal counts, an unknown verdict, a single sample or identical texts give no pair.
    assert select_margin([resp("a", 0, [v(True), v(False)]), resp("a", 1, [v(False), v(True)])]) is None
    assert select_margin([resp("a", 0, [v(True), v(None)]), resp("a", 1, [v(False), v(False)])]) is None
    assert select_margin([resp("a", 0, [v(True)])]) is None
    assert select_margin([resp("a", 0, [v(True)], "same"), resp("a", 1, [v(False)], "same ")]) is None


def test_margin_pairing_file(tmp_path):
    recs = [
        resp("a", 0, [v(False), v(False)]),
        resp("a", 1, [v(True), v(False)]),
        resp("b", 0, [v(False)]),
        resp("b", 1, [v(False)]),
    ]
    write_jsonl(tmp_path / "responses.jsonl", recs)
    man = run_pairs(PairsConfig(format="dpo", pairing="margin"), tmp_path, progress=False)
    (pair,) = [json.loads(x) for x in (tmp_path / "pairs_dpo.jsonl").read_text(encoding="utf-8").splitlines()]
    assert pair["chosen"] == [{"role": "assistant", "content": "response a 1"}]
    assert pair["rejected"] == [{"role": "assistant", "content": "response a 0"}]
    assert (pair["meta"]["chosen_failures"], pair["meta"]["rejected_failures"]) == (1, 2)
    assert man["counts"]["records"] == 1 and man["config"]["pairing"] == "margin"
    # The default pairing finds no sample that meets both constraints here.
    assert run_pairs(PairsConfig(format="dpo"), tmp_path, progress=False)["counts"]["records"] == 0


# --------------------------------------------------------------------------- IOPO

X1 = [
    Constraint(id="punctuation:no_comma", kwargs={}, text="Do not use any commas."),
    Constraint(
        id="keywords:frequency",
        kwargs={"keyword": "cat", "frequency": 2, "relation": "at least"},
        text="Use the word cat at least 2 times.",
    ),
]
Y1 = "the cat saw another cat in the garden"
Y2 = "a dog sat in the garden"


def ok_all(cons: list[dict], text: str) -> bool:
    return all(check_all([(c["id"], c["kwargs"]) for c in cons], text))


def test_modify_operator_makes_y1_fail_the_perturbed_constraint():
    p = perturb_modify(X1, Y1, "p", "en", random.Random(0))
    assert p is not None and p.operator == "modify"
    assert ok_all([c.model_dump() for c in X1], Y1)
    assert not ok_all([c.model_dump() for c in p.constraints], Y1)
    changed = [(a, b) for a, b in zip(X1, p.constraints, strict=True) if a != b]
    assert len(changed) == 1 and changed[0][0].id == changed[0][1].id == "keywords:frequency"


@pytest.mark.parametrize("op", [perturb_add, perturb_delete_add])
def test_add_and_delete_add_operators_make_y1_fail_x2(op):
    for seed in range(5):
        p = op(X1, Y1, "p", "Describe a cat.", "en", random.Random(seed), 30)
        assert p is not None
        assert not ok_all([c.model_dump() for c in p.constraints], Y1)
        ids = [c.id for c in p.constraints]
        assert len(set(ids)) == len(ids)
        if op is perturb_add:
            assert p.constraints[: len(X1)] == X1 and len(p.constraints) == len(X1) + 1
        else:
            assert len(p.constraints) == len(X1)


def test_iopo_groups_satisfy_the_four_verdict_properties(tmp_path):
    prompt = render_prompt("Describe a cat.", [c.text for c in X1], None)
    rec = resp("g", 0, [v(True, "punctuation:no_comma"), v(True, "keywords:frequency")], Y1)
    rec.update(
        messages=[{"role": "user", "content": prompt}],
        constraints=[c.model_dump(exclude_none=True) for c in X1],
        task="Describe a cat.",
    )
    fail = resp("h", 0, [v(False, "punctuation:no_comma"), v(True, "keywords:frequency")], "cat, cat")
    write_jsonl(tmp_path / "responses.jsonl", [rec, fail])
    seen = []

    def student(chat, i):
        seen.append(chat[-1]["content"])
        # Sample 0 still mentions the cat twice (follows x1, not x2); sample 1 follows x2.
        return Y1 if i == 0 else Y2

    man = run_pairs(
        PairsConfig(format="iopo", operators=["modify"], n=2),
        tmp_path,
        student=ScriptedBackend(student),
        progress=False,
    )
    (g,) = [json.loads(x) for x in (tmp_path / "groups_iopo.jsonl").read_text(encoding="utf-8").splitlines()]
    assert g["id"] == "g" and g["x1"] == [{"role": "user", "content": prompt}]
    assert g["y1"] == Y1 and g["y2"] == Y2
    assert g["meta"]["operator"] == "modify" and g["meta"]["y2_sample"] == 1
    x2 = g["x2"][-1]["content"]
    assert seen == [x2] * 2 and g["x2"] != g["x1"]
    c1, c2 = g["meta"]["x1_constraints"], g["meta"]["x2_constraints"]
    assert g["x2"] == [
        {"role": "user", "content": render_prompt("Describe a cat.", [c["text"] for c in c2], None)}
    ]
    # The four properties, re-checked from scratch by the verifier.
    assert ok_all(c1, g["y1"]) and ok_all(c2, g["y2"])
    assert not ok_all(c2, g["y1"]) and not ok_all(c1, g["y2"])
    assert man["counts"]["groups"] == 1 and man["counts"]["with_y1"] == 1


def test_iopo_groups_keep_the_system_turn_y2_was_sampled_with(tmp_path):
    prompt = render_prompt("Describe a cat.", [c.text for c in X1], None)
    system = {"role": "system", "content": "You are a careful assistant."}
    rec = resp("g", 0, [v(True), v(True)], Y1)
    rec.update(
        messages=[system, {"role": "user", "content": prompt}],
        constraints=[c.model_dump(exclude_none=True) for c in X1],
        task="Describe a cat.",
    )
    write_jsonl(tmp_path / "responses.jsonl", [rec])
    chats = []

    def student(chat, i):
        chats.append(chat)
        return Y2

    run_pairs(
        PairsConfig(format="iopo", operators=["modify"], n=1),
        tmp_path,
        student=ScriptedBackend(student),
        progress=False,
    )
    (g,) = [json.loads(x) for x in (tmp_path / "groups_iopo.jsonl").read_text(encoding="utf-8").splitlines()]
    # Both prompts are stored as y1 and y2 were asked: the system turn, then the user turn.
    assert g["x1"] == [system, {"role": "user", "content": prompt}]
    assert g["x2"] == chats[0] and g["x2"][0] == system and g["x2"][-1]["role"] == "user"


def test_iopo_without_a_valid_y2_writes_no_group(tmp_path):
    prompt = render_prompt("Describe a cat.", [c.text for c in X1], None)
    rec = resp("g", 0, [v(True), v(True)], Y1)
    rec.update(
        messages=[{"role": "user", "content": prompt}], constraints=[c.model_dump() for c in X1], task="t"
    )
    write_jsonl(tmp_path / "responses.jsonl", [rec])
    man = run_pairs(
        PairsConfig(format="iopo", operators=["modify"], n=3),
        tmp_path,
        student=ScriptedBackend(lambda c, i: Y1),
        progress=False,
    )
    assert (tmp_path / "groups_iopo.jsonl").read_text(encoding="utf-8") == ""
    fails = [
        json.loads(x) for x in (tmp_path / "failures_iopo.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert fails[0]["reason"].startswith("no y2 sample follows x2 and fails x1")
    assert man["counts"]["failed"] == 1 and man["counts"]["groups"] == 0


def test_rewrite_operator_for_judged_constraints(tmp_path):
    judged = Constraint(
        id="judge:tone_and_style", kwargs={}, text="Sound cheerful.", dimension="tone_and_style"
    )
    prompt = render_prompt("Describe a cat.", [judged.text], None)
    rec = resp(
        "j",
        0,
        [{"id": judged.id, "source": "judge", "strict": True, "loose": True, "score": 10}],
        "yay cats!",
    )
    rec.update(
        messages=[{"role": "user", "content": prompt}],
        constraints=[judged.model_dump()],
        task="Describe a cat.",
    )
    write_jsonl(tmp_path / "responses.jsonl", [rec])

    def teacher(chat, i):
        assert chat[-1]["content"].startswith("Here is one constraint of an instruction:")
        return "Sound gloomy."

    def judge(chat, i):
        text = chat[-1]["content"]
        cons = text.split("# Constraints")[1].split("# Response")[0]
        resp_text = text.split("# Response")[1]
        happy = "yay" in resp_text
        good = ("cheerful" in cons and happy) or ("gloomy" in cons and not happy)
        s = 10 if good else 1
        return f'ok\nFine Grained Score: [{{"1": {s}}}]\nConstraints Overall Score: [[{s}]]'

    run_pairs(
        PairsConfig(format="iopo", operators=["rewrite"], n=1),
        tmp_path,
        student=ScriptedBackend(lambda c, i: "cats are grey."),
        teacher=ScriptedBackend(teacher),
        judge=ScriptedBackend(judge),
        progress=False,
    )
    (g,) = [json.loads(x) for x in (tmp_path / "groups_iopo.jsonl").read_text(encoding="utf-8").splitlines()]
    assert g["meta"]["operator"] == "rewrite" and "Sound gloomy." in g["x2"][-1]["content"]
    vs = g["meta"]["verdicts"]
    assert [x["strict"] for x in vs["y1_x1"]] == [True] and [x["strict"] for x in vs["y2_x2"]] == [True]
    assert [x["strict"] for x in vs["y1_x2"]] == [False] and [x["strict"] for x in vs["y2_x1"]] == [False]
