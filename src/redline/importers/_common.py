"""What every importer shares: the run it makes, reading the file, JSON with positions,
metric directions and units from names, and saying what a file really is.

Every error here is a :class:`~redline._errors.DataError` (exit 2) that names the file
(and the line where there is one) and says how to fix it.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from redline._errors import DataError
from redline.store.records import MetricRecord

__all__ = [
    "PRODUCED_BY",
    "ImportedRun",
    "Options",
    "Parsed",
    "Source",
    "guess_direction",
    "guess_unit",
    "load_json",
    "make_metric",
    "make_run",
    "parse_time",
    "read_source",
    "wrong_kind",
]

# How each tool writes the file an importer reads: the fix for a missing or empty one.
PRODUCED_BY: dict[str, str] = {
    "pytest-benchmark": "pytest-benchmark writes it with `pytest --benchmark-json=FILE.json`",
    "locust": "Locust writes it with `locust --headless --csv PREFIX` (PREFIX_stats.csv)",
    "k6": "k6 writes it with `k6 run --summary-export FILE.json`",
    "csv": "a CSV with a header row: a time column, attribute columns (commit, branch, "
    "version) and one column per metric, as Apache Otava reads",
    "json": "the generic JSON layout is in docs/regressions.md, 'Importing results'",
}

_LABELS: dict[str, str] = {
    "pytest-benchmark": "a pytest-benchmark JSON file (--benchmark-json)",
    "locust": "a Locust stats CSV (PREFIX_stats.csv)",
    "k6": "a k6 summary (--summary-export or handleSummary JSON)",
    "csv": "a CSV table (Otava's layout)",
    "json": "redline's generic JSON (schema_version and runs)",
}


@dataclass(frozen=True, slots=True)
class Options:
    """What the caller said about the runs: it wins over what the file says."""

    name: str | None = None
    environment: str | None = None
    branch: str | None = None
    commit: str | None = None
    version: str | None = None
    host: str | None = None
    # CSV only: a default direction ("lower"/"higher") and per-column ones.
    direction: str | None = None
    directions: Mapping[str, str] = field(default_factory=dict)
    time_column: str | None = None
    columns: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Source:
    """A results file, read whole: its text, hash and modification time."""

    kind: str
    path: Path
    text: str
    sha256: str
    mtime: datetime

    def where(self, line: int | None = None, col: int | None = None) -> str:
        """``path``, ``path:line`` or ``path:line:col`` for a message."""
        if line is None:
            return str(self.path)
        return f"{self.path}:{line}" if col is None else f"{self.path}:{line}:{col}"


@dataclass(frozen=True, slots=True)
class ImportedRun:
    """One result set from a file, ready to become a ``kind: import`` run in the store.

    ``fingerprint`` identifies the result (tool, run name and the content it came
    from), so importing the same file twice is recognised; it is kept in
    ``summary["source"]`` with the tool, the file, its SHA-256 and the line.
    """

    name: str
    started_at: datetime
    metrics: tuple[MetricRecord, ...]
    summary: Mapping[str, Any]
    fingerprint: str
    finished_at: datetime | None = None
    status: str = "ok"
    environment: str | None = None
    version: str | None = None
    commit: str | None = None
    branch: str | None = None
    host: str | None = None
    line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (times in ISO 8601)."""
        return {
            "name": self.name,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "status": self.status,
            "environment": self.environment,
            "version": self.version,
            "commit": self.commit,
            "branch": self.branch,
            "host": self.host,
            "line": self.line,
            "fingerprint": self.fingerprint,
            "metrics": [
                {"name": m.name, "value": m.value, "unit": m.unit, "direction": m.direction}
                for m in self.metrics
            ],
        }


@dataclass(frozen=True, slots=True)
class Parsed:
    """What a format's parser found: runs, things worth a warning, and whether the file is
    one fresh result (commit, branch and host may then come from git, CI and this machine)."""

    runs: list[ImportedRun]
    warnings: list[str] = field(default_factory=list)
    fresh: bool = True


