"""The conflict table: symmetric, covering every registered id, and holding the published rules."""

from __future__ import annotations

import itertools
import os

import pytest

from followkit.constraints import conflicts, registry
from followkit.constraints.conflicts import compatible, compatible_set, conflict_reason, conflicts_of
from followkit.core.errors import ConstraintError

IDS = registry.ids()
KEYWORD_IDS = {
    "keywords:existence",
    "keywords:frequency",
    "keywords:forbidden_words",
    "count:keywords_multiple",
    "zh_keywords:include",
    "zh_keywords:exclude",
    "zh_keywords:frequency",
}
JSON_IDS = ("detectable_format:json_format", "trace_format:json")
LANGUAGE_IDS = ("language:response_language", "trace_language:response_language")
CASE_IDS = (
    "change_case:capital_word_frequency",
    "change_case:english_capital",
    "change_case:english_lowercase",
)


def test_every_registered_id_is_in_the_table():
    if os.environ.get("FOLLOWKIT_CONSTRAINTS"):
        pytest.skip("plugin ids are registered")
    assert conflicts.table_ids() == set(IDS)
    assert len(IDS) == 25 + 58 + 16


def test_symmetric_over_every_pair():
    for a, b in itertools.combinations(IDS, 2):
        assert compatible(a, b) == compatible(b, a), (a, b)
        assert (a in conflicts_of(b)) == (b in conflicts_of(a)), (a, b)


def test_an_id_conflicts_with_itself():
    for cid in IDS:
        assert not compatible(cid, cid)
        assert cid in conflicts_of(cid)
    assert not compatible_set(["keywords:existence", "punctuation:no_comma", "keywords:existence"])


def test_unknown_ids_raise_with_a_suggestion():
    with pytest.raises(ConstraintError, match="did you mean.*length_constraints:number_words"):
        compatible("length_constraints:number_word", "punctuation:no_comma")
    with pytest.raises(ConstraintError, match="unknown instruction id"):
        conflicts_of("nope:nothing")
    with pytest.raises(ConstraintError):
        compatible_set(["punctuation:no_comma", "zz:top"])


def test_every_conflict_has_a_reason():
    for a, b in itertools.combinations(IDS, 2):
        reason = conflict_reason(a, b)
        assert (reason is None) == compatible(a, b)
        assert reason is None or reason.strip()


# --- "From Complex to Simple" (DESIGN section 7) ------------------------------------------------


def test_response_language_conflicts_with_case_and_keyword_constraints():
    for lang in LANGUAGE_IDS:
        for other in (*CASE_IDS, "keywords:existence", "keywords:frequency", "keywords:forbidden_words"):
            assert not compatible(lang, other), (lang, other)
    assert not compatible(*LANGUAGE_IDS)


def test_constrained_response_conflicts_with_everything():
    assert conflicts_of("detectable_format:constrained_response") == set(IDS)


@pytest.mark.parametrize("json_id", JSON_IDS)
def test_json_conflicts_with_all_but_keyword_constraints(json_id):
    assert conflicts_of(json_id) == set(IDS) - KEYWORD_IDS
    for kw in KEYWORD_IDS:
        assert compatible(json_id, kw)


# --- IFEval's own table (instructions_registry.INSTRUCTION_CONFLICTS) holds ------------------------

IFEVAL_CONFLICTS = [
    ("language:response_language", "detectable_format:multiple_sections"),
    ("language:response_language", "startend:end_checker"),
    ("length_constraints:number_paragraphs", "length_constraints:nth_paragraph_first_word"),
    ("length_constraints:number_paragraphs", "length_constraints:number_sentences"),
    ("detectable_format:multiple_sections", "detectable_format:number_highlighted_sections"),
    ("change_case:capital_word_frequency", "change_case:english_lowercase"),
    ("change_case:capital_word_frequency", "change_case:english_capital"),
    ("change_case:english_lowercase", "change_case:english_capital"),
    ("startend:quotation", "detectable_format:title"),
    ("detectable_format:json_format", "punctuation:no_comma"),
    ("combination:two_responses", "startend:end_checker"),
    ("combination:repeat_prompt", "keywords:forbidden_words"),
]
IFEVAL_COMPATIBLE = [
    ("combination:two_responses", "keywords:forbidden_words"),
    ("combination:two_responses", "language:response_language"),
    ("combination:two_responses", "punctuation:no_comma"),
    ("combination:repeat_prompt", "keywords:existence"),
    ("combination:repeat_prompt", "detectable_format:title"),
    ("keywords:existence", "keywords:forbidden_words"),
    ("length_constraints:number_words", "punctuation:no_comma"),
    ("detectable_content:postscript", "startend:end_checker"),
]


