"""IOPO groups from rule repairs: the four verdict properties, hand-worked groups, yield in the manifest."""

from __future__ import annotations

import json

from followkit.backends.scripted import ScriptedBackend
from followkit.constraints.verify import check_all
from followkit.core.io import write_jsonl
from followkit.core.records import Constraint, Instruction, render_prompt
from followkit.synth.compose import ComposeConfig, run_compose
from followkit.synth.pairs import PairsConfig, run_pairs
from followkit.synth.respond import RespondConfig, run_respond

STUDENT = "Cats sleep a lot, often sixteen hours a day. They hunt at dawn. They like warm places."


def _read(p):
    return [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines() if x.strip()]


def _follows(cons, text):
    return all(check_all([(c["id"], c.get("kwargs") or {}) for c in cons], text))


def test_hand_worked_group(tmp_path):
    cons = [
        Constraint(
            id="startend:end_checker", kwargs={"end_phrase": "Any other questions?"}, text="End with it."
        ),
    ]
    prompt = render_prompt("Describe a cat.", [c.text for c in cons], None)
    inst = Instruction(id="c1", task="Describe a cat.", constraints=cons, prompt=prompt)
    write_jsonl(tmp_path / "instructions.jsonl", [inst.model_dump()])
    run_respond(RespondConfig(n=1), tmp_path, student=ScriptedBackend(lambda c, i: STUDENT), progress=False)
    man = run_pairs(PairsConfig(format="iopo", y2="repair", seed=1), tmp_path, progress=False)
    groups = _read(tmp_path / "groups_iopo.jsonl")
    assert groups, man
    g = groups[0]
    # y1: the student's answer with the end phrase appended; x2 changes the phrase (EndChecker.perturb
    # appends a word), and y2 is the same answer repaired to end with the new phrase.
    assert g["y1"] == STUDENT + " Any other questions?"
    new_phrase = g["meta"]["x2_constraints"][0]["kwargs"]["end_phrase"]
    assert new_phrase.startswith("Any other questions? ")
    assert g["y2"] == STUDENT + " " + new_phrase
    assert g["x1"] == [{"role": "user", "content": prompt}]
    assert g["x2"][-1]["content"] != prompt and new_phrase in g["x2"][-1]["content"]
    assert man["counts"]["groups"] == len(groups)
    assert man["counts"]["instructions_by_group_count"] == {str(len(groups)): 1}


def test_every_group_holds_the_four_properties(tmp_path):
    run_compose(
        ComposeConfig(n=40, seed=3, languages=["en"], k="uniform:1-3",
                      include=["punctuation:no_comma", "startend:end_checker", "detectable_format:title",
                               "change_case:english_lowercase", "keywords:existence", "startend:quotation",
                               "detectable_content:postscript", "keywords:frequency"]),
        tmp_path, progress=False,
    )  # fmt: skip
    run_respond(RespondConfig(n=1), tmp_path, student=ScriptedBackend(lambda c, i: STUDENT), progress=False)
    man = run_pairs(PairsConfig(format="iopo", y2="repair", seed=5), tmp_path, progress=False)
    groups = _read(tmp_path / "groups_iopo.jsonl")
    assert len(groups) >= 40  # several groups per instruction, no model call
    for g in groups:
        c1, c2 = g["meta"]["x1_constraints"], g["meta"]["x2_constraints"]
        assert _follows(c1, g["y1"]) and not _follows(c2, g["y1"])
        assert _follows(c2, g["y2"]) and not _follows(c1, g["y2"])
    assert len({g["id"] for g in groups}) == len(groups)
    counts = man["counts"]
    assert counts["groups"] == len(groups) and counts["instructions"] == 40
    assert sum(counts["instructions_by_group_count"].values()) == 40
    # deterministic under the seed
    first = (tmp_path / "groups_iopo.jsonl").read_text()
    run_pairs(PairsConfig(format="iopo", y2="repair", seed=5), tmp_path, progress=False)
    assert (tmp_path / "groups_iopo.jsonl").read_text() == first


def test_compose_repairable_draws_only_ids_with_a_repair(tmp_path):
    from followkit.constraints import registry

    run_compose(ComposeConfig(n=30, seed=1, repairable=True, k="uniform:2-4"), tmp_path, progress=False)
    ids = {c["id"] for r in _read(tmp_path / "instructions.jsonl") for c in r["constraints"]}
    assert ids and all(registry.get(i).repairable for i in ids)
    assert len(ids) > 10
