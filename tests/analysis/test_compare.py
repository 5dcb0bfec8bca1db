"""compare_samples / compare_many / compare_distributions: verdicts, evidence, bad input."""

from __future__ import annotations

import doctest
import json
import math

import numpy as np
import pytest

from redline._errors import DataError
from redline.analysis import compare
from redline.analysis.compare import (
    MetricSamples,
    compare_distributions,
    compare_many,
    compare_samples,
)
from redline.load.hist import encode, new_histogram, record_counts


def lognormal(seed: int, n: int, level: float = 100.0, noise: float = 0.05) -> np.ndarray:
    return level * np.random.default_rng(seed).lognormal(0.0, noise, n)


def test_doctests() -> None:
    assert doctest.testmod(compare).failed == 0


@pytest.mark.parametrize(
    ("direction", "factor", "verdict"),
    [
        ("lower", 1.2, "regressed"),
        ("lower", 0.8, "improved"),
        ("higher", 1.2, "improved"),
        ("higher", 0.8, "regressed"),
        ("none", 1.2, "changed"),
        ("none", 0.8, "changed"),
        ("lower", 1.0, "unchanged"),
        ("higher", 1.0, "unchanged"),
        ("none", 1.0, "unchanged"),
    ],
)
def test_direction_decides_which_way_is_worse(direction: str, factor: float, verdict: str) -> None:
    c = compare_samples(
        lognormal(1, 20), lognormal(2, 20) * factor, metric="m", direction=direction
    )  # type: ignore[arg-type]
    assert c.verdict == verdict, c.reason
    if factor != 1.0:
        assert c.significant and c.p_value is not None and c.p_value < 0.01
        assert c.interval_rel is not None
        assert c.interval_rel[0] < factor - 1 < c.interval_rel[1]


def test_a_regression_states_its_evidence() -> None:
    c = compare_samples(lognormal(1, 30), lognormal(2, 30) * 1.10, metric="p99_ms", unit="ms")
    assert c.verdict == "regressed"
    assert c.change_pct is not None and 7 < c.change_pct < 13
    assert c.baseline is not None and c.candidate is not None and c.candidate > c.baseline
    assert c.change_abs is not None and 7 < c.change_abs < 13
    assert c.interval_abs is not None and c.interval_abs[0] > 0
    assert c.test == "mann-whitney (exact)" and c.scale == "log"
    assert (c.n_baseline, c.n_candidate, c.confidence) == (30, 30, 0.99)
    assert c.runs_needed is None and "significant" in c.reason and "5 %" in c.reason
    doc = c.to_dict()
    json.dumps(doc, allow_nan=False)
    assert doc["verdict"] == "regressed" and doc["interval"][0] > 0
    assert doc["noise_pct"] == pytest.approx(5, abs=1.5)


def test_min_effect_turns_a_real_but_tiny_change_into_unchanged() -> None:
    base, cand = lognormal(1, 40, noise=0.005), lognormal(2, 40, noise=0.005) * 1.02
    c = compare_samples(base, cand, metric="m")
    assert c.significant and c.verdict == "unchanged"
    assert "real" in c.reason and "within the minimum effect 5 %" in c.reason
    assert compare_samples(base, cand, metric="m", min_effect_rel=0.01).verdict == "regressed"


def test_min_effect_abs_must_be_exceeded_too() -> None:
    base, cand = lognormal(1, 30, level=0.1), lognormal(2, 30, level=0.1) * 1.3  # +30 %, 0.03 ms
    assert compare_samples(base, cand, metric="m").verdict == "regressed"
    c = compare_samples(base, cand, metric="m", unit="ms", min_effect_abs=0.5)
    assert c.verdict == "unchanged" and "0.5 ms" in c.reason


def test_too_few_runs_are_inconclusive_with_the_runs_that_would_decide() -> None:
    c = compare_samples([100, 101], [130, 131, 129, 128], metric="m")
    assert c.verdict == "inconclusive" and c.p_value is not None
    assert "too few runs (2 baseline, 4 candidate)" in c.reason
    assert c.runs_needed is not None and c.runs_needed >= 5
    assert c.more_runs() == {"baseline": c.runs_needed - 2, "candidate": c.runs_needed - 4}
    assert f"about {c.runs_needed} a side" in c.reason


def test_below_the_rank_tests_floor_students_t_decides() -> None:
    """4 a side can never reach p < 0.01 with ranks; with 3+ baseline runs the t test on
    the log scale decides instead, and says so."""
    c = compare_samples([100, 101, 99, 102], [130, 131, 129, 128], metric="m")
    assert c.verdict == "regressed", c.reason
    assert c.test is not None and c.test.startswith("student t (4 vs 4 runs")
    same = compare_samples([100, 101, 99, 102], [100.5, 99.5, 101.2], metric="m")
    assert same.verdict == "unchanged", same.reason


