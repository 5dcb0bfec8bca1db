"""Locust's ``PREFIX_stats.csv`` (``locust --headless --csv PREFIX``): one run per file.

The header (Locust 1 and 2) is ``Type, Name, Request Count, Failure Count, Median
Response Time, Average Response Time, Min Response Time, Max Response Time, Average
Content Size, Requests/s, Failures/s, 50%, 66%, ..., 99.99%, 100%`` (Locust 1 wrote
``# requests`` and ``# failures``); one row per request name, then an ``Aggregated``
row with the totals. Times are milliseconds.

The run is named after the file (``shop_stats.csv`` -> ``shop``) unless ``--name`` is
given, and dated by the file's modification time (the file has no time of its own).
Its metrics use the names of redline's own load runs, so both read alike: from the
Aggregated row ``requests``, ``failures``, ``error_rate``, ``rps``, ``failures_per_s``,
``latency_mean_ms``, ``latency_min_ms``, ``latency_max_ms``, ``latency_p50_ms`` ...
``latency_p9999_ms`` and ``content_size_mean_bytes``; per request ``"<Type> <Name>.rps"``,
``.error_rate``, ``.mean_ms``, ``.p50_ms``, ``.p95_ms``, ``.p99_ms`` and ``.max_ms``.
"""

from __future__ import annotations

import csv
import io
import math
import re

from redline._errors import DataError
from redline.importers._common import (
    Options,
    Parsed,
    Source,
    describe_text,
    make_metric,
    make_run,
    wrong_kind,
)
from redline.store.records import MetricRecord

__all__ = ["REQUIRED_COLUMNS", "parse"]

REQUIRED_COLUMNS = (
    "Type",
    "Name",
    "Request Count",
    "Failure Count",
    "Median Response Time",
    "Average Response Time",
    "Min Response Time",
    "Max Response Time",
    "Average Content Size",
    "Requests/s",
    "Failures/s",
)
# Locust 1's spellings, by lower-cased header.
_ALIASES = {
    "method": "Type",
    "# requests": "Request Count",
    "# failures": "Failure Count",
}
_PERCENTILE = re.compile(r"^(\d+(?:\.\d+)?)%$")
_MISSING = ("", "N/A")
_PER_REQUEST = ("p50", "p95", "p99")


