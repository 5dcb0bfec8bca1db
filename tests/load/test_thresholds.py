"""Thresholds in k6's syntax: parsing, errors that say how to fix them, and evaluation."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from redline import UsageError
from redline.load.thresholds import (
    METRICS,
    ThresholdError,
    ThresholdResult,
    evaluate,
    parse_key,
    parse_threshold,
    parse_thresholds,
    percentile_of,
)


class FakeSource:
    """Answers from a table keyed by (metric, stat, tags); absent means no data.

    It records what it was asked, so tests see the exact questions the engine must answer.
    """

    def __init__(self, table: Mapping[tuple[str, str, tuple[tuple[str, str], ...]], float]) -> None:
        self.table = dict(table)
        self.asked: list[tuple[str, str, dict[str, str]]] = []

    def stat(self, metric: str, stat: str, tags: Mapping[str, str]) -> float | None:
        self.asked.append((metric, stat, dict(tags)))
        return self.table.get((metric, stat, tuple(sorted(tags.items()))))


# Parsing


@pytest.mark.parametrize(
    ("expression", "stat", "op", "value"),
    [
        ("p(99)<200", "p(99)", "<", 200.0),
        ("p(99.9) <= 150", "p(99.9)", "<=", 150.0),
        (" p( 95 ) < 1.5s ", "p(95)", "<", 1500.0),
        ("p(50)>=250us", "p(50)", ">=", 0.25),
        ("p(100)<1m", "p(100)", "<", 60_000.0),
        ("p(0) > 0", "p(0)", ">", 0.0),
        ("avg<100", "avg", "<", 100.0),
        ("med != 3", "med", "!=", 3.0),
        ("min>0.5ms", "min", ">", 0.5),
        ("max==1e3", "max", "==", 1000.0),
    ],
)
def test_trend_expressions(expression: str, stat: str, op: str, value: float) -> None:
    t = parse_threshold("http_req_duration", expression)
    assert (t.metric, t.tags, t.stat, t.op, t.value) == ("http_req_duration", (), stat, op, value)
    assert t.expression == expression and t.key == "http_req_duration"


@pytest.mark.parametrize(
    ("key", "expression", "stat"),
    [
        ("http_req_failed", "rate<0.01", "rate"),
        ("checks", "rate>=0.99", "rate"),
        ("http_reqs", "count>100", "count"),
        ("http_reqs", "rate>=1000", "rate"),
        ("dropped_iterations", "count==0", "count"),
        ("data_received", "count<1e9", "count"),
        ("data_sent", "rate<1000000", "rate"),
        ("iterations", "count>0", "count"),
        ("iteration_duration", "p(90)<2000", "p(90)"),
    ],
)
def test_every_metric_has_its_stats(key: str, expression: str, stat: str) -> None:
    assert parse_threshold(key, expression).stat == stat


def test_keys_with_tags_tolerate_whitespace() -> None:
    assert parse_key("http_req_duration") == ("http_req_duration", ())
    assert parse_key(" http_reqs { name : GET /items } ") == (
        "http_reqs",
        (("name", "GET /items"),),
    )
    t = parse_threshold("http_req_duration{name:list}", "p(99)<150")
    assert t.tags == (("name", "list"),) and t.key == "http_req_duration{name:list}"


def test_percentile_of_reads_normalised_stats() -> None:
    assert percentile_of("p(99)") == 99.0
    assert percentile_of("p(99.9)") == 99.9
    assert percentile_of("avg") is None
    # What parse_threshold hands the source is always in the normalised form.
    assert parse_threshold("http_req_duration", "p(99.90)<1").stat == "p(99.9)"


@pytest.mark.parametrize(
    ("key", "expression", "message", "hint"),
    [
        ("http_req_duraton", "p(99)<1", "unknown metric 'http_req_duraton'", "'http_req_duration'"),
        ("latency", "p(99)<1", "unknown metric 'latency'", "metrics: http_req_duration"),
        ("http_req_duration{nme:x}", "p(99)<1", "has no tag 'nme'", "takes: name"),
        ("http_req_failed{status:500}", "rate<1", "has no tag 'status'", "takes: name"),
        ("checks{name:x}", "rate>1", "has no tag 'name'", "none"),
        ("http_req_duration{name}", "p(99)<1", "'name' in", "{name:VALUE}"),
        ("http_req_duration{}", "p(99)<1", "empty braces", "{name:VALUE}"),
        ("http_req_duration{name:a,name:b}", "p(99)<1", "appears twice", "keep one"),
        ("dropped_iterations{name:x}", "count<1", "has no tag 'name'", "none"),
        ("http_req_duration{name:x", "p(99)<1", "not a metric key", "{name:list}"),
        ("http_req_duration", "p99.9<200", "unknown statistic 'p99.9'", "p(99.9)"),
        ("http_req_duration", "p(101)<200", "from 0 to 100", "p(99.9)"),
        ("http_req_duration", "p(x)<200", "from 0 to 100", "p(99.9)"),
        ("http_req_duration", "p()<200", "from 0 to 100", "p(99.9)"),
        ("http_req_duration", "p_99<200", "unknown statistic 'p_99'", "p(N), avg, med"),
        ("http_req_duration", "mean<200", "unknown statistic 'mean'", "avg"),
        ("http_req_duration", "rate<0.1", "has no 'rate'", "p(99)<200"),
        ("http_req_duration", "p(99)=200", "not a threshold expression", "p(99)<200"),
        ("http_req_duration", "p(99)<", "not a threshold expression", "STAT OP VALUE"),
        ("http_req_duration", "p(99)<200 ms extra", "not a threshold expression", "OP VALUE"),
        ("http_req_duration", "p(99)<2h", "'h' in 'p(99)<2h' is not a unit", "1.5s"),
        ("http_req_failed", "rate<1%", "not a threshold expression", "rate<0.01"),
        ("http_req_failed", "p(99)<1", "http_req_failed has no percentiles", "rate<0.01"),
        ("http_req_failed", "count<1", "http_req_failed has no 'count'", "has rate"),
        ("http_reqs", "avg<1", "http_reqs has no 'avg'", "count, rate"),
        ("http_reqs", "count<5ms", "'ms' in 'count<5ms' is not a unit", "plain number"),
    ],
)
def test_bad_thresholds_say_what_and_how(
    key: str, expression: str, message: str, hint: str
) -> None:
    with pytest.raises(ThresholdError) as caught:
        parse_threshold(key, expression)
    assert message in caught.value.message
    assert caught.value.hint and hint in caught.value.hint
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, UsageError)
    assert caught.value.exit_code == 2


def test_a_non_text_expression_is_refused() -> None:
    with pytest.raises(ThresholdError, match="not text"):
        parse_threshold("http_req_duration", 200)  # type: ignore[arg-type]


def test_every_metric_lists_what_it_measures() -> None:
    for name, metric in METRICS.items():
        assert metric.description and metric.kind in {"trend", "rate", "counter"}, name


# Evaluation


def test_evaluate_asks_the_source_and_judges_each_expression() -> None:
    source = FakeSource(
        {
            ("http_req_duration", "p(99)", ()): 180.0,
            ("http_req_duration", "p(95)", ()): 120.0,
            ("http_req_duration", "p(99.9)", (("name", "list"),)): 140.0,
            ("http_req_failed", "rate", ()): 0.002,
            ("http_reqs", "rate", ()): 950.0,
        }
    )
    thresholds = {
        "http_req_duration": ["p(99)<200", "p(95)<100"],
        "http_req_failed": ["rate<0.01"],
        "http_req_duration{name:list}": ["p(99.9)<0.15s"],
        "http_reqs": ["rate>=1000"],
    }
    results = evaluate(thresholds, source)
    assert [(r.metric_key, r.expression, r.ok) for r in results] == [
        ("http_req_duration", "p(99)<200", True),
        ("http_req_duration", "p(95)<100", False),
        ("http_req_failed", "rate<0.01", True),
        ("http_req_duration{name:list}", "p(99.9)<0.15s", True),
        ("http_reqs", "rate>=1000", False),
    ]
    assert source.asked[3] == ("http_req_duration", "p(99.9)", {"name": "list"})
    assert results[1].observed == 120.0
    assert results[1].reason == "p(95) = 120ms, needs < 100ms"
    assert results[2].reason == "rate = 0.002, needs < 0.01"
    assert results[4].reason == "rate = 950/s, needs >= 1000/s"


def test_no_data_fails_and_says_so() -> None:
    source = FakeSource({("http_req_failed", "rate", ()): float("nan")})
    results = evaluate(
        {"http_req_duration{name:ghost}": ["p(99)<200"], "http_req_failed": ["rate<0.01"]}, source
    )
    assert [(r.ok, r.observed, r.reason) for r in results] == [
        (False, None, "no data"),
        (False, None, "no data"),
    ]


@pytest.mark.parametrize(
    ("op", "observed", "ok"),
    [
        ("<", 10.0, False),
        ("<=", 10.0, True),
        (">", 10.0, False),
        (">=", 10.0, True),
        ("==", 10.0, True),
        ("!=", 10.0, False),
        ("<", 9.99, True),
        (">", 10.01, True),
    ],
)
def test_operators_at_their_edges(op: str, observed: float, ok: bool) -> None:
    source = FakeSource({("dropped_iterations", "count", ()): observed})
    [result] = evaluate({"dropped_iterations": [f"count{op}10"]}, source)
    assert result.ok is ok


def test_a_single_string_is_one_expression() -> None:
    source = FakeSource({("checks", "rate", ()): 1.0})
    [result] = evaluate({"checks": "rate>0.99"}, source)  # type: ignore[dict-item]
    assert result.ok


def test_a_bad_threshold_stops_evaluation_before_asking() -> None:
    source = FakeSource({})
    with pytest.raises(ThresholdError):
        evaluate({"http_req_duration": ["p(99)<200"], "checks": ["p(99)<1"]}, source)
    assert source.asked == []


def test_results_serialise_to_plain_data() -> None:
    result = ThresholdResult(
        "http_req_failed", "rate<0.01", False, 0.02, "rate = 0.02, needs < 0.01"
    )
    assert result.to_dict() == {
        "metric_key": "http_req_failed",
        "expression": "rate<0.01",
        "ok": False,
        "observed": 0.02,
        "reason": "rate = 0.02, needs < 0.01",
    }


def test_a_key_without_expressions_is_still_checked() -> None:
    assert parse_thresholds({"checks": []}) == []
    with pytest.raises(ThresholdError, match="unknown metric"):
        parse_thresholds({"a_bad_metric": []})