def read_source(kind: str, path: str | Path) -> Source:
    """The whole file at ``path``; a DataError when it is missing, empty or not text."""
    p = Path(path)
    made = PRODUCED_BY.get(kind, "")
    if not p.exists():
        raise DataError(f"{p}: no such file", hint=f"check the path; {made}")
    if p.is_dir():
        raise DataError(f"{p}: is a directory, not a results file", hint=f"give the file; {made}")
    try:
        raw = p.read_bytes()
        mtime = datetime.fromtimestamp(p.stat().st_mtime, UTC)
    except OSError as error:
        raise DataError(
            f"{p}: cannot be read: {error.strerror or error}", hint="check its permissions"
        ) from None
    if not raw.strip():
        raise DataError(
            f"{p}: the file is empty",
            hint=f"{made}; a run stopped before the end leaves an empty file: run it again",
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DataError(
            f"{p}:{line}: not UTF-8 text (byte {error.start} cannot be decoded)",
            hint=f"is it {_LABELS.get(kind, 'the right file')}? {made}",
        ) from None
    return Source(kind, p, text, hashlib.sha256(raw).hexdigest(), mtime)


class _Constant(Exception):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


def _refuse_constant(token: str) -> NoReturn:
    raise _Constant(token)


def load_json(source: Source) -> Any:
    """The JSON document of ``source``; syntax errors and NaN/Infinity name line:col."""
    try:
        return json.loads(source.text, parse_constant=_refuse_constant)
    except _Constant as found:
        line, col = _position(source.text, found.token)
        raise DataError(
            f"{source.where(line, col)}: {found.token} is not a measured value "
            "(NaN and Infinity are not JSON)",
            hint="write the number that was measured, or leave out a metric that has none",
        ) from None
    except json.JSONDecodeError as error:
        if error.pos == len(source.text) - len(source.text.lstrip()):
            # Not JSON from the first character: say what the file is instead.
            looks = describe_text(source.text)
            if looks is not None:
                wrong_kind(source, "the file is not JSON", looks)
        raise DataError(
            f"{source.where(error.lineno, error.colno)}: invalid JSON: {error.msg}",
            hint="fix the file there; a file cut short (a run killed while writing) "
            "ends too early: write it again",
        ) from None
    except RecursionError:
        raise DataError(
            f"{source.path}: the JSON is nested too deeply to read", hint="is it a results file?"
        ) from None


def _position(text: str, token: str) -> tuple[int, int]:
    """Line and column (1-based) of ``token`` outside any JSON string."""
    in_string = escaped = False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif text.startswith(token, i):
            line = text.count("\n", 0, i) + 1
            return line, i - (text.rfind("\n", 0, i) + 1) + 1
    return 1, 1


def describe_json(data: Any) -> tuple[str | None, str] | None:
    """(kind, description) of a JSON document, or None when it is none we know."""
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("benchmarks"), list) and (
        "machine_info" in data or "commit_info" in data
    ):
        return "pytest-benchmark", _LABELS["pytest-benchmark"]
    if isinstance(data.get("runs"), list) and "schema_version" in data:
        return "json", _LABELS["json"]
    metrics = data.get("metrics")
    if isinstance(metrics, dict) and ("root_group" in data or _k6_like(metrics)):
        return "k6", _LABELS["k6"]
    return None


def _k6_like(metrics: Mapping[str, Any]) -> bool:
    keys = {"avg", "med", "count", "rate", "passes", "fails", "values"}
    return any(isinstance(v, dict) and keys & set(v) for v in metrics.values())


