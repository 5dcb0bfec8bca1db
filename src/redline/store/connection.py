"""Engines for the store, and the one place database errors become redline errors.

SQLite connections run in WAL mode with foreign keys on and a busy timeout, and
SQLAlchemy (not the sqlite3 module) emits ``BEGIN``: that makes DDL
transactional, so a migration either applies whole or not at all, and lets a
writer take the write lock up front (``BEGIN IMMEDIATE``) instead of failing
half-way when another process wrote first.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine

from redline._errors import StoreError, StoreSchemaError, StoreUnavailableError
from redline.redact import MASK
from redline.store.constants import BUSY_TIMEOUT_MS
from redline.store.urls import STORE_HINT, StoreURL

__all__ = [
    "BUSY_TIMEOUT_MS",
    "WRITE_OPTION",
    "Clock",
    "Repository",
    "create_store_engine",
    "describe",
    "translate_errors",
    "unavailable",
    "utcnow",
]

# Execution option: this connection's next transaction writes (SQLite: BEGIN IMMEDIATE).
WRITE_OPTION = "redline_write"

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def create_store_engine(target: StoreURL) -> Engine:
    """An engine for ``target``; it does not connect yet."""
    if target.backend == "sqlite":
        path = target.sqlite_path
        if path is not None:
            _prepare_directory(target, path.parent)
        engine = sa.create_engine(target.sqlalchemy_url)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    url = target.sqlalchemy_url
    connect_args: dict[str, Any] = {"application_name": "redline"}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = 10
    try:
        return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    except ImportError:
        raise StoreUnavailableError(
            f"cannot open the store at {target.redacted}: the PostgreSQL driver is not installed",
            hint="reinstall redline: psycopg 3 (psycopg[binary]) is one of its dependencies",
        ) from None


def _prepare_directory(target: StoreURL, directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreUnavailableError(
            f"cannot open the store at {target.redacted}: cannot create directory "
            f"{directory}: {error.strerror or error}",
            hint=STORE_HINT,
        ) from None
    if not os.access(directory, os.W_OK):
        raise StoreUnavailableError(
            f"cannot open the store at {target.redacted}: directory {directory} is not writable",
            hint=STORE_HINT,
        )


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy (see _sqlite_on_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        _enable_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _enable_wal(cursor: Any) -> None:
    # WAL is a property of the file: set once, it stays.
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        return
    # Switching needs an exclusive lock, and SQLite may refuse it at once rather than
    # wait (its busy handler is skipped where waiting could deadlock), which happens
    # when several processes open a new store together: retry until the busy timeout.
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.002
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def _sqlite_on_begin(conn: Connection) -> None:
    writes = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


# (pattern in the driver's message, what to tell the user; None: the matched text itself)
_REASONS: tuple[tuple[re.Pattern[str], str | None], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), label)
    for pattern, label in (
        (r"connection refused", "connection refused (is the server running and listening?)"),
        (
            r"failed to resolve host|could not translate host name|name or service not known"
            r"|nodename nor servname",
            "unknown host",
        ),
        (r"password authentication failed|authentication failed|no password supplied", None),
        (r'role "[^"]*" does not exist', None),
        (r'database "[^"]*" does not exist', None),
        (r"timeout expired|timed out", "connection timed out"),
        (
            r"unable to open database file",
            "cannot open the SQLite file (is its directory writable?)",
        ),
        (r"file is not a database", "the file is not a SQLite database"),
        (r"database is locked", "the database is locked by another process"),
    )
)


def describe(target: StoreURL, error: BaseException) -> str:
    """A one-line reason for ``error``, free of the URL's password."""
    original = getattr(error, "orig", None) or error
    text = " ".join(str(original).split())
    reason = text or type(original).__name__
    for pattern, label in _REASONS:
        found = pattern.search(text)
        if found:
            reason = label or found.group(0)
            break
    password = target.sqlalchemy_url.password
    if password:
        reason = reason.replace(str(password), MASK)
    return reason


def unavailable(target: StoreURL, error: BaseException) -> StoreUnavailableError:
    """The StoreUnavailableError for a connection-level ``error``."""
    return StoreUnavailableError(
        f"cannot open the store at {target.redacted}: {describe(target, error)}", hint=STORE_HINT
    )


@contextmanager
def translate_errors(target: StoreURL) -> Iterator[None]:
    """Turn SQLAlchemy errors into redline errors; nobody sees a SQLAlchemy traceback."""
    try:
        yield
    except exc.IntegrityError as error:
        # A caller's mistake (a duplicate name, an unknown id), not the store's.
        raise ValueError(f"the store refused the write: {describe(target, error)}") from None
    except (exc.OperationalError, exc.InterfaceError) as error:
        if "no such table" in str(error.orig).lower():
            raise _not_migrated(target) from None
        raise unavailable(target, error) from None
    except exc.ProgrammingError as error:
        if "does not exist" in str(error.orig).lower():
            raise _not_migrated(target) from None
        raise StoreError(f"store query failed: {describe(target, error)}") from None
    except exc.DBAPIError as error:
        raise StoreError(f"store query failed: {describe(target, error)}") from None
    except exc.StatementError as error:
        # A value the database cannot take (not JSON, a naive datetime). Only the
        # original error: SQLAlchemy's message would repeat every parameter.
        raise ValueError(f"the store cannot hold a value: {error.orig}") from None


def _not_migrated(target: StoreURL) -> StoreSchemaError:
    return StoreSchemaError(
        f"the store at {target.redacted} is not at this redline's schema",
        hint="run `redline store upgrade`",
    )


class Repository:
    """What every part of the store shares: the engine, the URL, the clock."""

    def __init__(self, engine: Engine, target: StoreURL, clock: Clock = utcnow) -> None:
        self._engine = engine
        self._target = target
        self._clock = clock

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine, for queries the repository methods do not cover."""
        return self._engine

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with translate_errors(self._target), self._engine.connect() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One transaction: everything inside commits together or not at all."""
        with translate_errors(self._target), self._engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                yield conn
