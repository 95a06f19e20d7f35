"""The rule-or-judge scoring every reward sits on: the RLVR rewards (rlvr) and CAR's (car).

A rule score is the share of a response's rule-checkable constraints it follows (``fraction``), or
1.0 / 0.0 for all or not all (``all``); a judge score is the judge's overall 0-10 score of a
response (TRACE protocol, followkit.judges.trace) divided by 10. Both are in [0, 1].

Nothing heavy is imported here: no torch, no transformers, no backend SDK.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from followkit.constraints.verify import Check, verdicts

if TYPE_CHECKING:
    from followkit.judges.trace import JudgeRequest, JudgeVerdict

Mode = Literal["all", "fraction"]
MODES: tuple[Mode, ...] = ("all", "fraction")

JUDGE_SCALE = 10.0
"""The judge's overall score is 0-10 (TRACE protocol); its reward is overall / 10."""


def rule_verdicts(checks: Sequence[Check], answer: str, loose: bool = False) -> list[bool]:
    """Per-constraint verdicts of one answer, strict (the text as given) or loose (IFEval's variants)."""
    return verdicts(checks, answer, "loose" if loose else "strict")


def rule_score(found: Sequence[bool], mode: Mode = "fraction") -> float:
    """The rule reward of one answer's verdicts (at least one): their share followed, or all of them."""
    if mode == "all":
        return float(all(found))
    return sum(found) / len(found)


def judge_score(verdict: JudgeVerdict, from_scores: bool = False) -> float | None:
    """A judge verdict's overall score / 10; None where none was read.

    from_scores: a verdict with every constraint score but no overall one scores their mean / 10.
    """
    score = verdict.overall
    if score is None and from_scores and verdict.scores and all(s is not None for s in verdict.scores):
        score = sum(verdict.scores) / len(verdict.scores)
    return None if score is None else float(score) / JUDGE_SCALE


def judge_scores(
    backend: Any, requests: Sequence[JudgeRequest], from_scores: bool = False, **options: Any
) -> list[float | None]:
    """Judge each request (followkit.judges.trace.judge, with its options) and score it (judge_score)."""
    from followkit.judges.trace import judge

    return [judge_score(v, from_scores) for v in judge(backend, list(requests), **options)]
