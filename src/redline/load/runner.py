"""Running a load test on this machine: in this process, or split over worker processes.

:func:`run_load` splits the spec into ``workers`` shares (rates, VUs and
connections divided), starts one process per share so they begin at the same
instant, forwards each second's interval to ``on_interval`` for live progress, and
merges the parts exactly. :meth:`LoadRun.stop` (Ctrl-C) ends every worker's schedule
early; their in-flight requests finish and the partial results are kept. A worker
that dies is reported in ``lost_workers`` and the others' results still count.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import queue
import signal
import time
from collections.abc import Callable
from typing import Any

from redline.load.results import Interval, LoadResult, Part
from redline.load.spec import LoadSpec

__all__ = ["LoadRun", "default_workers", "preflight", "run_in_process", "run_load"]

_START_DELAY = 0.3  # seconds for worker processes to be ready before the common start


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when it is installed (faster), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def preflight(spec: LoadSpec) -> None:
    """Raise the UsageError a worker would: a bad URL, flow, data file or template.

    Checked once before any process starts, so a mistake is one clear message and
    exit 2, not one lost worker per core.
    """
    from redline.load.requests import Target, load_data, prepare
    from redline.load.spec import RequestSpec

    target = Target.parse(spec.target)
    data = load_data(spec.data_file)
    for request in spec.requests or (RequestSpec(),):
        prepare(request, target, data)
    if spec.flow is not None:
        from redline.load.flow import load_flow

        load_flow(spec.flow)


def run_in_process(
    spec: LoadSpec,
    *,
    part: int = 0,
    start_at: float | None = None,
    on_interval: Callable[[Interval], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Part:
    """Run ``spec`` on a new event loop in this thread; ``should_stop`` is polled."""
    from redline.load.engine import Engine

    _raise_open_files(spec.executor.max_connections + spec.executor.vus + 64)
    engine = Engine(spec, part=part, start_at=start_at, on_interval=on_interval)

    async def main() -> Part:
        watcher = None
        if should_stop is not None:
            watcher = asyncio.get_running_loop().create_task(_watch(engine, should_stop))
        try:
            return await engine.run()
        finally:
            if watcher is not None:
                watcher.cancel()

    loop = new_event_loop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


def _raise_open_files(wanted: int) -> None:
    """Lift this process's soft open-files limit toward ``wanted`` (one fd per connection)."""
    try:
        import resource
    except ImportError:  # not POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


async def _watch(engine: Any, should_stop: Callable[[], bool]) -> None:
    while True:
        await asyncio.sleep(0.05)
        if should_stop():
            engine.stop()
            return


class LoadRun:
    """One load test on this machine; :meth:`stop` may be called from a signal handler."""

    def __init__(
        self,
        spec: LoadSpec,
        *,
        workers: int = 1,
        on_interval: Callable[[int, Interval], None] | None = None,
    ) -> None:
        self.spec = spec
        self.workers = max(1, workers)
        self.on_interval = on_interval
        self.stopped = False
        self._event: Any = None

    def stop(self) -> None:
        self.stopped = True
        if self._event is not None:
            self._event.set()

    def run(self) -> LoadResult:
        preflight(self.spec)
        if self.workers == 1:
            part = run_in_process(
                self.spec,
                on_interval=self._forward,
                should_stop=lambda: self.stopped,
            )
            return self._result([part], [])
        return self._run_processes()

    def _forward(self, interval: Interval) -> None:
        if self.on_interval is not None:
            self.on_interval(0, interval)

    def _result(self, parts: list[Part], lost: list[str]) -> LoadResult:
        return LoadResult(
            parts,
            name=self.spec.name,
            target=self.spec.target,
            lost=lost,
            interrupted=self.stopped,
        )

    def _run_processes(self) -> LoadResult:
        ctx: Any = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
        self._event = ctx.Event()
        if self.stopped:
            self._event.set()
        messages: Any = ctx.Queue()
        start_at = time.time() + _START_DELAY + 0.05 * self.workers
        procs = [
            ctx.Process(
                target=_worker_main,
                args=(self.spec.share(i, self.workers), i, start_at, self._event, messages),
                name=f"redline-load-{i}",
                daemon=True,
            )
            for i in range(self.workers)
        ]
        # A Ctrl-C between fork and the worker's own SIG_IGN must not reach it: block SIGINT
        # while starting them (they inherit the mask), and let the parent take it after.
        blocked = hasattr(signal, "pthread_sigmask")
        if blocked:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            for proc in procs:
                proc.start()
        finally:
            if blocked:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        parts: dict[int, Part] = {}
        failed: dict[int, str] = {}
        try:
            while len(parts) + len(failed) < len(procs):
                try:
                    kind, index, payload = messages.get(timeout=0.2)
                except queue.Empty:
                    for i, proc in enumerate(procs):
                        if not proc.is_alive() and i not in parts and i not in failed:
                            # It may have sent its part just before exiting: drain first.
                            with contextlib.suppress(queue.Empty):
                                while True:
                                    self._handle(messages.get(timeout=0.2), parts, failed)
                            if i not in parts and i not in failed:
                                failed[i] = f"worker {i} exited with code {proc.exitcode}"
                    continue
                self._handle((kind, index, payload), parts, failed)
        finally:
            for proc in procs:
                proc.join(timeout=self.spec.graceful_stop + 5)
                if proc.is_alive():
                    proc.kill()
                    proc.join()
        return self._result(list(parts.values()), [failed[i] for i in sorted(failed)])

    def _handle(
        self, message: tuple[str, int, Any], parts: dict[int, Part], failed: dict[int, str]
    ) -> None:
        kind, index, payload = message
        if kind == "interval" and self.on_interval is not None:
            self.on_interval(index, Interval(**payload))
        elif kind == "part":
            parts[index] = Part.from_dict(payload)
        elif kind == "error":
            failed[index] = f"worker {index} failed: {payload}"


def _worker_main(spec: LoadSpec, index: int, start_at: float, stop: Any, messages: Any) -> None:
    # The parent decides what Ctrl-C means; a worker only follows its stop event. SIGINT
    # arrives blocked (see _run_processes): ignore it, then unblock.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        part = run_in_process(
            spec,
            part=index,
            start_at=start_at,
            on_interval=lambda i: messages.put(("interval", index, _interval_dict(i))),
            should_stop=stop.is_set,
        )
    except Exception as exc:
        messages.put(("error", index, f"{type(exc).__name__}: {exc}"))
        return
    messages.put(("part", index, part.to_dict()))


def _interval_dict(interval: Interval) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(interval)


def run_load(
    spec: LoadSpec,
    *,
    workers: int = 1,
    on_interval: Callable[[int, Interval], None] | None = None,
) -> LoadResult:
    """Run ``spec`` with ``workers`` processes and return the merged result."""
    return LoadRun(spec, workers=workers, on_interval=on_interval).run()
