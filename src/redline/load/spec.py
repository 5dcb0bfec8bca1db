"""What a load test is: plain frozen values, picklable, shared by every part of the engine.

A :class:`LoadSpec` is what the engine runs, whether it came from ``load.scenarios``
in the config, from ``redline load run URL``, or from Python. Each worker process
(and each Dask worker) gets a copy with its :meth:`~LoadSpec.share` of the rate,
the connections and the iterations.

>>> spec = LoadSpec(
...     target="http://127.0.0.1:8080",
...     executor=Executor("constant-arrival-rate", rate=2000.0, duration=10.0),
...     requests=(RequestSpec(path="/health"),),
... )
>>> spec.share(1, 2).stride   # every second iteration of the schedule, from the second
(1, 2)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "CLOSED_EXECUTORS",
    "EXECUTORS",
    "OPEN_EXECUTORS",
    "Executor",
    "LoadSpec",
    "RequestCheck",
    "RequestSpec",
    "Stage",
]

ExecutorKind = Literal[
    "constant-arrival-rate",
    "ramping-arrival-rate",
    "constant-vus",
    "ramping-vus",
    "per-vu-iterations",
]
OPEN_EXECUTORS: tuple[str, ...] = ("constant-arrival-rate", "ramping-arrival-rate")
CLOSED_EXECUTORS: tuple[str, ...] = ("constant-vus", "ramping-vus", "per-vu-iterations")
EXECUTORS: tuple[str, ...] = OPEN_EXECUTORS + CLOSED_EXECUTORS


@dataclass(frozen=True, slots=True)
class Stage:
    """Ramp linearly to ``target`` (iterations/s or VUs) over ``duration`` seconds."""

    duration: float
    target: float


@dataclass(frozen=True, slots=True)
class Executor:
    """How iterations are started.

    Open model (``*-arrival-rate``): iterations start on schedule whatever the server
    does; latency counts from the intended start. Connections grow as needed up to
    ``max_connections``; an iteration that finds them all busy waits in a queue of at
    most ``max_queue``, beyond which it is dropped (counted, never lost silently).

    Closed model (``*-vus``, ``per-vu-iterations``): ``vus`` virtual users each run one
    iteration after another on their own connection, with ``think_time`` between.
    """

    kind: ExecutorKind
    duration: float = 10.0
    rate: float = 0.0  # constant-arrival-rate: iterations per second
    start_rate: float = 0.0  # ramping-arrival-rate: the rate before the first stage
    vus: int = 1  # closed model: virtual users (one connection each)
    start_vus: int = 0  # ramping-vus
    iterations: int = 1  # per-vu-iterations: per VU
    stages: tuple[Stage, ...] = ()
    think_time: float = 0.0
    max_connections: int = 1000
    max_queue: int = 10_000

    @property
    def open(self) -> bool:
        """Whether this is an open-model (arrival-rate) executor."""
        return self.kind in OPEN_EXECUTORS

    @property
    def total_duration(self) -> float:
        """Seconds the schedule lasts (per-vu-iterations: ``duration`` is its cap)."""
        if self.kind in ("ramping-arrival-rate", "ramping-vus"):
            return sum(s.duration for s in self.stages)
        return self.duration


@dataclass(frozen=True, slots=True)
class RequestCheck:
    """What a response must show to count as a success (besides not erroring)."""

    status: tuple[int, ...] = ()  # empty: any 2xx or 3xx
    contains: str | None = None
    json_path: str | None = None  # e.g. "$.items[0].id" or "items.0.id"
    equals: Any = None


@dataclass(frozen=True, slots=True)
class RequestSpec:
    """One request an iteration may send; ``weight`` sets how often it is chosen.

    ``path``, header values, ``query`` values and ``body`` may hold templates:
    ``{{randint(1,100)}}``, ``{{uuid}}``, ``{{data.COLUMN}}`` (a row of ``data_file``,
    a CSV read once, rows taken in turn).
    """

    path: str = "/"
    method: str = "GET"
    name: str | None = None  # the name its latencies are kept under; default "METHOD path"
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    body: str | bytes | None = None
    weight: float = 1.0
    check: RequestCheck | None = None

    @property
    def label(self) -> str:
        return self.name or f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True)
class LoadSpec:
    """A whole load test: where, how iterations start, and what each one does.

    Each iteration sends one request chosen by weight from ``requests``, unless
    ``flow`` names an ``async def flow(http, ctx)`` as ``"module:function"``.
    ``timeout`` bounds each request; ``graceful_stop`` is how long in-flight
    iterations may finish once the schedule ends (then they count as interrupted).
    """

    target: str
    executor: Executor
    requests: tuple[RequestSpec, ...] = ()
    flow: str | None = None
    name: str = "adhoc"
    timeout: float = 10.0
    graceful_stop: float = 5.0
    data_file: str | None = None
    thresholds: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    # (index, parts): this spec runs iterations index, index + parts, ... of the open
    # model's schedule; (0, 1) is the whole of it.
    stride: tuple[int, int] = (0, 1)

    def share(self, index: int, parts: int) -> LoadSpec:
        """Part ``index`` of ``parts`` of this test, so the parts together do exactly what
        the whole would. Open model: every part keeps the whole schedule and takes every
        ``parts``-th iteration of it (same intended times, exact total, whatever the
        rate). Closed model: VUs split (remainders to the first parts). Connections and
        queues split either way."""
        if parts == 1:
            return self
        ex = self.executor

        def split(total: int) -> int:
            return total // parts + (1 if index < total % parts else 0)

        executor = dataclasses.replace(
            ex,
            vus=split(ex.vus),
            start_vus=split(ex.start_vus),
            stages=ex.stages
            if ex.open
            else tuple(Stage(s.duration, split(int(s.target))) for s in ex.stages),
            max_connections=max(1, split(ex.max_connections)),
            max_queue=max(1, split(ex.max_queue)),
        )
        return dataclasses.replace(self, executor=executor, stride=(index, parts))

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain JSON-able values (for the stored run and ``--out``)."""
        return dataclasses.asdict(self)
