"""Seed tasks: the simple instructions that synthesis builds on (a user's file or the built-in sets)."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from followkit.constraints.text import has_cjk
from followkit.core.errors import InputError
from followkit.core.io import iter_jsonl, require
from followkit.core.settings import cli

LANGUAGES = ("en", "zh")

SeedLanguages = Annotated[
    list[str],
    Field(
        default_factory=lambda: list(LANGUAGES),
        description="Keep seeds in this language (repeatable)",
        json_schema_extra=cli("--language"),
    ),
]
"""The `languages` setting of the commands that draw seed tasks."""
BUILTIN = "builtin"  # the project's training seeds
HELDOUT = "heldout"  # the held-out seeds followkit-bench is built from; never used for training data
BUILTIN_WIDE = "builtin-wide"  # builtin plus WIDE_FILE's everyday English writing tasks (training seeds)
WIDE_FILE = "wide_en.jsonl"


class SeedTask(BaseModel):
    """A simple task: what to do, an optional input to do it on, and its language."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    task: str
    input: str | None = None
    language: str = "en"


def _guess_language(text: str) -> str:
    return "zh" if has_cjk(text) else "en"


def _from_jsonl(path: Path, id_prefix: str) -> list[SeedTask]:
    out = []
    for line, rec in iter_jsonl(path):
        task = require(rec, "task", str, path, line)
        if not task.strip():
            raise InputError("empty task", path=str(path), line=line, field="task")
        inp = rec.get("input")
        if inp is not None and not isinstance(inp, str):
            raise InputError(
                f"expected str or null, got {type(inp).__name__}", path=str(path), line=line, field="input"
            )
        if inp is not None and (not inp.strip() or inp.strip() == "NULL"):
            inp = None
        lang = rec.get("language") or _guess_language(task)
        if lang not in LANGUAGES:
            raise InputError(
                f"unsupported language {lang!r}; use one of {', '.join(LANGUAGES)}",
                path=str(path),
                line=line,
                field="language",
            )
        sid = rec.get("id", f"{id_prefix}-{line}")
        if not isinstance(sid, str | int):
            raise InputError(f"expected str, got {type(sid).__name__}", path=str(path), line=line, field="id")
        out.append(SeedTask(id=str(sid), task=task.strip(), input=inp, language=lang))
    return out


def _from_text(path: Path, id_prefix: str) -> list[SeedTask]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for line, raw in enumerate(fh, start=1):
            task = raw.strip()
            if not task or task.startswith("#"):
                continue
            out.append(SeedTask(id=f"{id_prefix}-{line}", task=task, language=_guess_language(task)))
    return out


def load_seed_file(path: str | Path) -> list[SeedTask]:
    """Seed tasks from a JSONL file ({task, input?, language?, id?}) or a text file (one task a line)."""
    p = Path(path)
    if not p.exists():
        raise InputError("no such seed file", path=str(p))
    seeds = _from_jsonl(p, p.stem) if p.suffix in (".jsonl", ".json") else _from_text(p, p.stem)
    if not seeds:
        raise InputError("no seed tasks in file", path=str(p))
    ids = [s.id for s in seeds]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InputError(f"duplicate seed id '{dup}'", path=str(p), field="id")
    return seeds


@functools.lru_cache(maxsize=4)
def _builtin(kind: str) -> tuple[SeedTask, ...]:
    base = resources.files("followkit").joinpath("data", "seeds")
    out: list[SeedTask] = []
    for lang in LANGUAGES:
        name = f"{kind}_{lang}.jsonl"
        with resources.as_file(base.joinpath(name)) as p:
            out += load_seed_file(p)
    return tuple(out)


@functools.lru_cache(maxsize=1)
def _wide() -> tuple[SeedTask, ...]:
    base = resources.files("followkit").joinpath("data", "seeds")
    with resources.as_file(base.joinpath(WIDE_FILE)) as p:
        return _builtin(BUILTIN) + tuple(load_seed_file(p))


def load_seeds(
    source: str | Path | None = None, languages: tuple[str, ...] | list[str] = LANGUAGES
) -> list[SeedTask]:
    """Seed tasks from a file, or a built-in set (builtin, builtin-wide, heldout), kept to the given languages."""
    if str(source) == BUILTIN_WIDE:
        seeds = list(_wide())
    elif source is None or str(source) in (BUILTIN, HELDOUT):
        seeds = list(_builtin(str(source or BUILTIN)))
    else:
        seeds = load_seed_file(source)
    bad = [lang for lang in languages if lang not in LANGUAGES]
    if bad:
        raise InputError(f"unsupported language {bad[0]!r}; use one of {', '.join(LANGUAGES)}")
    kept = [s for s in seeds if s.language in languages]
    if not kept:
        raise InputError(f"no seed tasks in language(s) {', '.join(languages)}", path=str(source or BUILTIN))
    return kept
