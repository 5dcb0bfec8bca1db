"""Trend: how fast a metric moves, per week (or per point), with an interval.

The slope is Theil-Sen's: the median of the slopes between every pair of points, which a few
outliers cannot move. Its interval is Sen's rank interval: the pairwise slopes ranked, and the
ones at ``N/2 -+ z * sqrt(Var(S)) / 2`` taken as the bounds, where ``S`` is Kendall's statistic.
Benchmarks are autocorrelated, which makes that variance too small; it is multiplied by
``(1 + phi) / (1 - phi)`` with ``phi`` the lag-1 autocorrelation of the detrended residuals
(clipped at 0), so the interval widens as the effective number of independent points falls.

>>> from redline.analysis.trend import theil_sen
>>> t = theil_sen([1.0, 2.0, 3.1, 3.9, 5.0])
>>> round(t.slope, 2), t.per
(1.0, 'point')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import NormalDist
from typing import Any

__all__ = ["MAX_POINTS", "Trend", "theil_sen"]

MAX_POINTS = 2000  # the most recent points used
_BLOCKS = 150  # longer stretches are summarised by block medians first: pairs grow as n squared
_WEEK = 7 * 86400.0


@dataclass(frozen=True)
class Trend:
    """A slope with its interval: ``slope`` units per ``per`` (``week`` or ``point``)."""

    slope: float
    low: float
    high: float
    per: str
    points: int
    confidence: float
    start: int | None = None  # input index of the first point the slope was fitted on

    @property
    def significant(self) -> bool:
        """The interval excludes zero: the metric is moving."""
        return self.low > 0.0 or self.high < 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "slope": self.slope,
            "low": self.low,
            "high": self.high,
            "per": self.per,
            "points": self.points,
            "confidence": self.confidence,
            "significant": self.significant,
            "start": self.start,
        }


def theil_sen(
    values: Sequence[float],
    *,
    times: Sequence[datetime] | None = None,
    confidence: float = 0.95,
    start: int | None = None,
) -> Trend | None:
    """The Theil-Sen slope of ``values`` (per week when ``times`` are given, else per point)
    with Sen's interval; None with fewer than 3 finite points or no two distinct times."""
    import numpy as np

    y = np.asarray(values, dtype=float)
    if times is not None:
        x = np.array([t.timestamp() for t in times], dtype=float) / _WEEK
        per = "week"
    else:
        x = np.arange(len(y), dtype=float)
        per = "point"
    keep = np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(y) > MAX_POINTS:
        x, y = x[-MAX_POINTS:], y[-MAX_POINTS:]
    points = len(y)
    if points > _BLOCKS:
        # Medians of consecutive blocks (and their middle times) keep the slope and its
        # robustness; the interval is then that of the blocks, a little wider, never bolder.
        size = points // _BLOCKS
        used = size * _BLOCKS  # the most recent points, in whole blocks
        x = np.median(x[-used:].reshape(_BLOCKS, size), axis=1)
        y = np.median(y[-used:].reshape(_BLOCKS, size), axis=1)
    n = len(y)
    if n < 3:
        return None
    i, j = np.triu_indices(n, 1)
    dx = x[j] - x[i]
    ok = dx != 0
    if not ok.any():
        return None
    slopes = (y[j] - y[i])[ok] / dx[ok]
    m = len(slopes)
    slope = float(np.median(slopes))
    resid = y - slope * x
    resid = resid - np.median(resid)
    denom = float(resid @ resid)
    phi = 0.0 if denom == 0 else min(max(float(resid[1:] @ resid[:-1]) / denom, 0.0), 0.95)
    var_s = n * (n - 1) * (2 * n + 5) / 18.0 * (1.0 + phi) / (1.0 - phi)
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    c = z * math.sqrt(var_s)
    lo_rank = max(math.floor((m - c) / 2.0), 0)
    hi_rank = min(math.ceil((m + c) / 2.0), m - 1)
    part = np.partition(slopes, [lo_rank, hi_rank])
    return Trend(
        slope=slope,
        low=float(part[lo_rank]),
        high=float(part[hi_rank]),
        per=per,
        points=points,
        confidence=confidence,
        start=start,
    )
