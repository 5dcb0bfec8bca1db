"""The store tests' fixtures for the deploy tests: a real SQLite file and the real PostgreSQL."""

from __future__ import annotations

from tests.store import conftest as store_fixtures

closed_port = store_fixtures.closed_port
pg_database = store_fixtures.pg_database
pg_url = store_fixtures.pg_url
sqlite_url = store_fixtures.sqlite_url
store_url = store_fixtures.store_url
store = store_fixtures.store
