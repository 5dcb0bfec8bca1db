"""Thresholds: pass/fail criteria on a load test's metrics, written as k6 writes them.

A threshold is a metric key, optionally narrowed by tags, and one or more
expressions; the run fails (exit 1) when any expression does not hold::

    thresholds:
      http_req_duration: ["p(99)<200", "p(95)<100"]
      http_req_failed: ["rate<0.01"]
      "http_req_duration{name:list}": ["p(99.9) < 150ms"]

>>> t = parse_threshold("http_req_duration{name:list}", "p(99.9) < 1.5s")
>>> (t.metric, t.tags, t.stat, t.op, t.value)
('http_req_duration', (('name', 'list'),), 'p(99.9)', '<', 1500.0)
>>> t.holds(1200.0)
True

Durations are in milliseconds (a unit may be written: ``200ms``, ``1.5s``);
``rate`` is a fraction for ``http_req_failed`` and ``checks`` and a per-second
rate for counters; ``count`` is a plain count (bytes for ``data_*``).

The engine's result answers :class:`ThresholdSource`; :func:`evaluate` judges
every expression against it. A threshold on a metric with no data fails with
the reason "no data": what could not be measured never passes.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from redline._errors import UsageError

__all__ = [
    "METRICS",
    "TAGS",
    "Metric",
    "Threshold",
    "ThresholdError",
    "ThresholdResult",
    "ThresholdSource",
    "evaluate",
    "parse_key",
    "parse_threshold",
    "parse_thresholds",
    "percentile_of",
]

TREND_STATS = ("avg", "med", "min", "max")  # and p(N)
# Tags a threshold may narrow a metric by; the engine's ThresholdSource must honour each.
TAGS = ("name",)


@dataclass(frozen=True, slots=True)
class Metric:
    """A metric thresholds may name: which statistics it has and in what unit."""

    kind: str  # "trend" (a distribution), "rate" (a fraction), "counter"
    unit: str  # how a value prints: "ms", "", "B"
    description: str
    tags: tuple[str, ...] = TAGS

    @property
    def stats(self) -> tuple[str, ...]:
        if self.kind == "trend":
            return ("p(N)", *TREND_STATS)
        if self.kind == "rate":
            return ("rate",)
        return ("count", "rate")


METRICS: Mapping[str, Metric] = {
    "http_req_duration": Metric("trend", "ms", "time from the intended send to the last byte"),
    "iteration_duration": Metric("trend", "ms", "time of a whole iteration", tags=()),
    "http_req_failed": Metric("rate", "", "failed requests / requests"),
    "checks": Metric("rate", "", "checks passed / checks made", tags=()),
    "http_reqs": Metric("counter", "", "requests sent"),
    "iterations": Metric("counter", "", "iterations finished", tags=()),
    "dropped_iterations": Metric("counter", "", "iterations that could not start", tags=()),
    "data_received": Metric("counter", "B", "bytes received", tags=()),
    "data_sent": Metric("counter", "B", "bytes sent", tags=()),
}

_OPS: Mapping[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_KEY = re.compile(r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_]*)\s*(?:\{(?P<tags>[^{}]*)\})?\s*$")
_EXPRESSION = re.compile(
    r"""^\s*
    (?P<stat>[A-Za-z_][A-Za-z0-9_.]*(?:\s*\(\s*(?P<pct>[^)]*?)\s*\))?)
    \s*(?P<op><=|>=|==|!=|<|>)\s*
    (?P<value>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)
    \s*(?P<unit>[A-Za-zµ]*)\s*$""",
    re.VERBOSE,
)
_MS_PER_UNIT = {"us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_FORMS = "p(99)<200, p(99.9)<=1.5s, avg<100, med<50, min>0, max<1000, rate<0.01, count>=100"
_PERCENTILE = re.compile(r"^p\((?P<pct>\d+(?:\.\d+)?)\)$")


class ThresholdError(UsageError):
    """A threshold key or expression that cannot be read; ``hint`` lists what can."""


@dataclass(frozen=True, slots=True)
class Threshold:
    """One parsed expression on one metric key, e.g. ``p(99)<200`` on ``http_req_duration``."""

    key: str  # as written, e.g. "http_req_duration{name:list}"
    expression: str  # as written
    metric: str
    tags: tuple[tuple[str, str], ...]
    stat: str  # normalised: "p(99)", "p(99.9)", "avg", "med", "min", "max", "rate", "count"
    op: str
    value: float  # in the metric's unit (milliseconds for durations)

    def holds(self, observed: float) -> bool:
        """Whether ``observed`` (in the metric's unit) satisfies the expression."""
        return _OPS[self.op](observed, self.value)


@dataclass(frozen=True, slots=True)
class ThresholdResult:
    """How one expression fared: ``observed`` is None when there was no data."""

    metric_key: str
    expression: str
    ok: bool
    observed: float | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class ThresholdSource(Protocol):
    """What a finished (or running) load test answers: one statistic of one metric.

    ``stat`` is ``"p(99)"``, ``"p(99.9)"``, ``"avg"``, ``"med"``, ``"min"``, ``"max"``,
    ``"rate"`` or ``"count"``; ``tags`` narrows the metric (``{"name": "list"}``; empty
    for the whole run). Durations are answered in milliseconds. None means no data.
    """

    def stat(self, metric: str, stat: str, tags: Mapping[str, str]) -> float | None: ...


def percentile_of(stat: str) -> float | None:
    """The percentile a normalised stat asks for (``"p(99.9)"`` -> 99.9), else None.

    >>> percentile_of("p(99.9)"), percentile_of("avg")
    (99.9, None)
    """
    match = _PERCENTILE.match(stat)
    return float(match.group("pct")) if match else None


def parse_key(key: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The metric and tags of a key such as ``http_req_duration{name:list}``.

    >>> parse_key("http_reqs{ name: create }")
    ('http_reqs', (('name', 'create'),))
    """
    match = _KEY.match(key)
    if match is None:
        raise ThresholdError(
            f"'{key}' is not a metric key",
            hint="write a metric name, optionally with tags: http_req_duration "
            "or http_req_duration{name:list}",
        )
    metric = match.group("metric")
    info = METRICS.get(metric)
    if info is None:
        raise ThresholdError(f"unknown metric '{metric}'", hint=_did_you_mean(metric, METRICS))
    tags: list[tuple[str, str]] = []
    text = match.group("tags")
    if text is not None and not text.strip():
        raise ThresholdError(
            f"'{key}' has empty braces", hint="write tags as {name:VALUE}, or drop the braces"
        )
    for part in text.split(",") if text is not None else ():
        name, colon, value = (s.strip() for s in part.partition(":"))
        if not colon or not name or not value:
            raise ThresholdError(
                f"'{part.strip()}' in '{key}' is not a tag",
                hint="write tags as {name:VALUE}, several separated by commas",
            )
        if name not in info.tags:
            allowed = ", ".join(info.tags) if info.tags else "none"
            raise ThresholdError(
                f"{metric} has no tag '{name}'",
                hint=f"tags {metric} takes: {allowed}",
            )
        if any(name == seen for seen, _ in tags):
            raise ThresholdError(f"tag '{name}' appears twice in '{key}'", hint="keep one")
        tags.append((name, value))
    return metric, tuple(tags)


def parse_threshold(key: str, expression: str) -> Threshold:
    """One threshold expression on one key; :class:`ThresholdError` says what is wrong.

    >>> parse_threshold("http_req_failed", "rate < 0.01").value
    0.01
    """
    metric, tags = parse_key(key)
    info = METRICS[metric]
    stats = ", ".join(info.stats)
    hint = f"write STAT OP VALUE, e.g. {_FORMS}; {metric} has {stats}"
    if not isinstance(expression, str):
        raise ThresholdError(f"threshold on {key} is not text: {expression!r}", hint=hint)
    match = _EXPRESSION.match(expression)
    if match is None:
        raise ThresholdError(f"'{expression}' is not a threshold expression", hint=hint)
    stat = _stat(match.group("stat"), match.group("pct"), metric, info, expression)
    value = float(match.group("value"))
    unit = match.group("unit")
    if unit:
        if info.unit != "ms" or unit not in _MS_PER_UNIT:
            what = "durations (us, ms, s, m)" if info.unit == "ms" else f"{metric} (none)"
            raise ThresholdError(
                f"'{unit}' in '{expression}' is not a unit for {what}",
                hint=f"{metric} is compared as a plain number"
                if info.unit != "ms"
                else "write 200 or 200ms (milliseconds), or 1.5s",
            )
        value *= _MS_PER_UNIT[unit]
    return Threshold(key, expression, metric, tags, stat, match.group("op"), value)


def parse_thresholds(thresholds: Mapping[str, Sequence[str]]) -> list[Threshold]:
    """Every expression of a ``thresholds:`` mapping, in order (raises on the first bad one).

    A key is checked even when it has no expressions.
    """
    for key in thresholds:
        parse_key(key)
    return [parse_threshold(key, expr) for key, expr in _pairs(thresholds)]


def evaluate(
    thresholds: Mapping[str, Sequence[str]], source: ThresholdSource
) -> list[ThresholdResult]:
    """Judge every threshold against ``source``; one result per expression, in order.

    >>> class Fixed:
    ...     def stat(self, metric, stat, tags):
    ...         return {"p(99)": 180.0}.get(stat)
    >>> [r.ok for r in evaluate({"http_req_duration": ["p(99)<200", "avg<50"]}, Fixed())]
    [True, False]
    """
    results = []
    for t in parse_thresholds(thresholds):
        observed = source.stat(t.metric, t.stat, dict(t.tags))
        if observed is None or math.isnan(observed):
            results.append(ThresholdResult(t.key, t.expression, False, None, "no data"))
            continue
        ok = t.holds(observed)
        unit = METRICS[t.metric].unit if t.stat != "rate" else _rate_unit(t.metric)
        shown = f"{t.stat} = {_number(observed)}{unit}"
        reason = f"{shown}, needs {t.op} {_number(t.value)}{unit}"
        results.append(ThresholdResult(t.key, t.expression, ok, observed, reason))
    return results


def _pairs(thresholds: Mapping[str, Sequence[str]]) -> Iterator[tuple[str, str]]:
    for key, expressions in thresholds.items():
        if isinstance(expressions, str):
            yield key, expressions
        else:
            for expression in expressions:
                yield key, expression


def _stat(written: str, pct: str | None, metric: str, info: Metric, expression: str) -> str:
    name = re.sub(r"\s+", "", written).split("(")[0]
    if pct is not None or name == "p":
        if info.kind != "trend":
            raise ThresholdError(
                f"{metric} has no percentiles",
                hint=f"{metric} has {', '.join(info.stats)}, e.g. {_example(info)}",
            )
        try:
            value = float(pct or "")
        except ValueError:
            value = math.nan
        if not 0 <= value <= 100:  # also false for NaN
            raise ThresholdError(
                f"'{expression}': a percentile is p(N) with N from 0 to 100",
                hint="write p(99), p(99.9) or p(50)",
            )
        return f"p({value:g})"
    if (bare := re.fullmatch(r"p(\d+(?:\.\d+)?)", name)) and info.kind == "trend":
        raise ThresholdError(
            f"unknown statistic '{name}' in '{expression}'",
            hint=f"a percentile is written with parentheses: p({bare.group(1)})",
        )
    if name not in info.stats:
        known = {s for m in METRICS.values() for s in m.stats}
        what = f"{metric} has no '{name}'" if name in known else f"unknown statistic '{name}'"
        raise ThresholdError(
            f"{what} in '{expression}'",
            hint=f"{metric} has {', '.join(info.stats)}, e.g. {_example(info)}",
        )
    return name


def _example(info: Metric) -> str:
    return {"trend": "p(99)<200", "rate": "rate<0.01"}.get(info.kind, "count>0")


def _rate_unit(metric: str) -> str:
    return "/s" if METRICS[metric].kind == "counter" else ""


def _number(value: float) -> str:
    return f"{value:.6g}"


def _did_you_mean(name: str, choices: Mapping[str, object]) -> str:
    from redline.config.diagnostics import closest

    close = closest(name, choices)
    known = ", ".join(choices)
    return f"did you mean '{close}'? metrics: {known}" if close else f"metrics: {known}"
