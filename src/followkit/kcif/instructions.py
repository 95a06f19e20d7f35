"""The KCIF instruction family: operations on the answer or options of a knowledge item.

One small class per instruction id (`category:name`) in one registry dict. Each computes its
expected output in code from the item (`expected`), says whether it applies (`applies`: the
operation is defined on this item and changes something observable) and renders its text in
English or Chinese. A pair (item, instruction) that does not apply is skipped and counted, never
given a guessed expected output. Distractor instructions are conditioned on a property the item
lacks (e.g. "if the answer is a number, ...") and expect the answer unchanged.
"""

from __future__ import annotations

import difflib
import zlib
from abc import ABC, abstractmethod
from types import MappingProxyType
from typing import ClassVar

from followkit.constraints.text import has_cjk
from followkit.core.errors import FollowkitError, InputError
from followkit.kcif.items import LABELS, KCIFItem
from followkit.kcif.normalize import normalize
from followkit.kcif.numbers import (
    WORDS_LIMIT,
    decimals_of,
    format_like,
    is_integer,
    parse_number,
    words_en,
    words_zh,
)

SEPARATOR = ", "
"""How list outputs (sorted options, incremented options) are joined; the rendered text states it."""

APPEND_POOL = {"en": ("done", "KCIF", "xyz", "END", "ok"), "zh": ("完毕", "结束", "KCIF", "好")}
"""Strings the append instruction adds; one is chosen per item from a hash of its id (no RNG)."""

SKIP_AMBIGUOUS = True
"""Policy: skip a pair where the operation applied to a wrong option yields the bare right answer
(e.g. 'increment the answer' when answer - 1 is an option, or 'sort the incorrect options' on a
yes/no item): a response equal to the answer would be both a knowledge and an instruction error."""

ANSWER_ONLY = {"en": "Reply with the result only, with no explanation.", "zh": "只输出结果，不要任何解释。"}
PLAIN_ASK = {
    "en": "Reply with the text of the correct option only.",
    "zh": "只输出正确选项的内容，不要任何解释。",
}


STRING = "String Manipulation"
FORMAT = "Format Correct Answer"
NUMERIC = "Numeric Manipulation"
LIST_CONDITIONAL = "Operations on List (Conditional)"
LIST = "Operations on List"
PRINT_ANSWER = "print_correct_answer"
PRINT_LABEL = "print_correct_answer_label"

EXTRAS_GROUPED = MappingProxyType(
    {"string:capitalize": STRING, "numeric:thousands": FORMAT, "numeric:scientific": FORMAT}
)
"""Policy: instructions followkit adds to KCIF's set are scored in the KCIF category closest in
kind. (KCIF's own 'capitalize_correct_answer' upper-cases the whole answer: that is
string:uppercase here; string:capitalize, first letter only, is followkit's.)"""


class NotApplicable(FollowkitError):
    """An instruction asked for the expected output of an item it does not apply to."""


def _has_letters(text: str) -> bool:
    return any(c.upper() != c.lower() for c in text)


def alternate_case(text: str) -> str:
    """KCIF's alternate case: characters at even positions upper-cased, at odd positions lower-cased.

    Every character counts, spaces and punctuation too: 'ab cd' -> 'Ab cD'.
    """
    return "".join(c.lower() if i % 2 else c.upper() for i, c in enumerate(text))


def capitalize_first(text: str) -> str:
    """The first letter in uppercase and every other letter in lowercase."""
    out, seen = [], False
    for c in text:
        if c.upper() != c.lower():
            out.append(c.lower() if seen else c.upper())
            seen = True
        else:
            out.append(c)
    return "".join(out)


def _numeric_options(options: list[str] | tuple[str, ...]) -> bool:
    return all(parse_number(o) is not None for o in options)


def _sortable(options: list[str] | tuple[str, ...]) -> bool:
    # Text is sorted by code point after casefolding; that order means nothing to a reader of
    # Chinese, so CJK options are sorted only when they are all numbers.
    return _numeric_options(options) or not any(has_cjk(o) for o in options)


def sort_options(options: list[str] | tuple[str, ...]) -> list[str]:
    """Numbers ascending by value, otherwise text alphabetically ignoring case."""
    if _numeric_options(options):
        return sorted(options, key=lambda o: (parse_number(o), o))
    return sorted(options, key=lambda o: (o.casefold(), o))


def _stable_pick(key: str, pool: tuple[str, ...]) -> str:
    return pool[zlib.crc32(key.encode("utf-8")) % len(pool)]


