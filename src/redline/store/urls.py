"""Store URLs: the default, the precedence, and what each scheme means.

>>> default_store_url(Path("/srv/app"))
'sqlite:////srv/app/.redline/redline.db'
>>> parse_store_url("postgresql://u:pw@db:5432/redline").sqlalchemy_url.drivername
'postgresql+psycopg'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from redline._errors import StoreUnavailableError
from redline.redact import redact_url

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

__all__ = [
    "ENV_VAR",
    "STORE_HINT",
    "SUPPORTED_SCHEMES",
    "StoreURL",
    "default_store_url",
    "parse_store_url",
    "resolve_store_url",
]

ENV_VAR = "REDLINE_STORE_URL"
STORE_HINT = f"check store: in redline.yaml or {ENV_VAR}"
SUPPORTED_SCHEMES = (
    "sqlite:///path/to/redline.db",
    "postgresql://user:password@host:5432/database",
)

Backend = Literal["sqlite", "postgresql"]


def default_store_url(base_dir: Path) -> str:
    """The embedded store of a project: ``sqlite:///<base_dir>/.redline/redline.db``."""
    return f"sqlite:///{(base_dir / '.redline' / 'redline.db').as_posix()}"


def resolve_store_url(
    cli_value: str | None,
    config_value: str | None,
    base_dir: Path,
    *,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The store URL to use: ``--store`` > ``REDLINE_STORE_URL`` > config ``store:`` > default.

    A relative SQLite path in the config file is taken relative to ``base_dir``
    (the config file's directory), so the store does not move with the shell's
    working directory; on the command line and in the environment it is relative
    to the working directory, as a user typing it expects.

    >>> resolve_store_url(None, "sqlite:///data/r.db", Path("/srv/app"), environ={})
    'sqlite:////srv/app/data/r.db'
    """
    if cli_value:
        return cli_value
    env_value = (os.environ if environ is None else environ).get(ENV_VAR)
    if env_value:
        return env_value
    if config_value:
        return _anchor_sqlite(config_value, base_dir)
    return default_store_url(base_dir)


def _anchor_sqlite(url: str, base_dir: Path) -> str:
    if not url.startswith("sqlite:///"):
        return url
    path = url[len("sqlite:///") :]
    query = ""
    if "?" in path:
        path, query = path.split("?", 1)
        query = "?" + query
    if not path or path == ":memory:" or path.startswith("file:") or Path(path).is_absolute():
        return url
    return f"sqlite:///{(base_dir / path).as_posix()}{query}"


@dataclass(frozen=True, slots=True)
class StoreURL:
    """A checked store URL: what the user wrote and what SQLAlchemy is given."""

    raw: str
    sqlalchemy_url: URL
    backend: Backend

    @property
    def redacted(self) -> str:
        """The URL as the user wrote it, with any password replaced by ``***``."""
        return redact_url(self.raw)

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file, or None for PostgreSQL and in-memory databases."""
        if self.backend != "sqlite":
            return None
        database = self.sqlalchemy_url.database
        if not database or database == ":memory:" or self.sqlalchemy_url.query.get("uri"):
            return None
        return Path(database)


def parse_store_url(url: str) -> StoreURL:
    """Check ``url`` and choose the driver; an unknown scheme is a StoreUnavailableError.

    ``postgresql://`` (and ``postgres://``) use psycopg 3; ``sqlite://`` uses the
    standard library's sqlite3.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    scheme = url.split("://", 1)[0] if "://" in url else None
    what = f"unsupported scheme {scheme!r}" if scheme else "not a URL"
    unsupported = StoreUnavailableError(
        f"cannot open the store at {redact_url(url)}: {what}",
        hint=f"supported schemes: {', '.join(SUPPORTED_SCHEMES)}; {STORE_HINT}",
    )
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        if scheme in ("sqlite", "postgresql", "postgres"):
            # A known scheme that does not parse: say what is wrong with it, not the scheme.
            text = str(exc).splitlines()[0] if str(exc) else ""
            reason = "the port is not a number" if "int()" in text else text or "does not parse"
            raise StoreUnavailableError(
                f"cannot open the store at {redact_url(url)}: malformed URL ({reason})",
                hint=f"write it like {SUPPORTED_SCHEMES[1]}; {STORE_HINT}",
            ) from None
        raise unsupported from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return StoreURL(url, parsed.set(drivername="sqlite"), "sqlite")
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        return StoreURL(url, parsed.set(drivername="postgresql+psycopg"), "postgresql")
    raise unsupported
