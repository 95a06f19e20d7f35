"""The reward-hack matrix (docs/reward_hacks.md) and the reward guards that close its hacks."""

from __future__ import annotations

import json

import pytest

from followkit.rewards import hacks as rh
from followkit.rewards.rlvr import (
    ConstraintReward,
    HybridReward,
    constraint_slot_rewards,
    content_words,
    make_constraint_reward,
)
from tests.helpers.paths import FIXTURES, ROOT

KNOWN = FIXTURES / "reward_hacks_known.json"
NO_COMMA, LOWER = "punctuation:no_comma", "change_case:english_lowercase"


def _known_form(found: list[str]) -> dict[str, dict[str, list[str]]]:
    out: dict[str, dict[str, list[str]]] = {}
    for entry in found:
        cid, mode, answer = entry.split(" | ")
        out.setdefault(cid, {}).setdefault(answer, []).append(mode)
    return out


def write_known() -> None:
    """Regenerate the checked-in list: python -c 'import tests.rewards.test_hacks as t; t.write_known()'."""
    KNOWN.write_text(json.dumps(_known_form(rh.hack_list(rh.run_matrix())), indent=1, sort_keys=True) + "\n")


def test_docs_reward_hacks_equal_what_the_code_renders():
    doc = ROOT / "docs" / "reward_hacks.md"
    assert doc.read_text(encoding="utf-8") == rh.render_markdown(), (
        "run: followkit constraints reward-hacks --write docs/reward_hacks.md"
    )


def test_no_new_reward_hack_appears():
    known = json.loads(KNOWN.read_text(encoding="utf-8"))
    listed = {
        f"{cid} | {mode} | {a}" for cid, by in known.items() for a, modes in by.items() for mode in modes
    }
    new = [h for h in rh.hack_list(rh.run_matrix()) if h not in listed]
    assert not new, f"{len(new)} new reward hacks (id | mode | answer):\n" + "\n".join(new)


def test_the_matrix_covers_every_id_and_mode():
    from followkit.constraints import registry

    m = rh.run_matrix(ids=registry.ids()[:3])
    assert set(m) == {(cid, mode) for cid in registry.ids()[:3] for mode in rh.MODE_NAMES}
    assert all(set(v) == set(rh.ANSWER_NAMES) for v in m.values())
    assert len(rh.MODE_NAMES) == 8


def test_the_content_minimum_closes_every_hack_but_the_other_language():
    m = rh.run_matrix(rh.GUARDS[1])
    assert {a for v in rh.hacks(m).values() for a in v} <= {"other_language"}


def test_content_words_leaves_out_echoes_and_counts_distinct_words():
    prompt = "Write a short note about a lost cat. Do not use any commas."
    assert content_words(prompt, [prompt]) == 0
    assert content_words("My cat is lost. " * 20, [prompt]) == 4
    assert content_words("Please tell me if you saw my grey cat near the garden", [prompt]) == 12
    assert content_words("你好世界", []) == 4


def test_min_content_credits_nothing_below_the_minimum():
    r = make_constraint_reward(min_content=5)
    spec = [[{"id": NO_COMMA, "kwargs": {}, "text": "Do not use any commas."}]] * 3
    answers = ["a", "Do not use any commas.", "Our grey cat went missing on Tuesday near the old mill"]
    assert r(answers, prompts=["Describe a lost cat. Do not use any commas."] * 3, constraints=spec) == [
        0.0,
        0.0,
        1.0,
    ]
    # the constraint's own rendering counts as echo without a text field (IFEval rows)
    r2 = make_constraint_reward(min_content=2)
    assert r2(["Answer in lowercase letters only."], instruction_id_list=[[LOWER]]) == [0.0]
    assert ConstraintReward()(["a"], instruction_id_list=[[NO_COMMA]]) == [1.0]  # off by default


class FixedJudge:
    def __init__(self, q: float):
        self.q = q

    def quality(self, prompts, answers):
        return [self.q] * len(answers)


def test_judge_gate_zeroes_rewards_below_the_gate():
    ids = [[NO_COMMA]]
    assert HybridReward(FixedJudge(0.6), judge_gate=0.7)(["fine"], instruction_id_list=ids) == [0.0]
    assert HybridReward(FixedJudge(0.8), judge_gate=0.7)(["fine"], instruction_id_list=ids) == [0.8]
    with pytest.raises(ValueError, match="judge_gate needs a judge"):
        make_constraint_reward(judge_gate=0.5)


def test_judge_gate_precision_against_the_rule_checkers():
    p = rh.gate_precision()
    assert p["good"] >= 30 and p["rejected_good"] == 0 and p["precision"] == 1.0
    assert 0.8 < p["recall"] < 1.0  # echoes and the other language pass the lenient judge


def test_slot_rewards_score_each_constraint_apart():
    rewards = constraint_slot_rewards(3)
    got = [f(["Hello, world"], instruction_id_list=[[NO_COMMA, LOWER]]) for f in rewards]
    assert got == [[0.0], [0.0], [None]]
    got = [f(["hello world"], instruction_id_list=[[NO_COMMA, LOWER]]) for f in rewards]
    assert got == [[1.0], [1.0], [None]]
    assert [f.__name__ for f in rewards] == ["constraint_0", "constraint_1", "constraint_2"]


def test_grpo_default_reward_has_the_content_minimum():
    from followkit.rewards.rlvr import MIN_CONTENT_WORDS
    from followkit.train.config import TrainConfig
    from followkit.train.grpo import build_reward

    base = {"method": "grpo", "data": "x", "out": "o"}
    assert TrainConfig.model_fields["min_content"].default == MIN_CONTENT_WORDS == rh.MIN_CONTENT
    assert build_reward(TrainConfig(**base)).min_content == MIN_CONTENT_WORDS
    slots = build_reward(TrainConfig(**base, reward_per_constraint=True), slots=2)
    assert [s.slot for s in slots] == [0, 1] and slots[0].rule.min_content == MIN_CONTENT_WORDS
    gated = build_reward(TrainConfig(**base, judge="openai:j", judge_gate=0.5))
    assert gated.judge_gate == 0.5
    with pytest.raises(ValueError, match="judge_gate needs judge"):
        TrainConfig(**base, judge_gate=0.5)


@pytest.mark.slow
def test_grpo_with_per_constraint_rewards_logs_one_reward_per_slot(tmp_path):
    from followkit.cli import main
    from tests.helpers.gpu_support import tiny_gpu_llama

    model = tiny_gpu_llama(tmp_path)
    rows = [
        {"id": f"p{i}", "prompt": "Describe a lake.", "instruction_id_list": [NO_COMMA, LOWER]}
        for i in range(2)
    ]
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "grpo"
    args = ["train", "--method", "grpo", "--model", str(model), "--data", str(data), "--out", str(out)]
    args += ["gradient_accumulation_steps=2", "num_generations=2", "max_completion_length=8", "max_steps=1"]
    args += ["reward_per_constraint=true", "min_content=0", "merge=false", "save_steps=10"]
    assert main(args) == 0
    log = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines() if '"loss"' in x]
    assert {"rewards/constraint_0/mean", "rewards/constraint_1/mean"} <= set(log[0])
    config = json.loads((out / "manifest.json").read_text())["reward"]
    assert "ConstraintSlotReward(slot=1" in config