class KCIFInstruction(ABC):
    """One KCIF instruction type."""

    id: ClassVar[str]
    category: ClassVar[str]  # answer_format | string | numeric | list | distractor (the strict reading)
    group: ClassVar[str]  # KCIF's category (KCIF_CATEGORIES, PRINT_GROUPS, or "distractor")
    depends_on: ClassVar[str] = "answer"  # answer | incorrect | options: what a knowledge error changes
    distractor: ClassVar[bool] = False

    @abstractmethod
    def operation(self, item: KCIFItem) -> str | None:
        """The operation's output on this item (ignoring any condition), None where undefined."""

    @abstractmethod
    def render(self, item: KCIFItem, lang: str = "en") -> str:
        """The instruction sentence, in English ('en') or Chinese ('zh')."""

    def applies(self, item: KCIFItem) -> bool:
        """True if the operation is defined here, its output differs from the bare answer, and no
        wrong option under the operation gives the bare answer (see SKIP_AMBIGUOUS)."""
        out = self.operation(item)
        answer = normalize(item.answer)
        if out is None or normalize(out) == answer:
            return False
        if SKIP_AMBIGUOUS and self.depends_on != "options":
            for opt in item.incorrect:
                alt = self.operation(item.with_answer(opt))
                if alt is not None and normalize(alt) == answer:
                    return False
        return True

    def expected(self, item: KCIFItem) -> str:
        """The exact expected output; NotApplicable where the instruction does not apply."""
        if not self.applies(item):
            raise NotApplicable(f"{self.id} does not apply to item {item.id}")
        out = self.expected_unchecked(item)
        assert out is not None
        return out

    def expected_unchecked(self, item: KCIFItem) -> str | None:
        """What `expected` returns, without the applicability check (error classification)."""
        return self.operation(item)

    def __repr__(self) -> str:
        return f"<kcif instruction {self.id}>"


# --- answer format ------------------------------------------------------------------------------


class PrintAnswer(KCIFInstruction):
    id = "answer_format:print_answer"
    category = "answer_format"
    group = PRINT_ANSWER

    def operation(self, item: KCIFItem) -> str:
        return item.answer

    def applies(self, item: KCIFItem) -> bool:
        return True

    def render(self, item: KCIFItem, lang: str = "en") -> str:
        if lang == "zh":
            return "只输出正确选项的内容（不要输出选项字母）。"
        return "Print only the text of the correct option (not its letter)."


class PrintLabel(KCIFInstruction):
    id = "answer_format:print_label"
    category = "answer_format"
    group = PRINT_LABEL

    def operation(self, item: KCIFItem) -> str:
        return item.label

    def render(self, item: KCIFItem, lang: str = "en") -> str:
        if lang == "zh":
            return "只输出正确选项的字母（例如 A），不要输出选项内容。"
        return "Print only the letter of the correct option (for example A), not its text."


class AppendString(KCIFInstruction):
    id = "answer_format:append_string"
    category = "answer_format"
    group = FORMAT

    def suffix(self, item: KCIFItem) -> str:
        """The string this item's prompt asks to append."""
        return _stable_pick(item.id, APPEND_POOL.get(item.language, APPEND_POOL["en"]))

    def operation(self, item: KCIFItem) -> str:
        return f"{item.answer} {self.suffix(item)}"

    def render(self, item: KCIFItem, lang: str = "en") -> str:
        s = self.suffix(item)
        if lang == "zh":
            return f"输出正确选项的内容，后接一个空格，再接字符串“{s}”。"
        return f'Print the text of the correct option, then one space, then the string "{s}".'


# --- string manipulation ------------------------------------------------------------------------


class Uppercase(KCIFInstruction):
    id = "string:uppercase"
    category = "string"
    group = STRING

    def operation(self, item: KCIFItem) -> str | None:
        return item.answer.upper() if _has_letters(item.answer) else None

    def render(self, item: KCIFItem, lang: str = "en") -> str:
        if lang == "zh":
            return "把正确选项的内容全部改成大写字母后输出。"
        return "Print the text of the correct option in uppercase letters."


class Capitalize(KCIFInstruction):
    id = "string:capitalize"
    category = "string"
    group = STRING

    def operation(self, item: KCIFItem) -> str | None:
        return capitalize_first(item.answer) if _has_letters(item.answer) else None

    def render(self, item: KCIFItem, lang: str = "en") -> str:
        if lang == "zh":
            return "输出正确选项的内容：第一个字母大写，其余所有字母小写。"
        return "Print the text of the correct option with its first letter in uppercase and all other letters in lowercase."


