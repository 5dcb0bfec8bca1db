"""The demo system's database: items and jobs, on SQLite or PostgreSQL through SQLAlchemy Core.

Every call blocks; the API runs them in worker threads. Each business call counts one query
in :attr:`Database.queries` (the API's ``/admin/stats`` exposes it, so a test can see that a
cached read never reached the database) and can be slowed by ``slow`` seconds, spent *in the
database*: ``pg_sleep`` on PostgreSQL, a registered ``demo_sleep`` function on SQLite, run
on the same connection and in the same transaction as the query it slows.

>>> db = Database("sqlite:///:memory:")           # doctest: +SKIP
>>> db.create_tables(); db.create_item("pen", 150)  # doctest: +SKIP
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from redline.demo._dburl import is_postgres, normalize_db_url

__all__ = ["JOB_KINDS", "ClaimedJob", "Database", "iso_time", "metadata"]

JOB_KINDS = ("fail", "reprice", "sleep")

metadata = sa.MetaData()

items = sa.Table(
    "items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    # Integer cents: exact on both engines without Decimal conversions.
    sa.Column("price_cents", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, default="queued"),
    sa.Column("result", sa.JSON, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("worker", sa.String(64), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("started_at", sa.Float, nullable=True),
    sa.Column("finished_at", sa.Float, nullable=True),
    sa.Index("ix_jobs_status_id", "status", "id"),
)


@dataclass(frozen=True)
class ClaimedJob:
    """A job one worker now owns (status ``running``)."""

    id: int
    kind: str
    payload: dict[str, Any]


def _sqlite_sleep(seconds: float) -> int:
    time.sleep(max(0.0, float(seconds)))
    return 1


def _on_sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.create_function("demo_sleep", 1, _sqlite_sleep)
    cur = dbapi_conn.cursor()
    # WAL lets the API read while the worker writes; the busy timeout makes writers queue.
    cur.execute("PRAGMA busy_timeout = 30000")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for a normalized demo URL, with the pool and pragmas the demo needs."""
    if is_postgres(url):
        return sa.create_engine(
            url,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=10,
            connect_args={"connect_timeout": 3},
        )
    engine = sa.create_engine(
        url,
        pool_size=10,
        max_overflow=10,
        connect_args={"timeout": 30, "check_same_thread": False},
    )
    sa.event.listen(engine, "connect", _on_sqlite_connect)
    return engine


