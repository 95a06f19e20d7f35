"""Sample n responses per instruction from any backend, then verdicts per constraint.

Input: Instruction records. Output: one Response record per sample (`key` = "<id>#<sample>"),
carrying the instruction's constraints and per-constraint verdicts: rules (strict and loose) where
a rule id is registered, the TRACE judge for judged constraints. An empty reply is a failure with
its reason, never a response; an unparsable judge verdict is recorded as unknown (never a pass).

A Conversation record (synth compose --turns) is answered turn by turn with the student's own
earlier answers in context (followkit.backends.turns, as eval asks Multi-IF): the earlier turns
once, the last turn n times. Its Response records hold the whole chat in `messages`, the last
answer in `response`, and the last turn's prompt and constraints (every one in force) with their
verdicts, so the stages after respond read them as they read single-turn ones.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from followkit.core.reasoning import DEFAULT_MARKERS_TEXT, parse_markers, split_completion
from followkit.core.records import Conversation, Instruction, Reads, ResponseWithVerdicts, Writes
from followkit.core.settings import ROLE_SPEC, Cache, Reasoning, ReasoningMarkers, RefreshCache, cli
from followkit.synth.common import (
    Failures,
    LazyBackend,
    VerdictJob,
    cache_stats,
    chunks,
    final_turn,
    follow_all,
    read_instructions,
    user_chat,
    user_turns,
    verdicts_for,
)


class RespondConfig(BaseModel):
    """Settings of `followkit synth respond`."""

    model_config = ConfigDict(extra="forbid")
    reads: ClassVar[Reads] = Reads((Instruction, Conversation), "--instructions")
    writes: ClassVar[Writes] = {"responses.jsonl": ResponseWithVerdicts}
    instructions: str | None = Field(None, description="Instruction JSONL (default: OUT/instructions.jsonl)")
    n: int = Field(4, ge=1, description="Samples per instruction")
    temperature: float = Field(0.8, ge=0.0, description="Sampling temperature (high helps, per CAR)")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="Nucleus mass")
    max_tokens: int = Field(512, ge=1, description="Most tokens per response")
    seed: int = Field(0, description="Sampling seed")
    system: str | None = Field(None, description="System prompt for the student")
    student: str = Field(
        "embedded",
        description="The responding model: " + ROLE_SPEC,
        json_schema_extra=cli("--student", "--model"),
    )
    judge: str = Field("embedded", description="Judge for judged constraints: " + ROLE_SPEC)
    base_url: str | None = Field(None, description="Server URL for openai:NAME")
    judge_base_url: str | None = Field(None, description="Server URL for an openai:NAME judge")
    batch_size: int = Field(16, ge=1, description="Prompts per model call")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] | None = Field(
        None, description="Student dtype on local engines (auto: bfloat16 where the hardware has it)"
    )
    limit: int | None = Field(None, ge=1, description="Only the first N instructions")
    cache: Cache = True
    refresh_cache: RefreshCache = False
    reasoning: Reasoning = "strip"
    reasoning_markers: ReasoningMarkers = DEFAULT_MARKERS_TEXT


def response_key(instruction_id: str, sample: int) -> str:
    """The unique key of one sampled response."""
    return f"{instruction_id}#{sample}"


def response_record(
    inst: Instruction | Conversation,
    sample: int,
    text: str,
    chat: list[dict[str, str]],
    model: str,
    sampling: dict,
    verdicts: list,
    reasoning: str | None = None,
) -> ResponseWithVerdicts:
    """A Response record with the instruction's constraints and the verdicts (and the trace split off)."""
    vs = [v.to_dict() for v in verdicts]
    prompt, constraints = final_turn(inst)
    return ResponseWithVerdicts(
        key=response_key(inst.id, sample),
        id=inst.id,
        sample=sample,
        messages=chat,
        prompt=prompt,  # so `followkit verify responses.jsonl` reads the file as it is
        response=text,
        **({"reasoning": reasoning} if reasoning is not None else {}),
        model=model,
        sampling=sampling,
        language=inst.language,
        task=getattr(inst, "task", None),  # a conversation carries them where compose wrote them
        input=getattr(inst, "input", None),
        constraints=[c.model_dump(mode="json", exclude_none=True) for c in constraints],
        verdicts=verdicts,
        follow_all_strict=follow_all(vs, "strict"),
        follow_all_loose=follow_all(vs, "loose"),
    )


STUDENT_FINGERPRINT = "respond_fingerprint.json"
"""OUT file naming the student (spec and base URL, redacted) whose answers responses.jsonl holds,
written before the first answer: a resume with another student is refused (as `followkit eval`
refuses with its run_config.json)."""


