"""The demo system's fault and performance knobs: real effects a probe or a load test can measure.

Knobs are read from ``DEMO_*`` environment variables when a process starts and can be
changed while it runs through ``POST /admin/knobs``. Both spellings use the same names::

    >>> k = Knobs.from_env({"DEMO_LATENCY": "50ms", "DEMO_CACHE": "on"})
    >>> k.latency, k.cache
    (0.05, True)
    >>> k.patch({"error_rate": 0.25}).to_dict()["error_rate"]
    0.25

Durations are written as redline writes them everywhere (``250ms``, ``2s``) and stored in
seconds. Every value is checked; a bad one raises ``ValueError`` naming the knob.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redline.units import format_duration, parse_duration

__all__ = ["ENV_NAMES", "TOKEN_ENV", "Knobs"]

# The admin token is read from here; the name of a variable, not a secret.
TOKEN_ENV = "REDLINE_DEMO_ADMIN_TOKEN"  # noqa: S105

# knob name -> environment variable read at start
ENV_NAMES: dict[str, str] = {
    "latency": "DEMO_LATENCY",
    "error_rate": "DEMO_ERROR_RATE",
    "cpu_burn": "DEMO_CPU_BURN",
    "slow_query": "DEMO_SLOW_QUERY",
    "cache": "DEMO_CACHE",
    "cache_ttl": "DEMO_CACHE_TTL",
    "version": "DEMO_VERSION",
    "health_fail": "DEMO_HEALTH_FAIL",
    "health_latency": "DEMO_HEALTH_LATENCY",
    "seed": "DEMO_SEED",
}

_DURATIONS = ("latency", "cpu_burn", "slow_query", "cache_ttl", "health_latency")
_FLAGS = ("cache", "health_fail")
_TRUE = {"1", "on", "true", "yes"}
_FALSE = {"0", "off", "false", "no", ""}
# A knob that stalls a request for minutes is a mistake, not a demo.
_MAX_DURATION = 60.0


@dataclass(frozen=True)
class Knobs:
    """One consistent set of knob values; :meth:`patch` returns a new one.

    ``latency``, ``cpu_burn`` and ``error_rate`` apply to every business request
    (``/items``, ``/jobs``); ``slow_query`` to every business database query;
    ``health_fail`` and ``health_latency`` only to ``/health``.
    """

    latency: float = 0.0
    error_rate: float = 0.0
    cpu_burn: float = 0.0
    slow_query: float = 0.0
    cache: bool = False
    cache_ttl: float = 60.0
    version: str = "1.0.0"
    health_fail: bool = False
    health_latency: float = 0.0
    seed: int = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Knobs:
        """Knobs from ``DEMO_*`` variables; unset ones keep their defaults."""
        values: dict[str, object] = {}
        for name, var in ENV_NAMES.items():
            if var in env:
                try:
                    values[name] = _coerce(name, env[var])
                except ValueError as exc:
                    raise ValueError(f"{var}: {exc}") from None
        return dataclasses.replace(cls(), **values)  # type: ignore[arg-type]

    def patch(self, changes: Mapping[str, Any]) -> Knobs:
        """A copy with ``changes`` applied; unknown names and bad values raise ``ValueError``."""
        unknown = sorted(set(changes) - set(ENV_NAMES))
        if unknown:
            raise ValueError(
                f"unknown knob(s) {', '.join(unknown)}; known: {', '.join(sorted(ENV_NAMES))}"
            )
        values = {}
        for name, raw in changes.items():
            try:
                values[name] = _coerce(name, raw)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return dataclasses.replace(self, **values)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values in the form :meth:`patch` accepts (durations as ``50ms``)."""
        out: dict[str, Any] = dataclasses.asdict(self)
        for name in _DURATIONS:
            out[name] = _format(out[name])
        return out

    def to_env(self) -> dict[str, str]:
        """``DEMO_*`` variables that reproduce these knobs in a new process."""
        out = {}
        for name, value in self.to_dict().items():
            text = ("on" if value else "off") if isinstance(value, bool) else str(value)
            out[ENV_NAMES[name]] = text
        return out


def _format(seconds: float) -> str:
    return "0" if seconds == 0 else format_duration(seconds)


def _coerce(name: str, raw: object) -> object:
    if name in _DURATIONS:
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
            raise ValueError(f"expected a duration like 50ms, got {raw!r}")
        seconds = parse_duration(str(raw))
        if seconds > _MAX_DURATION:
            raise ValueError(f"{raw!r} is longer than the {_MAX_DURATION:g}s a demo knob allows")
        return seconds
    if name in _FLAGS:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"expected on/off, got {raw!r}")
    if name == "error_rate":
        return _rate(raw)
    if name == "seed":
        if isinstance(raw, bool):
            raise ValueError(f"expected an integer, got {raw!r}")
        try:
            return int(str(raw))
        except ValueError:
            raise ValueError(f"expected an integer, got {raw!r}") from None
    if name == "version":
        text = str(raw).strip()
        if not text or len(text) > 64:
            raise ValueError("expected a version string of 1 to 64 characters")
        return text
    raise ValueError(f"unknown knob {name!r}")  # pragma: no cover - guarded by patch()


def _rate(raw: object) -> float:
    """A fraction in [0, 1], written ``0.1`` or ``10%``."""
    if isinstance(raw, bool):
        raise ValueError(f"expected a fraction like 0.1 or 10%, got {raw!r}")
    text = str(raw).strip()
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise ValueError(f"expected a fraction like 0.1 or 10%, got {raw!r}") from None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"must be between 0 and 1 (or 0% and 100%), got {raw!r}")
    return value
