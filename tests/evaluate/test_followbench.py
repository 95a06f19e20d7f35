"""FollowBench: the published per-category files, rules where the authors use rules, a scripted judge; HSR, SSR, CSL by hand."""

from __future__ import annotations

import json
import re

import pytest

from followkit.backends.scripted import ScriptedBackend
from followkit.core.errors import InputError
from followkit.evaluate.followbench import example_verdict, rule_verdict
from followkit.evaluate.registry import get_benchmark
from followkit.evaluate.runner import EvalConfig, run_eval
from followkit.judges.trace import verdict_marker

# content seed (judged): the judge's answers per level; None = unparsable
JUDGED = {1: [1], 2: [1, 1], 3: [1, 0, 1], 4: [1, 1, 1, 1], 5: None}
# situation seed (BBH_logical, target "(A)"): the last "(X)" counts
LOGICAL = {1: "(A)", 2: "Not (B) but (A)", 3: "(A) or rather (B)", 4: "It is (A).", 5: "(A)"}
# example seed (template "{'AI assistant': '{answer}'}")
EXAMPLE = {
    1: "{'AI assistant': 'Hi'}",
    2: "{'AI assistant': 'Two words'}",
    3: "{'AI assistant': ''}",
    4: "AI assistant: Hi",
    5: "{'AI assistant': 'x'}",
}


def write_folder(tmp_path):
    d = tmp_path / "data"
    d.mkdir(parents=True)

    def rec(cat, source, level, target=""):
        return {
            "example_id": 1,
            "category": cat,
            "source": source,
            "level": level,
            "instruction": f"{cat} instruction at level {level}.",
            "target": target,
        }

    (d / "content_constraints.json").write_text(json.dumps([rec("content", "oasst", k) for k in range(6)]))
    (d / "situation_constraints.json").write_text(
        json.dumps([rec("situation", "BBH_logical", k, "(A)") for k in range(6)])
    )
    target = "{instruction}\n{{'AI assistant': '{answer}'}}"
    (d / "example_constraints.json").write_text(
        json.dumps([rec("example", "aeslc", k, target) for k in range(1, 6)])
    )
    return d


def responder(chat, i):
    cat, level = re.match(r"(\w+) instruction at level (\d)", chat[-1]["content"]).groups()
    level = int(level)
    return {"content": f"content answer {level}", "situation": LOGICAL[level], "example": EXAMPLE[level]}[cat]


def judge(chat, i):
    text = chat[0]["content"]
    level = int(re.search(r"content answer (\d)\n</response-", text).group(1))
    answers = JUDGED[level]
    if answers is None:
        return "Hard to say."
    scores = json.dumps({str(k): a for k, a in enumerate(answers, 1)})
    return f"{verdict_marker(f'content answer {level}')}\nChecklist Scores: {scores}"


def test_rules_as_the_authors():
    assert rule_verdict("BBH_logical", "(B) no, (A)", "(A)") and not rule_verdict("BBH_logical", "A", "(A)")
    assert rule_verdict("BBH_time", "from 01/02/2020 to 03/04/2021", "03/04/2021")
    assert rule_verdict("gsm_8k", "It costs $12, then $18", "$18") and not rule_verdict("gsm_8k", "18", "$18")
    assert rule_verdict("CONLL2003", "Paris", "['Paris', 'France']") and not rule_verdict(
        "CONLL2003", "x", "["
    )
    assert rule_verdict("WIKIEVENTS", "a\nb", "b\na\nc") and not rule_verdict("WIKIEVENTS", "a\nd", "a\nb")
    assert rule_verdict("E2E", "name[X]", "name[X]") and not rule_verdict("E2E", "name[X] ", "name[X]")
    assert rule_verdict("self_made_space", "the answer is 42.", "42")
    assert example_verdict("{instruction}\nBOT: {answer}", "BOT: hello\nthere")
    assert not example_verdict("{instruction}\nBOT: {answer}", "hello")


def test_loader_reads_a_folder_and_skips_level_zero(tmp_path):
    items = get_benchmark("followbench").load(str(write_folder(tmp_path)))
    assert [it.id for it in items][:2] == ["content:1:1", "content:1:2"] and len(items) == 15
    by_id = {it.id: it for it in items}
    assert by_id["content:1:3"].meta["evolution"] == [f"content instruction at level {k}." for k in range(4)]
    assert by_id["situation:1:1"].meta["scored_by"] == "rule"
    assert by_id["example:1:2"].meta["scored_by"] == "example"
    assert by_id["content:1:5"].meta["scored_by"] == "judge"
    one = get_benchmark("followbench").load(str(write_folder(tmp_path / "x") / "example_constraints.json"))
    assert len(one) == 5


def test_bad_record_is_one_line_naming_it(tmp_path):
    d = write_folder(tmp_path)
    data = json.loads((d / "content_constraints.json").read_text())
    data[2]["level"] = 9
    (d / "content_constraints.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"record example_id 1 level 9 \(position 3\): level must be 0-5"):
        get_benchmark("followbench").load(str(d))


def test_hsr_ssr_csl_equal_hand_worked_numbers(tmp_path):
    judge_backend = ScriptedBackend(judge)
    res = run_eval(
        EvalConfig(benchmark=f"followbench:{write_folder(tmp_path)}", out=str(tmp_path / "o")),
        backend=ScriptedBackend(responder),
        judge_backend=judge_backend,
        progress=False,
    )
    m = res["results"]["followbench"]
    # hard per level: content T T F T F; situation T T F T T; example T T T F T
    assert [m[f"hsr_level{k}"] for k in range(1, 6)] == pytest.approx([1, 1, 1 / 3, 2 / 3, 2 / 3])
    # soft: content 1, 1, 2/3, 1, 0; rules count their one verdict
    assert [m[f"ssr_level{k}"] for k in range(1, 6)] == pytest.approx([1, 1, 5 / 9, 2 / 3, 2 / 3])
    assert m["hsr"] == pytest.approx(11 / 15) and m["ssr"] == pytest.approx(7 / 9)
    assert m["csl"] == pytest.approx((2 + 2 + 3) / 3)
    assert m["judge_unparsable_rate"] == pytest.approx(1 / 5)
    assert judge_backend.calls == 6  # five judged items, one retry


def test_real_folder_end_to_end(shared, tmp_path):
    def yes_all(chat, i):
        text = chat[0]["content"]
        n = int(re.search(r"# Checklist \((\d+) points\)", text).group(1))
        response = re.search(r"<(response-[0-9a-f]{24})>\n(.*)\n</\1>", text, re.S).group(2)
        return f"{verdict_marker(response)}\nChecklist Scores: " + json.dumps(
            {str(k): 1 for k in range(1, n + 1)}
        )

    res = run_eval(
        EvalConfig(benchmark=f"followbench:{shared / 'followbench'}", out=str(tmp_path / "o"), limit=10),
        backend=ScriptedBackend(lambda chat, i: "An answer."),
        judge_backend=ScriptedBackend(yes_all),
        progress=False,
    )
    # the first 10 items: content seeds 1 and 2 (levels 1-5); seed 1 is t0_zsnoopt_data (judged)
    assert res["n_samples"]["followbench"]["effective"] == 10
    m = res["results"]["followbench"]
    assert m["judge_unparsable_rate"] == 0.0 and 0.0 <= m["hsr"] <= 1.0 and "csl" in m
