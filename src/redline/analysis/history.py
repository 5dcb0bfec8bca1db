"""Every recorded run as points of per-metric series: the history analyses read.

A series is keyed by the run's name (a load scenario, a validated project, an imported
benchmark), one of its metrics, the environment and the branch. Each point carries the
run's id, time, value, commit, version, host and status, so a change found in a series
can be traced to the commits around it.

>>> key = SeriesKey("checkout", "latency_p99_ms", "staging", "main")
>>> series = load_series(store, key)                       # doctest: +SKIP
>>> series.direction, series.values[-3:]                   # doctest: +SKIP
('lower', (41.2, 40.8, 52.3))

In a :class:`SeriesKey` ``None`` is a value (runs recorded without an environment or a
branch); in the filters of :func:`metrics_of` and :func:`latest_run` ``None`` means any.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from redline._errors import DataError

if TYPE_CHECKING:
    from redline.store.core import Store
    from redline.store.records import RunRecord

__all__ = [
    "MetricSeries",
    "RunSamples",
    "SeriesKey",
    "SeriesPoint",
    "latest_run",
    "load_series",
    "metrics_of",
    "run_samples",
]


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """What one series is: runs called ``name``, their ``metric``, in one place."""

    name: str
    metric: str
    environment: str | None = None
    branch: str | None = None

    def __str__(self) -> str:
        return f"{self.metric} of {self.name} ({_place(self.environment, self.branch)})"


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One run's value in a series."""

    run_id: str
    time: datetime
    value: float
    commit: str | None
    version: str | None
    host: str | None
    status: str


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """A metric's history, oldest point first, with its unit and which way is better."""

    key: SeriesKey
    unit: str | None
    direction: str
    points: tuple[SeriesPoint, ...]

    @property
    def values(self) -> tuple[float, ...]:
        return tuple(p.value for p in self.points)

    @property
    def times(self) -> tuple[datetime, ...]:
        return tuple(p.time for p in self.points)

    def good(self) -> MetricSeries:
        """The same series with only the runs whose status is ``ok``."""
        kept = tuple(p for p in self.points if p.status == "ok")
        return MetricSeries(self.key, self.unit, self.direction, kept)

    def __len__(self) -> int:
        return len(self.points)


def load_series(
    store: Store,
    key: SeriesKey,
    *,
    kind: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
    missing_ok: bool = False,
) -> MetricSeries:
    """The series ``key`` from the store, oldest first, read in one query.

    ``kind`` keeps runs of that kind (``load``, ``validation``, ``import``); ``since``
    runs that started then or later; ``limit`` the newest points. A series with no
    points raises DataError saying what the store does hold, unless ``missing_ok``.
    A metric recorded in two units is refused; the newest run's direction wins.
    """
    rows = store.metric_points(
        key.name, key.metric, key.environment, key.branch, kind=kind, since=since, limit=limit
    )
    if not rows:
        if missing_ok:
            return MetricSeries(key, None, "none", ())
        raise _no_series(store, key, kind=kind, since=since)
    units = {row.unit for row in rows}
    if len(units) > 1:
        first: dict[str | None, str] = {}
        for row in rows:
            first.setdefault(row.unit, row.run_id)
        listed = ", ".join(f"{unit or 'no unit'} (e.g. run {run})" for unit, run in first.items())
        raise DataError(
            f"{key} in the store has mixed units: {listed}",
            hint="record or import the metric in one unit (convert before importing), "
            "or give each unit its own metric name",
        )
    points = tuple(
        SeriesPoint(r.run_id, r.started_at, r.value, r.commit, r.version, r.host, r.status)
        for r in rows
    )
    return MetricSeries(key, rows[-1].unit, rows[-1].direction, points)


def metrics_of(
    store: Store,
    name: str,
    *,
    environment: str | None = None,
    branch: str | None = None,
    kind: str | None = None,
) -> list[str]:
    """The metric names runs called ``name`` recorded (filters: None means any), sorted."""
    return store.metric_names(name, environment=environment, branch=branch, kind=kind)


