"""Discrimination-based refinement ("From Complex to Simple", He et al. 2024; DESIGN section 7).

A student's response is checked; a teacher fixes its failed constraints one at a time with a
minimal-edit prompt, and the response is re-checked after each fix. When the final response
follows every constraint, each step gives a DPO pair (rejected = the response before that fix,
chosen = the final response) and the final response gives an SFT record. When it does not, the
item is recorded as a failure with the constraints still failing: no pair is written from it.

The teacher is a model, or `rules` (followkit's rule teacher: each constraint id's own minimal
repair, offline, exact), or `rules+MODEL` (rules first, the model for what no rule can fix).
A rule fix that would break a constraint that held is rejected (constraints/repair.py).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from followkit.core.errors import InputError
from followkit.core.reasoning import DEFAULT_MARKERS_TEXT, parse_markers
from followkit.core.records import Constraint, PreferencePair, Reads, ResponseWithVerdicts, SFTRecord, Writes
from followkit.core.settings import ROLE_SPEC, Cache, Reasoning, ReasoningMarkers, RefreshCache
from followkit.synth.common import (
    Failures,
    LazyBackend,
    Verdict,
    VerdictJob,
    answers_only,
    cache_stats,
    chunks,
    completion_answers,
    follow_all,
    is_rule,
    read_responses,
    record_constraints,
    render_template,
    user_chat,
    verdicts_for,
)


class RefineConfig(BaseModel):
    """Settings of `followkit synth refine`."""

    model_config = ConfigDict(extra="forbid")
    reads: ClassVar[Reads] = Reads((ResponseWithVerdicts,), "--responses")
    writes: ClassVar[Writes] = {"pairs_refine.jsonl": PreferencePair, "sft_refine.jsonl": SFTRecord}
    responses: str | None = Field(None, description="Student responses JSONL (default: OUT/responses.jsonl)")
    student: str = Field("embedded", description="Student, if no responses exist yet: " + ROLE_SPEC)
    teacher: str = Field(
        "embedded",
        description="Teacher that fixes responses: 'rules' (offline rule repairs), 'rules+MODEL' (rules, then the "
        "model for the rest) or a model: " + ROLE_SPEC,
    )
    judge: str = Field("embedded", description="Judge for judged constraints: " + ROLE_SPEC)
    base_url: str | None = Field(None, description="Server URL for openai:NAME roles")
    teacher_base_url: str | None = Field(None, description="Server URL for the teacher")
    judge_base_url: str | None = Field(None, description="Server URL for the judge")
    max_tokens: int = Field(512, ge=1, description="Most tokens per teacher reply")
    seed: int = Field(0, description="Seed")
    per_instruction: int = Field(1, ge=1, description="Failing responses refined per instruction")
    keep_passing: bool = Field(
        True,
        description="Also write the student's answers that already follow every constraint as SFT "
        "records (instructions without one get their refined answer)",
    )
    batch_size: int = Field(16, ge=1, description="Prompts per model call")
    template: str = Field("synth_refine", description="Prompt template of the teacher")
    cache: Cache = True
    refresh_cache: RefreshCache = False
    reasoning: Reasoning = "strip"
    reasoning_markers: ReasoningMarkers = DEFAULT_MARKERS_TEXT


def refine_prompt(prompt: str, response: str, constraint_text: str, template: str = "synth_refine") -> str:
    """The teacher's minimal-edit prompt for one broken constraint."""
    return render_template(
        template, prompt=prompt.strip(), response=response, constraint=constraint_text.strip()
    )


@dataclass
class _Item:
    rec: dict[str, Any]
    constraints: list[Constraint]
    current: str
    verdicts: list[Verdict]
    attempted: set[int] = field(default_factory=set)
    steps: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    unrepaired: list[int] = field(default_factory=list)  # rule-checked positions no rule fixed

    def target(self) -> int | None:
        for i, v in enumerate(self.verdicts):
            if v.strict is False and i not in self.attempted:
                return i
        return None


