"""followkit.rewards: rule rewards against hand-worked verdicts, the hybrid judge reward, verl's adapter."""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest

from followkit.backends.scripted import ScriptedBackend
from followkit.core.errors import ConstraintError, InputError
from followkit.rewards.rlvr import (
    DEFAULT_MODE,
    HybridReward,
    LengthPenalty,
    compute_score,
    constraint_reward,
    make_constraint_reward,
)

NO_COMMA, LOWER = "punctuation:no_comma", "change_case:english_lowercase"
END = "startend:end_checker"
END_KW = {"end_phrase": "Is there anything else I can help with?"}

# Hand-worked verdicts for [no_comma, english_lowercase]:
#   "hello world"   -> [True, True]    all 1, fraction 1
#   "Hello, world"  -> [False, False]  all 0, fraction 0
#   "hello, world"  -> [False, True]   all 0, fraction 0.5
TEXTS = ["hello world", "Hello, world", "hello, world"]
IFEVAL_COLS = {"instruction_id_list": [[NO_COMMA, LOWER]] * 3, "kwargs": [[{}, {}]] * 3}


def test_default_is_fraction_strict():
    assert DEFAULT_MODE == "fraction"
    assert constraint_reward(TEXTS, **IFEVAL_COLS) == [1.0, 0.0, 0.5]


@pytest.mark.parametrize(("mode", "expected"), [("all", [1.0, 0.0, 0.0]), ("fraction", [1.0, 0.0, 0.5])])
def test_modes_on_both_spec_forms(mode, expected):
    reward = make_constraint_reward(mode=mode)
    assert reward(TEXTS, **IFEVAL_COLS) == expected
    cons = [
        [
            {"id": NO_COMMA, "kwargs": {}, "text": "No commas."},
            {"id": LOWER, "kwargs": {}, "text": "Lowercase."},
        ]
    ]
    assert reward(TEXTS, constraints=cons * 3) == expected
    # the spec as JSON text (how `followkit train --method grpo` stores it), and Arrow's None-filled kwargs
    assert reward(TEXTS, constraints=[json.dumps(cons[0])] * 3) == expected
    arrow = [[{"end_phrase": None}, {"end_phrase": None}]] * 3
    assert reward(TEXTS, instruction_id_list=IFEVAL_COLS["instruction_id_list"], kwargs=arrow) == expected


def test_strict_and_loose():
    # Strict: the text does not end with the phrase (a last line follows). Loose drops the last line: it does.
    text = "Here is my answer.\nIs there anything else I can help with?\nThanks"
    cols = {"instruction_id_list": [[END, NO_COMMA]], "kwargs": [[END_KW, {}]]}
    assert make_constraint_reward(mode="fraction", loose=False)([text], **cols) == [0.5]
    assert make_constraint_reward(mode="fraction", loose=True)([text], **cols) == [1.0]
    assert make_constraint_reward(mode="all", loose=False)([text], **cols) == [0.0]
    assert make_constraint_reward(mode="all", loose=True)([text], **cols) == [1.0]


def test_chat_format_completions_and_blank_text():
    chats = [[{"role": "assistant", "content": t}] for t in TEXTS]
    assert constraint_reward(chats, **IFEVAL_COLS) == [1.0, 0.0, 0.5]
    # the last assistant turn counts; multimodal content parts are joined
    turns = [{"role": "assistant", "content": "Hi, there"}, {"role": "user", "content": "again"}]
    parts = [{"role": "assistant", "content": [{"type": "text", "text": "hello world"}]}]
    assert constraint_reward([turns, parts], **{k: v[:2] for k, v in IFEVAL_COLS.items()}) == [0.0, 1.0]
    # strict IFEval: a blank response fails everything, even "no commas"
    assert constraint_reward(["   "], instruction_id_list=[[NO_COMMA]], kwargs=[[{}]]) == [0.0]


