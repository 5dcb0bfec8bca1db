"""The ``postgres`` probe: connect, run a query, compare its value; optionally the schema revision.

>>> spec = PostgresCheck(dsn="postgresql://app@db/shop", expect=1)  # doctest: +SKIP
>>> (await PostgresProbe(spec, 10.0).check()).phases              # doctest: +SKIP
{'connect': 0.0041, 'query': 0.0003}

How outcomes read:

- ``ok``: connected, the query ran, its value equals ``expect`` (when set) and the schema
  revision is the expected one (when set).
- ``fail``: measured and wrong: the value differs (``query returned 0, expected 1``), the
  query returned no rows, the query failed on the server (a missing table, a violated
  constraint), or the database is at another Alembic revision.
- ``error``: could not measure: refused, timed out, host not found, database or role
  missing, **authentication failed** (a wrong password says nothing about the database's
  health, only that the probe could not get in), the query is not valid SQL or the
  probe's user lacks permission, or there is no ``alembic_version`` table to read.

The first column of the first row is compared with ``expect`` as text after normalizing
numbers (``1``, ``1.0`` and ``Decimal('1.00')`` all read ``1``; booleans read
``true``/``false``). Reasons and details name the target as ``host:port/database`` and
the user, never the DSN: its password and query parameters stay out of every output,
and driver messages are scrubbed of them too.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from redline.probes.base import Measurement, error, fail, normalize_value, ok, with_phases

if TYPE_CHECKING:
    import psycopg

    from redline.config.schema import PostgresCheck

__all__ = ["PostgresProbe"]

_MARGIN = 0.05
_REVISION_QUERY = "SELECT version_num FROM alembic_version"
# SQLSTATE classes and codes that mean the probe could not measure, not that the answer is wrong.
_UNMEASURABLE_CLASSES = ("08", "53", "57", "58", "XX")
_UNMEASURABLE_CODES = {"42601": "fix the query", "42501": "grant the check's user access"}


class PostgresProbe:
    """Connects to ``spec.dsn``, runs ``spec.query`` and judges the answer."""

    protocol: ClassVar[str] = "postgres"

    def __init__(self, spec: PostgresCheck, timeout: float) -> None:
        self.spec = spec
        self.timeout = timeout

    async def check(self) -> Measurement:
        loop = asyncio.get_running_loop()
        # The deadline starts before the lazy import, as run_check's timeout does.
        deadline = loop.time() + max(self.timeout - min(_MARGIN, self.timeout * 0.1), 0.001)
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        try:
            params = conninfo_to_dict(self.spec.dsn)
        except psycopg.Error as exc:
            return error(f"invalid DSN: {_scrub(_first_line(exc), self.spec.dsn, None)}")
        target = _Target(self.spec.dsn, params)
        where = {"target": str(target), "user": target.user}
        start = time.perf_counter()
        extra: dict[str, Any] = {"connect_timeout": max(2, math.ceil(self.timeout))}
        if "application_name" not in params:
            extra["application_name"] = "redline"
        try:
            async with asyncio.timeout_at(deadline):
                conn = await psycopg.AsyncConnection.connect(
                    self.spec.dsn, autocommit=True, **extra
                )
        except TimeoutError:
            waited = _s(self.timeout)
            return error(
                f"no answer from PostgreSQL at {target} within {waited} (timeout)", **where
            )
        except psycopg.Error as exc:
            return error(target.connect_reason(exc), **where)
        connected = time.perf_counter()
        phases = {"connect": connected - start}
        try:
            details: dict[str, Any] = {
                **where,
                "server_version": conn.info.parameter_status("server_version"),
            }
            try:
                async with asyncio.timeout_at(deadline):
                    measurement = await self._measure(conn, phases, details, target)
            except TimeoutError:
                phases.setdefault("query", time.perf_counter() - connected)
                reason = f"the query did not finish within {_s(self.timeout)} (timeout)"
                return with_phases(error(reason, **details), **phases)
            return with_phases(measurement, **phases)
        finally:
            await conn.close()

    async def _measure(
        self,
        conn: psycopg.AsyncConnection[Any],
        phases: dict[str, float],
        details: dict[str, Any],
        target: _Target,
    ) -> Measurement:
        import psycopg

        spec = self.spec
        start = time.perf_counter()
        try:
            cursor = await conn.execute(spec.query.encode())
            row = await cursor.fetchone() if cursor.description is not None else None
        except psycopg.Error as exc:
            phases["query"] = time.perf_counter() - start
            return _query_failure(exc, target, details)
        phases["query"] = time.perf_counter() - start
        value: Any = row[0] if row else None
        if row:
            details["value"] = _show(value)
        if spec.expect is not None:
            if cursor.description is None:
                return error(
                    "the query returns no rows to compare with expect (is it a SELECT?)",
                    **details,
                )
            if row is None:
                return fail(f"query returned no rows, expected {_show(spec.expect)}", **details)
            if normalize_value(value) != normalize_value(spec.expect):
                return fail(
                    f"query returned {_show(value)}, expected {_show(spec.expect)}", **details
                )
        if spec.schema_revision is not None:
            start = time.perf_counter()
            try:
                cursor = await conn.execute(_REVISION_QUERY)
                revisions = sorted(str(r[0]) for r in await cursor.fetchall())
            except psycopg.errors.UndefinedTable:
                phases["revision"] = time.perf_counter() - start
                return error(
                    f"no alembic_version table in {target.database}: the database is not "
                    "managed by Alembic or its migrations never ran (run `alembic upgrade "
                    "head`, or remove schema_revision from the check)",
                    **details,
                )
            except psycopg.Error as exc:
                phases["revision"] = time.perf_counter() - start
                return _query_failure(exc, target, details)
            phases["revision"] = time.perf_counter() - start
            details["schema_revision"] = revisions
            if spec.schema_revision not in revisions:
                have = ", ".join(revisions) or "empty (no migration applied)"
                return fail(
                    f"schema revision is {have}, expected {spec.schema_revision}",
                    **details,
                )
        return ok(**details)


def _show(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool | int | float | Decimal):
        return normalize_value(value)
    text = " ".join(str(value).split())
    return f"'{text[:77]}...'" if len(text) > 80 else f"'{text}'"


class _Target:
    """Where the DSN points, described without its secrets."""

    def __init__(self, dsn: str, params: dict[str, Any]) -> None:
        self.dsn = dsn
        self.password: str | None = params.get("password") or os.environ.get("PGPASSWORD")
        self.host = str(params.get("host") or os.environ.get("PGHOST") or "local socket")
        self.port = str(params.get("port") or os.environ.get("PGPORT") or "5432")
        self.user = str(params.get("user") or os.environ.get("PGUSER") or _login())
        self.database = str(params.get("dbname") or os.environ.get("PGDATABASE") or self.user)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}/{self.database}"

    def connect_reason(self, exc: psycopg.Error) -> str:
        """One line on why connecting failed, scrubbed of the DSN and its password."""
        import psycopg

        message = _server_message(exc)
        lowered = message.lower()
        where = f"{self.host}:{self.port}"
        if "password authentication failed" in lowered:
            return f'authentication failed for user "{self.user}" at {where} (wrong password?)'
        if "no password supplied" in lowered:
            return (
                f'authentication required: the server asks user "{self.user}" at {where} '
                "for a password and the DSN gives none"
            )
        if "connection refused" in lowered:
            return f"connection refused at {where} (is PostgreSQL running and listening there?)"
        if isinstance(exc, psycopg.errors.ConnectionTimeout) or "timeout expired" in lowered:
            return f"no answer from PostgreSQL at {self} while connecting (timeout)"
        if lowered.startswith("failed to resolve host") or "could not translate host" in lowered:
            return f"could not resolve host {self.host} (DNS): check the DSN's host"
        return f"could not connect to {self}: {_scrub(message, self.dsn, self.password)}"


def _query_failure(exc: psycopg.Error, target: _Target, details: dict[str, Any]) -> Measurement:
    code = exc.sqlstate or ""
    message = _scrub(exc.diag.message_primary or _first_line(exc), target.dsn, target.password)
    reason = f"query failed: {message}" + (f" (SQLSTATE {code})" if code else "")
    if code:
        details = {**details, "sqlstate": code}
    if code in _UNMEASURABLE_CODES:
        return error(f"{reason}: {_UNMEASURABLE_CODES[code]}", **details)
    if not code or code[:2] in _UNMEASURABLE_CLASSES:
        return error(reason, **details)
    return fail(reason, **details)


_CONNECT_PREFIX = re.compile(
    r"^(connection failed: )?(connection to server (at|on) .*? failed: )?(FATAL:\s+)?", re.I
)
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s\"']+", re.I)
_SECRET_PARAM = re.compile(
    r"\b(password|sslpassword|sslkey|passfile)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s&]+)", re.I
)


def _server_message(exc: BaseException) -> str:
    """The first line of a connection error, without libpq's "connection to server" prefix."""
    return _CONNECT_PREFIX.sub("", _first_line(exc)).strip()


def _scrub(text: str, dsn: str, password: str | None) -> str:
    from redline.redact import MASK, REDACTOR

    if dsn:
        text = text.replace(dsn, "<dsn>")
    if password and len(password) >= 3:
        text = text.replace(password, MASK)
    text = _URL.sub(lambda m: _redact_url(m.group(0)), text)
    text = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}={MASK}", text)
    return REDACTOR.scrub(text)


def _redact_url(url: str) -> str:
    from redline.redact import redact_url

    return redact_url(url.split("?", 1)[0])


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def _login() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _s(value: float) -> str:
    from redline.units import format_duration

    return format_duration(value)
