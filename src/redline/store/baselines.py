"""Baselines, and the run queries that metric histories and baselines are built on.

A baseline rule belongs to one (run name, environment). Setting or accepting one adds
a row to ``baselines``; the newest row is the one in force, and the older rows are its
history (who changed it, when, and why). The rules themselves are applied by
:mod:`redline.analysis.baseline`; this module only stores them and answers the
queries they need, each in one statement.

>>> store.record_baseline(name="checkout", environment="staging", action="accept",
...                       rule_kind="last_good", rule_value={"n": 5, "branch": "main"},
...                       run_ids=[run_id], reason="new cache")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa

from redline.store import tables as t
from redline.store.connection import Repository
from redline.store.records import RunRecord, check_choice, json_document, scrub, utc

__all__ = [
    "BASELINE_ACTIONS",
    "RULE_KINDS",
    "BaselineRecord",
    "BaselinesRepository",
    "MetricPoint",
    "MetricValue",
]

RULE_KINDS: Final = ("last_good", "tag", "runs")
# "set": someone chose a rule; "accept": a run starts a new baseline (an expected change).
BASELINE_ACTIONS: Final = ("set", "accept")
# Bound parameters per statement: far below SQLite's and PostgreSQL's limits.
_CHUNK: Final = 500


@dataclass(frozen=True, slots=True)
class BaselineRecord:
    """One change to the baseline rule of a (name, environment); the newest is in force.

    ``start_at``/``start_run_id``: runs started before this accepted run are no longer
    baseline candidates under the ``last_good`` rule.
    """

    id: int
    name: str
    environment: str | None
    action: str
    rule_kind: str
    rule_value: dict[str, Any]
    run_ids: list[str]
    start_run_id: str | None
    start_at: datetime | None
    reason: str | None
    who_user: str | None
    who_host: str | None
    created_at: datetime

    @property
    def who(self) -> str | None:
        """``user@host`` (or whichever of the two is known)."""
        if self.who_user and self.who_host:
            return f"{self.who_user}@{self.who_host}"
        return self.who_user or self.who_host


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One run's value of one metric, with the run's metadata."""

    run_id: str
    started_at: datetime
    value: float
    unit: str | None
    direction: str
    commit: str | None
    version: str | None
    host: str | None
    status: str


@dataclass(frozen=True, slots=True)
class MetricValue:
    """One metric of one run, as read for a set of runs."""

    run_id: str
    name: str
    value: float
    unit: str | None
    direction: str


_BASELINE_COLUMNS = [t.baselines.c[f.name] for f in fields(BaselineRecord)]
_RUN_COLUMNS = [t.runs.c[f.name] for f in fields(RunRecord)]
_NEWEST_RUN = (t.runs.c.started_at.desc(), t.runs.c.created_at.desc(), t.runs.c.id.desc())


def _same(column: sa.ColumnElement[Any], value: str | None) -> sa.ColumnElement[bool]:
    """``column`` equals ``value``, where None is a value: runs recorded without it."""
    return column.is_(None) if value is None else column == value


def _filters(**values: str | None) -> list[sa.ColumnElement[bool]]:
    """``runs.<name> == value`` for every value given (None: any)."""
    return [t.runs.c[name] == value for name, value in values.items() if value is not None]


