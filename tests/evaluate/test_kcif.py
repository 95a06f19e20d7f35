"""KCIFBenchmark: deterministic assignment, scoring through the Benchmark interface, item sources."""

from __future__ import annotations

import json

import pytest

from followkit.core.errors import InputError
from followkit.evaluate.kcif import KCIFBenchmark
from followkit.kcif.instructions import INSTRUCTIONS
from followkit.kcif.items import builtin_items, load_source, resolve_items


def test_load_is_deterministic_and_covers_every_type():
    a, b = KCIFBenchmark().load(), KCIFBenchmark().load()
    assert [i.id for i in a] == [i.id for i in b]
    assert [i.messages for i in a] == [i.messages for i in b]
    other = KCIFBenchmark(seed=1).load()
    assert [i.id for i in other] != [i.id for i in a]
    n = len(builtin_items())
    assert sum(i.meta["instruction"] is None for i in a) == n  # each item also asked plainly
    assert len(a) == 3 * n
    assert {i.meta["instruction"] for i in a} - {None} == set(INSTRUCTIONS)
    assert len({i.id for i in a}) == len(a)


def test_skips_are_counted_not_scored():
    bench = KCIFBenchmark()
    items = bench.load()
    # A numeric instruction on a text answer is a counted skip, never an assigned item.
    assert bench.skipped["numeric:in_words"] > 0
    for ev in items:
        iid = ev.meta["instruction"]
        if iid is not None and iid.startswith("numeric:"):
            assert ev.meta["kcif_item"]["task"] == "arithmetic" or ev.meta["kcif_item"]["answer"][0].isdigit()


def _score(bench, items, respond):
    responses = [respond(ev) for ev in items]
    samples = bench.score(items, responses)
    return samples, bench.metrics(samples)


def test_perfect_and_plain_responders():
    bench = KCIFBenchmark()
    items = bench.load()
    samples, m = _score(bench, items, lambda ev: ev.meta["expected"])
    assert all(s["correct"] for s in samples)
    assert not any("error" in s for s in samples)  # the runner reads "error" as a failed scoring
    for key in (
        "exact_match",
        "ic_score",
        "kts_score",
        "distractor_exact_match",
        "average",
        "knowledge_accuracy",
        "exact_match_loose",
        "knowledge_accuracy_loose",
    ):
        assert m[key].value == 1.0, key
    # A model that ignores every instruction and prints the answer: distractors right, others mostly wrong.
    samples, m = _score(bench, items, lambda ev: ev.meta["kcif_item"]["answer"])
    assert m["distractor_exact_match"].value == 1.0
    assert m["knowledge_accuracy"].value == 1.0
    # print_answer is the one type it gets right, and KCIF scores it apart from EM, IC and KTS
    assert m["exact_match"].value == 0.0 and m["ic_score"].value == 0.0
    assert m["print_answer_exact_match"].value == 1.0
    assert 0 < m["exact_match_strict"].value < 0.2  # the strict reading counts it in
    wrong = [s for s in samples if not s["correct"]]
    assert wrong and all(s["error_type"] == "instruction" for s in wrong)
    assert all(0 < m[k].stderr < 1 for k in ("exact_match_strict", "ic_score_strict", "kts_score_strict"))
    tables = bench.breakdowns(samples)
    assert tables["exact match by instruction"]["answer_format:print_answer"]["exact_match"].value == 1.0
    by_cat = tables["exact match by instruction category"]
    assert by_cat["print_correct_answer"]["exact_match"].value == 1.0
    assert by_cat["Operations on List (Conditional)"]["exact_match"].value == 0.0
    assert (
        tables["exact match by instruction category (strict reading)"]["answer_format"]["exact_match"].value
        > 0
    )
    assert set(tables["by language"]) == {"en", "zh"}
    # counted skips: numeric instructions do not apply to text answers
    skips = tables["items an instruction does not apply to (counted skips)"]
    assert 0 < skips["numeric:in_words"]["share_of_items"].value < 1
    assert "answer_format:print_answer" not in skips
    assert 0 < m["skipped_pair_rate"].value < 0.5


def test_generic_jsonl_path(tmp_path):
    p = tmp_path / "mine.jsonl"
    rows = [
        {"id": "q1", "question": "2+2?", "options": ["3", "4", "5"], "answer": "4", "task": "math"},
        {"id": "q2", "question": "Sky colour?", "options": ["blue", "green"], "answer": "blue", "task": "gk"},
    ]
    p.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    items = KCIFBenchmark().load(str(p))
    assert [i.id for i in items if i.meta["instruction"] is None] == ["q1::plain", "q2::plain"]
    with pytest.raises(InputError, match="no such file"):
        KCIFBenchmark().load(str(tmp_path / "missing.jsonl"))


def test_sources_from_local_files_in_their_own_format(tmp_path):
    boolq = tmp_path / "boolq.jsonl"
    boolq.write_text(
        json.dumps({"question": "is water wet", "passage": "Water is a liquid.", "answer": True}) + "\n",
        encoding="utf-8",
    )
    (item,) = resolve_items(f"boolq@{boolq}")
    assert item.options == ("yes", "no") and item.answer == "yes" and item.passage == "Water is a liquid."
    mathqa = tmp_path / "mathqa.jsonl"
    mathqa.write_text(
        json.dumps(
            {"Problem": "p", "options": "a ) 38 , b ) 27.675 , c ) 30 , d ) 40 , e ) 50", "correct": "b"}
        )
        + "\n",
        encoding="utf-8",
    )
    (item,) = load_source("mathqa", str(mathqa))
    assert item.options == ("38", "27.675", "30", "40", "50") and item.answer == "27.675"
    wino = tmp_path / "w.jsonl"
    wino.write_text(json.dumps({"sentence": "A _ b", "option1": "x", "option2": "y", "answer": "2"}) + "\n")
    assert load_source("winogrande", str(wino))[0].answer == "y"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"goal": "g", "sol1": "a"}) + "\n")
    with pytest.raises(InputError, match="piqa format"):
        load_source("piqa", str(bad))


def test_hub_offline_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InputError, match="mmlu_pro@FILE"):
        KCIFBenchmark().load("mmlu_pro")
