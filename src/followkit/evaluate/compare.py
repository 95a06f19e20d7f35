"""Paired comparison of two evaluations of the same prompts (DESIGN 9b): `followkit compare`, the report.

Samples are matched by id; only prompts both evaluations scored take part, and the count says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from followkit.core.errors import InputError
from followkit.core.settings import cli
from followkit.core.stats import Comparison, PromptOutcome, paired_comparison

N_BOOT = 10_000
BOOT_SEED = 0


class CompareConfig(BaseModel):
    """Settings of `followkit compare`; each is also a flag or argument (followkit.core.settings)."""

    model_config = ConfigDict(extra="forbid")

    base: str = Field(
        description="Evaluation folder of the base model (with samples.jsonl)",
        json_schema_extra=cli(argument=True, metavar="BASE"),
    )
    other: str = Field(
        description="Evaluation folder of the model compared with it",
        json_schema_extra=cli(argument=True, metavar="OTHER"),
    )
    out: str | None = Field(None, description="Write the comparison JSON here")
    n_boot: int = Field(N_BOOT, ge=100, description="Bootstrap resamples")
    seed: int = Field(BOOT_SEED, description="Bootstrap seed")


def outcome(sample: dict[str, Any]) -> PromptOutcome | None:
    """A sample's strict outcome (followed, constraints passed, constraints); None if it has no verdicts."""
    verdicts = sample.get("verdicts")
    strict = verdicts.get("strict") if isinstance(verdicts, dict) else sample.get("follow_instruction_list")
    if not isinstance(strict, list) or not strict:
        return None
    passed = sum(1 for v in strict if v)
    return PromptOutcome(passed == len(strict), passed, len(strict))


def outcomes(samples: list[dict[str, Any]]) -> dict[str, PromptOutcome]:
    """Outcomes by sample id (samples without rule verdicts are left out)."""
    out = {}
    for s in samples:
        o = outcome(s)
        if o is not None:
            out[str(s.get("id", s.get("key")))] = o
    return out


def compare_outcomes(
    base: dict[str, PromptOutcome],
    other: dict[str, PromptOutcome],
    n_boot: int = N_BOOT,
    seed: int = BOOT_SEED,
) -> Comparison:
    """The paired comparison on the prompts both sides scored (in base's order)."""
    shared = [k for k in base if k in other and base[k].total == other[k].total]
    if not shared:
        raise InputError("the two evaluations share no scored prompt: nothing to compare")
    return paired_comparison([base[k] for k in shared], [other[k] for k in shared], n_boot=n_boot, seed=seed)


def load_outcomes(eval_dir: str | Path) -> dict[str, PromptOutcome]:
    """Outcomes from an evaluation folder's samples.jsonl."""
    path = Path(eval_dir) / "samples.jsonl"
    if not path.is_file():
        raise InputError(
            "no samples.jsonl: not an evaluation folder (run `followkit eval` first)", path=str(path)
        )
    from followkit.core.records import EvalSample, read

    return outcomes([s.model_dump() for s in read(path, EvalSample, shape="prompt")])


def verdict_line(name: str, c: Comparison, base: str = "the base") -> str:
    """Plain sentences: does `name` beat `base` per instruction and per whole prompt, and how sure is it."""
    d, p = c.inst_diff, c.prompt_diff
    if d.lo > 0:
        head = (
            f"{name} beats {base} on instruction-level accuracy by {100 * d.diff:+.1f} points "
            f"(95% CI {100 * d.lo:+.1f} to {100 * d.hi:+.1f}, {c.n_prompts} prompts)."
        )
    elif d.hi < 0:
        head = (
            f"{name} is worse than {base} on instruction-level accuracy by {100 * -d.diff:.1f} points "
            f"(95% CI {100 * d.lo:+.1f} to {100 * d.hi:+.1f}, {c.n_prompts} prompts)."
        )
    else:
        head = (
            f"{name} does not beat {base}: the instruction-level difference {100 * d.diff:+.1f} points has a "
            f"95% CI of {100 * d.lo:+.1f} to {100 * d.hi:+.1f}, which includes zero ({c.n_prompts} prompts)."
        )
    whole = "more" if p.lo > 0 else ("fewer" if p.hi < 0 else "no clearly different number of")
    return (
        f"{head} Whole prompts: {name} follows {whole} prompts in full ({100 * p.diff:+.1f} points, "
        f"95% CI {100 * p.lo:+.1f} to {100 * p.hi:+.1f}; McNemar {c.mcnemar_b}/{c.mcnemar_c}, p={c.mcnemar_p:.3g})."
    )
