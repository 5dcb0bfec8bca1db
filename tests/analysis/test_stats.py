"""The statistical primitives against scipy, brute force and simulation (fixed seeds)."""

from __future__ import annotations

import doctest
import itertools
import math

import numpy as np
import pytest
import scipy.stats

from redline.analysis import stats


def test_doctests() -> None:
    assert doctest.testmod(stats).failed == 0


@pytest.mark.parametrize(("m", "n"), [(1, 1), (2, 5), (4, 4), (5, 7)])
def test_exact_u_distribution_matches_enumeration(m: int, n: int) -> None:
    counts = np.zeros(m * n + 1)
    for chosen in itertools.combinations(range(m + n), n):  # ranks of the candidate
        u = sum(chosen) - n * (n - 1) // 2
        counts[u] += 1
    expected = np.cumsum(counts) / counts.sum()
    assert np.allclose(stats._u_cdf(m, n), expected)
    assert np.array_equal(stats._u_cdf(m, n), stats._u_cdf(n, m))


@pytest.mark.parametrize(
    ("m", "n", "shift"), [(3, 4, 1.0), (8, 12, 0.5), (30, 30, 0.4), (20, 40, 0)]
)
def test_mann_whitney_exact_matches_scipy(m: int, n: int, shift: float) -> None:
    rng = np.random.default_rng(m * 100 + n)
    x, y = rng.normal(0, 1, m), rng.normal(shift, 1, n)
    ours = stats.mann_whitney(x, y)
    ref = scipy.stats.mannwhitneyu(y, x, method="exact")
    assert ours.method == "exact"
    assert ours.u == ref.statistic
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-9)


@pytest.mark.parametrize(("m", "n"), [(40, 35), (10, 12), (100, 7)])
def test_mann_whitney_ties_and_large_samples_match_scipy_asymptotic(m: int, n: int) -> None:
    rng = np.random.default_rng(m + n)
    x, y = np.round(rng.normal(0, 1, m), 1), np.round(rng.normal(0.4, 1, n), 1)
    ours = stats.mann_whitney(x, y)
    ref = scipy.stats.mannwhitneyu(y, x, method="asymptotic")
    assert ours.method == "normal" and ours.ties
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def test_mann_whitney_all_equal_and_empty() -> None:
    assert stats.mann_whitney([5.0] * 6, [5.0] * 6).p_value == 1.0
    with pytest.raises(ValueError, match="at least one value"):
        stats.mann_whitney([], [1.0])


def test_hodges_lehmann_is_the_median_pairwise_difference() -> None:
    x, y = [1.0, 2.0, 4.0], [3.0, 5.0, 9.0, 10.0]
    diffs = [b - a for a in x for b in y]
    assert stats.hodges_lehmann(x, y).estimate == float(np.median(diffs))
    # three a side cannot give a 99 % interval: its ends are infinite
    short = stats.hodges_lehmann(x, y, confidence=0.99)
    assert short.low == -math.inf and short.high == math.inf


@pytest.mark.parametrize(("m", "n", "rounding"), [(12, 9, None), (30, 30, None), (40, 45, 1)])
def test_moses_interval_covers_the_true_shift_as_often_as_it_says(
    m: int, n: int, rounding: int | None
) -> None:
    """90 % intervals cover a known shift of skewed (lognormal) data ~90 % of the time,
    exact (no ties) and normal-approximation (ties from rounding) alike."""
    rng = np.random.default_rng(7)
    true, trials, covered = 0.3, 1500, 0
    for _ in range(trials):
        x, y = rng.lognormal(0, 0.5, m), rng.lognormal(0, 0.5, n) + true
        if rounding is not None:
            x, y = np.round(x, rounding), np.round(y, rounding)
        s = stats.hodges_lehmann(x, y, confidence=0.90)
        covered += s.low <= true <= s.high
    assert 0.87 <= covered / trials <= 0.94


