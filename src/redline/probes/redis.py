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
- ``error``: could not measure: refused, timed out, host not found, **authentication
  required** (no password in the URL: ``NOAUTH``) or **failed** (a wrong password says
  nothing about the cache's health), no permission for PING/INFO, or a condition that
  cannot be evaluated (no such INFO field, an ordering on a non-numeric field).

Reasons name the target as ``host:port/db``, never the URL, whose password stays out.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

from redline.probes.base import Measurement, error, fail, normalize_value, ok, with_phases

if TYPE_CHECKING:
    from redline.config.schema import RedisCheck

__all__ = ["Condition", "RedisProbe", "parse_condition"]

_MARGIN = 0.05
_CONDITION = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(.*?)\s*$")
_ORDERING = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
}


class RedisProbe:
    """Connects to ``spec.url``, sends PING, then reads INFO and judges the conditions."""

    protocol: ClassVar[str] = "redis"

    def __init__(self, spec: RedisCheck, timeout: float) -> None:
        self.spec = spec
        self.timeout = timeout

    async def check(self) -> Measurement:
        loop = asyncio.get_running_loop()
        # The deadline starts before the lazy import, as run_check's timeout does.
        deadline = loop.time() + max(self.timeout - min(_MARGIN, self.timeout * 0.1), 0.001)
        from redis.asyncio import Redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        target = _Target(self.spec.url)
        where = {"target": str(target), "user": target.user}
        budget = max(deadline - loop.time(), 0.001)
        try:
            conditions = {f: parse_condition(c) for f, c in self.spec.info.items()}
            client = Redis.from_url(
                self.spec.url,
                single_connection_client=True,
                # run_check owns retries: one attempt here, so a refusal is reported at once
                retry=Retry(NoBackoff(), 0),
                socket_connect_timeout=budget,
                socket_timeout=budget,
            )
        except ValueError as exc:
            return error(f"invalid Redis check: {_scrub(str(exc), self.spec.url)}", **where)
        phases: dict[str, float] = {}
        phase = "connect"
        try:
            async with asyncio.timeout_at(deadline):
                start = time.perf_counter()
                await client.initialize()
                phases["connect"] = (mark := time.perf_counter()) - start
                phase = "ping"
                await client.ping()
                phases["ping"] = (now := time.perf_counter()) - mark
                phase = "info"
                info: dict[str, Any] = await client.info()
                phases["info"] = time.perf_counter() - now
            return with_phases(self._judge(info, conditions, where), **phases)
        except TimeoutError:
            return with_phases(error(self._timeout_reason(target, phase), **where), **phases)
        except Exception as exc:
            reason = _failure_reason(exc, target, phase, self.timeout)
            if reason is None:
                raise
            return with_phases(error(reason, **where), **phases)
        finally:
            await client.aclose()

    def _timeout_reason(self, target: _Target, phase: str) -> str:
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


class _Target:
    """Where the URL points, described without its password."""

    def __init__(self, url: str) -> None:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            parts, port = urlsplit(""), None
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.url = url
        # redis-py also reads credentials from the query string (?password=...)
        password = unquote(parts.password) if parts.password else query.get("password")
        self.password = password or None
        self.user = (unquote(parts.username) if parts.username else query.get("username")) or (
            "default"
        )
        if parts.scheme == "unix":
            self.address = parts.path or "?"
            self.place = f"{self.address}/{query.get('db', '0')}"
        else:
            self.address = f"{parts.hostname or '?'}:{port or 6379}"
            self.place = f"{self.address}/{parts.path.strip('/') or query.get('db', '0')}"

    def __str__(self) -> str:
        return self.place


def _failure_reason(exc: Exception, target: _Target, phase: str, timeout: float) -> str | None:
    """One line for a redis-py failure, or None when ``exc`` is not one."""
    import redis.exceptions as rx

    text = _scrub(_first_line(exc), target.url)
    if "no password is set" in text or "without any password configured" in text:
        return f"Redis at {target.address} has no password set: remove the password from the URL"
    if isinstance(exc, rx.AuthenticationError) or "NOAUTH" in text:
        if target.password is None or "NOAUTH" in text:
            return (
                f"authentication required (NOAUTH): Redis at {target.address} asks for a "
                "password and the URL gives none"
            )
        return (
            f'authentication failed for user "{target.user}" at {target.address} '
            "(wrong password, or the user is disabled)"
        )
    if isinstance(exc, rx.NoPermissionError):
        return f'user "{target.user}" may not run {phase.upper()} on {target}: {text}'
    if isinstance(exc, rx.TimeoutError):
        waited = _seconds(timeout)
        return f"no answer from Redis at {target} within {waited} during {phase} (timeout)"
    if isinstance(exc, rx.ConnectionError):
        # redis-py re-raises socket errors as ConnectionError inside the handler: the OSError
        # is the context, and its errno is in the text ("Error 111 connecting to ...").
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ConnectionRefusedError) or "Error 111 " in text:
            return f"connection refused at {target.address} (is Redis running and listening there?)"
        if isinstance(cause, socket.gaierror) or "Name or service not known" in text:
            host = target.address.rsplit(":", 1)[0]
            return f"could not resolve host {host} (DNS): check the URL"
        if phase == "connect":
            return f"could not connect to Redis at {target}: {text}"
        return f"lost the connection to Redis at {target} during {phase.upper()}: {text}"
    if isinstance(exc, rx.RedisError):
        return f"Redis at {target} answered {phase.upper()} with an error: {text}"
    return None


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


def _scrub(text: str, url: str) -> str:
    from redline.redact import MASK, REDACTOR, redact_url

    text = text.replace(url, redact_url(url.split("?", 1)[0]))
    password = _Target(url).password
    if password and len(password) >= 3:
        text = text.replace(password, MASK)
    return REDACTOR.scrub(text)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def _seconds(value: float) -> str:
    from redline.units import format_duration

    return format_duration(value)
