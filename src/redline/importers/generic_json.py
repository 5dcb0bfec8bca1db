"""redline's generic JSON: any tool's results, one run per entry of ``runs``.

::

    {
      "schema_version": 1,
      "runs": [
        {
          "name": "checkout",                    # required (or --name)
          "time": "2026-03-01T12:00:00Z",        # ISO 8601 or epoch seconds
          "environment": "staging", "commit": "9f1c2e7", "branch": "main",
          "version": "1.4.2", "host": "ci-7",    # all optional
          "status": "ok",                        # ok | fail | error | aborted
          "attributes": {"runner": "gha"},       # optional, kept in the summary
          "metrics": [
            {"name": "p99_ms", "value": 41.0, "unit": "ms", "direction": "lower"}
          ]
        }
      ]
    }

``unit`` and ``direction`` are optional: missing ones come from the metric's name
(``p99_ms`` is in ms and lower is better). A run without ``time`` is dated at import,
in file order. Unknown fields are errors, so a misspelt one is not lost silently.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from redline._errors import DataError
from redline.config.diagnostics import closest
from redline.importers._common import (
    Options,
    Parsed,
    Source,
    describe_json,
    guess_direction,
    guess_unit,
    load_json,
    make_metric,
    make_run,
    parse_time,
    wrong_kind,
)
from redline.store.records import DIRECTIONS, RUN_STATUSES, MetricRecord

__all__ = ["JSON_SCHEMA", "parse"]

SCHEMA_VERSION = 1
_TOP_KEYS = ("schema_version", "runs", "$schema")
_RUN_KEYS = (
    "name",
    "time",
    "environment",
    "commit",
    "branch",
    "version",
    "host",
    "status",
    "attributes",
    "metrics",
)
_META = ("environment", "commit", "branch", "version", "host")
_METRIC_KEYS = ("name", "value", "unit", "direction")
_STATUSES = tuple(s for s in RUN_STATUSES if s != "running")

JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "redline generic results",
    "type": "object",
    "required": ["schema_version", "runs"],
    "additionalProperties": False,
    "properties": {
        "$schema": {"type": "string"},
        "schema_version": {"const": SCHEMA_VERSION},
        "runs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["metrics"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "time": {"type": ["string", "number"]},
                    **{key: {"type": "string"} for key in _META},
                    "status": {"enum": list(_STATUSES)},
                    "attributes": {"type": "object"},
                    "metrics": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["name", "value"],
                            "additionalProperties": False,
                            "properties": {
                                "name": {"type": "string", "minLength": 1},
                                "value": {"type": "number"},
                                "unit": {"type": "string"},
                                "direction": {"enum": list(DIRECTIONS)},
                            },
                        },
                    },
                },
            },
        },
    },
}


def parse(source: Source, options: Options) -> Parsed:
    """The runs of a generic JSON results file."""
    data = load_json(source)
    if not isinstance(data, dict) or "runs" not in data:
        looks = describe_json(data)
        if looks is not None and looks[0] == "json":
            looks = None
        wrong_kind(source, "it has no 'runs' list", looks)
    _no_unknown(source, "the top level", data, _TOP_KEYS)
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise DataError(
            f"{source.path}: schema_version is {version!r}; this redline reads {SCHEMA_VERSION}",
            hint='write "schema_version": 1 (see docs/regressions.md, "Importing results")',
        )
    entries = data["runs"]
    if not isinstance(entries, list) or not entries:
        raise DataError(
            f"{source.path}: 'runs' must be a list with at least one run",
            hint="add the runs to import, each with a name and its metrics",
        )
    warnings: list[str] = []
    undated = sum(1 for e in entries if isinstance(e, dict) and e.get("time") is None)
    now = datetime.now(UTC)
    if undated:
        warnings.append(
            f"{source.path}: {undated} run(s) have no time: dated at import, in file order"
        )
    runs = []
    for i, entry in enumerate(entries):
        where = f"{source.path}: runs[{i}]"
        if not isinstance(entry, dict):
            raise DataError(f"{where} is not an object", hint="each run is {...}")
        _no_unknown(source, f"runs[{i}]", entry, _RUN_KEYS)
        name = options.name or entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise DataError(
                f"{where} has no name", hint='give it a "name" (or --name for every run)'
            )
        time = entry.get("time")
        started_at = (
            parse_time(time, f"{where}.time")
            if time is not None
            else now + timedelta(microseconds=i - len(entries))
        )
        meta: dict[str, str | None] = {}
        for key in _META:
            value = entry.get(key)
            if value is not None and not isinstance(value, str):
                raise DataError(
                    f"{where}.{key} is {value!r}, not a string",
                    hint=f'quote it: "{key}": "{value}"',
                )
            meta[key] = value or None
        status = entry.get("status", "ok")
        if status not in _STATUSES:
            raise DataError(
                f"{where}.status is {status!r}", hint=f"use one of {', '.join(_STATUSES)}"
            )
        attributes = entry.get("attributes", {})
        if not isinstance(attributes, dict):
            raise DataError(f"{where}.attributes is not an object", hint='write {"key": "value"}')
        metrics = _metrics(source, entry.get("metrics"), where, warnings)
        runs.append(
            make_run(
                source,
                name=name.strip(),
                identity=f"{source.sha256}:{i}",
                started_at=started_at,
                metrics=metrics,
                summary={"attributes": attributes} if attributes else {},
                status=status,
                environment=meta["environment"],
                commit=meta["commit"],
                branch=meta["branch"],
                version=meta["version"],
                host=meta["host"],
            )
        )
    return Parsed(runs, warnings, fresh=len(runs) == 1)


def _metrics(source: Source, raw: Any, where: str, warnings: list[str]) -> list[MetricRecord]:
    if not isinstance(raw, list) or not raw:
        raise DataError(
            f"{where} has no metrics",
            hint='add "metrics": [{"name": "p99_ms", "value": 41.0, "direction": "lower"}]',
        )
    out = []
    for j, item in enumerate(raw):
        at = f"{where}.metrics[{j}]"
        if not isinstance(item, dict):
            raise DataError(f"{at} is not an object", hint='write {"name": ..., "value": ...}')
        _no_unknown(source, at.split(": ", 1)[1], item, _METRIC_KEYS)
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise DataError(f"{at} has no name", hint='give it a "name"')
        if "value" not in item:
            raise DataError(f"{at} ({name}) has no value", hint='give it a "value"')
        unit = item.get("unit")
        if unit is not None and not isinstance(unit, str):
            raise DataError(f"{at}.unit is {unit!r}, not a string", hint='write e.g. "ms"')
        unit = unit or guess_unit(name)
        direction = item.get("direction")
        if direction is None:
            direction = guess_direction(name)
            if direction == "none":
                warnings.append(
                    f"{at}: no direction for {name!r}, and its name does not tell one: "
                    "stored as none"
                )
        elif direction not in DIRECTIONS:
            raise DataError(
                f"{at}.direction is {direction!r}", hint=f"use one of {', '.join(DIRECTIONS)}"
            )
        out.append(make_metric(name.strip(), item["value"], at, unit=unit, direction=direction))
    return out


def _no_unknown(source: Source, where: str, obj: dict[str, Any], known: tuple[str, ...]) -> None:
    for key in obj:
        if key not in known:
            close = closest(key, known)
            guess = f"did you mean {close!r}? " if close else ""
            raise DataError(
                f"{source.path}: {where} has an unknown field {key!r}",
                hint=f"{guess}the fields are {', '.join(k for k in known if k != '$schema')}",
            )