def test_interval_excludes_zero_exactly_when_the_exact_test_is_significant() -> None:
    rng = np.random.default_rng(11)
    for _ in range(300):
        x, y = rng.normal(0, 1, 10), rng.normal(0.9, 1, 12)
        significant = stats.mann_whitney(x, y).p_value < 0.05
        s = stats.hodges_lehmann(x, y, confidence=0.95)
        assert significant == (s.low > 0 or s.high < 0)


def test_relative_shift_recovers_a_ratio_and_needs_positive_values() -> None:
    rng = np.random.default_rng(3)
    base = rng.lognormal(3, 0.05, 200)
    s = stats.relative_shift(base, rng.lognormal(3, 0.05, 200) * 1.10, confidence=0.99)
    assert s.low < 0.10 < s.high and abs(s.estimate - 0.10) < 0.01
    with pytest.raises(ValueError, match="positive"):
        stats.relative_shift([1.0, 0.0], [1.0, 2.0])


def test_very_large_samples_are_summarised_not_refused() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.normal(10, 1, 3000), rng.normal(10.5, 1, 3000)
    s = stats.hodges_lehmann(x, y, confidence=0.99)
    assert s.low < 0.5 < s.high and s.high - s.low < 0.3


def test_benjamini_hochberg_matches_scipy() -> None:
    rng = np.random.default_rng(2)
    p = np.concatenate([rng.uniform(0, 1, 200), rng.uniform(0, 0.001, 20)])
    assert np.allclose(stats.benjamini_hochberg(list(p)), scipy.stats.false_discovery_control(p))
    assert stats.benjamini_hochberg([]) == []


def test_robust_sd_is_the_sd_for_normal_data_and_ignores_outliers() -> None:
    rng = np.random.default_rng(9)
    a, b = rng.normal(0, 2, 500), rng.normal(50, 2, 500)  # each around its own level
    assert stats.robust_sd(a, b) == pytest.approx(2.0, rel=0.08)
    a[:25] = 1e6  # 5 % wild values
    assert stats.robust_sd(a, b) == pytest.approx(2.0, rel=0.15)
    assert stats.robust_sd([3.0] * 10) == 0.0
    # mostly equal values: the Shamos estimate is 0, the standard deviation is not
    assert stats.robust_sd([1.0] * 9 + [2.0]) > 0
    assert stats.robust_sd([1.0]) == 0.0


def test_min_runs_for_significance() -> None:
    assert stats.min_runs_for_significance(0.01) == 5
    assert stats.min_runs_for_significance(0.05) == 4
    # four a side, perfectly separated: the exact p-value is still above 0.01
    assert stats.mann_whitney([1, 2, 3, 4], [5, 6, 7, 8]).p_value > 0.01
    assert stats.mann_whitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]).p_value < 0.01


def test_runs_needed_delivers_the_power_it_promises() -> None:
    """At the runs it names, a simulated test finds the shift about 80 % of the time."""
    shift, noise, alpha = 0.5, 1.0, 0.01
    n = stats.runs_needed(shift, noise, alpha=alpha)
    assert stats.power(shift, noise, n, n, alpha=alpha) >= 0.8
    assert stats.power(shift, noise, n - 2, n - 2, alpha=alpha) < 0.8
    rng = np.random.default_rng(4)
    found = sum(
        stats.mann_whitney(rng.normal(0, noise, n), rng.normal(shift, noise, n)).p_value < alpha
        for _ in range(400)
    )
    assert 0.72 <= found / 400 <= 0.90
    assert stats.runs_needed(shift, noise, alpha=alpha, sides=1) < n
    assert stats.runs_needed(shift, 0.0, alpha=alpha) == 5
    with pytest.raises(ValueError, match="zero shift"):
        stats.runs_needed(0.0, 1.0, alpha=alpha)
    assert stats.power(shift, noise, 4, 30, alpha=alpha) == 0.0
