"""followkit's own constraint ids: Chinese-aware length, keywords and punctuation, and TRACE's rule-decidable formats.

Naming scheme (group prefixes distinct from IFEval's and IFBench's):
- `zh_<group>:<name>`: checks whose text units are Chinese-aware and that work on mixed
  Chinese/English text: a CJK ideograph is one word unit (other `\\w` runs count once each);
  sentences end at 。！？ (and !?, an ASCII period before whitespace, a line end); paragraphs are
  separated by blank lines; keywords match as substrings (Chinese has no spaces), Latin letters
  case-insensitively. Groups: zh_length, zh_keywords, zh_startend, zh_punctuation.
- `trace_<group>:<name>`: TRACE dimensions a rule can decide, language-agnostic: output format
  (JSON, markdown table, headings, numbered and bullet lists) and response language.

Length ids take `at_least` and/or `at_most` (at least one; equal values mean "exactly"), so that
`perturb` can flip a one-sided bound and a response that satisfied the original always fails.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

from pydantic import Field, StrictInt, StrictStr, field_validator, model_validator

from followkit.constraints.base import ConstraintType, Kwargs, NoKwargs
from followkit.constraints.edits import (
    drop_commas,
    insert_sentence,
    list_items,
    mention_sentence,
    regroup,
    sentence_spans,
    tidy_spaces,
    title_from,
)
from followkit.constraints.text import count_cjk, count_words, has_cjk, paragraphs, sentences_zh
from followkit.core.errors import ConstraintError

ZH_MIN_CJK_SHARE = 0.5
"""`trace_language:response_language`: text is Chinese when CJK ideographs make up at least this
share of its word units (ideographs plus non-CJK letter runs). Mixed text such as
"Python 是一种编程语言" is Chinese; an English sentence quoting one Chinese name is not. Text is
English when it is not Chinese by this rule and at least `EN_MIN_ASCII_SHARE` of its letter runs
are plain ASCII (so kana, Cyrillic or Greek text is neither)."""

EN_MIN_ASCII_SHARE = 0.5
"""See `ZH_MIN_CJK_SHARE`."""

UNDETECTABLE_LANGUAGE_FOLLOWS = True
"""`trace_language:response_language`: text with no word unit containing a letter (digits,
punctuation, emoji only) follows either language, as IFEval's language check does."""

KEYWORD_MATCH_CASEFOLD = True
"""`zh_keywords:*`, `zh_startend:*`: matching is on casefolded text, so Latin letters are
case-insensitive; CJK text has no case and is unaffected."""

JSON_CODE_FENCE_ALLOWED = True
"""`trace_format:json`: a response wrapped in one ```json (or ```) code fence is judged on its
content, as IFEval's json_format does."""

RELATIONS = ("at least", "less than")


def _pick(lang: str, en: str, zh: str) -> str:
    if lang == "zh":
        return zh
    if lang == "en":
        return en
    raise ConstraintError(f"unknown render language '{lang}' (expected 'en' or 'zh')")


# ---------------------------------------------------------------------------------------------
# Length: a count of text units within [at_least, at_most].


class RangeKwargs(Kwargs):
    """A count bound: at least one of at_least / at_most; at_least <= at_most."""

    at_least: StrictInt | None = Field(default=None, ge=0)
    at_most: StrictInt | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounds(self):
        if self.at_least is None and self.at_most is None:
            raise ValueError("give at_least, at_most or both")
        if self.at_least is not None and self.at_most is not None and self.at_least > self.at_most:
            raise ValueError("at_least must be <= at_most")
        return self


