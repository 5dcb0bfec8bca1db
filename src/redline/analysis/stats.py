"""Statistical primitives for comparing two samples: rank test, shift estimate, FDR, sample size.

Everything here is distribution-free (it uses ranks, not means), so a latency outlier or a
heavy tail moves it little, and it needs numpy only (scipy only for the normal quantile).

>>> base = [10.1, 10.4, 9.9, 10.2, 10.0, 10.3]
>>> cand = [11.2, 11.0, 11.5, 10.9, 11.3, 11.1]
>>> mann_whitney(base, cand).p_value < 0.01
True
>>> est = hodges_lehmann(base, cand, confidence=0.95)
>>> round(est.estimate, 2), est.low < est.estimate < est.high
(1.0, True)

The pieces:

- :func:`mann_whitney`: the Mann-Whitney U test, exact (from the U distribution) when there
  are no ties and the samples are small enough, else the normal approximation with the tie
  correction and a continuity correction (the same figures as ``scipy.stats.mannwhitneyu``).
- :func:`hodges_lehmann`: the shift estimate (median of all candidate - baseline
  differences) with the Moses rank interval built from the same U distribution, so the
  interval excludes 0 exactly when the test is significant at ``1 - confidence``.
- :func:`relative_shift`: the same on the relative scale: HL of log ratios for positive data
  (latency and throughput are multiplicative: a 10 % slowdown moves every request by ~10 %),
  returned as ``exp(shift) - 1``.
- :func:`benjamini_hochberg`: adjusted p-values (q-values) for many tests at once.
- :func:`robust_sd`, :func:`power`, :func:`runs_needed`: noise, and how many runs per side
  would detect a given shift.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "ARE_NORMAL",
    "MannWhitney",
    "Shift",
    "benjamini_hochberg",
    "expm1",
    "hodges_lehmann",
    "hodges_lehmann_intervals",
    "mann_whitney",
    "min_runs_for_significance",
    "normal_quantile",
    "power",
    "relative_shift",
    "robust_sd",
    "runs_needed",
]

# Asymptotic relative efficiency of Mann-Whitney against the t test on normal data (3/pi):
# the rank test needs ~5 % more runs for the same power, and far fewer on heavy tails.
ARE_NORMAL = 3.0 / math.pi
# Exact U distributions up to this many values in total (int64 holds C(60, 30) easily).
_EXACT_MAX_TOTAL = 60
# Above this many pairwise differences, each side is summarised by its quantiles first.
_MAX_PAIRS = 4_000_000
_SHAMOS_TO_SD = 1.048358
_MAX_SCALE_VALUES = 2000


@dataclass(frozen=True)
class MannWhitney:
    """The result of :func:`mann_whitney`: U of the candidate, two-sided p-value, method."""

    u: float
    p_value: float
    method: str  # "exact" | "normal"
    ties: bool


@dataclass(frozen=True)
class Shift:
    """A shift estimate with its interval at ``confidence`` (infinite ends: too few values)."""

    estimate: float
    low: float
    high: float
    confidence: float


def _array(values: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(values, dtype=np.float64).ravel()


def normal_quantile(p: float) -> float:
    """The standard normal quantile (``normal_quantile(0.975) ~ 1.96``)."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(p)


def _normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _u_cdf(m: int, n: int) -> NDArray[np.float64]:
    """P(U <= u) for u = 0..m*n under the null (no ties), cached by sizes."""
    cdf: NDArray[np.float64] = _u_cdf_cached(min(m, n), max(m, n))
    return cdf


@lru_cache(maxsize=256)
def _u_cdf_cached(m: int, n: int) -> NDArray[np.float64]:
    """P(U <= u) for u = 0..m*n under the null, no ties: the Gaussian binomial
    coefficient [m+n choose m]_q, built as prod_i (1 - q^(n+i)) / (1 - q^i)."""
    size = m * n + 1
    poly = np.zeros(size, dtype=np.int64)
    poly[0] = 1
    for i in range(1, m + 1):
        k = n + i
        if k < size:
            poly[k:] -= poly[: size - k].copy()
        for r in range(i):  # divide by (1 - q^i): a running sum with stride i
            poly[r::i] = np.cumsum(poly[r::i])
    counts = poly.astype(np.float64)
    cdf: NDArray[np.float64] = np.cumsum(counts) / counts.sum()
    cdf.flags.writeable = False
    return cdf


