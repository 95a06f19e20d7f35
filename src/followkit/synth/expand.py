"""TRACE stages 2-4 through any backend: expand a simple instruction, structure it, quality-control it.

Input: seed tasks. Output: Instruction records whose constraints are judged ones
(`{"id": "judge:<dimension>", "dimension": <TRACE dimension key>, "text": ...}`), with the prompt
rendered as TRACE structures it. The model's JSON is validated against a pydantic schema; an
invalid answer is retried once with the error shown, then recorded as a failure with its reason.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from followkit.constraints import taxonomy
from followkit.core.records import Constraint, Instruction, Writes, render_prompt
from followkit.core.settings import ROLE_SPEC, Cache, RefreshCache, cli
from followkit.synth.common import (
    Failures,
    ask_json,
    cache_stats,
    chunks,
    extract_json,
    load_role,
    render_template,
    user_chat,
)
from followkit.synth.kdist import KDist, KSpec
from followkit.synth.seeds import SeedLanguages, SeedTask, load_seeds

JUDGED_PREFIX = "judge:"  # id of a judged constraint: judge:<dimension key>


class StructuredConstraint(BaseModel):
    """One constraint of a structured instruction, labelled with its TRACE dimension."""

    model_config = ConfigDict(extra="forbid")
    dimension: str
    text: str = Field(min_length=1)

    @field_validator("dimension")
    @classmethod
    def _known_dimension(cls, v: str) -> str:
        try:
            return taxonomy.dimension(v.strip()).key
        except KeyError:
            raise ValueError(f"unknown TRACE dimension {v!r}") from None

    @field_validator("text")
    @classmethod
    def _non_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("empty constraint text")
        return v.strip()


class Structured(BaseModel):
    """TRACE stage 3: the instruction split into task, labelled constraints and input."""

    model_config = ConfigDict(extra="forbid")
    task: str = Field(min_length=1)
    constraints: list[StructuredConstraint] = Field(min_length=1, max_length=15)
    input: str | None = None

    @field_validator("input")
    @classmethod
    def _null_input(cls, v: str | None) -> str | None:
        return None if v is None or not v.strip() or v.strip() in ("NULL", "null", "None") else v


class Removed(BaseModel):
    """A constraint quality control removed, and why."""

    model_config = ConfigDict(extra="forbid")
    index: int
    reason: Literal["redundant", "conflicting", "incomplete"]


class QCResult(BaseModel):
    """TRACE stage 4: which constraints to keep (1-based) and which to remove."""

    model_config = ConfigDict(extra="forbid")
    keep: list[int] = Field(min_length=1)
    removed: list[Removed] = Field(default_factory=list)
    n: int = 0  # the number of constraints checked (set by the parser, not the model)

    @model_validator(mode="after")
    def _partition(self) -> QCResult:
        seen = list(self.keep) + [r.index for r in self.removed]
        if self.n and sorted(seen) != list(range(1, self.n + 1)):
            raise ValueError(f"'keep' and 'removed' must list each constraint 1..{self.n} exactly once")
        return self


def parse_structured(text: str) -> Structured:
    """Validate a stage-3 answer."""
    return Structured.model_validate(extract_json(text))


def parse_qc(n: int):
    """A validator of stage-4 answers about n constraints."""

    def parse(text: str) -> QCResult:
        obj = extract_json(text)
        if isinstance(obj, dict):
            obj = {**obj, "n": n}
        return QCResult.model_validate(obj)

    return parse


class ExpandConfig(BaseModel):
    """Settings of `followkit synth expand`."""

    model_config = ConfigDict(extra="forbid")
    writes: ClassVar[Writes] = {"instructions.jsonl": Instruction}
    n: int = Field(50, ge=1, description="Number of instructions to expand")
    seed: int = Field(0, description="Random seed (seed task, k and dimensions of item i)")
    seeds: str | None = Field(
        None, description="Seed-task file, or builtin / builtin-wide / heldout (default: builtin)"
    )
    languages: SeedLanguages
    k: KSpec = Field(
        "trace", description="Constraints asked for per instruction (distribution, as synth compose --k)"
    )
    model: str = Field(
        "embedded", description="The model that expands: " + ROLE_SPEC, json_schema_extra=cli("--model", "-m")
    )
    base_url: str | None = Field(None, description="Server URL for openai:NAME")
    max_tokens: int = Field(512, ge=16, description="Most tokens per model reply")
    batch_size: int = Field(16, ge=1, description="Prompts per model call")
    id_prefix: str | None = Field(None, description="Instruction id prefix")
    template_expand: str = Field("synth_expand", description="Prompt template of the expand step")
    template_structure: str = Field("synth_structure", description="Prompt template of the structure step")
    template_qc: str = Field("synth_qc", description="Prompt template of the quality check")
    cache: Cache = True
    refresh_cache: RefreshCache = False


def expansion_plan(seeds: list[SeedTask], i: int, seed: int, kdist: KDist) -> tuple[SeedTask, list[str]]:
    """Item i's seed task and the TRACE dimensions its expansion asks for."""
    rng = random.Random(f"expand:{seed}:{i}")
    s = seeds[rng.randrange(len(seeds))]
    k = min(kdist.sample(rng), len(taxonomy.DIMENSIONS))
    return s, rng.sample(sorted(taxonomy.DIMENSIONS), k)


