"""Preference and SFT data from sampled responses with verdicts: DPO pairs, IOPO groups, SFT records.

- dpo: per instruction, chosen = a response that follows every constraint, rejected = the failing
  response with the fewest failures (the most informative negative); or, with `--pairing margin`
  (on-policy pairs as AutoIF makes them), chosen = the sample that meets the most constraints and
  rejected = the one that meets the fewest, when they differ by at least `--min-margin`: a small
  model rarely meets every constraint of an instruction, but its samples often differ in how many
  they meet. TRL's conversational prompt/chosen/rejected format with the verdicts in `meta`.
- iopo: x1 -> x2 with the constraint library's operators, y2 sampled for x2, and a group kept only
  when the verdicts confirm y1 follows x1, y2 follows x2, y1 fails x2 and y2 fails x1. x1 and x2
  are full message lists (any system turn included), the user turn last.
- sft: per instruction, the first response that follows every constraint, as {"messages": [...]}.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from followkit.constraints.perturb import Perturbation, perturb_add, perturb_delete_add, perturb_modify
from followkit.core.errors import InputError
from followkit.core.reasoning import DEFAULT_MARKERS_TEXT, parse_markers
from followkit.core.records import (
    Constraint,
    IOPOGroup,
    PreferencePair,
    Reads,
    ResponseWithVerdicts,
    SFTRecord,
    Writes,
    render_prompt,
)
from followkit.core.settings import ROLE_SPEC, Cache, Reasoning, ReasoningMarkers, RefreshCache, cli
from followkit.synth.common import (
    Failures,
    LazyBackend,
    VerdictJob,
    answers_only,
    cache_stats,
    chunks,
    completion_answers,
    follow_all,
    is_rule,
    n_failed,
    read_responses,
    record_constraints,
    render_template,
    user_chat,
    verdicts_for,
)

DEFAULT_OPERATORS = ("modify", "delete_add", "rewrite")
"""x1 -> x2 edits used by default. A pure "add" is left out: x2 then contains all of x1's constraints,
so any y2 that follows x2 also follows x1 and the group can never pass the "y2 fails x1" check;
likewise a pure deletion never makes y1 fail x2. "delete_add" is the deletion that can."""


class PairsConfig(BaseModel):
    """Settings of `followkit synth pairs`."""

    model_config = ConfigDict(extra="forbid")
    records_by: ClassVar[str] = "format"
    reads: ClassVar[Reads] = Reads((ResponseWithVerdicts,), "--responses")
    writes: ClassVar[dict[str, Writes]] = {
        "dpo": {"pairs_dpo.jsonl": PreferencePair},
        "sft": {"sft.jsonl": SFTRecord},
        "iopo": {"groups_iopo.jsonl": IOPOGroup},
    }
    format: Literal["dpo", "iopo", "sft"] = Field(
        "dpo", description="What to write", json_schema_extra=cli("--format", "-f")
    )
    responses: str | None = Field(None, description="Responses with verdicts (default: OUT/responses.jsonl)")
    mode: Literal["strict", "loose"] = Field("strict", description="Which verdicts decide pass / fail")
    seed: int = Field(0, description="Seed")
    pairing: Literal["all", "margin"] = Field(
        "all",
        description="dpo: 'all': chosen follows every constraint, rejected is the closest miss; 'margin': "
        "chosen meets the most constraints, rejected the fewest (on-policy pairs from several samples)",
    )
    min_margin: int = Field(
        1, ge=1, description="dpo --pairing margin: fewest constraints chosen must meet beyond rejected"
    )
    # iopo only
    operators: list[Literal["modify", "add", "delete_add", "rewrite"]] = Field(
        default_factory=lambda: list(DEFAULT_OPERATORS),
        description="iopo: x1 -> x2 edits tried (in a random order per instruction; repeatable)",
        json_schema_extra=cli("--operator"),
    )
    student: str = Field(
        "embedded",
        description="iopo: samples y2 for x2: " + ROLE_SPEC,
        json_schema_extra=cli("--student", "--model"),
    )
    teacher: str = Field("embedded", description="iopo: rewrites judged constraints: " + ROLE_SPEC)
    judge: str = Field("embedded", description="Judge for judged constraints: " + ROLE_SPEC)
    base_url: str | None = Field(None, description="Server URL for openai:NAME roles")
    n: int = Field(4, ge=1, description="iopo: y2 samples drawn per x2")
    temperature: float = Field(0.8, ge=0.0, description="iopo: y2 sampling temperature")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="iopo: y2 nucleus mass")
    max_tokens: int = Field(512, ge=1, description="iopo: most tokens per y2")
    batch_size: int = Field(16, ge=1, description="Prompts per model call")
    add_tries: int = Field(12, ge=1, description="iopo: draws tried to find an added constraint y1 fails")
    y2: Literal["sample", "repair"] = Field(
        "sample",
        description="iopo: 'sample' y2 from the student for x2, or 'repair' (the rule teacher fixes "
        "the student's answer for x2: offline, several groups per instruction)",
    )
    groups_per_instruction: int = Field(4, ge=1, description="iopo --y2 repair: most groups per instruction")
    cache: Cache = True
    refresh_cache: RefreshCache = False
    reasoning: Reasoning = "strip"
    reasoning_markers: ReasoningMarkers = DEFAULT_MARKERS_TEXT


def group_responses(recs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Response records per instruction id, in file order, samples sorted by index."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in recs:
        groups.setdefault(r["id"], []).append(r)
    for rs in groups.values():
        rs.sort(key=lambda r: r.get("sample", 0))
    return groups


def select_dpo(samples: list[dict[str, Any]], mode: str = "strict") -> tuple[dict, dict] | None:
    """(chosen, rejected) for one instruction, or None.

    chosen: the first response that follows every constraint. rejected: a response failing at
    least one, with the fewest failures (the closest miss teaches the most); among equally close
    misses the earliest sample wins. Responses with an unknown verdict take no part. A pair whose
    two texts are the same (a tie no verdict can break) is dropped.
    """
    passing = [r for r in samples if follow_all(r["verdicts"], mode) is True]
    failing = [
        (n_failed(r["verdicts"], mode), r) for r in samples if follow_all(r["verdicts"], mode) is False
    ]
    failing = [(k, r) for k, r in failing if k is not None and k > 0]
    if not passing or not failing:
        return None
    chosen = passing[0]
    k_min = min(k for k, _ in failing)
    rejected = next(r for k, r in failing if k == k_min)
    if chosen["response"].strip() == rejected["response"].strip():
        return None
    return chosen, rejected


def select_margin(
    samples: list[dict[str, Any]], mode: str = "strict", min_margin: int = 1
) -> tuple[dict, dict] | None:
    """(chosen, rejected) for one instruction by how many constraints each sample meets, or None.

    chosen: the sample with the fewest failures; rejected: the one with the most; each the earliest
    among ties. They must differ by at least `min_margin` constraints and in their text. Samples
    with an unknown verdict take no part.
    """
    scored = [(k, r) for r in samples if (k := n_failed(r["verdicts"], mode)) is not None]
    if len(scored) < 2:
        return None
    best, worst = min(k for k, _ in scored), max(k for k, _ in scored)
    if worst - best < min_margin:
        return None
    chosen = next(r for k, r in scored if k == best)
    rejected = next(r for k, r in scored if k == worst)
    if chosen["response"].strip() == rejected["response"].strip():
        return None
    return chosen, rejected


def dpo_record(chosen: dict[str, Any], rejected: dict[str, Any], mode: str) -> PreferencePair:
    """A TRL conversational preference record with verdicts in meta."""
    return PreferencePair(
        id=chosen["id"],
        prompt=chosen["messages"],
        chosen=[{"role": "assistant", "content": chosen["response"]}],
        rejected=[{"role": "assistant", "content": rejected["response"]}],
        meta={
            "instruction_id": chosen["id"],
            "chosen_key": chosen["key"],
            "rejected_key": rejected["key"],
            "mode": mode,
            "chosen_failures": n_failed(chosen["verdicts"], mode),
            "rejected_failures": n_failed(rejected["verdicts"], mode),
            "chosen_verdicts": chosen["verdicts"],
            "rejected_verdicts": rejected["verdicts"],
            "model": chosen.get("model"),
        },
    )


def sft_record(rec: dict[str, Any]) -> SFTRecord:
    """An SFT record from a response that follows every constraint."""
    return SFTRecord(
        id=rec["id"],
        messages=rec["messages"] + [{"role": "assistant", "content": rec["response"]}],
        meta={"source": rec["key"], "model": rec.get("model"), "verdicts": rec["verdicts"]},
    )


# --------------------------------------------------------------------------- IOPO perturbation


def rewrite_prompt(constraint_text: str) -> str:
    """The teacher prompt that rewrites a judged constraint into one a follower of it must break."""
    return render_template("synth_rewrite", constraint=constraint_text.strip())


class IOPOBuilder:
    """Builds IOPO groups from responses: perturb x1, sample y2 for x2, keep groups the verdicts confirm."""

    def __init__(self, cfg: PairsConfig, student: Any, teacher: Callable[[], Any], judge: Callable[[], Any]):
        self.cfg, self.student, self.teacher, self.judge = cfg, student, teacher, judge

    def perturb(self, rec: dict[str, Any], rng: random.Random) -> Perturbation | None:
        """x2's constraints by the first operator (in a per-instruction random order) that applies."""
        cons = record_constraints(rec)
        y1, prompt = rec["response"], rec["messages"][-1]["content"]
        lang, task = rec.get("language", "en"), rec.get("task") or ""
        ops = list(self.cfg.operators)
        rng.shuffle(ops)
        for op in ops:
            if op == "modify":
                p = perturb_modify(cons, y1, prompt, lang, rng)
            elif op == "add":
                p = perturb_add(cons, y1, prompt, task, lang, rng, self.cfg.add_tries)
            elif op == "delete_add":
                p = perturb_delete_add(cons, y1, prompt, task, lang, rng, self.cfg.add_tries)
            else:
                p = self.perturb_rewrite(cons, y1, prompt, rng)
            if p is not None:
                return p
        return None

    def perturb_rewrite(
        self, cons: list[Constraint], y1: str, prompt: str, rng: random.Random
    ) -> Perturbation | None:
        """An LLM rewrite of one judged constraint; the judge must confirm y1 fails the new one."""
        from followkit.backends.base import SamplingParams

        judged = [i for i, c in enumerate(cons) if not is_rule(c.id) and c.dimension]
        if not judged:
            return None
        i = judged[rng.randrange(len(judged))]
        params = SamplingParams(n=1, temperature=0.0, max_tokens=128, seed=self.cfg.seed)
        comp = self.teacher().complete([user_chat(rewrite_prompt(cons[i].text))], params)[0]
        if not comp.ok or not comp.texts or not comp.texts[0].strip():
            return None
        new = Constraint(
            id=cons[i].id, kwargs={}, text=comp.texts[0].strip().splitlines()[0], dimension=cons[i].dimension
        )
        v = verdicts_for([VerdictJob(prompt, [new], y1)], self.judge)[0][0]
        if v.strict is not False:
            return None
        out = list(cons)
        out[i] = new
        return Perturbation(operator="rewrite", constraints=out, changed=f"{cons[i].text!r} -> {new.text!r}")

    def build(self, recs: list[dict[str, Any]], failures: Failures) -> list[IOPOGroup]:
        """Groups for a batch of y1 records (each follows its x1); failures recorded with reasons."""
        from followkit.backends.base import SamplingParams

        cfg = self.cfg
        plans = []
        for rec in recs:
            if not rec.get("task"):
                raise InputError(
                    f"response {rec['key']} lacks 'task' (made by an older `synth respond`?)", field="task"
                )
            rng = random.Random(f"iopo:{cfg.seed}:{rec['id']}")
            p = self.perturb(rec, rng)
            if p is None:
                failures.add(rec["key"], "no operator makes y1 fail x2")
                continue
            x2 = render_prompt(
                rec["task"], [c.text for c in p.constraints], rec.get("input"), rec.get("language", "en")
            )
            plans.append((rec, p, x2))
        if not plans:
            return []
        # x2 is asked exactly as x1 was: the same earlier turns (a system prompt), x2 as the user turn.
        chats = [[*rec["messages"][:-1], {"role": "user", "content": x2}] for rec, _, x2 in plans]
        params = SamplingParams(
            n=cfg.n, temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_tokens, seed=cfg.seed
        )
        markers = parse_markers(cfg.reasoning_markers)  # y2 is the student's answer, trace split off
        comps = [completion_answers(c, cfg.reasoning, markers) for c in self.student.complete(chats, params)]
        jobs: list[VerdictJob] = []
        index: list[tuple[int, int, str]] = []  # (plan, sample, check): check in y2x2, y2x1, y1x2, y1x1
        for pi, ((rec, p, x2), comp) in enumerate(zip(plans, comps, strict=True)):
            if not comp.ok:
                failures.add(rec["key"], f"y2: backend error: {comp.error}")
                continue
            x1 = rec["messages"][-1]["content"]
            c1 = record_constraints(rec)
            jobs += [VerdictJob(x1, c1, rec["response"]), VerdictJob(x2, p.constraints, rec["response"])]
            index += [(pi, -1, "y1x1"), (pi, -1, "y1x2")]
            for s, y2 in enumerate(comp.texts or []):
                if not y2.strip():
                    continue
                jobs += [VerdictJob(x2, p.constraints, y2), VerdictJob(x1, c1, y2)]
                index += [(pi, s, "y2x2"), (pi, s, "y2x1")]
        verdicts = verdicts_for(jobs, self.judge)
        table: dict[tuple[int, int, str], list] = {k: v for k, v in zip(index, verdicts, strict=True)}
        groups = []
        for pi, ((rec, p, _x2), comp) in enumerate(zip(plans, comps, strict=True)):
            if not comp.ok:
                continue
            y1x1, y1x2 = table[(pi, -1, "y1x1")], table[(pi, -1, "y1x2")]
            if follow_all(y1x1, cfg.mode) is not True or follow_all(y1x2, cfg.mode) is not False:
                failures.add(rec["key"], "y1 verdicts do not hold (y1 must follow x1 and fail x2)")
                continue
            pick = None
            for s, y2 in enumerate(comp.texts or []):
                if (pi, s, "y2x2") not in table:
                    continue
                if (
                    follow_all(table[(pi, s, "y2x2")], cfg.mode) is True
                    and follow_all(table[(pi, s, "y2x1")], cfg.mode) is False
                ):
                    pick = s, y2
                    break
            if pick is None:
                failures.add(
                    rec["key"], f"no y2 sample follows x2 and fails x1 ({len(comp.texts or [])} tried)"
                )
                continue
            s, y2 = pick
            groups.append(
                IOPOGroup(
                    id=rec["id"],
                    # Full message lists, as DPO pairs keep them: y1 and y2 were sampled after
                    # the same earlier turns (a system prompt), so training must see them too.
                    x1=rec["messages"],
                    y1=rec["response"],
                    x2=chats[pi],
                    y2=y2,
                    meta={
                        "operator": p.operator,
                        "changed": p.changed,
                        "y1_key": rec["key"],
                        "y2_sample": s,
                        "language": rec.get("language", "en"),
                        "x1_constraints": rec["constraints"],
                        "x2_constraints": [
                            c.model_dump(mode="json", exclude_none=True) for c in p.constraints
                        ],
                        "verdicts": {
                            "y1_x1": [v.to_dict() for v in y1x1],
                            "y1_x2": [v.to_dict() for v in y1x2],
                            "y2_x2": [v.to_dict() for v in table[(pi, s, "y2x2")]],
                            "y2_x1": [v.to_dict() for v in table[(pi, s, "y2x1")]],
                        },
                        "student": getattr(self.student, "model_id", None),
                    },
                )
            )
        return groups


