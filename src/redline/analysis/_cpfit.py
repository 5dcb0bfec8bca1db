"""The pieces of change point analysis: segmentation, ramps, effect intervals, anomalies.

All functions work on the finite points of a series only (positions ``0..m-1``); the caller
maps positions back to the indexes of the input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from redline.analysis._cpscan import p_value, scan, threshold

__all__ = [
    "Ramp",
    "Split",
    "anomalies",
    "fit_ramp",
    "hodges_lehmann",
    "robust_scale",
    "segment",
    "steps_sse",
]

FloatArray = np.ndarray[Any, np.dtype[np.float64]]

_Z95 = NormalDist().inv_cdf(0.975)
_HL_SIDE = 200  # the points each side an effect interval uses at most (pairs grow as n^2)


@dataclass(frozen=True)
class Split:
    """A confirmed split at position ``at`` (first point of the new segment)."""

    at: int
    stat: float
    p_value: float
    score: float  # stat / threshold: above 1 is a change at the false-alarm rate asked for
    phi: float
    pending: bool = False  # found by the tail test only: too few points after it to confirm


def segment(y: FloatArray, alpha: float) -> list[Split]:
    """Binary segmentation of ``y`` with the rank scan, then pruning: every split is re-tested
    between its neighbours and dropped (weakest first) until all pass, so a split found early
    against a wrong neighbour does not survive as a spurious extra point."""
    cuts: list[int] = []
    stack = [(0, len(y))]
    while stack:
        lo, hi = stack.pop()
        found = scan(y[lo:hi])
        if found is None or found.stat < threshold(hi - lo, alpha):
            continue
        cut = lo + found.k
        cuts.append(cut)
        stack.extend([(lo, cut), (cut, hi)])
    cuts.sort()
    tested: list[Split] = []
    for _ in range(4 * len(cuts) + 4):
        tested = _retest(y, cuts, alpha)
        if not tested:
            return []
        weakest = min(range(len(tested)), key=lambda i: tested[i].score)
        if tested[weakest].score < 1.0:
            del cuts[weakest]
            continue
        moved = sorted({s.at for s in tested})
        if moved == cuts:
            return tested
        cuts = moved
    return [s for s in tested if s.score >= 1.0]


def _retest(y: FloatArray, cuts: list[int], alpha: float) -> list[Split]:
    out = []
    bounds = [0, *cuts, len(y)]
    for i, cut in enumerate(cuts):
        lo, hi = bounds[i], bounds[i + 2]
        found = scan(y[lo:hi])
        if found is None:
            out.append(Split(cut, 0.0, 1.0, 0.0, 0.0))
            continue
        thr = threshold(hi - lo, alpha)
        stat = min(found.stat, 1e6)  # a perfect split (no spread on either side) is not infinite
        out.append(Split(lo + found.k, stat, p_value(hi - lo, stat), stat / thr, found.phi))
    return out


def tail_split(y: FloatArray, alpha: float, min_after: int = 10) -> Split | None:
    """A change in the last few points of a steady stretch ``y``, which the scan (a maximum over
    every split, with its multiplicity) sees only when it is large.

    The last ``MIN_SIZE`` points are compared with the rest by their ranks at this one
    pre-set split (the Mann-Whitney statistic, variance widened for autocorrelation as in
    :func:`redline.analysis._cpscan.scan`; its normal approximation overstates tail
    probabilities this far out, so it errs towards silence). When it passes ``alpha``, the
    change is placed where the ranks split best with 5 to 9 points after it, and reported as
    pending: the next runs confirm it (the scan then finds it) or not.
    """
    from redline.analysis._cpscan import MIN_SIZE, _phi_from_differences, midranks

    n = len(y)
    w = MIN_SIZE
    if n - w < min_after:
        return None
    r = midranks(y) - (n + 1) / 2.0
    tail = float(r[-w:].sum())
    res = r.copy()
    res[:-w] -= r[:-w].mean()
    res[-w:] -= r[-w:].mean()
    g0 = float(res @ res) / n
    if g0 <= 0:
        return None
    phi = min(max(float(res[1:] @ res[:-1]) / (g0 * n), 0.0), 0.95, _phi_from_differences(r) + 0.15)
    variance = float(r @ r) / n * w * (n - w) / n * (1 + phi) / (1 - phi)
    if variance <= 0:
        return None
    z = abs(tail) / math.sqrt(variance)
    p = max(2.0 * NormalDist().cdf(-z), 1e-12)
    if p >= alpha:
        return None
    s = np.cumsum(r)[:-1]
    k = np.arange(1, n, dtype=float)
    t = s * s / (k * (n - k) / n)
    lo = max(n - 2 * w + 1, min_after)
    at = lo + int(np.argmax(t[lo - 1 : n - w]))
    z_needed = NormalDist().inv_cdf(1 - alpha / 2)
    return Split(at, z, p, z / z_needed, phi, pending=True)


def robust_scale(x: FloatArray) -> float:
    """1.4826 * MAD (the standard deviation for Gaussian data); the mean absolute deviation
    when more than half the points tie; 0 for a constant."""
    if len(x) == 0:
        return 0.0
    med = float(np.median(x))
    dev = np.abs(x - med)
    mad = float(np.median(dev))
    if mad > 0:
        return 1.4826 * mad
    return 1.2533 * float(np.mean(dev))


def hodges_lehmann(
    left: FloatArray, right: FloatArray, phi: float, confidence: float = 0.95
) -> tuple[float, float, float]:
    """The Hodges-Lehmann shift ``right - left`` with Moses' rank interval, the variance widened
    by ``(1 + phi) / (1 - phi)`` for autocorrelation; the points nearest the split are used."""
    a = left[-_HL_SIDE:]
    b = right[:_HL_SIDE]
    d = np.subtract.outer(b, a).ravel()
    m = len(d)
    z = _Z95 if confidence == 0.95 else NormalDist().inv_cdf(0.5 + confidence / 2.0)
    na, nb = len(a), len(b)
    widen = (1.0 + phi) / (1.0 - phi)
    c = math.floor(na * nb / 2.0 - z * math.sqrt(na * nb * (na + nb + 1) / 12.0 * widen))
    c = min(max(c, 0), m - 1)
    mid_lo, mid_hi = (m - 1) // 2, m // 2
    ks = sorted({c, m - 1 - c, mid_lo, mid_hi})
    part = np.partition(d, ks)
    est = (float(part[mid_lo]) + float(part[mid_hi])) / 2.0
    return est, float(part[min(c, m - 1 - c)]), float(part[max(c, m - 1 - c)])


@dataclass(frozen=True)
class Ramp:
    """A linear move from level ``a`` (before position ``start``) to ``b`` (from ``end``)."""

    start: int
    end: int
    a: float
    b: float
    sse: float


def fit_ramp(
    y: FloatArray, min_len: int, *, pin_start: bool = False, pin_end: bool = False
) -> Ramp | None:
    """The least-squares flat-ramp-flat fit of ``y`` over a grid of (start, end) pairs with
    ``end - start >= min_len`` (the start pinned at 0, the end at ``len(y)``, when asked):
    every pair costs O(1) from prefix sums."""
    n = len(y)
    if n < min_len + 2:
        return None
    step = max(1, n // 200)
    grid = np.unique(np.r_[np.arange(0, n + 1, step), n])
    s, e = np.meshgrid(
        np.array([0]) if pin_start else grid, np.array([n]) if pin_end else grid, indexing="ij"
    )
    keep = (e - s) >= min_len
    s, e = s[keep].astype(float), e[keep].astype(float)
    if len(s) == 0:
        return None
    idx = np.arange(n, dtype=float)
    p0 = np.r_[0.0, np.cumsum(y)]
    p1 = np.r_[0.0, np.cumsum(idx * y)]
    si, ei = s.astype(int), e.astype(int)
    d = e - s
    tail = n - e
    sum_r = (d - 1) / 2.0 + tail
    sum_r2 = (d - 1) * (2 * d - 1) / (6 * d) + tail
    ramp_y = p0[ei] - p0[si]
    ramp_iy = p1[ei] - p1[si]
    sum_ry = (ramp_iy - s * ramp_y) / d + (p0[n] - p0[ei])
    total = p0[n]
    big_a = n - 2 * sum_r + sum_r2
    big_b = sum_r2
    big_c = sum_r - sum_r2
    u = total - sum_ry
    v = sum_ry
    det = big_a * big_b - big_c * big_c
    det = np.where(np.abs(det) < 1e-12, np.nan, det)
    a = (big_b * u - big_c * v) / det
    b = (big_a * v - big_c * u) / det
    sse = float(y @ y) - (a * u + b * v)
    if np.all(np.isnan(sse)):
        return None
    best = int(np.nanargmin(sse))
    return Ramp(int(si[best]), int(ei[best]), float(a[best]), float(b[best]), float(sse[best]))


def steps_sse(y: FloatArray, cuts: list[int]) -> float:
    """The residual sum of squares of ``y`` around its segment means."""
    total = 0.0
    for lo, hi in zip([0, *cuts], [*cuts, len(y)], strict=True):
        part = y[lo:hi]
        total += float(((part - part.mean()) ** 2).sum())
    return total


def anomalies(
    y: FloatArray, fitted: FloatArray, pieces: list[tuple[int, int]], fence: float
) -> list[tuple[int, float, float, float]]:
    """Points outside the fences ``median +- fence * (q95 - median)`` (and ``q05`` below) of
    the residuals around the fitted level: ``(position, z, level, scale)`` with ``z`` in
    Gaussian-equivalent units and ``scale`` in the data's units.

    Quantile fences rather than a MAD: a bimodal series (20 % of runs hit a slow path) has a
    regular second mode, not 100 anomalies; 1 % of gross outliers do not move the 5th and 95th
    percentiles. ``fence = 3`` sits 4.9 standard deviations out for Gaussian noise. Positive
    right-skewed data (latency) is judged on the log scale, where its long tail is ordinary.
    Pieces shorter than 30 points borrow the pooled quantiles.
    """
    yy, ff, logged = y, fitted, False
    if len(y) and float(y.min()) > 0 and float(fitted.min()) > 0:
        q10, q50, q90 = np.quantile(y - fitted + np.median(fitted), [0.1, 0.5, 0.9])
        spread = q90 - q10
        if spread > 0 and (q90 + q10 - 2 * q50) / spread > 0.1:
            yy, ff, logged = np.log(y), np.log(fitted), True
    res = yy - ff
    pooled = np.quantile(res, [0.05, 0.5, 0.95])
    out: list[tuple[int, float, float, float]] = []
    for lo, hi in pieces:
        part = res[lo:hi]
        q05, q50, q95 = np.quantile(part, [0.05, 0.5, 0.95]) if hi - lo >= 30 else pooled
        up, down = q95 - q50, q50 - q05
        if up <= 0 or down <= 0:
            up = down = max(up, down, float(pooled[2] - pooled[0]) / 2.0)
        if up <= 0:
            continue
        high = part > q50 + fence * up
        low = part < q50 - fence * down
        for j in np.flatnonzero(high | low):
            pos = lo + int(j)
            width = up if part[j] > q50 else down
            z = float((part[j] - q50) / width * 1.6449)
            scale = width / 1.6449
            unit = scale * float(fitted[pos]) if logged else scale  # back to the data's units
            out.append((pos, z, float(fitted[pos]), unit))
    return out