def _exact_ok(m: int, n: int, ties: bool) -> bool:
    return not ties and m + n <= _EXACT_MAX_TOTAL


def _tie_term(pooled: NDArray[np.float64]) -> tuple[float, bool]:
    _, counts = np.unique(pooled, return_counts=True)
    term = float(np.sum(counts.astype(np.float64) ** 3 - counts))
    return term, bool(np.any(counts > 1))


def _u_sd(m: int, n: int, tie_term: float) -> float:
    total = m + n
    return math.sqrt(m * n / 12.0 * ((total + 1) - tie_term / (total * (total - 1))))


def mann_whitney(baseline: ArrayLike, candidate: ArrayLike) -> MannWhitney:
    """The two-sided Mann-Whitney U test of ``candidate`` against ``baseline``.

    U counts the pairs where the candidate value is larger (ties count one half), so
    U > m*n/2 means the candidate tends to be larger. Exact p-value when there are no ties
    and at most 60 values in all; otherwise the normal approximation with tie and
    continuity corrections. Each side needs at least one value.
    """
    x, y = _array(baseline), _array(candidate)
    m, n = x.size, y.size
    if m == 0 or n == 0:
        raise ValueError("each side needs at least one value")
    pooled = np.concatenate([x, y])
    ranks = _ranks(pooled)
    u = float(ranks[m:].sum() - n * (n + 1) / 2.0)
    tie_term, ties = _tie_term(pooled)
    mean = m * n / 2.0
    if _exact_ok(m, n, ties):
        cdf = _u_cdf(m, n)
        k = round(u)
        low = float(cdf[k])  # P(U <= u)
        high = 1.0 - (float(cdf[k - 1]) if k > 0 else 0.0)  # P(U >= u)
        return MannWhitney(u, min(1.0, 2.0 * min(low, high)), "exact", ties)
    sd = _u_sd(m, n, tie_term)
    if sd == 0.0:  # every value equal: no evidence of any difference
        return MannWhitney(u, 1.0, "normal", ties)
    z = (abs(u - mean) - 0.5) / sd
    return MannWhitney(u, min(1.0, 2.0 * (1.0 - _normal_cdf(max(z, 0.0)))), "normal", ties)


def _ranks(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Ranks 1..N, ties sharing their average rank."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(values.size, dtype=np.float64)
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], values.size]
    average = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(average, ends - starts)
    return ranks


