"""Minimal text edits that the rule repairs are made of: cut, insert, regroup into blocks.

Every edit keeps as much of the response as it can: a repair is the smallest change a careful
editor would make, not a rewrite. Each function returns None where the edit cannot apply.
"""

from __future__ import annotations

import random
import re

from followkit.constraints.text import has_cjk, sentences_en, sentences_zh

_WORD_RE = re.compile(r"\w+")
_BLANK_SPLIT_RE = re.compile(r"\n\s*\n")
_SPACES_RE = re.compile(r"(?<=\S)[ \t]{2,}")
_SPACE_BEFORE_PUNCT_RE = re.compile(r"[ \t]+([.,;:!?])")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in the text, English (Punkt) or Chinese by its script."""
    sents = sentences_zh(text) if has_cjk(text) else sentences_en(text)
    spans, pos = [], 0
    for s in sents:
        i = text.find(s, pos)
        if i < 0:  # a splitter that normalises text: fall back to no spans rather than wrong ones
            return []
        spans.append((i, i + len(s)))
        pos = i + len(s)
    return spans


def cut_sentences(text: str, n: int) -> str | None:
    """The first n sentences of the text, or None if n < 1."""
    if n < 1:
        return None
    spans = sentence_spans(text)
    if len(spans) <= n:
        return text
    return text[: spans[n - 1][1]].rstrip()


def cut_words(text: str, n: int) -> str | None:
    """The text up to the end of its n-th \\w word (closing punctuation kept), or None if n < 1."""
    if n < 1:
        return None
    words = list(_WORD_RE.finditer(text))
    if len(words) <= n:
        return text
    end = words[n - 1].end()
    nxt = words[n].start()
    tail = text[end:nxt]
    # keep the sentence punctuation right after the last word, not what opens the next one
    m = re.match(r"[.!?。！？)\]\"']*", tail)
    return (text[:end] + (m.group(0) if m else "")).rstrip()


def insert_sentence(text: str, sentence: str) -> str:
    """The text with a sentence added after its first sentence (or at the end of a one-sentence text).

    After the first sentence rather than at the end: the end of a response is where constraints
    on its ending (an end phrase, a postscript) live.
    """
    body = text.rstrip()
    spans = sentence_spans(body)
    if len(spans) < 2:
        sep = "" if not body or has_cjk(sentence) else " "
        return f"{body}{sep}{sentence}"
    end = spans[0][1]
    sep = "" if has_cjk(sentence) else " "
    return f"{body[:end]}{sep}{sentence}{body[end:]}"


def tidy_spaces(text: str) -> str:
    """Runs of spaces inside a line folded to one, no space before punctuation (after a deletion)."""
    text = _SPACES_RE.sub(" ", text)
    text = _SPACE_BEFORE_PUNCT_RE.sub(r"\1", text)
    return "\n".join(line.rstrip(" \t") for line in text.split("\n")).strip("\n").rstrip()


def blocks(text: str) -> list[str]:
    """The text's non-empty blocks separated by blank lines, stripped."""
    return [b.strip() for b in _BLANK_SPLIT_RE.split(text) if b.strip()]


def regroup(text: str, n: int) -> list[str] | None:
    """Exactly n non-empty blocks of the text with no blank line inside any of them.

    Too many blank-line blocks: the extra ones join the last (line by line). Too few: the longest
    block is split (between sentences, else at a clause or word boundary) until there are n. None
    when the text is too short to go round.
    """
    if n < 1:
        return None
    parts = blocks(text)
    if not parts:
        return None
    while len(parts) > n:
        parts[-2] = parts[-2] + "\n" + parts[-1]
        parts.pop()
    while len(parts) < n:
        order = sorted(range(len(parts)), key=lambda i: -len(parts[i]))
        for i in order:
            cut = _split_point(parts[i])
            if cut is not None:
                parts[i : i + 1] = [parts[i][:cut].strip(), parts[i][cut:].strip()]
                break
        else:
            return None
    return parts


