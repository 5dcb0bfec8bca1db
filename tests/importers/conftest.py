"""Fixtures for the importer tests: the fixture files, and the store tests' real stores.

The files under ``data/`` are real output of the tools where the tool runs here:
``pytest_benchmark.json`` (pytest-benchmark 5.3.1, ``--benchmark-json`` on a tiny
benchmark in a throwaway venv) and ``locust_stats.csv`` (Locust 2.47, headless for 3 s
against a loopback HTTP server, ``--csv shop``; its ``_stats_history`` head and
``_failures`` file beside it). k6 cannot be installed here: the ``k6_*.json`` files are
written to k6's documented export shapes (see ``redline.importers.k6``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.store import conftest as store_fixtures

DATA = Path(__file__).parent / "data"

# The store tests' fixtures: a real SQLite file, and the real PostgreSQL on 127.0.0.1:5432.
pg_database = store_fixtures.pg_database
pg_url = store_fixtures.pg_url
sqlite_url = store_fixtures.sqlite_url
store_url = store_fixtures.store_url


@pytest.fixture
def data_file(tmp_path: Path) -> Callable[..., Path]:
    """Copy a file from ``data/`` into tmp_path (under a new name if given)."""

    def copy(name: str, as_name: str | None = None) -> Path:
        target = tmp_path / (as_name or name)
        shutil.copyfile(DATA / name, target)
        return target

    return copy
