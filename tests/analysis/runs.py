"""Runs of one scenario written through the store's public API, for the gate and compare tests."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from redline.store import MetricRecord, Store

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class History:
    """Runs of one scenario written through the store's public API, one an hour."""

    def __init__(self, store: Store, name: str = "checkout", env: str = "staging") -> None:
        self.store, self.name, self.env = store, name, env
        self.rng = random.Random(7)
        self.hour = 0

    def run(
        self,
        *,
        p99: float,
        rps: float = 1000.0,
        commit: str,
        branch: str = "main",
        noise: float = 0.02,
        status: str = "ok",
        extra: dict[str, float] | None = None,
        version: str | None = None,
    ) -> str:
        self.hour += 1
        jitter = lambda v: v * (1 + self.rng.gauss(0, noise))  # noqa: E731
        metrics = [
            MetricRecord("p99_ms", jitter(p99), unit="ms", direction="lower"),
            MetricRecord("rps", jitter(rps), unit="req/s", direction="higher"),
            MetricRecord("bytes_received", jitter(5e6), unit="B", direction="none"),
        ]
        metrics += [MetricRecord(k, v, direction="lower") for k, v in (extra or {}).items()]
        start = T0 + timedelta(hours=self.hour)
        return self.store.record_run(
            kind="load",
            name=self.name,
            environment=self.env,
            commit=commit,
            branch=branch,
            version=version,
            started_at=start,
            finished_at=start + timedelta(seconds=30),
            status=status,
            metrics=metrics,
        )

    def baseline(self, n: int = 8, p99: float = 100.0) -> list[str]:
        return [self.run(p99=p99, commit=f"main{i:02d}") for i in range(n)]
