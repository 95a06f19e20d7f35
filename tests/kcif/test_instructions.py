"""Every KCIF instruction type's expected output on hand-worked items (text with punctuation,
numbers, dollars, Chinese), applicability, rendering, and bad input."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from followkit.core.errors import InputError
from followkit.kcif import instructions as K
from followkit.kcif.instructions import INSTRUCTIONS, NotApplicable, build_prompt
from followkit.kcif.items import KCIFItem, builtin_items, load_items
from followkit.kcif.numbers import format_like, parse_number, words_en, words_zh

DC = KCIFItem(
    id="dc",
    question="What is the capital of the United States?",
    options=("New York City", "Washington, D.C.", "Boston", "St. Petersburg"),
    answer="Washington, D.C.",
    task="general_knowledge",
)
NUM = KCIFItem(
    id="num",
    question="How many?",
    options=("1250", "980", "1205", "12.5"),
    answer="1250",
    task="arithmetic",
)
DOLLAR = KCIFItem(
    id="usd", question="Price?", options=("$5.25", "$4.50", "$3.75"), answer="$4.50", task="arithmetic"
)
ZH = KCIFItem(
    id="zh",
    question="中国的首都是哪座城市？",
    options=("上海", "北京", "南京"),
    answer="北京",
    task="general_knowledge",
    language="zh",
)
ZH_NUM = KCIFItem(
    id="zhn",
    question="多少？",
    options=("10005", "15", "110"),
    answer="10005",
    task="arithmetic",
    language="zh",
)

# (instruction id, item, expected output) worked out by hand.
CASES = [
    ("answer_format:print_answer", DC, "Washington, D.C."),
    ("answer_format:print_label", DC, "B"),
    ("answer_format:print_label", ZH, "B"),
    ("string:uppercase", DC, "WASHINGTON, D.C."),
    ("string:capitalize", DC, "Washington, d.c."),
    ("string:alternate_case", DC, "WaShInGtOn, D.C."),  # every character counts, as in KCIF
    ("string:reverse", DC, ".C.D ,notgnihsaW"),
    ("string:reverse", ZH, "京北"),
    ("string:reverse", NUM, "0521"),
    ("string:reverse_alternate_case", DC, ".c.d ,NoTgNiHsAw"),
    ("numeric:in_words", NUM, "one thousand, two hundred and fifty"),  # num2words' style, as KCIF
    ("numeric:in_words", KCIFItem("d", "q", ("12.5", "7"), "12.5", "arithmetic"), "twelve point five"),
    ("numeric:in_words", ZH_NUM, "一万零五"),
    ("numeric:thousands", NUM, "1,250"),
    ("numeric:thousands", ZH_NUM, "10,005"),
    ("numeric:two_decimals", NUM, "1250.00"),
    ("numeric:scientific", NUM, "1.25e+03"),
    ("numeric:increment_correct", NUM, "1251"),
    ("numeric:increment_correct", DOLLAR, "$5.50"),
    ("numeric:increment_incorrect", NUM, "981, 1206, 13.5"),
    ("numeric:increment_incorrect", DOLLAR, "$6.25, $4.75"),
    ("list:sort_incorrect", DC, "Boston, New York City, St. Petersburg"),
    ("list:sort_incorrect", NUM, "12.5, 980, 1205"),
    ("list:sort_options", DC, "Boston, New York City, St. Petersburg, Washington, D.C."),
    ("list:sort_options", NUM, "12.5, 980, 1205, 1250"),
    ("list:sort_options", DOLLAR, "$3.75, $4.50, $5.25"),
    ("list:join_options", DC, "New York CityWashington, D.C.BostonSt. Petersburg"),
    ("list:join_options", ZH, "上海北京南京"),
    ("list:join_incorrect", DC, "New York CityBostonSt. Petersburg"),
    ("list:join_incorrect", ZH, "上海南京"),
    ("distractor:words_if_numeric", DC, "Washington, D.C."),
    ("distractor:increment_if_numeric", ZH, "北京"),
    ("distractor:uppercase_if_letters", NUM, "1250"),
    ("distractor:uppercase_if_letters", ZH, "北京"),
    ("distractor:sort_if_numeric_options", DC, "Washington, D.C."),
]

# (instruction id, item) pairs that must not apply: a skip, never a guessed expected output.
NOT_APPLICABLE = [
    ("numeric:in_words", DC),
    ("numeric:increment_correct", DC),
    ("numeric:increment_incorrect", ZH),
    ("numeric:thousands", DOLLAR),  # 4.50 has no thousands; the output would score like the answer
    ("numeric:two_decimals", DOLLAR),  # already two decimals
    ("numeric:in_words", DOLLAR),  # currency is left as it is (KCIF's instruction text)
    ("numeric:in_words", KCIFItem("d", "q", ("$5", "$7"), "$5", "arithmetic")),
    ("numeric:in_words", KCIFItem("zd", "q", ("2.5", "3"), "2.5", "arithmetic", language="zh")),
    ("string:uppercase", NUM),
    ("string:uppercase", ZH),  # no letters: case instructions do not apply to Chinese text
    ("string:capitalize", ZH),
    ("list:sort_incorrect", ZH),  # Chinese text has no alphabetical order
    ("distractor:words_if_numeric", NUM),  # the condition holds: not a distractor here
    ("distractor:uppercase_if_letters", DC),
    ("distractor:sort_if_numeric_options", NUM),
    # ambiguous: the operation on a wrong option gives the bare right answer (SKIP_AMBIGUOUS)
    ("numeric:increment_correct", KCIFItem("amb", "q", ("1461", "1460", "1465"), "1461", "arithmetic")),
    ("list:sort_incorrect", KCIFItem("yn", "q", ("yes", "no"), "yes", "reading")),
    ("list:join_incorrect", KCIFItem("yn", "q", ("yes", "no"), "yes", "reading")),
]


@pytest.mark.parametrize("iid,item,want", CASES, ids=[f"{c[0]}-{c[1].id}" for c in CASES])
def test_expected_output(iid, item, want):
    ins = INSTRUCTIONS[iid]
    assert ins.applies(item)
    assert ins.expected(item) == want


@pytest.mark.parametrize("iid,item", NOT_APPLICABLE, ids=[f"{c[0]}-{c[1].id}" for c in NOT_APPLICABLE])
def test_not_applicable_raises_instead_of_guessing(iid, item):
    ins = INSTRUCTIONS[iid]
    assert not ins.applies(item)
    with pytest.raises(NotApplicable):
        ins.expected(item)


def test_every_instruction_type_has_a_worked_case():
    assert {c[0] for c in CASES} | {"answer_format:append_string"} == set(INSTRUCTIONS)


def test_append_string_uses_the_string_it_renders():
    ins = INSTRUCTIONS["answer_format:append_string"]
    for item in (DC, ZH, NUM):
        s = ins.suffix(item)
        assert s in K.APPEND_POOL[item.language]
        assert ins.expected(item) == f"{item.answer} {s}"
        assert f"“{s}”" in ins.render(item, "zh") and f'"{s}"' in ins.render(item, "en")
    assert ins.suffix(DC) == ins.suffix(DC)  # stable across calls (no RNG)


def test_case_helpers():
    # KCIF's alternate case counts every character: upper at even positions, lower at odd ones
    assert K.alternate_case("ab cd-ef") == "Ab cD-Ef"
    assert K.alternate_case("H2O") == "H2O"
    assert K.alternate_case("New York") == "NeW YoRk"
    assert K.alternate_case("HELLO") == "HeLlO"
    assert K.capitalize_first("(new york)") == "(New york)"
    assert K.alternate_case("北京") == "北京"


def test_numbers_in_words():
    assert words_en(0) == "zero"
    assert words_en(-4) == "minus four"
    # num2words' English, which KCIF calls: 'and' before a last part under a hundred, commas between
    assert words_en(32) == "thirty-two"
    assert words_en(100) == "one hundred"
    assert words_en(105) == "one hundred and five"
    assert words_en(342) == "three hundred and forty-two"
    assert words_en(1001) == "one thousand and one"
    assert words_en(1100) == "one thousand, one hundred"
    assert words_en(1234) == "one thousand, two hundred and thirty-four"
    assert words_en(1_000_001) == "one million and one"
    assert words_en(2_040_300) == "two million, forty thousand, three hundred"
    assert words_en(1_234_005) == "one million, two hundred and thirty-four thousand and five"
    assert words_en(Decimal("27.675")) == "twenty-seven point six seven five"
    assert words_en(Decimal("12.50")) == "twelve point five"  # the float's digits: no trailing zero
    assert words_en(Decimal("-0.5")) == "minus zero point five"
    assert words_en(Decimal("7.0")) == "seven"
    assert words_zh(15) == "十五"
    assert words_zh(110) == "一百一十"
    assert words_zh(1005) == "一千零五"
    assert words_zh(100015) == "十万零一十五"
    assert words_zh(150000) == "十五万"
    assert words_zh(100_010_000) == "一亿零一万"
    assert words_zh(-3) == "负三"
    with pytest.raises(ValueError):
        words_en(10**12)


def test_number_parsing_and_formatting():
    assert parse_number("1,234") == Decimal(1234)
    assert parse_number("-3.50") == Decimal("-3.50")
    assert parse_number("$4.50") == Decimal("4.50")
    assert parse_number("12 cm") is None and parse_number("1,23") is None and parse_number("") is None
    assert format_like("1,999", Decimal(2000)) == "2,000"
    assert format_like("-1", Decimal(0)) == "0"
    assert format_like("2.50", Decimal("3.50")) == "3.50"
    assert format_like("-5", Decimal(-4)) == "-4"


def test_words_agree_with_num2words_where_installed():
    num2words = pytest.importorskip("num2words").num2words
    for n in (
        0,
        7,
        19,
        32,
        100,
        105,
        342,
        999,
        1001,
        1100,
        1234,
        20_000,
        1_000_001,
        2_040_300,
        1_234_005,
        -4,
    ):
        assert words_en(n) == num2words(n), n
    for text in ("3.5", "27.675", "0.25", "-3.5", "12.50"):
        assert words_en(Decimal(text)) == num2words(text), text


def test_item_value_field_makes_a_text_answer_numeric():
    item = KCIFItem(
        id="v",
        question="q",
        options=("12 apples", "13 apples"),
        answer="12 apples",
        task="t",
        value=Decimal(12),
    )
    assert INSTRUCTIONS["numeric:increment_correct"].expected(item) == "13"
    assert INSTRUCTIONS["numeric:in_words"].expected(item) == "twelve"


def test_render_both_languages_and_prompt_layout():
    for ins in INSTRUCTIONS.values():
        for item in (DC, NUM, ZH):
            en, zh = ins.render(item, "en"), ins.render(item, "zh")
            assert en and zh and en != zh
            assert any("\u4e00" <= c <= "\u9fff" for c in zh)
    p = build_prompt(ZH, INSTRUCTIONS["string:reverse"])
    assert p.startswith("问题：中国的首都是哪座城市？\n选项：\nA. 上海\nB. 北京\nC. 南京\n\n")
    assert p.endswith("只输出结果，不要任何解释。")
    plain = build_prompt(DC, None)
    assert plain.splitlines()[-1] == "Reply with the text of the correct option only."
    assert "B. Washington, D.C." in plain


def test_get_unknown_id_suggests():
    with pytest.raises(InputError, match="did you mean string:uppercase"):
        K.get("string:upercase")


def test_answer_not_among_options_names_file_line_field(tmp_path):
    p = tmp_path / "items.jsonl"
    good = {"question": "q", "options": ["a", "b"], "answer": "a", "task": "t"}
    bad = {"question": "q", "options": ["a", "b"], "answer": "c", "task": "t"}
    p.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_items(p)
    assert str(exc.value).startswith(f"{p}:2: field 'answer':")


@pytest.mark.parametrize(
    "rec,field",
    [
        ({"options": ["a", "b"], "answer": "a", "task": "t"}, "question"),
        ({"question": "q", "options": "a,b", "answer": "a", "task": "t"}, "options"),
        ({"question": "q", "options": ["a"], "answer": "a", "task": "t"}, "options"),
        ({"question": "q", "options": ["a", "a"], "answer": "a", "task": "t"}, "options"),
        ({"question": "q", "options": ["a", "b"], "answer": "a", "task": "t", "language": "fr"}, "language"),
        ({"question": "q", "options": ["a", "b"], "answer": "a", "task": "t", "value": "many"}, "value"),
    ],
)
def test_bad_records(tmp_path, rec, field):
    p = tmp_path / "x.jsonl"
    p.write_text(json.dumps(rec) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=f"x.jsonl:1: field '{field}'"):
        load_items(p)


def test_builtin_items_are_valid_and_varied():
    items = builtin_items()
    assert len(items) >= 150
    assert {i.task for i in items} == {"general_knowledge", "arithmetic", "reading_yes_no"}
    assert {i.language for i in items} == {"en", "zh"}
    assert all(i.passage for i in items if i.task == "reading_yes_no")
    assert all(i.numeric_value is not None for i in items if i.task == "arithmetic")
    # Every applicable pair has an expected output; none raises.
    for item in items:
        for ins in INSTRUCTIONS.values():
            if ins.applies(item):
                assert isinstance(ins.expected(item), str)