def expand_prompt(s: SeedTask, dims: list[str], template: str = "synth_expand") -> str:
    """The stage-2 prompt for a seed task and the dimensions to add."""
    block = f"\nIt works on this input:\n<input>\n{s.input}\n</input>\n" if s.input else ""
    lines = "\n".join(f"- {taxonomy.DIMENSIONS[d].name} ({d})" for d in dims)
    return render_template(template, instruction=s.task, input_block=block, k=len(dims), dimensions=lines)


def structure_prompt(expanded: str, template: str = "synth_structure") -> str:
    """The stage-3 prompt."""
    return render_template(template, expanded=expanded.strip(), dimension_keys=", ".join(taxonomy.DIMENSIONS))


def qc_prompt(st: Structured, template: str = "synth_qc") -> str:
    """The stage-4 prompt."""
    lines = "\n".join(f"{i}. [{c.dimension}] {c.text}" for i, c in enumerate(st.constraints, start=1))
    return render_template(
        template, task=st.task, constraints=lines, input=st.input or "none", n=len(st.constraints)
    )


def expand_batch(
    backend: Any, items: list[tuple[str, SeedTask, list[str]]], cfg: ExpandConfig
) -> list[tuple[Instruction | None, str | None]]:
    """Run stages 2-4 on (id, seed task, dimensions) items: an Instruction or a failure reason each."""
    from followkit.backends.base import SamplingParams

    params = SamplingParams(n=1, temperature=0.0, max_tokens=cfg.max_tokens, seed=cfg.seed)
    results: list[tuple[Instruction | None, str | None]] = [(None, None)] * len(items)

    # Stage 2: free-text expansion.
    chats = [user_chat(expand_prompt(s, dims, cfg.template_expand)) for _, s, dims in items]
    expanded: dict[int, str] = {}
    for i, comp in enumerate(backend.complete(chats, params)):
        if not comp.ok:
            results[i] = (None, f"expand: backend error: {comp.error}")
        elif not comp.texts or not comp.texts[0].strip():
            results[i] = (None, "expand: empty output")
        else:
            expanded[i] = comp.texts[0]

    # Stage 3: structure into validated JSON.
    idx = sorted(expanded)
    answers = ask_json(
        backend,
        [user_chat(structure_prompt(expanded[i], cfg.template_structure)) for i in idx],
        parse_structured,
        params,
    )
    structured: dict[int, Structured] = {}
    for i, a in zip(idx, answers, strict=True):
        if a.error:
            results[i] = (None, f"structure: {a.error}")
        else:
            structured[i] = a.value

    # Stage 4: quality control; the kept constraints are a subset of stage 3's, never rewritten.
    idx = sorted(structured)
    qcs = ask_json(
        backend,
        [user_chat(qc_prompt(structured[i], cfg.template_qc)) for i in idx],
        [parse_qc(len(structured[i].constraints)) for i in idx],
        params,
    )
    for i, a in zip(idx, qcs, strict=True):
        if a.error:
            results[i] = (None, f"qc: {a.error}")
            continue
        st: Structured = structured[i]
        item_id, s, dims = items[i]
        kept = [st.constraints[j - 1] for j in sorted(set(a.value.keep))]
        constraints = [
            Constraint(id=f"{JUDGED_PREFIX}{c.dimension}", kwargs={}, text=c.text, dimension=c.dimension)
            for c in kept
        ]
        inst = Instruction(
            id=item_id,
            task=st.task,
            input=st.input,
            constraints=constraints,
            language=s.language,
            prompt=render_prompt(st.task, [c.text for c in constraints], st.input, s.language),
            seed_task=s.id,
            requested_dimensions=dims,
            expansion=expanded[i],
            qc_removed=[
                {"text": st.constraints[r.index - 1].text, "reason": r.reason} for r in a.value.removed
            ],
        )
        results[i] = (inst, None)
    return results


