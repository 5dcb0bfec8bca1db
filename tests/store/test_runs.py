"""Runs, their metrics and histograms: round trips and atomicity, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hdrh.histogram import HdrHistogram

from redline.store import HistogramRecord, MetricRecord, Store
from redline.store import tables as t

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
PERCENTILES = (50.0, 90.0, 99.0, 99.9, 100.0)


def _latency_histogram() -> HdrHistogram:
    histogram = HdrHistogram(1, 60_000_000, 3)
    for i in range(1, 5001):
        histogram.record_value(200 + (i * 7919) % 40_000)  # microseconds, spread out
    histogram.record_value(1_250_000)  # one slow outlier
    return histogram


def _record(histogram: HdrHistogram, name: str = "latency_us") -> HistogramRecord:
    return HistogramRecord(
        name=name,
        encoded=histogram.encode().decode("ascii"),
        lowest=histogram.lowest_trackable_value,
        highest=histogram.highest_trackable_value,
        significant_digits=histogram.significant_figures,
        count=histogram.get_total_count(),
    )


def _count(store: Store, table: sa.Table) -> int:
    with store.engine.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


def test_record_run_round_trips_metadata_metrics_and_histograms(store: Store) -> None:
    original = _latency_histogram()
    started = datetime(2024, 5, 1, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    run_id = store.record_run(
        kind="load",
        name="checkout",
        environment="staging",
        version="1.4.2",
        commit="0a1b2c3",
        branch="main",
        host="ci-7",
        started_at=started,
        finished_at=started + timedelta(seconds=30),
        status="ok",
        summary={"rate": "200/s", "scenario": {"users": 50}},
        metrics=[
            MetricRecord("p99_ms", 41.25, unit="ms", direction="lower"),
            MetricRecord("throughput", 199.5, unit="req/s", direction="higher"),
        ],
        histograms=[_record(original)],
    )

    run = store.get_run(run_id)
    assert run is not None
    assert (run.kind, run.name, run.environment, run.version) == (
        "load",
        "checkout",
        "staging",
        "1.4.2",
    )
    assert (run.commit, run.branch, run.host, run.status) == ("0a1b2c3", "main", "ci-7", "ok")
    assert run.started_at == T0 and run.started_at.tzinfo is UTC
    assert run.duration == timedelta(seconds=30)
    assert run.summary == {"rate": "200/s", "scenario": {"users": 50}}
    assert run.created_at.tzinfo is UTC

    assert store.run_metrics(run_id) == [
        MetricRecord("p99_ms", 41.25, unit="ms", direction="lower"),
        MetricRecord("throughput", 199.5, unit="req/s", direction="higher"),
    ]

    [stored] = store.histograms(run_id)
    assert stored == _record(original)
    assert stored.encoded.startswith("HISTFAAA")
    decoded = HdrHistogram.decode(stored.encoded.encode("ascii"))
    assert decoded.get_total_count() == original.get_total_count() == 5001
    for percentile in PERCENTILES:
        assert decoded.get_value_at_percentile(percentile) == original.get_value_at_percentile(
            percentile
        )
    assert decoded.get_max_value() == original.get_max_value()


def test_get_run_of_unknown_id_is_none(store: Store) -> None:
    assert store.get_run("0" * 32) is None
    assert store.run_metrics("0" * 32) == []
    assert store.histograms("0" * 32) == []


def test_start_then_finish_run(store: Store) -> None:
    run_id = store.start_run(kind="validation", name="prod-check", started_at=T0, branch="main")
    running = store.get_run(run_id)
    assert running is not None
    assert running.status == "running" and running.finished_at is None and running.duration is None

    store.finish_run(
        run_id,
        status="fail",
        finished_at=T0 + timedelta(seconds=3),
        summary={"failed": ["api.health"]},
        metrics=[MetricRecord("checks_failed", 1.0)],
    )
    finished = store.get_run(run_id)
    assert finished is not None
    assert finished.status == "fail"
    assert finished.finished_at == T0 + timedelta(seconds=3)
    assert finished.summary == {"failed": ["api.health"]}
    assert store.run_metrics(run_id) == [MetricRecord("checks_failed", 1.0)]

    with pytest.raises(ValueError, match="already finished"):
        store.finish_run(run_id, status="ok")
    with pytest.raises(KeyError):
        store.finish_run("f" * 32)


def test_list_runs_filters_newest_first(store: Store) -> None:
    ids = {}
    for i, (kind, name, env, branch, status) in enumerate(
        [
            ("load", "checkout", "staging", "main", "ok"),
            ("load", "checkout", "staging", "feature", "ok"),
            ("load", "search", "prod", "main", "fail"),
            ("validation", "checkout", "prod", "main", "ok"),
            ("load", "checkout", "staging", "main", "error"),
        ]
    ):
        ids[i] = store.record_run(
            kind=kind,
            name=name,
            environment=env,
            branch=branch,
            status=status,
            started_at=T0 + timedelta(minutes=i),
        )

    assert [r.id for r in store.list_runs()] == [ids[i] for i in (4, 3, 2, 1, 0)]
    assert [r.id for r in store.list_runs(kind="load", name="checkout", branch="main")] == [
        ids[4],
        ids[0],
    ]
    assert [r.id for r in store.list_runs("load", "checkout", "staging", "main", status="ok")] == [
        ids[0]
    ]
    assert [r.id for r in store.list_runs(environment="prod")] == [ids[3], ids[2]]
    assert [r.id for r in store.list_runs(limit=2)] == [ids[4], ids[3]]
    assert [r.id for r in store.list_runs(since=T0 + timedelta(minutes=3))] == [ids[4], ids[3]]


def test_record_run_is_one_transaction(store: Store) -> None:
    with pytest.raises(ValueError, match="refused the write"):
        store.record_run(
            kind="load",
            name="checkout",
            metrics=[MetricRecord("p99_ms", 1.0), MetricRecord("p99_ms", 2.0)],
        )
    original = _latency_histogram()
    with pytest.raises(ValueError, match="refused the write"):
        store.record_run(
            kind="load",
            name="checkout",
            metrics=[MetricRecord("p99_ms", 1.0)],
            histograms=[_record(original), _record(original)],
        )
    assert store.list_runs() == []
    assert _count(store, t.runs) == 0
    assert _count(store, t.run_metrics) == 0
    assert _count(store, t.histograms) == 0


def test_finish_run_is_one_transaction(store: Store) -> None:
    run_id = store.start_run(kind="load", name="checkout")
    with pytest.raises(ValueError, match="refused the write"):
        store.finish_run(run_id, metrics=[MetricRecord("p99_ms", 1.0), MetricRecord("p99_ms", 2.0)])
    run = store.get_run(run_id)
    assert run is not None and run.status == "running"
    assert store.run_metrics(run_id) == []


def test_deleting_a_run_deletes_its_metrics_and_histograms(store: Store) -> None:
    run_id = store.record_run(
        kind="load",
        name="checkout",
        metrics=[MetricRecord("p99_ms", 1.0)],
        histograms=[_record(_latency_histogram())],
    )
    with store.engine.begin() as conn:
        conn.execute(t.runs.delete().where(t.runs.c.id == run_id))
    assert _count(store, t.run_metrics) == 0
    assert _count(store, t.histograms) == 0


def test_bad_input_is_refused_before_writing(store: Store) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.record_run(kind="load", name="x", started_at=datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="status"):
        store.record_run(kind="load", name="x", status="running")
    with pytest.raises(ValueError, match="direction"):
        MetricRecord("p99", 1.0, direction="up")
    with pytest.raises(ValueError, match="NaN"):
        MetricRecord("p99", float("nan"))
    with pytest.raises(ValueError, match="kind and a name"):
        store.record_run(kind="", name="x")
    with pytest.raises(ValueError, match="summary must be plain JSON"):
        store.record_run(kind="load", name="x", summary={"when": object()})
    with pytest.raises(ValueError, match="summary must be plain JSON"):
        store.record_run(kind="load", name="x", summary={"p99": float("nan")})
    assert store.list_runs() == []


def test_clock_is_used_for_default_times(store_url: str) -> None:
    from redline.store import open_store

    with open_store(store_url, clock=lambda: T0) as store:
        run_id = store.record_run(kind="demo", name="tour")
        run = store.get_run(run_id)
    assert run is not None
    assert run.started_at == run.finished_at == run.created_at == T0


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_url: str) -> None:
    from redline.store import open_store

    with open_store(sqlite_url) as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
