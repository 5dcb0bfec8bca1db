"""A CSV in Apache Otava's layout: one run per row.

The file is read by :func:`redline.analysis.seriesfile.read_series_file`, as
``redline analyze`` reads it: a time column, attribute columns (commit, branch,
version, ...) and metric columns; an empty cell (or ``nan``, ``N/A``, ``-``) is a
missing value, and that row's run simply has no such metric.

Attributes fill the run: ``commit`` (or ``sha``, ``hash``, ``revision``, ``rev``),
``branch``, ``version``, ``environment`` (or ``env``), ``host`` (or ``hostname``,
``machine``); a ``benchmark``, ``scenario``, ``test`` or ``name`` column names each
row's run (else ``--name``, else the file's name). Other attributes are kept in the
run's summary. Rows are history: commit and branch are never taken from git.

A metric's direction is ``--direction COLUMN=lower|higher``, else ``--direction
lower|higher`` for every column, else its name (``*_ms``, ``latency``, ``time`` lower;
``rps``, ``throughput``, ``ops``, ``*_per_s`` higher; ``error*``, ``fail*`` lower), else
``none`` with a warning. Its unit is the one its cells were written in (``12ms``),
else its name's (``p99_ms``).
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from redline._errors import DataError
from redline.importers._common import (
    ImportedRun,
    Options,
    Parsed,
    Source,
    describe_text,
    guess_direction,
    guess_unit,
    make_metric,
    make_run,
    wrong_kind,
)

__all__ = ["parse"]

# attribute column (lower-cased) -> the run field it fills
_FIELDS: dict[str, str] = {
    "commit": "commit",
    "sha": "commit",
    "hash": "commit",
    "revision": "commit",
    "rev": "commit",
    "branch": "branch",
    "version": "version",
    "environment": "environment",
    "env": "environment",
    "host": "host",
    "hostname": "host",
    "machine": "host",
}
_NAMES = ("benchmark", "scenario", "test", "name")


def parse(source: Source, options: Options) -> Parsed:
    """The runs of an Otava-layout CSV, one per row."""
    from redline.analysis.seriesfile import read_series_file

    looks = describe_text(source.text)
    if looks is not None and looks[0] != "csv":
        wrong_kind(source, "it is not a plain table of runs", looks)
    table = read_series_file(source.path, columns=options.columns, time_column=options.time_column)
    if not table.metrics:
        raise DataError(
            f"{source.path}: no metric column (columns of numbers) in it",
            hint="give each metric a column of numbers, or name them with --column",
        )
    unknown = sorted(set(options.directions) - set(table.metrics))
    if unknown:
        raise DataError(
            f"{source.path}: --direction names no metric column {', '.join(unknown)} "
            f"(metrics: {', '.join(table.metrics)})",
            hint="write --direction COLUMN=lower|higher with a metric column's name",
        )
    warnings = list(table.notes)
    kinds = _metric_kinds(table.metrics, table.units, options, warnings, source)
    by_field = _attribute_fields(table.attributes)
    name_column = next(
        (c for c in table.attributes if c.lower() in _NAMES and not options.name), None
    )
    if table.time is None:
        warnings.append(
            f"{source.path}: no time column: rows are dated at import, in file order "
            "(name one with --time-column)"
        )
    now = datetime.now(UTC)
    seen: Counter[str] = Counter()
    runs: list[ImportedRun] = []
    rows = len(table.lines)
    for i, line in enumerate(table.lines):
        where = source.where(line)
        metrics = [
            make_metric(column, values[i], where, unit=kinds[column][0], direction=kinds[column][1])
            for column, values in table.metrics.items()
            if not math.isnan(values[i])
        ]
        if not metrics:
            warnings.append(f"{where}: every metric is missing; the row is left out")
            continue
        attributes = {column: values[i] for column, values in table.attributes.items()}
        name = (
            options.name or (attributes[name_column] if name_column else "") or (source.path.stem)
        )
        started_at = (
            table.time[i] if table.time is not None else now + timedelta(microseconds=i - rows)
        )
        fields = {f: attributes[c] or None for f, c in by_field.items()}
        extra = {c: v for c, v in attributes.items() if c not in by_field.values() and v}
        # Without a time column a row is known by its place (its import time changes).
        when = started_at.isoformat() if table.time is not None else f"row {i}"
        identity = _identity(when, attributes, {m.name: m.value for m in metrics})
        seen[identity] += 1  # identical rows are kept, each once
        runs.append(
            make_run(
                source,
                name=name,
                identity=f"{identity}#{seen[identity]}",
                started_at=started_at,
                metrics=metrics,
                summary={"attributes": extra} if extra else {},
                line=line,
                commit=fields.get("commit"),
                branch=fields.get("branch"),
                version=fields.get("version"),
                environment=fields.get("environment"),
                host=fields.get("host"),
            )
        )
    if not runs:
        raise DataError(
            f"{source.path}: no row has a value", hint="fill in the metric columns' cells"
        )
    return Parsed(runs, warnings, fresh=False)


def _metric_kinds(
    metrics: dict[str, list[float]],
    units: dict[str, str],
    options: Options,
    warnings: list[str],
    source: Source,
) -> dict[str, tuple[str | None, str]]:
    """Each metric column's unit and direction."""
    out: dict[str, tuple[str | None, str]] = {}
    undecided = []
    for column in metrics:
        direction = options.directions.get(column) or options.direction or guess_direction(column)
        if direction == "none" and column not in options.directions:
            undecided.append(column)
        out[column] = (units.get(column) or guess_unit(column), direction)
    if undecided:
        warnings.append(
            f"{source.path}: no direction for {', '.join(undecided)} (the names do not tell "
            "one): stored as none; give it with --direction COLUMN=lower|higher"
        )
    return out


def _attribute_fields(attributes: dict[str, list[str]]) -> dict[str, str]:
    """Run field -> the attribute column that fills it (the first one, by column order)."""
    out: dict[str, str] = {}
    for column in attributes:
        target = _FIELDS.get(column.lower())
        if target is not None:
            out.setdefault(target, column)
    return out


def _identity(when: str, attributes: dict[str, str], values: dict[str, Any]) -> str:
    cells = [when]
    cells += [f"{k}={v}" for k, v in sorted(attributes.items())]
    cells += [f"{k}={float(v)!r}" for k, v in sorted(values.items())]
    return "\x1f".join(cells)
