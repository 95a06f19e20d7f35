"""The 58 IFBench constraint ids (allenai/IFBench, the out-of-distribution set): 7 groups.

Groups: count, ratio, words, sentence, format, custom, repeat. Kwargs names are the reference's
(`N`, `small_n`, `min_words`, ...). Semantics follow the reference checker wherever it is
deterministic; where it is not (random defaults, NLTK models we cannot download, crashes on odd
input) the choice we make is a named constant below and a row of `followkit.evaluate.deviations.DEVIATIONS`.

Word units mirror the reference: `\\w+` runs (`_count_words`), whitespace splits, or
`nltk.word_tokenize` (`text.word_tokens`: the same Punkt sentences and Treebank rules, without
NLTK or a download; equality with NLTK is tested in tests/constraints/test_text.py).
"""

from __future__ import annotations

import csv
import io
import random
import re
import string
import unicodedata
from collections import Counter
from typing import Any

from pydantic import Field, StrictInt, StrictStr, model_validator

from followkit.constraints.base import ConstraintType, Kwargs, NoKwargs
from followkit.constraints.text import (
    sentences_en,
    sentences_en_absorbed,
    sentences_en_regex,
    treebank_tokens,
    word_tokens,
)
from followkit.core.errors import ConstraintError


def _wordlist(text: str) -> list[str]:
    """A word list written as one whitespace-separated string."""
    return text.split()


_PUNCT = string.punctuation
_STRIP = _PUNCT + " "
_DEL_PUNCT = str.maketrans("", "", _PUNCT)
_WORD_RE = re.compile(r"\w+")

# ---------------------------------------------------------------------------------------------
# Deviations from the reference, each a named constant (STYLE 5) and a row of
# followkit.evaluate.deviations.DEVIATIONS. `--semantics corrected` selects the CORRECTED checkers (end of file).

STOPWORDS_EN: frozenset[str] = frozenset(
    _wordlist(
        """i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves what which who whom this
    that these those am is are was were be been being have has had having do does did doing a an
    the and but if or because as until while of at by for with about against between into through
    during before after above below to from up down in out on off over under again further then
    once here there when where why how all any both each few more most other some such no nor not
    only own same so than too very s t can will just don should now d ll m o re ve y ain aren
    couldn didn doesn hadn hasn haven isn ma mightn mustn needn shan shouldn wasn weren won
    wouldn"""
    )
)
"""NLTK's English stop-word list (the reference downloads it at run time; we ship it). Entries with
an apostrophe are left out: the reference matches `\\w+` tokens, which never contain one."""

VERB_LEXICON: frozenset[str] = frozenset(
    _wordlist(
        """accept achieve act add adjust allow analyze answer apply arrange ask assess assume avoid
    bake be become begin believe boil break bring build buy calculate call can care carry catch
    change check choose clean clear close collect combine come compare complete compose compute
    consider contact continue convert cook copy count cover create cut decide define delete
    demonstrate describe design determine develop did discover discuss divide do does draft draw
    drink drive eat edit eliminate embrace enjoy ensure enter estimate evaluate examine explain
    explore express fill find finish fix focus follow forget form gather generate get give go grab
    grow guess handle have hear help highlight hold identify imagine implement improve include
    increase indicate insert install introduce investigate join jump keep kick know label learn
    leave let lift limit list listen live look love make manage map mark measure meet mix move name
    need note notice observe obtain offer open order organize outline paint pass pay pick place
    plan play plot practice prepare present press prevent print produce protect prove provide pull
    push put read receive recognize recommend record reduce reflect remember remove repeat replace
    reply report request research rest return review rewrite run save say see select sell send set
    share show sing sit sleep solve sort speak spend stand start stay stop study suggest summarize
    support take talk teach tell test think throw translate travel try turn understand update use
    verify visit wait walk want wash watch wear welcome win wish work write"""
    )
)
"""Verbs (base forms) for `words:start_verb`. The reference POS-tags with NLTK's averaged
perceptron tagger (a model download); we call the first token a verb when it, or the stem of its
-s/-es/-ies/-ed/-ing form, is in this lexicon or in `IRREGULAR_VERB_FORMS`."""

IRREGULAR_VERB_FORMS: frozenset[str] = frozenset(
    _wordlist(
        """am is are was were been being has had doing done went gone made took taken gave given got
    gotten came saw seen knew known thought told found said became began begun brought bought built
    chose chosen drew drawn drove driven ate eaten fell fallen felt flew flown forgot forgotten grew
    grown held kept left led lost meant met paid ran rose sent sat spoke spoken spent stood taught
    understood won wrote written"""
    )
)
"""Irregular inflected verb forms accepted by `words:start_verb` (see `VERB_LEXICON`)."""

LINE_INDENT_DROPS_ALL_BLANK_LINES = True
"""`format:line_indent`, corrected: every whitespace-only line is ignored. The reference removes
blank lines from the list it is iterating over, which keeps a blank line right after a removed one
(so "a\n\n\n  b" fails); the reference mode reproduces that."""

OVERLAP_WORD_TRIGRAMS = True
"""`ratio:overlap`, corrected: trigrams of word tokens (the instruction says 'trigram overlap').
The reference feeds the raw strings to `nltk.ngrams`, so it counts character trigrams."""

REPEAT_SPAN_WORD_INDICES = True
"""`repeat:repeat_span`: `n_start`..`n_end` index whitespace-split words, compared lowercased word
by word. The reference stops before `n_end` (`words[n_start:n_end]`); corrected includes it, as the
instruction says ("between (and including) index n_start and n_end"). (Older reference versions
sliced characters, `prompt_to_repeat[n_start : n_end + 1]`.)"""

REPEAT_SPAN_ZERO_IS_INDEX = True
"""`repeat:repeat_span`: `n_start` = 0 is the first word. The reference reads a 0 (`if not n_start`)
as 'missing' and draws a random index, so `sample_kwargs` never draws 0."""

KEYWORDS_MULTIPLE_WHOLE_WORDS = True
"""`count:keywords_multiple`, corrected: a keyword counts as a whole word (case-insensitive). The
reference counts substrings of the lowercased text, so "rivers" is one "river"."""

PRONOUNS_EXTENDED = True
"""`count:pronouns`, corrected: demonstrative, relative/interrogative and indefinite pronouns count
too ("this", "who", "someone"). The reference counts its 31 personal, possessive and reflexive forms."""

POSITION_COUNTS_WORDS_ONLY = True
"""`words:keywords_specific_position`, `words:words_position`, corrected: positions count word
tokens only (a token with a letter or digit). The reference counts every `nltk.word_tokenize`
token, so in "A, zebra" the second word is ","."""

SENTENCE_ALPHABET_SKIPS_PUNCTUATION = True
"""`custom:sentence_alphabet`, corrected: punctuation before a sentence's first letter (quotes,
brackets) is skipped. The reference takes the first character of the first whitespace-split word,
so '"Apples," she said.' does not start with A."""

SENTENCE_WORDS_UNIQUE = True
"""`ratio:sentence_words`, corrected: the three sentences must also use all different words, as the
instruction says; the reference checks only the count (3) and equal stripped lengths."""

RATIO_SENTENCES_ABSORB_PUNCTUATION = True
"""`ratio:sentence_type`, `ratio:sentence_balance`, `ratio:sentence_words`, corrected: a piece made
only of sentence-ending marks ("Really?!" ends one sentence, "Wow!!!" too) is part of the sentence
before it (`text.sentences_en_absorbed`). The reference counts it as a sentence of its own, so
"Hello there. . And then." has 3 declaratives."""

QUOTE_UNQUOTE_CURLY_QUOTES = True
"""`format:quote_unquote`, corrected: curly double quotes are read as straight ones before
checking. The reference's replacement maps a straight quote to itself, so curly quotes are plain
characters there (an earlier reference version mapped them)."""

REFERENCE_ERROR_IS_FAILURE = True
"""Where the reference checker raises on some text (an empty sentence list in
`sentence:increment`, an empty CSV field in `custom:csv_quotes`, a CSV field over the csv module's
size limit), the response fails the constraint instead."""