class AlternateCase(KCIFInstruction):
    id = "string:alternate_case"
    category = "string"
    group = STRING

    def operation(self, item: KCIFItem) -> str | None:
        return alternate_case(item.answer) if _has_letters(item.answer) else None

    def render(self, item: KCIFItem, lang: str = "en") -> str:
        if lang == "zh":
            return "输出正确选项的内容，大小写交替：第一个字符大写，之后的字符小写、大写交替（空格和标点也算一个字符）。"
        return (
            "Print the text of the correct option in alternate case: the first character in uppercase, "
            "then the following characters alternating between lowercase and uppercase (spaces and "
            "punctuation count as characters)."
        )


class Reverse(KCIFInstruction):
    id = "string:reverse"
    category = "string"
    group = STRING

    def operation(self, item: KCIFItem) -> str | None:
        return item.answer[::-1] if len(item.answer) > 1 else None

    def render(self, item: KCIFItem, lang: str = "en") -> str:
        if lang == "zh":
            return "把正确选项的内容按字符倒序输出。"
        return "Print the text of the correct option reversed, character by character."


class ReverseAlternateCase(KCIFInstruction):
    id = "string:reverse_alternate_case"
    category = "string"
    group = STRING

    def operation(self, item: KCIFItem) -> str | None:
        if len(item.answer) < 2 or not _has_letters(item.answer):
            return None
        return alternate_case(item.answer[::-1])

    def render(self, item: KCIFItem, lang: str = "en") -> str:
        if lang == "zh":
            return "把正确选项的内容按字符倒序，然后大小写交替：第一个字符大写，之后小写、大写交替（空格和标点也算一个字符）。"
        return (
            "Reverse the text of the correct option character by character, then print it in alternate "
            "case starting with uppercase (spaces and punctuation count as characters)."
        )


# --- numeric ------------------------------------------------------------------------------------


class NumberInWords(KCIFInstruction):
    id = "numeric:in_words"
    category = "numeric"
    group = FORMAT

    def operation(self, item: KCIFItem) -> str | None:
        v = item.numeric_value
        # KCIF's instruction leaves currency as it is ("a numeric value with no additional text").
        if v is None or "$" in item.answer or abs(v) >= WORDS_LIMIT:
            return None
        if item.language == "zh":
            return words_zh(int(v)) if is_integer(v) else None
        try:
            return words_en(v)
        except ValueError:  # more decimals than a float's repr writes plainly
            return None

    def render(self, item: KCIFItem, lang: str = "en") -> str:
        if lang == "zh":
            return "用中文数字写出正确答案（例如 342 写作“三百四十二”，2000 写作“二千”，用“二”而不是“两”）。"
        return (
            "Write the correct answer in English words, for example 1342 as "
            '"one thousand, three hundred and forty-two" and 2.5 as "two point five".'
        )


class Thousands(KCIFInstruction):
    id = "numeric:thousands"
    category = "numeric"
    group = FORMAT

    def operation(self, item: KCIFItem) -> str | None:
        v = item.numeric_value
        if v is None:
            return None
        places = decimals_of(item.answer)
        return f"{v:,.{places}f}"

    def render(self, item: KCIFItem, lang: str = "en") -> str:
        if lang == "zh":
            return "输出正确答案的数字，每三位用英文逗号分隔（例如 1234567 写作 1,234,567），不带单位。"
        return "Print the correct answer as a number with commas as thousands separators (for example 1234567 as 1,234,567), without units."


class TwoDecimals(KCIFInstruction):
    id = "numeric:two_decimals"
    category = "numeric"
    group = FORMAT

    def operation(self, item: KCIFItem) -> str | None:
        v = item.numeric_value
        return None if v is None else f"{v:.2f}"

    def render(self, item: KCIFItem, lang: str = "en") -> str:
        if lang == "zh":
            return "把正确答案写成保留两位小数的数字（例如 7 写作 7.00），不带单位。"
        return "Print the correct answer as a number with exactly two decimal places (for example 7 as 7.00), without units."


class Scientific(KCIFInstruction):
    id = "numeric:scientific"
    category = "numeric"
    group = FORMAT

    def operation(self, item: KCIFItem) -> str | None:
        v = item.numeric_value
        return None if v is None else f"{float(v):.2e}"

    def render(self, item: KCIFItem, lang: str = "en") -> str:
        if lang == "zh":
            return "用科学计数法写出正确答案，尾数保留两位小数（例如 450 写作 4.50e+02）。"
        return "Print the correct answer in scientific notation with two decimal places (for example 450 as 4.50e+02)."


