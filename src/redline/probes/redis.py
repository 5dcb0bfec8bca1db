"""The ``redis`` probe: connect, PING, and hold ``INFO`` fields to conditions.

>>> spec = RedisCheck(url="redis://cache:6379/0", info={"role": "master"})  # doctest: +SKIP
>>> (await RedisProbe(spec, 5.0).check()).phases                          # doctest: +SKIP
{'connect': 0.0009, 'ping': 0.0001, 'info': 0.0003}

An ``info`` condition is ``field: value``. A bare value must equal the field (as text,
numbers normalized: ``1`` equals ``1.0``); a value starting with an operator compares:
``"== 1"``, ``"!= loading"``, and on numeric fields ``">= 1"``, ``"> 0"``, ``"<= 100"``,
``"< 100"``. A dotted field reads inside a nested section: ``db0.keys: ">= 1"``.

How outcomes read:

- ``ok``: PING answered and every condition holds.
- ``fail``: a condition does not hold (``role is slave, expected master``).
- ``error``: could not measure: refused, timed out, host not found, a TLS failure,
  **authentication required** (no password in the URL: ``NOAUTH``) or **failed** (a wrong
  password says nothing about the cache's health), no permission for SELECT/PING/INFO, a
  reply that is not Redis's (or over 16 MiB), or a condition that cannot be evaluated (no
  such INFO field, an ordering on a non-numeric field).

The URL is read as redis-py reads it (``redis://``, ``rediss://``, ``unix://``: see
:mod:`redline.probes._redisurl`), but the probe speaks RESP2 itself through
:mod:`redline.probes._resp`: importing redis-py would cost every ``redline validate``
~100 ms and ~6 MB. The deadline (the check's timeout, less a margin) covers connecting,
AUTH, SELECT, PING and INFO. Reasons name the target as ``host:port/db`` (or
``/socket/path/db``), never the URL, whose password stays out.
"""

from __future__ import annotations

import asyncio
import errno
import re
import socket
import ssl
import time
from typing import TYPE_CHECKING, Any, ClassVar

from redline.probes._redisurl import Endpoint, parse_url
from redline.probes._resp import ProtocolError, ReplyError, RespConnection
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
    from redline.config.schema import RedisCheck

__all__ = ["Condition", "RedisProbe", "parse_condition"]

_CONDITION = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(.*?)\s*$")
_ORDERING = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
}
# asyncio joins the errors of every address it tried ("Multiple exceptions: [Errno 111] ...").
_ERRNOS = re.compile(r"\[Errno (\d+)\]")


class RedisProbe:
    """Connects to ``spec.url``, sends PING, then reads INFO and judges the conditions."""

    protocol: ClassVar[str] = "redis"

    def __init__(self, spec: RedisCheck, timeout: float) -> None:
        self.spec = spec
        self.timeout = timeout

    async def check(self) -> Measurement:
        deadline = inner_deadline(self.timeout)
        try:
            endpoint = parse_url(self.spec.url)
        except ValueError as exc:
            return error(f"invalid Redis check: {_scrub(str(exc), None)}")
        where = {"target": str(endpoint), "user": endpoint.username or "default"}
        try:
            conditions = {f: parse_condition(c) for f, c in self.spec.info.items()}
            tls = endpoint.tls.context() if endpoint.tls else None
        except ValueError as exc:
            return error(f"invalid Redis check: {_scrub(str(exc), endpoint)}", **where)
        phases: dict[str, float] = {}
        # The phase is what is timed; the step, what a reason names (AUTH and SELECT are
        # part of connecting, as they are in redis-py's connect).
        phase = step = "connect"
        conn: RespConnection | None = None
        try:
            async with asyncio.timeout_at(deadline):
                start = time.perf_counter()
                conn = await RespConnection.open(endpoint, tls)
                if endpoint.username or endpoint.password:
                    step = "AUTH"
                    await conn.auth(endpoint.username, endpoint.password)
                if endpoint.db:
                    step = "SELECT"
                    await conn.command("SELECT", endpoint.db)
                phases["connect"] = (mark := time.perf_counter()) - start
                phase = step = "ping"
                await conn.ping()
                phases["ping"] = (now := time.perf_counter()) - mark
                phase = step = "info"
                info = await conn.info()
                phases["info"] = time.perf_counter() - now
            return with_phases(self._judge(info, conditions, where), **phases)
        except TimeoutError:
            return with_phases(error(self._timeout_reason(endpoint, phase), **where), **phases)
        except Exception as exc:
            reason = _failure_reason(exc, endpoint, phase, step.upper())
            if reason is None:
                raise
            return with_phases(error(reason, **where), **phases)
        finally:
            if conn is not None:
                await conn.close()

    def _timeout_reason(self, target: Endpoint, phase: str) -> str:
        waited = _seconds(self.timeout)
        if phase == "connect":
            return f"no answer from Redis at {target} within {waited} while connecting (timeout)"
        return f"Redis at {target} did not answer {phase.upper()} within {waited} (timeout)"

    def _judge(
        self, info: dict[str, Any], conditions: dict[str, Condition], where: dict[str, Any]
    ) -> Measurement:
        details: dict[str, Any] = {
            **where,
            "redis_version": info.get("redis_version"),
            "role": info.get("role"),
        }
        if not conditions:
            return ok(**details)
        seen: dict[str, Any] = {}
        problems: list[str] = []
        failures: list[str] = []
        for field, condition in conditions.items():
            found, value = _lookup(info, field)
            if not found:
                problems.append(f"INFO has no field {field!r} (see `redis-cli INFO`)")
                continue
            seen[field] = value
            verdict = condition.holds(value)
            if verdict is None:
                problems.append(
                    f"INFO {field} is {_show(value)}, not a number: cannot check {condition.text!r}"
                )
            elif not verdict:
                failures.append(f"{field} is {_show(value)}, expected {condition.text}")
        details["info"] = seen
        if problems:
            return error("; ".join(problems), **details)
        if failures:
            return fail("INFO " + "; ".join(failures), **details)
        return ok(**details)