class _Length(ConstraintType):
    """A length constraint over one text unit; subclasses define `count` and the unit names."""

    Kwargs = RangeKwargs
    dimension = "numerical"
    unit_en: str
    unit_zh: str
    sample_range: tuple[int, int]

    def count(self, response: str) -> int:
        raise NotImplementedError

    def check(self, response: str, kw: RangeKwargs) -> bool:
        n = self.count(response)
        return (kw.at_least is None or n >= kw.at_least) and (kw.at_most is None or n <= kw.at_most)

    def render(self, kw: RangeKwargs, lang: str = "en") -> str:
        lo, hi = kw.at_least, kw.at_most
        if lo is not None and hi is not None:
            en = f"exactly {lo}" if lo == hi else f"between {lo} and {hi}"
            zh = f"恰好 {lo}" if lo == hi else f"在 {lo} 到 {hi} 之间"
        elif lo is not None:
            en, zh = f"at least {lo}", f"不少于 {lo}"
        else:
            en, zh = f"at most {hi}", f"不超过 {hi}"
        return _pick(lang, f"The response must contain {en} {self.unit_en}.", f"回答的{self.unit_zh}{zh}。")

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        lo, hi = self.sample_range
        n = rng.randint(lo, hi)
        shape = rng.choice(("at_least", "at_most", "between"))
        if shape == "between":
            return {"at_least": n, "at_most": n + max(1, n // 4)}
        return {shape: n}

    repair_how = "'at most': keeps the longest run of whole first sentences within the bound"

    def repair(self, response: str, kw: RangeKwargs, rng: random.Random) -> str | None:
        if kw.at_most is None or self.count(response) <= kw.at_most:
            return None  # too short: new content is needed
        spans = sentence_spans(response)
        for k in range(len(spans) - 1, 0, -1):
            cut = response[: spans[k - 1][1]].rstrip()
            if self.count(cut) <= kw.at_most:
                return cut
        return None

    def perturb(self, kw: RangeKwargs, rng: random.Random) -> dict[str, Any] | None:
        lo, hi = kw.at_least, kw.at_most
        if lo is not None and hi is not None:
            # Slide the window just above the old one: every satisfying count is now too small.
            return {"at_least": hi + 1, "at_most": hi + 1 + (hi - lo)}
        if lo is not None:
            return {"at_most": lo - 1} if lo > 0 else None  # n >= lo fails n <= lo - 1
        return {"at_least": hi + 1}  # n <= hi fails n >= hi + 1


class LengthWords(_Length):
    id = "zh_length:words"
    unit_en = "words (each Chinese character counts as one word)"
    unit_zh = "字数（每个汉字或每个英文单词计为一个字）"
    sample_range = (50, 500)

    def count(self, response: str) -> int:
        return count_words(response, "zh")


class LengthCharacters(_Length):
    id = "zh_length:characters"
    unit_en = "characters (whitespace not counted)"
    unit_zh = "字符数（不计空白字符）"
    sample_range = (50, 800)

    def count(self, response: str) -> int:
        return sum(1 for ch in response if not ch.isspace())


class LengthSentences(_Length):
    id = "zh_length:sentences"
    unit_en = "sentences (a sentence ends with 。！？ or a line break)"
    unit_zh = "句子数（以。！？或换行结束一句）"
    sample_range = (2, 15)

    def count(self, response: str) -> int:
        return len(sentences_zh(response))


class LengthParagraphs(_Length):
    id = "zh_length:paragraphs"
    unit_en = "paragraphs, separated by blank lines"
    unit_zh = "段落数（段落之间用空行分隔）"
    sample_range = (2, 6)

    def count(self, response: str) -> int:
        return len(paragraphs(response))

    repair_how = "regroups the text into the nearest allowed number of blank-line paragraphs"

    def repair(self, response: str, kw: RangeKwargs, rng: random.Random) -> str | None:
        n = self.count(response)
        target = max(n, kw.at_least or 0)
        target = min(target, kw.at_most if kw.at_most is not None else target)
        parts = regroup(response, target)
        return "\n\n".join(parts) if parts else None


# ---------------------------------------------------------------------------------------------
# Keywords, start/end, punctuation (substring matching, Chinese-aware).


def _fold(text: str) -> str:
    return text.casefold()  # KEYWORD_MATCH_CASEFOLD


# Keyword pools for synthesis (our own lists).
ZH_KEYWORDS = [
    "人工智能",
    "环境保护",
    "创新",
    "效率",
    "安全",
    "健康",
    "教育",
    "文化",
    "历史",
    "科技",
    "数据",
    "社区",
    "可持续",
    "合作",
    "品质",
    "用户体验",
    "成本",
    "风险",
    "未来",
    "传统",
]
EN_KEYWORDS = [
    "innovation",
    "safety",
    "community",
    "quality",
    "budget",
    "climate",
    "history",
    "design",
    "network",
    "strategy",
]


def _keyword_pool(task: str | None) -> list[str]:
    return ZH_KEYWORDS if task is None or count_cjk(task) > 0 else EN_KEYWORDS


def _nonblank(values: list[str]) -> list[str]:
    if not values:
        raise ValueError("give at least one keyword")
    if any(not v.strip() for v in values):
        raise ValueError("keywords must not be blank")
    return values


class _KeywordList(Kwargs):
    keywords: list[StrictStr]

    @field_validator("keywords")
    @classmethod
    def _nonblank(cls, v: list[str]) -> list[str]:
        return _nonblank(v)


class KeywordsInclude(ConstraintType):
    id = "zh_keywords:include"
    dimension = "inclusion"

    repair_stage = 0
    repair_how = "adds a sentence naming the missing keywords after the first sentence"

    def repair(self, response: str, kw: _KeywordList, rng: random.Random) -> str | None:
        text = _fold(response)
        missing = [k.strip() for k in kw.keywords if _fold(k.strip()) not in text]
        return insert_sentence(response, mention_sentence(missing, rng)) if missing else response

    Kwargs = _KeywordList

    def check(self, response: str, kw: _KeywordList) -> bool:
        text = _fold(response)
        return all(_fold(k.strip()) in text for k in kw.keywords)

    def render(self, kw: _KeywordList, lang: str = "en") -> str:
        return _pick(
            lang,
            "Include the keywords " + ", ".join(f'"{k}"' for k in kw.keywords) + " in the response.",
            "回答中必须包含以下关键词：" + "、".join(f"“{k}”" for k in kw.keywords) + "。",
        )

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {"keywords": rng.sample(_keyword_pool(task), rng.randint(1, 3))}


class KeywordsExclude(ConstraintType):
    id = "zh_keywords:exclude"
    dimension = "exclusion"

    repair_stage = 0
    repair_how = "deletes every occurrence of a forbidden word"

    def repair(self, response: str, kw: Any, rng: random.Random) -> str | None:
        out = response
        for k in kw.forbidden:
            out = re.sub(re.escape(k.strip()), "", out, flags=re.IGNORECASE)
        return tidy_spaces(out)

    class Kwargs(Kwargs):
        forbidden: list[StrictStr]

        @field_validator("forbidden")
        @classmethod
        def _nonblank(cls, v: list[str]) -> list[str]:
            return _nonblank(v)

    def check(self, response: str, kw: Any) -> bool:
        text = _fold(response)
        return not any(_fold(k.strip()) in text for k in kw.forbidden)

    def render(self, kw: Any, lang: str = "en") -> str:
        return _pick(
            lang,
            "Do not use the words "
            + ", ".join(f'"{k}"' for k in kw.forbidden)
            + " anywhere in the response.",
            "回答中不得出现以下词语：" + "、".join(f"“{k}”" for k in kw.forbidden) + "。",
        )

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {"forbidden": rng.sample(_keyword_pool(task), rng.randint(1, 3))}


class KeywordFrequency(ConstraintType):
    id = "zh_keywords:frequency"
    dimension = "inclusion"

    repair_stage = 0
    repair_how = "'at least': adds sentences that use the word; 'less than': deletes the last occurrences"

    def repair(self, response: str, kw: Any, rng: random.Random) -> str | None:
        k = kw.keyword.strip()
        found = list(re.finditer(re.escape(k), response, flags=re.IGNORECASE))
        if kw.relation == "at least":
            need = kw.frequency - len(found)
            return insert_sentence(response, mention_sentence([k] * need, rng)) if need > 0 else response
        out = response
        for m in reversed(found[kw.frequency - 1 :]):
            out = out[: m.start()] + out[m.end() :]
        return tidy_spaces(out)

    class Kwargs(Kwargs):
        keyword: StrictStr = Field(min_length=1)
        frequency: StrictInt = Field(ge=1)
        relation: StrictStr

        @field_validator("relation")
        @classmethod
        def _rel(cls, v: str) -> str:
            if v not in RELATIONS:
                raise ValueError(f"relation must be one of {', '.join(RELATIONS)}")
            return v

        @field_validator("keyword")
        @classmethod
        def _kw(cls, v: str) -> str:
            if not v.strip():
                raise ValueError("keyword must not be blank")
            return v

    def check(self, response: str, kw: Any) -> bool:
        n = _fold(response).count(_fold(kw.keyword.strip()))  # non-overlapping occurrences
        return n >= kw.frequency if kw.relation == "at least" else n < kw.frequency

    def render(self, kw: Any, lang: str = "en") -> str:
        k = kw.keyword.strip()
        en_rel, zh_rel = ("at least", "至少") if kw.relation == "at least" else ("fewer than", "少于")
        return _pick(
            lang,
            f'The word "{k}" must appear {en_rel} {kw.frequency} times in the response.',
            f"关键词“{k}”在回答中出现的次数必须{zh_rel} {kw.frequency} 次。",
        )

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {
            "keyword": rng.choice(_keyword_pool(task)),
            "frequency": rng.randint(1, 4),
            "relation": rng.choice(RELATIONS),
        }

    def perturb(self, kw: Any, rng: random.Random) -> dict[str, Any] | None:
        # "at least f" and "less than f" are complements: exactly one of them holds.
        other = RELATIONS[1] if kw.relation == RELATIONS[0] else RELATIONS[0]
        return {"keyword": kw.keyword, "frequency": kw.frequency, "relation": other}


class _Phrase(Kwargs):
    phrase: StrictStr

    @field_validator("phrase")
    @classmethod
    def _nonblank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("phrase must not be blank")
        return v


ZH_OPENINGS = ("总的来说", "首先", "您好", "关于这个问题")
ZH_CLOSINGS = ("希望对你有帮助。", "以上就是我的回答。", "谢谢！", "祝好。")


class StartsWith(ConstraintType):
    id = "zh_startend:starts_with"
    dimension = "template"

    repair_stage = 3
    repair_how = "puts the phrase before the text"

    def repair(self, response: str, kw: _Phrase, rng: random.Random) -> str | None:
        phrase = kw.phrase.strip()
        return f"{phrase}{'' if has_cjk(phrase) else ' '}{response.lstrip()}"

    Kwargs = _Phrase

    def check(self, response: str, kw: _Phrase) -> bool:
        return _fold(response.strip()).startswith(_fold(kw.phrase.strip()))

    def render(self, kw: _Phrase, lang: str = "en") -> str:
        return _pick(lang, f'Start your response with "{kw.phrase}".', f"回答必须以“{kw.phrase}”开头。")

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {"phrase": rng.choice(ZH_OPENINGS)}


class EndsWith(ConstraintType):
    id = "zh_startend:ends_with"
    dimension = "template"

    repair_stage = 4
    repair_how = "appends the phrase"

    def repair(self, response: str, kw: _Phrase, rng: random.Random) -> str | None:
        phrase = kw.phrase.strip()
        return f"{response.rstrip()}{'' if has_cjk(phrase) else ' '}{phrase}"

    Kwargs = _Phrase

    def check(self, response: str, kw: _Phrase) -> bool:
        return _fold(response.strip()).endswith(_fold(kw.phrase.strip()))

    def render(self, kw: _Phrase, lang: str = "en") -> str:
        return _pick(
            lang,
            f'End your response with "{kw.phrase}"; nothing may follow it.',
            f"回答必须以“{kw.phrase}”结尾，其后不得再有任何内容。",
        )

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {"phrase": rng.choice(ZH_CLOSINGS)}


class NoComma(ConstraintType):
    id = "zh_punctuation:no_comma"
    dimension = "text_pattern"

    repair_stage = 2
    repair_how = "deletes commas (， and ,): thousands separators closed up, others replaced by a space"

    def repair(self, response: str, kw: Any, rng: random.Random) -> str | None:
        return drop_commas(response, "".join(self.COMMAS))

    Kwargs = NoKwargs
    COMMAS = ("，", ",")

    def check(self, response: str, kw: Any) -> bool:
        return not any(c in response for c in self.COMMAS)

    def render(self, kw: Any, lang: str = "en") -> str:
        return _pick(
            lang,
            "Do not use any commas (neither the Chinese ， nor the English ,) in the response.",
            "回答中不得使用任何逗号（包括中文逗号“，”和英文逗号“,”）。",
        )

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {}


# ---------------------------------------------------------------------------------------------
# TRACE output formats and language.

_FENCE_RE = re.compile(r"\A```[ \t]*(?:json)?[ \t]*\n(.*)\n?```\Z", re.DOTALL | re.IGNORECASE)


class Json(ConstraintType):
    id = "trace_format:json"
    dimension = "output_format"

    repair_stage = 5
    repair_how = 'wraps the text as one JSON string: {"response": "..."}'

    def repair(self, response: str, kw: Any, rng: random.Random) -> str | None:
        return json.dumps({"response": response.strip()}, ensure_ascii=False)

    Kwargs = NoKwargs

    def check(self, response: str, kw: Any) -> bool:
        text = response.strip()
        fenced = _FENCE_RE.match(text)  # JSON_CODE_FENCE_ALLOWED
        if fenced:
            text = fenced.group(1).strip()
        try:
            json.loads(text)
        except (ValueError, RecursionError):
            return False
        return True

    def render(self, kw: Any, lang: str = "en") -> str:
        return _pick(
            lang,
            "Format your entire response as valid JSON; you may wrap it in a ```json code block.",
            "整个回答必须是合法的 JSON，可以放在 ```json 代码块中。",
        )

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {}


_DELIM_CELL_RE = re.compile(r"^\s*:?-+:?\s*$")
_FENCE_LINE_RE = re.compile(r"^\s*(```|~~~)")


def _cells(line: str) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    return s.split("|")


def table_row_counts(text: str) -> list[int]:
    """Data-row counts of the markdown (GFM pipe) tables in text, in order."""
    lines = text.split("\n")
    counts, i = [], 0
    while i + 1 < len(lines):
        head, delim = lines[i], lines[i + 1]
        if "|" in head and "|" in delim:
            dcells = _cells(delim)
            if all(_DELIM_CELL_RE.match(c) for c in dcells) and len(dcells) == len(_cells(head)):
                j = i + 2
                while j < len(lines) and "|" in lines[j] and lines[j].strip():
                    j += 1
                counts.append(j - i - 2)
                i = j
                continue
        i += 1
    return counts


class MarkdownTable(ConstraintType):
    id = "trace_format:markdown_table"
    dimension = "output_format"

    class Kwargs(Kwargs):
        min_rows: StrictInt = Field(ge=1)

    def check(self, response: str, kw: Any) -> bool:
        return any(n >= kw.min_rows for n in table_row_counts(response))

    def render(self, kw: Any, lang: str = "en") -> str:
        return _pick(
            lang,
            f"Include a markdown table with a header row and at least {kw.min_rows} data rows.",
            f"回答中须包含一个 markdown 表格：有表头，且至少有 {kw.min_rows} 行数据。",
        )

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {"min_rows": rng.randint(2, 6)}

    def perturb(self, kw: Any, rng: random.Random) -> dict[str, Any] | None:
        return {"min_rows": kw.min_rows * 2 + rng.randint(1, 3)}


def _outside_fences(text: str) -> list[str]:
    out, fenced = [], False
    for line in text.split("\n"):
        if _FENCE_LINE_RE.match(line):
            fenced = not fenced
        elif not fenced:
            out.append(line)
    return out


_HEADING_RE = re.compile(r"^ {0,3}#{1,6}[ \t]+\S")
_NUMBERED_RE = re.compile(r"^\s*(?:\d+(?:[.)][ \t]+|[、．][ \t]*)|[(（]\d+[)）][ \t]*)\S")
_BULLET_RE = re.compile(r"^\s*[-*+•][ \t]+\S")


class Headings(ConstraintType):
    id = "trace_format:headings"
    dimension = "hierarchical_structure"

    repair_how = "regroups the text into N blocks, each under a '## ' heading made of its first words"

    def repair(self, response: str, kw: Any, rng: random.Random) -> str | None:
        parts = regroup(response, kw.min_headings)
        return "\n\n".join(f"## {title_from(p, 4)}\n{p}" for p in parts) if parts else None

    class Kwargs(Kwargs):
        min_headings: StrictInt = Field(ge=1)

    def check(self, response: str, kw: Any) -> bool:
        """ATX headings (`#` to `######` then a space) outside code fences; setext headings not counted."""
        return sum(1 for line in _outside_fences(response) if _HEADING_RE.match(line)) >= kw.min_headings

    def render(self, kw: Any, lang: str = "en") -> str:
        return _pick(
            lang,
            f"Organize the response under at least {kw.min_headings} markdown headings (lines starting with #).",
            f"回答至少使用 {kw.min_headings} 个 markdown 标题（以 # 开头的行）来组织内容。",
        )

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {"min_headings": rng.randint(2, 5)}

    def perturb(self, kw: Any, rng: random.Random) -> dict[str, Any] | None:
        return {"min_headings": kw.min_headings * 2 + rng.randint(1, 2)}


class _Items(Kwargs):
    num_items: StrictInt = Field(ge=1)


class NumberedList(ConstraintType):
    id = "trace_format:numbered_list"
    dimension = "numbering_and_list"

    repair_how = "turns the text into exactly N numbered items (1. 2. ...), one per group of sentences"

    def repair(self, response: str, kw: _Items, rng: random.Random) -> str | None:
        parts = list_items(response, kw.num_items)
        return "\n".join(f"{i}. {p}" for i, p in enumerate(parts, 1)) if parts else None

    Kwargs = _Items

    @staticmethod
    def count(response: str) -> int:
        """Lines starting with `1.`, `1)`, `1、` or `（1）` outside code fences."""
        return sum(1 for line in _outside_fences(response) if _NUMBERED_RE.match(line))

    def check(self, response: str, kw: _Items) -> bool:
        return self.count(response) == kw.num_items

    def render(self, kw: _Items, lang: str = "en") -> str:
        return _pick(
            lang,
            f"Answer with a numbered list of exactly {kw.num_items} items (1. 2. 3. ...).",
            f"用编号列表作答，恰好 {kw.num_items} 项（1. 2. 3. ……）。",
        )

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {"num_items": rng.randint(3, 8)}

    def perturb(self, kw: _Items, rng: random.Random) -> dict[str, Any] | None:
        return {
            "num_items": kw.num_items + 1 if kw.num_items == 1 or rng.random() < 0.5 else kw.num_items - 1
        }


class BulletList(ConstraintType):
    id = "trace_format:bullet_list"
    dimension = "numbering_and_list"

    repair_how = "turns the text into exactly N '- ' items, one per group of sentences"

    def repair(self, response: str, kw: _Items, rng: random.Random) -> str | None:
        parts = list_items(response, kw.num_items)
        return "\n".join(f"- {p}" for p in parts) if parts else None

    Kwargs = _Items

    @staticmethod
    def count(response: str) -> int:
        """Lines starting with `-`, `*`, `+` or `•` and a space, outside code fences."""
        return sum(1 for line in _outside_fences(response) if _BULLET_RE.match(line))

    def check(self, response: str, kw: _Items) -> bool:
        return self.count(response) == kw.num_items

    def render(self, kw: _Items, lang: str = "en") -> str:
        return _pick(
            lang,
            f"Answer with a bullet list of exactly {kw.num_items} items, each line starting with '- '.",
            f"用项目符号列表作答，恰好 {kw.num_items} 项，每项以“- ”开头。",
        )

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {"num_items": rng.randint(3, 8)}

    def perturb(self, kw: _Items, rng: random.Random) -> dict[str, Any] | None:
        return {
            "num_items": kw.num_items + 1 if kw.num_items == 1 or rng.random() < 0.5 else kw.num_items - 1
        }


_LETTER_RUN_RE = re.compile(r"[^\W\d_\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+")
_ASCII_RUN_RE = re.compile(r"[A-Za-z]+")
_LANG_NAMES = {"en": ("English", "英文"), "zh": ("Chinese", "中文")}


def script_shares(text: str) -> tuple[float, float] | None:
    """(CJK ideographs among ideographs + letter runs, ASCII-only runs among letter runs); None if no letters."""
    cjk = count_cjk(text)
    runs = _LETTER_RUN_RE.findall(text)
    if cjk + len(runs) == 0:
        return None
    ascii_runs = sum(1 for r in runs if _ASCII_RUN_RE.fullmatch(r))
    return cjk / (cjk + len(runs)), (ascii_runs / len(runs) if runs else 0.0)


class ResponseLanguage(ConstraintType):
    id = "trace_language:response_language"
    dimension = "multilingual"

    class Kwargs(Kwargs):
        language: StrictStr

        @field_validator("language")
        @classmethod
        def _known(cls, v: str) -> str:
            if v not in _LANG_NAMES:
                raise ValueError(f"language must be one of {', '.join(_LANG_NAMES)}")
            return v

    def check(self, response: str, kw: Any) -> bool:
        shares = script_shares(response)
        if shares is None:
            return UNDETECTABLE_LANGUAGE_FOLLOWS
        cjk, ascii_ = shares
        if kw.language == "zh":
            return cjk >= ZH_MIN_CJK_SHARE
        return cjk < ZH_MIN_CJK_SHARE and ascii_ >= EN_MIN_ASCII_SHARE

    def render(self, kw: Any, lang: str = "en") -> str:
        en, zh = _LANG_NAMES[kw.language]
        return _pick(lang, f"Write the response in {en}.", f"请使用{zh}作答。")

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        return {"language": "zh" if task is None or count_cjk(task) > 0 else "en"}

    def perturb(self, kw: Any, rng: random.Random) -> dict[str, Any] | None:
        return {"language": "en" if kw.language == "zh" else "zh"}


CONSTRAINTS: list[ConstraintType] = [
    LengthWords(),
    LengthCharacters(),
    LengthSentences(),
    LengthParagraphs(),
    KeywordsInclude(),
    KeywordsExclude(),
    KeywordFrequency(),
    StartsWith(),
    EndsWith(),
    NoComma(),
    Json(),
    MarkdownTable(),
    Headings(),
    NumberedList(),
    BulletList(),
    ResponseLanguage(),
]