class IncrementCorrect(KCIFInstruction):
    id = "numeric:increment_correct"
    category = "numeric"
    group = NUMERIC

    def operation(self, item: KCIFItem) -> str | None:
        v = item.numeric_value
        return None if v is None else format_like(item.answer, v + 1)

    def render(self, item: KCIFItem, lang: str = "en") -> str:
        if lang == "zh":
            return "把正确答案的数值加一后输出（保持原来的小数位数）。"
        return "Add one to the correct answer and print the result (keep the same number of decimal places)."


class IncrementIncorrect(KCIFInstruction):
    id = "numeric:increment_incorrect"
    category = "numeric"
    group = LIST_CONDITIONAL
    depends_on = "incorrect"

    def operation(self, item: KCIFItem) -> str | None:
        wrong = item.incorrect
        if not _numeric_options(wrong):
            return None
        return SEPARATOR.join(format_like(o, parse_number(o) + 1) for o in wrong)  # type: ignore[operator]

    def render(self, item: KCIFItem, lang: str = "en") -> str:
        if lang == "zh":
            return "把每个错误选项的数值加一，按原来的顺序输出，用英文逗号加空格（, ）分隔（保持原来的小数位数）。"
        return (
            "Add one to each incorrect option and print the results in their given order, separated by "
            "a comma and a space (keep the same number of decimal places)."
        )


# --- operations on the list of options ----------------------------------------------------------


def _order_words(options: tuple[str, ...] | list[str], lang: str) -> str:
    if _numeric_options(options):
        return "按数值从小到大" if lang == "zh" else "in ascending numeric order"
    return "按字母顺序（不区分大小写）" if lang == "zh" else "in alphabetical order (ignoring case)"


class SortIncorrect(KCIFInstruction):
    id = "list:sort_incorrect"
    category = "list"
    group = LIST_CONDITIONAL
    depends_on = "incorrect"

    def operation(self, item: KCIFItem) -> str | None:
        wrong = item.incorrect
        return SEPARATOR.join(sort_options(wrong)) if _sortable(wrong) else None

    def render(self, item: KCIFItem, lang: str = "en") -> str:
        order = _order_words(item.incorrect, lang)
        if lang == "zh":
            return f"只输出错误的选项，{order}排列，用英文逗号加空格（, ）分隔。"
        return f"Print only the incorrect options, sorted {order}, separated by a comma and a space."


class SortOptions(KCIFInstruction):
    id = "list:sort_options"
    category = "list"
    group = LIST
    depends_on = "options"

    def operation(self, item: KCIFItem) -> str | None:
        return SEPARATOR.join(sort_options(item.options)) if _sortable(item.options) else None

    def render(self, item: KCIFItem, lang: str = "en") -> str:
        order = _order_words(item.options, lang)
        if lang == "zh":
            return f"输出所有选项，{order}排列，用英文逗号加空格（, ）分隔。"
        return f"Print all the options, sorted {order}, separated by a comma and a space."


class JoinOptions(KCIFInstruction):
    id = "list:join_options"
    category = "list"
    group = LIST
    depends_on = "options"

    def operation(self, item: KCIFItem) -> str:
        return "".join(item.options)

    def render(self, item: KCIFItem, lang: str = "en") -> str:
        if lang == "zh":
            return "把所有选项的内容按原来的顺序直接连接成一个字符串输出，中间不加任何分隔符。"
        return "Join the texts of all the options, in their given order, into one string with nothing between them."


class JoinIncorrect(KCIFInstruction):
    id = "list:join_incorrect"
    category = "list"
    group = LIST_CONDITIONAL
    depends_on = "incorrect"

    def operation(self, item: KCIFItem) -> str:
        return "".join(item.incorrect)

    def render(self, item: KCIFItem, lang: str = "en") -> str:
        if lang == "zh":
            return "把所有错误选项的内容按原来的顺序直接连接成一个字符串输出，中间不加任何分隔符。"
        return "Join the texts of the incorrect options only, in their given order, into one string with nothing between them."


# --- distractors: a condition the item does not meet; the answer must be left as it is ---------


class _Distractor(KCIFInstruction):
    category = "distractor"
    group = "distractor"
    distractor = True

    def condition_holds(self, item: KCIFItem) -> bool:
        """True if the item meets the condition (then this is no distractor for it)."""
        raise NotImplementedError

    def applies(self, item: KCIFItem) -> bool:
        return not self.condition_holds(item)

    def expected_unchecked(self, item: KCIFItem) -> str:
        return item.answer


class WordsIfNumeric(_Distractor):
    id = "distractor:words_if_numeric"

    def condition_holds(self, item: KCIFItem) -> bool:
        return item.numeric_value is not None

    def operation(self, item: KCIFItem) -> str | None:
        return NumberInWords().operation(item)

    def render(self, item: KCIFItem, lang: str = "en") -> str:
        if lang == "zh":
            return "如果正确答案是一个数字，就用中文数字写出它；否则原样输出正确选项的内容。"
        return "If the correct answer is a number, write it in English words; otherwise print the text of the correct option as it is."


