"""KCIF scoring as KCIF's scorer reads it (parser, postprocessing, whitespace-free match, categories),
the strict reading beside it, the error classifier and the metrics, on hand-worked cases."""

from __future__ import annotations

import math

import pytest

from followkit.kcif.instructions import INSTRUCTIONS
from followkit.kcif.items import KCIFItem
from followkit.kcif.normalize import matches, matches_strict, normalize, parse_response, postprocess, same
from followkit.kcif.scoring import classify_error, is_correct, is_correct_strict, kcif_metrics

DC = KCIFItem(
    id="dc",
    question="What is the capital of the United States?",
    options=("New York City", "Washington, D.C.", "Boston"),
    answer="Washington, D.C.",
    task="gk",
)
YN = KCIFItem(id="yn", question="Is it?", options=("yes", "no"), answer="yes", task="reading")
ADJ = KCIFItem(id="adj", question="How many?", options=("19", "17", "20", "5"), answer="19", task="arith")
NUM = KCIFItem(id="num", question="How many?", options=("1250", "980", "1205"), answer="1250", task="arith")


@pytest.mark.parametrize(
    "raw,want",
    [
        ("  (B) ", "B"),
        ('"Paris."', "Paris"),
        ("$12.50", "12.50"),
        ("Washington, D.C.", "Washington, D.C"),
        ("【是】。", "是"),
        ("(a) and (b)", "(a) and (b)"),  # not one wrapping pair
        ("[[x]]", "x"),
        ("'yes'\n", "yes"),
        ("A...", "A..."),  # an ellipsis is not a final period
        ("Yes", "Yes"),  # case is kept
        ("", ""),
    ],
)
def test_normalize_strict_reading(raw, want):
    assert normalize(raw) == want


# KCIF's parse_llm_output + postprocess_output, worked by hand from IBM/KCIF compute_metrics.py.
@pytest.mark.parametrize(
    "response,want",
    [
        ("The answer is: Paris", "Paris"),
        ("Let me think.\nthe answer is : [Paris].", "Paris"),  # 'answer is :' too; brackets, period
        ("Answer is: A\nso the answer is: B", "B"),  # a lower-case form triggers; any form splits
        ("Answer is: Paris", "Answer is: Paris"),  # only the lower-case forms trigger the cut
        ("Step 1: 2 + 2 = 4\nSo:\n4", "4"),  # otherwise the last line
        ("Reasoning first.\nParis\n", ""),  # a trailing newline leaves an empty last line
        ("Response: ['Paris']", "Paris"),
        ("draft response: x\nResponse: $5.50.", "5.50"),  # after the last marker, either case
        ("Response:\nNew York\nCity", "New York\nCity"),  # a multi-line answer after the marker
        ("It's 'yes'", "Its yes"),  # every quote goes, not only the outer ones
        ("[1250], [980]", "1250, 980"),
        ("Paris. ", "Paris."),  # the period is dropped before stripping, so it stays here
        ("Paris..", "Paris."),  # one final period only
        ("(B)", "(B)"),  # brackets other than [ ] stay
        ("“Paris”", "“Paris”"),  # curly quotes stay
        ("", ""),
    ],
)
def test_parse_response_as_kcif(response, want):
    assert parse_response(response) == want


def test_postprocess_and_whitespace_free_match():
    assert postprocess("Washington, D.C.") == "Washington, D.C"  # the expected output too
    assert postprocess("$4.50") == "4.50"
    assert postprocess(" x. ") == "x."
    assert same("New YorkCity", "New York City")
    assert same("1250,980", "1250, 980")
    assert same("New York\nCity", "New York City")
    assert not same("paris", "Paris")


def test_matches_kcif_and_strict():
    assert matches("Washington, D.C", "Washington, D.C.")
    assert matches(" $5.50.", "$5.50")
    assert not matches("paris", "Paris")
    # The two readings part ways: KCIF reads the answer out of the response ...
    assert matches("Thinking...\nthe answer is: Boston", "Boston")
    assert not matches_strict("Thinking...\nthe answer is: Boston", "Boston")
    # ... but keeps parentheses and curly quotes, which the strict reading strips.
    assert not matches("(B)", "B") and matches_strict("(B)", "B")
    assert not matches("“yes”", "yes") and matches_strict("“yes”", "yes")


