"""A few candidate runs against a few baseline runs: Student's t where ranks cannot decide."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from redline.analysis.stats import small_sample_test
from redline.analysis.synthetic import compare_trials


def test_the_p_value_is_students_t_on_the_prediction_error() -> None:
    earlier = np.array([101.0, 98.0, 103.0, 99.5, 100.2, 97.9])
    value = 106.0
    n = earlier.size
    t = (value - earlier.mean()) / (earlier.std(ddof=1) * np.sqrt(1 + 1 / n))
    expected = 2 * scipy_stats.t.sf(abs(t), n - 1)
    got = small_sample_test(earlier, [value], confidence=0.99, equivalence_confidence=0.9)
    assert got.p_value == pytest.approx(expected, rel=1e-9)
    half = scipy_stats.t.ppf(0.995, n - 1) * earlier.std(ddof=1) * np.sqrt(1 + 1 / n)
    assert got.interval == pytest.approx((got.shift - half, got.shift + half))


def test_several_later_values_are_the_pooled_two_sample_t_test() -> None:
    earlier = [101.0, 98.0, 103.0, 99.5, 100.2, 97.9]
    later = [104.0, 107.5, 105.1]
    expected = scipy_stats.ttest_ind(later, earlier, equal_var=True).pvalue
    got = small_sample_test(earlier, later, confidence=0.99, equivalence_confidence=0.9)
    assert got.p_value == pytest.approx(expected, rel=1e-9)
    assert (got.n, got.m) == (6, 3)


def test_too_few_earlier_values_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        small_sample_test([1.0, 2.0], [3.0], confidence=0.99, equivalence_confidence=0.9)


def test_a_constant_history() -> None:
    same = small_sample_test([5.0] * 4, [5.0], confidence=0.99, equivalence_confidence=0.9)
    other = small_sample_test([5.0] * 4, [5.5], confidence=0.99, equivalence_confidence=0.9)
    assert same.p_value == 1.0 and other.p_value == 0.0


def _trials(
    shift: float, *, n_base: int, noise: float, trials: int, seed: int, n_cand: int = 1
) -> list[str]:
    counts = compare_trials(
        shift, n_base, noise=noise, trials=trials, seed=seed, n_candidate=n_cand
    )
    return list(counts.elements())


@pytest.mark.parametrize("n_cand", [1, 3])
def test_unchanged_runs_are_rarely_called_a_regression(n_cand: int) -> None:
    """A/A with 5 baseline runs and lognormal run-to-run noise of 5 %: the false regression
    rate stays under alpha (0.01) plus sampling error."""
    verdicts = _trials(0.0, n_base=5, noise=0.05, trials=2000, seed=11, n_cand=n_cand)
    assert verdicts.count("regressed") / len(verdicts) <= 0.01


def test_one_run_thirty_percent_slower_is_caught() -> None:
    """5 baseline runs, 3 % noise, one candidate run 30 % slower: caught almost always."""
    verdicts = _trials(0.30, n_base=5, noise=0.03, trials=500, seed=12)
    assert verdicts.count("regressed") / len(verdicts) >= 0.95
    assert "improved" not in verdicts


def test_one_run_inside_the_noise_is_not_a_verdict_of_change() -> None:
    verdicts = _trials(0.01, n_base=8, noise=0.01, trials=300, seed=13)
    assert verdicts.count("regressed") <= 3
    assert verdicts.count("unchanged") >= 200  # the interval rules out the 5 % minimum


def test_three_candidate_runs_fifteen_percent_slower_are_caught() -> None:
    verdicts = _trials(0.15, n_base=5, noise=0.03, trials=500, seed=14, n_cand=3)
    assert verdicts.count("regressed") / len(verdicts) >= 0.95