_TEXT_SHAPES: tuple[tuple[str, str | None, str], ...] = (
    ("type,name,request count", "locust", _LABELS["locust"]),
    ("method,name,# requests", "locust", _LABELS["locust"]),
    ("type,name,# requests", "locust", _LABELS["locust"]),
    (
        "timestamp,user count,type,name",
        None,
        "Locust's stats history (PREFIX_stats_history.csv): import PREFIX_stats.csv, "
        "the totals, instead",
    ),
    (
        "method,name,error,occurrences",
        None,
        "Locust's failures list (PREFIX_failures.csv): import PREFIX_stats.csv instead",
    ),
    (
        "count,message,traceback,nodes",
        None,
        "Locust's exceptions list (PREFIX_exceptions.csv): import PREFIX_stats.csv instead",
    ),
)


def describe_text(text: str) -> tuple[str | None, str] | None:
    """(kind, description) of a file from its first line, or None."""
    first = text.lstrip().split("\n", 1)[0].strip().lower()
    if first.startswith(("{", "[")):
        try:
            return describe_json(json.loads(text))
        except (ValueError, RecursionError):
            return None
    for prefix, kind, label in _TEXT_SHAPES:
        if first.startswith(prefix):
            return kind, label
    if "," in first:
        return "csv", _LABELS["csv"]
    return None


def wrong_kind(source: Source, problem: str, looks: tuple[str | None, str] | None) -> NoReturn:
    """Raise: ``source`` is not what its KIND says; say what it looks like and the fix."""
    expected = _LABELS.get(source.kind, source.kind)
    if looks is None:
        raise DataError(
            f"{source.path}: not {expected}: {problem}",
            hint=f"{PRODUCED_BY.get(source.kind, '')}; is it the right file?",
        )
    kind, label = looks
    if kind == source.kind:
        raise DataError(f"{source.path}: {problem}", hint=PRODUCED_BY.get(source.kind))
    fix = (
        f"import it with `redline import {kind} {source.path}`"
        if kind is not None
        else PRODUCED_BY.get(source.kind, "")
    )
    raise DataError(f"{source.path}: not {expected}: {problem}; it looks like {label}", hint=fix)


