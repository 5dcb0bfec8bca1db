"""Batched writes of health samples to the store: one transaction per flush, not per result.

Series written (labels ``service``, ``check``, and ``env`` when there is one):

- ``health.state``: a service changed state; 1 healthy, 0 unhealthy.
- ``health.check.outcome``: every result; 1 ok, 0 fail, -1 could not measure.
- ``health.check.latency_ms``: every measured result (ok or fail).

The checker buffers points in memory and flushes them (in a worker thread, so the
event loop keeps its schedule) once a second and when it stops. A store that fails
is counted and reported in the status; checking goes on without it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from redline.redact import REDACTOR

if TYPE_CHECKING:
    from redline.probes.base import HealthCheckResult
    from redline.store import Store

__all__ = ["OUTCOME_VALUES", "SampleRecorder"]

OUTCOME_VALUES = {"ok": 1.0, "fail": 0.0, "error": -1.0}
_LOG = logging.getLogger("redline.health")


class SampleRecorder:
    """Buffers samples and writes them to ``store`` in one transaction per flush."""

    def __init__(self, store: Store | None, env: str | None) -> None:
        self._store = store
        self._env = {"env": env} if env else {}
        self._rows: list[dict[str, Any]] = []
        self._lock = asyncio.Lock()
        self.written = 0
        self.errors = 0
        self.last_error: str | None = None

    @property
    def enabled(self) -> bool:
        return self._store is not None

    @property
    def pending(self) -> int:
        return len(self._rows)

    def result(self, service: str, check: str, result: HealthCheckResult) -> None:
        if self._store is None:
            return
        labels = {"service": service, "check": check, **self._env}
        self._add("health.check.outcome", labels, result.started_at, OUTCOME_VALUES[result.outcome])
        if result.outcome != "error":
            self._add("health.check.latency_ms", labels, result.started_at, result.latency * 1e3)

    def state(self, service: str, healthy: bool, at: datetime) -> None:
        if self._store is None:
            return
        self._add("health.state", {"service": service, **self._env}, at, 1.0 if healthy else 0.0)

    def _add(self, name: str, labels: dict[str, str], ts: datetime, value: float) -> None:
        from redline.store.records import canonical_labels, utc

        self._rows.append(
            {
                "name": name,
                "labels": labels,
                "labels_key": canonical_labels(labels),
                "ts": utc(ts),
                "value": float(value),
            }
        )

    async def flush(self) -> int:
        """Write what is buffered in one transaction; the number of points written."""
        store = self._store
        if store is None:
            return 0
        async with self._lock:
            rows, self._rows = self._rows, []
            if not rows:
                return 0
            try:
                await asyncio.to_thread(_insert, store, rows)
            except Exception as exc:
                # A store outage must not stop the checks; the points are dropped, counted,
                # and the status says why.
                self.errors += 1
                self.last_error = REDACTOR.scrub(f"{type(exc).__name__}: {exc}".splitlines()[0])
                _LOG.warning("health samples not stored: %s", self.last_error)
                return 0
            self.written += len(rows)
            return len(rows)

    async def run(self, every: float = 1.0) -> None:
        """Flush every ``every`` seconds until cancelled."""
        while True:
            await asyncio.sleep(every)
            await self.flush()


def _insert(store: Store, rows: list[dict[str, Any]]) -> None:
    # Store.add_samples writes one series per transaction; a round of 1,000 checks is 1,000
    # series, so the points go in as one insert through the store's engine (same table, same
    # row shape, same write lock) instead.
    from redline.store import tables
    from redline.store.connection import WRITE_OPTION

    with store.engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            conn.execute(tables.samples.insert(), rows)