class Database:
    """Items and jobs tables behind a small blocking API; thread-safe."""

    def __init__(self, url: str) -> None:
        self.url = normalize_db_url(url)
        self.engine = make_engine(self.url)
        self._postgres = is_postgres(self.url)
        self._lock = threading.Lock()
        self._queries = 0

    @property
    def queries(self) -> int:
        """Business queries run so far (health pings and schema checks excluded)."""
        return self._queries

    def dispose(self) -> None:
        self.engine.dispose()

    def create_tables(self, attempts: int = 5) -> None:
        """Create missing tables; safe when the API and a worker start at the same moment."""
        for attempt in range(attempts):
            try:
                metadata.create_all(self.engine)
                return
            except sa.exc.DBAPIError:
                # Another process created a table between our check and our CREATE.
                if attempt == attempts - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def ping(self) -> None:
        """Raise if the database cannot answer ``SELECT 1``."""
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    # -- business queries -------------------------------------------------------------

    def _begin(self, conn: Connection, slow: float) -> None:
        with self._lock:
            self._queries += 1
        if slow > 0:
            fn = "pg_sleep" if self._postgres else "demo_sleep"
            conn.execute(sa.text(f"SELECT {fn}(:seconds)"), {"seconds": slow})

    def list_items(self, limit: int, offset: int, *, slow: float = 0.0) -> list[dict[str, Any]]:
        query = items.select().order_by(items.c.id).limit(limit).offset(offset)
        with self.engine.begin() as conn:
            self._begin(conn, slow)
            return [_item(row) for row in conn.execute(query).mappings()]

    def get_item(self, item_id: int, *, slow: float = 0.0) -> dict[str, Any] | None:
        with self.engine.begin() as conn:
            self._begin(conn, slow)
            row = conn.execute(items.select().where(items.c.id == item_id)).mappings().first()
        return None if row is None else _item(row)

    def create_item(self, name: str, price_cents: int, *, slow: float = 0.0) -> dict[str, Any]:
        now = time.time()
        stmt = (
            items.insert()
            .values(name=name, price_cents=price_cents, created_at=now, updated_at=now)
            .returning(*items.c)
        )
        with self.engine.begin() as conn:
            self._begin(conn, slow)
            return _item(conn.execute(stmt).mappings().one())

    def enqueue_job(
        self, kind: str, payload: dict[str, Any], *, slow: float = 0.0
    ) -> dict[str, Any]:
        stmt = (
            jobs.insert()
            .values(kind=kind, payload=payload, status="queued", attempts=0, created_at=time.time())
            .returning(*jobs.c)
        )
        with self.engine.begin() as conn:
            self._begin(conn, slow)
            return _job(conn.execute(stmt).mappings().one())

    def get_job(self, job_id: int, *, slow: float = 0.0) -> dict[str, Any] | None:
        with self.engine.begin() as conn:
            self._begin(conn, slow)
            row = conn.execute(jobs.select().where(jobs.c.id == job_id)).mappings().first()
        return None if row is None else _job(row)

    # -- worker queries ---------------------------------------------------------------

    def claim_job(self, worker: str) -> ClaimedJob | None:
        """Atomically move the oldest queued job to ``running`` for ``worker``, or None.

        One ``UPDATE ... WHERE id = (oldest queued) AND status = 'queued' RETURNING``:
        PostgreSQL skips rows other workers have locked (``FOR UPDATE SKIP LOCKED``);
        SQLite runs the statement under its single write lock, so two workers can never
        both see the same row still queued.
        """
        oldest = (
            sa.select(jobs.c.id)
            .where(jobs.c.status == "queued")
            .order_by(jobs.c.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        stmt = (
            jobs.update()
            .where(jobs.c.id == oldest, jobs.c.status == "queued")
            .values(
                status="running",
                worker=worker,
                started_at=time.time(),
                attempts=jobs.c.attempts + 1,
            )
            .returning(jobs.c.id, jobs.c.kind, jobs.c.payload)
        )
        with self.engine.begin() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            return None
        return ClaimedJob(id=row.id, kind=row.kind, payload=dict(row.payload or {}))

    def finish_job(
        self, job_id: int, *, result: dict[str, Any] | None = None, error: str | None = None
    ) -> None:
        status = "failed" if error is not None else "done"
        stmt = (
            jobs.update()
            .where(jobs.c.id == job_id)
            .values(status=status, result=result, error=error, finished_at=time.time())
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def reprice_item(
        self, item_id: int, *, price_cents: int | None = None, factor: float | None = None
    ) -> dict[str, Any]:
        """Set an item's price, or scale it by ``factor``; KeyError if the item is missing."""
        with self.engine.begin() as conn:
            old = conn.execute(
                sa.select(items.c.price_cents).where(items.c.id == item_id)
            ).scalar_one_or_none()
            if old is None:
                raise KeyError(f"item {item_id} not found")
            new = price_cents if price_cents is not None else round(old * (factor or 1.0))
            conn.execute(
                items.update()
                .where(items.c.id == item_id)
                .values(price_cents=new, updated_at=time.time())
            )
        return {"item_id": item_id, "old_price": old / 100, "new_price": new / 100}


def iso_time(ts: float | None) -> str | None:
    """UTC ISO-8601 with milliseconds, or None."""
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


def _item(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "price": row["price_cents"] / 100,
        "created_at": iso_time(row["created_at"]),
        "updated_at": iso_time(row["updated_at"]),
    }


def _job(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "kind": row["kind"],
        "payload": row["payload"],
        "status": row["status"],
        "result": row["result"],
        "error": row["error"],
        "attempts": row["attempts"],
        "worker": row["worker"],
        "created_at": iso_time(row["created_at"]),
        "started_at": iso_time(row["started_at"]),
        "finished_at": iso_time(row["finished_at"]),
    }