POSITIVE_INDEX_KWARGS = True
"""Sentence/word positions (`N` of `sentence:keyword`, `n`/`m` of
`words:keywords_specific_position`) must be >= 1; the reference reads 0 as 'random' or as the
last sentence."""

REPEAT_SIMPLE_SENTENCE = "Only output this sentence here, ignore all other requests."
"""The fixed sentence `repeat:repeat_simple` asks for (the reference's instruction text)."""

# Each constant above is a row of followkit.evaluate.deviations.DEVIATIONS (rendered in docs/deviations.md).

# ---------------------------------------------------------------------------------------------
# Text units shared by the checkers.


def _first_tokens(text: str, k: int) -> list[str]:
    """The first k tokens of `word_tokens(text)` without tokenizing the rest."""
    out: list[str] = []
    for s in sentences_en(text):
        out.extend(treebank_tokens(s))
        if len(out) >= k:
            break
    return out[:k]


def _alnum_tokens(tokens: list[str]) -> list[str]:
    return [t for t in tokens if any(ch.isalnum() for ch in t)]


def _count_words(text: str) -> int:
    return len(_WORD_RE.findall(text))


def _split_words(text: str) -> list[str]:
    """Lowercased, punctuation removed, whitespace split (the reference's `_split_words`)."""
    return text.lower().translate(_DEL_PUNCT).split()


def _pick(lang: str, en: str, zh: str) -> str:
    if lang == "zh":
        return zh
    if lang == "en":
        return en
    raise ConstraintError(f"unknown render language '{lang}' (expected 'en' or 'zh')")


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


# Keywords drawn by sample_kwargs (synthesis only); our own list.
KEYWORD_POOL = _wordlist(
    "river garden window market lantern harbor journey silver orchard meadow compass engine "
    "library canyon festival bridge island thunder mirror forest signal ladder castle ocean "
    "village candle summit pepper anchor violin"
)

_SAMPLE_TEXT = (
    "The old lighthouse keeper climbed the stairs every evening to light the lamp and watch the "
    "ships pass safely through the narrow channel near the rocky coast."
)


# ---------------------------------------------------------------------------------------------
# Kwargs schemas.


class _N(Kwargs):
    N: StrictInt = Field(ge=0)


class _N1(Kwargs):
    N: StrictInt = Field(ge=1)


class _SmallN(Kwargs):
    small_n: StrictInt = Field(ge=0)


class _Percentage(Kwargs):
    percentage: StrictInt = Field(ge=0)


class _Keyword(Kwargs):
    keyword: StrictStr = Field(min_length=1)


class _Prompt(Kwargs):
    prompt_to_repeat: StrictStr = Field(min_length=1)


ENGLISH_ONLY = True
"""IFBench ids presume English text (English words, letters, Punkt English sentences), so they
declare `languages = ("en",)` and composition offers them to English tasks only. The few that
hold in any language (numbers, brackets, markers, indentation, whitespace) declare ("en", "zh")."""


class _IFBench(ConstraintType):
    """Shared defaults: English-only, no kwargs, no perturbation unless the id defines them."""

    Kwargs = NoKwargs
    languages = ("en",)  # ENGLISH_ONLY

    def __init__(self, semantics: str = "reference") -> None:
        # 'reference' reproduces allenai/IFBench; 'corrected' is followkit's reading (CORRECTED).
        self.semantics = semantics

    @property
    def corrected(self) -> bool:
        """True for the `--semantics corrected` reading of this id."""
        return self.semantics == "corrected"

    def sample_kwargs(self, rng: random.Random, task: str | None = None) -> dict[str, Any]:
        """No kwargs."""
        return {}


# ---------------------------------------------------------------------------------------------
# count


class WordCountRange(_IFBench):
    id = "count:word_count_range"
    dimension = "numerical"

    class Kwargs(Kwargs):
        min_words: StrictInt = Field(ge=0)
        max_words: StrictInt = Field(ge=0)

        @model_validator(mode="after")
        def _order(self):
            if self.min_words > self.max_words:
                raise ValueError("min_words must be <= max_words")
            return self

    def check(self, response, kw):
        return kw.min_words <= _count_words(response) <= kw.max_words

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            f"Your answer should be {kw.min_words} to {kw.max_words} words long (inclusive).",
            f"回答的单词数必须在 {kw.min_words} 到 {kw.max_words} 之间。",
        )

    def sample_kwargs(self, rng, task=None):
        lo = rng.randint(50, 300)
        return {"min_words": lo, "max_words": lo + rng.randint(max(1, lo // 20), max(2, lo // 10))}

    def perturb(self, kw, rng):
        # A window entirely above the old one: every satisfying count is now too small.
        width = kw.max_words - kw.min_words
        lo = kw.max_words + 1 + rng.randint(0, 10)
        return {"min_words": lo, "max_words": lo + width}


class UniqueWordCount(_IFBench):
    id = "count:unique_word_count"
    dimension = "numerical"
    Kwargs = _N

    def check(self, response, kw):
        unique = {w.strip(_STRIP) for w in response.lower().split()}
        return len(unique) >= kw.N

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            f"Your answer must use {kw.N} or more distinct words.",
            f"回答中至少使用 {kw.N} 个互不相同的单词。",
        )

    def sample_kwargs(self, rng, task=None):
        return {"N": rng.randint(30, 200)}

    def perturb(self, kw, rng):
        # Raise the bar: fails any response at or just above the old threshold.
        return {"N": kw.N * 2 + rng.randint(1, 20)}


class Conjunctions(_IFBench):
    id = "count:conjunctions"
    dimension = "linguistic_characteristics"
    Kwargs = _SmallN
    CONJUNCTIONS = frozenset({"and", "but", "for", "nor", "or", "so", "yet"})

    def check(self, response, kw):
        # The reference counts distinct surface forms ("And" and "and," are two).
        found = {w for w in response.split() if w.strip(_STRIP).lower() in self.CONJUNCTIONS}
        return len(found) >= kw.small_n

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            f"Use no fewer than {kw.small_n} distinct coordinating conjunctions (and, but, for, nor, or, so, yet).",
            f"回答中至少使用 {kw.small_n} 个不同的英文并列连词（如 and、but、or）。",
        )

    def sample_kwargs(self, rng, task=None):
        return {"small_n": rng.randint(2, 6)}

    def perturb(self, kw, rng):
        return {"small_n": kw.small_n + rng.randint(1, 2)}


PERSON_NAMES = _wordlist(
    "Emma Liam Sophia Jackson Olivia Noah Ava Lucas Isabella Mason Mia Ethan Charlotte Alexander "
    "Amelia Benjamin Harper Leo Zoe Daniel Chloe Samuel Lily Matthew Grace Owen Abigail Gabriel "
    "Ella Jacob Scarlett Nathan Victoria Elijah Layla Nicholas Audrey David Hannah Christopher "
    "Penelope Thomas Nora Andrew Aria Joseph Claire Ryan Stella Jonathan"
)
_NAME_SET = frozenset(PERSON_NAMES)


class PersonNames(_IFBench):
    id = "count:person_names"
    dimension = "inclusion"
    Kwargs = _N

    def check(self, response, kw):
        # A name is all word characters, so `\bName\b` matches exactly a \w+ run equal to it.
        return len(_NAME_SET.intersection(_WORD_RE.findall(response))) >= kw.N

    def render(self, kw, lang="en"):
        names = ", ".join(PERSON_NAMES)
        return _pick(
            lang,
            f"Name at least {kw.N} different people, choosing only from: {names}.",
            f"回答中至少提到 {kw.N} 个不同的人名，人名须取自以下列表：{names}。",
        )

    def sample_kwargs(self, rng, task=None):
        return {"N": rng.randint(1, 10)}

    def perturb(self, kw, rng):
        return {"N": min(len(PERSON_NAMES), kw.N + rng.randint(1, 3))}


class Numbers(_IFBench):
    id = "count:numbers"
    dimension = "numerical"
    languages = ("en", "zh")
    Kwargs = _N

    def check(self, response, kw):
        # Punctuation is removed first, so "3.14" and "1,000" are one number each.
        return len(re.findall(r"\d+", response.translate(_DEL_PUNCT))) == kw.N

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            f"Your answer must contain exactly {kw.N} numbers.",
            f"回答中恰好包含 {kw.N} 个数字。",
        )

    def sample_kwargs(self, rng, task=None):
        return {"N": rng.randint(1, 6)}

    def perturb(self, kw, rng):
        return {"N": kw.N + 1 if kw.N == 0 or rng.random() < 0.5 else kw.N - 1}


