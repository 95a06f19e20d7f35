"""How many constraints an instruction gets: a distribution over 1 to 15, and the setting that names one."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator

from followkit.core.errors import InputError

K_MIN, K_MAX = 1, 15
# TRACE's training set has 1-15 constraints per instruction, 4.36 on average: 1 + Poisson(3.4),
# cut at 15, has that range and a mean of 4.4.
TRACE_POISSON_MEAN = 3.4


@dataclass(frozen=True)
class KDist:
    """A distribution over the number of constraints per instruction (1 to 15)."""

    values: tuple[int, ...]
    cum_weights: tuple[float, ...]
    spec: str

    @classmethod
    def parse(cls, spec: str) -> KDist:
        """From 'trace', 'poisson:MEAN', 'uniform:A-B', 'fixed:K' or 'K:W,K:W,...'."""
        s = spec.strip()
        try:
            if s == "trace":
                weights = _shifted_poisson(TRACE_POISSON_MEAN)
            elif s.startswith("poisson:"):
                weights = _shifted_poisson(float(s.split(":", 1)[1]) - 1.0)
            elif s.startswith("uniform:"):
                a, b = (int(x) for x in s.split(":", 1)[1].split("-"))
                weights = {k: 1.0 for k in range(a, b + 1)}
            elif s.startswith("fixed:"):
                weights = {int(s.split(":", 1)[1]): 1.0}
            else:
                weights = {}
                for part in s.split(","):
                    k, w = part.split(":")
                    weights[int(k)] = float(w)
        except ValueError:
            raise InputError(
                f"bad k distribution '{spec}': use trace, poisson:MEAN, uniform:A-B, fixed:K or K:W,K:W"
            ) from None
        weights = {k: w for k, w in weights.items() if w > 0}
        if not weights or any(k < K_MIN or k > K_MAX for k in weights):
            raise InputError(f"bad k distribution '{spec}': k must lie in {K_MIN}..{K_MAX}")
        values = tuple(sorted(weights))
        cum, total = [], 0.0
        for k in values:
            total += weights[k]
            cum.append(total)
        return cls(values, tuple(c / total for c in cum), s)

    def sample(self, rng: random.Random) -> int:
        """One draw of k."""
        u = rng.random()
        for k, c in zip(self.values, self.cum_weights, strict=True):
            if u < c:
                return k
        return self.values[-1]

    def mean(self) -> float:
        """The expected k."""
        prev, m = 0.0, 0.0
        for k, c in zip(self.values, self.cum_weights, strict=True):
            m += k * (c - prev)
            prev = c
        return m


def _shifted_poisson(lam: float) -> dict[int, float]:
    if lam < 0:
        raise ValueError("negative mean")
    return {k: math.exp(-lam) * lam ** (k - 1) / math.factorial(k - 1) for k in range(K_MIN, K_MAX + 1)}


def _check_k(spec: str) -> str:
    """A k distribution spec, checked (ValueError, so a config error names its file and field)."""
    try:
        KDist.parse(spec)
    except InputError as exc:
        raise ValueError(str(exc)) from None
    return spec


KSpec = Annotated[str, AfterValidator(_check_k)]
"""A setting holding a k distribution: trace | poisson:MEAN | uniform:A-B | fixed:K | K:W,..."""