def test_judged_constraints_are_skipped_and_rows_without_rules_give_none():
    judged = {"id": "style:tone", "kwargs": {}, "text": "Be warm.", "dimension": "Tone and Style"}
    rows = [[{"id": NO_COMMA, "kwargs": {}}, judged], [judged]]
    assert constraint_reward(["a, b", "anything"], constraints=rows) == [0.0, None]


def test_families_are_logged_with_mean_and_population_std():
    logged: dict[str, float] = {}
    constraint_reward(TEXTS, log_metric=logged.__setitem__, **IFEVAL_COLS)
    # punctuation verdicts [1, 0, 0]: mean 1/3, std sqrt(2/9); change_case [1, 0, 1]: mean 2/3, std sqrt(2/9)
    assert logged["constraints/punctuation/mean"] == pytest.approx(1 / 3)
    assert logged["constraints/punctuation/std"] == pytest.approx((2 / 9) ** 0.5)
    assert logged["constraints/change_case/mean"] == pytest.approx(2 / 3)
    assert logged["constraints/change_case/std"] == pytest.approx((2 / 9) ** 0.5)


def test_length_penalty():
    pen = LengthPenalty(min_words=10, max_words=20)
    assert pen("a") == pytest.approx(0.1)
    assert pen(" ".join(["w"] * 15)) == 1.0
    assert pen(" ".join(["w"] * 30)) == pytest.approx(0.5)  # 10 over a max of 20
    assert pen(" ".join(["w"] * 45)) == 0.0
    assert pen("猫坐在窗边看鸟") == pytest.approx(0.7)  # 7 ideographs, one word unit each
    reward = make_constraint_reward(length_penalty=10)
    assert reward(["a", "hello world"], instruction_id_list=[[NO_COMMA]] * 2, kwargs=[[{}]] * 2) == [
        pytest.approx(0.1),
        pytest.approx(0.2),
    ]
    with pytest.raises(ValueError):
        LengthPenalty(min_words=10, max_words=5)


def test_bad_spec_names_the_row_and_the_field():
    cols = {
        "instruction_id_list": [[NO_COMMA], ["punctuation:no_coma"]],
        "kwargs": [[{}], [{}]],
        "key": [1, 7],
    }
    with pytest.raises(
        ConstraintError, match=r"reward row 1 \(key 7\): field 'instruction_id_list\[0\]'.*no_comma"
    ):
        constraint_reward(["a", "b"], **cols)
    with pytest.raises(ConstraintError, match=r"reward row 0: field 'kwargs\[0\]'.*'relation'"):
        constraint_reward(
            ["a"], instruction_id_list=[["length_constraints:number_words"]], kwargs=[[{"num_words": 3}]]
        )
    with pytest.raises(
        InputError, match=r"reward row 0: field 'kwargs': has 1 entries for 2 instruction ids"
    ):
        constraint_reward(["a"], instruction_id_list=[[NO_COMMA, LOWER]], kwargs=[[{}]])
    with pytest.raises(InputError, match=r"reward row 0 \(id x\): field 'constraints\[0\]\.id': missing"):
        constraint_reward(["a"], constraints=[[{"kwargs": {}}]], id=["x"])
    with pytest.raises(ConstraintError, match=r"field 'constraints\[1\]\.kwargs'"):
        constraint_reward(["a"], constraints=[[{"id": NO_COMMA}, {"id": END, "kwargs": {"phrase": 1}}]])
    with pytest.raises(InputError, match=r"reward row 0: field 'constraints': not valid JSON"):
        constraint_reward(["a"], constraints=["[{"])
    with pytest.raises(InputError, match=r"field 'instruction_id_list': missing"):
        constraint_reward(["a"])
    with pytest.raises(InputError, match=r"field 'kwargs': expected one entry per completion \(2\), got 1"):
        constraint_reward(["a", "b"], instruction_id_list=[[NO_COMMA]] * 2, kwargs=[[{}]])