class BaselinesRepository(Repository):
    """Baseline rules and the run queries behind histories; part of :class:`Store`."""

    # -- baselines ---------------------------------------------------------------

    def record_baseline(
        self,
        *,
        name: str,
        environment: str | None,
        action: str,
        rule_kind: str,
        rule_value: dict[str, Any],
        run_ids: Iterable[str] = (),
        start_run_id: str | None = None,
        start_at: datetime | None = None,
        reason: str | None = None,
        who_user: str | None = None,
        who_host: str | None = None,
    ) -> BaselineRecord:
        """Add a row to the baseline history of (name, environment); it is now in force."""
        check_choice("baseline action", action, BASELINE_ACTIONS)
        check_choice("baseline rule", rule_kind, RULE_KINDS)
        if not name:
            raise ValueError("a baseline needs the name of the runs it is for")
        row: dict[str, Any] = {
            "name": name,
            "environment": environment,
            "action": action,
            "rule_kind": rule_kind,
            "rule_value": json_document(dict(rule_value), "rule_value"),
            "run_ids": [str(run_id) for run_id in run_ids],
            "start_run_id": start_run_id,
            "start_at": utc(start_at, "start_at") if start_at else None,
            "reason": scrub(reason),
            "who_user": who_user,
            "who_host": who_host,
            "created_at": self._now(),
        }
        with self._write() as conn:
            key = conn.execute(t.baselines.insert(), row).inserted_primary_key
        assert key is not None
        return BaselineRecord(id=int(key[0]), **row)

    def active_baseline(self, name: str, environment: str | None) -> BaselineRecord | None:
        """The baseline row in force for (name, environment), or None (the default rule)."""
        history = self.baseline_history(name, environment, limit=1)
        return history[0] if history else None

    def baseline_history(
        self, name: str, environment: str | None, *, limit: int | None = None
    ) -> list[BaselineRecord]:
        """Every change to the baseline of (name, environment), newest (in force) first."""
        query = (
            sa.select(*_BASELINE_COLUMNS)
            .where(t.baselines.c.name == name, _same(t.baselines.c.environment, environment))
            .order_by(t.baselines.c.created_at.desc(), t.baselines.c.id.desc())
            .limit(limit)
        )
        with self._read() as conn:
            return [BaselineRecord(**row._mapping) for row in conn.execute(query)]

    # -- runs and metrics, as histories and baselines read them -------------------

    def metric_points(
        self,
        name: str,
        metric: str,
        environment: str | None,
        branch: str | None,
        *,
        kind: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[MetricPoint]:
        """One metric of the finished runs called ``name``, oldest first, in one query.

        ``environment`` and ``branch`` name the series (None: runs recorded without
        one); ``limit`` keeps the newest points.
        """
        query = (
            sa.select(
                t.runs.c.id.label("run_id"),
                t.runs.c.started_at,
                t.run_metrics.c.value,
                t.run_metrics.c.unit,
                t.run_metrics.c.direction,
                t.runs.c.commit,
                t.runs.c.version,
                t.runs.c.host,
                t.runs.c.status,
            )
            .join(t.run_metrics, t.run_metrics.c.run_id == t.runs.c.id)
            .where(
                t.runs.c.name == name,
                t.run_metrics.c.name == metric,
                _same(t.runs.c.environment, environment),
                _same(t.runs.c.branch, branch),
                t.runs.c.status != "running",
                *_filters(kind=kind),
            )
            .order_by(*_NEWEST_RUN)
            .limit(limit)
        )
        if since is not None:
            query = query.where(t.runs.c.started_at >= utc(since, "since"))
        with self._read() as conn:
            points = [MetricPoint(**row._mapping) for row in conn.execute(query)]
        points.reverse()
        return points

    def metric_names(
        self,
        name: str,
        *,
        environment: str | None = None,
        branch: str | None = None,
        kind: str | None = None,
    ) -> list[str]:
        """The metrics recorded by runs called ``name`` (filters: None means any), sorted."""
        query = (
            sa.select(t.run_metrics.c.name)
            .distinct()
            .join(t.runs, t.runs.c.id == t.run_metrics.c.run_id)
            .where(
                t.runs.c.name == name,
                *_filters(environment=environment, branch=branch, kind=kind),
            )
            .order_by(t.run_metrics.c.name)
        )
        with self._read() as conn:
            return [str(value) for value in conn.scalars(query)]

    def series_places(self, name: str, metric: str | None = None) -> list[tuple[str | None, ...]]:
        """The distinct (environment, branch) pairs that runs called ``name`` were
        recorded in (with ``metric``, when given); for saying what does exist."""
        query = sa.select(t.runs.c.environment, t.runs.c.branch).distinct()
        query = query.where(t.runs.c.name == name)
        if metric is not None:
            query = query.join(t.run_metrics, t.run_metrics.c.run_id == t.runs.c.id).where(
                t.run_metrics.c.name == metric
            )
        with self._read() as conn:
            places = [tuple(row) for row in conn.execute(query)]
        return sorted(places, key=lambda p: tuple(v or "" for v in p))

    def run_names(self, environment: str | None = None) -> list[str]:
        """The distinct names of recorded runs (in ``environment`` when given), sorted."""
        query = sa.select(t.runs.c.name).distinct().where(*_filters(environment=environment))
        with self._read() as conn:
            return sorted(str(value) for value in conn.scalars(query))

    def latest_run(
        self,
        name: str | None = None,
        *,
        environment: str | None = None,
        branch: str | None = None,
        kind: str | None = None,
    ) -> RunRecord | None:
        """The newest finished run matching every filter given (None: any)."""
        query = (
            sa.select(*_RUN_COLUMNS)
            .where(
                t.runs.c.status != "running",
                *_filters(name=name, environment=environment, branch=branch, kind=kind),
            )
            .order_by(*_NEWEST_RUN)
            .limit(1)
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else RunRecord(**row._mapping)

    def runs_by_id(self, run_ids: Sequence[str]) -> dict[str, RunRecord]:
        """The runs among ``run_ids`` that exist, by id."""
        found: dict[str, RunRecord] = {}
        with self._read() as conn:
            for chunk in _chunks(run_ids):
                query = sa.select(*_RUN_COLUMNS).where(t.runs.c.id.in_(chunk))
                found.update((row.id, RunRecord(**row._mapping)) for row in conn.execute(query))
        return found

    def metric_values(self, run_ids: Sequence[str]) -> list[MetricValue]:
        """Every scalar metric of the runs ``run_ids``, in one query per 500 runs."""
        values: list[MetricValue] = []
        columns = [t.run_metrics.c[f.name] for f in fields(MetricValue)]
        with self._read() as conn:
            for chunk in _chunks(run_ids):
                query = sa.select(*columns).where(t.run_metrics.c.run_id.in_(chunk))
                values.extend(MetricValue(**row._mapping) for row in conn.execute(query))
        return values

    def good_runs(
        self,
        name: str,
        environment: str | None,
        *,
        kind: str | None = None,
        branch: str | None = None,
        version: str | None = None,
        start_at: datetime | None = None,
        also: str | None = None,
        before: RunRecord | None = None,
        limit: int | None = None,
    ) -> list[RunRecord]:
        """Runs of (name, environment) with status ``ok``, newest first.

        ``branch``/``version``/``kind`` filter when given; ``start_at`` drops runs that
        started earlier; ``also`` is a run id admitted whatever its branch (the run a
        baseline was accepted from); ``before`` keeps runs older than that run (and
        never the run itself).
        """
        where = [
            t.runs.c.name == name,
            _same(t.runs.c.environment, environment),
            t.runs.c.status == "ok",
            *_filters(kind=kind, version=version),
        ]
        if branch is not None:
            on_branch = t.runs.c.branch == branch
            where.append(sa.or_(on_branch, t.runs.c.id == also) if also else on_branch)
        if start_at is not None:
            where.append(t.runs.c.started_at >= utc(start_at, "start_at"))
        if before is not None:
            where += [
                t.runs.c.id != before.id,
                sa.or_(
                    t.runs.c.started_at < before.started_at,
                    sa.and_(
                        t.runs.c.started_at == before.started_at,
                        t.runs.c.created_at < before.created_at,
                    ),
                ),
            ]
        query = sa.select(*_RUN_COLUMNS).where(*where).order_by(*_NEWEST_RUN).limit(limit)
        with self._read() as conn:
            return [RunRecord(**row._mapping) for row in conn.execute(query)]

    def run_versions(self, name: str, environment: str | None) -> list[str]:
        """The versions recorded for runs of (name, environment), sorted."""
        query = (
            sa.select(t.runs.c.version)
            .distinct()
            .where(
                t.runs.c.name == name,
                _same(t.runs.c.environment, environment),
                t.runs.c.version.is_not(None),
            )
        )
        with self._read() as conn:
            return sorted(str(value) for value in conn.scalars(query))


def _chunks(items: Sequence[str]) -> Iterable[list[str]]:
    unique = list(dict.fromkeys(items))
    for start in range(0, len(unique), _CHUNK):
        yield unique[start : start + _CHUNK]
