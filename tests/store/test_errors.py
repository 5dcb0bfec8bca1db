"""Opening a store that cannot be used: a clear redline error, never a SQLAlchemy traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from redline._errors import StoreError, StoreUnavailableError
from redline.store import open_store

PASSWORD = "s3cret-Passw0rd"


def _refused(url: str) -> StoreUnavailableError:
    with pytest.raises(StoreUnavailableError) as info:
        open_store(url)
    error = info.value
    assert isinstance(error, StoreError) and isinstance(error, ConnectionError)
    assert error.exit_code == 2
    # No database or SQLAlchemy exception is chained for a traceback to show.
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__
    assert PASSWORD not in str(error)
    return error


def test_closed_postgresql_port_is_unavailable_with_password_redacted(closed_port: int) -> None:
    url = f"postgresql://redline:{PASSWORD}@127.0.0.1:{closed_port}/redline"
    error = _refused(url)
    assert f"postgresql://redline:***@127.0.0.1:{closed_port}/redline" in error.message
    assert "connection refused" in error.message
    assert error.hint == "check store: in redline.yaml or REDLINE_STORE_URL"


def test_unknown_host_is_named() -> None:
    error = _refused(f"postgresql://redline:{PASSWORD}@no-such-host.invalid:5432/redline")
    assert "unknown host" in error.message


@pytest.mark.postgres
def test_missing_database_is_named(pg_database: str) -> None:
    url = pg_database.rsplit("/", 1)[0] + "/redline_no_such_database"
    error = _refused(url)
    assert 'database "redline_no_such_database" does not exist' in error.message


@pytest.mark.postgres
def test_unknown_role_is_named(pg_database: str) -> None:
    database = pg_database.rsplit("/", 1)[1]
    error = _refused(f"postgresql://nobody_here:{PASSWORD}@127.0.0.1:5432/{database}")
    assert 'role "nobody_here" does not exist' in error.message


@pytest.mark.parametrize(
    "url",
    [
        f"mysql://root:{PASSWORD}@localhost/redline",
        f"postgresql+psycopg2://u:{PASSWORD}@localhost/redline",
        "redline.db",
    ],
)
def test_unknown_scheme_lists_the_supported_ones(url: str) -> None:
    error = _refused(url)
    assert error.hint is not None
    assert "sqlite:///" in error.hint and "postgresql://" in error.hint
    assert "REDLINE_STORE_URL" in error.hint


def test_sqlite_directory_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the store's directory should be")
    error = _refused(f"sqlite:///{blocker}/.redline/redline.db")
    assert "cannot create directory" in error.message
    assert str(blocker) in error.message


def test_sqlite_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "redline.db"
    path.write_bytes(b"this is not a SQLite database, just some bytes " * 200)
    error = _refused(f"sqlite:///{path}")
    assert "not a SQLite database" in error.message
