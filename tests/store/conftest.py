"""Fixtures for the store tests: every test runs on SQLite and on the real PostgreSQL.

PostgreSQL is the server on 127.0.0.1:5432 (trust auth, user ``postgres``), or the
admin URL in ``REDLINE_TEST_POSTGRES_URL``. One database is created for the test
session and dropped at its end; each test gets its own schema inside it. When the
server is not reachable the PostgreSQL tests fail (they never skip): CI starts it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from redline.store import Store, open_store

ADMIN_URL = os.environ.get(
    "REDLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _with_database(admin_url: str, database: str) -> str:
    return f"{admin_url.rsplit('/', 1)[0]}/{database}"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, as a URL."""
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        reason = " ".join(str(error).split())
    else:
        reason = None
    if reason is not None:
        pytest.fail(
            f"PostgreSQL is not reachable at {ADMIN_URL} ({reason}). "
            "The store tests run against a real PostgreSQL: start one on 127.0.0.1:5432 "
            "with trust auth for user postgres, or set REDLINE_TEST_POSTGRES_URL.",
            pytrace=False,
        )
    name = f"redline_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _with_database(ADMIN_URL, name)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """A store URL on an empty schema of its own inside the session database."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    return f"{pg_database}?options=-csearch_path%3D{schema}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A store URL whose directory does not exist yet."""
    return f"sqlite:///{(tmp_path / 'project' / '.redline' / 'redline.db').as_posix()}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """An empty store URL, once for SQLite and once for PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open, migrated store on each backend."""
    with open_store(store_url) as opened:
        yield opened


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m redline ARGS`` in a child process, as a user would run it."""
    full_env = {k: v for k, v in os.environ.items() if k != "REDLINE_STORE_URL"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "redline", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
        check=False,
    )