def check_resumable(
    log: Any, insts: list[Instruction | Conversation], system: str | None, sampling: dict
) -> None:
    """Refuse to resume into responses to other prompts or sampling (ids reused with new prompts).

    A kept response must answer the same chat (its user turns: the earlier answers are the student's)
    with the same sampling; otherwise a rerun would silently reuse answers to questions no longer
    asked (eval refuses the same way).
    """
    from followkit.core.errors import InputError
    from followkit.core.redact import redact_obj

    kept: dict[str, list[str]] = {}
    for key in log.done:
        kept.setdefault(key.rpartition("#")[0], []).append(key)
    for inst in insts:
        if inst.id not in kept:
            continue
        chat = redact_obj(user_turns(inst, system))
        for key in kept[inst.id]:
            old = log.done[key]
            asked = old.get("messages")
            if isinstance(asked, list):
                asked = [m for m in asked if not (isinstance(m, dict) and m.get("role") == "assistant")]
            what = [
                name
                for name, a, b in (
                    ("prompt", asked, chat),
                    ("sampling", old.get("sampling"), sampling),
                )
                if a is not None and redact_obj(a) != b
            ]
            if what:
                raise InputError(
                    f"holds response '{key}' to another {' and '.join(what)} than id '{inst.id}' has now: "
                    "pass another --out or delete the file",
                    path=str(log.path),
                )


def check_student(log: Any, out: Path, student: str, base_url: str | None) -> dict[str, Any] | None:
    """Refuse to resume into responses of another student spec (or server); record this run's student.

    Compared with OUT/respond_fingerprint.json when responses.jsonl already holds answers. A new
    folder gets the file now; answers without one (an older followkit) return the fingerprint, to
    be written once check_student_model has accepted the loaded student.
    """
    import json

    from followkit.core.errors import InputError
    from followkit.core.io import write_json
    from followkit.core.redact import redact_obj

    fingerprint = redact_obj({"student": student, "base_url": base_url})
    path = out / STUDENT_FINGERPRINT
    if not log.done:
        write_json(path, fingerprint)
        return None
    if not path.exists():
        return fingerprint
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        old = None
    diff = [k for k in fingerprint if not isinstance(old, dict) or old.get(k) != fingerprint[k]]
    if diff:
        raise InputError(
            f"holds responses of another {' and '.join(diff)} than this run's (student {student!r}): "
            "pass another --out or delete the file",
            path=str(log.path),
        )
    return None


def check_student_model(log: Any, model: str) -> None:
    """Refuse to add answers of `model` (the loaded student) to responses another model wrote.

    Catches what the spec cannot: a folder from before respond_fingerprint.json, an `auto:` spec
    that now resolves to another teacher, or a backend passed in by a caller.
    """
    from followkit.core.errors import InputError

    for key, rec in log.done.items():
        if rec.get("model") is not None and rec["model"] != model:
            raise InputError(
                f"holds response '{key}' of another student ({rec['model']!r}, not {model!r}): "
                "pass another --out or delete the file",
                path=str(log.path),
            )


def student_model(backend: Any, spec: str) -> str:
    """The `model` a Response record names: kind:model_id of the loaded backend, else the spec."""
    return f"{backend.kind}:{backend.model_id}" if getattr(backend, "model_id", "") else spec


Job = tuple[Instruction | Conversation, int, str, list[dict[str, str]], str | None]
"""A sampled answer to check: (instruction, sample, answer, the chat it replied to, its trace)."""


def _ask_turns(
    backend: Any,
    convs: list[Conversation],
    cfg: RespondConfig,
    params: Any,
    markers: tuple[str, str],
    log: Any,
    failures: Failures,
    jobs: list[Job],
) -> int:
    """Answer conversations turn by turn (backends.turns.converse); adds a job per last-turn sample, returns failed conversations."""
    from followkit.backends.turns import converse

    asked = [user_turns(c, cfg.system) for c in convs]
    head = 2 if cfg.system else 1  # the system prompt (user_chat adds one only when given) and turn 1
    chats, later = [a[:head] for a in asked], [a[head:] for a in asked]
    failed = 0
    for conv, talk in zip(
        convs, converse(backend, chats, later, params, cfg.reasoning, markers), strict=True
    ):
        # An empty earlier answer leaves nothing to rewrite: the conversation fails at that turn.
        empty = next((k for k, r in enumerate(talk.replies[:-1], 1) if not r[0].text.strip()), None)
        if talk.error is not None or empty is not None:
            why = f"backend error: {talk.error}" if talk.error is not None else "empty output"
            failures.add(conv.id, why, turn=talk.failed_turn or empty)
            failed += 1
            continue
        for s, reply in enumerate(talk.replies[-1]):
            if response_key(conv.id, s) in log:
                continue
            if not reply.text.strip():
                failures.add(response_key(conv.id, s), "empty output", turn=len(conv.turns))
                continue
            jobs.append((conv, s, reply.answer, talk.chat, reply.trace))
    return failed