@pytest.mark.parametrize(
    "iid,item,response,want",
    [
        ("numeric:increment_correct", NUM, "1251.", None),
        ("numeric:increment_correct", NUM, "981", "knowledge"),  # right operation, wrong option
        ("numeric:increment_correct", NUM, "1250", "instruction"),  # right option, not incremented
        ("numeric:increment_correct", NUM, "A", "instruction"),  # the right label instead
        ("numeric:increment_correct", NUM, "twelve", "other"),
        ("string:uppercase", DC, "BOSTON", "knowledge"),
        ("string:uppercase", DC, "Washington, D.C.", "instruction"),
        ("string:uppercase", DC, ".C.D ,notgnihsaW", "instruction"),  # another operation on the right option
        ("string:uppercase", DC, "The answer is WASHINGTON, D.C.", "instruction"),  # right output, wrapped
        ("string:uppercase", DC, "The answer is B. BOSTON", "knowledge"),  # loose reading: a wrong option
        ("string:uppercase", DC, "I am not sure.", "other"),
        ("answer_format:print_label", DC, "(C)", "knowledge"),
        ("answer_format:print_label", DC, "Washington, D.C.", "instruction"),
        ("numeric:increment_incorrect", NUM, "1251, 1206", "knowledge"),  # 980 taken as the answer
        ("list:sort_options", DC, "Boston", "other"),  # no knowledge in sorting all options
        ("distractor:words_if_numeric", DC, "Washington, D.C.", None),
        ("distractor:words_if_numeric", DC, "New York City", "knowledge"),
        ("distractor:words_if_numeric", DC, "WASHINGTON, D.C.", "instruction"),
        ("distractor:uppercase_if_letters", NUM, "one thousand, two hundred and fifty", "instruction"),
        # right under the strict reading, not under KCIF's: the right output wrapped
        ("answer_format:print_label", DC, "(B)", "instruction"),
        # KCIF reads the last line; the strict reading's loose candidates the first
        ("string:uppercase", DC, "Let me see.\nBOSTON", "knowledge"),
        # a wrong option as it is, under an unrelated instruction: neither pure class
        ("string:reverse", YN, "no", "other"),
        ("answer_format:append_string", ADJ, "20", "other"),  # 19 + 1 = 20 is also a wrong option
    ],
)
def test_classify_error(iid, item, response, want):
    assert classify_error(item, INSTRUCTIONS[iid], response) == want


def test_fixes_that_the_strict_reading_missed():
    label = INSTRUCTIONS["answer_format:print_label"]
    upper = INSTRUCTIONS["string:uppercase"]
    join = INSTRUCTIONS["list:join_incorrect"]
    for ins, response in [
        (label, "The answer is: B"),  # after 'answer is:'
        (upper, "Let me think.\nWASHINGTON, D.C."),  # the last line
        (upper, "Response: WASHINGTON, D.C."),  # after 'Response:'
        (upper, "[WASHINGTON], 'D.C.'"),  # brackets and quotes anywhere
        (join, "New York City Boston"),  # whitespace does not count
        (join, "Response:\nNew York City\nBoston"),  # a multi-line answer
    ]:
        assert is_correct(DC, ins, response), response
        assert not is_correct_strict(DC, ins, response), response
        assert classify_error(DC, ins, response) is None
        assert classify_error(DC, ins, response, strict=True) is not None
    assert not is_correct(DC, label, "(B)") and is_correct_strict(DC, label, "(B)")


def test_plain_question_accepts_text_or_label():
    assert is_correct(DC, None, "Washington, D.C.")
    assert is_correct(DC, None, "B.")
    assert classify_error(DC, None, "Boston") == "knowledge"
    assert classify_error(DC, None, "A") == "knowledge"
    assert classify_error(DC, None, "I do not know") == "other"
    assert is_correct(DC, None, "the answer is: B")  # PLAIN_ACCEPTS_LABEL, a deviation from KCIF