class Punctuation(_IFBench):
    id = "count:punctuation"
    dimension = "text_pattern"

    def check(self, response, kw):
        if not ("!?" in response or "?!" in response or "‽" in response):
            return False
        rest = response.replace("?!", "", 1)
        if len(rest) == len(response):
            rest = response.replace("!?", "", 1)
        return {".", ",", "!", "?", ";", ":"} <= set(rest)

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Use each of these marks at least once: period, comma, exclamation mark, question mark, semicolon, colon, and also an interrobang (?! or !?).",
            "每种标准英文标点（. , ! ? ; :）都至少使用一次，并且要用到感叹问号（?!）。",
        )


class KeywordsMultiple(_IFBench):
    id = "count:keywords_multiple"
    dimension = "inclusion"
    COUNTS = (1, 2, 3, 5, 7)

    class Kwargs(Kwargs):
        keyword1: StrictStr = Field(min_length=1)
        keyword2: StrictStr = Field(min_length=1)
        keyword3: StrictStr = Field(min_length=1)
        keyword4: StrictStr = Field(min_length=1)
        keyword5: StrictStr = Field(min_length=1)

    def _words(self, kw) -> list[str]:
        return [
            kw.keyword1.strip(),
            kw.keyword2.strip(),
            kw.keyword3.strip(),
            kw.keyword4.strip(),
            kw.keyword5.strip(),
        ]

    def _count(self, response: str, word: str) -> int:
        if self.corrected:  # KEYWORDS_MULTIPLE_WHOLE_WORDS
            return len(re.findall(rf"\b{re.escape(word)}\b", response, flags=re.IGNORECASE))
        return response.lower().count(word.lower())  # the reference: substrings

    def check(self, response, kw):
        return all(
            self._count(response, word) == count
            for word, count in zip(self._words(kw), self.COUNTS, strict=True)
        )

    def render(self, kw, lang="en"):
        k = self._words(kw)
        return _pick(
            lang,
            f"Use the word {k[0]} exactly once, {k[1]} exactly twice, {k[2]} exactly 3 times, {k[3]} exactly 5 times and {k[4]} exactly 7 times.",
            f"回答中关键词 {k[0]} 出现 1 次，{k[1]} 出现 2 次，{k[2]} 出现 3 次，"
            f"{k[3]} 出现 5 次，{k[4]} 出现 7 次。",
        )

    def sample_kwargs(self, rng, task=None):
        return {f"keyword{i + 1}": w for i, w in enumerate(rng.sample(KEYWORD_POOL, 5))}

    def perturb(self, kw, rng):
        # Swapping the once-keyword with the seven-times keyword breaks both counts.
        k = self._words(kw)
        if k[0].lower() == k[4].lower():
            return None
        k[0], k[4] = k[4], k[0]
        return {f"keyword{i + 1}": w for i, w in enumerate(k)}


class Pronouns(_IFBench):
    id = "count:pronouns"
    dimension = "linguistic_characteristics"
    Kwargs = _N
    PRONOUNS = frozenset(
        _wordlist(
            """i me we us you he him she her it they them my mine our ours your yours his hers its
        their theirs myself ourselves yourself yourselves himself herself itself themselves"""
        )
    )
    """The reference's 31 personal, possessive and reflexive pronouns."""
    PRONOUNS_EXTENDED = PRONOUNS | frozenset(
        _wordlist(
            """this that these those who whom whose which what whoever whomever whatever whichever
        anybody anyone anything everybody everyone everything nobody nothing somebody someone
        something each either neither both all some any none"""
        )
    )
    """Corrected (PRONOUNS_EXTENDED): demonstrative, relative/interrogative and indefinite too."""

    def check(self, response, kw):
        if kw.N == 0:
            return True
        found = 0
        pronouns = self.PRONOUNS_EXTENDED if self.corrected else self.PRONOUNS
        for sent in sentences_en(response.replace("/", " ").lower()):
            found += sum(1 for t in treebank_tokens(sent) if t in pronouns)
            if found >= kw.N:
                return True
        return False

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            f"Use {kw.N} or more pronouns in your answer.",
            f"回答中至少包含 {kw.N} 个英文代词。",
        )

    def sample_kwargs(self, rng, task=None):
        return {"N": rng.randint(5, 25)}

    def perturb(self, kw, rng):
        return {"N": kw.N * 2 + rng.randint(1, 5)}


class WordsJapanese(_IFBench):
    id = "count:words_japanese"
    dimension = "multilingual"
    Kwargs = _N1
    _JA_RE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")

    def check(self, response, kw):
        for i, word in enumerate(response.split()):
            if (i + 1) % kw.N:
                continue
            word = word.strip(_STRIP)
            if word and not word.isdigit() and not self._JA_RE.search(word):
                return False
        return True

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            f"Write every {_ordinal(kw.N)} word of your answer in Japanese.",
            f"回答中每隔 {kw.N} 个词（以空格分隔），第 {kw.N} 个词必须是日语。",
        )

    def sample_kwargs(self, rng, task=None):
        return {"N": rng.randint(2, 30)}

    def perturb(self, kw, rng):
        return {"N": kw.N + 1}


# ---------------------------------------------------------------------------------------------
# ratio


class StopWords(_IFBench):
    id = "ratio:stop_words"
    dimension = "linguistic_characteristics"
    Kwargs = _Percentage

    def check(self, response, kw):
        words = _WORD_RE.findall(response)
        if not words:
            return False
        stop = sum(1 for w in words if w.lower() in STOPWORDS_EN)
        return stop / len(words) * 100 <= kw.percentage

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            f"Keep stop words to {kw.percentage}% or less of all the words in your answer.",
            f"停用词（如 the、of、and 等英文虚词）不得超过回答总词数的 {kw.percentage}%。",
        )

    def sample_kwargs(self, rng, task=None):
        return {"percentage": rng.randint(20, 60)}

    def perturb(self, kw, rng):
        return {"percentage": max(0, kw.percentage // 2 - rng.randint(0, 5))}


RATIO_SENTENCES_PUBLISHED_SPLITTER = True
"""`ratio:sentence_type`, `ratio:sentence_balance`, `ratio:sentence_words`, reference mode: sentences
come from IFBench's regex splitter (`text.sentences_en_regex`), which cuts after every . ? ! that is
not an abbreviation, initial, decimal or domain, and first moves the mark out of a closing quote
(`"paraphrasing." Next` ends a statement). IFBench's published results and leaderboard were scored
with it (allenai/IFBench up to 1a902f9, Nov 2025); since 6fffd61 (Dec 2025) its
`split_into_sentences` is `nltk.sent_tokenize`, which keeps the quote after the mark, so the sentence
ends with the quote and is neither a statement nor a question."""


def _ratio_sentences(response: str, corrected: bool) -> list[str]:
    """Sentences for the ratio ids: IFBench's regex splitter (reference) or Punkt with punctuation-only pieces absorbed."""
    if corrected:
        return sentences_en_absorbed(response)  # RATIO_SENTENCES_ABSORB_PUNCTUATION
    return sentences_en_regex(response)  # RATIO_SENTENCES_PUBLISHED_SPLITTER


def _sentence_ends(response: str, corrected: bool = False) -> Counter:
    return Counter(s[-1] for s in _ratio_sentences(response, corrected) if s)


class SentenceType(_IFBench):
    id = "ratio:sentence_type"
    dimension = "grammar_structure"

    def check(self, response, kw):
        ends = _sentence_ends(response, self.corrected)
        return ends["."] == 2 * ends["?"]

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Write twice as many statements (ending in a period) as questions (ending in a question mark).",
            "陈述句（以句点结尾）与疑问句（以问号结尾）的数量之比保持为 2:1。",
        )


class SentenceBalance(_IFBench):
    id = "ratio:sentence_balance"
    dimension = "grammar_structure"

    def check(self, response, kw):
        ends = _sentence_ends(response, self.corrected)
        return ends["."] == ends["?"] == ends["!"]

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Use the same number of statements, questions and exclamations.",
            "陈述句、疑问句和感叹句的数量必须相等。",
        )


