"""Checklist judging (CFBench, ComplexBench): a judge answers 1 (met) or 0 (not met) per checklist item.

The judge reads the instruction, an optional reference answer, the numbered checklist items and the
response, explains, then ends with a marker line and ``Checklist Scores: {"1": 1, "2": 0}``. The
protection is the TRACE judge's (followkit.judges.trace), through its helpers: the response sits in a tag
holding its own hash, the marker line is a hash of the response (a response can forge neither),
the verdict is the first score line after the judge's last marker, and without a marker the last
one once the response's echoes are removed. Scores are read by their keys with judges/trace.py's list
parser (JSON repair, Python-literal and regex fallbacks). A verdict that still cannot be parsed
after one retry that shows the judge its parse error is recorded as unparsable, never as met.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from followkit.backends.base import Backend, Chat, SamplingParams
from followkit.core.errors import InputError
from followkit.judges.trace import (
    JUDGE_MAX_TOKENS,
    ParseError,
    _bracket_span,
    _in_order,
    _parse_list,
    fill,
    load_template,
    response_tag,
    verdict_marker,
    verdict_segments,
)

SCORES_KEYED_BY_NUMBER = True
"""The judge ends with a marker line and ``Checklist Scores: {"<number>": 0|1}`` keyed by each item's
number (CFBench's authors ask for each criterion's text echoed, a TAB and the score, one per line, and
reject a reply whose echo differs; ComplexBench's for a final '答案：是/否')."""

JUDGE_TEMPERATURE = 0.0
"""Checklist judges run at temperature 0 with any --judge model (CFBench's authors: gpt-4o at 0.01;
ComplexBench's: gpt-4-1106-preview at 0)."""

_SCORES = re.compile(r"Checklist\s*Scores?\s*\**\s*[:：]", re.I)
_YES = {"1", "yes", "y", "true", "是", "满足"}
_NO = {"0", "no", "n", "false", "否", "不满足"}


@dataclass(frozen=True)
class ChecklistRequest:
    """One judgement: the instruction, checklist item texts with their keys, the response, a reference."""

    query: str
    items: list[str]
    response: str
    keys: list[int]
    reference: str = ""


@dataclass
class ChecklistVerdict:
    """0/1 per item (None where unparsable), the parse error, the judge's raw text ('' when the call failed)."""

    scores: list[int | None]
    error: str | None
    raw: str

    @property
    def parsed(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _keys_text(keys: list[int]) -> str:
    return "{" + ", ".join(f'"{k}": 0 or 1' for k in keys) + "}"


def render_checklist_prompt(req: ChecklistRequest, template_text: str) -> str:
    """The judge's user message for one request."""
    numbered = "\n".join(f"{k}. {text.strip()}" for k, text in zip(req.keys, req.items, strict=True))
    return fill(
        template_text,
        {
            "query": req.query.strip(),
            "reference": req.reference.strip() or "(none)",
            "constraints": numbered,
            "response": req.response,
            "tag": response_tag(req.response),
            "n": str(len(req.items)),
            "verdict": verdict_marker(req.response),
            "keys": _keys_text(req.keys),
        },
    )


def _binary(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float) and value in (0, 1):
        return int(value)
    text = str(value).strip().strip("\"'").lower()
    if text in _YES:
        return 1
    if text in _NO:
        return 0
    raise ParseError(f"score {value!r} is not 0 or 1")


def parse_checklist(raw: str, req: ChecklistRequest, marker: str | None) -> list[int]:
    """The 0/1 scores of the judge's own 'Checklist Scores' line; ParseError when missing or malformed."""
    problems: list[str] = []
    for text, after_marker in verdict_segments(
        raw, [req.response], [response_tag(req.response)], _SCORES, marker
    ):
        hits = list(_SCORES.finditer(text))
        for hit in hits if after_marker else list(reversed(hits)):
            try:
                pairs = _parse_list(_bracket_span(text, hit.end()))
                return [_binary(v) for v in _in_order(pairs, req.keys)]
            except ParseError as exc:
                problems.append(str(exc))
    raise ParseError("; ".join(dict.fromkeys(problems)) or "no 'Checklist Scores: {...}' line")


def _verdict(raw: str, req: ChecklistRequest, marker: str | None) -> ChecklistVerdict:
    try:
        return ChecklistVerdict(list(parse_checklist(raw, req, marker)), None, raw)
    except ParseError as exc:
        return ChecklistVerdict([None] * len(req.items), str(exc), raw)


def checklist_template(template: str | None, kind: str) -> str:
    """The judge template text: the packaged '<kind>_en.txt', or a file path."""
    if template is not None and template not in ("en",) and not Path(template).is_file():
        raise InputError("no such judge template file (use en or a path)", path=template)
    return load_template(template, "en", kind=kind)[1]


def judge_checklists(
    backend: Backend,
    requests: list[ChecklistRequest],
    template_text: str,
    *,
    retries: int = 1,
    max_tokens: int = JUDGE_MAX_TOKENS,
) -> list[ChecklistVerdict]:
    """Judge each request at temperature 0; an unparsable verdict keeps scores None and its error."""
    params = SamplingParams(n=1, temperature=JUDGE_TEMPERATURE, max_tokens=max_tokens, seed=0)
    for req in requests:
        if not req.items or len(req.items) != len(req.keys) or len(set(req.keys)) != len(req.keys):
            raise InputError("a checklist request needs items with distinct keys, one per item")
    marked = "{{verdict}}" in template_text
    markers = [verdict_marker(r.response) if marked else None for r in requests]
    chats: list[Chat] = [
        [{"role": "user", "content": render_checklist_prompt(r, template_text)}] for r in requests
    ]
    verdicts = []
    for req, marker, comp in zip(requests, markers, backend.complete(chats, params), strict=True):
        if not comp.ok:
            verdicts.append(ChecklistVerdict([None] * len(req.items), f"judge failed: {comp.error}", ""))
        else:
            verdicts.append(_verdict(comp.texts[0], req, marker))

    retry_text = load_template(None, "en", kind="checklist_retry")[1]
    for _ in range(retries):
        todo = [i for i, v in enumerate(verdicts) if v.error and v.raw]
        if not todo:
            break
        retry_chats = []
        for i in todo:
            ask = fill(
                retry_text,
                {
                    "error": verdicts[i].error or "",
                    "verdict": verdict_marker(requests[i].response),
                    "keys": _keys_text(requests[i].keys),
                },
            )
            retry_chats.append(
                chats[i]
                + [{"role": "assistant", "content": verdicts[i].raw}, {"role": "user", "content": ask}]
            )
        for i, comp in zip(todo, backend.complete(retry_chats, params), strict=True):
            if not comp.ok:
                continue  # keep the first error
            again = _verdict(comp.texts[0], requests[i], verdict_marker(requests[i].response))
            first = verdicts[i]
            joined = first.raw + "\n\n--- retry ---\n" + again.raw
            if again.parsed:
                verdicts[i] = ChecklistVerdict(again.scores, None, joined)
            else:
                verdicts[i] = ChecklistVerdict(
                    first.scores, f"{first.error}; after retry: {again.error}", joined
                )
    return verdicts


def checked_records(
    path: str, what: str, id_field: str
) -> Iterator[tuple[str, dict[str, Any], Callable[[str, str], InputError]]]:
    """(id, record, bad) per record of a benchmark file, the id checked (an int or string, unique).

    `bad(msg, field)` is the one-line error for that record, naming the field and the record by its
    own id where it has one ("record idx 810 (position 811): msg"), else by position ("record 811: msg").
    """
    seen: set[str] = set()
    for k, rec in read_records(path, what):
        own = rec.get(id_field)

        def bad(msg: str, field: str, k: int = k, own: Any = own) -> InputError:
            where = f"record {id_field} {own} (position {k})" if isinstance(own, int | str) else f"record {k}"
            return InputError(f"{where}: {msg}", path=path, field=field)

        if not isinstance(rec.get(id_field), int | str):
            raise bad("missing or not an int/string", id_field)
        rid = str(rec[id_field])
        if rid in seen:
            raise bad(f"duplicate {id_field} {rid}", id_field)
        seen.add(rid)
        yield rid, rec, bad


def read_records(path: str, what: str) -> list[tuple[int, dict[str, Any]]]:
    """(record number, record) from a JSON array file (as CFBench and ComplexBench publish) or JSONL.

    A path that is not a file but looks like a hub dataset id is read with `datasets.load_dataset`
    only from the local cache (offline); otherwise a one-line error.
    """
    p = Path(path)
    if not p.is_file():
        return _hub_records(path, what)
    text = p.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"malformed JSON ({exc.msg} at line {exc.lineno})", path=path) from None
        out = []
        for k, rec in enumerate(data, start=1):
            if not isinstance(rec, dict):
                raise InputError(f"record {k}: expected a JSON object, got {type(rec).__name__}", path=path)
            out.append((k, rec))
        return out
    from followkit.core.io import iter_jsonl

    return list(iter_jsonl(path))


def _hub_records(name: str, what: str) -> list[tuple[int, dict[str, Any]]]:
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", name):
        raise InputError(f"no such file ({what}: a local JSON/JSONL file as published)", path=name)
    import datasets
    import huggingface_hub.constants as hub_constants

    saved = datasets.config.HF_HUB_OFFLINE, hub_constants.HF_HUB_OFFLINE
    datasets.config.HF_HUB_OFFLINE = hub_constants.HF_HUB_OFFLINE = True  # never download
    try:
        ds = datasets.load_dataset(name)
        split = next(s for s in ("test", "train", "validation") if s in ds) if len(ds) > 1 else next(iter(ds))
        rows = ds[split]
    except Exception as exc:  # any failure here means: not available offline
        raise InputError(
            f"neither a local file nor a dataset in the local Hugging Face cache (nothing is downloaded; "
            f"{type(exc).__name__}); pass the published {what} file",
            path=name,
        ) from None
    finally:
        datasets.config.HF_HUB_OFFLINE, hub_constants.HF_HUB_OFFLINE = saved
    return [(k, dict(r)) for k, r in enumerate(rows, start=1)]