def test_rewards_pickle_and_import_nothing_heavy():
    variants = [
        constraint_reward,
        make_constraint_reward(mode="all", loose=True, length_penalty=(5, 50)),
        make_constraint_reward(judge="openai:some-judge", combine="add", weight=0.3),
    ]
    for reward in variants:
        again = pickle.loads(pickle.dumps(reward))
        assert getattr(again, "__name__", None) == getattr(reward, "__name__", None)
        if not isinstance(again, HybridReward):
            assert again(TEXTS, **IFEVAL_COLS) == reward(TEXTS, **IFEVAL_COLS)
    code = (
        "import sys; from followkit.rewards import constraint_reward; "
        "print(sorted({'torch', 'transformers', 'numpy'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_package_exports_the_rlvr_rewards_on_first_use():
    import followkit.rewards
    from followkit.rewards import rlvr

    for name in followkit.rewards.__all__:
        assert getattr(followkit.rewards, name) is getattr(rlvr, name)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = followkit.rewards.nothing
    code = "import sys, followkit.rewards.car; print('followkit.rewards.rlvr' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# --- hybrid reward against hacking ---------------------------------------------------------------

PROMPT = "Write a short story about a cat who learns to swim. Do not use any commas."
STORY = "the cat stood at the edge of the pond for days. one morning she jumped in and paddled to the reeds."
HACKS = ["a", PROMPT]  # a one-letter reply and the prompt echoed back both have no commas


def _quality_judge(chat, i):
    """A scripted judge: 0 for a reply that echoes the query or says next to nothing, else 9."""
    text = chat[0]["content"]
    tag = re.search(r"^<(response-[0-9a-f]+)>$", text, re.M).group(1)
    response = text.split(f"<{tag}>\n", 1)[1].split(f"\n</{tag}>", 1)[0]
    marker = re.findall(r"^(verdict-[0-9a-f]+)$", text, re.M)[-1]
    score = 0 if response.strip() in PROMPT or len(response.split()) < 5 else 9
    return f'The response is judged.\n{marker}\nFine Grained Score: [{{"1": {score}}}]\nConstraints Overall Score: [[{score}]]'


def test_hacking_responses_get_low_reward_under_hybrid_and_length_penalty():
    completions = [STORY, *HACKS]
    cols = {"instruction_id_list": [[NO_COMMA]] * 3, "kwargs": [[{}]] * 3, "prompts": [PROMPT] * 3}
    assert constraint_reward(completions, **cols) == [1.0, 1.0, 1.0]  # the rule alone is hacked

    judge = ScriptedBackend(_quality_judge)
    hybrid = make_constraint_reward(judge=judge)  # multiply
    logged: dict[str, float] = {}
    assert hybrid(completions, log_metric=logged.__setitem__, **cols) == [pytest.approx(0.9), 0.0, 0.0]
    assert logged["judge/quality"] == pytest.approx(0.3)
    added = make_constraint_reward(judge=judge, combine="add", weight=0.5)
    assert added(completions, **cols) == [pytest.approx(0.95), 0.5, 0.5]

    lengthy = make_constraint_reward(length_penalty=10)
    story, one_letter, echo = lengthy(completions, **cols)
    assert story == 1.0 and one_letter == pytest.approx(0.1)
    assert echo == 1.0  # the echo is long enough: only the judge catches it


def test_hybrid_unparsable_judge_scores_zero_and_chat_prompts_are_read():
    seen = []

    def judge(chat, i):
        seen.append(chat[0]["content"])
        return "no verdict here"

    hybrid = HybridReward(ScriptedBackend(judge))
    prompts = [[{"role": "system", "content": "sys"}, {"role": "user", "content": PROMPT}]]
    out = hybrid(
        [[{"role": "assistant", "content": STORY}]], prompts=prompts, constraints=[[{"id": NO_COMMA}]]
    )
    assert out == [0.0]
    assert PROMPT in seen[0] and STORY in seen[0] and "sys" not in seen[0].split("# Query")[1].split("#")[0]


def test_hybrid_goes_through_the_request_cache(tmp_path, monkeypatch):
    from followkit.backends.cache import CachedBackend, RequestCache

    inner = ScriptedBackend(_quality_judge)
    cached = CachedBackend(inner, RequestCache(tmp_path / "cache.sqlite"))
    hybrid = HybridReward(cached)
    cols = {"constraints": [[{"id": NO_COMMA}]] * 2, "prompts": [PROMPT] * 2}
    first = hybrid([STORY, "a"], **cols)
    calls = inner.calls
    assert hybrid([STORY, "a"], **cols) == first and inner.calls == calls  # answered from the cache


# --- verl ----------------------------------------------------------------------------------------


def test_verl_compute_score_on_its_documented_arguments():
    gt = {"instruction_id_list": [NO_COMMA, LOWER], "kwargs": [{}, {}]}
    # verl calls compute_score(data_source=..., solution_str=..., ground_truth=..., extra_info=...)
    assert (
        compute_score(data_source="ifeval", solution_str="hello, world", ground_truth=gt, extra_info={})
        == 0.5
    )
    assert compute_score("ifeval", "hello, world", json.dumps(gt), None, mode="all") == 0.0
    cons = [{"id": END, "kwargs": END_KW, "text": "End with the phrase."}]
    text = "Answer.\nIs there anything else I can help with?\nThanks"
    assert compute_score("followkit", text, json.dumps({"constraints": cons})) == 0.0
    assert compute_score("followkit", text, cons, {"index": 0}, loose=True) == 1.0
    with pytest.raises(ConstraintError, match=r"verl ground_truth \(index 4\): field 'constraints\[0\]\.id'"):
        compute_score("x", "a", [{"id": "nope:nothing"}], {"index": 4})
    with pytest.raises(InputError, match=r"field 'ground_truth': expected an object or a list, got int"):
        compute_score("x", "a", "3")


def _ifeval_rows(shared: Path, n: int = 80) -> list[dict]:
    """IFEval's prompts joined to GPT-4's published responses, the first n."""
    prompts = {
        json.loads(line)["prompt"]: json.loads(line)
        for line in (shared / "ifeval" / "input_data.jsonl").read_text().splitlines()
    }
    src = shared / "ifeval" / "input_response_data_gpt4_20231107_145030.jsonl"
    rows = [json.loads(line) for line in src.read_text().splitlines()[:n]]
    return [{**prompts[r["prompt"]], "response": r["response"]} for r in rows]


TRACE = 'Okay, THE USER wants this; Ich denke, dass es "gut" ist. <<Title>> P.S. one, two!'


def test_reasoning_traces_earn_no_reward(shared: Path) -> None:
    """A Qwen3-style completion with a trace scores as its answer alone; an unclosed one as nothing."""
    rows = _ifeval_rows(shared)
    cols = {
        "instruction_id_list": [r["instruction_id_list"] for r in rows],
        "kwargs": [r["kwargs"] for r in rows],
    }
    clean = [r["response"] for r in rows]
    traced = [
        (f"<think>\n{TRACE}\n</think>\n\n" if i % 2 else f"{TRACE}\n</think>\n") + r
        for i, r in enumerate(clean)
    ]
    chats = [[{"role": "assistant", "content": t}] for t in traced]
    for mode in ("all", "fraction"):
        reward = make_constraint_reward(mode=mode)
        want = reward(clean, **cols)
        assert reward(traced, **cols) == want
        assert reward(chats, **cols) == want
        assert reward([f"<think>{TRACE} {r}" for r in clean], **cols) == [0.0] * len(rows)
        kept = make_constraint_reward(mode=mode, reasoning="keep")(traced, **cols)
        assert sum(kept) < sum(want)
    spec = {"instruction_id_list": rows[0]["instruction_id_list"], "kwargs": rows[0]["kwargs"]}
    assert compute_score("ifeval", traced[0], spec) == compute_score("ifeval", clean[0], spec)
    assert compute_score("ifeval", f"<think>{TRACE} {clean[0]}", spec) == 0.0
    other = f"<plan>{TRACE}</plan>{clean[0]}"
    assert compute_score("ifeval", other, json.dumps(spec), reasoning_markers="<plan>,</plan>") == (
        compute_score("ifeval", clean[0], spec)
    )
    with pytest.raises(InputError, match="OPEN,CLOSE"):
        compute_score("ifeval", other, spec, reasoning_markers="<plan>")
    assert constraint_reward(
        ["<think>a, b</think>no commas"], instruction_id_list=[[NO_COMMA]], kwargs=[[{}]]
    ) == [1.0]


# --- multi-turn records (synth compose --turns, Multi-IF) -----------------------------------------

# Turn 1 asks for no commas; turn 2 adds lowercase, so its list holds both (they accumulate).
TURNS = [
    {"prompt": "Describe a cat without commas.", "constraints": [{"id": NO_COMMA, "kwargs": {}}]},
    {
        "prompt": "Now also in lowercase.",
        "constraints": [{"id": NO_COMMA, "kwargs": {}}, {"id": LOWER, "kwargs": {}}],
    },
]


def test_a_multi_turn_row_is_scored_on_its_last_turn_against_every_constraint_in_force():
    chat = lambda t: [{"role": "assistant", "content": t}]  # noqa: E731
    # "Hello world" follows turn 1's only constraint but not turn 2's lowercase: 0.5, not 1.0
    texts = [chat("hello world"), chat("Hello world"), chat("hello, world")]
    assert constraint_reward(texts, turns=[TURNS] * 3) == [1.0, 0.5, 0.5]
    assert constraint_reward(texts, turns=[json.dumps(TURNS)] * 3) == [1.0, 0.5, 0.5]
    assert make_constraint_reward(mode="all")(texts, turns=[TURNS] * 3) == [1.0, 0.0, 0.0]
    # explicit constraints (a respond record of the conversation carries the last turn's) come first
    assert constraint_reward(["Hello world"], constraints=[TURNS[0]["constraints"]], turns=[TURNS]) == [1.0]
    gt = json.dumps({"id": "c1", "language": "en", "turns": TURNS})  # the Conversation record itself
    assert compute_score("followkit", "Hello world", gt) == 0.5
    assert compute_score("followkit", "hello world", {"turns": TURNS}, mode="all") == 1.0


def test_composed_conversations_are_rewarded_on_their_last_turn():
    from followkit.synth.compose import compose

    conv = compose(3, seed=5, k="fixed:1", turns=3)
    rows = [c.model_dump(mode="json") for c in conv]
    found = make_constraint_reward().verdicts(["x"] * 3, turns=[r["turns"] for r in rows])
    assert [len(ids) for ids, _ in found] == [len(r["turns"][-1]["constraints"]) for r in rows] == [3, 3, 3]


@pytest.mark.parametrize(
    ("turns", "field", "words"),
    [
        ([], "turns", "non-empty list of turns"),
        ("{bad", "turns", "not valid JSON"),
        ([TURNS[0], "x"], "turns[1]", "expected an object"),
        ([TURNS[0], {"prompt": "p"}], "turns[1].constraints", "missing"),
        (
            [TURNS[0], {"prompt": "p", "constraints": [{"id": "punctuation:no_coma"}]}],
            "turns[1].constraints[0].id",
            "no_comma",
        ),
    ],
)
def test_a_bad_multi_turn_spec_names_the_row_and_the_turn(turns, field, words):
    with pytest.raises((InputError, ConstraintError)) as exc:
        constraint_reward(["x"], turns=[turns], key=[7])
    msg = str(exc.value)
    assert "reward row 0 (key 7)" in msg and f"field '{field}'" in msg and words in msg, msg
