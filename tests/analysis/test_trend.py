"""Theil-Sen trend: slope per point or per week, a rank interval, robust to outliers."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np

from redline.analysis import synthetic as S
from redline.analysis.trend import theil_sen


def test_slope_per_point_with_an_interval_that_covers_it() -> None:
    y = S.gaussian(200, seed=1, level=0.0) + 0.05 * np.arange(200)
    t = theil_sen(list(y))
    assert t is not None and t.per == "point" and t.points == 200
    assert t.low < 0.05 < t.high and t.significant
    assert abs(t.slope - 0.05) < 0.01


def test_slope_per_week_from_times() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    times = [start + timedelta(days=i) for i in range(60)]  # one point a day
    y = [10.0 + 0.5 * i for i in range(60)]  # +0.5 a day = +3.5 a week
    t = theil_sen(y, times=times)
    assert t is not None and t.per == "week"
    assert math.isclose(t.slope, 3.5, rel_tol=1e-9)


def test_flat_noise_is_not_significant_and_outliers_do_not_move_the_slope() -> None:
    y = S.outliers(300, seed=4, level=0.0, fraction=0.02, size=50.0)
    t = theil_sen(list(y))
    assert t is not None and not t.significant and abs(t.slope) < 0.005


def test_autocorrelation_widens_the_interval() -> None:
    white = theil_sen(list(S.gaussian(300, seed=2, level=0.0)))
    red = theil_sen(list(S.ar1(300, seed=2, phi=0.8, level=0.0)))
    assert white is not None and red is not None
    assert (red.high - red.low) > 1.5 * (white.high - white.low)


def test_long_series_use_block_medians_and_nan_is_skipped() -> None:
    y = list(S.gaussian(3000, seed=3, level=0.0) + 0.001 * np.arange(3000))
    y[10] = math.nan
    t = theil_sen(y)
    assert t is not None and t.points == 2000  # the most recent MAX_POINTS
    assert t.low < 0.001 < t.high


def test_too_few_points_or_one_time_give_none() -> None:
    assert theil_sen([1.0, 2.0]) is None
    assert theil_sen([1.0, math.nan, 2.0, math.nan]) is None
    same = [datetime(2026, 1, 1, tzinfo=UTC)] * 4
    assert theil_sen([1.0, 2.0, 3.0, 4.0], times=same) is None
