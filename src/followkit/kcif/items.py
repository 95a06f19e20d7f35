"""KCIF items: the generic JSONL format, the paper's sources (through `datasets`) and the built-in set."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from followkit.core.errors import InputError
from followkit.core.io import iter_jsonl, require
from followkit.kcif.numbers import parse_number

LABELS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class KCIFItem:
    """A multiple-choice knowledge item: question, options, the correct option's text, its task.

    `value` is the numeric value of the correct answer when the item states it (else parsed from
    the answer text); `passage` is the reading text of reading-comprehension items.
    """

    id: str
    question: str
    options: tuple[str, ...]
    answer: str
    task: str
    language: str = "en"
    passage: str | None = None
    value: Decimal | None = None

    @property
    def answer_index(self) -> int:
        return self.options.index(self.answer)

    @property
    def label(self) -> str:
        """The correct option's label (A, B, ...)."""
        return LABELS[self.answer_index]

    @property
    def incorrect(self) -> list[str]:
        """The incorrect options, in their given order."""
        i = self.answer_index
        return [o for j, o in enumerate(self.options) if j != i]

    @property
    def numeric_value(self) -> Decimal | None:
        """The correct answer as a number, or None when it is not one."""
        return self.value if self.value is not None else parse_number(self.answer)

    def with_answer(self, option: str) -> KCIFItem:
        """The same item with another option taken as correct (error classification)."""
        return replace(self, answer=option, value=None)

    def to_dict(self) -> dict[str, Any]:
        """The generic JSONL record."""
        rec: dict[str, Any] = {
            "id": self.id,
            "question": self.question,
            "options": list(self.options),
            "answer": self.answer,
            "task": self.task,
            "language": self.language,
        }
        if self.passage is not None:
            rec["passage"] = self.passage
        if self.value is not None:
            rec["value"] = str(self.value)
        return rec


def item_from_record(rec: dict[str, Any], path: str, line: int, default_id: str) -> KCIFItem:
    """Validate one generic record; InputError naming file, line and field otherwise."""
    question = require(rec, "question", str, path, line)
    options = require(rec, "options", list, path, line)
    answer = require(rec, "answer", str, path, line)
    task = require(rec, "task", str, path, line)
    if len(options) < 2 or len(options) > len(LABELS):
        raise InputError(f"needs 2 to {len(LABELS)} options, got {len(options)}", path, line, "options")
    if not all(isinstance(o, str) and o.strip() for o in options):
        raise InputError("every option must be a non-empty string", path, line, "options")
    if len(set(options)) != len(options):
        raise InputError("options must be distinct", path, line, "options")
    if answer not in options:
        raise InputError(f"answer {answer!r} is not one of the options", path, line, "answer")
    language = rec.get("language", "en")
    if language not in ("en", "zh"):
        raise InputError(f"expected 'en' or 'zh', got {language!r}", path, line, "language")
    passage = rec.get("passage")
    if passage is not None and not isinstance(passage, str):
        raise InputError(f"expected str, got {type(passage).__name__}", path, line, "passage")
    value = None
    if rec.get("value") is not None:
        value = parse_number(str(rec["value"]))
        if value is None:
            raise InputError(f"not a number: {rec['value']!r}", path, line, "value")
    rid = rec.get("id", default_id)
    return KCIFItem(
        id=str(rid),
        question=question,
        options=tuple(options),
        answer=answer,
        task=task,
        language=language,
        passage=passage,
        value=value,
    )


def load_items(path: str | Path) -> list[KCIFItem]:
    """Items from a generic KCIF JSONL file (question, options, answer, task; optional id,
    language, passage, value); duplicate ids are an error."""
    items, seen = [], {}
    stem = Path(path).stem
    for line, rec in iter_jsonl(path):
        item = item_from_record(rec, str(path), line, default_id=f"{stem}-{line}")
        if item.id in seen:
            raise InputError(
                f"duplicate id {item.id!r} (first on line {seen[item.id]})", str(path), line, "id"
            )
        seen[item.id] = line
        items.append(item)
    if not items:
        raise InputError("no items", str(path))
    return items


def builtin_path() -> Path:
    """The built-in item file shipped with followkit."""
    return Path(str(resources.files("followkit") / "data" / "kcif" / "items.jsonl"))


def builtin_items() -> list[KCIFItem]:
    """The project's own items: general knowledge, arithmetic and yes/no reading, English and Chinese."""
    return load_items(builtin_path())


# ---------------------------------------------------------------------------------------------
# The paper's sources. Each mapper turns one row of the source's own format into a generic record.

_MATHQA_OPT_RE = re.compile(r"(?:^|,)\s*([a-e])\s*\)\s*")


def _map_mmlu_pro(row: dict[str, Any], i: int) -> dict[str, Any]:
    options = [str(o) for o in row["options"]]
    return {
        "id": f"mmlu_pro-{row.get('question_id', i)}",
        "question": row["question"],
        "options": options,
        "answer": options[int(row["answer_index"])],
        "task": f"mmlu_pro:{row.get('category', 'all')}",
    }


def _mathqa_options(text: str) -> list[str]:
    """'a ) 38 , b ) 27.675 , ...' -> ['38', '27.675', ...]."""
    parts = _MATHQA_OPT_RE.split(text)
    # split gives ['', 'a', '38 ', 'b', '27.675 ', ...]
    return [parts[k].strip().rstrip(",").strip() for k in range(2, len(parts), 2)]


