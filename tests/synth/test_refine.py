"""refine with a scripted teacher: one fix at a time, re-verification, pairs only when the final passes."""

from __future__ import annotations

import json
import re

from followkit.backends.scripted import ScriptedBackend
from followkit.constraints.verify import check_all
from followkit.core.io import write_jsonl
from followkit.core.records import Constraint, Instruction, render_prompt
from followkit.synth.refine import RefineConfig, refine_prompt, run_refine
from followkit.synth.respond import RespondConfig, run_respond

CONS = [
    Constraint(id="punctuation:no_comma", kwargs={}, text="Do not use any commas."),
    Constraint(id="change_case:english_lowercase", kwargs={}, text="Write everything in lowercase."),
    Constraint(id="keywords:existence", kwargs={"keywords": ["whiskers"]}, text="Include the word whiskers."),
]
STUDENT = "The Cat is a small animal, it sleeps all day."


def setup(tmp_path, student_text=STUDENT, cons=CONS):
    prompt = render_prompt("Describe a cat.", [c.text for c in cons], None)
    inst = Instruction(id="r1", task="Describe a cat.", constraints=cons, prompt=prompt)
    write_jsonl(tmp_path / "instructions.jsonl", [inst.model_dump()])
    run_respond(
        RespondConfig(n=1), tmp_path, student=ScriptedBackend(lambda c, i: student_text), progress=False
    )
    return prompt


def fixing_teacher(log):
    def fn(chat, i):
        msg = chat[-1]["content"]
        log.append(msg)
        resp = re.search(r"<response>\n(.*)\n</response>", msg, re.S).group(1)
        broken = re.search(r"The broken constraint: (.*)\n", msg).group(1)
        if "commas" in broken:
            return resp.replace(",", "")
        if "lowercase" in broken:
            return resp.lower()
        if "whiskers" in broken:
            return resp + " it has long whiskers."
        raise AssertionError(broken)

    return fn


def read(p):
    return [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines()] if p.exists() else []


def ok(text):
    return check_all([(c.id, c.kwargs) for c in CONS], text)


def test_teacher_fixes_one_constraint_at_a_time_and_pairs_use_the_final(tmp_path):
    prompt = setup(tmp_path)
    asked = []
    man = run_refine(RefineConfig(), tmp_path, teacher=ScriptedBackend(fixing_teacher(asked)), progress=False)
    assert ok(STUDENT) == [False, False, False]
    # Three rounds, each with one broken constraint, each shown the latest response.
    assert asked[0] == refine_prompt(prompt, STUDENT, "Do not use any commas.")
    assert asked[1] == refine_prompt(
        prompt, "The Cat is a small animal it sleeps all day.", "Write everything in lowercase."
    )
    assert len(asked) == 3
    final = "the cat is a small animal it sleeps all day. it has long whiskers."
    pairs = read(tmp_path / "pairs_refine.jsonl")
    assert [p["rejected"][0]["content"] for p in pairs] == [
        STUDENT,
        "The Cat is a small animal it sleeps all day.",
        "the cat is a small animal it sleeps all day.",
    ]
    assert all(p["chosen"] == [{"role": "assistant", "content": final}] for p in pairs)
    assert all(p["prompt"] == [{"role": "user", "content": prompt}] for p in pairs)
    assert [p["meta"]["fixed_constraint"] for p in pairs] == [c.id for c in CONS]
    assert all(ok(final)) and all(not all(ok(p["rejected"][0]["content"])) for p in pairs)
    (sft,) = read(tmp_path / "sft_refine.jsonl")
    assert sft["messages"][-1] == {"role": "assistant", "content": final}
    assert man["counts"]["pairs"] == 3 and man["counts"]["refined"] == 1 and man["counts"]["failed"] == 0
    # Rerun: nothing is asked again and nothing is duplicated.
    again = []
    run_refine(RefineConfig(), tmp_path, teacher=ScriptedBackend(fixing_teacher(again)), progress=False)
    assert again == [] and len(read(tmp_path / "pairs_refine.jsonl")) == 3


def test_a_fix_that_breaks_another_constraint_is_rechecked(tmp_path):
    setup(tmp_path, "the cat is small, it sleeps with its whiskers.")

    def teacher(chat, i):
        msg = chat[-1]["content"]
        if "commas" in msg.split("The broken constraint:")[1]:
            return "The Cat is small and it sleeps with its whiskers."  # fixes commas, breaks lowercase
        return "the cat is small and it sleeps with its whiskers."

    run_refine(RefineConfig(), tmp_path, teacher=ScriptedBackend(teacher), progress=False)
    pairs = read(tmp_path / "pairs_refine.jsonl")
    assert [p["meta"]["fixed_constraint"] for p in pairs] == [
        "punctuation:no_comma",
        "change_case:english_lowercase",
    ]
    assert pairs[0]["chosen"][0]["content"] == "the cat is small and it sleeps with its whiskers."


def test_final_still_failing_gives_no_pairs_and_a_failure(tmp_path):
    setup(tmp_path)
    man = run_refine(RefineConfig(), tmp_path, teacher=ScriptedBackend(lambda c, i: STUDENT), progress=False)
    assert read(tmp_path / "pairs_refine.jsonl") == [] and read(tmp_path / "sft_refine.jsonl") == []
    (f,) = read(tmp_path / "failures_refine.jsonl")
    assert f["reason"].startswith("final response still fails: punctuation:no_comma")
    assert man["counts"]["failed"] == 1 and man["counts"]["pairs"] == 0


