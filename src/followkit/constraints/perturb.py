"""IOPO's x1 -> x2 edits of a constraint list: change a value, or swap a constraint for another, so that
a response y1 that follows x1 fails x2 (the input-preference half of an IOPO group)."""

from __future__ import annotations

import random
from typing import Any

from pydantic import BaseModel

from followkit.constraints.registry import is_rule
from followkit.core.records import Constraint


class Perturbation(BaseModel):
    """x2's constraints, made from x1's by one operator."""

    operator: str
    constraints: list[Constraint]
    changed: str  # a short description of the edit


def _render(cid: str, kwargs: dict[str, Any], lang: str) -> str:
    from followkit.constraints import registry

    ct = registry.get(cid)
    return ct.render(ct.parse_kwargs(kwargs), lang)


def _y1_fails(c: Constraint, y1: str, prompt: str) -> bool:
    from followkit.constraints.verify import check_all

    return check_all([(c.id, c.kwargs)], y1, mode="strict", prompt=prompt)[0] is False


def perturb_modify(
    cons: list[Constraint], y1: str, prompt: str, lang: str, rng: random.Random
) -> Perturbation | None:
    """Change one rule constraint's value with ConstraintType.perturb so that y1 fails it."""
    from followkit.constraints import registry

    order = [i for i, c in enumerate(cons) if is_rule(c.id)]
    rng.shuffle(order)
    for i in order:
        c = cons[i]
        ct = registry.get(c.id)
        new_kw = ct.perturb(ct.parse_kwargs(c.kwargs), rng)
        if new_kw is None:
            continue
        new_kw = {k: v for k, v in new_kw.items() if v is not None}
        new = Constraint(id=c.id, kwargs=new_kw, text=_render(c.id, new_kw, lang))
        if not _y1_fails(new, y1, prompt):
            continue
        out = list(cons)
        out[i] = new
        return Perturbation(operator="modify", constraints=out, changed=f"{c.id}: {c.kwargs} -> {new_kw}")
    return None


def _compatible_addition(
    cons: list[Constraint], y1: str, prompt: str, task: str, lang: str, rng: random.Random, tries: int
) -> Constraint | None:
    from followkit.constraints import registry
    from followkit.constraints.conflicts import compatible_set

    reg = registry.registry()
    have = [c.id for c in cons]
    pool = [i for i in registry.ids() if i not in have and lang in reg[i].languages]
    for _ in range(tries):
        if not pool:
            return None
        cid = pool[rng.randrange(len(pool))]
        if not compatible_set(have + [cid]):
            pool.remove(cid)
            continue
        ct = reg[cid]
        kw = {k: v for k, v in ct.sample_kwargs(rng, task).items() if v is not None}
        new = Constraint(id=cid, kwargs=kw, text=ct.render(ct.parse_kwargs(kw), lang))
        if _y1_fails(new, y1, prompt):
            return new
    return None


def perturb_add(
    cons: list[Constraint], y1: str, prompt: str, task: str, lang: str, rng: random.Random, tries: int
) -> Perturbation | None:
    """Add a compatible rule constraint that y1 does not follow."""
    new = _compatible_addition(cons, y1, prompt, task, lang, rng, tries)
    if new is None:
        return None
    return Perturbation(operator="add", constraints=[*cons, new], changed=f"+{new.id} {new.kwargs}")


def perturb_delete_add(
    cons: list[Constraint], y1: str, prompt: str, task: str, lang: str, rng: random.Random, tries: int
) -> Perturbation | None:
    """Delete one constraint and add a compatible one y1 does not follow.

    A deletion alone can never make y1 fail x2 (y1 follows every subset of x1's constraints), so
    the delete operator always comes with an addition.
    """
    if len(cons) < 2:
        return None
    i = rng.randrange(len(cons))
    rest = cons[:i] + cons[i + 1 :]
    new = _compatible_addition(rest, y1, prompt, task, lang, rng, tries)
    if new is None:
        return None
    return Perturbation(
        operator="delete_add", constraints=[*rest, new], changed=f"-{cons[i].id} +{new.id} {new.kwargs}"
    )
