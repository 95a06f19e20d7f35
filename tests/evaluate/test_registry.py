"""Benchmark registry, loaders (fixtures and ../shared/data) and metrics from hand-derived numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from followkit.core.errors import InputError
from followkit.evaluate.base import Benchmark, RuleBenchmark
from followkit.evaluate.followkit_bench import FollowkitBench
from followkit.evaluate.ifbench import IFBenchBenchmark
from followkit.evaluate.ifeval import IFEvalBenchmark
from followkit.evaluate.registry import get_benchmark, names, parse_benchmark_spec
from followkit.evaluate.trace import TraceBenchmark


def write_jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return str(path)


IFEVAL_ROWS = [
    {
        "key": 1,
        "prompt": "Say hi without commas.",
        "instruction_id_list": ["punctuation:no_comma"],
        "kwargs": [{}],
    },
    {
        "key": 2,
        "prompt": "Write in lowercase, at least 5 words.",
        "instruction_id_list": ["change_case:english_lowercase", "length_constraints:number_words"],
        # the HF copy of IFEval fills unused kwarg names with null
        "kwargs": [{"num_words": None}, {"relation": "at least", "num_words": 5, "keywords": None}],
    },
]


# --- registry ----------------------------------------------------------------------------------


def test_registry_names_and_specs():
    assert names() == [
        "ifeval",
        "ifbench",
        "trace",
        "followkit-bench",
        "kcif",
        "cfbench",
        "complexbench",
        "complexbench-en",
        "infobench",
        "followbench",
        "multi-if",
        "ifbench-multiturn",
    ]
    assert parse_benchmark_spec("ifeval") == ("ifeval", None)
    assert parse_benchmark_spec("ifeval:../a/b:c.jsonl") == ("ifeval", "../a/b:c.jsonl")
    for name in names():
        bench = get_benchmark(name)
        assert isinstance(bench, Benchmark) and bench.name == name
    assert get_benchmark("trace").needs_judge and not get_benchmark("ifeval").needs_judge


def test_unknown_benchmark_lists_known_names():
    with pytest.raises(InputError) as exc:
        get_benchmark("ifevl")
    msg = str(exc.value)
    assert "unknown benchmark 'ifevl' (did you mean ifeval?)" in msg
    assert "ifbench, trace, followkit-bench, kcif" in msg and "\n" not in msg


def test_plugin_entry_must_be_a_benchmark(monkeypatch):
    import importlib

    import followkit.evaluate.registry as reg

    monkeypatch.setenv("FOLLOWKIT_BENCHMARKS", "mine=followkit.evaluate.ifeval:hub_reachable")
    reg = importlib.reload(reg)
    try:
        with pytest.raises(InputError, match="not a Benchmark subclass"):
            reg.get_benchmark("mine")
    finally:
        monkeypatch.delenv("FOLLOWKIT_BENCHMARKS")
        importlib.reload(reg)


# --- IFEval / IFBench loaders ------------------------------------------------------------------


def test_ifeval_local_fixture(tmp_path):
    items = IFEvalBenchmark().load(write_jsonl(tmp_path / "in.jsonl", IFEVAL_ROWS))
    assert [it.id for it in items] == ["1", "2"]
    assert items[1].messages == [{"role": "user", "content": "Write in lowercase, at least 5 words."}]
    assert items[1].constraints == [
        {"id": "change_case:english_lowercase", "kwargs": {}},
        {"id": "length_constraints:number_words", "kwargs": {"relation": "at least", "num_words": 5}},
    ]
    # IFBench reads the same row shape
    assert [it.constraints for it in IFBenchBenchmark().load(str(tmp_path / "in.jsonl"))] == [
        it.constraints for it in items
    ]


@pytest.mark.parametrize(
    "row, where",
    [
        ({"key": 3, "instruction_id_list": [], "kwargs": []}, ":2: field 'prompt': missing"),
        (
            {"key": 3, "prompt": "p", "instruction_id_list": ["punctuation:no_comma"], "kwargs": []},
            "field 'kwargs'",
        ),
        (
            {"key": 3, "prompt": "p", "instruction_id_list": ["punctuation:no_coma"], "kwargs": [{}]},
            "field 'instruction_id_list': unknown instruction id 'punctuation:no_coma'",
        ),
        (
            {
                "key": 3,
                "prompt": "p",
                "instruction_id_list": ["length_constraints:number_words"],
                "kwargs": [{"num_words": "many"}],
            },
            ":2: field 'instruction_id_list'",
        ),
        ({"key": 1, "prompt": "p", "instruction_id_list": [], "kwargs": []}, "field 'key': duplicate key 1"),
    ],
)
def test_ifeval_bad_rows_name_file_line_field(tmp_path, row, where):
    path = write_jsonl(tmp_path / "bad.jsonl", [IFEVAL_ROWS[0], row])
    with pytest.raises(InputError) as exc:
        IFEvalBenchmark().load(path)
    assert str(exc.value).startswith(f"{path}:2: ") and where in str(exc.value)


def test_ifeval_without_path_offline_asks_for_a_file(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InputError, match=r"not reachable.*--benchmark ifeval:PATH"):
        IFEvalBenchmark().load(None)
    with pytest.raises(InputError, match="ifbench:PATH"):
        IFBenchBenchmark().load(None)
    with pytest.raises(InputError, match="trace:PATH"):
        TraceBenchmark().load(None)


def test_ifbench_file_with_integral_float_kwargs_loads_and_scores(tmp_path):
    # IFBench_test.jsonl stores whole numbers as floats; 13.5 is still an error.
    row = {"key": 1, "prompt": "Write.", "instruction_id_list": ["count:numbers", "count:word_count_range"],
           "kwargs": [{"N": 2.0}, {"min_words": 1.0, "max_words": 5.0}]}  # fmt: skip
    items = IFBenchBenchmark().load(write_jsonl(tmp_path / "ifb.jsonl", [row]))
    (sample,) = IFBenchBenchmark().score(items, ["1 and 2"])
    assert sample["verdicts"]["strict"] == [True, True]
    row["kwargs"][0]["N"] = 13.5
    with pytest.raises(InputError, match="expected a whole number, got 13.5"):
        IFBenchBenchmark().load(write_jsonl(tmp_path / "bad.jsonl", [row]))


def test_ifeval_shared_data(shared):
    items = IFEvalBenchmark().load(str(shared / "ifeval" / "input_data.jsonl"))
    assert len(items) == 541
    assert sum(len(it.constraints) for it in items) == 834
    first = items[0]
    assert first.id == "1000" and first.constraints[1] == {
        "id": "detectable_format:number_highlighted_sections",
        "kwargs": {"num_highlights": 3},
    }


# --- TRACE loader ------------------------------------------------------------------------------

TRACE_ROWS = [
    {
        "id": "a",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "写诗\n1. 五言；\n2. 不超过20字\n"},
        ],
        "description": "写诗",
        "constraints": "1. 五言；\n2. 不超过20字",
        "input": "NULL",
        "constraints_splits": ["1. 五言；", "2. 不超过20字"],
        "levels2": ["语言特征约束", "数值约束"],
    },
    {  # no messages: the user turn is rebuilt as TRACE lays it out
        "id": 7,
        "description": "翻译",
        "constraints": "1. 用英文",
        "input": "你好",
        "constraints_splits": ["1. 用英文"],
        "levels2": ["输入格式约束"],  # a label outside the 26 dimensions (present in the eval set)
    },
]


def test_trace_fixture(tmp_path):
    items = TraceBenchmark().load(write_jsonl(tmp_path / "t.jsonl", TRACE_ROWS))
    a, b = items
    assert a.messages[0] == {"role": "system", "content": "You are a helpful assistant."}
    assert [c["dimension"] for c in a.constraints] == ["linguistic_characteristics", "numerical"]
    assert [c["type"] for c in a.constraints] == ["style", "content"]
    assert a.constraints[1]["text"] == "2. 不超过20字" and a.meta["n_constraints"] == 2
    assert b.id == "7" and b.messages == [{"role": "user", "content": "翻译\n1. 用英文\n# Inputs:\n你好\n"}]
    assert b.constraints[0]["type"] == "other" and b.constraints[0]["id"] == "trace:other"


@pytest.mark.parametrize(
    "patch, msg",
    [
        ({"levels2": ["数值约束"]}, "field 'levels2': expected 2 labels"),
        ({"constraints_splits": []}, "field 'constraints_splits'"),
        (
            {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]},
            "field 'messages'",
        ),
    ],
)
def test_trace_bad_rows(tmp_path, patch, msg):
    path = write_jsonl(tmp_path / "t.jsonl", [{**TRACE_ROWS[0], **patch}])
    with pytest.raises(InputError, match=msg) as exc:
        TraceBenchmark().load(path)
    assert str(exc.value).startswith(f"{path}:1: ")


def test_trace_shared_data(shared):
    items = TraceBenchmark().load(str(shared / "trace" / "trace_eval.jsonl"))
    assert len(items) == 1042
    assert sum(it.meta["n_constraints"] == 1 for it in items) == 200
    assert sum(c["type"] == "other" for it in items for c in it.constraints) == 2  # '输入格式约束' and '·'
    rows = [json.loads(line) for line in (shared / "trace" / "trace_eval.jsonl").open(encoding="utf-8")]
    assert all(it.messages == r["messages"] for it, r in zip(items, rows, strict=True))


# --- followkit-bench ---------------------------------------------------------------------------


def test_followkit_bench_builtin_and_path(tmp_path):
    items = FollowkitBench().load(None)
    assert 250 <= len(items) <= 350
    assert all(1 <= len(it.constraints) <= 8 for it in items)
    assert {it.meta["language"] for it in items} == {"en", "zh"}
    assert items == FollowkitBench().load(None)  # deterministic
    inst = {
        "id": "x1",
        "task": "Describe rain.",
        "constraints": [{"id": "punctuation:no_comma", "kwargs": {}, "text": "Do not use commas."}],
        "prompt": "Describe rain.\n1. Do not use commas.\n",
    }
    got = FollowkitBench().load(write_jsonl(tmp_path / "i.jsonl", [inst]))
    assert got[0].constraints == [{"id": "punctuation:no_comma", "kwargs": {}, "text": "Do not use commas."}]
    with pytest.raises(InputError, match=r"i2.jsonl:1: field 'prompt'"):
        FollowkitBench().load(
            write_jsonl(tmp_path / "i2.jsonl", [{k: v for k, v in inst.items() if k != "prompt"}])
        )


# --- rule-verified scoring and metrics ---------------------------------------------------------


def test_rule_scoring_strict_and_loose(tmp_path):
    bench = IFEvalBenchmark()
    items = bench.load(write_jsonl(tmp_path / "in.jsonl", IFEVAL_ROWS))
    recs = bench.score(items, ["Sure, here it is:\nhi there friend", "hello there my dear old friend"])
    # item 1: the comma sits in the first line, so strict fails and loose (first line dropped) passes
    assert recs[0]["verdicts"] == {"strict": [False], "loose": [True]}
    assert recs[0]["followed"] == {"strict": False, "loose": True}
    assert recs[1]["verdicts"] == {"strict": [True, True], "loose": [True, True]}
    assert recs[1]["prompt"] == "Write in lowercase, at least 5 words."
    empty = bench.score(items[1:], ["   "])[0]
    assert empty["verdicts"]["strict"] == [False, False]  # an empty response fails everything


def _sample(cids: list[str], strict: list[bool], loose: list[bool]) -> dict:
    return {
        "constraints": [{"id": c, "kwargs": {}} for c in cids],
        "verdicts": {"strict": strict, "loose": loose},
        "followed": {"strict": all(strict), "loose": all(loose)},
    }


def test_rule_metrics_hand_numbers():
    samples = [
        _sample(["punctuation:no_comma", "change_case:english_lowercase"], [True, False], [True, True]),
        _sample(["punctuation:no_comma"], [False], [False]),
        _sample(
            ["punctuation:no_comma", "change_case:english_lowercase", "detectable_format:title"],
            [True, True, True],
            [True, True, True],
        ),
    ]
    m = RuleBenchmark.metrics(FollowkitBench(), samples)
    # prompt strict [0, 0, 1]: mean 1/3, sample var 1/3, se sqrt(1/9) = 1/3
    assert m["prompt_level_strict_acc"].n == 3 and math.isclose(m["prompt_level_strict_acc"].value, 1 / 3)
    assert math.isclose(m["prompt_level_strict_acc"].stderr, 1 / 3)
    # prompt loose [1, 0, 1]: 2/3, se 1/3
    assert math.isclose(m["prompt_level_loose_acc"].value, 2 / 3) and math.isclose(
        m["prompt_level_loose_acc"].stderr, 1 / 3
    )
    # instruction strict [1,0,0,1,1,1]: 4/6, var (2*(4/9) + 4*(1/9))/5 = 12/45, se sqrt(12/45/6)
    inst = m["inst_level_strict_acc"]
    assert (
        inst.n == 6 and math.isclose(inst.value, 4 / 6) and math.isclose(inst.stderr, math.sqrt(12 / 45 / 6))
    )
    assert math.isclose(m["inst_level_loose_acc"].value, 5 / 6)

    bd = FollowkitBench().breakdowns(samples)
    by_id = bd["instruction-level accuracy by constraint id"]
    assert (
        by_id["punctuation:no_comma"]["strict"].value == 2 / 3
        and by_id["punctuation:no_comma"]["strict"].n == 3
    )
    assert by_id["change_case:english_lowercase"]["strict"].value == 0.5
    assert by_id["change_case:english_lowercase"]["loose"].value == 1.0
    by_k = bd["prompt-level accuracy by number of constraints"]
    assert (
        list(by_k) == ["1", "2", "3"] and by_k["2"]["loose"].value == 1.0 and by_k["2"]["strict"].value == 0.0
    )
    types = bd["instruction-level accuracy by TRACE type"]
    assert sum(m.n for m in (v["strict"] for v in types.values())) == 6
    assert set(types) <= {"content", "situation", "style", "format", "example"}


def test_ifeval_from_the_hub_when_reachable(monkeypatch):
    # The hub cannot be reached from the test machines: the dataset call is replaced by rows in
    # the HF copy's shape (every kwarg name present, unused ones null), which is what it returns.
    import datasets

    import followkit.evaluate.ifeval as mod

    calls = []

    def fake_load_dataset(name, split):
        calls.append((name, split))
        return [
            {
                "key": 1000,
                "prompt": "No commas.",
                "instruction_id_list": ["punctuation:no_comma"],
                "kwargs": [{"num_words": None, "relation": None}],
            }
        ]

    monkeypatch.setattr(mod, "hub_reachable", lambda endpoint=None: True)
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    items = IFEvalBenchmark().load(None)
    assert calls == [("google/IFEval", "train")]
    assert items[0].id == "1000" and items[0].constraints == [{"id": "punctuation:no_comma", "kwargs": {}}]
    monkeypatch.undo()
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "true")
    assert mod.hub_reachable() is False
