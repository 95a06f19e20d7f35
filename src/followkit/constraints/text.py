"""Language-aware text units: words, sentences, paragraphs and NLTK-equal word tokens, for English and CJK text."""

from __future__ import annotations

import functools
import re
from typing import Any

_WORD_RE = re.compile(r"\w+")
_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
# A CJK ideograph is one word unit; other \w runs (Latin words, numbers) count once each.
_CJK_OR_WORD_RE = re.compile(
    r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]|[^\W\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+"
)
# A Chinese sentence ends at 。！？ (or !?), keeping closing quotes/brackets with it; at an ASCII
# period followed by whitespace (English inside Chinese text; "3.14" stays whole); or at a line end.
_ZH_SENT_RE = re.compile(r"[^。！？!?\n]+?(?:[。！？!?]+[”’」』）)\"']*|\.(?=\s|$)|(?=\n)|$)")
_HAS_WORD_RE = re.compile(r"\w")
_PARA_SPLIT_RE = re.compile(r"\n\s*\n")


def has_cjk(text: str) -> bool:
    """True if the text contains a CJK ideograph."""
    return _CJK_RE.search(text) is not None


def count_cjk(text: str) -> int:
    """Number of CJK ideographs."""
    return len(_CJK_RE.findall(text))


def words_en(text: str) -> list[str]:
    """IFEval's word units: runs of \\w."""
    return _WORD_RE.findall(text)


@functools.lru_cache(maxsize=8192)
def count_words(text: str, lang: str = "en") -> int:
    """Word count: \\w runs in English (IFEval's words); in Chinese each ideograph is a unit, other \\w runs count once."""
    if lang == "zh":
        return len(_CJK_OR_WORD_RE.findall(text))
    return len(_WORD_RE.findall(text))


PUNCTUATION_ONLY_SENTENCES_KEPT = True
"""`sentences_en` keeps a piece made only of sentence-ending marks as a sentence of its own,
as NLTK's punkt does ("Hello there. . And then." is 3 sentences). The packaged Punkt tokenizer
folds such a piece into the sentence before it; that reading is `sentences_en_absorbed`, used by
`--semantics corrected`."""


@functools.lru_cache(maxsize=1)
def _punkt_english():
    import punkt

    return punkt.PunktSentenceTokenizer(punkt.load_model("english"))


# Closing marks moved back onto the sentence before a break: NLTK's class (3.10 added all four
# curly quotes and guillemets; the packaged tokenizer leaves out the opening curly quotes).
_REALIGNMENT = "[\"')\\]}\u2018\u2019\u201c\u201d\xab\xbb]+?(?:\\s+|(?=--)|$)"


@functools.lru_cache(maxsize=1)
def _punkt_parts():
    """The English model's boundary finder, word tokenizer, parameters, rules and realignment regex."""
    import re as re_mod

    import punkt

    tok = _punkt_english()
    rules = tok.rules
    return (
        punkt.PunktBoundaryDetector(rules),
        punkt.PunktWordTokenizer(rules),
        tok.params,
        rules,
        re_mod.compile(_REALIGNMENT, re_mod.MULTILINE),
    )


def _is_break(context: str, words, params, rules) -> bool:
    """Whether the candidate inside `context` is a sentence break (the context's last token only gives lookahead)."""
    from punkt import annotate_tokens

    seen = False
    for token in annotate_tokens(words.tokenize_annotated(context), params, rules):
        if seen:
            return True
        seen = bool(token.sentbreak)
    return False


_WHITESPACE = frozenset(" \t\n\r\x0b\x0c")  # string.whitespace, as NLTK scans for it


def _candidates(text: str, detector):
    """(match, context) per candidate boundary, de-overlapped as NLTK does.

    Each sentence-ending mark matches on its own; a mark whose preceding word reaches back over
    the previous mark replaces it ("acting!!!" is one candidate, at the last "!"). Unlike the
    packaged detector, marks inside ". . ." stay candidates, as in NLTK.
    """
    prev_match = None
    prev_lo = prev_hi = 0
    for match in detector.match(text):
        lo = match.start()
        # The word before this mark starts after the last whitespace since the previous word.
        k = lo - 1
        while k >= prev_hi and text[k] not in _WHITESPACE:
            k -= 1
        word_lo = k + 1 if k > prev_hi else prev_lo
        if prev_match is not None and prev_hi <= word_lo:
            yield prev_match, text[prev_lo:prev_hi] + prev_match.group() + prev_match.group("after_tok")
        prev_match, prev_lo, prev_hi = match, word_lo, lo
    if prev_match is not None:
        yield prev_match, text[prev_lo:prev_hi] + prev_match.group() + prev_match.group("after_tok")


