"""Statistics shared by every stage: metrics with standard errors, and paired model comparisons.

A bottom-level module (it imports nothing of followkit), so that evaluation, judging, KCIF and
the report all use one definition. DESIGN section 9b: two evaluations on the same prompts are
paired data; their difference gets a 95% paired-bootstrap interval over prompts and, at the
prompt level, McNemar's exact test.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Metric:
    """A metric value with its standard error over n items."""

    value: float
    stderr: float
    n: int

    def to_dict(self) -> dict[str, float | int]:
        """A JSON-able dict."""
        return {"value": self.value, "stderr": self.stderr, "n": self.n}


def mean_metric(values: Sequence[float]) -> Metric:
    """Mean with the standard error of the mean (sample std / sqrt(n)), as lm-eval reports it."""
    n = len(values)
    if n == 0:
        return Metric(float("nan"), float("nan"), 0)
    mu = sum(values) / n
    if n < 2:
        return Metric(mu, float("nan"), n)
    var = sum((v - mu) ** 2 for v in values) / (n - 1)
    return Metric(mu, math.sqrt(var / n), n)


def accuracy(flags: Sequence[bool | None]) -> Metric:
    """Mean of 0/1 flags (None counts as 0: an unknown verdict is never a pass)."""
    return mean_metric([1.0 if f else 0.0 for f in flags])


MIN_CELL = 10
"""A table cell over fewer prompts than this shows its count instead of a percentage."""


# --------------------------------------------------------------------------- paired comparisons


@dataclass(frozen=True)
class PromptOutcome:
    """One prompt's result for one model: followed as a whole, and how many of its constraints passed."""

    followed: bool
    passed: int
    total: int


@dataclass(frozen=True)
class Interval:
    """A difference (other - base) with its 95% paired-bootstrap interval, in [0, 1] units."""

    diff: float
    lo: float
    hi: float

    @property
    def excludes_zero(self) -> bool:
        """True if the whole interval lies on one side of zero."""
        return self.lo > 0 or self.hi < 0


@dataclass(frozen=True)
class Comparison:
    """base vs other on the same prompts: accuracies, paired differences, McNemar's test."""

    n_prompts: int
    n_instructions: int
    base_prompt: float
    other_prompt: float
    base_inst: float
    other_inst: float
    prompt_diff: Interval
    inst_diff: Interval
    mcnemar_b: int  # base followed, other did not
    mcnemar_c: int  # other followed, base did not
    mcnemar_p: float
    n_boot: int
    seed: int

    def to_dict(self) -> dict:
        """A JSON-able dict."""
        d = asdict(self)
        for k in ("prompt_diff", "inst_diff"):
            d[k]["excludes_zero"] = getattr(self, k).excludes_zero
        return d


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: 2 * P(Binomial(b + c, 1/2) <= min(b, c)), capped at 1."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    # exact integer arithmetic, then one division: no float underflow for large n
    tail = sum(math.comb(n, i) for i in range(k + 1))
    return min(1.0, 2 * tail / 2**n)


def paired_comparison(
    base: Sequence[PromptOutcome], other: Sequence[PromptOutcome], n_boot: int = 10_000, seed: int = 0
) -> Comparison:
    """Differences other - base at prompt and instruction level with 95% paired-bootstrap intervals.

    Each bootstrap draw resamples prompts with replacement and recomputes both accuracies on the
    same draw; the instruction level is a ratio of sums (micro average), as the point estimate is.
    """
    if len(base) != len(other):
        raise ValueError(f"paired data needs the same prompts: {len(base)} vs {len(other)}")
    if not base:
        raise ValueError("no prompts to compare")
    n = len(base)
    if any(a.total != b.total for a, b in zip(base, other, strict=True)):
        raise ValueError("paired prompts must carry the same number of constraints")
    import numpy as np

    bp = np.array([1 if o.followed else 0 for o in base], dtype=np.int64)
    op = np.array([1 if o.followed else 0 for o in other], dtype=np.int64)
    bi = np.array([o.passed for o in base], dtype=np.int64)
    oi = np.array([o.passed for o in other], dtype=np.int64)
    tot = np.array([o.total for o in base], dtype=np.int64)
    n_inst = int(tot.sum())
    rng = np.random.default_rng(seed)
    p_diffs, i_diffs = [], []
    chunk = max(1, 2_000_000 // n)  # bounds the index matrix at ~16 MB
    for start in range(0, n_boot, chunk):
        idx = rng.integers(0, n, size=(min(chunk, n_boot - start), n))
        p_diffs.append((op[idx].sum(1) - bp[idx].sum(1)) / n)
        t = tot[idx].sum(1)
        i_diffs.append((oi[idx].sum(1) - bi[idx].sum(1)) / np.where(t > 0, t, 1))
    pd, idf = np.concatenate(p_diffs), np.concatenate(i_diffs)
    p_lo, p_hi = (float(x) for x in np.percentile(pd, [2.5, 97.5]))
    i_lo, i_hi = (float(x) for x in np.percentile(idf, [2.5, 97.5]))
    base_inst = float(bi.sum() / n_inst) if n_inst else 0.0
    other_inst = float(oi.sum() / n_inst) if n_inst else 0.0
    b = int(((bp == 1) & (op == 0)).sum())
    c = int(((bp == 0) & (op == 1)).sum())
    return Comparison(
        n_prompts=n,
        n_instructions=n_inst,
        base_prompt=float(bp.mean()),
        other_prompt=float(op.mean()),
        base_inst=base_inst,
        other_inst=other_inst,
        prompt_diff=Interval(float(op.mean() - bp.mean()), p_lo, p_hi),
        inst_diff=Interval(other_inst - base_inst, i_lo, i_hi),
        mcnemar_b=b,
        mcnemar_c=c,
        mcnemar_p=mcnemar_exact(b, c),
        n_boot=n_boot,
        seed=seed,
    )


def count_bin(k: int) -> str:
    """The by-#constraints bin of a prompt with k constraints: 1, 2-3, 4-5, 6+ (DESIGN 9b)."""
    if k <= 1:
        return "1"
    if k <= 3:
        return "2-3"
    if k <= 5:
        return "4-5"
    return "6+"


COUNT_BINS = ("1", "2-3", "4-5", "6+")
