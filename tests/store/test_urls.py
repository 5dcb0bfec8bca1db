"""Store URLs: the default, the precedence, the drivers."""

from __future__ import annotations

from pathlib import Path

import pytest

from redline.store import default_store_url, resolve_store_url
from redline.store.urls import parse_store_url

BASE = Path("/srv/app")
DEFAULT = "sqlite:////srv/app/.redline/redline.db"


def test_default_is_a_sqlite_file_under_the_project() -> None:
    assert default_store_url(BASE) == DEFAULT
    assert default_store_url(Path("relative")) == "sqlite:///relative/.redline/redline.db"


@pytest.mark.parametrize(
    ("cli", "env", "config", "expected"),
    [
        ("sqlite:///cli.db", "sqlite:///env.db", "sqlite:////abs/config.db", "sqlite:///cli.db"),
        (None, "sqlite:///env.db", "sqlite:////abs/config.db", "sqlite:///env.db"),
        (None, None, "sqlite:////abs/config.db", "sqlite:////abs/config.db"),
        (None, "", "postgresql://db/redline", "postgresql://db/redline"),
        (None, None, None, DEFAULT),
        # A relative SQLite path in the config file is relative to the config's directory.
        (None, None, "sqlite:///data/r.db", "sqlite:////srv/app/data/r.db"),
        (None, None, "sqlite:///:memory:", "sqlite:///:memory:"),
    ],
)
def test_precedence_cli_env_config_default(
    cli: str | None, env: str | None, config: str | None, expected: str
) -> None:
    environ = {} if env is None else {"REDLINE_STORE_URL": env}
    assert resolve_store_url(cli, config, BASE, environ=environ) == expected


def test_precedence_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDLINE_STORE_URL", "sqlite:///from-env.db")
    assert resolve_store_url(None, "sqlite:///config.db", BASE) == "sqlite:///from-env.db"


@pytest.mark.parametrize(
    ("url", "driver", "backend"),
    [
        ("postgresql://u:p@db:5432/redline", "postgresql+psycopg", "postgresql"),
        ("postgres://u@db/redline", "postgresql+psycopg", "postgresql"),
        ("postgresql+psycopg://u@db/redline", "postgresql+psycopg", "postgresql"),
        ("sqlite:///x.db", "sqlite", "sqlite"),
        ("sqlite+pysqlite:///x.db", "sqlite", "sqlite"),
    ],
)
def test_drivers(url: str, driver: str, backend: str) -> None:
    parsed = parse_store_url(url)
    assert parsed.sqlalchemy_url.drivername == driver
    assert parsed.backend == backend


def test_sqlite_path_and_redaction() -> None:
    assert parse_store_url("sqlite:////tmp/r.db").sqlite_path == Path("/tmp/r.db")
    assert parse_store_url("sqlite://").sqlite_path is None
    assert parse_store_url("sqlite:///:memory:").sqlite_path is None
    assert parse_store_url("postgresql://u:pw@h/db").sqlite_path is None
    assert parse_store_url("postgresql://u:pw@h/db").redacted == "postgresql://u:***@h/db"


def test_a_malformed_url_of_a_known_scheme_says_what_is_wrong() -> None:
    import pytest

    from redline._errors import StoreUnavailableError
    from redline.store.urls import parse_store_url

    with pytest.raises(StoreUnavailableError) as info:
        parse_store_url("postgresql://u:hunter22@127.0.0.1:notaport/x")
    text = str(info.value)
    assert "malformed URL (the port is not a number)" in text
    assert "unsupported scheme" not in text and "hunter22" not in text
