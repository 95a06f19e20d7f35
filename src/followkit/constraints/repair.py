"""The rule teacher: fix a response's failed constraints one at a time with each id's own repair.

A fix is kept only if, after it, the constraint it targets passes and every constraint that
passed before still passes (DESIGN section 7). Fixes run in the ids' `repair_stage` order
(additions, layout, case, ending, wrappers), and a fix that was rejected is tried again after
the others, since a later fix can make room for it; at most `passes` rounds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from followkit.constraints.verify import Check, verdicts

REPAIR_PASSES = 3


@dataclass(frozen=True)
class RepairStep:
    """One accepted fix: which constraint (by position and id) and the text before it."""

    index: int
    id: str
    before: str


@dataclass
class RepairResult:
    """The outcome of repairing one response against its constraints."""

    text: str
    verdicts: list[bool]
    steps: list[RepairStep] = field(default_factory=list)
    no_repair: list[str] = field(default_factory=list)  # ids with no rule fix for these kwargs
    rejected: list[str] = field(default_factory=list)  # ids whose fix broke another constraint

    @property
    def passed(self) -> bool:
        """True if the final text follows every constraint."""
        return all(self.verdicts)


def _case_matched(fixed: str, before: str) -> list[str]:
    """The fix, then the fix in the case the text already had (an added end phrase in a lowercase text)."""
    out = [fixed]
    if before.islower() and not fixed.islower():
        out.append(fixed.lower())
    elif before.isupper() and not fixed.isupper():
        out.append(fixed.upper())
    return out


def repair_response(
    checks: list[Check], response: str, rng: random.Random, passes: int = REPAIR_PASSES
) -> RepairResult:
    """Fix failed constraints one at a time; keep a fix only if it breaks no passing constraint."""
    current = response
    state = verdicts(checks, current, "strict")
    result = RepairResult(current, state)
    tried_without_change: set[int] = set()
    for _ in range(passes):
        progress = False
        order = sorted(
            (i for i, ok in enumerate(state) if not ok), key=lambda i: (checks[i][0].repair_stage, i)
        )
        for i in order:
            if state[i] or i in tried_without_change:
                continue
            ct, kw = checks[i]
            fixed = ct.repair(current, kw, rng)
            if fixed is None:
                tried_without_change.add(i)
                continue
            for cand in _case_matched(fixed, current):
                after = verdicts(checks, cand, "strict")
                if after[i] and not any(was and not now for was, now in zip(state, after, strict=True)):
                    result.steps.append(RepairStep(i, ct.id, current))
                    current, state, progress = cand, after, True
                    break
            # otherwise it broke a constraint that held: tried again after the other fixes
        if all(state) or not progress:
            break
    result.text, result.verdicts = current, state
    result.no_repair = sorted({checks[i][0].id for i in tried_without_change if not state[i]})
    result.rejected = sorted(
        {checks[i][0].id for i, ok in enumerate(state) if not ok and i not in tried_without_change}
    )
    return result


STAGE_NAMES = {
    0: "additions",
    1: "layout",
    2: "case, punctuation",
    3: "head, postscript",
    4: "ending",
    5: "wrapper",
}


def render_repairs_markdown() -> str:
    """docs/repairs.md: every constraint id, whether the rule teacher repairs it, and how."""
    from followkit.constraints import registry

    reg = registry.registry()
    yes = [ct for _, ct in sorted(reg.items()) if ct.repairable]
    lines = [
        "# The rule teacher's repairs",
        "",
        "Generated from each constraint id's `repair` by `followkit constraints repairs`; do not edit by hand.",
        "",
        f"{len(yes)} of {len(reg)} ids have a minimal rule repair. `synth refine --teacher rules` applies them"
        " one failed constraint at a time, in the stage order below, re-checks every constraint after each"
        " fix and rejects a fix that breaks a constraint that held. A repair returns only text that passes"
        " the id's strict check. Ids without one need new content, another language or a judgement:"
        " `--teacher rules+MODEL` leaves those to a model.",
        "",
        "| id | repair | stage | how |",
        "|---|---|---|---|",
    ]
    for cid, ct in sorted(reg.items()):
        if ct.repairable:
            stage = f"{ct.repair_stage} {STAGE_NAMES.get(ct.repair_stage, '')}".strip()
            lines.append(f"| `{cid}` | yes | {stage} | {ct.repair_how.replace('|', '/')} |")
        else:
            lines.append(f"| `{cid}` | no | | |")
    return "\n".join(lines) + "\n"