def test_empty_teacher_output_is_a_failure(tmp_path):
    setup(tmp_path)
    run_refine(RefineConfig(), tmp_path, teacher=ScriptedBackend(lambda c, i: " "), progress=False)
    (f,) = read(tmp_path / "failures_refine.jsonl")
    assert f["reason"] == "teacher: empty output" and read(tmp_path / "pairs_refine.jsonl") == []


def test_passing_responses_are_not_refined(tmp_path):
    setup(tmp_path, "the cat is small and has whiskers.")
    calls = []
    man = run_refine(
        RefineConfig(), tmp_path, teacher=ScriptedBackend(lambda c, i: calls.append(c) or ""), progress=False
    )
    assert calls == [] and man["counts"]["failing_selected"] == 0


# --------------------------------------------------------------------------- the rule teacher

RULE_CONS = [
    Constraint(id="punctuation:no_comma", kwargs={}, text="Do not use any commas."),
    Constraint(id="change_case:english_lowercase", kwargs={}, text="Write everything in lowercase."),
    Constraint(
        id="startend:end_checker", kwargs={"end_phrase": "Any questions?"}, text="End with 'Any questions?'"
    ),
]


def test_rule_teacher_fixes_offline_with_provenance(tmp_path):
    prompt = setup(tmp_path, STUDENT, RULE_CONS)
    man = run_refine(RefineConfig(teacher="rules"), tmp_path, progress=False)
    final = "the cat is a small animal it sleeps all day. any questions?"
    (sft,) = read(tmp_path / "sft_refine.jsonl")
    assert sft["messages"][-1] == {"role": "assistant", "content": final}
    assert sft["meta"]["teacher"] == "rules"
    pairs = read(tmp_path / "pairs_refine.jsonl")
    # one pair per fix; rejected = the text before that fix, chosen = the final, fully passing text
    assert [p["rejected"][0]["content"] for p in pairs] == [
        STUDENT,
        "The Cat is a small animal it sleeps all day.",
        "the cat is a small animal it sleeps all day.",
    ]
    assert all(p["chosen"][0]["content"] == final for p in pairs)
    assert [p["meta"]["fixed_by"] for p in pairs] == ["rules"] * 3
    assert all(p["prompt"] == [{"role": "user", "content": prompt}] for p in pairs)
    assert man["counts"]["refined"] == 1 and man["counts"]["failed"] == 0


def test_rule_teacher_alone_fails_what_no_rule_fixes(tmp_path):
    cons = [
        *RULE_CONS,
        Constraint(
            id="length_constraints:number_words",
            kwargs={"num_words": 80, "relation": "at least"},
            text="At least 80 words.",
        ),
    ]
    setup(tmp_path, STUDENT, cons)
    man = run_refine(RefineConfig(teacher="rules"), tmp_path, progress=False)
    assert read(tmp_path / "sft_refine.jsonl") == []
    (fail,) = read(tmp_path / "failures_refine.jsonl")
    assert "length_constraints:number_words" in fail["reason"]
    assert man["counts"]["failed"] == 1


def test_rules_plus_model_falls_back_to_the_model(tmp_path):
    cons = [
        *RULE_CONS,
        Constraint(
            id="length_constraints:number_words",
            kwargs={"num_words": 14, "relation": "at least"},
            text="At least 14 words.",
        ),
    ]
    setup(tmp_path, STUDENT, cons)
    asked = []

    def longer(chat, i):
        msg = chat[-1]["content"]
        asked.append(msg)
        resp = re.search(r"<response>\n(.*)\n</response>", msg, re.S).group(1)
        return (
            resp.replace(" any questions?", "")
            + " it naps in the sun and purrs and plays with yarn. any questions?"
        )

    run_refine(
        RefineConfig(teacher="rules+embedded"), tmp_path, teacher=ScriptedBackend(longer), progress=False
    )
    assert len(asked) == 1 and "At least 14 words." in asked[0]
    (sft,) = read(tmp_path / "sft_refine.jsonl")
    final = sft["messages"][-1]["content"]
    assert all(check_all([(c.id, c.kwargs) for c in cons], final))
    bys = [p["meta"]["fixed_by"] for p in read(tmp_path / "pairs_refine.jsonl")]
    assert bys == ["rules", "rules", "rules", "model"]


def test_passing_answers_are_kept_as_sft_records(tmp_path):
    good = "the cat is a small animal it sleeps all day. any questions?"
    setup(tmp_path, good, RULE_CONS)
    man = run_refine(RefineConfig(teacher="rules"), tmp_path, progress=False)
    (sft,) = read(tmp_path / "sft_refine.jsonl")
    assert sft["messages"][-1]["content"] == good and sft["meta"]["steps"] == 0
    assert read(tmp_path / "pairs_refine.jsonl") == []
    assert (man["counts"]["passing_kept"], man["counts"]["refined"]) == (1, 0)
    setup(tmp_path / "off", good, RULE_CONS)
    run_refine(RefineConfig(teacher="rules", keep_passing=False), tmp_path / "off", progress=False)
    assert read(tmp_path / "off" / "sft_refine.jsonl") == []
