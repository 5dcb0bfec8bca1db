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
``true``/``false``). The query runs as one simple query: of several statements, the first
that returns rows is compared. A query still running at the timeout is cancelled on the
server. Reasons and details name the target as ``host:port/database`` and the user, never
the DSN: its password and query parameters stay out of every output, and server messages
are scrubbed of them too.

The probe speaks PostgreSQL's wire protocol itself (:mod:`redline.probes._pgwire`: TLS as
``sslmode`` says; trust, password, MD5 and SCRAM-SHA-256 logins) and reads the DSN as
libpq does (:mod:`redline.probes._pgdsn`: URL or ``key=value``, ``PG*`` variables,
``~/.pgpass``), so a check imports no database driver.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from redline.probes import _pgwire
from redline.probes._pgdsn import DsnError, Params, resolve
from redline.probes.base import (
    Measurement,
    error,
    fail,
    inner_deadline,
    normalize_value,
    ok,
    with_phases,
)

if TYPE_CHECKING:
    from redline.config.schema import PostgresCheck

__all__ = ["PostgresProbe"]

_REVISION_QUERY = "SELECT version_num FROM alembic_version"
_UNDEFINED_TABLE = "42P01"
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
        deadline = inner_deadline(self.timeout)
        try:
            params = resolve(self.spec.dsn)
        except DsnError as exc:
            return error(f"invalid DSN: {_scrub(str(exc), self.spec.dsn, None)}")
        target = _Target(self.spec.dsn, params)
        where = {"target": str(target), "user": target.user}
        start = time.perf_counter()
        try:
            async with asyncio.timeout_at(deadline):
                conn = await _pgwire.connect(params, application_name="redline")
        except TimeoutError:
            waited = _s(self.timeout)
            return error(
                f"no answer from PostgreSQL at {target} within {waited} (timeout)", **where
            )
        except (_pgwire.WireError, OSError) as exc:
            return error(target.connect_reason(exc), **where)
        connected = time.perf_counter()
        phases = {"connect": connected - start}
        try:
            details: dict[str, Any] = {
                **where,
                "server_version": conn.parameters.get("server_version"),
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
            await conn.close()  # cancels a query still running on the server

    async def _measure(
        self,
        conn: _pgwire.Connection,
        phases: dict[str, float],
        details: dict[str, Any],
        target: _Target,
    ) -> Measurement:
        spec = self.spec
        start = time.perf_counter()
        try:
            result = await conn.query(spec.query)
        except (_pgwire.WireError, OSError) as exc:
            phases["query"] = time.perf_counter() - start
            return _query_failure(exc, target, details)
        phases["query"] = time.perf_counter() - start
        value = result.first()
        if result.rows:
            details["value"] = _show(value)
        if spec.expect is not None:
            if result.types is None:
                return error(
                    "the query returns no rows to compare with expect (is it a SELECT?)",
                    **details,
                )
            if not result.rows:
                return fail(f"query returned no rows, expected {_show(spec.expect)}", **details)
            if normalize_value(value) != normalize_value(spec.expect):
                return fail(
                    f"query returned {_show(value)}, expected {_show(spec.expect)}", **details
                )
        if spec.schema_revision is not None:
            start = time.perf_counter()
            try:
                revisions = sorted(str(r) for r in (await conn.query(_REVISION_QUERY)).column(0))
            except (_pgwire.WireError, OSError) as exc:
                phases["revision"] = time.perf_counter() - start
                if getattr(exc, "sqlstate", "") != _UNDEFINED_TABLE:
                    return _query_failure(exc, target, details)
                return error(
                    f"no alembic_version table in {target.database}: the database is not "
                    "managed by Alembic or its migrations never ran (run `alembic upgrade "
                    "head`, or remove schema_revision from the check)",
                    **details,
                )
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

    def __init__(self, dsn: str, params: Params) -> None:
        self.dsn = dsn
        self.password = params.password
        shown_as_default = not params.host_given and params.unix_socket
        self.host = "local socket" if shown_as_default else params.host
        self.port = str(params.port)
        self.user = params.user
        self.database = params.dbname

    def __str__(self) -> str:
        return f"{self.host}:{self.port}/{self.database}"

    def connect_reason(self, exc: Exception) -> str:
        """One line on why connecting failed, scrubbed of the DSN and its password."""
        where = f"{self.host}:{self.port}"
        message = _message(exc)
        if getattr(exc, "sqlstate", "") == "28P01" or "password authentication failed" in message:
            return f'authentication failed for user "{self.user}" at {where} (wrong password?)'
        if isinstance(exc, _pgwire.PasswordRequired):
            return (
                f'authentication required: the server asks user "{self.user}" at {where} '
                "for a password and the DSN gives none"
            )
        if isinstance(exc, ConnectionRefusedError):
            return f"connection refused at {where} (is PostgreSQL running and listening there?)"
        if isinstance(exc, _pgwire.ConnectTimeout):
            return f"no answer from PostgreSQL at {self} while connecting (timeout)"
        if isinstance(exc, socket.gaierror):
            return f"could not resolve host {self.host} (DNS): check the DSN's host"
        return f"could not connect to {self}: {_scrub(message, self.dsn, self.password)}"


def _query_failure(exc: Exception, target: _Target, details: dict[str, Any]) -> Measurement:
    code: str = getattr(exc, "sqlstate", "")
    message = _scrub(_message(exc), target.dsn, target.password)
    reason = f"query failed: {message}" + (f" (SQLSTATE {code})" if code else "")
    if code:
        details = {**details, "sqlstate": code}
    if code in _UNMEASURABLE_CODES:
        return error(f"{reason}: {_UNMEASURABLE_CODES[code]}", **details)
    if not code or code[:2] in _UNMEASURABLE_CLASSES:
        return error(reason, **details)
    return fail(reason, **details)


def _message(exc: Exception) -> str:
    """What went wrong, in one line: the server's message, or the OS's words for it."""
    if isinstance(exc, _pgwire.ServerError):
        return exc.message
    if verify := getattr(exc, "verify_message", None):  # ssl.SSLCertVerificationError
        return f"certificate verify failed: {verify}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return _first_line(exc)


_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s\"']+", re.I)
_SECRET_PARAM = re.compile(
    r"\b(password|sslpassword|sslkey|passfile)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s&]+)", re.I
)


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


def _s(value: float) -> str:
    from redline.units import format_duration

    return format_duration(value)
