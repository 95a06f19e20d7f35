"""Shared pieces of the synthesis stages: prompt templates, model JSON parsing, verdicts, record I/O."""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from followkit.constraints.registry import is_rule
from followkit.core.errors import InputError, first_error
from followkit.core.records import Constraint, Conversation, Instruction, Verdict

# --------------------------------------------------------------------------- prompt templates


def load_template(name_or_path: str) -> string.Template:
    """A prompt template: a path to a user's file, or the name of a built-in `prompts/synth_*.txt`."""
    p = Path(name_or_path)
    if p.suffix == ".txt" and p.exists():
        return string.Template(p.read_text(encoding="utf-8"))
    if p.suffix == ".txt" and (p.is_absolute() or len(p.parts) > 1):
        raise InputError("no such prompt template", path=str(p))
    name = name_or_path if name_or_path.endswith(".txt") else f"{name_or_path}.txt"
    try:
        text = resources.files("followkit").joinpath("prompts", name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"unknown prompt template '{name_or_path}'") from None
    return string.Template(text)


def render_template(name_or_path: str, **fields: Any) -> str:
    """Render a template with `${field}` placeholders; a missing field is an error, not a blank."""
    tpl = load_template(name_or_path)
    try:
        return tpl.substitute({k: str(v) for k, v in fields.items()})
    except KeyError as exc:
        raise InputError(f"prompt template '{name_or_path}' needs field {exc}") from None


# --------------------------------------------------------------------------- model JSON output