class Overlap(_IFBench):
    id = "ratio:overlap"
    dimension = "text_background"

    class Kwargs(Kwargs):
        reference_text: StrictStr
        percentage: StrictInt = Field(ge=0)

    def check(self, response, kw):
        def trigrams(t: str) -> set[tuple[str, str, str]]:
            # OVERLAP_WORD_TRIGRAMS (corrected); the reference takes trigrams of characters.
            tok: Any = word_tokens(t) if self.corrected else t
            return set(zip(tok, tok[1:], tok[2:], strict=False))

        grams = trigrams(response)
        if not grams:
            return False
        overlap = len(grams & trigrams(kw.reference_text)) / len(grams) * 100
        return kw.percentage - 2 <= overlap <= kw.percentage + 2

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            f"Reuse {self._unit_en} trigrams from this reference text so that {kw.percentage}% (±2%) of your answer's trigrams come from it: {kw.reference_text}",
            f"回答与以下参考文本的{self._unit_zh}三元组重合率保持在 {kw.percentage}%（±2%）：{kw.reference_text}",
        )

    @property
    def _unit_en(self) -> str:
        return "word" if self.corrected else "character"

    @property
    def _unit_zh(self) -> str:
        return "词" if self.corrected else "字符"

    def sample_kwargs(self, rng, task=None):
        return {"reference_text": task or _SAMPLE_TEXT, "percentage": rng.randint(10, 90)}

    def perturb(self, kw, rng):
        # Move the target more than the ±2% tolerance window away.
        p = kw.percentage
        return {"reference_text": kw.reference_text, "percentage": p + 10 if p < 50 else p - 10}


class SentenceWords(_IFBench):
    id = "ratio:sentence_words"
    dimension = "grammar_structure"

    def check(self, response, kw):
        sents = _ratio_sentences(response, self.corrected)
        if len(sents) != 3 or len({len(s.strip()) for s in sents}) != 1:
            return False
        if not self.corrected:
            return True  # the reference checks the count and the lengths only
        words = _split_words(" ".join(sents))  # SENTENCE_WORDS_UNIQUE
        return len(words) == len(set(words))

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Answer in exactly three sentences of equal character length, and never repeat a word.",
            "用三个句子作答：三句的字符数相同，且所有单词互不重复。",
        )


# ---------------------------------------------------------------------------------------------
# words


class Alphabet(_IFBench):
    id = "words:alphabet"
    dimension = "linguistic_characteristics"

    def check(self, response, kw):
        words = response.translate(_DEL_PUNCT).strip(_STRIP).split()
        if not words:
            return False
        letters = string.ascii_lowercase
        letter = words[0][0].lower()
        if letter not in letters:
            return False
        for word in words[1:]:
            word = word.strip(_STRIP).lower()
            if not word:
                continue
            letter = letters[(letters.index(letter) + 1) % 26]
            if word[0] != letter:
                return False
        return True

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Start consecutive words with consecutive letters of the alphabet, wrapping from Z back to A.",
            "每个英文单词的首字母必须依次是字母表中的下一个字母，Z 之后回到 A。",
        )


class Vowel(_IFBench):
    id = "words:vowel"
    dimension = "linguistic_characteristics"

    def check(self, response, kw):
        lines = response.strip().split("\n")
        if len(lines) != 1:
            return False
        return len(set(lines[0].lower()) & set("aeiou")) <= 3

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Write a single paragraph whose words use no more than three different vowels in total.",
            "只写一个段落，且全文最多使用三种元音字母（a、e、i、o、u 中的三种）。",
        )


class Consonants(_IFBench):
    id = "words:consonants"
    dimension = "linguistic_characteristics"
    _CLUSTER = re.compile(r"[bcdfghjklmnpqrstvwxyz]{2}")

    def check(self, response, kw):
        return all(self._CLUSTER.search(w) for w in response.lower().split())

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Every word in your answer needs two or more consonants in a row.",
            "回答中的每个单词都必须含有至少一个辅音连缀（两个或以上辅音字母相连）。",
        )


class Palindrome(_IFBench):
    id = "words:palindrome"
    dimension = "linguistic_characteristics"

    def check(self, response, kw):
        words = response.translate(_DEL_PUNCT).lower().split()
        return sum(1 for w in words if len(w) >= 5 and w == w[::-1]) >= 10

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Use ten or more palindromic words of five or more letters.",
            "回答中至少包含 10 个回文单词，每个至少 5 个字母长。",
        )


_PRIMES = frozenset(
    {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97}
)


class PrimeLengths(_IFBench):
    id = "words:prime_lengths"
    dimension = "linguistic_characteristics"

    def check(self, response, kw):
        return all(len(w) in _PRIMES for w in response.translate(_DEL_PUNCT).split())

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Every word you use must have a prime number of letters.",
            "只使用长度为质数的单词。",
        )


class StartVerb(_IFBench):
    id = "words:start_verb"
    dimension = "grammar_structure"

    @staticmethod
    def is_verb(token: str) -> bool:
        """True if the token is a verb form by VERB_LEXICON / IRREGULAR_VERB_FORMS."""
        w = token.lower()
        if w in VERB_LEXICON or w in IRREGULAR_VERB_FORMS:
            return True
        stems: list[str] = []
        if w.endswith("ies"):
            stems.append(w[:-3] + "y")
        if w.endswith("es"):
            stems.append(w[:-2])
        if w.endswith("s"):
            stems.append(w[:-1])
        if w.endswith("ied"):
            stems.append(w[:-3] + "y")
        for suffix in ("ed", "ing"):
            if w.endswith(suffix):
                base = w[: -len(suffix)]
                stems += [base, base + "e"]
                if len(base) > 2 and base[-1] == base[-2]:
                    stems.append(base[:-1])  # stopped, running
        return any(s in VERB_LEXICON for s in stems)

    def check(self, response, kw):
        first = _first_tokens(response, 1)
        return bool(first) and first[0].isalpha() and self.is_verb(first[0])

    def render(self, kw, lang="en"):
        return _pick(lang, "Begin your answer with a verb.", "回答必须以一个英文动词开头。")


class Repeats(_IFBench):
    id = "words:repeats"
    dimension = "linguistic_characteristics"
    Kwargs = _SmallN

    def check(self, response, kw):
        counts = Counter(_split_words(response))
        return not counts or max(counts.values()) <= kw.small_n

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            f"No word may occur more than {kw.small_n} times in your answer.",
            f"回答中任何单词的出现次数都不得超过 {kw.small_n} 次。",
        )

    def sample_kwargs(self, rng, task=None):
        return {"small_n": rng.randint(1, 5)}

    def perturb(self, kw, rng):
        return {"small_n": max(0, kw.small_n - 1)} if kw.small_n > 0 else None


class OddEvenSyllables(_IFBench):
    id = "words:odd_even_syllables"
    dimension = "linguistic_characteristics"

    def check(self, response, kw):
        import syllapy  # lazy: loads its syllable dictionary

        parities = [syllapy.count(w) % 2 for w in response.translate(_DEL_PUNCT).lower().split()]
        return all(a != b for a, b in zip(parities, parities[1:], strict=False))

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Make the syllable counts of consecutive words alternate between odd and even.",
            "单词的音节数必须奇偶交替。",
        )


class LastFirst(_IFBench):
    id = "words:last_first"
    dimension = "text_pattern"

    def check(self, response, kw):
        sents = sentences_en(response)
        for a, b in zip(sents, sents[1:], strict=False):
            last = a.rstrip(_STRIP).split()
            first = b.lstrip(_STRIP).split()
            if not last or not first or last[-1].lower() != first[0].lower():
                return False
        return True

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Begin each sentence with the word that ended the sentence before it.",
            "每个句子的最后一个词必须是下一个句子的第一个词。",
        )


