"""Metric histories: every run is a point of per-metric series, read in one query each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from redline._errors import DataError
from redline.analysis.history import (
    SeriesKey,
    latest_run,
    load_series,
    metrics_of,
    run_samples,
)
from redline.store import MetricRecord, Store, open_store

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _load(
    store: Store,
    day: int,
    p99: float,
    *,
    env: str | None = "staging",
    branch: str | None = "main",
    **kw: Any,
) -> str:
    metrics = kw.pop(
        "metrics",
        [
            MetricRecord("latency_p99_ms", p99, unit="ms", direction="lower"),
            MetricRecord("rps", 1000.0 - day, unit="1/s", direction="higher"),
            MetricRecord("error_rate", 0.001 * day, direction="lower"),
        ],
    )
    return store.record_run(
        kind=kw.pop("kind", "load"),
        name=kw.pop("name", "checkout"),
        environment=env,
        branch=branch,
        started_at=T0 + timedelta(days=day),
        commit=f"{day:040x}",
        version=kw.pop("version", f"1.{day}"),
        host="ci-1",
        metrics=metrics,
        **kw,
    )


@pytest.fixture
def history(store: Store) -> dict[str, str]:
    """Runs in several environments, branches, kinds and statuses; their ids by label."""
    ids = {f"main{day}": _load(store, day, 40.0 + day) for day in range(6)}
    ids["failed"] = _load(store, 6, 90.0, status="fail")
    ids["feature"] = _load(store, 7, 70.0, branch="feature-x")
    ids["prod"] = _load(store, 3, 30.0, env="prod")
    ids["noenv"] = _load(store, 2, 20.0, env=None, branch=None)
    ids["validation"] = store.record_run(
        kind="validation",
        name="checkout",
        environment="staging",
        branch="main",
        started_at=T0 + timedelta(days=8),
        metrics=[MetricRecord("api.health.latency_ms", 3.0, unit="ms", direction="lower")],
    )
    ids["import"] = _load(
        store,
        9,
        0.0,
        kind="import",
        name="test_parse",
        metrics=[MetricRecord("mean_s", 0.002, unit="s", direction="lower")],
    )
    ids["running"] = store.start_run(
        kind="load",
        name="checkout",
        environment="staging",
        branch="main",
        started_at=T0 + timedelta(days=10),
    )
    return ids


def test_a_series_is_the_metric_of_every_finished_run_in_its_place_oldest_first(
    store: Store, history: dict[str, str]
) -> None:
    series = load_series(store, SeriesKey("checkout", "latency_p99_ms", "staging", "main"))
    assert series.unit == "ms" and series.direction == "lower"
    assert series.values == (40.0, 41.0, 42.0, 43.0, 44.0, 45.0, 90.0)
    assert [p.run_id for p in series.points] == [
        *(history[f"main{d}"] for d in range(6)),
        history["failed"],
    ]
    first, last = series.points[0], series.points[-1]
    assert first.time == T0 and first.commit == f"{0:040x}" and first.version == "1.0"
    assert first.host == "ci-1" and first.status == "ok" and last.status == "fail"
    assert series.good().values == (40.0, 41.0, 42.0, 43.0, 44.0, 45.0)
    assert len(series) == 7


def test_each_environment_and_branch_is_its_own_series(
    store: Store, history: dict[str, str]
) -> None:
    def values(env: str | None, branch: str | None) -> tuple[float, ...]:
        return load_series(store, SeriesKey("checkout", "latency_p99_ms", env, branch)).values

    assert values("staging", "feature-x") == (70.0,)
    assert values("prod", "main") == (30.0,)
    # None in a key is a value: the runs recorded without an environment or branch.
    assert values(None, None) == (20.0,)


def test_kind_since_and_limit_narrow_a_series(store: Store, history: dict[str, str]) -> None:
    key = SeriesKey("checkout", "latency_p99_ms", "staging", "main")
    assert load_series(store, key, since=T0 + timedelta(days=4)).values == (44.0, 45.0, 90.0)
    assert load_series(store, key, limit=2).values == (45.0, 90.0)
    assert load_series(store, key, kind="import", missing_ok=True).points == ()
    health = SeriesKey("checkout", "api.health.latency_ms", "staging", "main")
    assert load_series(store, health, kind="validation").values == (3.0,)


def test_a_series_is_read_in_one_query(store: Store, history: dict[str, str]) -> None:
    for day in range(20, 60):
        _load(store, day, 50.0)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", count)
    try:
        series = load_series(store, SeriesKey("checkout", "rps", "staging", "main"))
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", count)
    assert len(series) == 47
    assert len(statements) == 1


def test_the_series_query_uses_the_runs_index(sqlite_url: str) -> None:
    # SQLite's plan is deterministic; PostgreSQL's depends on table statistics.
    sqlite = open_store(sqlite_url)
    for day in range(5):
        _load(sqlite, day, 40.0)
    captured: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, parameters))

    sa.event.listen(sqlite.engine, "before_cursor_execute", keep)
    try:
        load_series(sqlite, SeriesKey("checkout", "rps", "staging", "main"))
    finally:
        sa.event.remove(sqlite.engine, "before_cursor_execute", keep)
    statement, parameters = captured[0]
    with sqlite, sqlite.engine.connect() as conn:
        plan = " ".join(
            row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        )
    assert "ix_runs_name_environment_branch_started_at" in plan
    assert "SCAN" not in plan.replace("SCAN CONSTANT", "")


def test_a_missing_series_says_what_the_store_does_hold(
    store: Store, history: dict[str, str]
) -> None:
    with pytest.raises(DataError) as wrong_place:
        load_series(store, SeriesKey("checkout", "latency_p99_ms", "qa", "main"))
    assert "no points for latency_p99_ms of checkout (environment qa, branch main)" in str(
        wrong_place.value
    )
    assert "environment prod, branch main" in (wrong_place.value.hint or "")
    assert wrong_place.value.exit_code == 2

    with pytest.raises(DataError) as wrong_metric:
        load_series(store, SeriesKey("checkout", "p99", "staging", "main"))
    assert "latency_p99_ms" in (wrong_metric.value.hint or "")

    with pytest.raises(DataError) as wrong_name:
        load_series(store, SeriesKey("chekout", "p99", "staging", "main"))
    assert "checkout" in (wrong_name.value.hint or "") and "test_parse" in (
        wrong_name.value.hint or ""
    )

    empty = load_series(store, SeriesKey("chekout", "p99", "staging", "main"), missing_ok=True)
    assert empty.points == () and empty.unit is None


def test_an_empty_store_says_so(store: Store) -> None:
    with pytest.raises(DataError, match="no points") as info:
        load_series(store, SeriesKey("checkout", "p99", "staging", "main"))
    assert info.value.hint == "the store has no runs yet"


def test_a_metric_recorded_in_two_units_is_refused(store: Store) -> None:
    _load(store, 0, 0.0, metrics=[MetricRecord("t", 40.0, unit="ms", direction="lower")])
    seconds = _load(store, 1, 0.0, metrics=[MetricRecord("t", 0.041, unit="s", direction="lower")])
    with pytest.raises(DataError, match="mixed units") as info:
        load_series(store, SeriesKey("checkout", "t", "staging", "main"))
    assert f"s (e.g. run {seconds})" in str(info.value) and info.value.hint


def test_metrics_of_lists_what_runs_of_a_name_recorded(
    store: Store, history: dict[str, str]
) -> None:
    assert metrics_of(store, "checkout") == [
        "api.health.latency_ms",
        "error_rate",
        "latency_p99_ms",
        "rps",
    ]
    assert metrics_of(store, "checkout", kind="load", environment="prod") == [
        "error_rate",
        "latency_p99_ms",
        "rps",
    ]
    assert metrics_of(store, "test_parse") == ["mean_s"]
    assert metrics_of(store, "nothing") == []


def test_latest_run_is_the_newest_finished_one(store: Store, history: dict[str, str]) -> None:
    newest = latest_run(store)
    assert newest is not None and newest.id == history["import"]  # the running run is skipped
    run = latest_run(store, "checkout", environment="staging", kind="load")
    assert run is not None and run.id == history["feature"]
    run = latest_run(store, "checkout", environment="staging", branch="main", kind="load")
    assert run is not None and run.id == history["failed"]
    assert latest_run(store, "checkout", environment="qa") is None


def test_run_samples_reports_a_metric_only_some_runs_have(store: Store) -> None:
    a = _load(store, 0, 40.0)
    b = _load(
        store, 1, 41.0, metrics=[MetricRecord("latency_p99_ms", 41.0, unit="ms", direction="lower")]
    )
    c = _load(store, 2, 42.0)
    samples = run_samples(store, [c, a, b])
    assert samples["latency_p99_ms"] == [42.0, 40.0, 41.0]  # in the order the runs were given
    assert samples["rps"] == [998.0, 1000.0]
    assert samples.missing == {"rps": (b,), "error_rate": (b,)}
    assert samples.complete() == ["latency_p99_ms"]
    assert samples.units["latency_p99_ms"] == "ms" and samples.directions["rps"] == "higher"
    assert run_samples(store, []) == {}


def test_run_samples_refuses_unknown_runs(store: Store) -> None:
    known = _load(store, 0, 40.0)
    with pytest.raises(DataError, match="no run 0+f in the store") as info:
        run_samples(store, [known, "f".rjust(32, "0")])
    assert "32-character run id" in (info.value.hint or "")


def test_many_runs_are_read_in_chunks(store: Store) -> None:
    real = [
        store.record_run(kind="load", name="bulk", metrics=[MetricRecord("v", float(i))])
        for i in range(3)
    ]
    # Over two chunks of bound parameters, the real runs in the last one.
    padded = [f"{i:032x}" for i in range(1, 1200)] + real
    assert set(store.runs_by_id(padded)) == set(real)
    assert sorted(v.value for v in store.metric_values(padded)) == [0.0, 1.0, 2.0]
    assert run_samples(store, real)["v"] == [0.0, 1.0, 2.0]
