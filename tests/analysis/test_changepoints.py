"""Change point analysis: kinds, levels, evidence, NaN, determinism, incremental state."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from redline._errors import DataError
from redline.analysis import synthetic as S
from redline.analysis._cpscan import midranks, p_value, scan, simulate_null, threshold
from redline.analysis.changepoints import analyze_series


def test_a_step_up_is_a_regression_for_latency_and_an_improvement_for_throughput() -> None:
    y = S.step(200, at=120, k_sigma=3.0, seed=1)
    lower = analyze_series(y, direction="lower").change_points
    higher = analyze_series(y, direction="higher").change_points
    none = analyze_series(y, direction="none").change_points
    assert [(e.index, e.kind, e.worse) for e in lower] == [(120, "regression", True)]
    assert [(e.kind, e.worse) for e in higher] == [("improvement", False)]
    assert [(e.kind, e.worse) for e in none] == [("change", None)]


def test_event_levels_effect_interval_and_evidence() -> None:
    y = S.step(300, at=150, k_sigma=2.0, seed=2, level=100.0)
    (e,) = analyze_series(y).change_points
    assert abs(e.before - 100.0) < 0.3 and abs(e.after - 102.0) < 0.3
    assert e.change_pct is not None and abs(e.change_pct - 2.0) < 0.3
    assert e.effect_low < e.effect < e.effect_high and e.effect_low < 2.0 < e.effect_high
    assert e.p_value < 1e-6 and e.score > 1.0
    assert abs(e.index - 150) <= 2 and e.points_before + e.points_after == 300
    assert not e.pending


def test_stable_series_has_no_change_and_a_flat_trend() -> None:
    r = analyze_series(S.gaussian(500, seed=3))
    assert r.events == () and len(r.segments) == 1
    assert r.trend is not None and not r.trend.significant


def test_nan_points_are_skipped_and_indexes_stay_those_of_the_input() -> None:
    y = S.step(200, at=100, k_sigma=4.0, seed=4)
    y[[10, 11, 12, 98, 99, 150]] = math.nan
    r = analyze_series(list(y))
    assert [e.index for e in r.change_points] == [100]
    assert r.length == 200 and r.points == 194
    assert r.segments[0].start == 0 and r.segments[-1].end == 199


def test_nan_just_before_the_change_still_reports_the_first_new_point() -> None:
    y = S.step(200, at=100, k_sigma=4.0, seed=4)
    y[100:103] = math.nan
    (e,) = analyze_series(y).change_points
    assert e.index == 103


def test_constant_series_is_reported_as_constant_not_as_an_error() -> None:
    r = analyze_series([5.0] * 50)
    assert r.constant and r.events == ()
    assert any("constant" in note for note in r.notes)


def test_too_short_to_split_says_so() -> None:
    r = analyze_series([1.0, 2.0, 3.0, 10.0])
    assert r.change_points == [] and "too few" in r.notes[0]


def test_all_nan_says_there_is_nothing() -> None:
    r = analyze_series([math.nan] * 5)
    assert r.points == 0 and r.events == () and r.notes


def test_ties_do_not_make_a_trend() -> None:
    # Quantised data: ordinal ranks would turn runs of equal values into a fake ramp.
    y = np.round(S.gaussian(400, seed=5, level=10.0, sigma=0.3))
    assert analyze_series(y).change_points == []


def test_an_isolated_spike_is_a_pending_anomaly_not_a_regression() -> None:
    y = S.spike(300, at=200, k_sigma=12.0, seed=6)
    r = analyze_series(y)
    assert r.change_points == []
    (a,) = r.anomalies
    assert (a.index, a.kind, a.pending, a.worse) == (200, "anomaly", True, True)
    assert a.after > a.before and a.p_value < 1e-6


def test_a_bimodal_latency_series_has_no_anomalies_and_no_changes() -> None:
    r = analyze_series(S.bimodal(500, seed=7))
    assert r.events == ()


def test_gross_outliers_are_anomalies_not_change_points() -> None:
    y = S.gaussian(300, seed=8)
    y[[50, 51, 180]] += [25.0, -30.0, 40.0]
    r = analyze_series(y)
    assert r.change_points == []
    assert [a.index for a in r.anomalies] == [50, 51, 180]


def test_a_ramp_is_one_drift_episode_with_start_and_end() -> None:
    y = S.ramp(500, start=150, end=350, total=4.0, seed=9)
    r = analyze_series(y)
    (d,) = r.change_points
    assert d.kind == "drift" and d.worse
    assert d.end is not None and 120 <= d.index <= 180 and 320 <= d.end <= 380
    assert abs(d.after - d.before - 4.0) < 0.5
    assert d.slope is not None and d.slope_per == "point" and 0.01 < d.slope < 0.03
    assert [s.kind for s in r.segments] == ["flat", "ramp", "flat"]


def test_a_trend_over_the_whole_series_is_one_drift_of_at_most_two_segments() -> None:
    y = S.gaussian(500, seed=10) + np.linspace(0.0, 5.0, 500)
    r = analyze_series(y)
    assert [e.kind for e in r.change_points] == ["drift"]
    assert len(r.segments) <= 2


def test_a_variance_change_is_reported_as_such() -> None:
    y = S.variance_change(400, at=200, factor=4.0, seed=11)
    (v,) = analyze_series(y).change_points
    assert v.kind == "variance_change" and abs(v.index - 200) <= 10
    assert 2.5 < v.after / v.before < 6.0 and v.worse


def test_times_and_labels_give_the_commit_range_and_the_time() -> None:
    y = S.step(60, at=30, k_sigma=5.0, seed=12)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    times = [start + timedelta(hours=i) for i in range(60)]
    labels = [f"c{i:03d}" for i in range(60)]
    (e,) = analyze_series(y, times=times, labels=labels).change_points
    assert (e.label_before, e.label) == ("c029", "c030")
    assert e.time == times[30].isoformat()


def test_result_is_deterministic_and_json_serialisable() -> None:
    y = S.step(300, at=100, k_sigma=1.5, seed=13, kind="ar1", phi=0.3)
    a, b = analyze_series(y), analyze_series(y)
    assert a == b
    text = json.dumps(a.to_dict(), allow_nan=False)
    assert json.loads(text)["change_points"][0]["kind"] == "regression"


def test_bad_arguments_are_data_errors() -> None:
    with pytest.raises(DataError, match="direction"):
        analyze_series([1.0, 2.0], direction="up")
    with pytest.raises(DataError, match=r"value 1 \('x'\) is not a number"):
        analyze_series([1.0, "x"])  # type: ignore[list-item]
    with pytest.raises(DataError, match="times has 1 entries for 2 values"):
        analyze_series([1.0, 2.0], times=[datetime(2026, 1, 1, tzinfo=UTC)])


# --- incremental ------------------------------------------------------------------------


def _fixture() -> np.ndarray:
    y = S.gaussian(300, seed=5)
    y[100:] += 3.0
    y[200:] -= 5.0
    y[250] += 30.0
    return y


def test_incremental_and_full_analysis_agree() -> None:
    y = _fixture()
    full = analyze_series(y)
    state = None
    for lo in range(0, 300, 50):
        part = analyze_series(y[lo : lo + 50], state=state)
        state = json.loads(json.dumps(part.state))  # what a store would keep
    assert (
        [(e.index, e.kind) for e in part.events]
        == [(e.index, e.kind) for e in full.events]
        == [(100, "regression"), (200, "improvement"), (250, "anomaly")]
    )
    for inc, whole in zip(part.events, full.events, strict=True):
        assert inc.before == pytest.approx(whole.before, rel=0.01)
        assert inc.after == pytest.approx(whole.after, rel=0.01)
    assert part.trend == full.trend and part.length == 300 and part.points == 300


def test_incremental_state_keeps_only_the_stretch_since_the_last_confirmed_change() -> None:
    y = _fixture()
    r = analyze_series(y[:230])
    assert r.state["anchor"] == 200  # the change at 200 has 30 points after it
    assert len(r.state["values"]) == 30
    assert [e["index"] for e in r.state["events"]] == [100, 200]


def test_a_bad_or_foreign_state_is_a_data_error() -> None:
    state = analyze_series(_fixture()[:150]).state
    with pytest.raises(DataError, match="direction"):
        analyze_series([1.0], state=state, direction="higher")
    with pytest.raises(DataError, match="cannot be read"):
        analyze_series([1.0], state={"version": 1, "direction": "lower"})
    with pytest.raises(DataError, match="version"):
        analyze_series([1.0], state={**state, "version": 99})


# --- the scan and its calibration -------------------------------------------------------


def test_midranks_share_ties() -> None:
    assert list(midranks(np.array([3.0, 1.0, 3.0, 2.0]))) == [3.5, 1.0, 3.5, 2.0]


def test_threshold_matches_a_fresh_simulation_of_the_null() -> None:
    # The tabulated 1 % quantile for 50 points, re-simulated with another seed.
    sample = simulate_null(50, 4000, seed=7)
    assert abs(float(np.quantile(sample, 0.99)) - threshold(50, 0.01)) < 0.15


def test_p_value_falls_as_the_statistic_grows_and_matches_the_threshold() -> None:
    assert p_value(500, threshold(500, 0.001)) == pytest.approx(0.001, rel=0.01)
    ps = [p_value(500, s) for s in (0.5, 2.0, 3.0, 4.0, 5.0, 8.0)]
    assert ps == sorted(ps, reverse=True) and ps[-1] < 1e-6


def test_scan_finds_the_split_and_ignores_too_short_stretches() -> None:
    y = S.step(100, at=60, k_sigma=3.0, seed=1)
    found = scan(y)
    assert found is not None and abs(found.k - 60) <= 2
    assert scan(y[:9]) is None


def test_a_regression_in_the_last_five_runs_is_reported_pending() -> None:
    y = S.gaussian(105, seed=21)
    y[100:] += 4.0
    (e,) = analyze_series(y).change_points
    assert (e.kind, e.pending) == ("regression", True)
    assert abs(e.index - 100) <= 1 and e.points_after == 105 - e.index
    # Ten more runs at the new level: the scan confirms it and it is no longer pending.
    more = np.r_[y, S.gaussian(10, seed=22) + 4.0]
    (e,) = analyze_series(more).change_points
    assert (e.kind, e.pending) == ("regression", False) and abs(e.index - 100) <= 1


def test_the_tail_test_is_quiet_on_stable_series() -> None:
    late = 0
    for i in range(300):
        late += any(e.pending for e in analyze_series(S.gaussian(60, seed=9_000 + i)).events
                    if e.kind != "anomaly")  # fmt: skip
    assert late <= 3