class Condition:
    """One ``info`` condition: an operator and an operand (``==`` when none is written)."""

    def __init__(self, op: str, operand: str, text: str) -> None:
        self.op = op
        self.operand = operand
        self.text = text

    def holds(self, value: Any) -> bool | None:
        """Whether ``value`` meets the condition; None when it cannot be compared."""
        if self.op in ("==", "!="):
            equal = normalize_value(value) == normalize_value(self.operand)
            return equal if self.op == "==" else not equal
        left, right = _as_number(value), _as_number(self.operand)
        if left is None or right is None:
            return None
        return bool(_ORDERING[self.op](left, right))


def parse_condition(text: str) -> Condition:
    """``"master"``, ``"== 7.2"``, ``">= 1"``... as a :class:`Condition`.

    >>> c = parse_condition(">= 1"); (c.op, c.operand, c.holds(3))
    ('>=', '1', True)

    Raises ValueError for an ordering whose operand is not a number.
    """
    raw = str(text)
    match = _CONDITION.match(raw)
    if match is None:
        return Condition("==", raw.strip(), raw.strip())
    op, operand = match.groups()
    if op in _ORDERING and _as_number(operand) is None:
        raise ValueError(f"info condition {raw!r}: {op} needs a number, as in '{op} 1'")
    return Condition(op, operand, f"{op} {operand}")


def _failure_reason(exc: Exception, endpoint: Endpoint, phase: str, step: str) -> str | None:
    """One line for a failure to reach or talk to Redis, or None when ``exc`` is not one."""
    address, user = endpoint.address, endpoint.username or "default"
    if isinstance(exc, ReplyError):
        # As redis-py does, drop the generic codes; the others (LOADING, READONLY...) inform.
        text = _scrub(exc.message if exc.code in ("ERR", "NOPERM") else exc.text, endpoint)
        if "no password is set" in text or "without any password configured" in text:
            return f"Redis at {address} has no password set: remove the password from the URL"
        refused = exc.code == "WRONGPASS" or "invalid password" in text
        if exc.code == "NOAUTH" or (refused and endpoint.password is None):
            return (
                f"authentication required (NOAUTH): Redis at {address} asks for a "
                "password and the URL gives none"
            )
        if refused:
            return (
                f'authentication failed for user "{user}" at {address} '
                "(wrong password, or the user is disabled)"
            )
        if exc.code == "NOPERM":
            return f'user "{user}" may not run {step} on {endpoint}: {text}'
        return f"Redis at {endpoint} answered {step} with an error: {text}"
    if isinstance(exc, ProtocolError):
        return f"Redis at {endpoint} sent an invalid reply to {step}: {_scrub(str(exc), endpoint)}"
    if isinstance(exc, socket.gaierror):
        return f"could not resolve host {endpoint.host} (DNS): check the URL"
    if isinstance(exc, ssl.SSLCertVerificationError):
        hint = ""
        if exc.verify_code in (18, 19, 20, 21):  # self-signed, or an issuer we do not trust
            hint = "; trust its CA with ?ssl_ca_certs=/path/to/ca.pem in the URL"
        message = (exc.verify_message or exc.reason or "certificate verify failed").rstrip(".")
        return f"could not connect to Redis at {endpoint}: TLS: {message}{hint}"
    if isinstance(exc, ssl.SSLError):
        return f"could not connect to Redis at {endpoint}: TLS: {exc.reason or _first_line(exc)}"
    if isinstance(exc, OSError):
        if isinstance(exc, ConnectionRefusedError) or _all_refused(exc):
            return f"connection refused at {address} (is Redis running and listening there?)"
        text = _scrub(exc.strerror or _first_line(exc), endpoint)
        if phase == "connect":
            return f"could not connect to Redis at {endpoint}: {text}"
        return f"lost the connection to Redis at {endpoint} during {step}: {text}"
    return None


def _all_refused(exc: OSError) -> bool:
    errnos = _ERRNOS.findall(str(exc))
    return bool(errnos) and all(int(e) == errno.ECONNREFUSED for e in errnos)


def _lookup(info: dict[str, Any], field: str) -> tuple[bool, Any]:
    if field in info:
        return True, info[field]
    value: Any = info
    for part in field.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _show(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return normalize_value(value)
    return f"'{value}'"


def _scrub(text: str, endpoint: Endpoint | None) -> str:
    from redline.redact import MASK, REDACTOR

    for secret in endpoint.secrets if endpoint else ():
        if len(secret) >= 3:
            text = text.replace(secret, MASK)
    return REDACTOR.scrub(text)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def _seconds(value: float) -> str:
    from redline.units import format_duration

    return format_duration(value)
