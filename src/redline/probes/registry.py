"""Which probe measures which protocol: the built-ins, then ``redline.probes`` entry points.

A built-in is named as ``module:factory`` and imported only when a check uses it, so
a config of HTTP checks never imports the PostgreSQL driver. A plugin package adds a
protocol with an entry point in the ``redline.probes`` group whose object is a
:data:`~redline.probes.base.ProbeFactory` (see docs/validation.md).
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redline.config.schema import Check
    from redline.probes.base import Probe, ProbeFactory

__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "factory_for", "plugin_protocols", "probe_for"]

ENTRY_POINT_GROUP = "redline.probes"
BUILTIN: dict[str, str] = {
    "http": "redline.probes.http:HttpProbe",
    "tcp": "redline.probes.tcp:TcpProbe",
    "dns": "redline.probes.dns:DnsProbe",
    "postgres": "redline.probes.postgres:PostgresProbe",
    "redis": "redline.probes.redis:RedisProbe",
    "command": "redline.probes.command:CommandProbe",
}


@cache
def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def plugin_protocols() -> list[str]:
    """Protocol names added by installed plugins."""
    return sorted(n for n in _entry_points() if n not in BUILTIN)


def factory_for(protocol: str) -> ProbeFactory:
    """The factory for ``protocol``; KeyError when nothing provides it."""
    target = BUILTIN.get(protocol)
    if target is not None:
        module, _, attr = target.partition(":")
        factory: ProbeFactory = getattr(importlib.import_module(module), attr)
        return factory
    ep = _entry_points().get(protocol)
    if ep is None:
        raise KeyError(protocol)
    loaded: ProbeFactory = ep.load()
    return loaded


def probe_for(check: Check, timeout: float) -> Probe:
    """A probe for ``check``, built from its protocol section."""
    return factory_for(check.protocol)(check.spec, timeout)
