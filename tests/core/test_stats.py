"""Paired comparisons: McNemar's exact test and the paired bootstrap, against hand-worked numbers and scipy."""

from __future__ import annotations

import random

import pytest

from followkit.core.stats import PromptOutcome, count_bin, mcnemar_exact, paired_comparison


def test_mcnemar_hand_worked():
    # b=1, c=5: 2 * (C(6,0) + C(6,1)) / 2^6 = 2 * 7 / 64
    assert mcnemar_exact(1, 5) == pytest.approx(14 / 64)
    assert mcnemar_exact(5, 1) == pytest.approx(14 / 64)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(3, 3) == 1.0  # capped at 1
    assert mcnemar_exact(0, 10) == pytest.approx(2 / 1024)


def test_mcnemar_equals_scipy_binomtest():
    from scipy.stats import binomtest

    for b, c in [(0, 1), (2, 9), (7, 3), (12, 30), (40, 41), (150, 210)]:
        want = binomtest(min(b, c), b + c, 0.5, alternative="two-sided").pvalue
        assert mcnemar_exact(b, c) == pytest.approx(want, rel=1e-9)


def test_bootstrap_hand_worked_two_prompts():
    # Resampling two prompts: the prompt-level difference is 0, 1/2 or 1 with probability
    # 1/4, 1/2, 1/4, so the 2.5% and 97.5% quantiles are 0 and 1; the point estimate is 1/2.
    base = [PromptOutcome(False, 0, 1), PromptOutcome(False, 0, 1)]
    other = [PromptOutcome(True, 1, 1), PromptOutcome(False, 0, 1)]
    c = paired_comparison(base, other, n_boot=4000, seed=1)
    assert (c.prompt_diff.diff, c.prompt_diff.lo, c.prompt_diff.hi) == (0.5, 0.0, 1.0)
    assert (c.inst_diff.diff, c.inst_diff.lo, c.inst_diff.hi) == (0.5, 0.0, 1.0)
    assert (c.mcnemar_b, c.mcnemar_c) == (0, 1) and c.mcnemar_p == 1.0
    assert not c.prompt_diff.excludes_zero


def test_bootstrap_degenerate_and_instruction_level_is_a_ratio_of_sums():
    base = [PromptOutcome(False, 1, 4), PromptOutcome(True, 2, 2)]
    other = [PromptOutcome(True, 4, 4), PromptOutcome(True, 2, 2)]
    c = paired_comparison(base, other, n_boot=500)
    assert c.base_inst == pytest.approx(3 / 6) and c.other_inst == pytest.approx(1.0)
    assert c.inst_diff.diff == pytest.approx(0.5)  # micro average, not the mean of per-prompt rates
    same = paired_comparison(base, base, n_boot=500)
    assert (same.prompt_diff.lo, same.prompt_diff.hi, same.inst_diff.lo, same.inst_diff.hi) == (0, 0, 0, 0)


def test_bootstrap_agrees_with_scipy_paired_percentile_bootstrap():
    from scipy.stats import bootstrap

    rng = random.Random(3)
    base = [PromptOutcome(rng.random() < 0.3, 0, 1) for _ in range(150)]
    other = [PromptOutcome(b.followed or rng.random() < 0.25, 0, 1) for b in base]
    ours = paired_comparison(base, other, n_boot=20000, seed=7)
    x = [int(o.followed) for o in other]
    y = [int(b.followed) for b in base]
    ref = bootstrap(
        (x, y), lambda a, b: sum(a) / len(a) - sum(b) / len(b), paired=True, vectorized=False,
        n_resamples=4000, method="percentile", random_state=7,
    ).confidence_interval  # fmt: skip
    assert ours.prompt_diff.lo == pytest.approx(ref.low, abs=0.015)
    assert ours.prompt_diff.hi == pytest.approx(ref.high, abs=0.015)
    assert ours.prompt_diff.excludes_zero


def test_bootstrap_is_seeded_and_checks_pairing():
    base = [PromptOutcome(i % 2 == 0, i % 3, 3) for i in range(30)]
    other = [PromptOutcome(i % 3 == 0, min((i + 1) % 4, 3), 3) for i in range(30)]
    assert paired_comparison(base, other, seed=5) == paired_comparison(base, other, seed=5)
    with pytest.raises(ValueError):
        paired_comparison(base, other[:-1])
    with pytest.raises(ValueError):
        paired_comparison([PromptOutcome(True, 1, 1)], [PromptOutcome(True, 1, 2)])


@pytest.mark.parametrize(
    ("k", "want"), [(1, "1"), (2, "2-3"), (3, "2-3"), (4, "4-5"), (5, "4-5"), (6, "6+"), (8, "6+")]
)
def test_count_bins(k, want):
    assert count_bin(k) == want
