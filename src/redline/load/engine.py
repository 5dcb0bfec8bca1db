"""The load engine of one process: executors, measurement and self-monitoring.

:class:`Engine` runs one :class:`~redline.load.spec.LoadSpec` (or one worker's share
of it) on the running event loop and returns a :class:`~redline.load.results.Part`.

- **Open model** (arrival-rate executors): a 1 ms ticker starts every iteration
  whose intended time has come. Latency counts from the *intended* time, so
  time an iteration spends waiting for a connection, or in the generator's own
  queue, is in the numbers (no coordinated omission). Connections grow up to
  ``max_connections``; beyond that iterations queue (``max_queue``), then drop.
- **Closed model** (VU executors): each VU sends on its own connection and sends
  the next request from inside the previous response's callback.
- Every second the engine flushes its latencies into per-interval HDR histograms,
  and watches itself: CPU over 85 % or event-loop lag over 1 ms in an interval
  marks the run ``generator_saturated``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from array import array
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from redline.load import hist
from redline.load.requests import DataRows, Prepared, Target, json_at, load_data, prepare
from redline.load.results import Interval, Part
from redline.load.schedule import Arrivals, vus_at
from redline.load.spec import LoadSpec, RequestSpec
from redline.load.transport import (
    BodyConnection,
    Connection,
    FullConnection,
    Stats,
    classify,
    connect,
)
from redline.probes.http import tls_context

__all__ = ["Engine"]

_SWEEP = 0.05
_MIN_SLEEP = 0.001
CONNECT_LABEL = "(connect)"  # a flow's iteration that could not connect
_CONNECTING = 128


class _Label:
    """Counters and the latency buffer of one request name."""

    __slots__ = ("buf", "errors", "name", "requests")

    def __init__(self, name: str, recorder: hist.Recorder) -> None:
        self.name = name
        self.buf = recorder.buffer(name)
        self.requests = 0
        self.errors = 0


class Engine:
    """Runs one load spec in this process; :meth:`stop` ends it early, keeping results."""

    def __init__(
        self,
        spec: LoadSpec,
        *,
        part: int = 0,
        start_at: float | None = None,
        on_interval: Callable[[Interval], None] | None = None,
    ) -> None:
        self.spec = spec
        self.part = part
        self.start_at = start_at
        self.on_interval = on_interval
        self.target = Target.parse(spec.target)
        # The http probe's client context: verifying, HTTP/1.1 by ALPN, SSL_CERT_FILE honoured.
        self.tls = tls_context(True) if self.target.tls else None
        self.data: DataRows | None = load_data(spec.data_file, offset=part * 7919)
        self.prepared = [
            prepare(r, self.target, self.data) for r in spec.requests or (RequestSpec(),)
        ]
        self.recorder = hist.Recorder()
        self.labels = {p.label: _Label(p.label, self.recorder) for p in self.prepared}
        self.iteration_buf = self.recorder.buffer("__iteration__")
        self.stats = Stats()
        self.errors: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.iteration_errors: Counter[str] = Counter()
        self.iterations = self.dropped = 0
        self.checks_passed = self.checks_failed = 0
        self.running = False
        self.connections: set[Connection] = set()
        self._picks = _weighted_cycle(self.prepared)
        self._pick_index = part
        self._stopped = asyncio.Event()
        self._intervals: list[Interval] = []
        self._last_requests = self._last_errors = self._last_dropped = 0
        self._lags: list[float] = []
        self._flow: Callable[..., Any] | None = None
        self._flows: set[asyncio.Task[None]] = set()
        self._stop_requested = False
        self._stop_at = float("inf")
        self._warm: list[Connection] = []  # connections opened before the clock starts
        only = self.prepared[0] if len(self.prepared) == 1 else None
        self.fixed_request: bytes | None = only.build() if only is not None and only.fixed else None
        # How late the open model starts its iterations (seconds), this interval.
        self._late: array[float] = array("d")
        self._connecting = asyncio.Semaphore(_CONNECTING)
        # Keep bodies only when a check reads them: every callback costs per response.
        self._kind: type[Connection] = (
            BodyConnection if any(p.needs_body for p in self.prepared) else _Looping
        )
        self._flow_requests: dict[tuple[Any, ...], Prepared] = {}
        self.in_flight = 0
        self._active_vus = 0

    # -- public -----------------------------------------------------------------------
    def stop(self) -> None:
        """End the schedule now; in-flight iterations get ``graceful_stop`` to finish.
        Called before the start, the run sends nothing."""
        self.running = False
        self._stop_at = 0.0
        self._stop_requested = True
        self._stopped.set()

    async def run(self) -> Part:
        """Run the whole schedule and return this process's results."""
        loop = asyncio.get_running_loop()
        if self.spec.flow is not None:
            from redline.load.flow import load_flow

            self._flow = load_flow(self.spec.flow)
            self._kind = FullConnection
        warmup = None
        if not self.spec.executor.open:
            warmup = loop.create_task(self._preconnect(vus_at(self.spec.executor, 0.0)))
        if self.start_at is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), max(0.0, self.start_at - time.time()))
        if warmup is not None:
            await warmup
        self.running = not self._stop_requested
        self.t0 = time.perf_counter()
        self.wall0 = time.time()
        self._cpu0 = time.process_time()
        self._wait0 = _run_queue_wait()
        self._interval_t = self.t0
        helpers = [
            loop.create_task(self._sweeper()),
            loop.create_task(self._lag_probe()),
            loop.create_task(self._interval_ticker()),
        ]
        try:
            if self.spec.executor.open:
                await self._run_open()
            else:
                await self._run_closed()
        finally:
            self.running = False
            await self._drain()
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            self._close_all()
        self._flush_interval(final=True)
        return self._part()

    # -- open model -------------------------------------------------------------------
    async def _run_open(self) -> None:
        ex = self.spec.executor
        arrivals = Arrivals.of(ex)
        self.idle: list[Connection] = []
        self.queue: deque[tuple[float, Prepared | None]] = deque()
        self.opening = 0
        late = self._late
        first, step = self.spec.stride
        index, total, t0 = first, arrivals.total, self.t0
        next_due = t0 + arrivals.time_of(index) if index < total else t0
        while self.running and index < total:
            now = time.perf_counter()
            while index < total and next_due <= now:
                late.append(now - next_due)
                self._start_iteration(next_due)
                index += step
                if index < total:
                    next_due = t0 + arrivals.time_of(index)
            # Yield; sleep at least 1 ms (the loop's timer resolution: shorter sleeps spin
            # the CPU) and at most 10 ms, so a stop is seen at once.
            wait = next_due - time.perf_counter()
            await asyncio.sleep(min(max(wait, _MIN_SLEEP), 0.01) if wait > 0 else 0)
        # The schedule is over (or stopped): what is still queued will not start.
        if not self.running and self.queue:
            self.dropped += len(self.queue)
            self.queue.clear()

    def _start_iteration(self, intended: float) -> None:
        prepared = self._next_request() if self._flow is None else None
        if self.idle:
            self._begin(self.idle.pop(), intended, prepared)
            return
        if len(self.connections) + self.opening < self.spec.executor.max_connections:
            self.queue.append((intended, prepared))
            self._open_connection()
        elif len(self.queue) < self.spec.executor.max_queue:
            self.queue.append((intended, prepared))
        else:
            self.dropped += 1

    def _open_connection(self) -> None:
        self.opening += 1
        asyncio.get_running_loop().create_task(self._connect_then_serve())

    async def _connect_then_serve(self) -> None:
        try:
            conn = await self._connect()
        except Exception as exc:
            self.opening -= 1
            if self.queue:
                intended, prepared = self.queue.popleft()
                self._connect_failed(classify(exc), prepared, intended)
            return
        self.opening -= 1
        self._serve(conn)

    def _connect_failed(self, kind: str, prepared: Prepared | None, intended: float) -> None:
        """An iteration that could not get a connection: one failed request."""
        self.iterations += 1
        self.errors[kind] += 1
        label = self._label(prepared.label if prepared else CONNECT_LABEL)
        label.requests += 1
        label.errors += 1
        if prepared is None:
            self.iteration_errors[kind] += 1
            self.iteration_buf.append(int((time.perf_counter() - intended) * 1e6))

    def _serve(self, conn: Connection) -> None:
        """Give a free connection the next queued iteration, or park it."""
        if self.queue:
            intended, prepared = self.queue.popleft()
            self._begin(conn, intended, prepared)
        else:
            self.idle.append(conn)

    def _begin(self, conn: Connection, intended: float, prepared: Prepared | None) -> None:
        self.iterations += 1
        self.in_flight += 1
        if prepared is None:
            task = asyncio.get_running_loop().create_task(self._flow_iteration(conn, intended))
            self._flows.add(task)
            return
        conn.vu = (prepared, intended)
        conn.send(
            prepared.build(),
            self._open_done,
            time.perf_counter() + self.spec.timeout,
            want_body=prepared.needs_body,
        )

    def _open_done(
        self,
        conn: Connection,
        status: int,
        headers: list[tuple[bytes, bytes]] | None,
        body: bytes | None,
        error: str | None,
    ) -> None:
        prepared, intended = conn.vu
        self._record(prepared, intended, status, body, error)
        self._iteration_done(intended)
        self._release(conn)

    def _release(self, conn: Connection) -> None:
        """Open model: a connection whose iteration ended serves the queue, or parks; one
        the server closed is replaced when iterations are waiting."""
        if conn.closed:
            if self.queue:
                self._open_connection()
        else:
            self._serve(conn)

    def _iteration_done(self, intended: float) -> None:
        self.in_flight -= 1
        if self._flow is not None:  # one request per iteration otherwise: the same numbers
            self.iteration_buf.append(int((time.perf_counter() - intended) * 1e6))

    # -- closed model -----------------------------------------------------------------
    async def _run_closed(self) -> None:
        ex = self.spec.executor
        self.vus: list[asyncio.Task[None]] = []
        deadline = self._stop_at = self.t0 + ex.total_duration
        while self.running:
            elapsed = time.perf_counter() - self.t0
            want = vus_at(ex, elapsed)
            while len(self.vus) < want:
                self.vus.append(asyncio.get_running_loop().create_task(self._vu(len(self.vus))))
            self._active_vus = want
            if ex.kind == "per-vu-iterations" and all(t.done() for t in self.vus):
                break
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), min(remaining, 0.1))
        self.running = False

    async def _preconnect(self, count: int) -> None:
        """Open the first VUs' connections before the clock starts, as wrk and k6 do: ten
        thousand handshakes against a server already busy serving overflow its accept
        queue, and each dropped SYN costs a second. Failures are left to the VUs, which
        retry and count them; the warm-up never takes longer than ``timeout``."""

        async def one() -> Connection | None:
            try:
                return await self._connect()
            except Exception:
                return None

        tasks = [asyncio.ensure_future(one()) for _ in range(count)]
        done, pending = await asyncio.wait(tasks, timeout=self.spec.timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self._warm = [c for t in done if (c := t.result()) is not None]

    async def _vu(self, number: int) -> None:
        ex = self.spec.executor
        iterations = 0
        conn: Connection | None = self._warm.pop() if self._warm else None
        while self.running and number < self._active_vus and time.perf_counter() < self._stop_at:
            if ex.kind == "per-vu-iterations" and iterations >= ex.iterations:
                return
            iterations += 1
            if conn is None or conn.closed:
                try:
                    conn = await self._connect()
                except Exception as exc:
                    prepared = self._next_request() if self._flow is None else None
                    self._connect_failed(classify(exc), prepared, time.perf_counter())
                    conn = None
                    await asyncio.sleep(0.01)
                    continue
            self.iterations += 1
            self.in_flight += 1
            started = time.perf_counter()
            if self._flow is not None:
                await self._flow_iteration(conn, started)
            else:
                await self._one_request(conn, self._next_request(), started, number)
            if ex.think_time > 0 and self.running:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), ex.think_time)
        if conn is not None:
            conn.close()

    async def _one_request(
        self, conn: Connection, prepared: Prepared, started: float, number: int
    ) -> None:
        """Closed model, plain requests: keep sending from the response callback until the
        VU's iteration ends, then come back to the coroutine only when something changes."""
        finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        think = self.spec.executor.think_time > 0
        per_vu = self.spec.executor.kind == "per-vu-iterations"
        if type(conn) is _Looping and not think and not per_vu:
            conn.start_loop(self, prepared, started, number, finished)
            await finished
            return

        def done(
            c: Connection,
            status: int,
            headers: list[tuple[bytes, bytes]] | None,
            body: bytes | None,
            error: str | None,
        ) -> None:
            p, t = c.vu
            self._record(p, t, status, body, error)
            self._iteration_done(t)
            now = time.perf_counter()
            # The schedule's end is checked here too: with thousands of connections the
            # coroutine that flips `running` can be seconds late.
            if (
                self.running
                and now < self._stop_at
                and number < self._active_vus
                and not c.closed
                and not think
                and not per_vu
            ):
                self.iterations += 1
                self.in_flight += 1
                nxt = self._next_request()
                c.vu = (nxt, now)
                c.send(nxt.build(), done, now + self.spec.timeout, want_body=nxt.needs_body)
                return
            if not finished.done():
                finished.set_result(None)

        conn.vu = (prepared, started)
        conn.send(
            prepared.build(), done, started + self.spec.timeout, want_body=prepared.needs_body
        )
        await finished

    # -- flows ------------------------------------------------------------------------
    async def _flow_iteration(self, conn: Connection, intended: float) -> None:
        from redline.load.flow import FlowHttp

        http = FlowHttp(self, conn)
        assert self._flow is not None
        try:
            await self._flow(
                http, {"vu": id(conn), "iteration": self.iterations, "part": self.part}
            )
        except asyncio.CancelledError:
            self.iteration_errors["interrupted"] += 1
            raise
        except AssertionError as exc:
            self.iteration_errors["check"] += 1
            self.checks_failed += 1
            http.note_failure(exc)
        except Exception as exc:
            self.iteration_errors[type(exc).__name__] += 1
            http.note_failure(exc)
        finally:
            self._flows.discard(task) if (task := asyncio.current_task()) else None
            conn = http.conn
            self._iteration_done(intended)
        if self.spec.executor.open:
            self._release(conn)

    def prepared_for(self, spec: RequestSpec) -> Prepared:
        """A flow's request compiled once and reused (flows repeat the same few)."""
        from redline.load.flow import prepared_key

        key = prepared_key(spec)
        prepared = self._flow_requests.get(key)
        if prepared is None:
            prepared = self._flow_requests[key] = prepare(spec, self.target, self.data)
            self._label(prepared.label)
        return prepared

    def _label(self, name: str) -> _Label:
        label = self.labels.get(name)
        if label is None:
            label = self.labels[name] = _Label(name, self.recorder)
        return label

    @property
    def requests(self) -> int:
        """Requests sent so far (answered or failed), summed over request names."""
        return sum(label.requests for label in self.labels.values())

    async def reconnect(self, old: Connection) -> Connection:
        """A new connection in place of ``old`` (closed by the server)."""
        self.connections.discard(old)
        return await self._connect()

    def record_flow_request(
        self, prepared: Prepared, started: float, status: int, error: str | None
    ) -> None:
        self._record(prepared, started, status, None, error, judge=False)

    # -- measurement ------------------------------------------------------------------
    def _record(
        self,
        prepared: Prepared,
        start: float,
        status: int,
        body: bytes | None,
        error: str | None,
        *,
        judge: bool = True,
    ) -> None:
        label = self.labels[prepared.label]
        label.requests += 1
        if error is not None:
            label.errors += 1
            self.errors[error] += 1
            return
        label.buf.append(int((time.perf_counter() - start) * 1e6))
        self.statuses[status] += 1
        failure = self._judge(prepared.spec, status, body) if judge else _status_error(status)
        if failure is not None:
            label.errors += 1
            self.errors[failure] += 1

    def _judge(self, spec: RequestSpec, status: int, body: bytes | None) -> str | None:
        check = spec.check
        if check is None:
            return _status_error(status)
        if check.status and status not in check.status:
            self.checks_failed += 1
            return "check" if status < 400 else f"status_{status // 100}xx"
        if not check.status and status >= 400:
            self.checks_failed += 1
            return f"status_{status // 100}xx"
        if check.contains is not None and check.contains.encode() not in (body or b""):
            self.checks_failed += 1
            return "check"
        if check.json_path is not None:
            import json

            try:
                value = json_at(json.loads(body or b""), check.json_path)
            except (ValueError, KeyError, IndexError, TypeError):
                self.checks_failed += 1
                return "check"
            if check.equals is not None and value != check.equals:
                self.checks_failed += 1
                return "check"
        self.checks_passed += 1
        return None

    def _next_request(self) -> Prepared:
        picks = self._picks
        self._pick_index += 1
        return picks[self._pick_index % len(picks)]

    async def _connect(self) -> Connection:
        # At most _CONNECTING handshakes at once: ten thousand SYNs together overflow the
        # server's accept queue, and the dropped ones wait a whole second to be resent.
        async with self._connecting:
            return await self._connect_now()

    async def _connect_now(self) -> Connection:
        conn = await connect(
            self.target.host,
            self.target.port,
            self.stats,
            tls=self.tls,
            timeout=self.spec.timeout,
            on_lost=self.connections.discard,
            kind=self._kind,
        )
        self.connections.add(conn)
        return conn

    # -- housekeeping -----------------------------------------------------------------
    async def _sweeper(self) -> None:
        while True:
            await asyncio.sleep(_SWEEP)
            now = time.perf_counter()
            for conn in list(self.connections):
                if conn.done is not None and conn.deadline < now:
                    conn.expire()

    async def _lag_probe(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0.1)
            fut: asyncio.Future[float] = loop.create_future()
            sent = time.perf_counter()
            loop.call_soon(_resolve_now, fut)
            self._lags.append(await fut - sent)

    async def _interval_ticker(self) -> None:
        """Flush each whole second of the schedule; the last one (with the drain after
        it) is flushed when the run ends, so a 3 s run has 3 rows."""
        second = 1
        while second < self.spec.executor.total_duration - 1e-3:
            await asyncio.sleep(max(0.0, self.t0 + second - time.perf_counter()))
            self._flush_interval()
            second += 1

    def _flush_interval(self, *, final: bool = False) -> None:
        now = time.perf_counter()
        span = now - self._interval_t
        if span <= 0 or (final and span < 0.001 and self._intervals):
            return
        cpu_now = time.process_time()
        cpu = (cpu_now - self._cpu0) / span
        wait_now = _run_queue_wait()
        waiting = (wait_now - self._wait0) / span
        self._cpu0, self._wait0, self._interval_t = cpu_now, wait_now, now
        lags, self._lags = sorted(self._lags), []
        # The 90th percentile: a median of ten samples a second misses the bursts.
        lag = lags[len(lags) * 9 // 10] if lags else 0.0
        late_list = sorted(self._late)
        del self._late[:]
        late = late_list[len(late_list) // 2] if late_list else 0.0
        encoded = self.recorder.flush()
        interval = Interval(
            start=round(now - span - self.t0, 3),
            duration=round(span, 3),
            requests=self.requests - self._last_requests,
            errors=sum(self.errors.values()) - self._last_errors,
            dropped=self.dropped - self._last_dropped,
            histograms=encoded,
            cpu=round(cpu, 3),
            lag_ms=round(lag * 1000, 3),
            late_ms=round(late * 1000, 3),
            waiting=round(waiting, 3),
        )
        self._last_requests = self.requests
        self._last_errors = sum(self.errors.values())
        self._last_dropped = self.dropped
        self._intervals.append(interval)
        if self.on_interval is not None:
            self.on_interval(interval)

    async def _drain(self) -> None:
        """Let in-flight and queued iterations finish for up to ``graceful_stop``; then
        what is in flight is aborted (``interrupted``) and what never started is dropped."""
        if self._busy():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poll_idle(), self.spec.graceful_stop)
        queue = getattr(self, "queue", None)
        if queue:
            self.dropped += len(queue)
            queue.clear()
        for conn in list(self.connections):
            if conn.done is not None:
                conn.expire("interrupted")
        for _ in range(3):  # let the aborted connections report
            await asyncio.sleep(0)
        tasks = [*getattr(self, "vus", []), *self._flows]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _busy(self) -> bool:
        return self.in_flight > 0 or bool(getattr(self, "queue", None))

    async def _poll_idle(self) -> None:
        while self._busy():
            await asyncio.sleep(0.005)

    def _close_all(self) -> None:
        for conn in list(self.connections):
            conn.abort() if conn.done is not None else conn.close()

    def _part(self) -> Part:
        return Part(
            part=self.part,
            started_at=self.wall0,
            duration_s=round(time.perf_counter() - self.t0, 6),
            requests=self.requests,
            iterations=self.iterations,
            dropped=self.dropped,
            errors=dict(self.errors),
            iteration_errors=dict(self.iteration_errors),
            statuses={str(k): v for k, v in self.statuses.items()},
            checks_passed=self.checks_passed,
            checks_failed=self.checks_failed,
            bytes_sent=self.stats.sent,
            bytes_received=self.stats.received,
            by_request={
                name: {"requests": lab.requests, "errors": lab.errors}
                for name, lab in self.labels.items()
            },
            intervals=self._intervals,
        )


class _Looping(Connection):
    """A closed-model VU's connection for plain requests (no body checks, no think time):
    each response is recorded and the next request written in this one callback, the
    way wrk does it; errors and the end of the loop go through the general path. Until
    :meth:`start_loop` (and in the open model) it is a plain :class:`Connection`."""

    looping = False

    def start_loop(
        self,
        engine: Engine,
        prepared: Prepared,
        started: float,
        number: int,
        finished: asyncio.Future[None],
    ) -> None:
        self.looping = True
        self.engine = engine
        self.number = number
        self.finished = finished
        self.ramping = engine.spec.executor.kind == "ramping-vus"
        self.timeout = engine.spec.timeout
        # One request that never changes: write the same bytes every time.
        self.fixed = engine.fixed_request
        self.label = engine.labels[prepared.label]
        self.t0 = started
        self.vu = (prepared, started)
        self.send(prepared.build(), self._stop_on_error, started + engine.spec.timeout)

    def on_message_complete(self) -> None:
        if not self.looping:
            super().on_message_complete()
            return
        if self.done is None:
            return
        now = time.perf_counter()
        engine = self.engine
        status: int = self.parser.get_status_code()
        label = self.label
        label.requests += 1
        label.buf.append(int((now - self.t0) * 1e6))
        statuses = engine.statuses
        statuses[status] = statuses.get(status, 0) + 1
        if status >= 400:
            label.errors += 1
            engine.errors[f"status_{status // 100}xx"] += 1
        if (
            now < engine._stop_at  # stop() and the schedule's end both lower it
            and (not self.ramping or self.number < engine._active_vus)
            and self.parser.should_keep_alive()
        ):
            engine.iterations += 1
            data = self.fixed
            if data is None:  # several requests, or templated ones
                nxt = engine._next_request()
                self.label = engine.labels[nxt.label]
                data = nxt.build()
            self.t0 = now
            self.deadline = now + self.timeout
            self.stats.sent += len(data)
            self.transport.write(data)  # type: ignore[union-attr]
            return
        self.done = None
        self.looping = False
        engine.in_flight -= 1
        if not self.parser.should_keep_alive():
            self.close()
        if not self.finished.done():
            self.finished.set_result(None)

    def _stop_on_error(
        self,
        conn: Connection,
        status: int,
        headers: list[tuple[bytes, bytes]] | None,
        body: bytes | None,
        error: str | None,
    ) -> None:
        # Only errors arrive here (responses are handled above): count one, end the loop.
        engine, label = self.engine, self.label
        self.looping = False
        label.requests += 1
        label.errors += 1
        engine.errors[error or "other"] += 1
        engine.in_flight -= 1
        if not self.finished.done():
            self.finished.set_result(None)


def _resolve_now(future: asyncio.Future[float]) -> None:
    if not future.done():
        future.set_result(time.perf_counter())


def _status_error(status: int) -> str | None:
    return None if status < 400 else f"status_{status // 100}xx"


def _weighted_cycle(prepared: list[Prepared]) -> list[Prepared]:
    """A shuffled cycle in which each request appears in proportion to its weight."""
    if len(prepared) == 1:
        return prepared
    total = sum(max(p.spec.weight, 0.0) for p in prepared) or 1.0
    cycle: list[Prepared] = []
    for p in prepared:
        cycle += [p] * max(1, round(1000 * max(p.spec.weight, 0.0) / total))
    random.Random(1).shuffle(cycle)
    return cycle


def _run_queue_wait() -> float:
    """Seconds this thread has spent ready to run but waiting for a CPU (Linux's
    ``/proc/thread-self/schedstat``, second field, nanoseconds); 0 where there is none."""
    try:
        with open("/proc/thread-self/schedstat", "rb") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0