def latest_run(
    store: Store,
    name: str | None = None,
    *,
    environment: str | None = None,
    branch: str | None = None,
    kind: str | None = None,
) -> RunRecord | None:
    """The newest finished run matching every filter given (None: any), or None."""
    return store.latest_run(name, environment=environment, branch=branch, kind=kind)


class RunSamples(dict[str, list[float]]):
    """Metric name -> one value per run that has it, in the order the runs were given.

    A metric that only some runs recorded is kept, and named in :attr:`missing` with
    the runs that lack it, so a comparison can say so instead of quietly dropping it.
    """

    def __init__(self, run_ids: Sequence[str]) -> None:
        super().__init__()
        self.run_ids: tuple[str, ...] = tuple(run_ids)
        self.missing: dict[str, tuple[str, ...]] = {}
        self.units: dict[str, str | None] = {}
        self.directions: dict[str, str] = {}

    def complete(self) -> list[str]:
        """The metrics every run recorded, sorted."""
        return sorted(m for m in self if m not in self.missing)


def run_samples(store: Store, run_ids: Iterable[str]) -> RunSamples:
    """Every metric of the runs ``run_ids``: name -> values (one per run that has it).

    Unknown run ids raise DataError. A metric recorded in different units by these runs
    is refused, as in :func:`load_series`.

    >>> samples = run_samples(store, baseline.run_ids)  # doctest: +SKIP
    >>> samples["latency_p99_ms"], samples.missing     # doctest: +SKIP
    ([41.2, 40.8, 42.0], {'cache_hits': ('3f2a...',)})
    """
    ids = list(dict.fromkeys(run_ids))
    found = store.runs_by_id(ids)
    unknown = [run_id for run_id in ids if run_id not in found]
    if unknown:
        raise unknown_runs_error(unknown)
    rows = store.metric_values(ids)
    by_metric: dict[str, dict[str, float]] = {}
    result = RunSamples(ids)
    for row in rows:
        by_metric.setdefault(row.name, {})[row.run_id] = row.value
        seen = result.units.setdefault(row.name, row.unit)
        if seen != row.unit:
            raise DataError(
                f"metric {row.name!r} has mixed units in runs {', '.join(ids)}: "
                f"{seen or 'no unit'} and {row.unit or 'no unit'}",
                hint="compare runs that recorded the metric in the same unit",
            )
        result.directions[row.name] = row.direction
    for metric in sorted(by_metric):
        values = by_metric[metric]
        result[metric] = [values[run_id] for run_id in ids if run_id in values]
        if len(values) < len(ids):
            result.missing[metric] = tuple(r for r in ids if r not in values)
    return result


def unknown_runs_error(unknown: Sequence[str]) -> DataError:
    """The DataError for run ids the store does not hold."""
    plural = "s" if len(unknown) > 1 else ""
    return DataError(
        f"no run{plural} {', '.join(unknown)} in the store",
        hint="use the full 32-character run id that redline printed when it recorded the "
        "run (`redline baseline show NAME` lists runs with their ids)",
    )


def _place(environment: str | None, branch: str | None) -> str:
    env = f"environment {environment}" if environment else "no environment"
    return f"{env}, {f'branch {branch}' if branch else 'no branch'}"


def _no_series(
    store: Store, key: SeriesKey, *, kind: str | None, since: datetime | None
) -> DataError:
    where = f" of kind {kind}" if kind else ""
    when = f" since {since.isoformat()}" if since else ""
    message = f"no points for {key}{where}{when} in the store"
    places = store.series_places(key.name, key.metric)
    if places:
        listed = "; ".join(_place(env, branch) for env, branch in places[:8])
        return DataError(message, hint=f"{key.metric} of {key.name} is recorded in: {listed}")
    metrics = store.metric_names(key.name)
    if metrics:
        shown = ", ".join(metrics[:12]) + (", ..." if len(metrics) > 12 else "")
        return DataError(message, hint=f"runs called {key.name} record: {shown}")
    names = store.run_names()
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    hint = f"the store has runs called: {shown}" if names else "the store has no runs yet"
    return DataError(message, hint=hint)