def run_expand(
    cfg: ExpandConfig, out_dir: str | Path, backend: Any = None, progress: bool | None = None
) -> dict[str, Any]:
    """Write OUT/instructions.jsonl (expanded, appending, resumable), failures and manifest.json."""
    from followkit.core.io import AppendLog
    from followkit.core.progress import stage_progress
    from followkit.synth.common import write_stage_manifest

    out = Path(out_dir)
    seeds = load_seeds(cfg.seeds, tuple(cfg.languages))
    kdist = KDist.parse(cfg.k)
    prefix = cfg.id_prefix if cfg.id_prefix is not None else f"fkx{cfg.seed}"
    width = max(6, len(str(cfg.n - 1)))
    plan = []
    for i in range(cfg.n):
        s, dims = expansion_plan(seeds, i, cfg.seed, kdist)
        plan.append((f"{prefix}-{i:0{width}d}", s, dims))
    failures = Failures("expand")
    removed: dict[str, int] = {}
    with AppendLog(out / "instructions.jsonl") as log, stage_progress("expand", cfg.n, progress) as bar:
        todo = [p for p in plan if p[0] not in log]
        bar.advance(cfg.n - len(todo), cached=cfg.n - len(todo))
        if todo and backend is None:
            backend = load_role(cfg.model, cfg.base_url, cfg.cache, cfg.refresh_cache)
        for batch in chunks(todo, cfg.batch_size):
            for (item_id, _, _), (inst, why) in zip(batch, expand_batch(backend, batch, cfg), strict=True):
                if inst is None:
                    failures.add(item_id, why or "unknown")
                    bar.advance(1, failed=1)
                    continue
                rec = inst.model_dump(mode="json")
                for r in rec.get("qc_removed", []):
                    removed[r["reason"]] = removed.get(r["reason"], 0) + 1
                log.append(rec)
                bar.advance(1)
        n_ok = len(log.done)
    failures_file = failures.write(out)
    return write_stage_manifest(
        out,
        "synth.expand",
        cfg.model_dump(mode="json"),
        seed=cfg.seed,
        models={"expander": backend.describe() if backend is not None else {"spec": cfg.model}},
        counts={
            "requested": cfg.n,
            "instructions": n_ok,
            "failed": len(failures),
            "failure_reasons": failures.reasons(),
        },
        qc_removed_this_run=removed,
        cache=cache_stats(backend) if backend is not None else None,
        output="instructions.jsonl",
        failures=failures_file,
    )
