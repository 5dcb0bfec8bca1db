"""The values the store takes and gives back: small frozen records.

Records carry timezone-aware UTC datetimes and plain JSON-able documents. A
record is what a repository method returns; :class:`MetricRecord` and
:class:`HistogramRecord` are also what :meth:`Store.record_run` takes.

>>> MetricRecord("p99_ms", 12.5, unit="ms", direction="lower").direction
'lower'
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from redline import redact

__all__ = [
    "DIRECTIONS",
    "RELEASE_STATES",
    "RUN_STATUSES",
    "TERMINAL_RELEASE_STATES",
    "HistogramRecord",
    "MetricRecord",
    "ReleaseRecord",
    "RunRecord",
    "SampleRecord",
    "canonical_labels",
    "check_choice",
    "finite_or_infinite",
    "histogram_rows",
    "json_document",
    "metric_rows",
    "run_row",
    "scrub",
    "utc",
]

RUN_STATUSES: Final = ("running", "ok", "fail", "error", "aborted")
DIRECTIONS: Final = ("lower", "higher", "none")
RELEASE_STATES: Final = ("deploying", "verifying", "live", "rolled_back", "failed", "aborted")
# A release in one of these states is over: it gets a ``finished_at``.
TERMINAL_RELEASE_STATES: Final = ("live", "rolled_back", "failed", "aborted")


def check_choice(what: str, value: str, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``, else a ValueError naming them."""
    if value not in choices:
        raise ValueError(f"{what} must be one of {', '.join(choices)}; got {value!r}")
    return value


def finite_or_infinite(value: float, what: str) -> float:
    """``value`` as a float; NaN is refused (SQLite would store it as NULL)."""
    number = float(value)
    if math.isnan(number):
        raise ValueError(f"{what} is NaN: record a missing value as no value at all")
    return number


def utc(value: datetime, what: str = "time") -> datetime:
    """``value`` in UTC; a naive datetime is refused because its zone is unknown."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got naive {value!r}")
    return value.astimezone(UTC)


def scrub(document: Any) -> Any:
    """``document`` with every known secret value in its strings replaced by ``***``.

    A safety net, not the first line of defence: a config snapshot or an error
    text in a summary must not carry a secret into a stored row.
    """
    if isinstance(document, str):
        return redact.REDACTOR.scrub(document)
    if isinstance(document, Mapping):
        return {key: scrub(value) for key, value in document.items()}
    if isinstance(document, list | tuple):
        return [scrub(value) for value in document]
    return document


def json_document(value: Any, what: str) -> Any:
    """``value`` scrubbed of secrets, once checked to be plain JSON on every backend.

    Checked here because PostgreSQL and SQLite would otherwise fail differently
    (or, for NaN, one of them not at all).
    """
    cleaned = scrub(value)
    try:
        json.dumps(cleaned, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} must be plain JSON: {error}") from None
    return cleaned


def canonical_labels(labels: Mapping[str, str]) -> str:
    """One string per label set: JSON with sorted keys and no spaces.

    >>> canonical_labels({"service": "api", "env": "prod"})
    '{"env":"prod","service":"api"}'
    """
    for key, value in labels.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValueError(f"labels must map strings to strings; got {key!r}: {value!r}")
    return json.dumps(dict(labels), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class MetricRecord:
    """One scalar result of a run, and which way is better for it."""

    name: str
    value: float
    unit: str | None = None
    direction: str = "none"

    def __post_init__(self) -> None:
        check_choice("metric direction", self.direction, DIRECTIONS)
        finite_or_infinite(self.value, f"metric {self.name!r}")


@dataclass(frozen=True, slots=True)
class HistogramRecord:
    """A full latency distribution of a run, in the standard HdrHistogram encoding.

    ``encoded`` is the base64 text ``HdrHistogram.encode()`` gives (``HISTFAAA...``);
    ``HdrHistogram.decode(record.encoded)`` rebuilds the histogram losslessly.
    """

    name: str
    encoded: str
    lowest: int
    highest: int
    significant_digits: int
    count: int


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One recorded execution: a validation, a load test, an imported benchmark."""

    id: str
    kind: str
    name: str
    environment: str | None
    version: str | None
    commit: str | None
    branch: str | None
    host: str | None
    started_at: datetime
    finished_at: datetime | None
    status: str
    summary: dict[str, Any]
    created_at: datetime

    @property
    def duration(self) -> timedelta | None:
        """How long the run took, or None while it is still running."""
        return None if self.finished_at is None else self.finished_at - self.started_at


@dataclass(frozen=True, slots=True)
class SampleRecord:
    """One point of a labelled time series."""

    name: str
    labels: dict[str, str]
    ts: datetime
    value: float


@dataclass(frozen=True, slots=True)
class ReleaseRecord:
    """One deployment of a version to an environment, and how it ended."""

    id: str
    environment: str
    services: list[str]
    version: str
    previous_release_id: str | None
    state: str
    who_user: str | None
    who_host: str | None
    started_at: datetime
    finished_at: datetime | None
    reason: str | None
    config_snapshot: dict[str, Any] | None
    steps: list[dict[str, Any]] = field(default_factory=list)


def run_row(
    run_id: str | None,
    kind: str,
    name: str,
    started_at: datetime,
    status: str,
    summary: Mapping[str, Any] | None,
    now: datetime,
    **meta: str | None,
) -> dict[str, Any]:
    """The ``runs`` row of a new run (``finished_at`` unset), checked and scrubbed."""
    if not kind or not name:
        raise ValueError("a run needs a kind and a name")
    return {
        "id": run_id or uuid.uuid4().hex,
        "kind": kind,
        "name": name,
        **meta,
        "started_at": utc(started_at, "started_at"),
        "finished_at": None,
        "status": status,
        "summary": json_document(dict(summary or {}), "summary"),
        "created_at": now,
    }


def metric_rows(run_id: str, metrics: Iterable[MetricRecord]) -> list[dict[str, Any]]:
    """The ``run_metrics`` rows of a run."""
    return [
        {
            "run_id": run_id,
            "name": m.name,
            "value": float(m.value),
            "unit": m.unit,
            "direction": m.direction,
        }
        for m in metrics
    ]


def histogram_rows(run_id: str, hists: Iterable[HistogramRecord]) -> list[dict[str, Any]]:
    """The ``histograms`` rows of a run."""
    return [
        {
            "run_id": run_id,
            "name": h.name,
            "encoded": h.encoded,
            "lowest": h.lowest,
            "highest": h.highest,
            "significant_digits": h.significant_digits,
            "count": h.count,
        }
        for h in hists
    ]
