"""The baselines table (schema 0002): its rows, and the upgrade of a 0001 store to it."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from redline.store import BaselineRecord, MetricRecord, Store, append_run, open_store
from redline.store import tables as t
from redline.store.constants import HEAD_REVISION
from redline.store.migrate import known_revisions, read_revision
from tests.store.test_migrations import _alembic, raw_engine

T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def test_the_baselines_revision_is_0002() -> None:
    assert known_revisions()[:2] == ["0001", "0002"]


def test_baseline_rows_are_a_history_whose_newest_is_in_force(store: Store) -> None:
    assert store.active_baseline("checkout", "staging") is None
    first = store.record_baseline(
        name="checkout",
        environment="staging",
        action="set",
        rule_kind="tag",
        rule_value={"tag": "v1.2", "branch": None},
        run_ids=["a" * 32, "b" * 32],
        reason="release 1.2",
        who_user="ana",
        who_host="ci-1",
    )
    second = store.record_baseline(
        name="checkout",
        environment="staging",
        action="accept",
        rule_kind="last_good",
        rule_value={"n": 5, "branch": "main"},
        run_ids=["c" * 32],
        start_run_id="c" * 32,
        start_at=T0,
        reason="new cache",
        who_user="bo",
    )
    store.record_baseline(
        name="checkout",
        environment="prod",
        action="set",
        rule_kind="last_good",
        rule_value={"n": 3, "branch": "main"},
    )
    store.record_baseline(
        name="checkout",
        environment=None,
        action="set",
        rule_kind="last_good",
        rule_value={"n": 4, "branch": "main"},
    )

    assert store.active_baseline("checkout", "staging") == second
    assert store.baseline_history("checkout", "staging") == [second, first]
    assert first.who == "ana@ci-1" and second.who == "bo"
    read = store.baseline_history("checkout", "staging")[1]
    assert read.rule_value == {"tag": "v1.2", "branch": None}
    assert read.run_ids == ["a" * 32, "b" * 32] and read.start_at is None
    active = store.active_baseline("checkout", "staging")
    assert active is not None and active.start_at == T0 and active.start_at.tzinfo is not None
    assert isinstance(active.id, int) and active.id > first.id
    none_env = store.active_baseline("checkout", None)
    assert none_env is not None and none_env.rule_value["n"] == 4
    assert store.row_counts()["baselines"] == 4


def test_bad_baseline_rows_are_refused(store: Store) -> None:
    common = {"name": "checkout", "environment": "staging", "rule_value": {"n": 5}}
    with pytest.raises(ValueError, match="baseline action"):
        store.record_baseline(action="reset", rule_kind="last_good", **common)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="baseline rule"):
        store.record_baseline(action="set", rule_kind="latest", **common)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="plain JSON"):
        store.record_baseline(
            name="checkout",
            environment="staging",
            action="set",
            rule_kind="last_good",
            rule_value={"n": float("nan")},
        )
    with pytest.raises(ValueError, match="naive"):
        store.record_baseline(
            name="checkout",
            environment="staging",
            action="accept",
            rule_kind="last_good",
            rule_value={"n": 5},
            start_at=datetime(2026, 1, 1),
        )
    assert store.baseline_history("checkout", "staging") == []
    assert BaselineRecord.__dataclass_params__.frozen  # type: ignore[attr-defined]


def _runs(url: str) -> list[tuple[object, ...]]:
    with raw_engine(url) as engine, engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, name, status FROM runs ORDER BY id"))
        return [tuple(row) for row in rows]


def test_a_0001_store_upgrades_to_0002_and_keeps_its_runs(store_url: str) -> None:
    with raw_engine(store_url) as engine:
        _alembic(engine, "upgrade", "0001")
        with engine.connect() as conn:
            assert read_revision(conn) == "0001"
            assert "baselines" not in sa.inspect(conn).get_table_names()
    # Runs with metrics, as redline at 0001 wrote them (runs and run_metrics did not change).
    with raw_engine(store_url) as engine, engine.begin() as conn:
        for i in range(3):
            run_id, when = f"{i:032x}", T0 + timedelta(days=i)
            conn.execute(
                t.runs.insert(),
                {
                    "id": run_id,
                    "kind": "load",
                    "name": "checkout",
                    "environment": "staging",
                    "branch": "main",
                    "started_at": when,
                    "status": "ok",
                    "summary": {},
                    "created_at": when,
                },
            )
            conn.execute(
                t.run_metrics.insert(),
                {"run_id": run_id, "name": "p99_ms", "value": 40.0 + i, "direction": "lower"},
            )
    before = _runs(store_url)

    with open_store(store_url) as store:
        assert store.applied_migrations == tuple(known_revisions()[1:])
        assert store.schema_revision() == HEAD_REVISION
        assert _runs(store_url) == before
        assert [m.value for m in store.run_metrics(f"{2:032x}")] == [42.0]
        points = store.metric_points("checkout", "p99_ms", "staging", "main")
        assert [p.value for p in points] == [40.0, 41.0, 42.0]
        assert store.active_baseline("checkout", "staging") is None

    with raw_engine(store_url) as engine:
        _alembic(engine, "downgrade", "0001")
        with engine.connect() as conn:
            assert "baselines" not in sa.inspect(conn).get_table_names()
        assert _runs(store_url) == before


def test_append_on_a_0001_sqlite_store_migrates_instead_of_writing_raw(tmp_path: Path) -> None:
    path = tmp_path / "redline.db"
    url = f"sqlite:///{path.as_posix()}"
    with raw_engine(url) as engine:
        _alembic(engine, "upgrade", "0001")
    open_store(url, upgrade=False).close()  # WAL on, as a 0001 redline left it

    first = append_run(url, kind="validation", name="shop", metrics=[MetricRecord("m", 1.0)])
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (HEAD_REVISION,)
        ]
    # Now at head: the next append takes the sqlite3 fast path, into the same store.
    second = append_run(url, kind="validation", name="shop", metrics=[MetricRecord("m", 2.0)])
    with open_store(url) as store:
        assert store.applied_migrations == ()
        assert [m.value for r in (first, second) for m in store.run_metrics(r)] == [1.0, 2.0]
