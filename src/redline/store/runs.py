"""Runs: one recorded execution, its scalar metrics and its latency histograms."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from redline.store import tables as t
from redline.store.connection import Repository
from redline.store.records import (
    RUN_STATUSES,
    HistogramRecord,
    MetricRecord,
    RunRecord,
    check_choice,
    histogram_rows,
    json_document,
    metric_rows,
    run_row,
    utc,
)

__all__ = ["RunsRepository"]

_FINAL_STATUSES = tuple(s for s in RUN_STATUSES if s != "running")
# Select by the record's fields: a column added by a later migration must not break readers.
_RUN_COLUMNS = [t.runs.c[f.name] for f in fields(RunRecord)]
_METRIC_COLUMNS = [t.run_metrics.c[f.name] for f in fields(MetricRecord)]
_HISTOGRAM_COLUMNS = [t.histograms.c[f.name] for f in fields(HistogramRecord)]


class RunsRepository(Repository):
    """Record runs and read them back; part of :class:`redline.store.Store`."""

    def record_run(
        self,
        *,
        kind: str,
        name: str,
        started_at: datetime | None = None,
        finished_at: datetime | None = None,
        status: str = "ok",
        environment: str | None = None,
        version: str | None = None,
        commit: str | None = None,
        branch: str | None = None,
        host: str | None = None,
        summary: Mapping[str, Any] | None = None,
        metrics: Iterable[MetricRecord] = (),
        histograms: Iterable[HistogramRecord] = (),
        run_id: str | None = None,
    ) -> str:
        """Record a finished run with its metrics and histograms in one transaction.

        Either all of it is stored or none of it: a duplicate metric name, say,
        raises ValueError and leaves no run behind.

        >>> p99 = MetricRecord("p99_ms", 41.0, unit="ms", direction="lower")
        >>> run_id = store.record_run(kind="load", name="checkout", metrics=[p99])  # doctest: +SKIP
        """
        check_choice("a recorded run's status", status, _FINAL_STATUSES)
        now = self._now()
        row = run_row(
            run_id,
            kind,
            name,
            started_at or now,
            status,
            summary,
            now,
            environment=environment,
            version=version,
            commit=commit,
            branch=branch,
            host=host,
        )
        row["finished_at"] = utc(finished_at, "finished_at") if finished_at else now
        with self._write() as conn:
            conn.execute(t.runs.insert(), row)
            _insert_results(conn, row["id"], metrics, histograms)
        return str(row["id"])

    def start_run(
        self,
        *,
        kind: str,
        name: str,
        started_at: datetime | None = None,
        environment: str | None = None,
        version: str | None = None,
        commit: str | None = None,
        branch: str | None = None,
        host: str | None = None,
        summary: Mapping[str, Any] | None = None,
        run_id: str | None = None,
    ) -> str:
        """Record that a run has begun (status ``running``); end it with :meth:`finish_run`."""
        now = self._now()
        row = run_row(
            run_id,
            kind,
            name,
            started_at or now,
            "running",
            summary,
            now,
            environment=environment,
            version=version,
            commit=commit,
            branch=branch,
            host=host,
        )
        with self._write() as conn:
            conn.execute(t.runs.insert(), row)
        return str(row["id"])

    def finish_run(
        self,
        run_id: str,
        *,
        status: str = "ok",
        finished_at: datetime | None = None,
        summary: Mapping[str, Any] | None = None,
        metrics: Iterable[MetricRecord] = (),
        histograms: Iterable[HistogramRecord] = (),
    ) -> None:
        """End a running run: its final status, summary, metrics and histograms, atomically.

        Raises KeyError for an unknown run and ValueError for one already finished.
        """
        check_choice("a finished run's status", status, _FINAL_STATUSES)
        values: dict[str, Any] = {
            "status": status,
            "finished_at": utc(finished_at, "finished_at") if finished_at else self._now(),
        }
        if summary is not None:
            values["summary"] = json_document(dict(summary), "summary")
        with self._write() as conn:
            updated = conn.execute(
                t.runs.update()
                .where(t.runs.c.id == run_id, t.runs.c.status == "running")
                .values(values)
            )
            if updated.rowcount == 0:
                current = conn.scalar(sa.select(t.runs.c.status).where(t.runs.c.id == run_id))
                if current is None:
                    raise KeyError(f"no run {run_id!r} in the store")
                raise ValueError(f"run {run_id!r} already finished with status {current!r}")
            _insert_results(conn, run_id, metrics, histograms)

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run with this id, or None."""
        with self._read() as conn:
            row = conn.execute(sa.select(*_RUN_COLUMNS).where(t.runs.c.id == run_id)).first()
        return None if row is None else RunRecord(**row._mapping)

    def list_runs(
        self,
        kind: str | None = None,
        name: str | None = None,
        environment: str | None = None,
        branch: str | None = None,
        limit: int | None = 100,
        *,
        status: str | None = None,
        since: datetime | None = None,
    ) -> list[RunRecord]:
        """Runs matching every filter given, newest first (``limit=None``: all of them)."""
        query = sa.select(*_RUN_COLUMNS)
        for column, value in (
            (t.runs.c.kind, kind),
            (t.runs.c.name, name),
            (t.runs.c.environment, environment),
            (t.runs.c.branch, branch),
            (t.runs.c.status, status),
        ):
            if value is not None:
                query = query.where(column == value)
        if since is not None:
            query = query.where(t.runs.c.started_at >= utc(since, "since"))
        query = query.order_by(t.runs.c.started_at.desc(), t.runs.c.created_at.desc(), t.runs.c.id)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            return [RunRecord(**row._mapping) for row in conn.execute(query)]

    def run_metrics(self, run_id: str) -> list[MetricRecord]:
        """The scalar metrics of a run, by name."""
        query = (
            sa.select(*_METRIC_COLUMNS)
            .where(t.run_metrics.c.run_id == run_id)
            .order_by(t.run_metrics.c.name)
        )
        with self._read() as conn:
            return [MetricRecord(**row._mapping) for row in conn.execute(query)]

    def histograms(self, run_id: str) -> list[HistogramRecord]:
        """The latency histograms of a run, by name."""
        query = (
            sa.select(*_HISTOGRAM_COLUMNS)
            .where(t.histograms.c.run_id == run_id)
            .order_by(t.histograms.c.name)
        )
        with self._read() as conn:
            return [HistogramRecord(**row._mapping) for row in conn.execute(query)]


def _insert_results(
    conn: Connection,
    run_id: str,
    metrics: Iterable[MetricRecord],
    hists: Iterable[HistogramRecord],
) -> None:
    if rows := metric_rows(run_id, metrics):
        conn.execute(t.run_metrics.insert(), rows)
    if rows := histogram_rows(run_id, hists):
        conn.execute(t.histograms.insert(), rows)