class IncrementIfNumeric(_Distractor):
    id = "distractor:increment_if_numeric"

    def condition_holds(self, item: KCIFItem) -> bool:
        return item.numeric_value is not None

    def operation(self, item: KCIFItem) -> str | None:
        return IncrementCorrect().operation(item)

    def render(self, item: KCIFItem, lang: str = "en") -> str:
        if lang == "zh":
            return "如果正确答案是一个数字，就把它加一后输出；否则原样输出正确选项的内容。"
        return "If the correct answer is a number, add one to it and print the result; otherwise print the text of the correct option as it is."


class UppercaseIfLetters(_Distractor):
    id = "distractor:uppercase_if_letters"

    def condition_holds(self, item: KCIFItem) -> bool:
        return _has_letters(item.answer)

    def operation(self, item: KCIFItem) -> str | None:
        return item.answer.upper()

    def render(self, item: KCIFItem, lang: str = "en") -> str:
        if lang == "zh":
            return "如果正确选项的内容含有拉丁字母，就把它全部改成大写后输出；否则原样输出。"
        return "If the text of the correct option contains Latin letters, print it in uppercase; otherwise print it as it is."


class SortIfNumericOptions(_Distractor):
    id = "distractor:sort_if_numeric_options"

    def condition_holds(self, item: KCIFItem) -> bool:
        return _numeric_options(item.options)

    def operation(self, item: KCIFItem) -> str | None:
        return SEPARATOR.join(sort_options(item.incorrect))

    def render(self, item: KCIFItem, lang: str = "en") -> str:
        if lang == "zh":
            return "如果所有选项都是数字，就按数值从小到大输出错误的选项；否则原样输出正确选项的内容。"
        return (
            "If every option is a number, print the incorrect options in ascending order; "
            "otherwise print the text of the correct option as it is."
        )


_ALL: tuple[KCIFInstruction, ...] = (
    PrintAnswer(),
    PrintLabel(),
    AppendString(),
    Uppercase(),
    Capitalize(),
    AlternateCase(),
    Reverse(),
    ReverseAlternateCase(),
    NumberInWords(),
    Thousands(),
    TwoDecimals(),
    Scientific(),
    IncrementCorrect(),
    IncrementIncorrect(),
    SortIncorrect(),
    SortOptions(),
    JoinOptions(),
    JoinIncorrect(),
    WordsIfNumeric(),
    IncrementIfNumeric(),
    UppercaseIfLetters(),
    SortIfNumericOptions(),
)

INSTRUCTIONS: MappingProxyType[str, KCIFInstruction] = MappingProxyType({i.id: i for i in _ALL})
"""id -> instruction: the one registry of KCIF instruction types."""

KCIF_CATEGORIES = (STRING, FORMAT, NUMERIC, LIST_CONDITIONAL, LIST)
"""KCIF's instruction categories, averaged into the IC score (IBM/KCIF evaluation/metric_utils.py)."""

PRINT_GROUPS = (PRINT_ANSWER, PRINT_LABEL)
"""KCIF scores printing the answer and printing its label on their own, outside EM, IC and KTS."""

CATEGORIES = ("answer_format", "string", "numeric", "list")
"""The strict reading's categories, averaged into `ic_score_strict` (print rows included)."""


def get(iid: str) -> KCIFInstruction:
    """The instruction for an id; unknown ids fail with the closest known ids suggested."""
    try:
        return INSTRUCTIONS[iid]
    except KeyError:
        close = difflib.get_close_matches(iid, list(INSTRUCTIONS), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(INSTRUCTIONS)}"
        raise InputError(f"unknown KCIF instruction '{iid}'{hint}") from None


def build_prompt(item: KCIFItem, instruction: KCIFInstruction | None) -> str:
    """The user message: passage, question, labelled options, then the instruction (or the plain ask)."""
    zh = item.language == "zh"
    lines = []
    if item.passage:
        lines += [("文章：" if zh else "Passage: ") + item.passage, ""]
    lines.append(("问题：" if zh else "Question: ") + item.question)
    lines.append("选项：" if zh else "Options:")
    lines += [f"{LABELS[i]}. {o}" for i, o in enumerate(item.options)]
    lines.append("")
    lang = item.language
    if instruction is None:
        lines.append(PLAIN_ASK[lang])
    else:
        lines.append(instruction.render(item, lang) + ("" if zh else " ") + ANSWER_ONLY[lang])
    return "\n".join(lines)
