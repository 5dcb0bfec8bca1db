"""Append one finished run to the store, with no SQLAlchemy on the common path.

A command that only records what it did (``redline validate`` after its checks)
would spend more on importing SQLAlchemy (about 120 ms and 10 MB per process)
than on the checks themselves. :func:`append_run` writes the same rows as
:meth:`Store.record_run <redline.store.runs.RunsRepository.record_run>` with the
standard library's ``sqlite3`` when the store is a SQLite file already at
:data:`~redline.store.constants.HEAD_REVISION`, which it is after its first use.
Everything else (PostgreSQL, a new or older store, an in-memory or ``file:`` URL,
a file that does not open) goes through :func:`~redline.store.open_store`, which
creates, migrates and explains errors as usual. A test writes one run both ways
and compares the raw rows.

>>> append_run("sqlite:///.redline/redline.db", kind="validation", name="shop")  # doctest: +SKIP
'3f2a...'
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redline.store.constants import BUSY_TIMEOUT_MS, HEAD_REVISION, VERSION_TABLE
from redline.store.records import (
    RUN_STATUSES,
    HistogramRecord,
    MetricRecord,
    check_choice,
    histogram_rows,
    metric_rows,
    run_row,
    utc,
)

__all__ = ["append_run"]

_PREFIX = "sqlite:///"
_FINAL_STATUSES = tuple(s for s in RUN_STATUSES if s != "running")


def append_run(
    url: str,
    *,
    kind: str,
    name: str,
    started_at: datetime | None = None,
    finished_at: datetime | None = None,
    status: str = "ok",
    summary: Mapping[str, Any] | None = None,
    metrics: Iterable[MetricRecord] = (),
    histograms: Iterable[HistogramRecord] = (),
    **meta: str | None,
) -> str:
    """Record a finished run in the store at ``url``, in one transaction; the run id.

    Takes what :meth:`Store.record_run` takes (``meta``: environment, version,
    commit, branch, host, run_id) and raises what it raises.
    """
    check_choice("a recorded run's status", status, _FINAL_STATUSES)
    metrics, histograms = list(metrics), list(histograms)
    now = datetime.now(UTC)
    run_id = meta.pop("run_id", None)
    row = run_row(run_id, kind, name, started_at or now, status, summary, now, **meta)
    row["finished_at"] = utc(finished_at, "finished_at") if finished_at else now
    path = _sqlite_file(url)
    if path is not None and _append_sqlite(path, row, metrics, histograms):
        return str(row["id"])
    from redline.store.core import open_store

    with open_store(url) as store:
        return store.record_run(
            kind=kind,
            name=name,
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            status=status,
            summary=row["summary"],
            metrics=metrics,
            histograms=histograms,
            run_id=row["id"],
            **meta,
        )


def _sqlite_file(url: str) -> Path | None:
    """The existing database file of a plain ``sqlite:///PATH`` URL, else None."""
    if not url.startswith(_PREFIX):
        return None
    path = url[len(_PREFIX) :]
    if not path or "?" in path or path == ":memory:" or path.startswith("file:"):
        return None
    file = Path(path)
    return file if file.is_file() else None


def _append_sqlite(
    path: Path,
    run: dict[str, Any],
    metrics: list[MetricRecord],
    histograms: list[HistogramRecord],
) -> bool:
    """Insert the rows if the store is at head; False (nothing written) when it is not."""
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    except sqlite3.Error:
        return False
    try:
        conn.execute("PRAGMA foreign_keys=ON")
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            return False  # not a store open_store made; let it set the file up
        conn.execute("BEGIN IMMEDIATE")
        try:
            if _revision(conn) != HEAD_REVISION:
                conn.execute("ROLLBACK")
                return False
            _insert(conn, "runs", [{**run, "summary": json.dumps(run["summary"])}])
            _insert(conn, "run_metrics", metric_rows(run["id"], metrics))
            _insert(conn, "histograms", histogram_rows(run["id"], histograms))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    except sqlite3.Error:
        return False  # open_store will retry and explain whatever is wrong
    finally:
        conn.close()
    return True


def _revision(conn: sqlite3.Connection) -> str | None:
    try:
        rows = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall()  # noqa: S608
    except sqlite3.OperationalError:
        return None  # no version table: an empty store
    return ",".join(sorted(str(r[0]) for r in rows)) or None


def _insert(conn: sqlite3.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    # Table and column names are this module's and records.py's constants, never input.
    quoted = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" * len(columns))
    conn.executemany(
        f"INSERT INTO {table} ({quoted}) VALUES ({marks})",  # noqa: S608
        [[_sql_value(row[c]) for c in columns] for row in rows],
    )


def _sql_value(value: Any) -> Any:
    # The text SQLAlchemy's SQLite DateTime stores: naive UTC, microseconds always shown.
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value