def _nltk_spans(text: str) -> list[tuple[int, int]]:
    """Sentence spans as NLTK's PunktSentenceTokenizer.span_tokenize gives them (realigned)."""
    detector, words, params, rules, realign_re = _punkt_parts()
    raw: list[tuple[int, int]] = []
    start = 0
    for match, context in _candidates(text, detector):
        if not _is_break(context, words, params, rules):
            continue
        raw.append((start, match.end()))
        # With no whitespace after the mark, the next sentence starts right at the mark's end.
        start = match.start("next_tok") if match.group("next_tok") else match.end()
    raw.append((start, len(text.rstrip())))
    # Closing quotes/brackets after a break move back onto the sentence they close; an empty
    # span is dropped only here, exactly where NLTK drops it.
    out: list[tuple[int, int]] = []
    shift = 0
    for i, (s, e) in enumerate(raw):
        s += shift
        if i + 1 == len(raw):
            if s < e:
                out.append((s, e))
            continue
        nxt = raw[i + 1]
        m = realign_re.match(text[nxt[0] : nxt[1]])
        if m:
            out.append((s, nxt[0] + len(m.group().rstrip())))
            shift = m.end()
        else:
            shift = 0
            if s < e:
                out.append((s, e))
    return out


def sentences_en(text: str) -> list[str]:
    """English sentences exactly as NLTK's punkt splits them (the packaged model, no NLTK download)."""
    return [text[s:e] for s, e in _nltk_spans(text)]


def sentences_en_absorbed(text: str) -> list[str]:
    """English sentences with punctuation-only pieces folded into the sentence before (the packaged tokenizer's reading)."""
    return _punkt_english().tokenize(text)


# IFBench's regex sentence splitter (the one its published results were scored with, up to
# allenai/IFBench 1a902f9): dots that do not end a sentence are masked, . ? ! moved out of a
# closing quote, and the text is cut right after every remaining mark.
# The reference's own placeholder strings, so that text already containing them reads the same.
_MASK = "<prd>"  # a dot that does not end a sentence; restored at the end
_CUT = "<stop>"
_RX_LETTER = "[A-Za-z]"
_RX_STARTER = r"(?:Mr|Mrs|Ms|Dr|Prof|Capt|Cpt|Lt|He\s|She\s|It\s|They\s|Their\s|Our\s|We\s|But\s|However\s|That\s|This\s|Wherever)"
_RX_SUFFIX = "(?:Inc|Ltd|Jr|Sr|Co)"
_REGEX_SPLIT_STEPS: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"(Mr|St|Mrs|Ms|Dr)\."), r"\1" + _MASK),  # titles
    (re.compile(r"\.(com|net|org|io|gov|edu|me)"), _MASK + r"\1"),  # web domains
    (re.compile(r"([0-9])\.([0-9])"), r"\1" + _MASK + r"\2"),  # decimals
    (re.compile(r"\.{2,}"), lambda m: _MASK * len(m.group()) + _CUT),  # an ellipsis ends a sentence
    (re.compile(r"Ph\.D\."), "Ph" + _MASK + "D" + _MASK),
    (re.compile(rf"\s({_RX_LETTER})\. "), r" \1" + _MASK + " "),  # an initial
    (
        re.compile(rf"([A-Z]\.[A-Z]\.(?:[A-Z]\.)?) ({_RX_STARTER})"),
        lambda m: m.group(1) + _CUT + " " + m.group(2),
    ),
    (re.compile(rf"({_RX_LETTER})\.({_RX_LETTER})\.({_RX_LETTER})\."), rf"\1{_MASK}\2{_MASK}\3{_MASK}"),
    (re.compile(rf"({_RX_LETTER})\.({_RX_LETTER})\."), rf"\1{_MASK}\2{_MASK}"),
    (re.compile(rf" ({_RX_SUFFIX})\. ({_RX_STARTER})"), r" \1" + _CUT + r" \2"),
    (re.compile(rf" ({_RX_SUFFIX})\."), r" \1" + _MASK),
    (re.compile(rf" ({_RX_LETTER})\."), r" \1" + _MASK),
]
_QUOTE_MOVES = ((".\u201d", "\u201d."), ('."', '".'), ('!"', '"!'), ('?"', '"?'))
"""The only mark/quote pairs the splitter swaps: a curly closing quote after a period, and a
straight one after . ! ?. A curly quote after ! or ? stays where it is."""
_END_MARK_RE = re.compile(r"([.?!])")


def sentences_en_regex(text: str) -> list[str]:
    """Sentences as IFBench's regex splitter gives them: cut after every . ? ! not masked, closing quotes moved inside."""
    text = " " + text.replace("\n", " ") + "  "
    for rx, rep in _REGEX_SPLIT_STEPS:
        text = rx.sub(rep, text)
    for old, new in _QUOTE_MOVES:
        text = text.replace(old, new)
    text = _END_MARK_RE.sub(r"\1" + _CUT, text).replace(_MASK, ".")
    out = [piece.strip() for piece in text.split(_CUT)]
    if out and not out[-1]:
        out.pop()
    return out