def _s(item_id, iid, task, correct, distractor=False, error=None, strict=None, plain=False):
    """A scored sample; the categories come from the instruction, as KCIFBenchmark.score writes them."""
    ins = None if plain else INSTRUCTIONS[iid]
    strict = correct if strict is None else strict
    return {
        "item_id": item_id,
        "instruction": None if plain else iid,
        "category": None if plain else ins.group,
        "category_strict": None if plain else ins.category,
        "task": task,
        "language": "en",
        "distractor": distractor,
        "correct": correct,
        "correct_strict": strict,
        "error_type": None if correct else (error or "other"),
        "error_type_strict": None if strict else (error or "other"),
    }


def test_instructions_group_as_kcif_categories():
    from followkit.kcif.instructions import EXTRAS_GROUPED, KCIF_CATEGORIES, PRINT_GROUPS

    group = {iid: ins.group for iid, ins in INSTRUCTIONS.items()}
    # IBM/KCIF evaluation/metric_utils.py CATEGORY_MAPPING, under followkit's ids
    assert group["answer_format:print_answer"] == "print_correct_answer"
    assert group["answer_format:print_label"] == "print_correct_answer_label"
    for iid in (
        "string:uppercase",
        "string:alternate_case",
        "string:reverse",
        "string:reverse_alternate_case",
    ):
        assert group[iid] == "String Manipulation"
    for iid in ("numeric:two_decimals", "numeric:in_words", "answer_format:append_string"):
        assert group[iid] == "Format Correct Answer"
    assert group["numeric:increment_correct"] == "Numeric Manipulation"
    for iid in ("numeric:increment_incorrect", "list:sort_incorrect", "list:join_incorrect"):
        assert group[iid] == "Operations on List (Conditional)"
    for iid in ("list:sort_options", "list:join_options"):
        assert group[iid] == "Operations on List"
    # followkit's extra instructions sit in a KCIF category, as the deviations table says
    assert {iid: group[iid] for iid in EXTRAS_GROUPED} == dict(EXTRAS_GROUPED)
    from followkit.evaluate.deviations import DEVIATIONS

    rows = {d.constant: d for d in DEVIATIONS if d.benchmark == "kcif"}
    row = rows["followkit.kcif.instructions.EXTRAS_GROUPED"]
    assert {p.strip() for p in row.ids.split(",")} == set(EXTRAS_GROUPED)
    assert "followkit.kcif.numbers.WORDS_FROM_VALUE" in rows
    for iid, ins in INSTRUCTIONS.items():
        assert ins.group in (*KCIF_CATEGORIES, *PRINT_GROUPS, "distractor"), iid
        assert (ins.group == "distractor") == ins.distractor


SAMPLES = [
    _s("a", None, "gk", True, plain=True),
    _s("b", None, "mmlu_pro:law", False, plain=True, strict=True),
    _s("a", "string:uppercase", "gk", True),
    _s("a", "string:reverse", "gk", False, error="instruction"),
    _s("b", "numeric:in_words", "mmlu_pro:law", True, strict=False),
    _s("b", "list:join_options", "mmlu_pro:math", True),
    _s("a", "answer_format:print_label", "gk", False, strict=True),
    _s("b", "answer_format:print_answer", "mmlu_pro:law", True),
    _s("c", "list:sort_options", "boolq", False),  # KCIF drops list operations on BoolQ
    _s("a", "distractor:words_if_numeric", "gk", False, True, error="knowledge"),
    _s("b", "distractor:uppercase_if_letters", "mmlu_pro:math", True, True),
]


