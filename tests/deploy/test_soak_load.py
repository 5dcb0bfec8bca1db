"""The soak measured for real: the load engine against an HTTP server on loopback.

The server (a fixture, port 0, its own thread and event loop) has two knobs a release
would turn: ``delay`` (seconds before each answer) and ``not_ready`` (how many requests
it answers 503 first, as a slow start does). The soak measures it with
:func:`load_measure`, the smoke phase with the real HTTP probe.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from redline._errors import DeployError
from redline.config.schema import Check
from redline.deploy.verify import (
    JudgeMetric,
    Smoke,
    Soak,
    load_measure,
    run_smoke,
    run_soak,
)
from redline.load.spec import Executor, LoadSpec, RequestSpec
from redline.probes.base import HealthCheckResult, run_check


class KnobServer:
    """Keep-alive HTTP/1.1 on 127.0.0.1:0 whose latency and readiness a test sets."""

    def __init__(self) -> None:
        self.delay = 0.0
        self.not_ready = 0
        self.requests = 0
        self.writers: set[asyncio.StreamWriter] = set()
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self.thread.start()
        started.wait(5)

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0)
        )
        self.port = self.server.sockets[0].getsockname()[1]
        started.set()
        try:
            self.loop.run_forever()
        finally:
            self.server.close()
            for writer in self.writers:
                writer.close()
            self.loop.run_until_complete(self.server.wait_closed())
            self.loop.run_until_complete(asyncio.sleep(0))  # the closes take effect
            self.loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                self.requests += 1
                status = b"503 Starting" if self.requests <= self.not_ready else b"200 OK"
                if self.delay:
                    await asyncio.sleep(self.delay)
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def knob_server() -> Iterator[KnobServer]:
    server = KnobServer()
    try:
        yield server
    finally:
        server.close()


def spec_for(server: KnobServer) -> LoadSpec:
    return LoadSpec(
        target=server.url,
        executor=Executor("constant-arrival-rate", rate=1.0, duration=1.0),
        requests=(RequestSpec(path="/"),),
        timeout=5.0,
    )


def test_load_measure_reports_latency_percentiles_and_error_rate(knob_server: KnobServer) -> None:
    knob_server.delay = 0.02
    measure = load_measure(spec_for(knob_server), rate=40, interval=1.0)
    got = {m.name: m for m in asyncio.run(measure())}  # type: ignore[arg-type]
    assert list(got) == ["p50_ms", "p95_ms", "p99_ms", "error_rate"]
    assert 38 <= knob_server.requests <= 42
    for name in ("p50_ms", "p95_ms", "p99_ms"):
        m = got[name]
        assert m.outcome == "ok" and m.unit == "ms" and m.samples and 0.9 <= m.window <= 1.5
        assert 20 <= m.value < 200  # type: ignore[operator]
    assert got["p50_ms"].value <= got["p95_ms"].value <= got["p99_ms"].value  # type: ignore[operator]
    assert got["error_rate"].value == 0.0 and got["error_rate"].outcome == "ok"


def test_a_server_whose_latency_doubles_is_rolled_back_within_two_intervals(
    knob_server: KnobServer,
) -> None:
    knob_server.delay = 0.025
    measure = load_measure(spec_for(knob_server), rate=40, interval=1.0)

    async def scenario() -> tuple[object, object]:
        baseline = [
            s for _ in range(4) for m in await measure() if m.name == "p95_ms" for s in m.samples
        ]
        # a generous tolerance: a shared 2-core machine adds jitter; doubling is +100 %
        judge = (JudgeMetric("p95_ms", tolerance=0.5),)
        soak = Soak(
            duration=10,
            interval=1,
            judge=judge,
            baseline={"p95_ms": baseline},
            thresholds={"http_req_failed": "rate<0.01"},
        )
        same = await run_soak(
            measure, Soak(duration=3, interval=1, judge=judge, baseline={"p95_ms": baseline})
        )
        knob_server.delay = 0.05  # the new release: every answer takes twice as long
        slow = await run_soak(measure, soak)
        return same, slow

    same, slow = asyncio.run(scenario())
    assert same.decision == "pass", same.to_dict()["reasons"]  # type: ignore[attr-defined]
    assert (slow.decision, slow.action) == ("fail", "rollback")  # type: ignore[attr-defined]
    assert slow.intervals_run <= 2 and slow.stopped_early  # type: ignore[attr-defined]
    (reason,) = slow.reasons  # type: ignore[attr-defined]
    assert reason.check == "canary:p95_ms" and reason.counter == "failed 2 > failure_limit 1"
    assert 50 <= reason.value <= 150 and reason.unit == "%"  # about +100 %


def test_errors_of_the_release_fail_the_error_rate_threshold(knob_server: KnobServer) -> None:
    knob_server.not_ready = 10**9  # answers 503 to everything
    measure = load_measure(spec_for(knob_server), rate=20, interval=1.0)
    soak = Soak(duration=5, interval=1, thresholds={"http_req_failed": "rate<0.01"}, retries=0)
    r = asyncio.run(run_soak(measure, soak))  # type: ignore[arg-type]
    assert (r.decision, r.intervals_run) == ("fail", 2)
    (reason,) = r.reasons
    assert reason.check == "error_rate" and reason.value == 1.0
    assert reason.threshold == "http_req_failed: rate<0.01"


def test_a_cancelled_soak_stops_the_load_engine_at_once(knob_server: KnobServer) -> None:
    """After the switch, SIGINT means roll back: the soak is cancelled mid-interval, and the
    engine's thread must not keep loading the release for the rest of its 10 s window
    (``asyncio.run`` waits for that thread before it returns)."""
    measure = load_measure(spec_for(knob_server), rate=50, interval=10.0)

    async def scenario() -> float:
        task = asyncio.create_task(run_soak(measure, Soak(duration=30, interval=10)))
        while knob_server.requests < 5:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic()

    cancelled = asyncio.run(scenario())
    assert time.monotonic() - cancelled < 3.0  # the window had ~9.9 s left
    seen = knob_server.requests
    assert seen < 100


def test_a_load_spec_the_engine_cannot_run_is_a_deploy_error_before_anything_runs() -> None:
    spec = LoadSpec(target="ftp://127.0.0.1:1/", executor=Executor("constant-arrival-rate"))
    with pytest.raises(DeployError, match="the soak's load spec"):
        load_measure(spec, rate=10, interval=1)
    with pytest.raises(DeployError, match="rate > 0"):
        load_measure(spec, rate=0, interval=1)


def _checks(server: KnobServer) -> list[Check]:
    return [Check.model_validate({"name": "health", "http": {"url": server.url}})]


def test_smoke_waits_for_a_slow_start_with_the_real_http_probe(knob_server: KnobServer) -> None:
    knob_server.not_ready = 3
    checks = _checks(knob_server)

    async def run_checks(pending: frozenset[str]) -> list[HealthCheckResult]:
        chosen = [c for c in checks if not pending or f"api/{c.name}" in pending]
        return list(await asyncio.gather(*(run_check("api", c) for c in chosen)))

    r = asyncio.run(run_smoke(run_checks, Smoke(deadline=10, interval=0.05)))
    assert (r.decision, r.rounds, knob_server.requests) == ("pass", 4, 4)
    knob_server.not_ready = 10**9
    r = asyncio.run(run_smoke(run_checks, Smoke(deadline=0.3, interval=0.05)))
    assert r.decision == "fail" and r.reasons[0].check == "api/health"
    assert r.reasons[0].outcome == "fail" and "503" in r.reasons[0].message
