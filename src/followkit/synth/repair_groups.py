"""IOPO groups from rule repairs: offline, exact, and many per instruction (DESIGN sections 6-7).

For an instruction x1 and a student response y0 to it:
- y1 = y0 repaired until it follows every constraint of x1 (y0 itself if it already does);
- x2 = x1 with one constraint changed (`modify`) or swapped for another (`delete_add`), chosen so
  that y1 fails x2;
- y2 = y0 repaired against x2 (or y1 repaired against x2 when that fails): the same answer,
  fixed for the other instruction.
A group is kept only when all four verdicts hold: y1 follows x1 and fails x2, y2 follows x2 and
fails x1. Only instructions whose constraints are all rule-checked take part (a judge cannot be
repaired against). Several distinct x2 per instruction give several groups; the yield per
instruction goes into the manifest.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from followkit.constraints.edits import trim_unfinished
from followkit.constraints.perturb import Perturbation, perturb_delete_add, perturb_modify
from followkit.constraints.repair import repair_response
from followkit.constraints.verify import parse_checks, verdicts
from followkit.core.records import Constraint, IOPOGroup, render_prompt
from followkit.synth.common import Failures, follow_all, is_rule, record_constraints

REPAIR_OPERATORS = ("modify", "delete_add")
NO_RULE = "a judged constraint (no rule repair)"
NO_Y1 = "no sample could be repaired to follow x1"


@dataclass
class RepairGroupStats:
    """Counts for the manifest: instructions tried, groups made, and groups per instruction."""

    instructions: int = 0
    with_y1: int = 0
    groups: int = 0
    per_instruction: Counter | None = None
    operators: Counter | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        per = self.per_instruction or Counter()
        return {
            "instructions": self.instructions,
            "with_y1": self.with_y1,
            "groups": self.groups,
            "groups_per_instruction": round(self.groups / self.instructions, 3) if self.instructions else 0.0,
            "instructions_by_group_count": {str(k): per[k] for k in sorted(per)},
            "operators": dict(sorted((self.operators or Counter()).items())),
        }


def _checks(cons: list[Constraint]) -> list:
    return parse_checks([(c.id, c.kwargs) for c in cons])


def _repaired(cons: list[Constraint], text: str, rng: random.Random) -> str | None:
    res = repair_response(_checks(cons), text, rng)
    return res.text if res.passed else None


def _follows(cons: list[Constraint], text: str) -> bool:
    return all(verdicts(_checks(cons), text, "strict"))


def _y1(samples: list[dict[str, Any]], cons: list[Constraint], rng: random.Random) -> tuple[str, str] | None:
    """(y1, its source y0): the first passing sample, else the first sample whose repair passes.

    y0 is the sample with a sentence its token limit broke cut off, as the rule teacher does in refine.
    """
    for r in samples:
        if follow_all(r["verdicts"], "strict") is True:
            return r["response"], r["response"]
    for r in samples:
        y0 = trim_unfinished(r["response"]) or r["response"]
        fixed = _repaired(cons, y0, rng)
        if fixed is not None:
            return fixed, y0
    return None


def _perturb(
    op: str, cons: list[Constraint], y1: str, prompt: str, task: str, lang: str, rng: random.Random
) -> Perturbation | None:
    if op == "modify":
        return perturb_modify(cons, y1, prompt, lang, rng)
    return perturb_delete_add(cons, y1, prompt, task, lang, rng, tries=12)


def groups_for_instruction(
    samples: list[dict[str, Any]], seed: int, per_instruction: int, tries: int
) -> tuple[list[IOPOGroup], str | None]:
    """Up to `per_instruction` IOPO groups for one instruction's samples, or why there are none."""
    rec = samples[0]
    cons = record_constraints(rec)
    if not cons or not all(is_rule(c.id) for c in cons):
        return [], NO_RULE
    rng = random.Random(f"iopo-repair:{seed}:{rec['id']}")
    got = _y1(samples, cons, rng)
    if got is None:
        return [], NO_Y1
    y1, y0 = got
    x1_msgs = rec["messages"]
    prompt, task, lang = x1_msgs[-1]["content"], rec.get("task") or "", rec.get("language", "en")
    groups: list[IOPOGroup] = []
    seen: set[str] = set()
    for attempt in range(tries):
        if len(groups) >= per_instruction:
            break
        op = REPAIR_OPERATORS[attempt % len(REPAIR_OPERATORS)]
        p = _perturb(op, cons, y1, prompt, task, lang, rng)
        if p is None:
            continue
        x2 = render_prompt(task, [c.text for c in p.constraints], rec.get("input"), lang)
        if x2 in seen or x2 == prompt:
            continue
        seen.add(x2)
        y2 = _repaired(p.constraints, y0, rng) or _repaired(p.constraints, y1, rng)
        if y2 is None:
            continue
        # The four verdict properties of an IOPO group.
        if not (_follows(cons, y1) and not _follows(p.constraints, y1)):
            continue
        if not (_follows(p.constraints, y2) and not _follows(cons, y2)):
            continue
        groups.append(
            IOPOGroup(
                id=f"{rec['id']}#g{len(groups)}",
                x1=x1_msgs,
                y1=y1,
                x2=[*x1_msgs[:-1], {"role": "user", "content": x2}],
                y2=y2,
                meta={
                    "instruction_id": rec["id"],
                    "operator": p.operator,
                    "changed": p.changed,
                    "y0_key": rec["key"],
                    "y1_repaired": y1 != y0,
                    "teacher": "rules",
                    "language": lang,
                    "x1_constraints": rec["constraints"],
                    "x2_constraints": [c.model_dump(mode="json", exclude_none=True) for c in p.constraints],
                },
            )
        )
    return groups, None if groups else "no x2 whose repaired y2 keeps all four verdicts"


def build_repair_groups(
    by_instruction: dict[str, list[dict[str, Any]]],
    seed: int,
    per_instruction: int,
    tries: int,
    failures: Failures,
    progress: Any = None,
) -> tuple[list[IOPOGroup], RepairGroupStats]:
    """IOPO groups for every instruction (in file order), with the counts for the manifest."""
    out: list[IOPOGroup] = []
    stats = RepairGroupStats(per_instruction=Counter(), operators=Counter())
    for samples in by_instruction.values():
        stats.instructions += 1
        groups, why = groups_for_instruction(samples, seed, per_instruction, tries)
        stats.per_instruction[len(groups)] += 1
        if why is not None:
            failures.add(samples[0]["id"], why)
        stats.with_y1 += why not in (NO_RULE, NO_Y1)
        for g in groups:
            stats.operators[g.meta["operator"]] += 1
        out.extend(groups)
        if progress is not None:
            progress.advance(1, failed=0 if groups else 1)
    stats.groups = len(out)
    return out, stats