def make_metric(
    name: str, value: Any, where: str, *, unit: str | None = None, direction: str = "none"
) -> MetricRecord:
    """A metric from a file's value; a DataError (at ``where``) unless a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataError(
            f"{where}: {name} is {value!r}, not a number",
            hint="write the measured value as a plain number",
        )
    number = float(value)
    if not math.isfinite(number):
        raise DataError(
            f"{where}: {name} is {value!r}, not a finite number",
            hint="write the number that was measured, or leave out a metric that has none",
        )
    return MetricRecord(name, number, unit=unit, direction=direction)


def make_run(
    source: Source,
    *,
    name: str,
    identity: str,
    started_at: datetime,
    metrics: list[MetricRecord],
    summary: Mapping[str, Any] | None = None,
    line: int | None = None,
    **fields: Any,
) -> ImportedRun:
    """An :class:`ImportedRun` whose summary records its tool, file and fingerprint.

    ``identity`` is the content that makes this result what it is (the file's hash, or
    one CSV row's cells): the same tool, run name and identity is the same result.
    """
    if not name.strip():
        raise DataError(
            f"{source.where(line)}: a run needs a name", hint="give one with --name NAME"
        )
    seen: set[str] = set()
    for m in metrics:
        if m.name in seen:
            raise DataError(
                f"{source.where(line)}: metric {m.name!r} appears twice in run {name!r}",
                hint="give each metric of a run its own name",
            )
        seen.add(m.name)
    fingerprint = hashlib.sha256(
        "\0".join((source.kind, name, identity)).encode("utf-8")
    ).hexdigest()
    origin: dict[str, Any] = {
        "tool": source.kind,
        "file": str(source.path.resolve()),
        "sha256": source.sha256,
        "fingerprint": fingerprint,
    }
    if line is not None:
        origin["line"] = line
    return ImportedRun(
        name=name,
        started_at=started_at,
        metrics=tuple(metrics),
        summary={"source": origin, **(summary or {})},
        fingerprint=fingerprint,
        line=line,
        **fields,
    )


def parse_time(value: Any, where: str) -> datetime:
    """An ISO 8601 time (``Z`` allowed) or epoch seconds, in UTC; naive means UTC."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise DataError(f"{where}: time {value!r} is not a number")
        return datetime.fromtimestamp(float(value), UTC)
    if not isinstance(value, str) or not value.strip():
        raise DataError(
            f"{where}: time {value!r} is not a time",
            hint="write it in ISO 8601, e.g. 2026-03-01T12:00:00Z",
        )
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise DataError(
            f"{where}: time {value!r} is not ISO 8601",
            hint="write it like 2026-03-01T12:00:00Z",
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


# --- directions and units from names --------------------------------------------------

_ERROR_WORDS = frozenset(
    [
        "error",
        "errors",
        "err",
        "fail",
        "fails",
        "failed",
        "failure",
        "failures",
        "timeout",
        "timeouts",
        "dropped",
        "drops",
        "retries",
        "retry",
        "rejected",
        "rejects",
        "4xx",
        "5xx",
    ]
)
_HIGHER_WORDS = frozenset(
    [
        "rps",
        "qps",
        "tps",
        "ops",
        "iops",
        "throughput",
        "bandwidth",
        "hits",
        "succeeded",
        "passed",
        "hit",
        "success",
        "successes",
        "passes",
        "speedup",
        "ops_per_sec",
    ]
)
_LOWER_WORDS = frozenset(
    [
        "latency",
        "time",
        "times",
        "duration",
        "elapsed",
        "wait",
        "ms",
        "us",
        "ns",
        "s",
        "sec",
        "secs",
        "seconds",
        "mem",
        "memory",
        "rss",
        "bytes",
        "size",
        "cpu",
        "alloc",
        "allocs",
        "allocations",
    ]
)
_PERCENTILE = re.compile(r"^p\d+$")
_PER_SECOND = re.compile(r"(/s|/sec|per_s|per_sec|per_second|persec)$")


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]


def guess_direction(name: str) -> str:
    """``lower``, ``higher`` or ``none`` for a metric, from its name.

    Errors and failures are better lower (``error_rate``, ``failures/s``); rates of work
    higher (``rps``, ``throughput``, ``ops``, ``*_per_s``); times, latencies, percentiles
    and sizes lower (``*_ms``, ``latency``, ``p99``, ``rss_bytes``); anything else none.

    >>> guess_direction("p99_ms"), guess_direction("rps"), guess_direction("errors_per_s")
    ('lower', 'higher', 'lower')
    """
    words = _words(name)
    if any(w in _ERROR_WORDS for w in words):
        return "lower"
    squashed = re.sub(r"[\s\-.]+", "_", name.lower())
    if any(w in _HIGHER_WORDS for w in words) or _PER_SECOND.search(squashed):
        return "higher"
    if any(w in _LOWER_WORDS or _PERCENTILE.match(w) for w in words):
        return "lower"
    return "none"


_UNITS: dict[str, str] = {
    "ms": "ms",
    "us": "us",
    "ns": "ns",
    "s": "s",
    "sec": "s",
    "secs": "s",
    "seconds": "s",
    "bytes": "bytes",
    "kb": "kB",
    "mb": "MB",
    "gb": "GB",
    "pct": "%",
    "percent": "%",
    "rps": "1/s",
    "qps": "1/s",
    "tps": "1/s",
    "ops": "1/s",
}


def guess_unit(name: str) -> str | None:
    """The unit a metric's name ends in (``p99_ms`` -> ``ms``), or None."""
    squashed = re.sub(r"[\s\-.]+", "_", name.lower())
    if _PER_SECOND.search(squashed):
        return "1/s"
    words = _words(name)
    if not words:
        return None
    return _UNITS.get(words[-1])
