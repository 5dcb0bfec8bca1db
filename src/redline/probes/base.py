"""The probe contract: one ``async check()`` that measures, and one frozen result.

A probe measures one thing once and says what it saw as a :class:`Measurement`:
``ok`` (measured and right), ``fail`` (measured and wrong) or ``error`` (could not
measure: refused, timed out, DNS or TLS failure). :func:`run_check` wraps a probe
with what every check shares (a timeout that always applies, retries with backoff,
the attempt count) and returns a :class:`HealthCheckResult`.

>>> result = await run_check("api", check)                      # doctest: +SKIP
>>> result.outcome, result.attempts, result.phases["connect"]   # doctest: +SKIP
('ok', 1, 0.00031)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from redline.config.schema import Check

__all__ = [
    "DEFAULT_TIMEOUTS",
    "HealthCheckResult",
    "Measurement",
    "Outcome",
    "Probe",
    "ProbeFactory",
    "error",
    "fail",
    "inner_deadline",
    "normalize_value",
    "ok",
    "run_check",
    "timeout_for",
    "with_phases",
]

Outcome = Literal["ok", "fail", "error"]

# Seconds, per protocol, when a check sets no `timeout:`. Something always applies.
DEFAULT_TIMEOUTS: Mapping[str, float] = {
    "http": 10.0,
    "tcp": 5.0,
    "dns": 5.0,
    "postgres": 10.0,
    "redis": 5.0,
    "command": 30.0,
}
_FALLBACK_TIMEOUT = 10.0


@dataclass(frozen=True)
class Measurement:
    """What one attempt of a probe saw.

    ``phases`` are seconds per phase (``dns``, ``connect``, ``tls``, ``first_byte``,
    ``query``, ``total``...); ``reason`` is one line a person can act on; ``details``
    are JSON-able facts (status code, certificate days left, answers...). No secret
    value may appear in ``reason`` or ``details``.
    """

    outcome: Outcome
    reason: str = ""
    phases: Mapping[str, float] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)


def ok(reason: str = "", **details: Any) -> Measurement:
    return Measurement("ok", reason, {}, details)


def fail(reason: str, **details: Any) -> Measurement:
    return Measurement("fail", reason, {}, details)


def error(reason: str, **details: Any) -> Measurement:
    return Measurement("error", reason, {}, details)


@runtime_checkable
class Probe(Protocol):
    """Measures one thing once. Must not swallow ``asyncio.CancelledError``."""

    protocol: ClassVar[str]

    async def check(self) -> Measurement: ...


# Builds a probe from a check's protocol section (an HttpCheck, say; for a plugin protocol the
# plain mapping written in the config) and the check's timeout in seconds.
ProbeFactory = Callable[[Any, float], Probe]


@dataclass(frozen=True)
class HealthCheckResult:
    """One check of one service: outcome, timings, reason, and how many attempts it took."""

    service: str
    check: str
    protocol: str
    outcome: Outcome
    latency: float
    reason: str = ""
    phases: Mapping[str, float] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    attempts: int = 1
    severity: Literal["critical", "warning"] = "critical"
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    @property
    def id(self) -> str:
        return f"{self.service}/{self.check}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "check": self.check,
            "protocol": self.protocol,
            "outcome": self.outcome,
            "severity": self.severity,
            "latency_ms": round(self.latency * 1000, 3),
            "phases_ms": {k: round(v * 1000, 3) for k, v in self.phases.items()},
            "reason": self.reason,
            "details": dict(self.details),
            "attempts": self.attempts,
            "started_at": self.started_at.isoformat(),
        }


def timeout_for(check: Check) -> float:
    """The check's ``timeout:``, else its protocol's default: a timeout always applies."""
    if check.timeout:
        return check.timeout
    return DEFAULT_TIMEOUTS.get(check.protocol, _FALLBACK_TIMEOUT)


# A probe ends itself this much before run_check's outer timeout, so its own reason
# (what it was waiting for) wins over a bare "timed out".
_MARGIN = 0.05


def inner_deadline(timeout: float) -> float:
    """The event-loop time by which a probe with ``timeout`` should give up on its own."""
    loop = asyncio.get_running_loop()
    return loop.time() + max(timeout - min(_MARGIN, timeout * 0.1), 0.001)


async def run_check(
    service: str,
    check: Check,
    *,
    probe: Probe | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> HealthCheckResult:
    """Run ``check`` for ``service``: timeout, retries with backoff, one result.

    A probe that raises is reported as ``error`` with the exception's type and message
    (never a traceback); a retried pass is a pass with ``attempts > 1``.
    """
    from redline.probes.registry import probe_for

    timeout = timeout_for(check)
    probe = probe or probe_for(check, timeout)
    name = check.name or check.protocol
    started_at = datetime.now(UTC)
    attempts = 0
    while True:
        attempts += 1
        start = clock()
        measurement = await _attempt(probe, timeout)
        latency = clock() - start
        if measurement.outcome == "ok" or attempts > check.retries:
            break
        await asyncio.sleep(check.retry_backoff * 2 ** (attempts - 1))
    phases = dict(measurement.phases)
    phases.setdefault("total", latency)
    return HealthCheckResult(
        service=service,
        check=name,
        protocol=check.protocol,
        outcome=measurement.outcome,
        latency=latency,
        reason=measurement.reason,
        phases=phases,
        details=measurement.details,
        attempts=attempts,
        severity=check.severity,
        started_at=started_at,
    )


async def _attempt(probe: Probe, timeout: float) -> Measurement:
    try:
        async with asyncio.timeout(timeout):
            return await probe.check()
    except TimeoutError:
        return error(f"no answer within {_seconds(timeout)} (timeout)", timeout_s=timeout)
    except OSError as exc:
        return error(_os_reason(exc))
    except Exception as exc:
        text = str(exc).splitlines()[0] if str(exc) else ""
        return error(f"{type(exc).__name__}: {text}".rstrip(": "))


def _seconds(value: float) -> str:
    from redline.units import format_duration

    return format_duration(value)


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the service running and listening on that port?)"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by the peer"
    return exc.strerror or str(exc) or type(exc).__name__


def with_phases(measurement: Measurement, **phases: float) -> Measurement:
    """``measurement`` with these phase timings (seconds) added."""
    return replace(measurement, phases={**measurement.phases, **phases})


def normalize_value(value: Any) -> str:
    """``value`` as the text ``expect`` is compared with: numbers in one canonical form.

    >>> normalize_value(Decimal("1.50")), normalize_value("1.5"), normalize_value(True)
    ('1.5', '1.5', 'true')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return _number(Decimal(str(value)))
    text = str(value).strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    return _number(number) if number.is_finite() else text


def _number(value: Decimal) -> str:
    if not value.is_finite():
        return str(value)
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")
