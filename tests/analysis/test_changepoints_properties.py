"""Properties of the change point analysis that hold for any input (Hypothesis)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from redline.analysis._cpfit import segment
from redline.analysis._cpscan import midranks, p_value
from redline.analysis.changepoints import analyze_series

values = st.lists(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
    min_size=0,
    max_size=80,
)


@settings(max_examples=60, deadline=None)
@given(values)
def test_any_series_is_analysed_deterministically_with_valid_events(ys: list[float]) -> None:
    a = analyze_series(ys)
    assert a == analyze_series(ys)
    assert a.length == len(ys)
    for e in a.events:
        assert 0 <= e.index < len(ys)
        assert 0.0 < e.p_value <= 1.0
        assert e.effect_low <= e.effect_high
        assert e.kind in {"regression", "improvement", "drift", "variance_change", "anomaly"}


@settings(max_examples=40, deadline=None)
@given(values, st.lists(st.integers(min_value=0, max_value=79), max_size=10))
def test_nan_points_shift_nothing_but_indexes(ys: list[float], holes: list[int]) -> None:
    with_holes = list(ys)
    for h in sorted(set(holes), reverse=True):
        if h <= len(with_holes):
            with_holes.insert(h, math.nan)
    finite = [i for i, v in enumerate(with_holes) if not math.isnan(v)]
    plain, holey = analyze_series(ys), analyze_series(with_holes)
    assert [(finite[e.index], e.kind) for e in plain.events] == [
        (e.index, e.kind) for e in holey.events
    ]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=0.1, max_value=100.0), min_size=10, max_size=80))
def test_level_splits_do_not_depend_on_the_scale_of_the_data(ys: list[float]) -> None:
    # Ranks: a strictly increasing transform (log, a change of unit) moves no split.
    y = np.array(ys)
    assert [s.at for s in segment(y, 0.001)] == [s.at for s in segment(np.log(y) * 3 + 7, 0.001)]


@given(st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=50))
def test_midranks_sum_like_ranks_and_respect_order(xs: list[int]) -> None:
    y = np.array(xs, dtype=float)
    r = midranks(y)
    assert r.sum() == len(y) * (len(y) + 1) / 2
    order = np.argsort(y, kind="stable")
    assert np.all(np.diff(r[order]) >= 0)


@given(st.integers(min_value=10, max_value=5000), st.floats(min_value=0, max_value=50))
def test_p_value_is_a_probability_falling_with_the_statistic(n: int, stat: float) -> None:
    p = p_value(n, stat)
    assert 0.0 < p <= 1.0
    assert p_value(n, stat + 0.5) <= p