def test_noisy_runs_are_inconclusive_and_the_runs_named_then_decide() -> None:
    base, cand = lognormal(1, 10, noise=0.15), lognormal(2, 10, noise=0.15)
    c = compare_samples(base, cand, metric="m")
    assert c.verdict == "inconclusive", c.reason
    assert c.runs_needed is not None and c.runs_needed > 10
    assert "too noisy to rule out the minimum effect 5 %" in c.reason
    # with the runs it named, the same noise gives an answer most of the time
    decided = sum(
        compare_samples(
            lognormal(10 + s, c.runs_needed, noise=0.15),
            lognormal(500 + s, c.runs_needed, noise=0.15),
            metric="m",
        ).verdict
        == "unchanged"
        for s in range(40)
    )
    assert decided >= 28


def test_a_big_change_that_is_not_significant_is_inconclusive() -> None:
    base = [100, 140, 90, 160, 85, 150]
    cand = [120, 170, 95, 180, 100, 175]
    c = compare_samples(base, cand, metric="m")
    assert not c.significant and c.change_pct is not None and c.change_pct > 5
    assert c.verdict == "inconclusive" and "may be noise" in c.reason
    assert c.runs_needed is not None and c.runs_needed > 6


def test_identical_constant_sides_are_unchanged() -> None:
    c = compare_samples([5.0] * 8, [5.0] * 8, metric="m")
    assert c.verdict == "unchanged" and c.change_abs == 0.0 and c.noise_sd == 0.0


def test_values_that_are_zero_or_negative_use_the_linear_scale() -> None:
    c = compare_samples([0, 1, 0, 2, 1, 0, 1, 1], [5, 6, 5, 7, 6, 5, 6, 6], metric="errors")
    assert c.scale == "linear" and c.verdict == "regressed"
    z = compare_samples([-1, 1, 0, -1, 1, 0], [-1, 1, 0, 1, -1, 0], metric="drift")
    assert z.change_rel is None and z.change_pct is None and z.verdict == "unchanged"
    assert z.to_dict()["change_pct"] is None


def test_missing_values_are_dropped_and_counted() -> None:
    base = [*lognormal(1, 10), math.nan, math.nan]
    c = compare_samples(base, [math.nan, *lognormal(2, 10)], metric="m")
    assert (c.n_baseline, c.dropped_baseline, c.n_candidate, c.dropped_candidate) == (10, 2, 10, 1)


@pytest.mark.parametrize("side", ["baseline", "candidate"])
def test_an_empty_side_is_inconclusive_not_a_pass(side: str) -> None:
    values = list(lognormal(1, 10))
    empty = [math.nan, math.nan]
    base, cand = (empty, values) if side == "baseline" else (values, empty)
    c = compare_samples(base, cand, metric="m")
    assert c.verdict == "inconclusive" and f"no {side} values" in c.reason
    assert c.p_value is None and c.runs_needed is not None
    json.dumps(c.to_dict(), allow_nan=False)
    both = compare_samples([], [], metric="m")
    assert both.verdict == "inconclusive" and both.noise_sd is None


def test_bad_values_and_settings_are_refused() -> None:
    with pytest.raises(DataError, match="metric 'm': the candidate has an infinite value"):
        compare_samples([1, 2, 3], [1, math.inf], metric="m")
    with pytest.raises(DataError, match="not a number"):
        compare_samples([1, 2, 3], ["fast", 2], metric="m")  # type: ignore[list-item]
    with pytest.raises(ValueError, match="direction"):
        compare_samples([1], [2], metric="m", direction="up")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="alpha"):
        compare_samples([1], [2], metric="m", alpha=1.5)
    with pytest.raises(ValueError, match="negative"):
        compare_samples([1], [2], metric="m", min_effect_rel=-0.1)


