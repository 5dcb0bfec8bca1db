"""Samples in a real SQLite store: state changes, outcomes, latencies, batched writes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from redline.health import HealthChecker
from redline.store import Store, open_store
from tests.health.helpers import ScriptedRun, make_config


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path}/redline.db") as s:
        yield s


def _commits(store: Store) -> list[int]:
    counted = [0]

    def on_commit(_conn: object) -> None:
        counted[0] += 1

    sa.event.listen(store.engine, "commit", on_commit)
    return counted


def test_state_changes_and_results_are_recorded(store: Store) -> None:
    run = ScriptedRun({"health": [("ok", 0.012), "fail", "fail", "fail", ("ok", 0.020)]})
    checker = HealthChecker(
        make_config({"api": [{"name": "health"}]}), env="prod", store=store, run=run
    )

    async def main() -> None:
        for _ in range(5):
            await checker.check_round()

    asyncio.run(main())

    states = store.samples("health.state", {"service": "api", "env": "prod"}, exact=True)
    assert [s.value for s in states] == [1.0, 0.0, 1.0]
    labels = {"service": "api", "check": "health", "env": "prod"}
    outcomes = store.samples("health.check.outcome", labels, exact=True)
    assert [s.value for s in outcomes] == [1.0, 0.0, 0.0, 0.0, 1.0]
    latencies = store.samples("health.check.latency_ms", labels, exact=True)
    assert [s.value for s in latencies] == pytest.approx([12.0, 10.0, 10.0, 10.0, 20.0])
    assert checker.status().schedule.samples_written == 5 + 5 + 3


def test_could_not_measure_is_recorded_as_such_without_a_latency(store: Store) -> None:
    run = ScriptedRun({"db": ["error"]})
    checker = HealthChecker(make_config({"db": [{"name": "db"}]}), env=None, store=store, run=run)
    asyncio.run(checker.check_round())
    assert [s.value for s in store.samples("health.check.outcome", {"check": "db"})] == [-1.0]
    assert store.samples("health.check.latency_ms", {"check": "db"}) == []
    # No environment, no env label.
    assert store.series_labels("health.check.outcome") == [{"check": "db", "service": "db"}]


def test_a_round_of_200_checks_is_one_transaction(store: Store) -> None:
    config = make_config({f"svc{i}": [{"name": "h"}, {"name": "g"}] for i in range(100)})
    checker = HealthChecker(config, env="prod", store=store, run=ScriptedRun())
    commits = _commits(store)
    asyncio.run(checker.check_round())
    assert commits[0] == 1
    assert len(store.samples("health.check.outcome")) == 200
    assert len(store.samples("health.state")) == 100


def test_continuous_checking_flushes_in_batches(store: Store) -> None:
    config = make_config({f"svc{i}": [{"name": "h", "interval": "10ms"}] for i in range(10)})
    run = ScriptedRun()
    checker = HealthChecker(config, env="prod", store=store, run=run, flush_every=0.05)
    commits = _commits(store)

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(checker.run(stop))
        async with asyncio.timeout(10):
            await run.wait_for(200)
        stop.set()
        await task

    asyncio.run(main())
    results = run.total
    assert len(store.samples("health.check.outcome")) == results  # the last batch included
    assert commits[0] < results / 5


def test_a_failing_store_is_reported_and_checking_goes_on(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE samples"))
    checker = HealthChecker(
        make_config({"api": [{"name": "h"}]}), env=None, store=store, run=ScriptedRun()
    )
    (res,) = asyncio.run(checker.check_round())
    assert res.ok
    schedule = checker.status().schedule
    assert schedule.store_errors == 1
    assert "no such table" in (schedule.last_store_error or "")
    assert checker.status().state == "healthy"