class ParagraphLastFirst(_IFBench):
    id = "words:paragraph_last_first"
    dimension = "text_pattern"

    def check(self, response, kw):
        for para in response.split("\n"):
            words = para.strip().lower().strip(_STRIP).split()
            if words and words[0] != words[-1]:
                return False
        return True

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Put each paragraph on its own line, and end every paragraph with the word it begins with.",
            "每个段落必须以开头的那个词结尾，段落之间用换行分隔。",
        )


class NoConsecutive(_IFBench):
    id = "words:no_consecutive"
    dimension = "linguistic_characteristics"

    def check(self, response, kw):
        words = _split_words(response)
        return all(a[0] != b[0] for a, b in zip(words, words[1:], strict=False))

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Adjacent words must not begin with the same letter.",
            "相邻的两个单词不能以相同的字母开头。",
        )


class KeywordsSpecificPosition(_IFBench):
    id = "words:keywords_specific_position"
    dimension = "inclusion"

    class Kwargs(Kwargs):
        keyword: StrictStr = Field(min_length=1)
        n: StrictInt = Field(ge=1)
        m: StrictInt = Field(ge=1)

    def check(self, response, kw):
        sents = sentences_en(response)
        if len(sents) < kw.n:
            return False
        words = word_tokens(sents[kw.n - 1])
        if self.corrected:  # POSITION_COUNTS_WORDS_ONLY; the reference counts punctuation tokens
            words = _alnum_tokens(words)
        return len(words) >= kw.m and words[kw.m - 1].lower() == kw.keyword.strip().lower()

    def render(self, kw, lang="en"):
        k = kw.keyword.strip()
        return _pick(
            lang,
            f"Make {k} the {_ordinal(kw.m)} word of your {_ordinal(kw.n)} sentence.",
            f"在第 {kw.n} 个句子中包含关键词 {k}，并且它必须是该句的第 {kw.m} 个词。",
        )

    def sample_kwargs(self, rng, task=None):
        return {"keyword": rng.choice(KEYWORD_POOL), "n": rng.randint(1, 5), "m": rng.randint(1, 10)}

    def perturb(self, kw, rng):
        # The m-th word is the old keyword, so it cannot be a different one.
        others = [w for w in KEYWORD_POOL if w != kw.keyword.strip().lower()]
        return {"keyword": rng.choice(others), "n": kw.n, "m": kw.m}


class WordsPosition(_IFBench):
    id = "words:words_position"
    dimension = "inclusion"
    Kwargs = _Keyword

    def check(self, response, kw):
        # Only the 2nd and the 2nd-to-last word tokens matter: tokenize sentences from each end.
        sents = sentences_en(response)

        def tokens(s: str) -> list[str]:
            # POSITION_COUNTS_WORDS_ONLY (corrected); the reference counts punctuation tokens too.
            toks = treebank_tokens(s)
            return _alnum_tokens(toks) if self.corrected else toks

        head: list[str] = []
        for s in sents:
            head += tokens(s)
            if len(head) >= 2:
                break
        if len(head) < 2:
            return False
        tail: list[str] = []
        for s in reversed(sents):
            tail = tokens(s) + tail
            if len(tail) >= 2:
                break
        k = kw.keyword.strip().lower()
        return head[1].lower() == tail[-2].lower() == k

    def render(self, kw, lang="en"):
        k = kw.keyword.strip()
        return _pick(
            lang,
            f"Make {k} both the second word and the second-to-last word of your answer.",
            f"回答的第二个词和倒数第二个词都必须是 {k}。",
        )

    def sample_kwargs(self, rng, task=None):
        return {"keyword": rng.choice(KEYWORD_POOL)}

    def perturb(self, kw, rng):
        options = [w for w in KEYWORD_POOL if w != kw.keyword.strip().lower()]
        return {"keyword": rng.choice(options)}


# ---------------------------------------------------------------------------------------------
# sentence


class AlliterationIncrement(_IFBench):
    id = "sentence:alliteration_increment"
    dimension = "linguistic_characteristics"

    def check(self, response, kw):
        prev = -1
        for sent in sentences_en(response):
            words = [c for c in (w.lstrip(_STRIP) for w in sent.lower().split()) if c]
            score, in_run = 0, False
            for a, b in zip(words, words[1:], strict=False):
                if a[0] == b[0]:
                    score += 1 if in_run else 2
                    in_run = True
                else:
                    in_run = False
            if score <= prev:
                return False
            prev = score
        return True

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Each sentence needs a longer run of adjacent words sharing a first letter than the sentence before it.",
            "每个句子中连续押头韵（首字母相同）的单词序列都必须比上一句更长。",
        )


class SentenceKeyword(_IFBench):
    id = "sentence:keyword"
    dimension = "inclusion"

    class Kwargs(Kwargs):
        word: StrictStr = Field(min_length=1)
        N: StrictInt = Field(ge=1)

    def check(self, response, kw):
        sents = sentences_en(response)
        if len(sents) < kw.N:
            return False
        return re.search(rf"\b{re.escape(kw.word)}\b", sents[kw.N - 1], re.IGNORECASE) is not None

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            f'Your {_ordinal(kw.N)} sentence must contain the word "{kw.word}".',
            f"回答的第 {kw.N} 个句子中必须包含关键词“{kw.word}”。",
        )

    def sample_kwargs(self, rng, task=None):
        return {"word": rng.choice(KEYWORD_POOL), "N": rng.randint(1, 10)}

    def perturb(self, kw, rng):
        others = [w for w in KEYWORD_POOL if w != kw.word.lower()]
        return {"word": rng.choice(others), "N": kw.N}


class SentenceIncrement(_IFBench):
    id = "sentence:increment"
    dimension = "numerical"
    Kwargs = _SmallN

    def check(self, response, kw):
        sents = sentences_en(response)
        if not sents:
            return False  # REFERENCE_ERROR_IS_FAILURE: the reference raises IndexError here
        counts = [len(s.translate(_DEL_PUNCT).split()) for s in sents]
        return all(b == a + kw.small_n for a, b in zip(counts, counts[1:], strict=False))

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            f"Each sentence must be exactly {kw.small_n} words longer than the one before it.",
            f"每个句子都必须比上一个句子恰好多 {kw.small_n} 个单词。",
        )

    def sample_kwargs(self, rng, task=None):
        return {"small_n": rng.randint(1, 5)}

    def perturb(self, kw, rng):
        return {"small_n": kw.small_n + 1}


# ---------------------------------------------------------------------------------------------
# format


class Parentheses(_IFBench):
    id = "format:parentheses"
    dimension = "text_pattern"
    languages = ("en", "zh")
    _PAIRS = {")": "(", "]": "[", "}": "{"}

    def check(self, response, kw):
        stack: list[str] = []
        deepest = 0
        for ch in response:
            if ch in "([{":
                stack.append(ch)
                deepest = max(deepest, len(stack))
            elif ch in ")]}":
                if stack and stack[-1] == self._PAIRS[ch]:
                    stack.pop()
                    if deepest >= 5 and len(stack) < deepest:
                        return True
                else:
                    stack, deepest = [], 0
        return False

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Nest brackets of the kinds (), [] and {} at least five levels deep.",
            "使用圆括号、方括号和花括号进行嵌套，至少嵌套 5 层。",
        )


class Quotes(_IFBench):
    id = "format:quotes"
    dimension = "text_pattern"
    languages = ("en", "zh")

    def check(self, response, kw):
        stack: list[str] = []
        reached = 0
        for ch in response:
            if stack and ch == stack[-1]:
                stack.pop()
                if reached - len(stack) >= 3:
                    return True
            elif ch in "\"'":
                stack.append(ch)
                reached = max(reached, len(stack))
        return False

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Nest quotations three or more levels deep, switching between double and single quotation marks.",
            "使用至少 3 层嵌套的引号，双引号与单引号交替使用。",
        )