@pytest.mark.parametrize("a,b", IFEVAL_CONFLICTS)
def test_ifeval_conflicts_hold(a, b):
    assert not compatible(a, b)


@pytest.mark.parametrize("a,b", IFEVAL_COMPATIBLE)
def test_ifeval_compatible_pairs_stay_compatible(a, b):
    assert compatible(a, b)


# --- obvious ones ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a,b",
    [
        ("length_constraints:number_words", "count:word_count_range"),
        ("length_constraints:number_words", "zh_length:words"),
        ("zh_length:words", "zh_length:characters"),
        ("length_constraints:number_sentences", "zh_length:sentences"),
        ("length_constraints:number_paragraphs", "zh_length:paragraphs"),
        ("format:title_case", "change_case:english_lowercase"),
        ("language:response_language", "words:alphabet"),
        ("trace_language:response_language", "count:words_japanese"),
        ("punctuation:no_comma", "zh_punctuation:no_comma"),
        ("detectable_format:number_bullet_lists", "trace_format:bullet_list"),
        ("startend:end_checker", "zh_startend:ends_with"),
        ("zh_startend:starts_with", "words:start_verb"),
        ("format:no_whitespace", "detectable_format:number_bullet_lists"),
        ("format:newline", "trace_format:markdown_table"),
        ("words:alphabet", "words:prime_lengths"),
        ("count:punctuation", "zh_punctuation:no_comma"),
        ("startend:quotation", "format:quote_unquote"),
    ],
)
def test_same_quantity_or_contradiction_conflicts(a, b):
    assert not compatible(a, b)


@pytest.mark.parametrize("json_id", JSON_IDS)
def test_json_conflicts_with_layout_and_ends(json_id):
    for other in (
        "trace_format:markdown_table",
        "trace_format:numbered_list",
        "trace_format:headings",
        "detectable_format:multiple_sections",
        "detectable_format:title",
        "detectable_content:postscript",
        "startend:end_checker",
        "zh_startend:ends_with",
    ):
        assert not compatible(json_id, other)


@pytest.mark.parametrize("whole", ["combination:repeat_prompt", "combination:two_responses"])
def test_whole_response_ids_conflict_with_start_and_end(whole):
    for other in (
        "startend:end_checker",
        "startend:quotation",
        "zh_startend:starts_with",
        "zh_startend:ends_with",
    ):
        assert not compatible(whole, other)


@pytest.mark.parametrize("cid", [i for i in IDS if i.startswith(("custom:", "repeat:"))] + ["format:options"])
def test_ifbench_whole_response_ids_stand_alone(cid):
    assert conflicts_of(cid) == set(IDS)


def test_chinese_keywords_combine_with_a_response_language():
    assert compatible("trace_language:response_language", "zh_keywords:include")
    assert compatible("language:response_language", "zh_keywords:exclude")


def test_typical_chinese_instruction_is_compatible():
    ids = [
        "trace_language:response_language",
        "zh_length:words",
        "zh_keywords:include",
        "zh_keywords:exclude",
        "trace_format:numbered_list",
        "zh_startend:ends_with",
    ]
    assert compatible_set(ids)
    assert not compatible_set([*ids, "trace_format:json"])


def test_most_ids_have_room_for_three_more_constraints():
    # Composition needs 3-5 compatible constraints: every non-exclusive id has partners.
    for cid in IDS:
        if len(conflicts_of(cid)) == len(IDS):
            continue
        partners = [o for o in IDS if compatible(cid, o)]
        chosen = [cid]
        for o in partners:
            if compatible_set([*chosen, o]):
                chosen.append(o)
            if len(chosen) == 4:
                break
        assert len(chosen) == 4, cid


def test_standalone_ids_are_exactly_the_whole_response_ids():
    expected = {i for i in IDS if i.startswith(("custom:", "repeat:"))} | {
        "format:options",
        "detectable_format:constrained_response",
    }
    assert {i for i in IDS if conflicts.standalone(i)} == expected