def _split_point(block: str) -> int | None:
    """Where to split a block in two: between its middle sentences, else at a clause or word boundary."""
    spans = sentence_spans(block)
    if len(spans) >= 2:
        mid = spans[len(spans) // 2][0]
        if block[:mid].strip() and block[mid:].strip():
            return mid
    # One long sentence: after a comma or semicolon nearest the middle, else between middle words.
    words = list(_WORD_RE.finditer(block))
    if len(words) < 6:
        return None
    middle = len(block) // 2
    clauses = [m.end() for m in re.finditer(r"[,;，；、]\s*", block) if 0 < m.end() < len(block)]
    if clauses:
        cut = min(clauses, key=lambda c: abs(c - middle))
        if block[:cut].strip() and block[cut:].strip():
            return cut
    return words[len(words) // 2].start()


# --------------------------------------------------------------------------- short additions
# The sentences a repair adds are plain and neutral, in the text's own script, without commas
# (a comma would break a no-comma constraint that already holds).

POSTSCRIPTS = (
    "I hope this helps.",
    "Feel free to ask if anything is unclear.",
    "Thank you for reading.",
)
_PLACEHOLDERS = ("name", "date", "address", "city", "company", "email", "phone number", "time", "amount")
_MENTIONS_EN = ("This also concerns {w}.", "{W} matters here too.", "Think of {w} as well.")
_MENTIONS_ZH = ("这也与“{w}”有关。", "这里还涉及“{w}”。")


def mention_sentence(words: list[str], rng: random.Random) -> str:
    """One short sentence per word that uses the word."""
    out = []
    for w in words:
        pool = _MENTIONS_ZH if has_cjk(w) else _MENTIONS_EN
        out.append(rng.choice(pool).format(w=w, W=w[:1].upper() + w[1:]))
    return ("" if words and has_cjk(words[0]) else " ").join(out)


def placeholder_sentence(n: int, rng: random.Random) -> str:
    """A sentence with n [placeholders] to fill in."""
    names = [_PLACEHOLDERS[i % len(_PLACEHOLDERS)] for i in range(n)]
    if n > len(_PLACEHOLDERS):
        names = [f"{x} {i // len(_PLACEHOLDERS) + 1}" for i, x in enumerate(names)]
    else:
        names = rng.sample(_PLACEHOLDERS, n)
    return "Fill in " + " and ".join(f"[{x}]" for x in names) + "."


def title_from(text: str, max_words: int = 5) -> str:
    """A title from the text's first words (first characters for CJK text)."""
    first = text.strip().split("\n", 1)[0]
    if has_cjk(first):
        core = re.sub(r"[^\w]", "", first)[:8]
        return core or "回答"
    words = _WORD_RE.findall(first)[:max_words]
    return " ".join(w.capitalize() if w.islower() else w for w in words) or "Answer"


_DIGIT_COMMA_RE = re.compile(r"(?<=\d),(?=\d{3}\b)")


def drop_commas(text: str, commas: str) -> str:
    """The text without the given comma characters: 1,000 becomes 1000, other commas a space."""
    out = _DIGIT_COMMA_RE.sub("", text) if "," in commas else text
    out = re.sub("[" + re.escape(commas) + r"]\s*", " ", out)
    return tidy_spaces(out)


_LIST_MARK_RE = re.compile(r"^\s*(?:[-*+•]|\d+[.)、]|[(（]\d+[)）])\s*")


def list_items(text: str, n: int) -> list[str] | None:
    """The text as exactly n one-line list items (old list markers dropped), or None."""
    if n < 1:
        return None
    plain = "\n".join(_LIST_MARK_RE.sub("", line) for line in text.split("\n"))
    parts = regroup(plain, n)
    if not parts:
        return None
    return [" ".join(p.split()) for p in parts]


_TERMINAL = ".!?。！？…"
_CLOSERS = "\"')]}”’」』》*"


def trim_unfinished(text: str) -> str:
    """The text without a last sentence cut off mid-way (a reply stopped by its token limit).

    A last line that does not end in terminal punctuation (closing quotes or brackets allowed) is cut
    after its last terminal punctuation, or dropped when it has none and other lines remain.
    """
    body = text.rstrip()
    core = body.rstrip(_CLOSERS)
    if not core or core[-1] in _TERMINAL:
        return body
    head, nl, last = body.rpartition("\n")
    cut = max(last.rfind(ch) for ch in _TERMINAL)
    if cut >= 0:
        end = cut + 1
        while end < len(last) and last[end] in _CLOSERS:
            end += 1
        return (head + nl + last[:end]).rstrip()
    return head.rstrip() if head.strip() else body