def run_respond(
    cfg: RespondConfig,
    out_dir: str | Path,
    student: Any = None,
    judge: Any = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Write OUT/responses.jsonl (appending, resumable), failures and manifest.json."""
    from followkit.backends.base import SamplingParams
    from followkit.core.io import AppendLog, write_json
    from followkit.core.progress import stage_progress
    from followkit.synth.common import write_stage_manifest

    out = Path(out_dir)
    src = Path(cfg.instructions) if cfg.instructions else out / "instructions.jsonl"
    insts = list(read_instructions(src))
    if cfg.limit:
        insts = insts[: cfg.limit]
    markers = parse_markers(cfg.reasoning_markers)
    params = SamplingParams(
        n=cfg.n, temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_tokens, seed=cfg.seed
    )
    failures = Failures("respond")
    student_role = LazyBackend(
        cfg.student,
        cfg.base_url,
        cfg.cache,
        cfg.refresh_cache,
        student,
        dtype=cfg.dtype,
        batch_size=cfg.batch_size,
    )
    same = cfg.judge == cfg.student and cfg.judge_base_url in (None, cfg.base_url) and judge is None
    judge_role: Callable[[], Any] = (
        student_role
        if same
        else LazyBackend(cfg.judge, cfg.judge_base_url or cfg.base_url, cfg.cache, cfg.refresh_cache, judge)
    )
    with (
        AppendLog(out / "responses.jsonl", key="key") as log,
        stage_progress("respond", len(insts), progress) as bar,
    ):
        check_resumable(log, insts, cfg.system, params.to_dict())
        pending = check_student(log, out, cfg.student, cfg.base_url)
        todo = [i for i in insts if any(response_key(i.id, s) not in log for s in range(cfg.n))]
        bar.advance(len(insts) - len(todo), cached=len(insts) - len(todo))
        model = None
        for batch in chunks(todo, cfg.batch_size):
            backend = student_role()
            if model is None:
                model = student_model(backend, cfg.student)
                check_student_model(log, model)
                if pending is not None:
                    write_json(out / STUDENT_FINGERPRINT, pending)
            single = [i for i in batch if isinstance(i, Instruction)]
            chats = [user_chat(i.prompt, cfg.system) for i in single]
            comps = backend.complete(chats, params) if single else []
            jobs: list[Job] = []
            failed_items = 0
            for inst, chat, comp in zip(single, chats, comps, strict=True):
                if not comp.ok:
                    failures.add(inst.id, f"backend error: {comp.error}")
                    failed_items += 1
                    continue
                for s, text in enumerate(comp.texts or []):
                    if response_key(inst.id, s) in log:
                        continue
                    if not text or not text.strip():
                        failures.add(response_key(inst.id, s), "empty output")
                        continue
                    # the answer is checked and kept; an unclosed trace leaves "" (follows nothing)
                    answer, trace, _ = split_completion(text, comp.reasoning_of(s), cfg.reasoning, markers)
                    jobs.append((inst, s, answer, chat, trace))
            convs = [i for i in batch if isinstance(i, Conversation)]
            if convs:
                failed_items += _ask_turns(backend, convs, cfg, params, markers, log, failures, jobs)
            verdicts = verdicts_for(
                [VerdictJob(*final_turn(inst), text) for inst, _, text, _, _ in jobs], judge_role
            )
            for (inst, s, text, chat, trace), vs in zip(jobs, verdicts, strict=True):
                log.append(response_record(inst, s, text, chat, model, params.to_dict(), vs, trace))
            bar.advance(
                len(batch), cached=sum(bool(getattr(c, "cached", False)) for c in comps), failed=failed_items
            )
        recs = [r for r in log.done.values()]
    failures_file = failures.write(out)
    n_strict = sum(1 for r in recs if r["follow_all_strict"] is True)
    n_loose = sum(1 for r in recs if r["follow_all_loose"] is True)
    unknown = sum(1 for r in recs if r["follow_all_strict"] is None)
    judge_errors = sum(1 for r in recs for v in r["verdicts"] if v.get("error"))
    models = {
        "student": student_role.backend.describe()
        if student_role.backend is not None
        else {"spec": cfg.student}
    }
    jb = getattr(judge_role, "backend", None)
    if jb is not None and not same:
        models["judge"] = jb.describe()
    return write_stage_manifest(
        out,
        "synth.respond",
        cfg.model_dump(mode="json"),
        seed=cfg.seed,
        models=models,
        input=str(src),
        counts={
            "instructions": len(insts),
            "responses": len(recs),
            "failed": len(failures),
            "failure_reasons": failures.reasons(),
            "follow_all_strict": n_strict,
            "follow_all_loose": n_loose,
            "verdict_unknown": unknown,
            "judge_unparsable": judge_errors,
        },
        cache={
            "student": cache_stats(student_role.backend) if student_role.backend is not None else None,
            "judge": cache_stats(jb) if jb is not None and not same else None,
        },
        output="responses.jsonl",
        failures=failures_file,
    )
