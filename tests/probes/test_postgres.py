"""The postgres probe against the real PostgreSQL on 127.0.0.1:5432 and fake peers on loopback.

The real server (trust auth) answers every ok/fail case; a wrong password comes from a small
wire-protocol fake (the real server trusts every login), a hung server from a socket that
accepts and never answers. When PostgreSQL is not reachable these tests fail, never skip.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg import sql

from redline.config.schema import Check
from redline.probes.base import HealthCheckResult, run_check
from redline.probes.postgres import PostgresProbe, _scrub, normalize_value
from redline.probes.registry import probe_for
from tests.probes.pg_fake import (  # noqa: F401 (fixtures)
    SilentServer,
    WrongPasswordPostgres,
    closed_port_fixture,
    silent_server_fixture,
    wrong_password_postgres_fixture,
)

pytestmark = pytest.mark.postgres

SERVER_URL = os.environ.get(
    "REDLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
SECRET = "hunter22-not-a-real-password"
REVISION = "3f2a1b9c8d7e"


@pytest.fixture(scope="module")
def schemas() -> Iterator[dict[str, str]]:
    """DSNs on two throwaway schemas: ``migrated`` (items, alembic_version) and ``empty``."""
    try:
        admin = psycopg.connect(SERVER_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {SERVER_URL} ({' '.join(str(exc).split())}). "
            "The postgres probe tests run against a real server: start one on 127.0.0.1:5432 "
            "with trust auth for user postgres and a database named test, or set "
            "REDLINE_TEST_POSTGRES_URL.",
            pytrace=False,
        )
    tag = uuid.uuid4().hex[:10]
    names = {"migrated": f"redline_probe_{tag}", "empty": f"redline_probe_{tag}_empty"}
    with admin:
        for name in names.values():
            admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        migrated = sql.Identifier(names["migrated"])
        admin.execute(sql.SQL("CREATE TABLE {}.items (id int)").format(migrated))
        admin.execute(sql.SQL("INSERT INTO {}.items VALUES (1), (2), (3)").format(migrated))
        admin.execute(
            sql.SQL("CREATE TABLE {}.alembic_version (version_num varchar(32) PRIMARY KEY)").format(
                migrated
            )
        )
        admin.execute(
            sql.SQL("INSERT INTO {}.alembic_version VALUES (%s)").format(migrated), [REVISION]
        )
        try:
            yield {key: _on_schema(name) for key, name in names.items()}
        finally:
            for name in names.values():
                admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def _on_schema(schema: str) -> str:
    joiner = "&" if "?" in SERVER_URL else "?"
    return f"{SERVER_URL}{joiner}options=-csearch_path%3D{schema}"


def check(dsn: str, timeout: str = "5s", **spec: Any) -> Check:
    return Check.model_validate({"timeout": timeout, "postgres": {"dsn": dsn, **spec}})


def run(c: Check) -> tuple[HealthCheckResult, float]:
    start = time.perf_counter()
    result = asyncio.run(run_check("db", c))
    return result, time.perf_counter() - start


def no_secret(result: HealthCheckResult, *secrets: str) -> None:
    text = json.dumps(result.to_dict())
    for secret in (SECRET, *secrets):
        assert secret not in text


# --- the real server -------------------------------------------------------------------------


def test_registry_builds_the_postgres_probe() -> None:
    assert isinstance(probe_for(check(SERVER_URL), 1.0), PostgresProbe)


def test_select_one_passes_with_connect_and_query_timed_apart(schemas: dict[str, str]) -> None:
    result, _ = run(check(schemas["migrated"], query="SELECT 1", expect=1))
    assert result.outcome == "ok", result.reason
    assert set(result.phases) == {"connect", "query", "total"}
    assert 0 < result.phases["connect"] < result.phases["total"]
    assert 0 < result.phases["query"] < result.phases["total"]
    assert result.details["server_version"].split(".")[0].isdigit()
    assert result.details["target"] == "127.0.0.1:5432/test"
    assert result.details["value"] == "1"
    assert "search_path" not in json.dumps(result.to_dict())


def test_a_table_query_compares_its_value(schemas: dict[str, str]) -> None:
    result, _ = run(check(schemas["migrated"], query="SELECT count(*) FROM items", expect=3))
    assert result.outcome == "ok", result.reason


def test_a_wrong_value_fails_naming_both(schemas: dict[str, str]) -> None:
    result, _ = run(check(schemas["migrated"], query="SELECT 0", expect=1))
    assert result.outcome == "fail"
    assert result.reason == "query returned 0, expected 1"


@pytest.mark.parametrize(
    ("query", "expect"),
    [
        ("SELECT 1.50::numeric", "1.5"),
        ("SELECT 2.0::float8", 2),
        ("SELECT '007'", 7),
        ("SELECT true", True),
        ("SELECT 'primary'", "primary"),
    ],
)
def test_values_compare_as_text_after_normalizing_numbers(
    schemas: dict[str, str], query: str, expect: object
) -> None:
    result, _ = run(check(schemas["migrated"], query=query, expect=expect))
    assert result.outcome == "ok", result.reason


def test_a_wrong_text_value_is_quoted(schemas: dict[str, str]) -> None:
    result, _ = run(check(schemas["migrated"], query="SELECT 'replica'", expect="primary"))
    assert result.outcome == "fail"
    assert result.reason == "query returned 'replica', expected 'primary'"


def test_no_rows_fail(schemas: dict[str, str]) -> None:
    result, _ = run(check(schemas["migrated"], query="SELECT 1 WHERE false", expect=1))
    assert result.outcome == "fail"
    assert result.reason == "query returned no rows, expected 1"


def test_a_query_without_rows_passes_without_expect(schemas: dict[str, str]) -> None:
    result, _ = run(check(schemas["migrated"], query="SET search_path TO public"))
    assert result.outcome == "ok", result.reason


def test_a_query_on_a_missing_table_fails_with_its_sqlstate(schemas: dict[str, str]) -> None:
    result, _ = run(check(schemas["empty"], query="SELECT count(*) FROM items"))
    assert result.outcome == "fail"
    assert result.reason == 'query failed: relation "items" does not exist (SQLSTATE 42P01)'


def test_invalid_sql_is_an_error(schemas: dict[str, str]) -> None:
    result, _ = run(check(schemas["migrated"], query="SELEKT 1"))
    assert result.outcome == "error"
    assert result.reason == (
        'query failed: syntax error at or near "SELEKT" (SQLSTATE 42601): fix the query'
    )


def test_schema_revision_matches(schemas: dict[str, str]) -> None:
    result, _ = run(check(schemas["migrated"], schema_revision=REVISION))
    assert result.outcome == "ok", result.reason
    assert result.details["schema_revision"] == [REVISION]
    assert "revision" in result.phases


def test_another_schema_revision_fails_naming_both(schemas: dict[str, str]) -> None:
    result, _ = run(check(schemas["migrated"], schema_revision="9999aaaa0000"))
    assert result.outcome == "fail"
    assert result.reason == f"schema revision is {REVISION}, expected 9999aaaa0000"


def test_schema_revision_without_alembic_table_is_an_error_with_a_hint(
    schemas: dict[str, str],
) -> None:
    result, _ = run(check(schemas["empty"], schema_revision=REVISION))
    assert result.outcome == "error"
    assert result.reason.startswith("no alembic_version table in test: ")
    assert "alembic upgrade head" in result.reason


def test_a_slow_query_times_out_and_is_cancelled_on_the_server(schemas: dict[str, str]) -> None:
    app = f"redline_slow_{uuid.uuid4().hex[:8]}"
    dsn = f"{schemas['migrated']}&application_name={app}"
    result, elapsed = run(check(dsn, timeout="1s", query="SELECT pg_sleep(30)"))
    assert result.outcome == "error"
    assert result.reason == "the query did not finish within 1s (timeout)"
    assert "connect" in result.phases
    assert elapsed < 1.0 + 1.0
    # The probe closed its connection: its backend goes away (the server's exit is not an
    # event we can await from here, so poll it within a deadline).
    with psycopg.connect(SERVER_URL, autocommit=True) as admin:
        assert _eventually(
            lambda: (
                not admin.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE application_name = %s", [app]
                ).fetchall()
            )
        )


def test_a_missing_database_is_an_error() -> None:
    dsn = SERVER_URL.rsplit("/", 1)[0] + "/redline_no_such_db"
    result, _ = run(check(dsn))
    assert result.outcome == "error"
    assert result.reason == (
        'could not connect to 127.0.0.1:5432/redline_no_such_db: database "redline_no_such_db" '
        "does not exist"
    )


# --- peers for corners the real server cannot produce ----------------------------------------


def test_a_wrong_password_is_an_authentication_error(
    wrong_password_postgres: WrongPasswordPostgres,
) -> None:
    port = wrong_password_postgres.port
    dsn = f"postgresql://app:{SECRET}@127.0.0.1:{port}/shop?sslmode=disable&connect_timeout=3"
    result, elapsed = run(check(dsn, timeout="2s"))
    assert result.outcome == "error"
    assert result.reason == (
        f'authentication failed for user "app" at 127.0.0.1:{port} (wrong password?)'
    )
    assert wrong_password_postgres.passwords == [SECRET]  # the password was really tried
    assert elapsed < 2.0 + 1.0
    no_secret(result)


def test_a_missing_password_says_so(wrong_password_postgres: WrongPasswordPostgres) -> None:
    port = wrong_password_postgres.port
    result, elapsed = run(check(f"postgresql://app@127.0.0.1:{port}/shop?sslmode=disable", "2s"))
    assert result.outcome == "error"
    assert elapsed < 2.0 + 1.0
    assert result.reason == (
        f'authentication required: the server asks user "app" at 127.0.0.1:{port} '
        "for a password and the DSN gives none"
    )


def test_a_server_that_never_answers_times_out(silent_server: SilentServer) -> None:
    dsn = f"postgresql://app:{SECRET}@127.0.0.1:{silent_server.port}/shop"
    result, elapsed = run(check(dsn, timeout="1s"))
    assert silent_server.accepted.is_set()
    assert result.outcome == "error"
    assert result.reason == (
        f"no answer from PostgreSQL at 127.0.0.1:{silent_server.port}/shop within 1s (timeout)"
    )
    assert elapsed < 1.0 + 1.0
    assert silent_server.hung_up()  # the probe closed its socket
    no_secret(result)


def test_connection_refused(closed_port: int) -> None:
    result, elapsed = run(check(f"postgresql://app:{SECRET}@127.0.0.1:{closed_port}/shop"))
    assert result.outcome == "error"
    assert result.reason == (
        f"connection refused at 127.0.0.1:{closed_port} (is PostgreSQL running and listening there?)"
    )
    assert elapsed < 5.0 + 1.0
    no_secret(result)


def test_an_unknown_host_is_an_error() -> None:
    result, elapsed = run(
        check(f"postgresql://app:{SECRET}@no-such-host.invalid/shop", timeout="3s")
    )
    assert result.outcome == "error"
    assert elapsed < 3.0 + 1.0
    assert (
        result.reason == "could not resolve host no-such-host.invalid (DNS): check the DSN's host"
    )
    no_secret(result)


@pytest.mark.parametrize(
    "dsn",
    [
        f"postgresql://app:{SECRET}@127.0.0.1/shop?bogus=1&sslpassword={SECRET}",
        f"host=127.0.0.1 password={SECRET} bogus=1",
        f"host=127.0.0.1 password='{SECRET}' dbname='unterminated",
    ],
    ids=["url", "keywords", "unterminated"],
)
def test_an_invalid_dsn_is_an_error_without_its_secrets(dsn: str) -> None:
    result, _ = run(check(dsn))
    assert result.outcome == "error"
    assert result.reason.startswith("invalid DSN: ")
    no_secret(result)


def test_scrub_masks_urls_keywords_and_the_password() -> None:
    message = (
        f"bad: postgresql://app:{SECRET}@db/shop?sslpassword={SECRET} "
        f"password='{SECRET}' and {SECRET}"
    )
    scrubbed = _scrub(message, "unrelated-dsn", SECRET)
    assert SECRET not in scrubbed
    assert "postgresql://app:***@db/shop" in scrubbed


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1, "1"),
        (1.0, "1"),
        (Decimal("1.500"), "1.5"),
        ("1.50", "1.5"),
        (" 42 ", "42"),
        ("1e3", "1000"),
        (True, "true"),
        (None, "null"),
        ("primary", "primary"),
        ("NaN", "NaN"),
    ],
)
def test_normalize_value(value: object, text: str) -> None:
    assert normalize_value(value) == text


def _eventually(predicate: Callable[[], bool], within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_cancelled_while_connecting_closes_the_socket(silent_server: SilentServer) -> None:
    spec = check(f"postgresql://app@127.0.0.1:{silent_server.port}/shop", timeout="10s").spec

    async def cancel_mid_connect() -> None:
        task = asyncio.create_task(PostgresProbe(spec, 10.0).check())
        await asyncio.to_thread(silent_server.accepted.wait, 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_mid_connect())
    assert silent_server.hung_up()


def test_cancelled_mid_query_cancels_it_and_closes(schemas: dict[str, str]) -> None:
    app = f"redline_cancel_{uuid.uuid4().hex[:8]}"
    spec = check(f"{schemas['migrated']}&application_name={app}", query="SELECT pg_sleep(30)").spec

    async def cancel_mid_query() -> None:
        task = asyncio.create_task(PostgresProbe(spec, 10.0).check())
        with psycopg.connect(SERVER_URL, autocommit=True) as admin:
            running = (
                "SELECT 1 FROM pg_stat_activity WHERE application_name = %s AND state = 'active'"
            )
            await asyncio.to_thread(
                _eventually, lambda: bool(admin.execute(running, [app]).fetchall())
            )
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_mid_query())
    with psycopg.connect(SERVER_URL, autocommit=True) as admin:
        assert _eventually(
            lambda: (
                not admin.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE application_name = %s", [app]
                ).fetchall()
            )
        )
