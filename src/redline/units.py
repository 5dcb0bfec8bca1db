"""Durations, rates and sizes as people write them in config: ``250ms``, ``200/s``, ``10MB``.

>>> parse_duration("1m30s")
90.0
>>> parse_rate("12000/m")
200.0
>>> parse_size("10MB")
10000000
"""

from __future__ import annotations

import re

__all__ = [
    "format_duration",
    "parse_duration",
    "parse_fraction",
    "parse_rate",
    "parse_size",
]

_DURATION_UNITS = {
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(us|µs|ms|s|m|h|d|w)")
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d*)\s*(ms|s|m|h|d|sec|min|second|minute|hour)\s*$")
_RATE_UNITS = {
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "d": 86400.0,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]i?[bB]|[bB])?\s*$")
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``250ms``, ``30s``, ``5m``, ``28d`` or ``1h30m``.

    A bare number is refused (is ``5`` seconds or milliseconds?), except ``0``.
    Raises ``ValueError`` with a hint on anything else.
    """
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValueError(f"expected a duration like 250ms or 30s, got {type(text).__name__}")
    s = str(text).strip()
    if s in {"0", "0.0"}:
        return 0.0
    if re.fullmatch(r"\d+(\.\d+)?", s):
        raise ValueError(f"'{s}' has no unit: write {s}s or {s}ms")
    pos = 0
    total = 0.0
    for match in _DURATION_PART.finditer(s):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(s) or not s:
        raise ValueError(f"'{s}' is not a duration: write it like 250ms, 30s, 5m, 2h or 28d")
    return total


def parse_rate(text: str) -> float:
    """Events per second in a rate such as ``200/s``, ``12000/m`` or ``5/10s``."""
    s = str(text)
    match = _RATE.match(s)
    if match is None:
        raise ValueError(f"'{s}' is not a rate: write it like 200/s or 12000/m")
    count = float(match.group(1))
    per = float(match.group(2) or 1) * _RATE_UNITS[match.group(3)]
    if per == 0:
        raise ValueError(f"'{s}' divides by a zero period")
    return count / per


def parse_size(text: str | int) -> int:
    """Bytes in a size such as ``512``, ``10MB`` (10**7) or ``64KiB`` (65536)."""
    if isinstance(text, bool):
        raise ValueError("expected a size like 10MB, got a boolean")
    if isinstance(text, int):
        return text
    match = _SIZE.match(str(text))
    if match is None:
        raise ValueError(f"'{text}' is not a size: write it like 512B, 64KiB or 10MB")
    unit = (match.group(2) or "b").lower()
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def parse_fraction(text: str | float) -> float:
    """A share such as ``5%`` or ``0.05`` as a number (0.05); ``5`` alone is refused.

    >>> parse_fraction("12.5%")
    0.125
    """
    if isinstance(text, bool):
        raise ValueError("expected a share like 5% or 0.05, got a boolean")
    s = str(text).strip()
    try:
        value = float(s[:-1]) / 100 if s.endswith("%") else float(s)
    except ValueError:
        raise ValueError(f"'{s}' is not a share: write it like 5% or 0.05") from None
    if not 0 <= value <= 1:  # NaN fails this too
        hint = f" (did you mean {s}%?)" if not s.endswith("%") and 1 < value <= 100 else ""
        raise ValueError(f"'{s}' is not a share between 0% and 100%{hint}")
    return value


def format_duration(seconds: float) -> str:
    """The shortest readable form of a duration: ``0.25`` -> ``250ms``, ``90`` -> ``1m30s``."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.12g}us"
    if seconds < 1:
        return f"{seconds * 1e3:.12g}ms"
    if seconds < 60 or seconds != int(seconds):
        return f"{seconds:.12g}s"
    parts = []
    rest = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts)
