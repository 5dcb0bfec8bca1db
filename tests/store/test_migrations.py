"""Migrations: they build exactly tables.py, run once under concurrency, refuse newer stores."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from redline._errors import StoreSchemaError
from redline.store import open_store
from redline.store.connection import WRITE_OPTION, create_store_engine
from redline.store.migrate import HEAD_REVISION, alembic_config, known_revisions, read_revision
from redline.store.tables import metadata
from redline.store.urls import parse_store_url

FUTURE = "9999_from_a_newer_redline"


@contextmanager
def raw_engine(url: str) -> Iterator[Engine]:
    """The store's database without open_store: no migration, no checks."""
    engine = create_store_engine(parse_store_url(url))
    try:
        yield engine
    finally:
        engine.dispose()


def _alembic(engine: Engine, action: str, revision: str) -> None:
    with engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            getattr(command, action)(alembic_config(conn), revision)


def _tables(conn: Connection) -> set[str]:
    return set(sa.inspect(conn).get_table_names())


def _database_schema(conn: Connection) -> dict[str, Any]:
    inspector = sa.inspect(conn)
    schema: dict[str, Any] = {}
    for table in inspector.get_table_names():
        if table == "alembic_version":
            continue
        pk = inspector.get_pk_constraint(table)
        schema[table] = {
            "columns": {c["name"]: c["nullable"] for c in inspector.get_columns(table)},
            "pk": (pk["name"], tuple(pk["constrained_columns"])),
            "fks": {
                (
                    fk["name"],
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                    (fk.get("options") or {}).get("ondelete"),
                )
                for fk in inspector.get_foreign_keys(table)
            },
            "uniques": {
                (u["name"], tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            },
            "indexes": {
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
                if not i.get("duplicates_constraint")
            },
        }
    return schema


def _metadata_schema() -> dict[str, Any]:
    schema: dict[str, Any] = {}
    for name, table in metadata.tables.items():
        schema[name] = {
            "columns": {c.name: c.nullable for c in table.columns},
            "pk": (table.primary_key.name, tuple(c.name for c in table.primary_key.columns)),
            "fks": {
                (
                    fk.name,
                    tuple(fk.column_keys),
                    fk.referred_table.name,
                    tuple(element.column.name for element in fk.elements),
                    fk.ondelete,
                )
                for fk in table.foreign_key_constraints
            },
            "uniques": {
                (c.name, tuple(col.name for col in c.columns))
                for c in table.constraints
                if isinstance(c, sa.UniqueConstraint)
            },
            "indexes": {
                (i.name, tuple(col.name for col in i.columns), bool(i.unique))
                for i in table.indexes
            },
        }
    return schema


def test_head_revision_is_the_last_migration() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_heads() == [HEAD_REVISION]
    assert known_revisions()[-1] == HEAD_REVISION
    assert known_revisions()[0] == "0001"


def test_every_migration_applies_and_head_matches_tables(store_url: str) -> None:
    with raw_engine(store_url) as engine:
        for revision in known_revisions():
            _alembic(engine, "upgrade", revision)
            with engine.connect() as conn:
                assert read_revision(conn) == revision
        with engine.connect() as conn:
            assert _tables(conn) == {*metadata.tables, "alembic_version"}
            assert _database_schema(conn) == _metadata_schema()
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []

        _alembic(engine, "downgrade", "base")
        with engine.connect() as conn:
            assert _tables(conn) == {"alembic_version"}
            assert read_revision(conn) is None


def test_open_store_creates_the_schema_once(store_url: str) -> None:
    with open_store(store_url) as first:
        assert first.applied_migrations == tuple(known_revisions())
        assert first.schema_revision() == HEAD_REVISION
    with open_store(store_url) as second:
        assert second.applied_migrations == ()
        assert second.upgrade() == ()


def test_opening_a_store_at_head_does_not_import_alembic(store_url: str) -> None:
    open_store(store_url).close()
    code = (
        "import sys\n"
        "from redline.store import open_store\n"
        "store = open_store(sys.argv[1])\n"
        "store.close()\n"
        "print(store.applied_migrations, 'alembic' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, store_url], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "() False"


def _open_together(url: str, barrier: Any, results: Any) -> None:
    barrier.wait(timeout=60)
    try:
        with open_store(url) as store:
            results.put(("ok", store.applied_migrations))
    except Exception as error:  # reported to the parent, which fails the test
        results.put(("error", f"{type(error).__name__}: {error}"))


def test_concurrent_first_open_migrates_once(store_url: str) -> None:
    processes = 4
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    results = ctx.Queue()
    workers = [
        ctx.Process(target=_open_together, args=(store_url, barrier, results))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=90) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    results.close()
    results.join_thread()

    assert [worker.exitcode for worker in workers] == [0] * processes
    assert sorted(outcomes) == [("ok", ())] * (processes - 1) + [("ok", tuple(known_revisions()))]
    with open_store(store_url) as store:
        assert store.schema_revision() == HEAD_REVISION
        assert store.applied_migrations == ()


def test_store_from_a_newer_redline_is_refused_and_left_alone(store_url: str) -> None:
    with open_store(store_url) as store:
        store.record_run(kind="demo", name="tour")
        with store.engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": FUTURE})

    for upgrade in (True, False):
        with pytest.raises(StoreSchemaError) as info:
            open_store(store_url, upgrade=upgrade)
        message = str(info.value)
        assert FUTURE in message and HEAD_REVISION in message
        assert "upgrade redline" in message
        assert info.value.exit_code == 2

    with raw_engine(store_url) as engine, engine.connect() as conn:
        assert read_revision(conn) == FUTURE
        assert _tables(conn) == {*metadata.tables, "alembic_version"}
        assert conn.scalar(sa.text("SELECT count(*) FROM runs")) == 1


def test_a_failed_migration_changes_nothing(store_url: str) -> None:
    with raw_engine(store_url) as engine:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE samples (something INTEGER)"))

        with pytest.raises(StoreSchemaError, match="nothing was changed"):
            open_store(store_url)

        with engine.connect() as conn:
            assert _tables(conn) == {"samples"}