def test_metrics_by_hand_as_kcif():
    m = kcif_metrics(SAMPLES)
    # EM over uppercase, reverse, in_words, join_options: print rows apart, BoolQ's sort dropped
    assert m["exact_match"].value == pytest.approx(3 / 4) and m["exact_match"].n == 4
    # String Manipulation 1/2, Format Correct Answer 1, Operations on List 1 -> IC = 2.5/3
    assert m["ic_score"].value == pytest.approx(2.5 / 3)
    assert m["category/String Manipulation"].value == pytest.approx(0.5)
    assert "category/Operations on List (Conditional)" not in m
    # parent tasks: gk 1/2, mmlu_pro 2/2 (law and math together) -> KTS = 0.75
    assert m["kts_score"].value == pytest.approx(0.75)
    assert set(k for k in m if k.startswith("task/")) == {"task/gk", "task/mmlu_pro"}
    assert m["distractor_exact_match"].value == pytest.approx(0.5)
    assert m["average"].value == pytest.approx((0.75 + 2.5 / 3 + 0.75 + 0.5) / 4)
    assert m["print_answer_exact_match"].value == 1.0 and m["print_label_exact_match"].value == 0.0
    assert m["category/print_correct_answer_label"].value == 0.0
    assert m["knowledge_accuracy"].value == pytest.approx(0.5)
    # item a was known plainly: uppercase right, reverse wrong
    assert m["exact_match_known_items"].value == pytest.approx(0.5)
    # errors over the 4 EM rows and the 2 distractors
    assert m["error_instruction"].value == pytest.approx(1 / 6)
    assert m["error_knowledge"].value == pytest.approx(1 / 6)
    # standard error of the micro EM: sample std of [1,0,1,1] / sqrt(4)
    assert m["exact_match"].stderr == pytest.approx(math.sqrt(0.25 / 4))
    assert "instruction/list:sort_options" not in m  # dropped from every score, as in KCIF


def test_strict_metrics_are_still_reported():
    m = kcif_metrics(SAMPLES)
    # strict: every instruction row, print rows included, followkit's categories and full tasks
    # uppercase 1, reverse 0, in_words 0, join 1, print_label 1, print_answer 1, sort_options 0
    assert m["exact_match_strict"].value == pytest.approx(4 / 7) and m["exact_match_strict"].n == 7
    # string 1/2, numeric 0/1, list 1/2, answer_format 2/2 -> IC = 2/4
    assert m["ic_score_strict"].value == pytest.approx(0.5)
    # gk 2/3, mmlu_pro:law 1/2, mmlu_pro:math 1/1, boolq 0/1 -> KTS = (2/3 + 1/2 + 1 + 0) / 4
    assert m["kts_score_strict"].value == pytest.approx((2 / 3 + 0.5 + 1 + 0) / 4)
    assert m["distractor_exact_match_strict"].value == pytest.approx(0.5)
    assert m["knowledge_accuracy_strict"].value == 1.0
    assert m["average_strict"].value == pytest.approx((4 / 7 + 0.5 + (2 / 3 + 1.5) / 4 + 0.5) / 4)
    for key in ("exact_match_known_items_strict", "error_other_strict", "exact_match_loose"):
        assert key in m
    assert m["category_strict/answer_format"].value == 1.0
    # old sample files without the strict fields still score: strict reads as the default
    old = [
        {**{k: v for k, v in s.items() if not k.endswith("_strict")}, "category": s["category_strict"]}
        for s in SAMPLES
    ]
    assert kcif_metrics(old)["ic_score_strict"].value == pytest.approx(2.5 / 4)  # their one verdict
    assert kcif_metrics(old)["ic_score"].value == pytest.approx(2.5 / 3)  # KCIF's categories


def test_loose_readings_are_reported_beside_strict():
    from followkit.kcif.scoring import answer_candidates, is_correct_loose

    assert answer_candidates("The answer is D. Perth.") == ["The answer is D. Perth", "D. Perth", "Perth"]
    assert answer_candidates("答案是：北京。")[-1] == "北京"
    assert "Canberra" in answer_candidates("The correct answer is:\nB. Canberra")
    assert not is_correct(DC, None, "The answer is B. Washington, D.C.")
    assert is_correct_loose(DC, None, "The answer is B. Washington, D.C.")
    assert is_correct_loose(DC, INSTRUCTIONS["answer_format:print_label"], "Answer: (B)")
    assert not is_correct_loose(DC, INSTRUCTIONS["string:uppercase"], "The answer is Washington, D.C.")
    assert classify_error(DC, None, "The answer is: Washington, D.C.") is None  # KCIF cuts after 'answer is:'
    assert classify_error(DC, None, "The answer is: Washington, D.C.", strict=True) == "instruction"
    assert classify_error(DC, None, "The answer is A. New York City") == "knowledge"
