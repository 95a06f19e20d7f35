"""Rewards from the constraint checkers and a judge.

- ``core``: the rule-or-judge scoring both kinds below sit on: the share of an answer's constraints
  followed, and a judge's overall score / 10.
- ``rlvr``: reward functions for RLVR, TRL's ``reward_funcs`` and verl's ``compute_score``
  (re-exported here on first use, so that ``from followkit.rewards import constraint_reward`` works
  and importing followkit.rewards.car does not load them).
- ``car``: CAR's rewards of teacher responses (verifier, judge, reward model).
- ``hacks``: the reward-hack matrix (docs/reward_hacks.md).

Nothing heavy is imported here: no torch, no transformers, no backend SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from followkit.rewards.rlvr import (
        ConstraintReward,
        ConstraintSlotReward,
        HybridReward,
        LengthPenalty,
        compute_score,
        constraint_reward,
        constraint_slot_rewards,
        make_constraint_reward,
    )

__all__ = [
    "ConstraintReward",
    "ConstraintSlotReward",
    "HybridReward",
    "LengthPenalty",
    "compute_score",
    "constraint_reward",
    "constraint_slot_rewards",
    "make_constraint_reward",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from followkit.rewards import rlvr

        return getattr(rlvr, name)
    raise AttributeError(f"module 'followkit.rewards' has no attribute {name!r}")