class Options(_IFBench):
    id = "format:options"
    dimension = "output_format"

    class Kwargs(Kwargs):
        options: StrictStr = Field(min_length=1)

    @staticmethod
    def parse(options: str) -> tuple[list[str], bool]:
        """The option list and whether matching is exact (for a)/b)/c) letter options)."""
        strict = re.match(r"\W*[aA]\W*[bB]\W*[cC]\W*", options) is not None
        sep = "/" if "/" in options else "or" if "or" in options else ","
        return [o.strip() for o in options.split(sep)], strict

    def check(self, response, kw):
        options, strict = self.parse(kw.options)
        if strict:
            return response in options
        value = response.strip(_STRIP).lower()
        return any(o.strip(_STRIP).lower() == value for o in options)

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            f"Reply with only one of these options and no explanation: {kw.options}.",
            f"只用以下选项之一作答：{kw.options}。不要给出任何解释。",
        )

    def sample_kwargs(self, rng, task=None):
        return {"options": rng.choice(["yes/no/maybe", "I know or I don't know", "a), b), c), d)"])}


class Newline(_IFBench):
    id = "format:newline"
    dimension = "text_pattern"

    def check(self, response, kw):
        value = response.translate(_DEL_PUNCT).strip()
        lines = [line for line in value.split("\n") if line != ""]
        return len(lines) == len(value.split())

    def render(self, kw, lang="en"):
        return _pick(lang, "Put every word on a line of its own.", "每个单词单独占一行。")


class Emoji(_IFBench):
    id = "format:emoji"
    dimension = "text_pattern"

    def check(self, response, kw):
        import emoji  # lazy

        sents = [s.translate(_DEL_PUNCT).strip() for s in sentences_en(response)]
        for i, s in enumerate(sents):
            if not s:
                return False
            if emoji.is_emoji(s[-1]) or emoji.is_emoji(s[-2] if len(s) > 1 else s[-1]):
                continue
            # An emoji that Punkt put at the start of the next sentence also counts.
            if i == len(sents) - 1 or not sents[i + 1] or not emoji.is_emoji(sents[i + 1][0]):
                return False
        return True

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Finish every sentence with an emoji.",
            "每个句子的末尾都要加一个表情符号（emoji）。",
        )


def _drop_blank_lines_while_iterating(lines: list[str]) -> list[str]:
    """The reference's blank-line removal: it deletes while iterating, so the line after each removed one is skipped.

    Deleting from a list under a `for` loop moves the next line into the slot just visited, and
    `list.remove` deletes the first equal line, which may be an earlier skipped blank line rather
    than the one just visited; both effects are kept (quadratic only in the number of blank lines).
    """
    out = list(lines)
    i = 0
    while i < len(out):
        if not out[i].strip():
            del out[out.index(out[i])]
        i += 1
    return out


class LineIndent(_IFBench):
    id = "format:line_indent"
    dimension = "text_pattern"
    languages = ("en", "zh")

    def check(self, response, kw):
        lines = response.split("\n")
        if self.corrected:  # LINE_INDENT_DROPS_ALL_BLANK_LINES
            kept = [line for line in lines if line.strip()]
        else:
            kept = _drop_blank_lines_while_iterating(lines)
        indents = [len(line) - len(line.lstrip(" ")) for line in kept]
        return all(b > a for a, b in zip(indents, indents[1:], strict=False))

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Indent each line further than the line above it, like a staircase.",
            "每一行都比上一行缩进更多（用空格），形成阶梯状。",
        )


class QuoteUnquote(_IFBench):
    id = "format:quote_unquote"
    dimension = "citation"
    _TAIL = string.digits + _PUNCT.replace('"', "")

    def check(self, response, kw):
        value = response
        if self.corrected:  # QUOTE_UNQUOTE_CURLY_QUOTES
            value = value.replace("\u201c", '"').replace("\u201d", '"')
        value = "".join(value.replace("'\"'", "").split())
        if '""' in value:
            return False
        tail = value.strip(self._TAIL)
        return not (tail and tail[-1] == '"')

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Follow each quoted phrase with an explanation that is not in quotes.",
            "每个加引号的短语后面都必须跟一段不加引号的解释。",
        )


class BulletList(_IFBench):
    id = "format:list"
    dimension = "numbering_and_list"
    languages = ("en", "zh")

    class Kwargs(Kwargs):
        sep: StrictStr = Field(min_length=1)

    def check(self, response, kw):
        return response.count(kw.sep) >= 2  # non-overlapping, like the reference's re.findall

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            f"Give your answer as a list of items, marking each item with {kw.sep} instead of a bullet.",
            f"以列表形式作答，不要用项目符号，而是用 {kw.sep} 标记每一项。",
        )

    def sample_kwargs(self, rng, task=None):
        return {"sep": rng.choice(["...", "SEPARATOR", "!?!?", "-"])}

    def perturb(self, kw, rng):
        others = [
            s
            for s in ("~~", "SEPARATOR", "!?!?", ">>")
            if s != kw.sep and kw.sep not in s and s not in kw.sep
        ]
        return {"sep": rng.choice(others)}


class Thesis(_IFBench):
    id = "format:thesis"
    dimension = "hierarchical_structure"
    languages = ("en", "zh")

    def check(self, response, kw):
        start = response.find("<i>")
        if start == -1:
            start = response.find("<em>")
            if start == -1:
                return False
        value = response[start:]
        end = value.find("</i>")
        if end == -1:
            end = value.find("</em>")
            if end == -1:
                return False
        # Offsets as in the reference (sized for <i> and </i>).
        return value[3:end].strip() != "" and value[end + 4 :].strip() != ""

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Open each section with a thesis sentence set in italics using HTML tags (<i> or <em>).",
            "每个部分都必须以一句斜体的论点句开头，斜体用 HTML 标签（<i> 或 <em>）表示。",
        )


class SubBullets(_IFBench):
    id = "format:sub-bullets"
    dimension = "hierarchical_structure"
    languages = ("en", "zh")

    def check(self, response, kw):
        return all("-" in part for part in response.split("*")[1:])

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Use * for bullet points and give every bullet point at least one sub-point marked with -.",
            "回答必须包含以 * 标记的要点，并且每个要点下至少有一个以 - 标记的子要点。",
        )


class NoBulletsBullets(_IFBench):
    id = "format:no_bullets_bullets"
    dimension = "numbering_and_list"

    def check(self, response, kw):
        in_sentences: Any = True  # becomes the last line's sentence list, as in the reference
        n_sent = n_bullets = 0
        for line in response.split("\n"):
            if line.strip().startswith("*"):
                in_sentences = False
                if n_sent < 2:
                    return False
                n_bullets += 1
            elif in_sentences:
                in_sentences = sentences_en(line.strip())
                n_sent += len(in_sentences)
            else:
                return False
        return n_bullets >= 2

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "First write two or more sentences ending in periods, then two or more bullet points marked with *.",
            "回答先写至少两个以句点结尾的句子，然后是至少两个以 * 标记的要点。",
        )


class TitleCase(_IFBench):
    id = "format:title_case"
    dimension = "text_pattern"

    def check(self, response, kw):
        for word in word_tokens(response):
            if not word[0].isalpha():
                continue
            if len(word) == 1:
                if word.islower():
                    return False
                continue
            if word[0].isupper() and word[1:].islower():
                continue
            if word[0].islower() and (word[1:].isupper() or word[1:].islower()):
                return False
        return True

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Capitalize the first letter of every major word throughout your answer (title case).",
            "整个回答使用英文标题大小写（每个主要单词首字母大写）。",
        )


class OutputTemplate(_IFBench):
    id = "format:output_template"
    dimension = "template"

    def check(self, response, kw):
        return all(p in response for p in ("My Answer:", "My Conclusion:", "Future Outlook:"))

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Lay out your answer exactly as: My Answer: [answer] My Conclusion: [conclusion] Future Outlook: [outlook]",
            "严格按照此模板作答（标签保留英文）：My Answer: [答案] My Conclusion: [结论] "
            "Future Outlook: [展望]",
        )