def _as_verdicts(raw: list[dict[str, Any]]) -> list[Verdict]:
    return [
        Verdict(
            v["id"], v.get("source", "rule"), v.get("strict"), v.get("loose"), v.get("score"), v.get("error")
        )
        for v in raw
    ]


RULES = "rules"
UNFINISHED = "unfinished_sentence"  # the rule teacher's step that cuts a sentence the token limit broke


def split_teacher(spec: str) -> tuple[bool, str | None]:
    """(uses the rule teacher, model spec or None) of a teacher spec: 'rules', 'rules+MODEL' or 'MODEL'."""
    if spec == RULES:
        return True, None
    if spec.startswith(RULES + "+"):
        model = spec[len(RULES) + 1 :]
        if not model:
            raise InputError("teacher 'rules+' names no model (e.g. rules+embedded)", field="teacher")
        return True, model
    return False, spec


def rule_pass(items: list[_Item], judge_role: Any, seed: int) -> None:
    """Apply the rule teacher to each item's rule-checked constraints, recording each accepted fix."""
    from followkit.constraints.edits import trim_unfinished
    from followkit.constraints.repair import repair_response
    from followkit.constraints.verify import parse_checks

    changed = []
    for it in items:
        pos = [i for i, c in enumerate(it.constraints) if is_rule(c.id)]
        if not pos:
            continue
        finished = trim_unfinished(it.current)
        if finished != it.current.rstrip() and finished.strip():
            # a reply cut off by its token limit: the teacher's answer ends where a sentence does
            it.steps.append({"before": it.current, "fixed": UNFINISHED, "index": -1, "by": RULES})
            it.current = finished
            changed.append(it)
        checks = parse_checks([(it.constraints[i].id, it.constraints[i].kwargs) for i in pos])
        res = repair_response(checks, it.current, random.Random(f"repair:{seed}:{it.rec['key']}"))
        for step in res.steps:
            it.steps.append({"before": step.before, "fixed": step.id, "index": pos[step.index], "by": RULES})
        if res.steps:
            it.current = res.text
            if not any(x is it for x in changed):
                changed.append(it)
        # What a rule could not fix is left to the model teacher, if there is one.
        it.unrepaired = [pos[i] for i, ok in enumerate(res.verdicts) if not ok]
    if changed:
        jobs = [VerdictJob(it.rec["messages"][-1]["content"], it.constraints, it.current) for it in changed]
        for it, vs in zip(changed, verdicts_for(jobs, judge_role), strict=True):
            it.verdicts = vs


def refine_items(teacher: Any, judge_role: Any, recs: list[dict[str, Any]], cfg: RefineConfig) -> list[_Item]:
    """Run the fix-and-recheck loop on student Response records (batched over items per round)."""
    from followkit.backends.base import SamplingParams

    params = SamplingParams(n=1, temperature=0.0, max_tokens=cfg.max_tokens, seed=cfg.seed)
    items = [_Item(r, record_constraints(r), r["response"], _as_verdicts(r["verdicts"])) for r in recs]
    rules, _ = split_teacher(cfg.teacher)
    if rules:
        rule_pass(items, judge_role, cfg.seed)
    while teacher is not None:
        active = [(it, it.target()) for it in items if it.error is None]
        active = [(it, t) for it, t in active if t is not None]
        if not active:
            break
        prompt_of = {id(it): it.rec["messages"][-1]["content"] for it, _ in active}
        chats = [
            user_chat(refine_prompt(prompt_of[id(it)], it.current, it.constraints[t].text, cfg.template))
            for it, t in active
        ]
        markers = parse_markers(cfg.reasoning_markers)  # a reasoning teacher's trace is not the repair
        comps = [completion_answers(c, cfg.reasoning, markers) for c in teacher.complete(chats, params)]
        fixed = []
        for (it, t), comp in zip(active, comps, strict=True):
            it.attempted.add(t)
            if not comp.ok:
                it.error = f"teacher: backend error: {comp.error}"
            elif not comp.texts or not comp.texts[0].strip():
                it.error = "teacher: empty output"
            else:
                new = comp.texts[0].strip()
                it.steps.append(
                    {"before": it.current, "fixed": it.constraints[t].id, "index": t, "by": "model"}
                )
                it.current = new
                fixed.append(it)
        if fixed:
            jobs = [VerdictJob(it.rec["messages"][-1]["content"], it.constraints, it.current) for it in fixed]
            for it, vs in zip(fixed, verdicts_for(jobs, judge_role), strict=True):
                it.verdicts = vs
    for it in items:
        if it.error is None:
            state = follow_all(it.verdicts, "strict")
            if state is None:
                it.error = "final response has an unknown verdict (unparsable judge reply)"
            elif state is False:
                still = [v.id for v in it.verdicts if v.strict is False]
                it.error = f"final response still fails: {', '.join(still)}"
    return items