_FENCE_RE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)(?:```|$)", re.DOTALL)


class ModelOutputError(ValueError):
    """A model's output that cannot be used; the message is the recorded failure reason."""


def extract_json(text: str) -> Any:
    """The JSON object in a model's reply (code fences and surrounding prose allowed).

    Empty, non-JSON and truncated replies raise ModelOutputError with a reason that says which.
    """
    if text is None or not text.strip():
        raise ModelOutputError("empty output")
    body = text.strip()
    fence = _FENCE_RE.search(body)
    if fence:
        body = fence.group(1).strip()
    start = body.find("{")
    if start < 0:
        raise ModelOutputError("non-JSON output: no JSON object found")
    body = body[start:]
    decoder = json.JSONDecoder()
    try:
        obj, _ = decoder.raw_decode(body)
    except json.JSONDecodeError as exc:
        # An error at the very end means the text stopped mid-object: a truncated reply.
        if exc.pos >= len(body.rstrip()) - 1 or body.count("{") > body.count("}"):
            raise ModelOutputError(f"truncated JSON output ({exc.msg})") from None
        raise ModelOutputError(f"non-JSON output ({exc.msg} at char {exc.pos})") from None
    if not isinstance(obj, dict):
        raise ModelOutputError(f"non-JSON output: expected an object, got {type(obj).__name__}")
    return obj


def validation_reason(exc: ValidationError) -> str:
    """A one-line reason for a schema mismatch, naming the field."""
    loc, msg = first_error(exc)
    return f"schema error at '{loc or '(root)'}': {msg}"


# --------------------------------------------------------------------------- verdicts


def follow_all(verdicts: list[dict[str, Any]] | list[Verdict], mode: str = "strict") -> bool | None:
    """True if every constraint is followed, False if one fails, None if any verdict is unknown.

    An unknown verdict (an unparsable judge reply) is never a pass.
    """
    vals = [(v[mode] if isinstance(v, dict) else getattr(v, mode)) for v in verdicts]
    if any(v is False for v in vals):
        return False
    if any(v is None for v in vals):
        return None
    return True


def n_failed(verdicts: list[dict[str, Any]], mode: str = "strict") -> int | None:
    """Number of failed constraints, or None if any verdict is unknown."""
    vals = [v[mode] for v in verdicts]
    if any(v is None for v in vals):
        return None
    return sum(1 for v in vals if v is False)


def rule_verdicts(constraints: list[Constraint], response: str, prompt: str | None) -> list[Verdict]:
    """Strict and loose verdicts of the rule-checked constraints (in order)."""
    from followkit.constraints.verify import check_all

    pairs = [(c.id, c.kwargs) for c in constraints]
    if not pairs:
        return []
    strict = check_all(pairs, response, mode="strict", prompt=prompt)
    loose = check_all(pairs, response, mode="loose", prompt=prompt)
    return [
        Verdict(c.id, "rule", bool(s), bool(lo)) for c, s, lo in zip(constraints, strict, loose, strict=True)
    ]


@dataclass
class VerdictJob:
    """One response to be judged against an instruction's constraints."""

    prompt: str
    constraints: list[Constraint]
    response: str


def verdicts_for(jobs: list[VerdictJob], judge_backend: Callable[[], Any] | None) -> list[list[Verdict]]:
    """Per-constraint verdicts for each job: rules where a rule id is registered, the judge otherwise.

    `judge_backend` is called (once, lazily) only when some constraint needs the judge.
    Constraints that are neither registered nor carry a TRACE dimension fail closed (an error).
    """
    out: list[list[Verdict | None]] = []
    judge_reqs: list[tuple[int, list[int]]] = []  # (job index, positions of judged constraints)
    for ji, job in enumerate(jobs):
        row: list[Verdict | None] = [None] * len(job.constraints)
        rules = [(i, c) for i, c in enumerate(job.constraints) if is_rule(c.id)]
        for (i, _), v in zip(
            rules, rule_verdicts([c for _, c in rules], job.response, job.prompt), strict=True
        ):
            row[i] = v
        judged = [i for i, c in enumerate(job.constraints) if row[i] is None]
        for i in judged:
            c = job.constraints[i]
            if not c.dimension:
                from followkit.constraints import registry

                registry.get(c.id)  # raises ConstraintError with a did-you-mean
        if judged:
            judge_reqs.append((ji, judged))
        out.append(row)
    if judge_reqs:
        if judge_backend is None:
            raise InputError("some constraints need the judge, but no judge backend was given")
        from followkit.judges.trace import JudgeRequest, judge

        backend = judge_backend()
        reqs = [
            JudgeRequest(
                query=jobs[ji].prompt,
                constraints=[jobs[ji].constraints[i].text for i in pos],
                response=jobs[ji].response,
                numbers=[i + 1 for i in pos],  # as render_prompt numbers them in the query
            )
            for ji, pos in judge_reqs
        ]
        results = judge(backend, reqs)
        for (ji, pos), res in zip(judge_reqs, results, strict=True):
            scores = list(res.scores or [])
            for k, i in enumerate(pos):
                cid = jobs[ji].constraints[i].id
                score = scores[k] if k < len(scores) else None
                if res.error or score is None:
                    why = res.error or "judge gave no score for this constraint"
                    out[ji][i] = Verdict(cid, "judge", None, None, None, f"unparsable judge verdict: {why}")
                else:
                    ok = int(score) == 10
                    out[ji][i] = Verdict(cid, "judge", ok, ok, int(score))
    return [[v for v in row if v is not None] for row in out]


# --------------------------------------------------------------------------- records in and out


def read_instructions(path: str | Path) -> Iterator[Instruction | Conversation]:
    """Instruction records from a JSONL file, every one checked: InputError naming file, line and field.

    A row with `turns` is a Conversation (synth compose --turns). Checked: the record's shape, its
    constraint ids and kwargs (judged constraints need a TRACE dimension; every turn's), and its id
    (a duplicate names both lines). An empty file is an error too.
    """
    from followkit.constraints.verify import check_constraints
    from followkit.core.records import iter_records

    for lineno, inst in iter_records(path, Instruction, by_field={"turns": Conversation}):
        lists = (
            [(f"turns[{k}].constraints", t.constraints) for k, t in enumerate(inst.turns)]
            if isinstance(inst, Conversation)
            else [("constraints", inst.constraints)]
        )
        for field, cons in lists:
            check_constraints({"constraints": [c.model_dump() for c in cons]}, path, lineno, field=field)
        yield inst


def final_turn(inst: Instruction | Conversation) -> tuple[str, list[Constraint]]:
    """The prompt a response answers and the constraints it must follow: an instruction's, or a
    conversation's last turn (every constraint in force there)."""
    if isinstance(inst, Conversation):
        return inst.turns[-1].prompt, inst.turns[-1].constraints
    return inst.prompt, inst.constraints


def read_responses(path: str | Path) -> list[dict[str, Any]]:
    """Response rows with verdicts (as `synth respond` writes them), each checked as a
    records.ResponseWithVerdicts: a bad row or a repeated key is one InputError naming file, line and field."""
    from followkit.core.records import ResponseWithVerdicts, read

    out = []
    for rec in read(path, ResponseWithVerdicts):
        row = rec.model_dump(mode="json", exclude_unset=True)
        row["verdicts"] = [v.to_dict() for v in rec.verdicts]
        out.append(row)
    return out


def chunks(items: list, size: int) -> Iterator[list]:
    """Consecutive slices of at most `size` items."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def user_chat(prompt: str, system: str | None = None) -> list[dict[str, str]]:
    """The chat that asks a model an instruction's prompt."""
    chat = [{"role": "system", "content": system}] if system else []
    chat.append({"role": "user", "content": prompt})
    return chat


def user_turns(inst: Instruction | Conversation, system: str | None = None) -> list[dict[str, str]]:
    """What a response's chat holds besides the model's own answers: the system prompt and each user turn."""
    if isinstance(inst, Conversation):
        later = [{"role": "user", "content": t.prompt} for t in inst.turns[1:]]
        return user_chat(inst.turns[0].prompt, system) + later
    return user_chat(inst.prompt, system)


def load_role(
    spec: str, base_url: str | None, cache: bool = True, refresh_cache: bool = False, **options: Any
) -> Any:
    """A backend for a role (student, teacher, judge) from its spec; `auto:CAR_JSON` picks CAR's best teacher.

    `options` (dtype, batch_size, ...) go to the engine where it takes them.
    """
    from followkit.backends import engine_options, load_backend

    if spec.startswith("auto:"):
        from followkit.select.car import resolve_model_spec

        spec = resolve_model_spec(spec)
    return load_backend(
        spec, base_url=base_url, cache=cache, refresh_cache=refresh_cache, **engine_options(spec, **options)
    )


def cache_stats(backend: Any) -> dict[str, int] | None:
    """The backend's request-cache counts, where it keeps a cache."""
    stats = getattr(backend, "cache_stats", None)
    return dict(stats) if stats else None


_STEP_NAMES = {"expand", "structure", "qc", "teacher", "y2"}  # reason prefixes naming a sub-step


class Failures:
    """Items that failed in this run, with reasons: written to OUT/failures_<stage>.jsonl and counted."""

    def __init__(self, stage: str):
        self.stage = stage
        self.items: list[dict[str, Any]] = []

    def add(self, item_id: str, reason: str, **extra: Any) -> None:
        """Record one failed item."""
        self.items.append({"id": item_id, "stage": self.stage, "reason": reason, **extra})

    def __len__(self) -> int:
        return len(self.items)

    def reasons(self) -> dict[str, int]:
        """Failure counts by kind: 'truncated JSON output', 'structure: empty output', 'backend error', ..."""
        out: dict[str, int] = {}
        for f in self.items:
            parts = [p.strip() for p in f["reason"].split("(", 1)[0].split(":")]
            kind = ": ".join(parts[:2]) if parts[0] in _STEP_NAMES and len(parts) > 1 else parts[0]
            out[kind] = out.get(kind, 0) + 1
        return dict(sorted(out.items()))

    def write(self, out_dir: str | Path) -> str:
        """Write the failures file (replacing the previous run's: a rerun retries every failed item)."""
        from followkit.core.io import write_jsonl

        name = f"failures_{self.stage}.jsonl"
        write_jsonl(Path(out_dir) / name, self.items)
        return name


@dataclass
class JSONAnswer:
    """A model's parsed JSON answer, or why there is none."""

    value: Any = None
    error: str | None = None
    raw: str = ""
    retried: bool = False


def ask_json(
    backend: Any,
    chats: list[list[dict[str, str]]],
    parse: Callable[[str], Any] | list[Callable[[str], Any]],
    params: Any,
    retry_template: str = "synth_retry",
) -> list[JSONAnswer]:
    """Ask each chat for JSON; `parse(text)` (one, or one per chat) validates, raising ValueError.

    An invalid answer is asked again once, with the error shown; one still invalid after the retry is returned with its reason, never repaired by guessing.
    """
    answers = [JSONAnswer() for _ in chats]
    parsers = parse if isinstance(parse, list) else [parse] * len(chats)

    def attempt(idx: list[int], convs: list[list[dict[str, str]]]) -> None:
        for i, comp in zip(idx, backend.complete(convs, params), strict=True):
            if not comp.ok:
                answers[i].error = f"backend error: {comp.error}"
                answers[i].raw = ""
                continue
            raw = comp.texts[0] if comp.texts else ""
            answers[i].raw = raw
            try:
                answers[i].value, answers[i].error = parsers[i](raw), None
            except ValidationError as exc:
                answers[i].value, answers[i].error = None, validation_reason(exc)
            except ValueError as exc:
                answers[i].value, answers[i].error = None, str(exc)

    attempt(list(range(len(chats))), chats)
    redo = [i for i, a in enumerate(answers) if a.error and not a.error.startswith("backend error")]
    if redo:
        convs = [
            chats[i]
            + [
                {"role": "assistant", "content": answers[i].raw},
                {"role": "user", "content": render_template(retry_template, error=answers[i].error)},
            ]
            for i in redo
        ]
        first = {i: answers[i].error for i in redo}
        attempt(redo, convs)
        for i in redo:
            answers[i].retried = True
            if answers[i].error:
                answers[i].error = f"{answers[i].error} (after retry; first: {first[i]})"
    return answers


def write_stage_manifest(
    out_dir: str | Path, stage: str, config: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    """OUT/manifest.json (the latest stage, as every stage writes it) plus OUT/manifest_<stage>.json.

    The synth stages usually share one folder; the per-stage copy keeps each stage's provenance
    when the next stage overwrites manifest.json.
    """
    from followkit.core.io import write_json
    from followkit.core.manifest import write_manifest

    manifest = write_manifest(out_dir, stage, config, **fields)
    write_json(Path(out_dir) / f"manifest_{stage.removeprefix('synth.')}.json", manifest)
    return manifest


# --------------------------------------------------------------------------- reasoning traces


def answers_only(recs: list[dict[str, Any]], setting: str, markers: tuple[str, str]) -> list[dict[str, Any]]:
    """Response records with any reasoning trace split off `response` (kept in `reasoning`), in place."""
    from followkit.core.reasoning import read_answer

    for r in recs:
        answer, trace, status = read_answer(r["response"], setting, markers)  # type: ignore[arg-type]
        if status != "none" and trace is not None:
            r["response"] = answer
            r.setdefault("reasoning", trace)
    return recs


def completion_answers(comp: Any, setting: str, markers: tuple[str, str]) -> Any:
    """A Completion whose texts are the answers after any reasoning trace (followkit.core.reasoning)."""
    import dataclasses

    from followkit.core.reasoning import split_completion

    if not comp.ok:
        return comp
    texts = [
        split_completion(t, comp.reasoning_of(i), setting, markers)[0]  # type: ignore[arg-type]
        for i, t in enumerate(comp.texts)
    ]
    return dataclasses.replace(comp, texts=texts)


def record_constraints(rec: dict[str, Any]) -> list[Constraint]:
    """The constraints stored in a Response record."""
    return [Constraint.model_validate(c) for c in rec["constraints"]]


class LazyBackend:
    """A role's backend, loaded on first use (a judge is only needed for judged constraints)."""

    def __init__(
        self, spec: str, base_url: str | None, cache: bool, refresh: bool, reuse: Any = None, **options: Any
    ):
        self.spec, self.base_url, self.cache, self.refresh = spec, base_url, cache, refresh
        self.backend = reuse
        self.options = options

    def __call__(self) -> Any:
        if self.backend is None:
            self.backend = load_role(self.spec, self.base_url, self.cache, self.refresh, **self.options)
        return self.backend