def parse(source: Source, options: Options) -> Parsed:
    """The run of a Locust stats CSV."""
    rows = list(csv.reader(io.StringIO(source.text, newline="")))
    start = next(i for i, row in enumerate(rows) if any(cell.strip() for cell in row))
    header = [cell.strip() for cell in rows[start]]
    columns = _columns(source, header, start + 1)
    percentiles = {
        col: _percentile_name(m.group(1))
        for col in header
        if (m := _PERCENTILE.match(col)) and m.group(1) != "100"
    }
    warnings: list[str] = []
    total: MetricRecord | None = None
    metrics: list[MetricRecord] = []
    by_request: list[MetricRecord] = []
    endpoints = 0
    for index, row in enumerate(rows[start + 1 :], start=start + 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise DataError(
                f"{source.where(index)}: {len(row)} cells, the header has {len(header)}",
                hint="the file is damaged or cut short: write it again with --csv",
            )
        cells = {col: row[i].strip() for col, i in columns.items()}
        cells.update({col: row[header.index(col)].strip() for col in percentiles})
        where = source.where(index)
        kind, name = cells["Type"], cells["Name"]
        if name in ("Aggregated", "Total") and kind in ("", "None"):
            metrics = _aggregated(cells, percentiles, where)
            total = metrics[0]
            continue
        endpoints += 1
        label = f"{kind} {name}".strip()
        found = _request(label, cells, percentiles, where)
        if found is None:
            warnings.append(f"{where}: {label} made no requests; its metrics are left out")
        by_request += found or []
    if total is None:
        raise DataError(
            f"{source.path}: no Aggregated row (the totals Locust writes last)",
            hint="import PREFIX_stats.csv as Locust wrote it with --csv PREFIX",
        )
    if total.value == 0:
        raise DataError(
            f"{source.path}: the test made no requests (Aggregated Request Count is 0)",
            hint="check the host Locust was pointed at and run it for longer",
        )
    name = options.name or re.sub(r"_stats$", "", source.path.stem) or source.path.stem
    run = make_run(
        source,
        name=name,
        identity=source.sha256,
        started_at=source.mtime,
        metrics=metrics + by_request,
        summary={"time_source": "file modification time", "request_names": endpoints},
    )
    return Parsed([run], warnings, fresh=True)


def _columns(source: Source, header: list[str], line: int) -> dict[str, int]:
    """Where each required column is; a DataError naming the missing ones."""
    found: dict[str, int] = {}
    wanted = {c.lower(): c for c in REQUIRED_COLUMNS}
    for i, col in enumerate(header):
        canonical = _ALIASES.get(col.lower()) or wanted.get(col.lower())
        if canonical is not None:
            found.setdefault(canonical, i)
    missing = [c for c in REQUIRED_COLUMNS if c not in found]
    if missing:
        looks = describe_text(source.text)
        if len(missing) > len(REQUIRED_COLUMNS) // 2 and (looks is None or looks[0] != "locust"):
            wrong_kind(source, "its header lacks Locust's stats columns", looks)
        raise DataError(
            f"{source.where(line)}: the Locust stats CSV has no column {', '.join(missing)}",
            hint="import PREFIX_stats.csv exactly as `locust --csv PREFIX` wrote it "
            f"(columns: {', '.join(REQUIRED_COLUMNS)}, then the percentiles)",
        )
    return found


def _percentile_name(text: str) -> str:
    return "p" + text.replace(".", "")


def _number(cells: dict[str, str], column: str, where: str) -> float | None:
    text = cells[column]
    if text in _MISSING:
        return None
    try:
        value = float(text)
    except ValueError:
        raise DataError(
            f"{where}: column {column!r} is {text!r}, not a number",
            hint="the file is damaged: write it again with locust --csv",
        ) from None
    if not math.isfinite(value):
        raise DataError(
            f"{where}: column {column!r} is {text!r}, not a measured value",
            hint="the file is damaged: write it again with locust --csv",
        )
    return value


def _aggregated(
    cells: dict[str, str], percentiles: dict[str, str], where: str
) -> list[MetricRecord]:
    def get(column: str) -> float | None:
        return _number(cells, column, where)

    requests = get("Request Count")
    if requests is None:
        raise DataError(f"{where}: the Aggregated row has no Request Count")
    failures = get("Failure Count") or 0.0
    out = [
        make_metric("requests", requests, where),
        make_metric("failures", failures, where, direction="lower"),
        make_metric(
            "error_rate", failures / requests if requests else 0.0, where, direction="lower"
        ),
    ]
    for column, metric, unit, direction in (
        ("Requests/s", "rps", "1/s", "higher"),
        ("Failures/s", "failures_per_s", "1/s", "lower"),
        ("Average Response Time", "latency_mean_ms", "ms", "lower"),
        ("Min Response Time", "latency_min_ms", "ms", "lower"),
        ("Max Response Time", "latency_max_ms", "ms", "lower"),
        ("Average Content Size", "content_size_mean_bytes", "bytes", "none"),
    ):
        value = get(column)
        if value is not None:
            out.append(make_metric(metric, value, where, unit=unit, direction=direction))
    for column, p in percentiles.items():
        value = get(column)
        if value is not None:
            out.append(make_metric(f"latency_{p}_ms", value, where, unit="ms", direction="lower"))
    return out


def _request(
    label: str, cells: dict[str, str], percentiles: dict[str, str], where: str
) -> list[MetricRecord] | None:
    requests = _number(cells, "Request Count", where)
    if not requests:
        return None
    failures = _number(cells, "Failure Count", where) or 0.0
    out = [make_metric(f"{label}.error_rate", failures / requests, where, direction="lower")]
    for column, suffix, unit, direction in (
        ("Requests/s", "rps", "1/s", "higher"),
        ("Average Response Time", "mean_ms", "ms", "lower"),
        ("Max Response Time", "max_ms", "ms", "lower"),
    ):
        value = _number(cells, column, where)
        if value is not None:
            out.append(
                make_metric(f"{label}.{suffix}", value, where, unit=unit, direction=direction)
            )
    for column, p in percentiles.items():
        if p in _PER_REQUEST and (value := _number(cells, column, where)) is not None:
            out.append(make_metric(f"{label}.{p}_ms", value, where, unit="ms", direction="lower"))
    return out
