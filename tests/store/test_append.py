"""append_run: the same rows as Store.record_run, without SQLAlchemy when it can."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from redline.store import HistogramRecord, MetricRecord, append_run, open_store
from redline.store.constants import HEAD_REVISION

STARTED = datetime(2026, 11, 29, 5, 0, 0, 123456, tzinfo=UTC)
FINISHED = datetime(2026, 11, 29, 5, 0, 1, tzinfo=UTC)
RUN = {
    "kind": "validation",
    "name": "shop",
    "environment": "prod",
    "version": "1.2.3",
    "commit": "abc123",
    "branch": "main",
    "host": "ci-1",
    "status": "fail",
    "started_at": STARTED,
    "finished_at": FINISHED,
    "summary": {"exit_code": 1, "checks": {"db/select": "fail"}, "ünïcode": "✓"},
    "metrics": [
        MetricRecord("db.select.latency_ms", 1.25, unit="ms", direction="lower"),
        MetricRecord("api.health.latency_ms", float("inf"), unit="ms", direction="lower"),
    ],
    "histograms": [HistogramRecord("total", "HISTFAAAAB", 1, 3_600_000_000, 3, 7)],
}


def _rows(path: Path, run_id: str) -> dict[str, list[tuple[object, ...]]]:
    """Every stored row of the run, without surrogate ids, as SQLite holds them."""
    with sqlite3.connect(path) as conn:
        return {
            "runs": conn.execute(
                "SELECT kind, name, environment, version, \"commit\", branch, host, "
                "started_at, finished_at, status, summary, typeof(created_at) "
                "FROM runs WHERE id = ?",
                (run_id,),
            ).fetchall(),
            "run_metrics": conn.execute(
                "SELECT name, value, unit, direction FROM run_metrics WHERE run_id = ? "
                "ORDER BY name",
                (run_id,),
            ).fetchall(),
            "histograms": conn.execute(
                "SELECT name, encoded, lowest, highest, significant_digits, count "
                "FROM histograms WHERE run_id = ?",
                (run_id,),
            ).fetchall(),
        }


@pytest.fixture
def used_store(tmp_path: Path) -> tuple[str, Path]:
    """A SQLite store that has been opened once (so it is at head): the fast path."""
    path = tmp_path / "redline.db"
    url = f"sqlite:///{path.as_posix()}"
    open_store(url).close()
    return url, path


def test_the_fast_path_writes_the_rows_record_run_writes(used_store: tuple[str, Path]) -> None:
    url, path = used_store
    fast_id = append_run(url, **RUN)  # type: ignore[arg-type]
    with open_store(url) as store:
        slow_id = store.record_run(**RUN)  # type: ignore[arg-type]
        fast, slow = store.get_run(fast_id), store.get_run(slow_id)
        assert fast is not None and slow is not None
        assert fast.started_at == STARTED and fast.finished_at == FINISHED
        assert fast.summary == RUN["summary"]
        assert store.run_metrics(fast_id) == store.run_metrics(slow_id)
        assert store.histograms(fast_id) == store.histograms(slow_id)
    assert _rows(path, fast_id) == _rows(path, slow_id)


def test_the_fast_path_does_not_import_sqlalchemy(used_store: tuple[str, Path]) -> None:
    url, _ = used_store
    code = (
        "import sys\n"
        "from redline.store import MetricRecord, append_run\n"
        f"append_run({url!r}, kind='validation', name='x', metrics=[MetricRecord('m', 1.0)])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]", out.stderr


def test_a_new_store_is_created_and_migrated_on_the_way(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'new' / '.redline' / 'redline.db').as_posix()}"
    run_id = append_run(url, kind="validation", name="shop", status="ok")
    with open_store(url) as store:
        assert store.schema_revision() == HEAD_REVISION
        record = store.get_run(run_id)
        assert record is not None and record.status == "ok"


def test_a_store_behind_head_is_migrated_not_written_raw(used_store: tuple[str, Path]) -> None:
    url, path = used_store
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'older'")
    with pytest.raises(Exception, match="older"):
        # open_store refuses a revision it does not know; the fast path stepped aside.
        append_run(url, kind="validation", name="shop")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)


def test_a_bad_run_writes_nothing_on_either_path(used_store: tuple[str, Path]) -> None:
    url, path = used_store
    duplicate = [MetricRecord("m", 1.0), MetricRecord("m", 2.0)]
    with pytest.raises(ValueError, match="duplicate|unique|UNIQUE"):
        append_run(url, kind="validation", name="shop", metrics=duplicate)
    with pytest.raises(ValueError, match="status"):
        append_run(url, kind="validation", name="shop", status="running")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM run_metrics").fetchone() == (0,)


@pytest.mark.postgres
def test_postgresql_goes_through_open_store(pg_url: str) -> None:
    run_id = append_run(pg_url, **RUN)  # type: ignore[arg-type]
    with open_store(pg_url) as store:
        record = store.get_run(run_id)
        assert record is not None and record.summary == RUN["summary"]
        assert [m.name for m in store.run_metrics(run_id)] == [
            "api.health.latency_ms",
            "db.select.latency_ms",
        ]