def sentences_zh(text: str) -> list[str]:
    """Chinese sentences: split after 。！？ (and !?) and at line ends; fragments without a word character are dropped."""
    out = []
    for s in _ZH_SENT_RE.findall(text):
        s = s.strip()
        if s and _HAS_WORD_RE.search(s):
            out.append(s)
    return out


def sentences(text: str, lang: str = "en") -> list[str]:
    """Sentences in the given language."""
    return sentences_zh(text) if lang == "zh" else sentences_en(text)


def paragraphs(text: str) -> list[str]:
    """Paragraphs separated by blank lines, empty ones dropped."""
    return [p for p in _PARA_SPLIT_RE.split(text.strip()) if p.strip()]


@functools.lru_cache(maxsize=8192)
def count_sentences(text: str) -> int:
    """English sentences by the Punkt model (IFEval's NLTK punkt_tab, packaged pickle-free)."""
    return len(sentences_en(text))


# NLTK's word_tokenize (Punkt sentences, then the improved Treebank rules), re-expressed as
# our own rule table so that counting capital words needs no NLTK at all. A differential test
# (tests/constraints/test_text.py) checks token-for-token equality with nltk's tokenizer.
_QUOTE_RULES = [
    (re.compile(r"([«“‘„]|[`]+)"), r" \1 "),
    (re.compile(r'^"'), r"``"),
    (re.compile(r"(``)"), r" \1 "),
    (re.compile(r"([ (\[{<])(\"|'{2})"), r"\1 `` "),
    (re.compile(r"(?i)(?<!\w)(')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w)"), r"\1 "),
]
_PUNCT_RULES = [
    (re.compile(r"([^.])(\.)([\])}>\"'»”’ ]*+)\s*$"), r"\1 \2 \3 "),
    (re.compile(r"([:,])([^\d])"), r" \1 \2"),
    (re.compile(r"([:,])$"), r" \1 "),
    (re.compile(r"\.{2,}"), r" \g<0> "),
    (re.compile(r"[;@#$%&]"), r" \g<0> "),
    (re.compile(r"[\u2012-\u2015]"), r" \g<0> "),
    (re.compile(r"([^.])(\.)([\])}>\"']*+)\s*$"), r"\1 \2\3 "),
    (re.compile(r"[?!]"), r" \g<0> "),
    (re.compile(r"([^'])' "), r"\1 ' "),
    (re.compile(r"[*]"), r" \g<0> "),
    (re.compile(r"[\]\[(){}<>]"), r" \g<0> "),
    (re.compile(r"--"), r" -- "),
]
_END_RULES = [
    (re.compile(r"([»”’])"), r" \1 "),
    (re.compile(r"''"), " '' "),
    (re.compile(r'"'), " '' "),
    (re.compile(r"\s+"), " "),
    (re.compile(r"([^' ])('[sS]|'[mM]|'[dD]|') "), r"\1 \2 "),
    (re.compile(r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) "), r"\1 \2 "),
]
_SPLIT_RULES = [
    re.compile(p)
    for p in (
        r"(?i)\b(can)(not)\b",
        r"(?i)\b(d)('ye)\b",
        r"(?i)\b(gim)(me)\b",
        r"(?i)\b(gon)(na)\b",
        r"(?i)\b(got)(ta)\b",
        r"(?i)\b(lem)(me)\b",
        r"(?i)\b(more)('n)\b",
        r"(?i)\b(wan)(na)(?=\s)",
        r"(?i) ('t)(is)\b",
        r"(?i) ('t)(was)\b",
    )
]


def treebank_tokens(sentence: str) -> list[str]:
    """Word tokens of one sentence, as NLTK's improved Treebank tokenizer splits them."""
    text = sentence
    for rx, rep in _QUOTE_RULES:
        text = rx.sub(rep, text)
    for rx, rep in _PUNCT_RULES:
        text = rx.sub(rep, text)
    text = " " + text + " "
    for rx, rep in _END_RULES:
        text = rx.sub(rep, text)
    for rx in _SPLIT_RULES:
        text = rx.sub(r" \1 \2 ", text)
    return text.split()


def word_tokens(text: str) -> list[str]:
    """Tokens of NLTK's `word_tokenize(text)`: Punkt English sentences, then Treebank words."""
    return [tok for sent in sentences_en(text) for tok in treebank_tokens(sent)]


@functools.lru_cache(maxsize=8192)
def count_capital_words(text: str) -> int:
    """Number of word tokens that are all capitals (`str.isupper`)."""
    if not any(c.isupper() for c in text):
        return 0  # no token can be upper-case: skip tokenizing
    return sum(1 for tok in word_tokens(text) if tok.isupper())


NUMBER_WORDS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
)
"""English words for 0-20 (constraint wordings, KCIF's numbers in words)."""