def _map_mathqa(row: dict[str, Any], i: int) -> dict[str, Any]:
    options = _mathqa_options(row["options"])
    letter = str(row["correct"]).strip().lower()
    return {
        "id": f"mathqa-{i}",
        "question": row["Problem"],
        "options": options,
        "answer": options["abcde".index(letter)] if letter in "abcde" and options else "",
        "task": "mathqa",
    }


def _map_boolq(row: dict[str, Any], i: int) -> dict[str, Any]:
    return {
        "id": f"boolq-{i}",
        "question": row["question"].rstrip("?") + "?",
        "passage": row["passage"],
        "options": ["yes", "no"],
        "answer": "yes" if row["answer"] else "no",
        "task": "boolq",
    }


def _map_piqa(row: dict[str, Any], i: int) -> dict[str, Any]:
    options = [row["sol1"], row["sol2"]]
    return {
        "id": f"piqa-{i}",
        "question": row["goal"],
        "options": options,
        "answer": options[int(row["label"])],
        "task": "piqa",
    }


def _map_winogrande(row: dict[str, Any], i: int) -> dict[str, Any]:
    options = [row["option1"], row["option2"]]
    return {
        "id": f"winogrande-{i}",
        "question": f"Which option fills the blank (_)? {row['sentence']}",
        "options": options,
        "answer": options[int(row["answer"]) - 1],
        "task": "winogrande",
    }


@dataclass(frozen=True)
class Source:
    """One of the paper's knowledge sources: its hub dataset and the mapper of its rows."""

    name: str
    hub_args: tuple[str, ...]
    split: str
    mapper: Callable[[dict[str, Any], int], dict[str, Any]]


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source("mmlu_pro", ("TIGER-Lab/MMLU-Pro",), "test", _map_mmlu_pro),
        Source("mathqa", ("allenai/math_qa",), "test", _map_mathqa),
        Source("boolq", ("google/boolq",), "validation", _map_boolq),
        Source("piqa", ("ybisk/piqa",), "validation", _map_piqa),
        Source("winogrande", ("allenai/winogrande", "winogrande_xl"), "validation", _map_winogrande),
    )
}

_LOCAL_BUILDERS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}


def _hub_offline() -> bool:
    return any(
        os.environ.get(v, "").lower() in ("1", "true", "yes")
        for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )


def load_source(name: str, path: str | None = None, limit: int | None = None) -> list[KCIFItem]:
    """A paper source mapped to KCIF items: from a local file in the source's own format, or the hub."""
    if name not in SOURCES:
        raise InputError(f"unknown KCIF source {name!r}; known: {', '.join(SOURCES)}")
    src = SOURCES[name]
    where = path or "/".join(src.hub_args)
    if path is not None:
        builder = _LOCAL_BUILDERS.get(Path(path).suffix)
        if builder is None:
            raise InputError(f"unsupported file type (use {', '.join(_LOCAL_BUILDERS)})", path)
        if not Path(path).exists():
            raise InputError("no such file", path)
        if Path(path).suffix == ".jsonl":  # read directly: errors keep their file line numbers
            return _map_rows(src, (rec for _, rec in iter_jsonl(path)), where, limit)
        return _map_rows(
            src, _datasets().load_dataset(builder, data_files=str(path), split="train"), where, limit
        )
    if _hub_offline():
        raise InputError(
            f"the Hugging Face Hub is offline (HF_HUB_OFFLINE); cannot load {where}: "
            f"download it elsewhere and pass {name}@FILE"
        )
    datasets = _datasets()
    try:
        ds = datasets.load_dataset(*src.hub_args, split=src.split)
    except Exception as exc:  # any network or hub failure: one clear line
        raise InputError(
            f"cannot load {where} from the Hugging Face Hub ({type(exc).__name__}); "
            f"download it elsewhere and pass {name}@FILE"
        ) from None
    return _map_rows(src, ds, where, limit)


def _datasets() -> Any:
    try:
        import datasets
    except ImportError:  # pragma: no cover - the ml extra is missing
        raise InputError(
            "loading KCIF sources needs the 'datasets' package (pip install followkit[ml])"
        ) from None
    return datasets


def _map_rows(src: Source, rows: Any, where: str, limit: int | None) -> list[KCIFItem]:
    items = []
    for i, row in enumerate(rows):
        if limit is not None and len(items) >= limit:
            break
        try:
            rec = src.mapper(row, i)
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise InputError(f"row does not match the {src.name} format: {exc!r}", where, i + 1) from None
        items.append(item_from_record(rec, where, i + 1, default_id=f"{src.name}-{i}"))
    if not items:
        raise InputError("no items", where)
    return items


def resolve_items(spec: str | None) -> list[KCIFItem]:
    """Items for a benchmark spec: None (built-in), a generic JSONL path, SOURCE (hub) or SOURCE@FILE."""
    if spec is None or spec in ("", "builtin"):
        return builtin_items()
    name, at, local = spec.partition("@")
    if name in SOURCES and (at or not Path(spec).exists()):
        return load_source(name, local or None)
    return load_items(spec)
