"""Fixtures for the demo system's tests: real processes, real HTTP, real PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import httpx
import pytest
import sqlalchemy as sa

from redline.demo import DemoEndpoints, DemoSystem, Knobs

from .helpers import admin_client

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[sa.Engine]:
    """An AUTOCOMMIT engine on the real PostgreSQL server; fails (never skips) without it."""
    engine = sa.create_engine(
        PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        pytest.fail(
            "PostgreSQL is not reachable at 127.0.0.1:5432 as user postgres (trust auth); "
            f"the demo's PostgreSQL tests need it running: {exc.orig}",
            pytrace=False,
        )
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def make_pg_database(pg_admin: sa.Engine) -> Iterator[Callable[[], str]]:
    """Create fresh databases on demand (``postgresql://`` URLs); all dropped at the end."""
    created: list[str] = []

    def make() -> str:
        name = f"redline_demo_test_{secrets.token_hex(4)}"
        with pg_admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return f"postgresql://postgres@127.0.0.1:5432/{name}"

    yield make
    with pg_admin.connect() as conn:
        for name in created:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSystem]:
    """One SQLite-backed demo system shared by a module's tests."""
    # Explicit defaults, so DEMO_* variables around the test run cannot change results.
    system = DemoSystem(tmp_path_factory.mktemp("demo"), knobs=Knobs().to_dict())
    system.start()
    yield system
    system.stop()


@pytest.fixture
def endpoints(demo: DemoSystem) -> Iterator[DemoEndpoints]:
    """The shared demo's endpoints; its knobs are back to defaults after each test."""
    yield demo.endpoints
    with admin_client(demo.endpoints) as admin:
        admin.post("/admin/knobs", json=Knobs().to_dict()).raise_for_status()


@pytest.fixture
def client(endpoints: DemoEndpoints) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=endpoints.api_url, timeout=30) as c:
        yield c


@pytest.fixture
def admin(endpoints: DemoEndpoints) -> Iterator[httpx.Client]:
    with admin_client(endpoints) as c:
        yield c
