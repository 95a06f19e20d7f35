"""The 25 IFEval constraint ids, with the reference evaluator's exact strict semantics.

Each class is one id. `check` reproduces the verdict of the IFEval reference checker
(google-research `instruction_following_eval`, also shipped as `lm_eval.tasks.ifeval`) on the
same text; the code is our own, and the conformance test in tests/constraints/test_ifeval_conformance.py
proves verdict-for-verdict equality on the reference's GPT-4 responses. Where the reference is
random or unsafe we are deterministic and say so in a named policy constant (STYLE 5):

    LANGDETECT_SEED                 langdetect is seeded (the reference is not)
    UNDETECTABLE_LANGUAGE_FOLLOWS   text langdetect cannot classify counts as followed (as the reference)
    LETTER_FREQUENCY_NON_LETTER     a non-letter `letter` is counted literally (the reference draws a random letter)
    USER_STRINGS_ESCAPED            keywords/markers are matched literally (the reference compiles them as regexes)
    FALSY_KWARGS_KEPT               a kwarg of 0 is used as given (lm-eval replaces it by a random draw)
    INVALID_KWARGS_REJECTED         missing/out-of-range kwargs are an error (the reference draws random defaults)
    JSON_TOO_DEEP_FAILS             JSON nested beyond Python's recursion limit is not valid JSON (the reference raises)

Checkers never raise on any text and run in linear time: the reference's regexes that
backtrack quadratically on adversarial text (bullets, placeholders, titles, postscripts) are
replaced by equivalent linear scans, each proven equal to the regex by a differential test.
"""

from __future__ import annotations

import functools
import json
import random
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, StrictInt, StrictStr, field_validator, model_validator

from followkit.constraints.base import ConstraintType, Kwargs
from followkit.constraints.edits import (
    POSTSCRIPTS,
    cut_sentences,
    cut_words,
    drop_commas,
    insert_sentence,
    list_items,
    mention_sentence,
    placeholder_sentence,
    regroup,
    sentence_spans,
    tidy_spaces,
    title_from,
)
from followkit.constraints.text import count_capital_words, count_sentences, count_words

# --------------------------------------------------------------------------------------------
# Policies (STYLE 5: every deliberate choice is a named constant with a docstring)

LANGDETECT_SEED = 0
"""langdetect samples n-grams at random; we pin its seed so verification is deterministic.

The reference leaves langdetect unseeded (lm-eval#4213). The seed is applied to each detector we
create, so code elsewhere that changes `DetectorFactory.seed` cannot change our verdicts.
"""

UNDETECTABLE_LANGUAGE_FOLLOWS = True
"""When langdetect finds no features (digits, punctuation, emoji only) the instruction counts as
followed, as in the reference (`language:response_language`, `change_case:english_*`)."""

LETTER_FREQUENCY_NON_LETTER = "literal"
"""`keywords:letter_frequency` with a `letter` that is not an ASCII letter (IFEval keys 1122 '#'
and 1129 '!') is counted literally: we count that character in the lowercased response.

The reference replaces such a letter by `random.choice(string.ascii_letters)`, so its verdict on
those two rows is random; counting what the instruction names is the deterministic reading.
"""

USER_STRINGS_ESCAPED = True
"""Keywords, forbidden words, end/postscript markers and section splitters are matched as literal
text (`re.escape`). The reference pastes them into regexes unescaped; on every IFEval row they
contain no regex metacharacter, so verdicts are identical there, and 'c++' cannot crash us."""

FALSY_KWARGS_KEPT = True
"""A kwarg given as 0 (e.g. `num_highlights: 0`) is used as given, as in Google's reference;
lm-eval drops falsy kwargs and draws a random value instead. Only None values are dropped (the
HF dataset fills every key of every row with None)."""

INVALID_KWARGS_REJECTED = True
"""Missing, mistyped or out-of-range kwargs raise a one-line ConstraintError. The reference fills
them with a random draw (e.g. `nth_paragraph > num_paragraphs`), which makes a verdict random."""

JSON_TOO_DEEP_FAILS = True
"""`detectable_format:json_format` on JSON nested deeper than Python's recursion limit returns
False (not valid JSON for us); the reference's `json.loads` raises RecursionError there."""

RELATIONS = ("less than", "at least")
Relation = Literal["less than", "at least"]
NonNegInt = Annotated[StrictInt, Field(ge=0)]
Word = Annotated[StrictStr, Field(min_length=1)]

# The language codes the reference accepts for `language:response_language` (its LANGUAGE_CODES),
# with the names our renderer uses.
LANGUAGES: dict[str, tuple[str, str]] = {
    "en": ("English", "英语"),
    "es": ("Spanish", "西班牙语"),
    "pt": ("Portuguese", "葡萄牙语"),
    "ar": ("Arabic", "阿拉伯语"),
    "hi": ("Hindi", "印地语"),
    "fr": ("French", "法语"),
    "ru": ("Russian", "俄语"),
    "de": ("German", "德语"),
    "ja": ("Japanese", "日语"),
    "it": ("Italian", "意大利语"),
    "bn": ("Bengali", "孟加拉语"),
    "uk": ("Ukrainian", "乌克兰语"),
    "th": ("Thai", "泰语"),
    "ur": ("Urdu", "乌尔都语"),
    "ta": ("Tamil", "泰米尔语"),
    "te": ("Telugu", "泰卢固语"),
    "bg": ("Bulgarian", "保加利亚语"),
    "ko": ("Korean", "韩语"),
    "pl": ("Polish", "波兰语"),
    "he": ("Hebrew", "希伯来语"),
    "fa": ("Persian", "波斯语"),
    "vi": ("Vietnamese", "越南语"),
    "ne": ("Nepali", "尼泊尔语"),
    "sw": ("Swahili", "斯瓦希里语"),
    "kn": ("Kannada", "卡纳达语"),
    "mr": ("Marathi", "马拉地语"),
    "gu": ("Gujarati", "古吉拉特语"),
    "pa": ("Punjabi", "旁遮普语"),
    "ml": ("Malayalam", "马拉雅拉姆语"),
    "fi": ("Finnish", "芬兰语"),
}