# --------------------------------------------------------------------------- the stage


def run_pairs(
    cfg: PairsConfig,
    out_dir: str | Path,
    student: Any = None,
    teacher: Any = None,
    judge: Any = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Write OUT/pairs_dpo.jsonl, OUT/groups_iopo.jsonl or OUT/sft.jsonl, and manifest.json."""
    from followkit.core.io import AppendLog
    from followkit.core.progress import stage_progress
    from followkit.core.records import write
    from followkit.synth.common import write_stage_manifest

    out = Path(out_dir)
    src = Path(cfg.responses) if cfg.responses else out / "responses.jsonl"
    recs = answers_only(
        read_responses(src),
        cfg.reasoning,
        parse_markers(cfg.reasoning_markers),
    )
    groups = group_responses(recs)
    config = cfg.model_dump(mode="json")
    if cfg.format in ("dpo", "sft"):
        # A pure function of the responses: written at once, atomically (a kill leaves the old file).
        if cfg.format == "dpo":

            def select(s: list[dict[str, Any]]) -> tuple[dict, dict] | None:
                if cfg.pairing == "margin":
                    return select_margin(s, cfg.mode, cfg.min_margin)
                return select_dpo(s, cfg.mode)

            rows = [dpo_record(*sel, cfg.mode) for sel in map(select, groups.values()) if sel]
            name = "pairs_dpo.jsonl"
        else:
            rows = [
                sft_record(next(r for r in s if follow_all(r["verdicts"], cfg.mode) is True))
                for s in groups.values()
                if any(follow_all(r["verdicts"], cfg.mode) is True for r in s)
            ]
            name = "sft.jsonl"
        write(out / name, rows)
        return write_stage_manifest(
            out,
            f"synth.pairs.{cfg.format}",
            config,
            seed=cfg.seed,
            input=str(src),
            counts={"responses": len(recs), "instructions": len(groups), "records": len(rows), "failed": 0},
            output=name,
        )

    if cfg.y2 == "repair":
        return _run_repair_groups(cfg, out, src, recs, groups, progress)

    # IOPO: y1 = the first response that follows x1, per instruction.
    y1s = []
    for samples in groups.values():
        ok = [r for r in samples if follow_all(r["verdicts"], cfg.mode) is True]
        if ok:
            y1s.append(ok[0])
    failures = Failures("iopo")
    student_role = LazyBackend(cfg.student, cfg.base_url, cfg.cache, cfg.refresh_cache, student)
    teacher_role = (
        student_role
        if cfg.teacher == cfg.student and teacher is None
        else LazyBackend(cfg.teacher, cfg.base_url, cfg.cache, cfg.refresh_cache, teacher)
    )
    judge_role = (
        student_role
        if cfg.judge == cfg.student and judge is None
        else LazyBackend(cfg.judge, cfg.base_url, cfg.cache, cfg.refresh_cache, judge)
    )
    ops: dict[str, int] = {}
    with AppendLog(out / "groups_iopo.jsonl") as log, stage_progress("iopo", len(y1s), progress) as bar:
        todo = [r for r in y1s if r["id"] not in log]
        bar.advance(len(y1s) - len(todo), cached=len(y1s) - len(todo))
        for batch in chunks(todo, cfg.batch_size):
            builder = IOPOBuilder(cfg, student_role(), teacher_role, judge_role)
            before = len(failures)
            for g in builder.build(batch, failures):
                ops[g.meta["operator"]] = ops.get(g.meta["operator"], 0) + 1
                log.append(g)
            bar.advance(len(batch), failed=len(failures) - before)
        n_groups = len(log.done)
    failures_file = failures.write(out)
    sb = student_role.backend
    return write_stage_manifest(
        out,
        "synth.pairs.iopo",
        config,
        seed=cfg.seed,
        input=str(src),
        models={"student": sb.describe() if sb is not None else {"spec": cfg.student}},
        counts={
            "responses": len(recs),
            "instructions": len(groups),
            "with_y1": len(y1s),
            "groups": n_groups,
            "operators_this_run": ops,
            "failed": len(failures),
            "failure_reasons": failures.reasons(),
        },
        cache={"student": cache_stats(sb) if sb is not None else None},
        output="groups_iopo.jsonl",
        failures=failures_file,
    )


def _run_repair_groups(
    cfg: PairsConfig,
    out: Path,
    src: Path,
    recs: list[dict[str, Any]],
    groups: dict[str, list[dict[str, Any]]],
    progress: bool | None,
) -> dict[str, Any]:
    """IOPO groups by the rule teacher: a pure function of the responses, written atomically."""
    from followkit.core.progress import stage_progress
    from followkit.core.records import write
    from followkit.synth.common import write_stage_manifest
    from followkit.synth.repair_groups import build_repair_groups

    failures = Failures("iopo")
    with stage_progress("iopo (repair)", len(groups), progress) as bar:
        rows, stats = build_repair_groups(
            groups, cfg.seed, cfg.groups_per_instruction, 4 * cfg.groups_per_instruction, failures, bar
        )
    if not rows and (out / "groups_iopo.jsonl").exists():
        raise InputError("no IOPO group could be built; the earlier groups_iopo.jsonl is kept", path=str(src))
    write(out / "groups_iopo.jsonl", rows)
    failures_file = failures.write(out)
    return write_stage_manifest(
        out,
        "synth.pairs.iopo",
        cfg.model_dump(mode="json"),
        seed=cfg.seed,
        input=str(src),
        models={"teacher": {"spec": "rules"}},
        counts={
            "responses": len(recs),
            **stats.to_dict(),
            "failed": len(failures),
            "failure_reasons": failures.reasons(),
        },
        output="groups_iopo.jsonl",
        failures=failures_file,
    )
