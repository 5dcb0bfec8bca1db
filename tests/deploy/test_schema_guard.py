"""The schema guard: revision ranges, the refusal, and reading the real PostgreSQL's revision."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from redline._errors import DeployError, RollbackError
from redline.deploy.schema_guard import SchemaRange, check_rollback, read_revision


def test_numeric_revisions_compare_as_numbers() -> None:
    allowed = SchemaRange(min="0003", max="0005")
    assert [r for r in ("0002", "0003", "0004", "0005", "0006") if allowed.allows(r)] == [
        "0003",
        "0004",
        "0005",
    ]
    assert not SchemaRange(max="9").allows("12")  # as text, "12" < "9"
    assert SchemaRange(min="0009").allows("0010")
    assert SchemaRange(min="2.1", max="2.10").allows("2.9")
    assert SchemaRange(min="0003_add_users").allows("0004_add_orders")
    assert not SchemaRange(min="0003_add_users").allows("0002")
    assert SchemaRange(min="0003").describe() == "0003 or later"
    assert SchemaRange(max="0005").describe() == "up to 0005"
    assert SchemaRange(min="0004", max="0004").describe() == "0004"


HISTORY = ("ae1027a6acf", "1975ea83b712", "27c6a30d7c24", "3adcc9a56557")


def test_opaque_revisions_compare_by_the_declared_order() -> None:
    allowed = SchemaRange(min="1975ea83b712", max="27c6a30d7c24", order=HISTORY)
    assert [r for r in HISTORY if allowed.allows(r)] == ["1975ea83b712", "27c6a30d7c24"]
    with pytest.raises(RollbackError, match="not in the declared migration order"):
        allowed.allows("ffff00000000")
    with pytest.raises(RollbackError) as unplaced:
        check_rollback("1.3", allowed, "ffff00000000")
    assert unplaced.value.message == (
        "release 1.3 runs on schema 1975ea83b712-27c6a30d7c24; the database is at "
        "ffff00000000, which cannot be placed (ffff00000000 is not in the declared migration "
        "order): the rollback was refused and nothing was changed"
    )
    assert unplaced.value.hint is not None and "declare the migration order" in unplaced.value.hint
    with pytest.raises(DeployError, match="not a number and no migration order is declared"):
        SchemaRange(min="ae1027a6acf")
    # A list needs no order: exactly these revisions.
    listed = SchemaRange(revisions=("ae1027a6acf", "3adcc9a56557"))
    assert listed.allows("3adcc9a56557") and not listed.allows("1975ea83b712")
    assert listed.describe() == "ae1027a6acf, 3adcc9a56557"


def test_a_declaration_is_a_range_or_a_list_and_not_empty() -> None:
    for bad in ({}, {"min": "0003", "revisions": ["0003"]}):
        with pytest.raises(DeployError, match="one of the two"):
            SchemaRange.parse(bad)
    with pytest.raises(DeployError, match="empty: min is after max"):
        SchemaRange(min="0005", max="0003")
    with pytest.raises(DeployError, match="unknown key"):
        SchemaRange.parse({"minimum": "0003"})
    assert SchemaRange.parse({"min": 3, "max": "0005"}) == SchemaRange(min="3", max="0005")
    assert SchemaRange.parse(["0003", "0004"]) == SchemaRange(revisions=("0003", "0004"))
    assert SchemaRange.parse("0004") == SchemaRange(revisions=("0004",))
    ordered = SchemaRange.parse({"min": "1975ea83b712"}, order=HISTORY)
    assert ordered.allows("3adcc9a56557")


def test_a_rollback_onto_a_newer_schema_is_refused_naming_both_revisions() -> None:
    with pytest.raises(RollbackError) as info:
        check_rollback("1.3", SchemaRange(min="0003", max="0004"), "0006")
    error = info.value
    assert error.exit_code == 4
    assert error.message == (
        "release 1.3 runs on schema 0003-0004; the database is at 0006: "
        "the rollback was refused and nothing was changed"
    )
    assert error.hint == "migrate the database down to 0004 first, or roll forward"


def test_a_refusal_says_which_way_to_migrate() -> None:
    with pytest.raises(RollbackError) as below:
        check_rollback("1.3", SchemaRange(min="0003", max="0004"), "0002")
    assert below.value.hint == "migrate the database up to 0003 first, or roll forward"
    with pytest.raises(RollbackError) as listed:
        check_rollback("1.3", SchemaRange(revisions=("0003", "0005")), "0004")
    assert listed.value.hint == "migrate the database to 0003, 0005 first, or roll forward"
    with pytest.raises(RollbackError, match="no schema revision"):
        check_rollback("1.3", SchemaRange(min="0003"), None)
    with pytest.raises(RollbackError, match="the database is at 0004,0006"):
        check_rollback("1.3", SchemaRange(max="0004"), "0004,0006")


def test_a_rollback_the_schema_allows_passes() -> None:
    check_rollback("1.3", SchemaRange(min="0003", max="0004"), "0004")
    check_rollback("1.3", SchemaRange(min="0003"), "0003,0004")
    check_rollback("1.3", None, "0006")  # the release declared no schema: nothing to guard


@pytest.fixture
def pg_schema(pg_database: str) -> Iterator[tuple[str, str]]:
    """(DSN whose search_path is a fresh schema holding an empty alembic_version, schema)."""
    schema = f"g_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {}.alembic_version (version_num varchar(32) NOT NULL PRIMARY KEY)"
            ).format(sql.Identifier(schema))
        )
    yield f"{pg_database}?options=-csearch_path%3D{schema}", schema
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def _set_revisions(dsn: str, *revisions: str, table: str = "alembic_version") -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
        for revision in revisions:
            conn.execute(
                sql.SQL("INSERT INTO {} VALUES (%s)").format(sql.Identifier(table)), (revision,)
            )


@pytest.mark.postgres
def test_read_revision_reads_the_alembic_version_table(pg_schema: tuple[str, str]) -> None:
    dsn, schema = pg_schema
    assert read_revision(dsn) is None  # the table is there, no migration applied yet
    _set_revisions(dsn, "0006")
    assert read_revision(dsn) == "0006"
    base = dsn.split("?", 1)[0]  # no search_path: name the table's schema instead
    assert read_revision(base, table=f"{schema}.alembic_version") == "0006"
    _set_revisions(dsn, "0007b", "0007a")  # Alembic branches: every head, sorted
    assert read_revision(dsn) == "0007a,0007b"


@pytest.mark.postgres
def test_a_rollback_is_refused_from_the_real_database_revision(pg_schema: tuple[str, str]) -> None:
    dsn, _ = pg_schema
    _set_revisions(dsn, "0006")
    with pytest.raises(RollbackError, match="the database is at 0006"):
        check_rollback("1.3", SchemaRange(min="0003", max="0004"), read_revision(dsn))
    _set_revisions(dsn, "0004")
    check_rollback("1.3", SchemaRange(min="0003", max="0004"), read_revision(dsn))


@pytest.mark.postgres
def test_read_revision_reads_another_table_and_column(pg_schema: tuple[str, str]) -> None:
    dsn, _ = pg_schema
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE schema_migrations (version text)")
        conn.execute("INSERT INTO schema_migrations VALUES ('20261129'), (NULL)")
    assert read_revision(dsn, table="schema_migrations", column="version") == "20261129"


@pytest.mark.postgres
def test_a_wrong_table_or_column_is_a_clear_deploy_error(pg_schema: tuple[str, str]) -> None:
    dsn, _ = pg_schema
    database = dsn.split("?", 1)[0].rsplit("/", 1)[1]
    with pytest.raises(DeployError) as table:
        read_revision(dsn, table="flyway_schema_history")
    assert table.value.message == (
        f"cannot read the schema revision: no table flyway_schema_history in {database} "
        f"(at 127.0.0.1:5432/{database})"
    )
    assert table.value.exit_code == 2 and "search_path" in str(table.value)
    with pytest.raises(DeployError, match="table alembic_version in .* has no column version"):
        read_revision(dsn, column="version")
    for name in ("alembic_version; DROP TABLE x", "a.b.c", ""):
        with pytest.raises(DeployError, match="not a table or column name"):
            read_revision(dsn, table=name)
    assert read_revision(dsn) is None  # the table is still there


@pytest.mark.postgres
def test_read_revision_works_from_async_code(pg_schema: tuple[str, str]) -> None:
    dsn, _ = pg_schema
    _set_revisions(dsn, "0005")

    async def inside_a_loop() -> str | None:
        return read_revision(dsn)

    assert asyncio.run(inside_a_loop()) == "0005"


def test_an_unreachable_database_is_a_deploy_error_without_the_password(closed_port: int) -> None:
    password = "pw-never-shown-9f3"
    dsn = f"postgresql://app:{password}@127.0.0.1:{closed_port}/shop?sslmode=disable"
    with pytest.raises(DeployError) as info:
        read_revision(dsn)
    text = str(info.value)
    assert info.value.exit_code == 2
    assert f"connection refused at 127.0.0.1:{closed_port}" in text
    assert password not in text and dsn not in text


def test_a_database_that_never_answers_times_out() -> None:
    with socket.socket() as silent:  # accepts connections (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(DeployError) as info:
            read_revision(f"postgresql://app@127.0.0.1:{port}/shop", timeout=0.3)
        waited = time.monotonic() - start
    assert info.value.message == (
        "cannot read the schema revision: no answer from PostgreSQL at "
        f"127.0.0.1:{port}/shop within 0.3s (timeout)"
    )
    assert waited < 5  # it gave up at its timeout, not at the OS's


def test_an_invalid_dsn_is_a_deploy_error() -> None:
    with pytest.raises(DeployError, match="DSN is invalid") as info:
        read_revision("host=db port=notaport password=hunter22")
    assert "hunter22" not in str(info.value)
