"""Multi-IF: the published CSV read as conversations, asked turn by turn, scored per turn and language."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from followkit.backends.cache import CachedBackend, RequestCache
from followkit.backends.scripted import ScriptedBackend
from followkit.core.errors import InputError
from followkit.core.records import Conversation
from followkit.evaluate.multi_if import multi_if_items
from followkit.evaluate.runner import EvalConfig, run_eval
from tests.helpers.scripted_eval import answering, run_bench

HEADER = [
    "turns",
    "responses",
    *(f"turn_{k}_{c}" for k in (1, 2, 3) for c in ("prompt", "instruction_id_list", "kwargs")),
    "key",
    "turn_index",
    "language",
]
NO_COMMA = ("punctuation:no_comma", {})
BYE = ("startend:end_checker", {"end_phrase": "bye."})
QUOTED = ("startend:quotation", {})
TITLE = ("detectable_format:title", {})
WORDS3 = ("length_constraints:number_words", {"relation": "at least", "num_words": 3})

# key, language, turns [(prompt, accumulated constraints)]; B's third turn is empty, as 13 published rows are
CONVERSATIONS = [
    (
        "1:1:en",
        "English",
        [
            ("Answer without commas.", [NO_COMMA]),
            ("Now also end with the phrase 'bye.'", [NO_COMMA, BYE]),
            ("Now also wrap it in double quotes.", [NO_COMMA, BYE, QUOTED]),
        ],
    ),
    (
        "2:1:en",
        "English",
        [
            ("Use at least 3 words.", [WORDS3]),
            ("Also no commas, and quote it.", [WORDS3, NO_COMMA, QUOTED]),
        ],
    ),
    (
        "3:1:fr",
        "French",
        [
            ("Pas de virgules.", [NO_COMMA]),
            ("Entoure la réponse de guillemets.", [NO_COMMA, QUOTED]),
            ("Ajoute un titre.", [NO_COMMA, QUOTED, TITLE]),
        ],
    ),
]
# The scripted model's answer to each user prompt, with its verdicts worked by hand ([strict] / [loose]).
ANSWERS = {
    "Answer without commas.": "Sure, here:\nno commas here",  # [F] / [T]: loose drops the first line
    "Now also end with the phrase 'bye.'": "no commas and bye.",  # [T T] / [T T]
    # [F T T] / [F T T]: IFEval's end_checker strips the quotes before it looks at the end
    "Now also wrap it in double quotes.": '"no commas, bye."',
    "Use at least 3 words.": "one two three",  # [T] / [T]
    "Also no commas, and quote it.": "one, two",  # [F F F] / [F F F]
    "Pas de virgules.": "bonjour tout le monde",  # [T] / [T]
    "Entoure la réponse de guillemets.": '**"bonjour"**',  # [T F] / [T T]: loose drops the asterisks
    "Ajoute un titre.": '"<<Titre>> bonjour"',  # [T T T] / [T T T]
}


def _cells(turn: tuple[str, list[tuple[str, dict]]] | None) -> list[str]:
    if turn is None:
        return ["", "", ""]
    prompt, cons = turn
    return [
        json.dumps({"role": "user", "content": prompt}, ensure_ascii=False),
        json.dumps([c for c, _ in cons]),
        json.dumps([json.dumps(kw) for _, kw in cons]),  # JSON strings inside a JSON list, as published
    ]


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=HEADER)
        w.writeheader()
        w.writerows(rows)
    return path


def published_rows() -> list[dict[str, str]]:
    rows = []
    for key, lang, turns in CONVERSATIONS:
        cells = [c for k in range(3) for c in _cells(turns[k] if k < len(turns) else None)]
        rows.append(dict(zip(HEADER, ["", "", *cells, key, "0", lang], strict=True)))
    return rows


@pytest.fixture
def data(tmp_path) -> Path:
    return write_csv(tmp_path / "multi_if.csv", published_rows())


def model(seen: list[list[dict[str, str]]] | None = None) -> ScriptedBackend:
    return answering(ANSWERS, seen)


def run(data: Path, out: Path, backend, **kw):
    return run_bench(f"multi-if:{data}", out, backend, **kw)


def test_reads_the_published_form_as_conversations(data):
    items = multi_if_items(str(data))
    assert [it.id for it in items] == ["1:1:en", "2:1:en", "3:1:fr"]
    assert [len(it.turns) for it in items] == [3, 2, 3]  # an empty third turn ends the conversation
    assert items[0].turns[1]["constraints"] == [
        {"id": "punctuation:no_comma", "kwargs": {}},
        {"id": "startend:end_checker", "kwargs": {"end_phrase": "bye."}},
    ]
    assert items[2].meta == {"language": "French"}
    assert items[0].messages == [{"role": "user", "content": "Answer without commas."}]
    conv = Conversation.model_validate({"id": items[1].id, "language": "English", "turns": items[1].turns})
    assert conv.turns[1].constraints[0].kwargs == {"relation": "at least", "num_words": 3}


def test_each_turn_is_asked_with_the_models_own_earlier_answers(data, tmp_path):
    seen: list[list[dict[str, str]]] = []
    run(data, tmp_path / "out", model(seen))
    # turn 1 of all three, then turn 2 of all three, then turn 3 of the two that have one
    assert [c[-1]["content"] for c in seen] == [
        "Answer without commas.",
        "Use at least 3 words.",
        "Pas de virgules.",
        "Now also end with the phrase 'bye.'",
        "Also no commas, and quote it.",
        "Entoure la réponse de guillemets.",
        "Now also wrap it in double quotes.",
        "Ajoute un titre.",
    ]
    u = lambda t: {"role": "user", "content": t}  # noqa: E731
    a = lambda t: {"role": "assistant", "content": t}  # noqa: E731
    assert seen[6] == [
        u("Answer without commas."),
        a("Sure, here:\nno commas here"),
        u("Now also end with the phrase 'bye.'"),
        a("no commas and bye."),
        u("Now also wrap it in double quotes."),
    ]
    assert seen[4] == [u("Use at least 3 words."), a("one two three"), u("Also no commas, and quote it.")]


def test_metrics_per_turn_and_language_equal_hand_worked_numbers(data, tmp_path):
    res = run(data, tmp_path / "out", model())
    m = res["results"]["multi-if"]
    # turn 1: strict [F] [T] [T], loose all T
    assert m["turn_1_prompt_level_strict_acc"] == pytest.approx(2 / 3)
    assert m["turn_1_inst_level_strict_acc"] == pytest.approx(2 / 3)
    assert m["turn_1_prompt_level_loose_acc"] == 1.0 and m["turn_1_inst_level_loose_acc"] == 1.0
    assert m["turn_1_overall"] == pytest.approx((2 / 3 + 2 / 3 + 1 + 1) / 4)  # 0.8333
    # turn 2: strict A [T T], B [F F F], C [T F]; loose C [T T]. Instruction level pools the
    # constraints (3/7), as the authors' parse_result does; a mean of per-turn shares would give 0.5.
    assert m["turn_2_prompt_level_strict_acc"] == pytest.approx(1 / 3)
    assert m["turn_2_inst_level_strict_acc"] == pytest.approx(3 / 7)
    assert m["turn_2_prompt_level_loose_acc"] == pytest.approx(2 / 3)
    assert m["turn_2_inst_level_loose_acc"] == pytest.approx(4 / 7)
    assert m["turn_2_overall"] == pytest.approx(0.5)  # (1/3 + 3/7 + 2/3 + 4/7) / 4
    # turn 3: only A [F T T] and C [T T T] (B has two turns), strict = loose
    assert m["turn_3_prompt_level_strict_acc"] == 0.5 and m["turn_3_prompt_level_loose_acc"] == 0.5
    assert m["turn_3_inst_level_strict_acc"] == pytest.approx(5 / 6)
    assert m["turn_3_overall"] == pytest.approx(2 / 3)  # (1/2 + 5/6 + 1/2 + 5/6) / 4
    assert m["turn_3_overall_n"] == 2 and m["turn_2_overall_n"] == 3
    assert m["turn_1_overall_stderr"] is None  # OVERALL_HAS_NO_STDERR

    table = res["breakdowns"]["multi-if"]["accuracy by turn and language"]
    assert list(table) == [
        "turn 1 · all",
        "turn 1 · English",
        "turn 1 · French",
        "turn 2 · all",
        "turn 2 · English",
        "turn 2 · French",
        "turn 3 · all",
        "turn 3 · English",
        "turn 3 · French",
    ]
    val = {row: {c: cell["value"] for c, cell in cols.items()} for row, cols in table.items()}
    assert val["turn 1 · English"]["overall"] == pytest.approx(0.75)  # (1/2 + 1/2 + 1 + 1) / 4
    assert val["turn 2 · English"] == pytest.approx(
        {
            "prompt_level_strict_acc": 0.5,
            "inst_level_strict_acc": 0.4,  # 2 of A's 2 + B's 3
            "prompt_level_loose_acc": 0.5,
            "inst_level_loose_acc": 0.4,
            "overall": 0.45,
        }
    )
    assert val["turn 3 · English"]["overall"] == pytest.approx(1 / 3)  # (0 + 2/3 + 0 + 2/3) / 4
    assert val["turn 1 · French"]["overall"] == 1.0
    assert val["turn 2 · French"] == pytest.approx(
        {
            "prompt_level_strict_acc": 0.0,
            "inst_level_strict_acc": 0.5,
            "prompt_level_loose_acc": 1.0,
            "inst_level_loose_acc": 1.0,
            "overall": 0.625,
        }
    )
    assert val["turn 3 · French"]["overall"] == 1.0
    assert val["turn 2 · all"]["overall"] == pytest.approx(m["turn_2_overall"])

    samples = [json.loads(x) for x in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    a = samples[0]
    assert a["id"] == "1:1:en" and a["language"] == "English" and len(a["turns"]) == 3
    assert [t["response"] for t in a["turns"]] == [
        ANSWERS["Answer without commas."],
        ANSWERS["Now also end with the phrase 'bye.'"],
        ANSWERS["Now also wrap it in double quotes."],
    ]
    assert a["turns"][2]["verdicts"] == {"strict": [False, True, True], "loose": [False, True, True]}
    assert a["response"] == a["turns"][2]["response"] and len(a["messages"]) == 5
    assert "turn 2 · French" in (tmp_path / "out" / "report.md").read_text()


def test_a_rerun_does_not_ask_finished_conversations_again(data, tmp_path):
    out = tmp_path / "out"
    cache = RequestCache(tmp_path / "cache.sqlite")

    def flaky(chat, i):
        if chat[-1]["content"] == "Also no commas, and quote it.":
            raise ConnectionError("connection reset")
        return ANSWERS[chat[-1]["content"]]

    first = run(data, out, CachedBackend(ScriptedBackend(flaky), cache))
    assert first["n_failed"] == 1 and first["n_samples"]["multi-if"]["scored"] == 2
    fails = [json.loads(x) for x in (out / "failures.jsonl").read_text().splitlines()]
    assert fails == [{"id": "2:1:en", "turn": 2, "error": "ConnectionError: connection reset"}]

    seen: list[list[dict[str, str]]] = []
    again = run(data, out, CachedBackend(model(seen), cache))
    # only conversation B is asked again, and only its failed turn reaches the model
    assert [c[-1]["content"] for c in seen] == ["Also no commas, and quote it."]
    assert again["resumed"] == 2 and again["cache"] == {"cached": 1, "new": 1, "failed": 0}
    assert not (out / "failures.jsonl").exists()
    fresh = run(data, tmp_path / "fresh", model())
    assert again["results"] == fresh["results"]
    assert (out / "samples.jsonl").read_bytes() == (tmp_path / "fresh" / "samples.jsonl").read_bytes()


def test_the_published_file_end_to_end(shared, tmp_path):
    path = shared / "multi_if" / "multiIF_20241018_english.csv"
    items = multi_if_items(str(path))
    assert len(items) == 909 and sum(len(it.turns) == 2 for it in items) == 13
    seen: list[list[dict[str, str]]] = []

    def echo(chat, i):
        seen.append(chat)
        return f"answer {len(chat) // 2 + 1}"

    res = run(path, tmp_path / "out", ScriptedBackend(echo), limit=5)
    m = res["results"]["multi-if"]
    assert res["n_samples"]["multi-if"] == {"original": 909, "effective": 5, "scored": 5}
    assert len(seen) == 15 and [len(c) for c in seen] == [1] * 5 + [3] * 5 + [5] * 5
    assert seen[5][1] == {"role": "assistant", "content": "answer 1"}
    for k in (1, 2, 3):
        for c in ("prompt_level_strict_acc", "inst_level_strict_acc", "prompt_level_loose_acc"):
            assert 0.0 <= m[f"turn_{k}_{c}"] <= 1.0
        assert m[f"turn_{k}_overall_n"] == 5


def _bad(tmp_path: Path, **changes: str) -> str:
    rows = published_rows()
    rows[1].update(changes)
    with pytest.raises(InputError) as exc:
        multi_if_items(str(write_csv(tmp_path / "bad.csv", rows)))
    return str(exc.value)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"turn_1_kwargs": '["{\\"relation\\": "]'}, "turn_1_kwargs", "entry 1 is not JSON"),
        ({"turn_1_kwargs": "not json"}, "turn_1_kwargs", "not JSON"),
        ({"turn_2_kwargs": '["{}"]'}, "turn_2_kwargs", "3 instruction ids but 1 kwargs"),
        (
            {"turn_1_instruction_id_list": '["punctuation:no_commas"]'},
            "turn_1_instruction_id_list",
            "no_comma",
        ),
        ({"turn_1_prompt": "Use at least 3 words."}, "turn_1_prompt", "not JSON"),
        ({"turn_1_prompt": '{"role": "assistant", "content": "x"}'}, "turn_1_prompt", "role 'assistant'"),
        ({"turn_3_prompt": '{"role": "user", "content": "x"}', "turn_2_prompt": ""}, "turn_2_", "empty"),
        ({"language": ""}, "language", "missing or empty"),
        ({"key": "1:1:en"}, "key", "duplicate key 1:1:en"),
        (
            {"turn_1_kwargs": '["{\\"relation\\": \\"at least\\"}"]'},
            "turn_1_kwargs",
            "num_words",
        ),
    ],
)
def test_a_bad_row_is_one_error_naming_file_row_key_and_field(tmp_path, changes, field, words):
    msg = _bad(tmp_path, **changes)
    assert str(tmp_path / "bad.csv") in msg and "\n" not in msg
    key = changes.get("key", "2:1:en")
    assert f"row 2 (key {key})" in msg
    assert f"field '{field}" in msg and words in msg


def test_a_row_without_a_key_is_named_by_position(tmp_path):
    msg = _bad(tmp_path, key="")
    assert "row 2:" in msg and "field 'key'" in msg


def test_a_file_that_is_not_multi_if(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("prompt,key\nhi,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing column"):
        multi_if_items(str(p))
    with pytest.raises(InputError, match="multi-if:PATH"):
        run_eval(EvalConfig(benchmark="multi-if", out=str(tmp_path / "o")), backend=model(), progress=False)


def test_overall_is_nan_free_when_a_language_has_no_third_turn(tmp_path):
    rows = published_rows()[1:2]  # B alone: two turns
    res = run(write_csv(tmp_path / "b.csv", rows), tmp_path / "out", model())
    m = res["results"]["multi-if"]
    assert "turn_3_overall" not in m and not math.isnan(m["turn_2_overall"])


def test_a_killed_run_resumes_without_asking_finished_conversations(data, tmp_path):
    out = tmp_path / "out"

    class Killed(BaseException):  # not an Exception: the backend cannot turn it into a failed item
        pass

    def dies_on_c(chat, i):
        if chat[-1]["content"] == "Pas de virgules.":
            raise Killed
        return ANSWERS[chat[-1]["content"]]

    with pytest.raises(Killed):
        run(data, out, ScriptedBackend(dies_on_c), batch_size=1)
    assert [json.loads(x)["id"] for x in (out / "samples.jsonl").read_text().splitlines()] == [
        "1:1:en",
        "2:1:en",
    ]
    seen: list[list[dict[str, str]]] = []
    resumed = run(data, out, model(seen), batch_size=1)
    assert resumed["resumed"] == 2 and [len(c) for c in seen] == [1, 3, 5]  # C's three turns only
    fresh = run(data, tmp_path / "fresh", model(), batch_size=1)
    assert (out / "samples.jsonl").read_bytes() == (tmp_path / "fresh" / "samples.jsonl").read_bytes()
    assert resumed["results"] == fresh["results"]


def test_earlier_answers_go_back_without_their_reasoning_trace(data, tmp_path):
    seen: list[list[dict[str, str]]] = []

    def thinker(chat, i):
        seen.append([dict(m) for m in chat])
        return f"<think>plan {len(chat)}</think>{ANSWERS[chat[-1]['content']]}"

    res = run(data, tmp_path / "out", ScriptedBackend(thinker))
    plain = run(data, tmp_path / "plain", model())
    assert res["results"] == plain["results"]  # the traces are not scored
    assert seen[3][1] == {"role": "assistant", "content": "Sure, here:\nno commas here"}
    assert res["reasoning"]["with_trace_share"] == 1.0  # 8 answers, all with a trace
    sample = json.loads((tmp_path / "out" / "samples.jsonl").read_text().splitlines()[0])
    assert [t["reasoning"] for t in sample["turns"]] == ["plan 1", "plan 3", "plan 5"]
    assert all(t["reasoning_status"] == "closed" for t in sample["turns"])

    kept: list[list[dict[str, str]]] = []

    def thinker_kept(chat, i):
        kept.append([dict(m) for m in chat])
        return thinker(chat, i)

    run(data, tmp_path / "keep", ScriptedBackend(thinker_kept), reasoning="keep")
    assert kept[3][1]["content"] == "<think>plan 1</think>Sure, here:\nno commas here"
