"""Helpers for the health tests: configs, scripted check runs, a virtual-time event loop."""

from __future__ import annotations

import asyncio
import selectors
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redline.config.schema import Check, Config
from redline.probes.base import HealthCheckResult, Outcome

T = TypeVar("T")


def make_config(services: dict[str, list[dict[str, Any]]], **health: Any) -> Config:
    """A Config whose services have these checks (a `command` check unless one is given)."""
    return Config.model_validate(
        {
            "project": "shop",
            "health": {"jitter": "0", **health},
            "services": {
                name: {"checks": [_with_protocol(c) for c in checks]}
                for name, checks in services.items()
            },
        }
    )


_PROTOCOLS = ("http", "tcp", "dns", "postgres", "redis", "command")


def _with_protocol(check: dict[str, Any]) -> dict[str, Any]:
    if any(p in check for p in _PROTOCOLS):
        return check
    return {"command": {"run": "true"}, **check}


def result(
    service: str,
    check: Check,
    outcome: Outcome = "ok",
    latency: float = 0.01,
    reason: str = "",
) -> HealthCheckResult:
    return HealthCheckResult(
        service=service,
        check=check.name or check.protocol,
        protocol=check.protocol,
        outcome=outcome,
        latency=latency,
        reason=reason,
        severity=check.severity,
    )


Step = Outcome | tuple[Outcome, float] | tuple[Outcome, float, str]


class ScriptedRun:
    """The checker's `run` seam: answers each check from a script, counts the calls.

    ``script[check name]`` is a list of outcomes (or (outcome, latency[, reason]));
    the last one repeats. ``duration`` is how long (event-loop time) a run takes.
    """

    def __init__(
        self,
        script: dict[str, list[Step]] | None = None,
        *,
        duration: dict[str, float] | None = None,
        default: Step = "ok",
    ) -> None:
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.duration = duration or {}
        self.default = default
        self.calls: list[tuple[str, str, float]] = []
        self.counts: dict[str, int] = defaultdict(int)
        self._waiters: list[tuple[int, asyncio.Event]] = []

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    async def wait_for(self, runs: int) -> None:
        """Return once ``runs`` runs have finished (an event, not polling)."""
        if self.total >= runs:
            return
        event = asyncio.Event()
        self._waiters.append((runs, event))
        await event.wait()

    async def __call__(self, service: str, check: Check) -> HealthCheckResult:
        name = check.name or check.protocol
        loop = asyncio.get_running_loop()
        self.calls.append((service, name, loop.time()))
        steps = self.script.get(name)
        step: Step = self.default
        if steps:
            step = steps.pop(0) if len(steps) > 1 else steps[0]
        outcome, latency, reason = _unpack(step)
        if name in self.duration:
            await asyncio.sleep(self.duration[name])
        self.counts[name] += 1
        for runs, event in self._waiters:
            if self.total >= runs:
                event.set()
        return result(service, check, outcome, latency, reason)

    def starts(self, name: str) -> list[float]:
        return [at for _, n, at in self.calls if n == name]


def _unpack(step: Step) -> tuple[Outcome, float, str]:
    if isinstance(step, str):
        return step, 0.01, "" if step == "ok" else f"{step} reason"
    if len(step) == 2:
        return step[0], step[1], ""
    return step  # type: ignore[return-value]


class _VirtualSelector(selectors.BaseSelector):
    """Polls the real selector; where the loop would wait, it moves virtual time instead."""

    def __init__(self) -> None:
        self._inner = selectors.DefaultSelector()
        self.clock: VirtualClock | None = None

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events = self._inner.select(0)
        if events or timeout == 0:
            return events
        if timeout is None:  # nothing scheduled: only another thread can wake us
            return self._inner.select(None)
        assert self.clock is not None
        self.clock.now += timeout
        return []

    def close(self) -> None:
        self._inner.close()

    def get_map(self) -> Any:
        return self._inner.get_map()


class VirtualClock:
    """Seconds that move only when told: the checker's clock and the loop's, shared.

    A clock jump (the machine stalled) is ``clock.now += seconds`` from a callback.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop on a VirtualClock: when every task waits, time jumps to the next timer."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        selector = _VirtualSelector()
        selector.clock = clock
        super().__init__(selector)

    def time(self) -> float:
        return self.clock.now


def run_virtual(clock: VirtualClock, main: Callable[[], Awaitable[T]]) -> T:
    """Run ``main()`` on a fresh event loop driven by ``clock``."""
    with asyncio.Runner(loop_factory=lambda: VirtualTimeLoop(clock)) as runner:
        return runner.run(_call(main))


async def _call(main: Callable[[], Awaitable[T]]) -> T:
    return await main()
