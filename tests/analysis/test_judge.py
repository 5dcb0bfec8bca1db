"""The canary judge: scores, critical metrics, the no-data policy, the evidence."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pytest

from redline.analysis import judge as judge_module
from redline.analysis.judge import MetricInput, judge


def runs(seed: int, n: int = 20, level: float = 100.0, noise: float = 0.03) -> list[float]:
    return list(level * np.random.default_rng(seed).lognormal(0, noise, n))


def same(name: str, seed: int, **kwargs: object) -> MetricInput:
    return MetricInput(name, runs(seed), runs(seed + 1000), **kwargs)  # type: ignore[arg-type]


def slower(name: str, seed: int, factor: float = 1.3, **kwargs: object) -> MetricInput:
    cand = [v * factor for v in runs(seed + 1000)]
    return MetricInput(name, runs(seed), cand, **kwargs)  # type: ignore[arg-type]


def test_doctests() -> None:
    assert doctest.testmod(judge_module).failed == 0


def test_a_healthy_canary_passes_with_evidence() -> None:
    j = judge([same("p99_ms", 1, critical=True), same("rps", 2, direction="higher")])
    assert (j.result, j.score) == ("pass", 100.0)
    assert [m.outcome for m in j.metrics] == ["pass", "pass"]
    doc = j.to_dict()
    json.dumps(doc, allow_nan=False)
    assert doc["schema_version"] == 1 and doc["no_data"] == "inconclusive"
    assert doc["metrics"][0]["comparison"]["verdict"] == "unchanged"


def test_a_critical_regression_fails_whatever_the_score() -> None:
    metrics = [same(f"m{i}", i) for i in range(30)] + [slower("p99_ms", 99, critical=True)]
    j = judge(metrics)
    assert j.score is not None and j.score > 95
    assert j.result == "fail" and "critical metric failed: p99_ms" in j.reason
    bad = j.metrics[-1]
    assert bad.outcome == "fail" and bad.comparison.verdict == "regressed"


def test_score_thresholds_make_marginal_and_fail() -> None:
    ten = [same(f"m{i}", i) for i in range(9)]
    marginal = judge([*ten, slower("cpu", 50)])  # 9 of 10 pass: 90
    assert (marginal.result, marginal.score) == ("marginal", 90.0)
    assert "failed: cpu" in marginal.reason
    failing = judge([*ten[:2], slower("a", 51), slower("b", 52)])  # 2 of 4: 50
    assert (failing.result, failing.score) == ("fail", 50.0)
    lenient = judge([*ten[:2], slower("a", 51), slower("b", 52)], marginal_score=40)
    assert lenient.result == "marginal"


def test_weights_count_in_the_score() -> None:
    j = judge([same("a", 1, weight=3.0), slower("b", 2, weight=1.0)], marginal_score=70)
    assert (j.result, j.score) == ("marginal", 75.0)


def test_tolerance_lets_a_small_regression_pass() -> None:
    assert judge([slower("p99", 1, factor=1.08, tolerance=0.05)]).result == "fail"
    assert judge([slower("p99", 1, factor=1.08, tolerance=0.15)]).result == "pass"


def test_an_improvement_passes_and_direction_is_respected() -> None:
    assert judge([slower("p99", 1, factor=0.7)]).result == "pass"
    assert judge([slower("rps", 1, factor=0.7, direction="higher")]).result == "fail"
    assert judge([slower("rps", 1, factor=1.3, direction="higher")]).result == "pass"


def test_an_inconclusive_critical_metric_holds_at_marginal() -> None:
    noisy = MetricInput("p99", runs(1, n=6, noise=0.3), runs(2, n=6, noise=0.3), critical=True)
    j = judge([noisy, same("rps", 3)])
    assert j.metrics[0].outcome == "inconclusive"
    assert j.score == 100.0 and j.result == "marginal" and "wait for more data" in j.reason
    # not critical: counted as a pass, as Kayenta counts "no significant difference"
    relaxed = MetricInput("p99", noisy.baseline, noisy.canary, critical=False)
    assert judge([relaxed, same("rps", 3)]).result == "pass"


@pytest.mark.parametrize(
    ("policy", "critical", "result", "counted"),
    [
        ("fail", False, "fail", "fail"),
        ("fail", True, "fail", "fail"),
        ("pass", False, "pass", "pass"),
        ("inconclusive", False, "marginal", "excluded"),
        ("inconclusive", True, "marginal", "excluded"),
    ],
)
def test_no_data_policy(policy: str, critical: bool, result: str, counted: str) -> None:
    empty = MetricInput("errors", runs(1), [], critical=critical)
    j = judge([empty, same("p99", 2)], no_data=policy)  # type: ignore[arg-type]
    assert j.result == result, j.reason
    ev = j.metrics[0]
    assert ev.outcome == "no_data" and ev.counted_as == counted
    assert f"no-data policy: {policy}" in ev.reason and "no candidate values" in ev.reason


def test_nothing_scored_is_marginal_never_a_pass() -> None:
    j = judge([MetricInput("a", [], [1.0, 2.0])])
    assert (j.result, j.score) == ("marginal", None) and "no metric could be scored" in j.reason


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="no_data"):
        judge([same("a", 1)], no_data="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="marginal_score"):
        judge([same("a", 1)], pass_score=70, marginal_score=80)
    with pytest.raises(ValueError, match="at least one metric"):
        judge([])
    with pytest.raises(ValueError, match="weight"):
        judge([same("a", 1, weight=0.0)])
    with pytest.raises(ValueError, match="more than once"):
        judge([same("a", 1), same("a", 2)])