# Plain topic words for synthesis (sample_kwargs); any word works, these read naturally.
_SAMPLE_WORDS = (
    "river", "garden", "journey", "window", "history", "engine", "harvest", "signal", "market",
    "planet", "library", "bridge", "forest", "lantern", "puzzle", "compass", "ocean", "ticket",
    "winter", "theory", "budget", "museum", "village", "rhythm", "canvas", "orbit", "anchor",
)  # fmt: skip
_END_PHRASES = (
    "Is there anything else I can help with?",
    "Any other questions?",
    "Let me know what you think.",
)
_POSTSCRIPT_MARKERS = ("P.S.", "P.P.S")
_SECTION_SPLITTERS = ("Section", "SECTION", "Part", "PARAGRAPH", "Chapter")
CONSTRAINED_RESPONSE_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


class IFEvalKwargs(Kwargs):
    """Kwargs of an IFEval id: frozen, unknown keys rejected, no type coercion ('3' is not 3)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _cmp(actual: int, relation: str, threshold: int) -> bool:
    return actual < threshold if relation == "less than" else actual >= threshold


def _flip(relation: str) -> str:
    return RELATIONS[1] if relation == RELATIONS[0] else RELATIONS[0]


_REL_ZH = {"less than": "少于", "at least": "至少"}


# --------------------------------------------------------------------------------------------
# IFEval-specific measurements (the general word, sentence and token counts are in
# followkit.constraints.text), cached per text: the loose variants of one response are checked
# against several constraints, and a corpus often repeats responses.

_WORD_RE = re.compile(r"\w+")


@functools.lru_cache(maxsize=1)
def _lang_factory():
    from langdetect import detector_factory

    detector_factory.init_factory()  # loads the language profiles once (lazy: not at import)
    return detector_factory._factory


@functools.lru_cache(maxsize=8192)
def detect_language(text: str) -> str | None:
    """The langdetect language code of text with the seed pinned (LANGDETECT_SEED); None if undetectable."""
    from langdetect.lang_detect_exception import LangDetectException

    detector = _lang_factory().create()
    detector.seed = LANGDETECT_SEED
    try:
        detector.append(text)
        return detector.detect()
    except LangDetectException:
        return None


def _language_is(text: str, code: str) -> bool:
    found = detect_language(text)
    if found is None:
        return UNDETECTABLE_LANGUAGE_FOLLOWS
    return found == code


# --- Linear-time equivalents of reference regexes that backtrack quadratically.
_NON_SPACE_RE = re.compile(r"\S")


def count_line_items(text: str, marker: str, next_not: str | None = None) -> int:
    """How many matches `re.findall(r"^\\s*<marker>[^<next_not>].*$", text, re.M)` finds, in linear time.

    `^\\s*` may cross newlines, so the regex rescans a whitespace run from every line start in it
    (quadratic on long blank runs); every line start of one run reaches the same first
    non-space character, so one scan per run gives the same matches.
    """
    n = len(text)
    count = 0
    p = 0  # a line start
    while p < n:
        m = _NON_SPACE_RE.search(text, p)
        if m is None:
            break
        q = m.start()
        if text[q] == marker:
            body = q + 1
            if next_not is not None:
                if body >= n or text[body] == next_not:
                    body = -1
                else:
                    body += 1  # the [^x] character, which may itself be a newline
            if body >= 0:
                count += 1
                end = text.find("\n", body)
                if end == -1:
                    break
                # the match ends before `end`; the regex resumes there, which is a line start
                # only when the preceding character is a newline
                p = end if text[end - 1] == "\n" and end > q + 1 else end + 1
                continue
        nl = text.find("\n", q)
        if nl == -1:
            break
        p = nl + 1
    return count


def count_placeholders(text: str) -> int:
    """How many matches `re.findall(r"\\[.*?\\]", text)` finds, in linear time."""
    count = 0
    pos = 0
    while True:
        i = text.find("[", pos)
        if i == -1:
            return count
        line_end = text.find("\n", i)
        j = text.find("]", i + 1, len(text) if line_end == -1 else line_end)
        if j == -1:
            # no ']' before the line ends: no later '[' on this line can close either
            if line_end == -1:
                return count
            pos = line_end + 1
            continue
        count += 1
        pos = j + 1


def titles(text: str) -> list[str]:
    """The matches of `re.findall(r"<<[^\\n]+>>", text)`, in linear time (one per line at most)."""
    # On a line, the leftmost '<<' pairs with the line's last '>>' (greedy [^\n]+), if that
    # leaves at least one character between them; no other match fits on that line.
    found = []
    pos = 0
    while True:
        i = text.find("<<", pos)
        if i == -1:
            return found
        line_end = text.find("\n", i)
        if line_end == -1:
            line_end = len(text)
        j = text.rfind(">>", i + 3, line_end)
        if j != -1:
            found.append(text[i : j + 2])
        pos = line_end + 1


@functools.lru_cache(maxsize=4096)
def _literal(word: str, flags: int = re.IGNORECASE, bounded: bool = False) -> re.Pattern:
    core = re.escape(word)
    return re.compile(rf"\b{core}\b" if bounded else core, flags)


# --------------------------------------------------------------------------------------------
# The 25 ids


class KeywordsExistence(ConstraintType):
    """keywords:existence: every keyword occurs (case-insensitive substring)."""

    id = "keywords:existence"
    dimension = "inclusion"

    repair_stage = 0
    repair_how = "adds a sentence naming the missing keywords after the first sentence"

    def repair(self, response: str, kw: Kwargs, rng: random.Random) -> str | None:
        missing = [k for k in kw.keywords if not _literal(k).search(response)]
        return insert_sentence(response, mention_sentence(missing, rng)) if missing else response

    class Kwargs(IFEvalKwargs):
        keywords: Annotated[tuple[Word, ...], Field(min_length=1)]

    def check(self, response: str, kw: Kwargs) -> bool:
        return all(_literal(k).search(response) for k in kw.keywords)

    def render(self, kw: Kwargs, lang: str = "en") -> str:
        if lang == "zh":
            return f"回答中必须包含以下关键词：{'、'.join(kw.keywords)}。"
        return f"Include the keywords {', '.join(repr(k) for k in kw.keywords)} in your response."

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {"keywords": rng.sample(_SAMPLE_WORDS, rng.randint(1, 3))}


class KeywordsFrequency(ConstraintType):
    """keywords:frequency: the keyword occurs fewer than / at least N times (non-overlapping)."""

    id = "keywords:frequency"
    dimension = "inclusion"

    repair_stage = 0
    repair_how = "'at least': adds sentences that use the word; 'less than': deletes the last occurrences"

    def repair(self, response: str, kw: Kwargs, rng: random.Random) -> str | None:
        found = list(_literal(kw.keyword).finditer(response))
        if kw.relation == "at least":
            need = kw.frequency - len(found)
            return (
                insert_sentence(response, mention_sentence([kw.keyword] * need, rng))
                if need > 0
                else response
            )
        extra = len(found) - (kw.frequency - 1)
        if kw.frequency < 1 or extra <= 0:
            return None if kw.frequency < 1 else response
        out = response
        for m in reversed(found[-extra:]):
            out = out[: m.start()] + out[m.end() :]
        return tidy_spaces(out)

    class Kwargs(IFEvalKwargs):
        keyword: Word
        frequency: NonNegInt
        relation: Relation

        @field_validator("keyword")
        @classmethod
        def _strip(cls, v: str) -> str:
            if not v.strip():
                raise ValueError("must not be blank")
            return v.strip()  # the reference strips the keyword

    def check(self, response: str, kw: Kwargs) -> bool:
        return _cmp(len(_literal(kw.keyword).findall(response)), kw.relation, kw.frequency)

    def render(self, kw: Kwargs, lang: str = "en") -> str:
        if lang == "zh":
            return f"回答中单词“{kw.keyword}”出现的次数{_REL_ZH[kw.relation]} {kw.frequency} 次。"
        return f"The word '{kw.keyword}' should appear {kw.relation} {kw.frequency} times in your response."

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {
            "keyword": rng.choice(_SAMPLE_WORDS),
            "frequency": rng.randint(1, 4),
            "relation": rng.choice(RELATIONS),
        }

    def perturb(self, kw: Kwargs, rng: random.Random) -> dict[str, Any] | None:
        return kw.model_dump() | {"relation": _flip(kw.relation)}


class KeywordsForbiddenWords(ConstraintType):
    """keywords:forbidden_words: no forbidden word occurs as a whole word (case-insensitive)."""

    id = "keywords:forbidden_words"
    dimension = "exclusion"

    repair_stage = 0
    repair_how = "deletes every whole-word occurrence of a forbidden word"

    def repair(self, response: str, kw: Kwargs, rng: random.Random) -> str | None:
        out = response
        for w in kw.forbidden_words:
            out = _literal(w, bounded=True).sub("", out)
        return tidy_spaces(out)

    class Kwargs(IFEvalKwargs):
        forbidden_words: Annotated[tuple[Word, ...], Field(min_length=1)]

    def check(self, response: str, kw: Kwargs) -> bool:
        return not any(_literal(w, bounded=True).search(response) for w in kw.forbidden_words)

    def render(self, kw: Kwargs, lang: str = "en") -> str:
        if lang == "zh":
            return f"回答中不得出现以下词语：{'、'.join(kw.forbidden_words)}。"
        return f"Do not use the words {', '.join(repr(w) for w in kw.forbidden_words)} anywhere in your response."

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {"forbidden_words": rng.sample(_SAMPLE_WORDS, rng.randint(1, 3))}


class KeywordsLetterFrequency(ConstraintType):
    """keywords:letter_frequency: a letter occurs fewer than / at least N times (case-insensitive)."""

    id = "keywords:letter_frequency"
    dimension = "linguistic_characteristics"

    class Kwargs(IFEvalKwargs):
        letter: Annotated[StrictStr, Field(min_length=1, max_length=1)]
        let_frequency: NonNegInt
        let_relation: Relation

    def check(self, response: str, kw: Kwargs) -> bool:
        # LETTER_FREQUENCY_NON_LETTER: any single character is counted as given.
        return _cmp(response.lower().count(kw.letter.lower()), kw.let_relation, kw.let_frequency)

    def render(self, kw: Kwargs, lang: str = "en") -> str:
        if lang == "zh":
            return f"回答中字母“{kw.letter}”出现的次数{_REL_ZH[kw.let_relation]} {kw.let_frequency} 次。"
        return f"The letter '{kw.letter}' should appear {kw.let_relation} {kw.let_frequency} times in your response."

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {
            "letter": rng.choice("abcdefghijklmnopqrstuvwxyz"),
            "let_frequency": rng.randint(1, 12),
            "let_relation": rng.choice(RELATIONS),
        }

    def perturb(self, kw: Kwargs, rng: random.Random) -> dict[str, Any] | None:
        return kw.model_dump() | {"let_relation": _flip(kw.let_relation)}


class ResponseLanguage(ConstraintType):
    """language:response_language: langdetect classifies the whole response as the language."""

    id = "language:response_language"
    dimension = "multilingual"

    class Kwargs(IFEvalKwargs):
        language: StrictStr

        @field_validator("language")
        @classmethod
        def _known(cls, v: str) -> str:
            if v not in LANGUAGES:
                raise ValueError(f"unsupported language code {v!r}; one of {', '.join(LANGUAGES)}")
            return v

    def check(self, response: str, kw: Kwargs) -> bool:
        return _language_is(response, kw.language)

    def render(self, kw: Kwargs, lang: str = "en") -> str:
        en, zh = LANGUAGES[kw.language]
        if lang == "zh":
            return f"整个回答必须使用{zh}，不得夹杂其他语言。"
        return f"Write your entire response in {en}; no other language is allowed."

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {"language": rng.choice(sorted(LANGUAGES))}

    def perturb(self, kw: Kwargs, rng: random.Random) -> dict[str, Any] | None:
        # Any other language: a response detected as one code is not detected as another
        # (except undetectable text, which follows every language: UNDETECTABLE_LANGUAGE_FOLLOWS).
        return {"language": rng.choice(sorted(c for c in LANGUAGES if c != kw.language))}


class NumberSentences(ConstraintType):
    """length_constraints:number_sentences: Punkt sentence count fewer than / at least N."""

    id = "length_constraints:number_sentences"
    dimension = "numerical"

    repair_how = "'less than': keeps the first N-1 sentences; 'at least' needs new content (none)"

    def repair(self, response: str, kw: Kwargs, rng: random.Random) -> str | None:
        if kw.relation == "at least":
            return None
        return cut_sentences(response, kw.num_sentences - 1)

    class Kwargs(IFEvalKwargs):
        num_sentences: NonNegInt
        relation: Relation

    def check(self, response: str, kw: Kwargs) -> bool:
        return _cmp(count_sentences(response), kw.relation, kw.num_sentences)

    def render(self, kw: Kwargs, lang: str = "en") -> str:
        if lang == "zh":
            return f"回答的句子数{_REL_ZH[kw.relation]} {kw.num_sentences} 句。"
        return f"Your response should contain {kw.relation} {kw.num_sentences} sentences."

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {"num_sentences": rng.randint(2, 20), "relation": rng.choice(RELATIONS)}

    def perturb(self, kw: Kwargs, rng: random.Random) -> dict[str, Any] | None:
        return kw.model_dump() | {"relation": _flip(kw.relation)}


class NumberParagraphs(ConstraintType):
    """length_constraints:number_paragraphs: exactly N paragraphs separated by `***`."""

    id = "length_constraints:number_paragraphs"
    dimension = "numerical"

    repair_how = "regroups the text into N blocks (at blank lines, else between sentences) joined by ***"

    def repair(self, response: str, kw: Kwargs, rng: random.Random) -> str | None:
        parts = regroup(self._SPLIT.sub("\n\n", response), kw.num_paragraphs)
        return "\n\n***\n\n".join(parts) if parts else None

    _SPLIT: ClassVar[re.Pattern] = re.compile(r"\s?\*\*\*\s?")

    class Kwargs(IFEvalKwargs):
        num_paragraphs: NonNegInt

    def check(self, response: str, kw: Kwargs) -> bool:
        parts = self._SPLIT.split(response)
        n = len(parts)
        for i, part in enumerate(parts):
            if not part.strip():
                if i == 0 or i == len(parts) - 1:
                    n -= 1
                else:
                    return False  # an empty paragraph between two dividers
        return n == kw.num_paragraphs

    def render(self, kw: Kwargs, lang: str = "en") -> str:
        if lang == "zh":
            return f"回答应分为 {kw.num_paragraphs} 段，段与段之间用 markdown 分隔线 *** 隔开。"
        return f"Write exactly {kw.num_paragraphs} paragraphs, separated from each other by the markdown divider ***."

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {"num_paragraphs": rng.randint(2, 6)}

    def perturb(self, kw: Kwargs, rng: random.Random) -> dict[str, Any] | None:
        return {"num_paragraphs": kw.num_paragraphs + rng.choice((1, 2))}


class NumberWords(ConstraintType):
    """length_constraints:number_words: \\w-run count fewer than / at least N."""

    id = "length_constraints:number_words"
    dimension = "numerical"

    repair_how = "'less than': cuts after the (N-1)-th word; 'at least' needs new content (none)"

    def repair(self, response: str, kw: Kwargs, rng: random.Random) -> str | None:
        if kw.relation == "at least":
            return None
        return cut_words(response, kw.num_words - 1)

    class Kwargs(IFEvalKwargs):
        num_words: NonNegInt
        relation: Relation

    def check(self, response: str, kw: Kwargs) -> bool:
        return _cmp(count_words(response), kw.relation, kw.num_words)

    def render(self, kw: Kwargs, lang: str = "en") -> str:
        if lang == "zh":
            return f"回答的英文单词数{_REL_ZH[kw.relation]} {kw.num_words} 个。"
        return f"Answer with {kw.relation} {kw.num_words} words."

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {
            "num_words": rng.choice((50, 100, 150, 200, 300, 400, 500)),
            "relation": rng.choice(RELATIONS),
        }

    def perturb(self, kw: Kwargs, rng: random.Random) -> dict[str, Any] | None:
        return kw.model_dump() | {"relation": _flip(kw.relation)}


class NthParagraphFirstWord(ConstraintType):
    """length_constraints:nth_paragraph_first_word: N paragraphs (split at '\\n\\n'); paragraph i starts with a word."""

    id = "length_constraints:nth_paragraph_first_word"
    dimension = "hierarchical_structure"

    repair_how = "regroups into N blank-line paragraphs and starts paragraph i with the word"

    def repair(self, response: str, kw: Kwargs, rng: random.Random) -> str | None:
        parts = regroup(response, kw.num_paragraphs)
        if not parts:
            return None
        i = kw.nth_paragraph - 1
        if not self.check(parts[i], kw.model_copy(update={"num_paragraphs": 1, "nth_paragraph": 1})):
            parts[i] = f"{kw.first_word.capitalize()} {parts[i]}"
        return "\n\n".join(parts)

    _PUNCT: ClassVar[frozenset[str]] = frozenset(".,?!'\"")

    class Kwargs(IFEvalKwargs):
        num_paragraphs: Annotated[StrictInt, Field(ge=1)]
        nth_paragraph: Annotated[StrictInt, Field(ge=1)]
        first_word: Word

        @field_validator("first_word")
        @classmethod
        def _lower(cls, v: str) -> str:
            return v.lower()  # the reference lowercases the expected word

        @model_validator(mode="after")
        def _in_range(self) -> NthParagraphFirstWord.Kwargs:
            if self.nth_paragraph > self.num_paragraphs:
                raise ValueError("nth_paragraph must not exceed num_paragraphs")
            return self

    def check(self, response: str, kw: Kwargs) -> bool:
        paragraphs = response.split("\n\n")
        n = sum(1 for p in paragraphs if p.strip())
        if kw.nth_paragraph > n:
            return False
        para = paragraphs[kw.nth_paragraph - 1].strip()
        if not para:
            return False
        word = para.split()[0].strip().lstrip("'").lstrip('"')
        first = []
        for ch in word:
            if ch in self._PUNCT:
                break
            first.append(ch.lower())
        return n == kw.num_paragraphs and "".join(first) == kw.first_word

    def render(self, kw: Kwargs, lang: str = "en") -> str:
        if lang == "zh":
            return (
                f"回答应有 {kw.num_paragraphs} 段，段落之间只用一个空行（两个换行符）分隔；"
                f"第 {kw.nth_paragraph} 段必须以单词“{kw.first_word}”开头。"
            )
        return (
            f"Write {kw.num_paragraphs} paragraphs separated only by blank lines (two newlines); "
            f"paragraph {kw.nth_paragraph} must start with the word '{kw.first_word}'."
        )

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        n = rng.randint(2, 5)
        return {
            "num_paragraphs": n,
            "nth_paragraph": rng.randint(1, n),
            "first_word": rng.choice(_SAMPLE_WORDS),
        }

    def perturb(self, kw: Kwargs, rng: random.Random) -> dict[str, Any] | None:
        return kw.model_dump() | {"num_paragraphs": kw.num_paragraphs + 1}


class NumberPlaceholders(ConstraintType):
    """detectable_content:number_placeholders: at least N `[...]` placeholders."""

    id = "detectable_content:number_placeholders"
    dimension = "template"

    repair_stage = 0
    repair_how = "adds a sentence with the missing [placeholders]"

    def repair(self, response: str, kw: Kwargs, rng: random.Random) -> str | None:
        need = kw.num_placeholders - count_placeholders(response)
        return insert_sentence(response, placeholder_sentence(need, rng)) if need > 0 else response

    class Kwargs(IFEvalKwargs):
        num_placeholders: NonNegInt

    def check(self, response: str, kw: Kwargs) -> bool:
        return count_placeholders(response) >= kw.num_placeholders

    def render(self, kw: Kwargs, lang: str = "en") -> str:
        if lang == "zh":
            return f"回答中至少包含 {kw.num_placeholders} 个用方括号表示的占位符，例如 [地址]。"
        return f"Include at least {kw.num_placeholders} placeholders in square brackets, such as [address]."

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {"num_placeholders": rng.randint(1, 5)}


class Postscript(ConstraintType):
    """detectable_content:postscript: a postscript starting with the marker (P.S. / P.P.S / other)."""

    id = "detectable_content:postscript"
    dimension = "text_pattern"

    repair_stage = 3
    repair_how = "appends a one-line postscript that starts with the marker"

    def repair(self, response: str, kw: Kwargs, rng: random.Random) -> str | None:
        marker = kw.postscript_marker
        if marker == "P.P.S":
            marker = "P.P.S."
        return f"{response.rstrip()}\n\n{marker} {rng.choice(POSTSCRIPTS)}"

    _PS: ClassVar[re.Pattern] = re.compile(r"p\.\s?s\.")
    _PPS: ClassVar[re.Pattern] = re.compile(r"p\.\s?p\.\s?s")

    class Kwargs(IFEvalKwargs):
        postscript_marker: Word

        @field_validator("postscript_marker")
        @classmethod
        def _strip(cls, v: str) -> str:
            if not v.strip():
                raise ValueError("must not be blank")
            return v.strip()

    def check(self, response: str, kw: Kwargs) -> bool:
        # The reference's `\s*<marker>.*$` (multiline findall) matches iff the marker occurs at
        # all: `\s*` may be empty and `.*$` always completes the line. A search is linear.
        text = response.lower()
        if kw.postscript_marker == "P.P.S":
            return self._PPS.search(text) is not None
        if kw.postscript_marker == "P.S.":
            return self._PS.search(text) is not None
        return kw.postscript_marker.lower() in text

    def render(self, kw: Kwargs, lang: str = "en") -> str:
        if lang == "zh":
            return f"在回答末尾加一段以“{kw.postscript_marker}”开头的附言。"
        return f"End your response with a postscript that starts with {kw.postscript_marker}"

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {"postscript_marker": rng.choice(_POSTSCRIPT_MARKERS)}


class NumberBulletLists(ConstraintType):
    """detectable_format:number_bullet_lists: exactly N markdown bullets (`* ` or `- ` lines)."""

    id = "detectable_format:number_bullet_lists"
    dimension = "numbering_and_list"

    repair_how = "turns the text into exactly N markdown bullets (one per group of sentences)"

    def repair(self, response: str, kw: Kwargs, rng: random.Random) -> str | None:
        parts = list_items(response, kw.num_bullets)
        return "\n".join(f"* {p}" for p in parts) if parts else None

    class Kwargs(IFEvalKwargs):
        num_bullets: NonNegInt

    def check(self, response: str, kw: Kwargs) -> bool:
        n = count_line_items(response, "*", next_not="*") + count_line_items(response, "-")
        return n == kw.num_bullets

    def render(self, kw: Kwargs, lang: str = "en") -> str:
        if lang == "zh":
            return f"回答必须恰好包含 {kw.num_bullets} 个 markdown 项目符号，格式如：\n* 第一点\n* 第二点"
        return f"Your answer must contain exactly {kw.num_bullets} markdown bullet points, like:\n* First point\n* Second point"

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {"num_bullets": rng.randint(2, 6)}

    def perturb(self, kw: Kwargs, rng: random.Random) -> dict[str, Any] | None:
        return {"num_bullets": kw.num_bullets + rng.choice((1, 2))}


class ConstrainedResponse(ConstraintType):
    """detectable_format:constrained_response: contains one of 'My answer is yes./no./maybe.'."""

    id = "detectable_format:constrained_response"
    dimension = "template"

    def check(self, response: str, kw: Any) -> bool:
        text = response.strip()
        return any(opt in text for opt in CONSTRAINED_RESPONSE_OPTIONS)

    def render(self, kw: Any, lang: str = "en") -> str:
        opts = " / ".join(f'"{o}"' for o in CONSTRAINED_RESPONSE_OPTIONS)
        if lang == "zh":
            return f"只能用以下选项之一作答：{opts}"
        return f"Answer with one of these options: {opts}"

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {}


class NumberHighlightedSections(ConstraintType):
    """detectable_format:number_highlighted_sections: at least N `*highlighted*` spans (`**x**` counts twice)."""

    id = "detectable_format:number_highlighted_sections"
    dimension = "text_pattern"

    repair_how = "wraps whole sentences in *asterisks* until N are highlighted"

    def repair(self, response: str, kw: Kwargs, rng: random.Random) -> str | None:
        out = response
        for start, end in reversed(sentence_spans(response)):
            if self.check(out, kw):
                break
            s = response[start:end]
            if "*" in s or "\n" in s or not s.strip():
                continue
            out = out[:start] + f"*{s}*" + out[end:]
        return out

    _SINGLE: ClassVar[re.Pattern] = re.compile(r"\*[^\n*]*\*")
    _DOUBLE: ClassVar[re.Pattern] = re.compile(r"\*\*[^\n*]*\*\*")

    class Kwargs(IFEvalKwargs):
        num_highlights: NonNegInt

    def check(self, response: str, kw: Kwargs) -> bool:
        if "*" not in response:
            return kw.num_highlights <= 0
        n = sum(1 for h in self._SINGLE.findall(response) if h.strip("*").strip())
        n += sum(1 for h in self._DOUBLE.findall(response) if h[2:-2].strip())
        return n >= kw.num_highlights

    def render(self, kw: Kwargs, lang: str = "en") -> str:
        if lang == "zh":
            return f"用 markdown 突出显示至少 {kw.num_highlights} 处内容，例如 *重点部分*。"
        return f"Highlight at least {kw.num_highlights} sections of your answer with markdown, e.g. *highlighted section*."

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {"num_highlights": rng.randint(1, 4)}


class MultipleSections(ConstraintType):
    """detectable_format:multiple_sections: at least N sections marked '<splitter> <number>'."""

    id = "detectable_format:multiple_sections"
    dimension = "hierarchical_structure"

    repair_how = "regroups the text into N blocks headed '<splitter> 1' .. '<splitter> N'"

    def repair(self, response: str, kw: Kwargs, rng: random.Random) -> str | None:
        parts = regroup(response, max(kw.num_sections, 1))
        if not parts:
            return None
        return "\n\n".join(f"{kw.section_spliter} {i}\n{p}" for i, p in enumerate(parts, 1))

    class Kwargs(IFEvalKwargs):
        section_spliter: Word  # the reference's spelling of the key
        num_sections: NonNegInt

        @field_validator("section_spliter")
        @classmethod
        def _strip(cls, v: str) -> str:
            if not v.strip():
                raise ValueError("must not be blank")
            return v.strip()

    def check(self, response: str, kw: Kwargs) -> bool:
        rx = _literal(kw.section_spliter, 0)
        splitter = re.compile(r"\s?" + rx.pattern + r"\s?\d+\s?")
        return len(splitter.split(response)) - 1 >= kw.num_sections

    def render(self, kw: Kwargs, lang: str = "en") -> str:
        s = kw.section_spliter
        if lang == "zh":
            return f"回答必须包含 {kw.num_sections} 个部分，每部分以“{s} 编号”开头，例如：\n{s} 1\n[第一部分内容]\n{s} 2\n[第二部分内容]"
        return (
            f"Your response must have {kw.num_sections} sections, each starting with '{s} X', like:\n"
            f"{s} 1\n[content of section 1]\n{s} 2\n[content of section 2]"
        )

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {"section_spliter": rng.choice(_SECTION_SPLITTERS), "num_sections": rng.randint(2, 5)}


class JsonFormat(ConstraintType):
    """detectable_format:json_format: the response (optionally in ``` fences) parses as JSON."""

    id = "detectable_format:json_format"
    dimension = "output_format"

    repair_stage = 5
    repair_how = 'wraps the text as one JSON string: {"response": "..."}'

    def repair(self, response: str, kw: Any, rng: random.Random) -> str | None:
        return json.dumps({"response": response.strip()}, ensure_ascii=False)

    def check(self, response: str, kw: Any) -> bool:
        text = response.strip()
        for prefix in ("```json", "```Json", "```JSON", "```"):
            text = text.removeprefix(prefix)
        text = text.removesuffix("```").strip()
        try:
            json.loads(text)
        except ValueError:
            return False
        except RecursionError:
            return not JSON_TOO_DEEP_FAILS
        return True

    def render(self, kw: Any, lang: str = "en") -> str:
        if lang == "zh":
            return "整个输出必须是 JSON 格式，可以用 markdown 代码块 ``` 包裹。"
        return "Wrap your entire output in JSON format; markdown code fences (```) are allowed."

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {}


class Title(ConstraintType):
    """detectable_format:title: a non-blank title in double angular brackets, <<like this>>."""

    id = "detectable_format:title"
    dimension = "text_pattern"

    repair_stage = 3
    repair_how = "puts a <<title>> made of the first words of the text above it"

    def repair(self, response: str, kw: Any, rng: random.Random) -> str | None:
        return f"<<{title_from(response)}>>\n\n{response.lstrip()}"

    def check(self, response: str, kw: Any) -> bool:
        if "<<" not in response:
            return False
        return any(t.lstrip("<").rstrip(">").strip() for t in titles(response))

    def render(self, kw: Any, lang: str = "en") -> str:
        if lang == "zh":
            return "回答必须有一个用双尖括号括起来的标题，例如 <<欢乐之歌>>。"
        return "Give your answer a title wrapped in double angular brackets, such as <<poem of joy>>."

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {}


class TwoResponses(ConstraintType):
    """combination:two_responses: exactly two different responses separated by `******`."""

    id = "combination:two_responses"
    dimension = "output_format"

    repair_how = "splits the text into two halves between sentences, separated by ******"

    def repair(self, response: str, kw: Any, rng: random.Random) -> str | None:
        parts = regroup(response.replace("******", ""), 2)
        return f"{parts[0]}\n******\n{parts[1]}" if parts else None

    def check(self, response: str, kw: Any) -> bool:
        parts = response.split("******")
        valid = []
        for i, part in enumerate(parts):
            if not part.strip():
                if i != 0 and i != len(parts) - 1:
                    return False
            else:
                valid.append(part)
        return len(valid) == 2 and valid[0].strip() != valid[1].strip()

    def render(self, kw: Any, lang: str = "en") -> str:
        if lang == "zh":
            return "给出两个不同的回答，两个回答之间（且仅在此处）用 6 个星号 ****** 分隔。"
        return "Give two different responses, separated by six asterisks (******) and nothing else."

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {}


class RepeatPrompt(ConstraintType):
    """combination:repeat_prompt: the response starts with the request, repeated word for word."""

    id = "combination:repeat_prompt"
    dimension = "template"

    repair_stage = 3
    repair_how = "puts the request, word for word, before the answer"

    def repair(self, response: str, kw: Kwargs, rng: random.Random) -> str | None:
        return f"{kw.prompt_to_repeat.strip()}\n\n{response.lstrip()}"

    class Kwargs(IFEvalKwargs):
        prompt_to_repeat: Word

    def check(self, response: str, kw: Kwargs) -> bool:
        want = kw.prompt_to_repeat.strip().lower()
        # Lower only the head that can match: lower() maps each character to one or more,
        # independently of context except for the final-sigma rule, so fall back there.
        head = response.lstrip()[: len(want)]
        if "Σ" in head:
            return response.strip().lower().startswith(want)
        return head.lower().startswith(want)

    def render(self, kw: Kwargs, lang: str = "en") -> str:
        if lang == "zh":
            return "先一字不改地复述请求（复述之前不要写任何内容；本句不属于需要复述的请求），然后再作答。"
        return (
            "First repeat the request word for word, without any change and with nothing before it "
            "(this sentence is not part of the request), then give your answer."
        )

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {
            "prompt_to_repeat": (task or f"Write a short note about the {rng.choice(_SAMPLE_WORDS)}.").strip()
        }

    def perturb(self, kw: Kwargs, rng: random.Random) -> dict[str, Any] | None:
        # Prepend a word whose first letter differs from the request's: a response that starts
        # with the request cannot also start with the new request.
        first = kw.prompt_to_repeat.strip()[:1].lower()
        word = rng.choice([w for w in ("Please", "Kindly", "Now") if w[0].lower() != first])
        return {"prompt_to_repeat": f"{word} {kw.prompt_to_repeat.strip()}"}


class EndChecker(ConstraintType):
    """startend:end_checker: the response ends with the exact phrase (case-insensitive, trailing quotes ignored)."""

    id = "startend:end_checker"
    dimension = "template"

    repair_stage = 4
    repair_how = "appends the end phrase (inside closing quotes where the text is quoted)"

    def repair(self, response: str, kw: Kwargs, rng: random.Random) -> str | None:
        body = response.strip()
        if len(body) > 1 and body[0] == '"' and body[-1] == '"':
            return f'{body[:-1].rstrip()} {kw.end_phrase}"'
        return f"{body} {kw.end_phrase}" if body else kw.end_phrase

    class Kwargs(IFEvalKwargs):
        end_phrase: Word

        @field_validator("end_phrase")
        @classmethod
        def _strip(cls, v: str) -> str:
            if not v.strip():
                raise ValueError("must not be blank")
            return v.strip()

    def check(self, response: str, kw: Kwargs) -> bool:
        want = kw.end_phrase.strip().lower()
        text = response.strip().strip('"')
        tail = text[-len(want) :]  # see RepeatPrompt.check: lower only what can match
        if "Σ" in tail:
            return text.lower().endswith(want)
        return tail.lower().endswith(want)

    def render(self, kw: Kwargs, lang: str = "en") -> str:
        if lang == "zh":
            return f"回答必须以这句话结尾：{kw.end_phrase} 这句话之后不得再有任何内容。"
        return (
            f"Finish your response with this exact phrase: {kw.end_phrase} No other words should follow it."
        )

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {"end_phrase": rng.choice(_END_PHRASES)}

    def perturb(self, kw: Kwargs, rng: random.Random) -> dict[str, Any] | None:
        # Append a word whose last character differs from the phrase's: a text ending with the
        # old phrase ends with its last character, so it cannot end with the new one.
        last = kw.end_phrase.strip()[-1:].lower()
        word = rng.choice([w for w in ("Thanks!", "Goodbye.", "Cheers") if w[-1].lower() != last])
        return {"end_phrase": f"{kw.end_phrase.strip()} {word}"}


class Quotation(ConstraintType):
    """startend:quotation: the whole response is wrapped in double quotation marks."""

    id = "startend:quotation"
    dimension = "text_pattern"

    repair_stage = 5
    repair_how = "wraps the whole text in double quotation marks"

    def repair(self, response: str, kw: Any, rng: random.Random) -> str | None:
        return f'"{response.strip()}"'

    def check(self, response: str, kw: Any) -> bool:
        text = response.strip()
        return len(text) > 1 and text[0] == '"' and text[-1] == '"'

    def render(self, kw: Any, lang: str = "en") -> str:
        if lang == "zh":
            return '用英文双引号 " 把整个回答括起来。'
        return "Wrap your entire response in double quotation marks."

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {}


class CapitalWordFrequency(ConstraintType):
    """change_case:capital_word_frequency: all-capital word tokens fewer than / at least N."""

    id = "change_case:capital_word_frequency"
    dimension = "text_pattern"

    repair_stage = 2
    repair_how = (
        "'less than': lowers the last all-capital words; 'at least': capitalises the first long words"
    )

    def repair(self, response: str, kw: Kwargs, rng: random.Random) -> str | None:
        words = list(_WORD_RE.finditer(response))
        out = response
        if kw.capital_relation == "less than":
            if kw.capital_frequency < 1:
                return None
            for m in reversed(words):
                if self.check(out, kw):
                    break
                w = m.group(0)
                if w.isupper():
                    low = w.lower() if len(w) == 1 else w.capitalize()
                    out = out[: m.start()] + low + out[m.end() :]
            return out
        for m in words:
            if self.check(out, kw):
                break
            w = m.group(0)
            if len(w) > 3 and w.isalpha() and not w.isupper():
                out = out[: m.start()] + w.upper() + out[m.end() :]
        return out

    class Kwargs(IFEvalKwargs):
        capital_frequency: NonNegInt
        capital_relation: Relation

    def check(self, response: str, kw: Kwargs) -> bool:
        return _cmp(count_capital_words(response), kw.capital_relation, kw.capital_frequency)

    def render(self, kw: Kwargs, lang: str = "en") -> str:
        if lang == "zh":
            return (
                f"回答中全部大写的英文单词出现次数{_REL_ZH[kw.capital_relation]} {kw.capital_frequency} 次。"
            )
        return f"Words written in all capital letters should appear {kw.capital_relation} {kw.capital_frequency} times."

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {"capital_frequency": rng.randint(1, 20), "capital_relation": rng.choice(RELATIONS)}

    def perturb(self, kw: Kwargs, rng: random.Random) -> dict[str, Any] | None:
        return kw.model_dump() | {"capital_relation": _flip(kw.capital_relation)}


class EnglishCapital(ConstraintType):
    """change_case:english_capital: the response is upper-case (`str.isupper`) and detected as English."""

    id = "change_case:english_capital"
    dimension = "text_pattern"

    repair_stage = 2
    repair_how = "upper-cases the text (English text only)"

    def repair(self, response: str, kw: Any, rng: random.Random) -> str | None:
        return response.upper()

    def check(self, response: str, kw: Any) -> bool:
        return response.isupper() and _language_is(response, "en")

    def render(self, kw: Any, lang: str = "en") -> str:
        if lang == "zh":
            return "整个回答必须用英语书写，并且全部使用大写字母。"
        return "Your entire response must be in English and in capital letters only."

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {}


class EnglishLowercase(ConstraintType):
    """change_case:english_lowercase: the response is lower-case (`str.islower`) and detected as English."""

    id = "change_case:english_lowercase"
    dimension = "text_pattern"

    repair_stage = 2
    repair_how = "lower-cases the text (English text only)"

    def repair(self, response: str, kw: Any, rng: random.Random) -> str | None:
        return response.lower()

    def check(self, response: str, kw: Any) -> bool:
        return response.islower() and _language_is(response, "en")

    def render(self, kw: Any, lang: str = "en") -> str:
        if lang == "zh":
            return "整个回答必须用英语书写，并且全部使用小写字母，不允许出现大写字母。"
        return "Your entire response must be in English and in lowercase letters only; no capital letters."

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {}


class NoComma(ConstraintType):
    """punctuation:no_comma: the response contains no ',' (ASCII comma)."""

    id = "punctuation:no_comma"
    dimension = "grammar_structure"

    repair_stage = 2
    repair_how = "deletes commas: thousands separators closed up, others replaced by a space"

    def repair(self, response: str, kw: Any, rng: random.Random) -> str | None:
        return drop_commas(response, ",")

    def check(self, response: str, kw: Any) -> bool:
        return "," not in response

    def render(self, kw: Any, lang: str = "en") -> str:
        if lang == "zh":
            return "整个回答中不得使用英文逗号 “,”。"
        return "Do not use any commas anywhere in your response."

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {}


CONSTRAINTS: list[ConstraintType] = [
    KeywordsExistence(),
    KeywordsFrequency(),
    KeywordsForbiddenWords(),
    KeywordsLetterFrequency(),
    ResponseLanguage(),
    NumberSentences(),
    NumberParagraphs(),
    NumberWords(),
    NthParagraphFirstWord(),
    NumberPlaceholders(),
    Postscript(),
    NumberBulletLists(),
    ConstrainedResponse(),
    NumberHighlightedSections(),
    MultipleSections(),
    JsonFormat(),
    Title(),
    TwoResponses(),
    RepeatPrompt(),
    EndChecker(),
    Quotation(),
    CapitalWordFrequency(),
    EnglishCapital(),
    EnglishLowercase(),
    NoComma(),
]