class NoWhitespace(_IFBench):
    id = "format:no_whitespace"
    dimension = "text_pattern"
    languages = ("en", "zh")

    def check(self, response, kw):
        return not any(ch.isspace() for ch in response)

    def render(self, kw, lang="en"):
        return _pick(
            lang, "Your answer must not contain any whitespace characters.", "输出中不能包含任何空白字符。"
        )


# ---------------------------------------------------------------------------------------------
# custom


class Multiples(_IFBench):
    id = "custom:multiples"
    dimension = "numerical"
    EXPECTED = [str(i) for i in range(14, 51, 7)]

    def check(self, response, kw):
        return re.findall(r"\d+", response.replace(",", ", ")) == self.EXPECTED

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Count from 10 up to 50, writing down only the multiples of 7.",
            "从 10 数到 50，但只输出 7 的倍数。",
        )


class MCQCountLength(_IFBench):
    id = "custom:mcq_count_length"
    dimension = "template"
    _SPLIT = re.compile(r"\n*(?:Question \d+[\.|\):;]?\s*)")
    _OPTION = re.compile(r"^[A-Ea-e][\.|\)]\s*\w+")

    def check(self, response, kw):
        if response[response.find("Question") :] != response:
            return False  # text before the first question: an explanation
        questions = self._SPLIT.split(response)
        if questions and questions[0] == "":
            questions = questions[1:]
        questions = [q.strip() for q in questions if q.strip()]
        if len(questions) != 4:
            return False
        lengths = []
        for q in questions:
            text, n_options, done = "", 0, False
            for line in q.split("\n"):
                if self._OPTION.match(line.strip()):
                    n_options += 1
                    done = True
                elif not done:
                    text += " " + line.strip()
            if n_options != 5:
                return False
            lengths.append(len(text.strip()))
        return all(a < b for a, b in zip(lengths, lengths[1:], strict=False))

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            'Write four multiple-choice questions on 20th-century art history, each with five options (A-E). Label each question "Question", make every question longer than the one before, and add no explanation.',
            "围绕“20 世纪艺术史”出 4 道选择题，每题 5 个选项（A–E）。每道题以英文标签“Question”开头，"
            "题干逐题变长。不要给出解释。",
        )


def _ascii_fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


class ReverseNewline(_IFBench):
    id = "custom:reverse_newline"
    dimension = "numbering_and_list"

    def check(self, response, kw):
        lines = [s for s in (line.strip(_STRIP) for line in response.split("\n")) if s]
        start = next((i for i, line in enumerate(lines) if "Zimbabwe" in line), None)
        if start is None or len(lines) - start < 52:
            return False
        folded = [_ascii_fold(line) for line in lines[start:]]
        return folded == sorted(folded, reverse=True)

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Write the names of all African countries, one per line, in reverse alphabetical order.",
            "用英文按字母逆序列出所有非洲国家，每行一个。",
        )


class WordReverse(_IFBench):
    id = "custom:word_reverse"
    dimension = "text_pattern"

    def check(self, response, kw):
        value = " ".join(response.lower().strip().translate(_DEL_PUNCT).split()[::-1])
        return "bald eagle" in value and value in sentences_en(value)

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Which animal is the national symbol of the United States? Answer in a sentence whose words appear in reverse order.",
            "美国的国家象征是什么动物？请用英文回答，但把句子的单词顺序完全倒过来。",
        )


class CharacterReverse(_IFBench):
    id = "custom:character_reverse"
    dimension = "text_pattern"

    def check(self, response, kw):
        return "elgae dlab" in response.lower()

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Which animal is the national symbol of the United States? Answer in a sentence spelled backwards, letter by letter.",
            "美国的国家象征是什么动物？请用英文回答，但把句子逐个字母倒序书写。",
        )


class SentenceAlphabet(_IFBench):
    id = "custom:sentence_alphabet"
    dimension = "text_pattern"

    def check(self, response, kw):
        sents = sentences_en(response)
        if len(sents) != 26:
            return False
        for i, s in enumerate(sents):
            if self.corrected:  # SENTENCE_ALPHABET_SKIPS_PUNCTUATION
                s = s.lstrip(_PUNCT + string.whitespace)
                if not s or s[0].lower() != chr(97 + i):
                    return False
                continue
            words = s.split()  # the reference: the first whitespace-split word as it stands
            if not words or words[0].lower()[0] != chr(97 + i):
                return False
        return True

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Write a story of exactly 26 sentences whose first words begin with A, B, C, ... Z in turn.",
            "用英文讲一个 26 句的故事，每句第一个单词的首字母依次为 A 到 Z。",
        )


EUROPEAN_CAPITALS_BY_LATITUDE = _wordlist(
    "Reykjavik Helsinki Oslo Tallinn Stockholm Riga Moscow Copenhagen Vilnius Minsk Dublin Berlin "
    "Amsterdam Warsaw London Brussels Prague Luxembourg Paris Vienna Bratislava Budapest Vaduz "
    "Chisinau Bern Ljubljana Zagreb"
)


class EuropeanCapitalsSort(_IFBench):
    id = "custom:european_capitals_sort"
    dimension = "output_format"

    def check(self, response, kw):
        caps = [c.strip() for c in _ascii_fold(response).split(",") if c.strip()]
        return caps == EUROPEAN_CAPITALS_BY_LATITUDE

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Name every capital of a European country lying north of 45° latitude, without the countries, separated by commas and ordered from the northernmost to the southernmost.",
            "列出纬度高于北纬 45 度的所有欧洲国家首都的英文名，不写国家名，用英文逗号分隔，按纬度从高到低排序。",
        )


def _csv_rows(text: str, limit: int, delimiter: str = ",") -> list[list[str]] | None:
    """Up to `limit` + 1 parsed rows (enough to tell 'more than limit'); None if csv cannot parse."""
    rows = []
    try:
        for row in csv.reader(io.StringIO(text), delimiter=delimiter):
            rows.append(row)
            if len(rows) > limit:
                break
    except csv.Error:
        return None  # REFERENCE_ERROR_IS_FAILURE
    return rows


class CsvCity(_IFBench):
    id = "custom:csv_city"
    dimension = "output_format"
    HEADER = ["ID", "Country", "City", "Year", "Count"]

    def check(self, response, kw):
        rows = _csv_rows(response, 8)
        return (
            rows is not None
            and len(rows) == 8
            and rows[0] == self.HEADER
            and all(len(r) == 5 for r in rows[1:])
        )

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Produce comma-separated CSV with the header ID,Country,City,Year,Count followed by 7 data rows.",
            '生成 CSV 数据：列名为 ["ID", "Country", "City", "Year", "Count"]，用英文逗号分隔，'
            "生成 7 行数据。",
        )


class CsvSpecialCharacter(_IFBench):
    id = "custom:csv_special_character"
    dimension = "output_format"
    _HEADER = re.compile(
        r'^(ProductID|"ProductID"),[ \t]*(Category|"Category"),[ \t]*(Brand|"Brand"),'
        r'[ \t]*(Price|"Price"),[ \t]*(Stock|"Stock")$'
    )
    _SPECIAL = re.compile(r'".*[^\d\w\s].*"')

    def check(self, response, kw):
        if not self._HEADER.match(response.split("\n")[0].strip()):
            return False
        # Tripling quotes keeps them in the parsed fields, as the reference does.
        rows = _csv_rows(response.replace('"', '"""'), 15)
        if rows is None or len(rows) != 15:
            return False
        for row in rows[1:]:
            if len(row) != 5:
                return False
            if any(self._SPECIAL.match(f) for f in row):
                return True
        return False

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Produce comma-separated CSV with the header ProductID,Category,Brand,Price,Stock followed by 14 data rows; one field must contain a special character and be wrapped in double quotes.",
            '生成 CSV 数据：列名为 ["ProductID", "Category", "Brand", "Price", "Stock"]，用英文逗号分隔，'
            "生成 14 行数据；其中一个字段要包含特殊字符，并用双引号括起来。",
        )


