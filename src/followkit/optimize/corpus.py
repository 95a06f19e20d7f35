"""The SPRIG component corpus: system-prompt building blocks in 9 categories, English and Chinese."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from followkit.core.errors import InputError
from followkit.core.io import iter_jsonl, require

# SPRIG's nine component categories (arXiv 2410.14826, section 3), spelled as the paper does.
CATEGORIES: tuple[str, ...] = (
    "good_property",
    "role",
    "style",
    "emotion",
    "scenario",
    "jailbreak",
    "safety",
    "behavioral",
    "CoT",
)
LANGS: tuple[str, ...] = ("en", "zh")


@dataclass(frozen=True)
class Component:
    """One system-prompt component; `parent` is set on components made by rephrasing another."""

    id: str
    category: str
    lang: str
    text: str
    parent: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        """A JSON-able record in the corpus file format."""
        d = {"id": self.id, "category": self.category, "lang": self.lang, "text": self.text}
        if self.parent:
            d["parent"] = self.parent
        return d


def builtin_corpus_path() -> Path:
    """The corpus shipped with followkit (written by the project, 324 components)."""
    return Path(__file__).resolve().parent.parent / "data" / "sprig" / "components.jsonl"


def _norm(text: str) -> str:
    # Duplicates differ at most in case, spacing and final punctuation.
    return re.sub(r"\s+", " ", text.strip().lower()).rstrip(".。!！?？")


def read_components(path: str | Path) -> list[Component]:
    """Components of one JSONL file ({id, category, lang, text} per line), validated."""
    return [c for _, c in _read_lines(path)]


def _read_lines(path: str | Path) -> list[tuple[int, Component]]:
    out = []
    for line, rec in iter_jsonl(path):
        cid = require(rec, "id", str, path, line).strip()
        cat = require(rec, "category", str, path, line)
        lang = require(rec, "lang", str, path, line)
        text = require(rec, "text", str, path, line).strip()
        if not cid:
            raise InputError("empty id", path=str(path), line=line, field="id")
        if cat not in CATEGORIES:
            lowered = {c.lower(): c for c in CATEGORIES}
            near = difflib.get_close_matches(cat.lower(), list(lowered), n=1)
            hint = f" (did you mean '{lowered[near[0]]}'?)" if near else ""
            raise InputError(
                f"unknown category '{cat}'{hint}; known: {', '.join(CATEGORIES)}",
                path=str(path),
                line=line,
                field="category",
            )
        if lang not in LANGS:
            raise InputError(
                f"lang must be one of {', '.join(LANGS)}", path=str(path), line=line, field="lang"
            )
        if not text:
            raise InputError("empty text", path=str(path), line=line, field="text")
        out.append((line, Component(cid, cat, lang, text)))
    if not out:
        raise InputError("no components in file", path=str(path))
    return out


def load_components(extra: list[str | Path] | None = None, lang: str = "all") -> list[Component]:
    """The built-in corpus plus users' files, filtered by language ('en', 'zh' or 'all').

    A user component whose id or text repeats one already loaded is an error naming its file,
    so an extension never silently shadows a built-in component.
    """
    if lang not in (*LANGS, "all"):
        raise InputError(f"--lang must be en, zh or all, not '{lang}'")
    files: list[str | Path] = [builtin_corpus_path(), *(extra or [])]
    seen_ids: dict[str, str] = {}
    seen_texts: dict[str, str] = {}
    out: list[Component] = []
    for f in files:
        for line, comp in _read_lines(f):
            if comp.id in seen_ids:
                raise InputError(
                    f"duplicate component id '{comp.id}' (first in {seen_ids[comp.id]})",
                    path=str(f),
                    line=line,
                    field="id",
                )
            key = _norm(comp.text)
            if key in seen_texts:
                raise InputError(
                    f"component '{comp.id}' repeats the text of '{seen_texts[key]}'",
                    path=str(f),
                    line=line,
                    field="text",
                )
            seen_ids[comp.id] = str(f)
            seen_texts[key] = comp.id
            out.append(comp)
    if lang != "all":
        out = [c for c in out if c.lang == lang]
    if not out:
        raise InputError(f"no components left for --lang {lang}")
    return out
