"""Database URLs as the demo accepts them, without importing SQLAlchemy.

>>> normalize_db_url("postgresql://postgres@127.0.0.1/demo")
'postgresql+psycopg://postgres@127.0.0.1/demo'
>>> redact_db_url("postgresql+psycopg://app:s3cret@db/demo")
'postgresql+psycopg://app:***@db/demo'
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

__all__ = ["DB_ENV", "is_postgres", "normalize_db_url", "redact_db_url"]

# Children read the URL from here rather than argv, where `ps` would show a password.
DB_ENV = "REDLINE_DEMO_DB"

_PG_SCHEMES = {"postgres", "postgresql", "postgresql+psycopg"}


def normalize_db_url(url: str | Path) -> str:
    """A SQLAlchemy URL for a SQLite path or URL, or a PostgreSQL URL (psycopg 3 driver)."""
    text = str(url)
    scheme, sep, rest = text.partition("://")
    if not sep:
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    if scheme in _PG_SCHEMES:
        return f"postgresql+psycopg://{rest}"
    if scheme in {"sqlite", "sqlite+pysqlite"}:
        path, qmark, query = rest.removeprefix("/").partition("?")
        if path and path != ":memory:" and not path.startswith("/"):
            # The children run in the demo's directory; anchor the file where the caller meant.
            path = str(Path(path).expanduser().resolve())
        return f"sqlite:///{path}{qmark}{query}"
    raise ValueError(
        f"unsupported database URL scheme {scheme!r}: use a SQLite file path, "
        "sqlite:///path or postgresql://user@host/dbname"
    )


def is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


def redact_db_url(url: str) -> str:
    """The URL with its password, if any, replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