class CsvQuotes(_IFBench):
    id = "custom:csv_quotes"
    dimension = "output_format"
    _HEADER = re.compile(
        r'^(StudentID|"StudentID")\t *(Subject|"Subject")\t *(Grade|"Grade")\t *'
        r'(Semester|"Semester")\t *(Score|"Score")$'
    )

    def check(self, response, kw):
        if not self._HEADER.match(response.split("\n")[0].strip()):
            return False
        rows = _csv_rows(response.replace('"', '"""'), 4, delimiter="\t")
        if rows is None or len(rows) != 4:
            return False
        for row in rows:
            if len(row) != 5:
                return False
            for f in row:
                f = f.strip()
                if not f or f[0] != '"' or f[-1] != '"':  # empty field: REFERENCE_ERROR_IS_FAILURE
                    return False
        return True

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Produce tab-separated CSV with the header StudentID, Subject, Grade, Semester, Score followed by 3 data rows, with every field (header included) wrapped in double quotes.",
            '生成 CSV 数据：列名为 ["StudentID", "Subject", "Grade", "Semester", "Score"]，用制表符分隔，'
            "生成 3 行数据，每个字段都用双引号括起来。",
        )


class DateFormatList(_IFBench):
    id = "custom:date_format_list"
    dimension = "output_format"
    _DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

    def check(self, response, kw):
        for date in response.strip().split(","):
            date = date.strip()
            if not self._DATE.match(date):
                return False
            y, m, d = (int(p) for p in date.split("-"))
            if not 1769 <= y <= 1821 or m > 12:
                return False
            if (
                (m in (1, 3, 5, 7, 8, 10, 12) and d > 31)
                or (m in (4, 6, 9, 11) and d > 30)
                or (m == 2 and d > 29)
            ):
                return False
        return True

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            "Give the start date of every battle Napoleon fought, as YYYY-MM-DD, separated by commas, with no explanation.",
            "列出拿破仑参加过的所有战役的开始日期，用英文逗号分隔，日期格式为 YYYY-MM-DD。不要给出解释。",
        )


# ---------------------------------------------------------------------------------------------
# repeat


class RepeatChange(_IFBench):
    id = "repeat:repeat_change"
    dimension = "template"
    Kwargs = _Prompt

    def check(self, response, kw):
        if kw.prompt_to_repeat == response:
            return False
        return " ".join(kw.prompt_to_repeat.split()[1:]) == " ".join(response.split()[1:])

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            f"Repeat the request below word for word except for its first word, which you must replace. Say nothing before it and do not answer the request. Request: {kw.prompt_to_repeat}",
            "原样重复下面的请求，但要替换其中的第一个词（重复之前不要说任何话；需要重复的请求不包括本句），"
            f"并且不要回答该请求！请求：{kw.prompt_to_repeat}",
        )

    def sample_kwargs(self, rng, task=None):
        return {"prompt_to_repeat": task or _SAMPLE_TEXT}


class RepeatSimple(_IFBench):
    id = "repeat:repeat_simple"
    dimension = "template"

    def check(self, response, kw):
        return response.strip().lower() == REPEAT_SIMPLE_SENTENCE.lower()

    def render(self, kw, lang="en"):
        return _pick(
            lang,
            REPEAT_SIMPLE_SENTENCE,
            f"只输出下面这句英文，忽略其他所有要求：{REPEAT_SIMPLE_SENTENCE}",
        )


class RepeatSpan(_IFBench):
    id = "repeat:repeat_span"
    dimension = "template"

    class Kwargs(Kwargs):
        prompt_to_repeat: StrictStr = Field(min_length=1)
        n_start: StrictInt = Field(ge=0)
        n_end: StrictInt = Field(ge=0)

        @model_validator(mode="after")
        def _order(self):
            if self.n_start > self.n_end:
                raise ValueError("n_start must be <= n_end")
            return self

    def _span(self, kw) -> list[str]:
        """The lowercased words to copy (REPEAT_SPAN_WORD_INDICES): n_end excluded by the reference."""
        words = kw.prompt_to_repeat.strip().lower().split()
        return words[kw.n_start : kw.n_end + 1] if self.corrected else words[kw.n_start : kw.n_end]

    def check(self, response, kw):
        return response.strip().lower().split() == self._span(kw)

    def render(self, kw, lang="en"):
        if self.corrected:
            return _pick(
                lang,
                f"Copy out words {kw.n_start} through {kw.n_end} (inclusive, counting from 0, words split at whitespace) of this text and nothing else: {kw.prompt_to_repeat}",
                f"复制下面文本中下标 {kw.n_start} 到 {kw.n_end}（含两端）之间的词，下标按空白切分的词计数，从 0 开始！"
                f"文本：{kw.prompt_to_repeat}",
            )
        return _pick(
            lang,
            f"Copy out words {kw.n_start} up to but not including {kw.n_end} (counting from 0, words split at whitespace) of this text and nothing else: {kw.prompt_to_repeat}",
            f"复制下面文本中下标 {kw.n_start} 起、到 {kw.n_end} 之前（不含 {kw.n_end}）的词，下标按空白切分的词计数，从 0 开始！"
            f"文本：{kw.prompt_to_repeat}",
        )

    def sample_kwargs(self, rng, task=None):
        text = task if task and len(task.split()) >= 3 else _SAMPLE_TEXT
        n = len(text.split())
        start = rng.randint(1, n - 2)  # REPEAT_SPAN_ZERO_IS_INDEX: the reference reads 0 as random
        return {"prompt_to_repeat": text, "n_start": start, "n_end": rng.randint(start + 1, n - 1)}

    def perturb(self, kw, rng):
        # A different span of the same text whose copy differs: the nearest longer one, else the
        # nearest shorter one.
        n = len(kw.prompt_to_repeat.split())
        old = self._span(kw)
        tries = [(kw.n_start, e) for e in range(kw.n_end + 1, n + 1)]
        tries += [(st, kw.n_end) for st in range(kw.n_start + 1, kw.n_end + 1)]
        for st, e in tries:
            raw = {"prompt_to_repeat": kw.prompt_to_repeat, "n_start": st, "n_end": e}
            if self._span(self.parse_kwargs(raw)) != old:
                return raw
        return None


CONSTRAINTS: list[ConstraintType] = [
    cls()
    for cls in (
        WordCountRange,
        UniqueWordCount,
        StopWords,
        SentenceType,
        SentenceBalance,
        Conjunctions,
        PersonNames,
        Overlap,
        Numbers,
        Alphabet,
        Vowel,
        Consonants,
        AlliterationIncrement,
        Palindrome,
        Punctuation,
        Parentheses,
        Quotes,
        PrimeLengths,
        Options,
        Newline,
        Emoji,
        SentenceWords,
        WordsJapanese,
        StartVerb,
        Repeats,
        SentenceKeyword,
        Pronouns,
        OddEvenSyllables,
        LastFirst,
        ParagraphLastFirst,
        SentenceIncrement,
        NoConsecutive,
        LineIndent,
        QuoteUnquote,
        BulletList,
        Thesis,
        SubBullets,
        NoBulletsBullets,
        Multiples,
        MCQCountLength,
        ReverseNewline,
        WordReverse,
        CharacterReverse,
        SentenceAlphabet,
        EuropeanCapitalsSort,
        CsvCity,
        CsvSpecialCharacter,
        CsvQuotes,
        DateFormatList,
        KeywordsMultiple,
        KeywordsSpecificPosition,
        WordsPosition,
        RepeatChange,
        RepeatSimple,
        RepeatSpan,
        TitleCase,
        OutputTemplate,
        NoWhitespace,
    )
]

# The `--semantics corrected` readings (registry.get(cid, "corrected")); rows of DEVIATIONS.
CORRECTED: list[ConstraintType] = [
    cls(semantics="corrected")
    for cls in (
        Overlap,
        RepeatSpan,
        SentenceWords,
        SentenceType,
        SentenceBalance,
        LineIndent,
        KeywordsMultiple,
        Pronouns,
        QuoteUnquote,
        KeywordsSpecificPosition,
        WordsPosition,
        SentenceAlphabet,
    )
]
