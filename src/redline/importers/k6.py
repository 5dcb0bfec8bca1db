"""k6's end-of-test summary as JSON: one run per file.

Three shapes are read, told apart by their fields:

- ``k6 run --summary-export FILE`` (k6 before 1.0, and ``--summary-mode legacy``):
  ``{"root_group": ..., "metrics": {NAME: {values..., "thresholds": {EXPR: failed}}}}``,
  values flat: trends ``avg, min, med, max, p(90), p(95)`` (whatever
  ``--summary-trend-stats`` asked for), counters ``count, rate``, rates
  ``passes, fails, value``, gauges ``value, min, max``. A threshold's boolean is true
  when it was *crossed* (k6 writes ``!ok``).
- the same export from k6 1.0 on: thresholds move to a top-level
  ``"thresholds": {METRIC: {EXPR: failed}}`` and a rate's fraction is ``rate``.
- the ``data`` object ``handleSummary(data)`` receives, written with
  ``JSON.stringify(data)``: ``{"metrics": {NAME: {"type", "contains", "values",
  "thresholds": {EXPR: {"ok"}}}}, "state": {"testRunDurationMs"}, ...}``.

The run is named after the file unless ``--name`` is given and dated by the file's
modification time (k6 writes no time into it); a crossed threshold makes it ``fail``.
Metric names keep k6's: trend ``http_req_duration`` gives ``http_req_duration_mean_ms``,
``_min_ms``, ``_p50_ms`` (med), ``_max_ms``, ``_p90_ms``, ``_p95_ms``; counter
``http_reqs`` gives ``http_reqs_count`` and ``http_reqs_rate`` (1/s); rate
``http_req_failed`` gives ``http_req_failed_rate``; gauge ``vus`` gives ``vus_value``,
``vus_min``, ``vus_max``. Submetrics keep their tags (``http_req_duration{status:200}``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from redline._errors import DataError
from redline.importers._common import (
    Options,
    Parsed,
    Source,
    describe_json,
    guess_direction,
    load_json,
    make_metric,
    make_run,
    wrong_kind,
)
from redline.store.records import MetricRecord

__all__ = ["parse"]

# k6's built-in metrics measured in milliseconds (the export does not say so).
_TIME_METRICS = frozenset(
    {
        "http_req_duration",
        "http_req_blocked",
        "http_req_connecting",
        "http_req_tls_handshaking",
        "http_req_sending",
        "http_req_waiting",
        "http_req_receiving",
        "iteration_duration",
        "group_duration",
        "ws_connecting",
        "ws_session_duration",
        "ws_ping",
        "grpc_req_duration",
    }
)
_WORK_COUNTERS = frozenset({"http_reqs", "iterations", "grpc_reqs", "ws_msgs_sent"})
_BYTE_COUNTERS = frozenset({"data_received", "data_sent"})
_GOOD_RATES = frozenset({"checks"})
_PERCENTILE = re.compile(r"^p\((\d+(?:\.\d+)?)\)$")
_TREND_NAMES = {"avg": "mean", "med": "p50", "min": "min", "max": "max", "count": "count"}


def parse(source: Source, options: Options) -> Parsed:
    """The run of a k6 summary JSON file."""
    data = load_json(source)
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        looks = describe_json(data)
        if looks is not None and looks[0] == "k6":
            looks = None
        wrong_kind(source, "it has no 'metrics' object", looks)
    exported: Mapping[str, Any] = data["metrics"]
    if not exported:
        raise DataError(
            f"{source.path}: the k6 summary has no metrics",
            hint="k6 writes them once the test ran at least one iteration: check the "
            "script ran, then export again",
        )
    warnings: list[str] = []
    metrics: list[MetricRecord] = []
    crossed: list[str] = []
    thresholds: dict[str, dict[str, str]] = {}
    shape = "handleSummary" if _is_handle_summary(exported) else "summary-export"
    top = data.get("thresholds")
    if isinstance(top, dict):
        shape = "summary-export (k6 1.0+)"
        for metric_name, exprs in top.items():
            if isinstance(exprs, dict):
                _thresholds(metric_name, exprs, thresholds, crossed)
    for name in sorted(exported):
        entry = exported[name]
        where = f"{source.path}: metrics.{name}"
        if not isinstance(entry, dict):
            raise DataError(f"{where} is not an object", hint="is the file complete?")
        if isinstance(entry.get("values"), dict):
            values: dict[str, Any] = entry["values"]
            kind = entry.get("type") if isinstance(entry.get("type"), str) else _infer(values)
            is_time = entry.get("contains") == "time" or _base(name) in _TIME_METRICS
            marks = entry.get("thresholds")
            if isinstance(marks, dict):
                failed = {
                    expr: not (t.get("ok", True) if isinstance(t, dict) else bool(t))
                    for expr, t in marks.items()
                }
                _thresholds(name, failed, thresholds, crossed)
        else:
            values = {k: v for k, v in entry.items() if k != "thresholds"}
            kind = _infer(values)
            is_time = _base(name) in _TIME_METRICS or _timelike(_base(name))
            if isinstance(entry.get("thresholds"), dict):
                _thresholds(name, entry["thresholds"], thresholds, crossed)
        found = _metrics(name, kind, values, is_time, where)
        if found is None:
            warnings.append(f"{where}: not a trend, counter, rate or gauge; left out")
            continue
        metrics += found
    if not metrics:
        raise DataError(
            f"{source.path}: no k6 metric in it could be read",
            hint="export it again with k6 run --summary-export FILE.json",
        )
    if crossed:
        warnings.append(f"{source.path}: k6 thresholds were crossed: {', '.join(crossed)}")
    summary: dict[str, Any] = {
        "format": shape,
        "time_source": "file modification time",
        "thresholds": thresholds,
    }
    state = data.get("state")
    if isinstance(state, dict) and isinstance(state.get("testRunDurationMs"), int | float):
        summary["duration_ms"] = state["testRunDurationMs"]
    run = make_run(
        source,
        name=options.name or source.path.stem,
        identity=source.sha256,
        started_at=source.mtime,
        metrics=metrics,
        summary=summary,
        status="fail" if crossed else "ok",
    )
    return Parsed([run], warnings, fresh=True)


def _is_handle_summary(metrics: Mapping[str, Any]) -> bool:
    return any(isinstance(v, dict) and isinstance(v.get("values"), dict) for v in metrics.values())


def _thresholds(
    metric: str, exprs: Mapping[str, Any], out: dict[str, dict[str, str]], crossed: list[str]
) -> None:
    for expr, failed in exprs.items():
        out.setdefault(metric, {})[expr] = "crossed" if failed else "ok"
        if failed:
            crossed.append(f"{metric}: {expr}")


def _base(name: str) -> str:
    """The metric a submetric belongs to: ``http_req_duration{status:200}`` ->
    ``http_req_duration``."""
    return name.split("{", 1)[0]


def _timelike(name: str) -> bool:
    words = set(re.split(r"[^a-z0-9]+", name.lower()))
    return bool(words & {"duration", "latency", "time", "ms"})


def _infer(values: Mapping[str, Any]) -> str | None:
    keys = set(values)
    if {"passes", "fails"} <= keys:
        return "rate"
    if keys & {"avg", "med"} or any(_PERCENTILE.match(k) for k in keys):
        return "trend"
    if {"count", "rate"} <= keys:
        return "counter"
    if "value" in keys:
        return "gauge"
    return None


def _metrics(
    name: str, kind: str | None, values: Mapping[str, Any], is_time: bool, where: str
) -> list[MetricRecord] | None:
    base = _base(name)
    if kind == "trend":
        out = []
        guessed = "lower" if is_time else guess_direction(base)
        for key, value in values.items():
            found = _PERCENTILE.match(key)
            stat = f"p{found.group(1).replace('.', '')}" if found else _TREND_NAMES.get(key)
            if stat is None:
                continue
            if stat == "count":
                out.append(make_metric(f"{name}_count", value, where))
                continue
            unit = "ms" if is_time else None
            metric = f"{name}_{stat}_ms" if is_time else f"{name}_{stat}"
            out.append(make_metric(metric, value, where, unit=unit, direction=guessed))
        return out
    if kind == "counter":
        if base in _WORK_COUNTERS:
            direction = "higher"
        elif base in _BYTE_COUNTERS:
            direction = "none"
        else:
            direction = "lower" if guess_direction(base) == "lower" else "none"
        byte = base in _BYTE_COUNTERS
        count_direction = "lower" if direction == "lower" else "none"
        return [
            make_metric(
                f"{name}_count",
                values.get("count"),
                where,
                unit="bytes" if byte else None,
                direction=count_direction,
            ),
            make_metric(
                f"{name}_rate",
                values.get("rate"),
                where,
                unit="bytes/s" if byte else "1/s",
                direction=direction,
            ),
        ]
    if kind == "rate":
        fraction = values.get("value", values.get("rate"))
        direction = "higher" if base in _GOOD_RATES else guess_direction(base)
        return [make_metric(f"{name}_rate", fraction, where, direction=direction)]
    if kind == "gauge":
        return [
            make_metric(f"{name}_{key}", values[key], where)
            for key in ("value", "min", "max")
            if key in values
        ]
    return None