def _moses_k(m: int, n: int, confidence: float, ties: bool, tie_term: float) -> int:
    """How many of the sorted pairwise differences each end of the interval skips, less one:
    the interval is [D_(k), D_(mn+1-k)] (1-based); 0 means no finite interval."""
    tail = (1.0 - confidence) / 2.0
    if _exact_ok(m, n, ties):
        cdf = _u_cdf(m, n)
        # the largest k with P(U <= k-1) <= tail
        return int(np.searchsorted(cdf, tail + 1e-12, side="right"))
    sd = _u_sd(m, n, tie_term)
    k = math.floor(m * n / 2.0 - normal_quantile(1.0 - tail) * sd + 0.5)
    return max(0, min(k, (m * n) // 2))


def _differences(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.sort((y[None, :] - x[:, None]).ravel())


def _squeeze(values: NDArray[np.float64], size: int) -> NDArray[np.float64]:
    """``values`` summarised by ``size`` evenly spaced quantiles (for very large samples)."""
    if values.size <= size:
        return values
    return np.quantile(values, (np.arange(size) + 0.5) / size)


def hodges_lehmann(baseline: ArrayLike, candidate: ArrayLike, *, confidence: float = 0.99) -> Shift:
    """The Hodges-Lehmann shift of ``candidate`` over ``baseline`` with the Moses interval.

    The estimate is the median of every ``candidate[j] - baseline[i]``: the typical amount by
    which the candidate is larger, robust to outliers. The interval takes the k-th smallest
    and largest of those differences, k from the U distribution, so it covers the true
    shift with probability ``confidence`` whatever the shape of the data (when the two
    differ by a shift). Too few values for that confidence give an infinite end.
    """
    return hodges_lehmann_intervals(baseline, candidate, [confidence])[0]


def hodges_lehmann_intervals(
    baseline: ArrayLike, candidate: ArrayLike, confidences: Sequence[float]
) -> list[Shift]:
    """:func:`hodges_lehmann` at several confidence levels, sorting the differences once."""
    x, y = _array(baseline), _array(candidate)
    m, n = x.size, y.size
    if m == 0 or n == 0:
        raise ValueError("each side needs at least one value")
    tie_term, ties = _tie_term(np.concatenate([x, y]))
    if m * n > _MAX_PAIRS:
        side = int(math.sqrt(_MAX_PAIRS))
        diffs = _differences(_squeeze(x, side), _squeeze(y, side))
    else:
        diffs = _differences(x, y)
    size = diffs.size
    estimate = float(diffs[(size - 1) // 2] + diffs[size // 2]) / 2.0
    out = []
    for confidence in confidences:
        k = _moses_k(m, n, confidence, ties, tie_term)
        if size != m * n:
            k = max(0, round(k * size / (m * n)))
        if k == 0:
            out.append(Shift(estimate, -math.inf, math.inf, confidence))
        else:
            out.append(Shift(estimate, float(diffs[k - 1]), float(diffs[size - k]), confidence))
    return out


def relative_shift(baseline: ArrayLike, candidate: ArrayLike, *, confidence: float = 0.99) -> Shift:
    """The relative change of ``candidate`` over ``baseline`` (0.10 = 10 % larger).

    Positive data: the Hodges-Lehmann shift of the logarithms, ``exp(shift) - 1``, with
    the Moses interval mapped the same way (the change a typical run sees, as a ratio; the
    interval stays correct because ranks do not care about the log). Raises ``ValueError``
    when a value is not positive: use :func:`hodges_lehmann` and divide by the baseline.
    """
    x, y = _array(baseline), _array(candidate)
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("relative_shift needs positive values")
    s = hodges_lehmann(np.log(x), np.log(y), confidence=confidence)
    return Shift(math.expm1(s.estimate), expm1(s.low), expm1(s.high), confidence)


def expm1(value: float) -> float:
    """``exp(value) - 1`` that maps an infinite end to itself (-1 for -inf)."""
    if math.isinf(value):
        return value if value > 0 else -1.0
    return math.expm1(value)


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order.

    Flagging every test with ``q <= 0.05`` keeps the expected share of false ones among
    the flagged at or below 5 % (for independent or positively dependent tests).

    >>> [round(q, 3) for q in benjamini_hochberg([0.01, 0.04, 0.03, 0.2])]
    [0.04, 0.053, 0.053, 0.2]
    """
    p = _array(p_values)
    count = p.size
    if count == 0:
        return []
    order = np.argsort(p)
    scaled = p[order] * count / np.arange(1, count + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    q = np.empty(count, dtype=np.float64)
    q[order] = np.minimum(adjusted, 1.0)
    return [float(v) for v in q]


def robust_sd(*samples: ArrayLike) -> float:
    """The pooled noise of several samples, each measured within itself: the Shamos
    estimator, 1.0483 x the median of every within-sample distance ``|x_i - x_j|`` (the
    standard deviation for normal data; outliers barely move it, and it is steadier than
    the median absolute deviation: 86 % efficient against 37 %). When over half the
    distances are 0 but not all, the pooled standard deviation instead."""
    arrays = [s for s in map(_array, samples) if s.size > 1]
    if not arrays:
        return 0.0
    distances = np.concatenate([_pair_distances(a) for a in arrays])
    shamos = float(np.median(distances)) * _SHAMOS_TO_SD
    if shamos > 0 or not np.any(distances):
        return shamos
    squares = sum(float(np.sum((a - a.mean()) ** 2)) for a in arrays)
    dof = sum(a.size - 1 for a in arrays)
    return math.sqrt(squares / dof)


def _pair_distances(values: NDArray[np.float64]) -> NDArray[np.float64]:
    if values.size > _MAX_SCALE_VALUES:  # a quantile summary keeps this O(1) in memory
        values = _squeeze(values, _MAX_SCALE_VALUES)
    i, j = _pairs(values.size)
    return np.abs(values[i] - values[j])


@lru_cache(maxsize=64)
def _pairs(size: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    return np.triu_indices(size, k=1)


def min_runs_for_significance(alpha: float) -> int:
    """The fewest runs per side with which the exact test can reach ``p < alpha`` at all
    (all candidate values beyond all baseline values): 4 at 0.05, 5 at 0.01."""
    n = 1
    while 2.0 / math.comb(2 * n, n) >= alpha:
        n += 1
    return n


def power(
    shift: float, noise_sd: float, n_baseline: int, n_candidate: int, *, alpha: float
) -> float:
    """The chance that the two-sided rank test at ``alpha`` finds a true ``shift`` given
    ``noise_sd`` and these sample sizes (normal approximation with the efficiency of
    Mann-Whitney on normal data). 0 when too few runs could ever be significant."""
    floor = min_runs_for_significance(alpha)
    if min(n_baseline, n_candidate) < floor:
        return 0.0
    if noise_sd <= 0:
        return 1.0 if shift else alpha
    se = noise_sd * math.sqrt(1.0 / n_baseline + 1.0 / n_candidate) / math.sqrt(ARE_NORMAL)
    return _normal_cdf(abs(shift) / se - normal_quantile(1.0 - alpha / 2.0))


def runs_needed(
    shift: float, noise_sd: float, *, alpha: float, power: float = 0.8, sides: int = 2
) -> int:
    """Runs per side for the rank test at ``alpha`` to find a true ``shift`` with
    probability ``power``, given ``noise_sd`` (on the same scale as ``shift``);
    ``sides=1`` for a one-sided test (as each half of an equivalence test is).

    >>> runs_needed(0.05, 0.05, alpha=0.01)   # a 1-sigma shift at 80 % power
    25
    """
    floor = min_runs_for_significance(alpha)
    if noise_sd <= 0:
        return floor
    if shift == 0:
        raise ValueError("no number of runs finds a zero shift")
    z = normal_quantile(1.0 - alpha / sides) + normal_quantile(power)
    n = 2.0 * (z * noise_sd / abs(shift)) ** 2 / ARE_NORMAL
    return max(floor, math.ceil(n))


@dataclass(frozen=True)
class SmallSample:
    """A few new values against a few earlier ones (:func:`small_sample_test`)."""

    shift: float  # mean of the new values minus mean of the earlier ones
    p_value: float  # two-sided, Student's t with n + m - 2 degrees of freedom
    interval: tuple[float, float]  # the shift at ``confidence``
    equivalence: tuple[float, float]  # the shift at ``equivalence_confidence``
    noise_sd: float  # the pooled standard deviation
    n: int
    m: int


def small_sample_test(
    earlier: ArrayLike, later: ArrayLike, *, confidence: float, equivalence_confidence: float
) -> SmallSample:
    """Did ``later`` values move away from ``earlier`` ones, with too few for a rank test?

    A CI gate often has one to four candidate runs and a handful of baseline runs: the rank
    test cannot reach a small p-value with so few (see :func:`min_runs_for_significance`).
    Student's two-sample t test can, if run-level values are near normal (they are, near
    enough, on the log scale). With one later value it is the prediction interval: a new
    value from the same distribution lies within ``mean +- t(n-1) * sd * sqrt(1 + 1/n)``
    with probability ``confidence``. Needs at least 3 earlier values; a constant history
    has zero noise, so any difference is certain.
    """
    from scipy.special import stdtr, stdtrit  # ~25 ms of scipy, not scipy.stats' ~800

    x, y = _array(earlier), _array(later)
    n, m = int(x.size), int(y.size)
    if n < 3 or m < 1:
        raise ValueError("a small-sample test needs at least 3 earlier values and 1 later")
    shift = float(y.mean() - x.mean())
    df = n + m - 2
    squares = float(((x - x.mean()) ** 2).sum() + ((y - y.mean()) ** 2).sum())
    sd = math.sqrt(squares / df)
    se = sd * math.sqrt(1.0 / n + 1.0 / m)
    p = float(2.0 * stdtr(df, -abs(shift) / se)) if se else float(shift == 0.0)

    def band(level: float) -> tuple[float, float]:
        half = float(stdtrit(df, 1.0 - (1.0 - level) / 2.0)) * se
        return (shift - half, shift + half)

    return SmallSample(shift, min(1.0, p), band(confidence), band(equivalence_confidence), sd, n, m)