def item_outputs(it: _Item, teacher_model: str) -> tuple[list[PreferencePair], SFTRecord]:
    """The DPO pairs (one per fix whose 'before' differs from the final) and the SFT record of an item."""
    rec = it.rec
    final = it.current
    verdicts = [v.to_dict() for v in it.verdicts]
    pairs = []
    for j, step in enumerate(it.steps):
        if step["before"].strip() == final.strip():
            continue
        pairs.append(
            PreferencePair(
                id=f"{rec['key']}#fix{j}",
                prompt=rec["messages"],
                chosen=[{"role": "assistant", "content": final}],
                rejected=[{"role": "assistant", "content": step["before"]}],
                meta={
                    "source": rec["key"],
                    "instruction_id": rec["id"],
                    "step": j,
                    "fixed_constraint": step["fixed"],
                    "fixed_by": step.get("by", "model"),
                    "steps": len(it.steps),
                    "student": rec.get("model"),
                    "teacher": teacher_model,
                    "chosen_verdicts": verdicts,
                },
            )
        )
    return pairs, refined_sft(rec, final, len(it.steps), teacher_model)


def refined_sft(rec: dict[str, Any], answer: str, steps: int, teacher_model: str | None) -> SFTRecord:
    """The SFT record of a response's final answer (`steps` fixes by `teacher_model`; 0 and None: kept as is)."""
    return SFTRecord(
        id=rec["key"],
        messages=rec["messages"] + [{"role": "assistant", "content": answer}],
        meta={"source": rec["key"], "instruction_id": rec["id"], "steps": steps, "teacher": teacher_model},
    )


def passing_answers(recs: list[dict[str, Any]], per_instruction: int) -> list[dict[str, Any]]:
    """Per instruction, the first `per_instruction` responses that already follow every constraint."""
    taken: dict[str, int] = {}
    out = []
    for r in recs:
        if r.get("follow_all_strict") is not True or taken.get(r["id"], 0) >= per_instruction:
            continue
        taken[r["id"]] = taken.get(r["id"], 0) + 1
        out.append(r)
    return out


def select_for_refinement(recs: list[dict[str, Any]], per_instruction: int) -> list[dict[str, Any]]:
    """Failing responses to refine: per instruction, the first `per_instruction` that fail a constraint."""
    taken: dict[str, int] = {}
    out = []
    for r in recs:
        if r.get("follow_all_strict") is not False:
            continue
        if taken.get(r["id"], 0) >= per_instruction:
            continue
        taken[r["id"]] = taken.get(r["id"], 0) + 1
        out.append(r)
    return out


