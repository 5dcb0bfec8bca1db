"""The :class:`Store` and :func:`open_store`, the one way to get one."""

from __future__ import annotations

from types import TracebackType

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Engine

from redline.store import tables as t
from redline.store.baselines import BaselinesRepository
from redline.store.connection import Clock, create_store_engine, unavailable, utcnow
from redline.store.locks import LocksRepository
from redline.store.migrate import (
    HEAD_REVISION,
    known_revisions,
    newer_schema_error,
    read_revision,
    upgrade_to_head,
)
from redline.store.releases import ReleasesRepository
from redline.store.runs import RunsRepository
from redline.store.series import SamplesRepository
from redline.store.urls import StoreURL, parse_store_url

__all__ = ["Store", "open_store"]


def open_store(url: str, *, upgrade: bool = True, clock: Clock = utcnow) -> Store:
    """Connect to the store at ``url`` and bring its schema to this redline's head.

    A new SQLite store gets its directory and file; any store behind the head is
    migrated once, under a lock, whoever opens it first. A store written by a
    newer redline raises StoreSchemaError and is left untouched; a URL that does
    not connect raises StoreUnavailableError. ``upgrade=False`` opens without
    migrating (``redline store info`` looks without touching).

    >>> with open_store("sqlite:///.redline/redline.db") as store:  # doctest: +SKIP
    ...     store.list_runs(kind="load", branch="main", limit=10)
    """
    target = parse_store_url(url)
    engine = create_store_engine(target)
    try:
        try:
            with engine.connect() as conn:
                revision = read_revision(conn)
        except exc.DBAPIError as error:
            raise unavailable(target, error) from None
        applied: tuple[str, ...] = ()
        if revision != HEAD_REVISION:
            if upgrade:
                applied = upgrade_to_head(engine, target)
            elif revision is not None and revision not in known_revisions():
                raise newer_schema_error(target, revision)
    except BaseException:
        engine.dispose()
        raise
    return Store(engine, target, clock=clock, applied_migrations=applied)


class Store(
    RunsRepository, SamplesRepository, ReleasesRepository, BaselinesRepository, LocksRepository
):
    """Runs, metrics, histograms, samples, releases, baselines, locks: SQLite or PostgreSQL.

    Get one with :func:`open_store`; close it (or use it as a context manager)
    when done. Every method is one short transaction, so one Store may be shared
    by the threads of a process.
    """

    def __init__(
        self,
        engine: Engine,
        target: StoreURL,
        *,
        clock: Clock = utcnow,
        applied_migrations: tuple[str, ...] = (),
    ) -> None:
        super().__init__(engine, target, clock)
        self.applied_migrations = applied_migrations
        """The migrations opening this store applied (empty when it was at head)."""

    @property
    def url(self) -> str:
        """The store URL with any password replaced by ``***``."""
        return self._target.redacted

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._target.backend

    @property
    def head_revision(self) -> str:
        """The newest schema revision this redline knows."""
        return HEAD_REVISION

    def schema_revision(self) -> str | None:
        """The store's schema revision (None if it has no schema yet)."""
        with self._read() as conn:
            return read_revision(conn)

    def upgrade(self) -> tuple[str, ...]:
        """Apply pending migrations now; return those applied (empty if at head)."""
        applied = upgrade_to_head(self._engine, self._target)
        self.applied_migrations += applied
        return applied

    def row_counts(self) -> dict[str, int]:
        """Rows in each of the store's tables that exist, by table name."""
        with self._read() as conn:
            present = set(sa.inspect(conn).get_table_names())
            return {
                name: int(conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
                for name, table in sorted(t.metadata.tables.items())
                if name in present
            }

    def close(self) -> None:
        """Close every connection of this store; the Store is not usable afterwards."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Store {self.url}>"