def test_compare_many_reports_its_fdr_setting_and_per_metric_settings() -> None:
    items = [
        MetricSamples("p99_ms", lognormal(1, 20), lognormal(2, 20) * 1.2, unit="ms"),
        MetricSamples("rps", lognormal(3, 20), lognormal(4, 20) * 1.2, direction="higher"),
        MetricSamples("cpu", lognormal(5, 20), lognormal(6, 20) * 1.03, min_effect_rel=0.01),
        MetricSamples("flat", lognormal(7, 20), lognormal(8, 20)),
    ]
    result = compare_many(items)
    verdicts = {m.metric: m.verdict for m in result.metrics}
    assert verdicts == {
        "p99_ms": "regressed",
        "rps": "improved",
        "cpu": "regressed",
        "flat": "unchanged",
    }
    assert all(m.q_value is not None for m in result.metrics)
    doc = result.to_dict()
    json.dumps(doc, allow_nan=False)
    assert doc["fdr"] == {"method": "benjamini-hochberg", "q": 0.05, "tests": 4}
    assert doc["counts"] == {"regressed": 2, "improved": 1, "unchanged": 1}
    assert [m.metric for m in result.regressed] == ["p99_ms", "cpu"]
    off = compare_many({"a": (lognormal(1, 9), lognormal(2, 9))}, fdr=None)
    assert off.to_dict()["fdr"]["method"] == "none" and off.metrics[0].q_value is None


def test_fdr_holds_back_a_marginal_p_value_among_many() -> None:
    """A p-value just under alpha on its own is not a discovery among 50 null metrics."""
    base = [100, 101, 102, 103, 104, 105, 106, 107, 108, 109]
    cand = [103.5, 105.5, 106.5, 107.5, 108.5, 109.5, 110.5, 111.5, 112.5, 113.5]
    alone = compare_samples(base, cand, metric="x", min_effect_rel=0.01)
    assert alone.p_value is not None and 0.001 < alone.p_value < 0.01
    assert alone.verdict == "regressed"
    pairs = {"x": (base, cand)} | {
        f"null{i}": (lognormal(i, 10), lognormal(1000 + i, 10)) for i in range(50)
    }
    crowd = compare_many(pairs, min_effect_rel=0.01)
    x = crowd.metrics[0]
    assert x.metric == "x" and x.q_value is not None and x.q_value > 0.05
    assert not x.significant and x.verdict != "regressed"


def test_compare_many_refuses_duplicate_names_and_bad_fdr() -> None:
    with pytest.raises(ValueError, match="more than once: a"):
        compare_many([MetricSamples("a", [1], [2]), MetricSamples("a", [1], [2])])
    with pytest.raises(ValueError, match="fdr"):
        compare_many({"a": ([1], [2])}, fdr=0.0)


def _hist(values_us: np.ndarray) -> str:
    h = new_histogram()
    record_counts(h, [int(v) for v in values_us])
    return encode(h)


def test_compare_distributions_says_noise_is_unknown() -> None:
    rng = np.random.default_rng(1)
    base = _hist(rng.lognormal(np.log(5000), 0.4, 20_000))
    slow = _hist(rng.lognormal(np.log(6000), 0.4, 20_000))  # +20 %
    d = compare_distributions(base, slow, metric="GET /")
    assert d.verdict == "regressed" and d.advisory and not d.noise_known
    assert "run-to-run noise is unknown" in d.note and "advisory" in d.reason
    assert d.shift_rel is not None and 0.17 < d.shift_rel < 0.23
    assert d.prob_larger is not None and d.prob_larger > 0.6
    assert d.ks is not None and 0.1 < d.ks < 0.3
    p50_base, _, p50_change = d.percentiles["p50"]
    assert 4.8 < p50_base < 5.2 and p50_change is not None and 0.15 < p50_change < 0.25
    doc = d.to_dict()
    json.dumps(doc, allow_nan=False)
    assert doc["noise_known"] is False and set(doc["percentiles"]) == {"p50", "p90", "p99", "p999"}

    same = compare_distributions(base, _hist(rng.lognormal(np.log(5000), 0.4, 20_000)), metric="x")
    assert same.verdict == "unchanged" and same.prob_larger == pytest.approx(0.5, abs=0.02)
    faster = compare_distributions(slow, base, metric="x")
    assert faster.verdict == "improved"


def test_compare_distributions_bad_and_empty_input() -> None:
    empty = encode(new_histogram())
    d = compare_distributions(empty, _hist(np.array([1000, 2000])), metric="x")
    assert d.verdict == "inconclusive" and "baseline histogram holds no values" in d.reason
    with pytest.raises(DataError, match="not an HdrHistogram"):
        compare_distributions("not-a-histogram", empty, metric="x")


def test_compare_distributions_takes_histograms_and_bytes_too() -> None:
    from redline.load.hist import decode

    rng = np.random.default_rng(2)
    base = _hist(rng.lognormal(np.log(5000), 0.3, 5000))
    cand = _hist(rng.lognormal(np.log(5000), 0.3, 5000))
    as_objects = compare_distributions(decode(base), decode(cand), metric="x")
    as_bytes = compare_distributions(base.encode(), cand.encode(), metric="x")
    assert as_objects.to_dict() == as_bytes.to_dict()
    assert as_objects.verdict == "unchanged" and as_objects.count_baseline == 5000
