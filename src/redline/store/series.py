"""Samples: named, labelled time series of numbers (probe latency, error counts, CPU).

A series is a name plus a label set (``{"service": "api", "env": "prod"}``);
labels are strings, as in Prometheus. Time ranges are half-open,
``since <= ts < until``, so adjacent windows never count a sample twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime

import sqlalchemy as sa

from redline.store import tables as t
from redline.store.connection import Repository
from redline.store.records import SampleRecord, canonical_labels, finite_or_infinite, utc

__all__ = ["SamplesRepository"]


class SamplesRepository(Repository):
    """Write and query time series; part of :class:`redline.store.Store`."""

    def add_samples(
        self,
        name: str,
        labels: Mapping[str, str],
        points: Iterable[tuple[datetime, float]],
    ) -> int:
        """Append points to one series in one transaction; return how many were written.

        >>> store.add_samples("probe_latency_ms", {"service": "api"},
        ...                   [(datetime.now(UTC), 12.5)])  # doctest: +SKIP
        1
        """
        if not name:
            raise ValueError("a series needs a name")
        key = canonical_labels(labels)
        label_doc = dict(labels)
        rows = [
            {
                "name": name,
                "labels": label_doc,
                "labels_key": key,
                "ts": utc(ts, "sample time"),
                "value": finite_or_infinite(value, f"a sample of {name!r}"),
            }
            for ts, value in points
        ]
        if rows:
            with self._write() as conn:
                conn.execute(t.samples.insert(), rows)
        return len(rows)

    def samples(
        self,
        name: str,
        labels: Mapping[str, str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        exact: bool = False,
        limit: int | None = None,
    ) -> list[SampleRecord]:
        """Points of series ``name``, oldest first.

        ``labels`` selects the series having all of those labels (others may carry
        more); with ``exact=True`` only the series with exactly those labels.
        """
        query = sa.select(t.samples).where(t.samples.c.name == name)
        if labels is not None:
            if exact:
                query = query.where(t.samples.c.labels_key == canonical_labels(labels))
            else:
                canonical_labels(labels)  # checks the labels are strings
                for key, value in labels.items():
                    query = query.where(t.samples.c.labels[key].as_string() == value)
        if since is not None:
            query = query.where(t.samples.c.ts >= utc(since, "since"))
        if until is not None:
            query = query.where(t.samples.c.ts < utc(until, "until"))
        query = query.order_by(t.samples.c.ts, t.samples.c.id)
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            return [
                SampleRecord(name=row.name, labels=dict(row.labels), ts=row.ts, value=row.value)
                for row in conn.execute(query)
            ]

    def series_labels(self, name: str) -> list[dict[str, str]]:
        """The label sets series ``name`` has been recorded with."""
        query = (
            sa.select(t.samples.c.labels_key)
            .where(t.samples.c.name == name)
            .distinct()
            .order_by(t.samples.c.labels_key)
        )
        with self._read() as conn:
            return [json.loads(key) for key in conn.scalars(query)]

    def delete_samples(self, before: datetime, name: str | None = None) -> int:
        """Delete points older than ``before`` (of one series name, or all); return how many."""
        query = t.samples.delete().where(t.samples.c.ts < utc(before, "before"))
        if name is not None:
            query = query.where(t.samples.c.name == name)
        with self._write() as conn:
            return int(conn.execute(query).rowcount)
