"""Bring a store's schema to this redline's head, once, safely, on first use.

:func:`schema_state` reads the ``alembic_version`` table with plain SQL, so
opening a store that is already at :data:`HEAD_REVISION` never imports Alembic.
Otherwise :func:`upgrade_to_head` takes a lock (PostgreSQL: a transaction-level
advisory lock; SQLite: ``BEGIN IMMEDIATE``), reads the revision again, and runs
the pending migrations inside that one transaction: two processes opening a
fresh store at once migrate it exactly once, and a failed migration leaves the
store as it was. A revision this redline does not know (a newer redline wrote
it) is refused without changing anything.

Adding a migration: write ``migrations/versions/NNNN_what.py`` with
``down_revision`` set to the previous one, change ``tables.py`` to match, and
set ``HEAD_REVISION`` in ``constants.py`` to the new revision (a test checks all three
agree).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection, Engine

from redline._errors import StoreSchemaError
from redline.store.connection import WRITE_OPTION, describe, unavailable
from redline.store.constants import BUSY_TIMEOUT_MS, HEAD_REVISION, VERSION_TABLE
from redline.store.urls import StoreURL

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "HEAD_REVISION",
    "MIGRATIONS_DIR",
    "alembic_config",
    "known_revisions",
    "newer_schema_error",
    "read_revision",
    "upgrade_to_head",
]

MIGRATIONS_DIR: Final = Path(__file__).with_name("migrations")
# pg_advisory_xact_lock key: "redline" in ASCII, a constant every redline agrees on.
_PG_LOCK_KEY: Final = int.from_bytes(b"redline", "big")
# Waiting for another process's migration is expected; give it time.
_MIGRATION_BUSY_TIMEOUT_MS: Final = 120_000


def read_revision(conn: Connection) -> str | None:
    """The store's schema revision, None for an empty store; plain SQL, no Alembic."""
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return None
    version = sa.table(VERSION_TABLE, sa.column("version_num", sa.String))
    rows = conn.execute(sa.select(version.c.version_num)).scalars().all()
    if not rows:
        return None
    # Several rows mean Alembic branches, which redline never creates.
    return ",".join(sorted(str(row) for row in rows))


def alembic_config(connection: Connection | None = None, *, url: str | None = None) -> Config:
    """An Alembic config for the packaged migrations; no ``alembic.ini`` involved."""
    from alembic.config import Config

    config = Config()
    # ConfigParser interpolates "%": a path that contains one must survive.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def known_revisions() -> list[str]:
    """Every revision this redline ships, oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def newer_schema_error(target: StoreURL, revision: str) -> StoreSchemaError:
    """The error for a store at a revision this redline does not ship."""
    from redline import __version__

    return StoreSchemaError(
        f"the store at {target.redacted} has schema revision {revision!r}, which this "
        f"redline {__version__} (schema head {HEAD_REVISION!r}) does not know: a newer "
        "redline wrote it; the store was not changed",
        hint="upgrade redline (pip install -U redline) to use this store",
    )


def upgrade_to_head(engine: Engine, target: StoreURL) -> tuple[str, ...]:
    """Apply the pending migrations under a lock; return the revisions applied."""
    try:
        with engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                _pragma(conn, f"busy_timeout={_MIGRATION_BUSY_TIMEOUT_MS}")
                # SQLite's documented way to rebuild tables: FKs off, check them before commit.
                _pragma(conn, "foreign_keys=OFF")
            try:
                conn.execution_options(**{WRITE_OPTION: True})
                with conn.begin():
                    if not sqlite:
                        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
                    applied = _upgrade_locked(conn, target)
                    if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
                        raise StoreSchemaError(
                            f"migrating the store at {target.redacted} broke a foreign key; "
                            "nothing was changed",
                            hint="report this as a bug in redline",
                        )
            finally:
                if sqlite and not conn.invalidated:
                    _restore(conn)
    except (exc.DBAPIError, sqlite3.Error) as error:
        raise unavailable(target, error) from None
    return applied


def _upgrade_locked(conn: Connection, target: StoreURL) -> tuple[str, ...]:
    current = read_revision(conn)
    if current == HEAD_REVISION:
        return ()  # another process migrated while we waited for the lock
    known = known_revisions()
    if current is not None and current not in known:
        raise newer_schema_error(target, current)
    from alembic import command

    start = 0 if current is None else known.index(current) + 1
    try:
        command.upgrade(alembic_config(conn), "head")
    except exc.DBAPIError as error:
        # Raised inside the transaction, which rolls back: the store is as it was.
        raise StoreSchemaError(
            f"migrating the store at {target.redacted} to {HEAD_REVISION!r} failed: "
            f"{describe(target, error)}; nothing was changed",
            hint="if the database holds tables redline did not create, use another database",
        ) from None
    return tuple(known[start:])


def _restore(conn: Connection) -> None:
    try:
        _pragma(conn, "foreign_keys=ON")
        _pragma(conn, f"busy_timeout={BUSY_TIMEOUT_MS}")
    except sqlite3.Error:
        conn.invalidate()  # the pool must not hand out a connection without its pragmas


def _pragma(conn: Connection, pragma: str) -> None:
    # On the DBAPI connection: through SQLAlchemy it would begin a transaction,
    # and these pragmas are no-ops inside one.
    dbapi: Any = conn.connection.dbapi_connection
    cursor = dbapi.cursor()
    try:
        cursor.execute(f"PRAGMA {pragma}")
    finally:
        cursor.close()
