"""IFBench's multi-turn form: the given earlier turns in context, the last user turn answered, IFBench's checkers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from followkit.backends.scripted import ScriptedBackend
from followkit.core.errors import InputError
from followkit.core.io import write_jsonl
from followkit.evaluate.ifbench import IFBenchMultiTurnBenchmark
from followkit.evaluate.runner import EvalConfig, run_eval
from tests.helpers.scripted_eval import answering, run_bench

# The published rows name every kwarg of every id, null where unused, and write whole numbers as floats.
KWARG_NAMES = ("N", "small_n", "percentage", "word", "sep", "n", "m", "keyword", "min_words", "max_words")


def kwargs(**given: object) -> dict[str, object]:
    return {name: given.get(name) for name in KWARG_NAMES}


def u(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def a(text: str) -> dict[str, str]:
    return {"role": "assistant", "content": text}


NUMBERS = "Now give it again with exactly two numbers, in three to six words."
NO_SPACE = "Say it once more, with no whitespace at all."
KEYWORD = "Redo it so that its first sentence names a river."
ROWS = [
    {
        "key": 11,
        "prompt": "Tell me about rivers. " + NUMBERS,
        "instruction_id_list": ["count:numbers", "count:word_count_range"],
        "kwargs": [kwargs(N=2.0), kwargs(min_words=3.0, max_words=6.0)],
        "messages": [u("Tell me about rivers."), a("Rivers carry water to the sea."), u(NUMBERS)],
    },
    {
        "key": 12,
        "prompt": "Name a colour. " + NO_SPACE,
        "instruction_id_list": ["format:no_whitespace"],
        "kwargs": [kwargs()],
        "messages": [
            {"role": "system", "content": "You are terse."},
            u("Name a colour."),
            a("Blue."),
            u(NO_SPACE),
        ],
    },
    {
        "key": 13,
        "prompt": "Describe a coast. " + KEYWORD,
        "instruction_id_list": ["sentence:keyword"],
        "kwargs": [kwargs(N=1.0, word="river")],
        "messages": [u("Describe a coast."), a("Cliffs meet the waves."), u(KEYWORD)],
    },
]
# The scripted model's answer to each last user turn, with its verdicts worked by hand ([strict] / [loose]).
ANSWERS = {
    NUMBERS: "Rivers 2 and 5 flow",  # two numbers, five words: [T T] / [T T]
    NO_SPACE: "Sure:\nBlue",  # a newline: [F]; loose drops the first line, leaving "Blue": [T]
    KEYWORD: "The sea is wide. A river runs.",  # the first sentence has no "river": [F] / [F]
}


@pytest.fixture
def data(tmp_path) -> Path:
    write_jsonl(tmp_path / "ifbench_mt.jsonl", ROWS)
    return tmp_path / "ifbench_mt.jsonl"


def model(seen: list[list[dict[str, str]]] | None = None) -> ScriptedBackend:
    return answering(ANSWERS, seen)


def run(data: Path, out: Path, backend, **kw):
    return run_bench(f"ifbench-multiturn:{data}", out, backend, **kw)


def test_reads_the_published_rows(data):
    items = IFBenchMultiTurnBenchmark().load(str(data))
    assert [it.id for it in items] == ["11", "12", "13"]
    assert items[0].messages == ROWS[0]["messages"]
    assert items[1].messages[0] == {"role": "system", "content": "You are terse."}
    # nulls dropped, whole floats read as the integers they are
    assert items[0].constraints == [
        {"id": "count:numbers", "kwargs": {"N": 2.0}},
        {"id": "count:word_count_range", "kwargs": {"min_words": 3.0, "max_words": 6.0}},
    ]
    assert items[1].constraints == [{"id": "format:no_whitespace", "kwargs": {}}]


def test_the_parquet_copy_reads_as_the_jsonl_does(data, tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "test-00000-of-00001.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), path)
    bench = IFBenchMultiTurnBenchmark()
    assert [it.to_dict() for it in bench.load(str(path))] == [it.to_dict() for it in bench.load(str(data))]
    (tmp_path / "not.parquet").write_text("key,prompt\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        bench.load(str(tmp_path / "not.parquet"))


def test_only_the_last_turn_is_asked_with_the_given_answer_in_context(data, tmp_path):
    seen: list[list[dict[str, str]]] = []
    run(data, tmp_path / "out", model(seen))
    assert len(seen) == 3  # one request per row: the given first answer is not asked for again
    assert seen[0] == ROWS[0]["messages"] and seen[1] == ROWS[1]["messages"]
    seen.clear()
    run(data, tmp_path / "sys", model(seen), system_prompt="Be exact.")
    assert seen[1][:2] == [{"role": "system", "content": "Be exact."}, u("Name a colour.")]
    assert seen[0][0] == {"role": "system", "content": "Be exact."} and seen[0][1:] == ROWS[0]["messages"]


def test_final_answers_scored_by_ifbench_checkers_equal_hand_worked_numbers(data, tmp_path):
    res = run(data, tmp_path / "out", model())
    m = res["results"]["ifbench-multiturn"]
    assert m["prompt_level_strict_acc"] == pytest.approx(1 / 3)
    assert m["inst_level_strict_acc"] == pytest.approx(2 / 4)
    assert m["prompt_level_loose_acc"] == pytest.approx(2 / 3)
    assert m["inst_level_loose_acc"] == pytest.approx(3 / 4)
    samples = [json.loads(x) for x in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    assert [s["verdicts"] for s in samples] == [
        {"strict": [True, True], "loose": [True, True]},
        {"strict": [False], "loose": [True]},
        {"strict": [False], "loose": [False]},
    ]
    assert samples[1]["prompt"] == NO_SPACE and samples[1]["messages"] == ROWS[1]["messages"]
    assert samples[1]["response"] == ANSWERS[NO_SPACE]
    by_id = res["breakdowns"]["ifbench-multiturn"]["instruction-level accuracy by constraint id"]
    assert by_id["format:no_whitespace"]["loose"]["value"] == 1.0


def _bad(tmp_path: Path, **changes: object) -> str:
    rows = [dict(r) for r in ROWS]
    rows[1].update(changes)
    write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(InputError) as exc:
        IFBenchMultiTurnBenchmark().load(str(tmp_path / "bad.jsonl"))
    return str(exc.value)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"messages": "hi"}, "messages", "expected list, got str"),
        ({"messages": [u("Name a colour.")]}, "messages", "got 1 turn(s)"),
        ({"messages": [u("x"), a("y")]}, "messages", "ending with 'assistant'"),
        ({"messages": [u("x"), u("y"), u("z")]}, "messages[1].role", "expected 'assistant'"),
        ({"messages": [u("x"), a("y"), {"role": "system", "content": "z"}]}, "messages[2].role", "'system'"),
        ({"messages": [u("x"), {"content": "y"}, u("z")]}, "messages[1].role", "missing"),
        ({"messages": [u("x"), a(" "), u("z")]}, "messages[1].content", "non-empty text"),
        ({"messages": [u("x"), "y", u("z")]}, "messages[1]", "expected an object"),
        ({"kwargs": [kwargs(N=2.5)]}, "instruction_id_list", "N"),
        ({"instruction_id_list": ["format:no_whitespaces"]}, "instruction_id_list", "no_whitespace"),
        ({"kwargs": []}, "kwargs", "1 instruction ids but 0 kwargs"),
        ({"key": 11}, "key", "duplicate key 11"),
    ],
)
def test_a_bad_row_is_one_error_naming_file_line_and_field(tmp_path, changes, field, words):
    msg = _bad(tmp_path, **changes)
    assert msg.startswith(f"{tmp_path / 'bad.jsonl'}:2: field '{field}'"), msg
    assert words in msg and "\n" not in msg


def test_without_a_path_it_says_how_to_pass_one(tmp_path):
    with pytest.raises(InputError, match="ifbench-multiturn:PATH"):
        run_eval(EvalConfig(benchmark="ifbench-multiturn", out=str(tmp_path / "o")), backend=model())