def run_refine(
    cfg: RefineConfig,
    out_dir: str | Path,
    teacher: Any = None,
    judge: Any = None,
    student: Any = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Write OUT/pairs_refine.jsonl and OUT/sft_refine.jsonl (appending, resumable) and manifest.json."""
    from followkit.core.io import AppendLog
    from followkit.core.progress import stage_progress
    from followkit.synth.common import write_stage_manifest

    out = Path(out_dir)
    src = Path(cfg.responses) if cfg.responses else out / "responses.jsonl"
    if not src.exists():
        if cfg.responses or not (out / "instructions.jsonl").exists():
            raise InputError("no responses to refine (run `followkit synth respond` first)", path=str(src))
        # No student responses yet: sample one greedy answer per instruction with the student.
        # The one place a stage calls a sibling: refine without responses samples them first.
        from followkit.synth.respond import RespondConfig, run_respond

        run_respond(
            RespondConfig(
                n=1,
                temperature=0.0,
                student=cfg.student,
                judge=cfg.judge,
                base_url=cfg.base_url,
                judge_base_url=cfg.judge_base_url,
                max_tokens=cfg.max_tokens,
                seed=cfg.seed,
                cache=cfg.cache,
                refresh_cache=cfg.refresh_cache,
            ),
            out,
            student=student,
            judge=judge,
            progress=progress,
        )
    recs = answers_only(
        read_responses(src),
        cfg.reasoning,
        parse_markers(cfg.reasoning_markers),
    )
    chosen = select_for_refinement(recs, cfg.per_instruction)
    failures = Failures("refine")
    rules, model_spec = split_teacher(cfg.teacher)
    teacher_role = LazyBackend(
        model_spec or "", cfg.teacher_base_url or cfg.base_url, cfg.cache, cfg.refresh_cache, teacher
    )
    same = (
        model_spec is not None
        and cfg.judge == model_spec
        and judge is None
        and cfg.judge_base_url in (None, cfg.teacher_base_url or cfg.base_url)
    )
    judge_role = (
        teacher_role
        if same
        else LazyBackend(cfg.judge, cfg.judge_base_url or cfg.base_url, cfg.cache, cfg.refresh_cache, judge)
    )
    new_pairs = 0
    with (
        AppendLog(out / "pairs_refine.jsonl") as pairs_log,
        AppendLog(out / "sft_refine.jsonl") as sft_log,
        stage_progress("refine", len(chosen), progress) as bar,
    ):
        todo = [r for r in chosen if r["key"] not in sft_log]
        bar.advance(len(chosen) - len(todo), cached=len(chosen) - len(todo))
        for batch in chunks(todo, cfg.batch_size):
            t = teacher_role() if model_spec is not None else None
            model = f"{t.kind}:{t.model_id}" if t is not None else ""
            model = f"{RULES}+{model}" if rules and model else (RULES if rules else model)
            for it in refine_items(t, judge_role, batch, cfg):
                if it.error:
                    failures.add(it.rec["key"], it.error, steps=len(it.steps))
                    bar.advance(1, failed=1)
                    continue
                pairs, sft = item_outputs(it, model)
                for p in pairs:
                    if p.id not in pairs_log:
                        new_pairs += 1
                    pairs_log.append(p)
                sft_log.append(sft)  # last: its presence marks the item done
                bar.advance(1)
        kept = 0
        if cfg.keep_passing:
            for rec in passing_answers(recs, cfg.per_instruction):
                kept += 1
                if rec["key"] not in sft_log:
                    sft_log.append(refined_sft(rec, rec["response"], 0, None))
        n_pairs, n_sft = len(pairs_log.done), len(sft_log.done)
    failures_file = failures.write(out)
    tb = teacher_role.backend
    jb = getattr(judge_role, "backend", None)
    return write_stage_manifest(
        out,
        "synth.refine",
        cfg.model_dump(mode="json"),
        seed=cfg.seed,
        input=str(src),
        models={
            "teacher": {"spec": cfg.teacher, **(tb.describe() if tb is not None else {})},
            "judge": (jb.describe() if jb is not None else {"spec": cfg.judge}),
        },
        counts={
            "responses": len(recs),
            "failing_selected": len(chosen),
            "refined": n_sft - kept,
            "passing_kept": kept,
            "sft_records": n_sft,
            "pairs": n_pairs,
            "pairs_new": new_pairs,
            "failed": len(failures),
            "failure_reasons": failures.reasons(),
        },
        cache={
            "teacher": cache_stats(tb) if tb is not None else None,
            "judge": cache_stats(jb) if jb is not None and not same else None,
        },
        outputs=["pairs_refine.jsonl", "sft_refine.jsonl"],
        failures=failures_file,
    )
