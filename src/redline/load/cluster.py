# distributed's API is only partly annotated: calling its unannotated methods is the point here.
# mypy: disallow-untyped-calls=False
"""Running a load test on a Dask cluster: one share of the spec per Dask worker.

:class:`ClusterRun` is :class:`~redline.load.runner.LoadRun` with machines instead
of processes. It connects to the scheduler at ``address``, splits the spec into one
share per worker (rates, VUs and connections divided), pins one task per worker so
the shares run side by side from the same instant, and merges the parts exactly.
Each task runs :func:`~redline.load.runner.run_in_process` on a new event loop in
its worker thread.

- **Progress**: every task puts its intervals on one ``distributed.Queue`` that the
  coordinator drains into ``on_interval``. A queue rather than Pub/Sub: it goes
  through the scheduler (workers need not reach this machine) and keeps what was
  put until it is read; Pub/Sub raced and could drop messages, and ``distributed``
  removed it in 2025 (dask/distributed#8724, #9039).
- **Stop**: :meth:`ClusterRun.stop` only sets a flag (it is called from a signal
  handler); the coordinator then sets a ``distributed.Event`` that a relay thread in
  each task polls, and the shares end their schedules keeping their results.
- **Mistakes first**: the spec is checked on every worker before any traffic (a flow
  module or data file this machine has may be missing there): one UsageError.
- **Lost workers**: a task that fails, or whose worker leaves the cluster mid-run,
  is reported in ``lost`` and the other workers' results still count.

>>> result = ClusterRun(spec, "tcp://10.0.0.5:8786").run()  # doctest: +SKIP
>>> result.summary()["workers"]                              # doctest: +SKIP
8
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import distributed

from redline._errors import UsageError
from redline.load.results import Interval, LoadResult, Part
from redline.load.runner import preflight, run_in_process
from redline.load.spec import LoadSpec

__all__ = ["ClusterRun", "connect"]

_START_DELAY = 0.5  # seconds for every task to reach its worker before the common start
_POLL = 0.1  # how often the coordinator looks for progress and lost workers
_STOP_POLL = 0.25  # how often each task asks the scheduler whether to stop
_HINT = (
    "start one with `dask scheduler` (and workers with `dask worker ADDRESS`), "
    "or check the address and that this machine can reach it"
)


class _Client(distributed.Client):
    """A client that closes itself when it cannot connect.

    A ``Client`` whose constructor failed is still alive; when it is collected later its
    ``__del__`` blocks for twice the timeout and prints an ignored exception.
    """

    def start(self, **kwargs: Any) -> None:
        try:
            super().start(**kwargs)
        except BaseException:
            with contextlib.suppress(Exception):
                self.close(timeout=1)
            raise


def connect(address: str, *, timeout: float = 5.0) -> distributed.Client:
    """A client of the Dask scheduler at ``address``; a :class:`UsageError` if there is none.

    >>> client = connect("tcp://127.0.0.1:8786")  # doctest: +SKIP
    """
    if "://" not in address:
        address = f"tcp://{address}"
    scheme, _, location = address.partition("://")
    if scheme in ("tcp", "tls"):
        # Dask retries a refused connection until its timeout; a plain TCP connect
        # tells "nothing listens" (or "no such host") at once, and says which.
        host, _, port = location.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
                pass
        except ValueError:
            raise UsageError(
                f"{address!r} is not a Dask scheduler address", hint="write it like tcp://HOST:8786"
            ) from None
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise UsageError(f"no Dask scheduler at {address}: {reason}", hint=_HINT) from None
    try:
        return _Client(address, timeout=timeout, set_as_default=False)
    except Exception as exc:  # a peer that is not a scheduler fails in many ways
        reason = str(exc) or type(exc).__name__
        raise UsageError(f"no Dask scheduler at {address}: {reason}", hint=_HINT) from None


class ClusterRun:
    """One load test on a Dask cluster; :meth:`stop` may be called from a signal handler.

    ``parts`` is how many shares to run (default: one per worker); a worker with several
    threads may take several. ``timeout`` bounds connecting and asking the cluster.
    """

    def __init__(
        self,
        spec: LoadSpec,
        address: str,
        *,
        on_interval: Callable[[int, Interval], None] | None = None,
        parts: int | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.spec = spec
        self.address = address
        self.on_interval = on_interval
        self.parts = parts
        self.timeout = timeout
        self.stopped = False

    def stop(self) -> None:
        """End every share's schedule; in-flight requests finish and results are kept."""
        self.stopped = True  # only a flag: the coordinator's loop tells the workers

    def run(self) -> LoadResult:
        """Run the spec on the cluster and return the merged result."""
        client = connect(self.address, timeout=self.timeout)
        try:
            return self._run(client)
        finally:
            client.close()

    # -- the coordinator --------------------------------------------------------------
    def _run(self, client: distributed.Client) -> LoadResult:
        slots = self._slots(client)
        offsets = self._prepare(client, sorted(set(slots)))
        token = uuid.uuid4().hex[:12]
        progress = distributed.Queue(f"redline-load-progress-{token}", client=client)
        stop = distributed.Event(f"redline-load-stop-{token}", client=client)
        start_at = time.time() + _START_DELAY + 0.05 * len(slots)
        futures = [
            client.submit(
                _run_share,
                self.spec.share(i, len(slots)),
                i,
                start_at + offsets[address],  # on the worker's clock
                progress.name,
                stop.name,
                key=f"redline-load-{token}-{i}",
                workers=[address],
                allow_other_workers=False,
                pure=False,
            )
            for i, address in enumerate(slots)
        ]
        news = threading.Event()  # wakes the coordinator early when a task ends
        for future in futures:
            future.add_done_callback(lambda _: news.set())
        parts: dict[int, Part] = {}
        lost: dict[int, str] = {}
        stop_sent = False
        try:
            while len(parts) + len(lost) < len(futures):
                if self.stopped and not stop_sent:
                    stop.set()
                    stop_sent = True
                news.wait(_POLL)
                news.clear()  # a task finishing from here on sets it again
                self._drain(progress)
                self._collect(client, futures, slots, parts, lost)
            self._drain(progress)
        finally:
            unfinished = [f for i, f in enumerate(futures) if i not in parts and i not in lost]
            if unfinished:  # interrupted: a cancelled task would keep sending
                with contextlib.suppress(Exception):
                    stop.set()
                    client.cancel(unfinished)
            with contextlib.suppress(Exception):
                progress.close()
                stop.clear()  # forgets the event on the scheduler
        return LoadResult(
            list(parts.values()),
            name=self.spec.name,
            target=self.spec.target,
            lost=[lost[i] for i in sorted(lost)],
            interrupted=self.stopped,
        )

    def _slots(self, client: distributed.Client) -> list[str]:
        """The worker address of each share: one per worker, threads taken in turn."""
        threads: dict[str, int] = dict(client.nthreads())  # every worker, however many
        if not threads:
            raise UsageError(
                f"the Dask scheduler at {self.address} has no workers",
                hint="start some with `dask worker SCHEDULER_ADDRESS`",
            )
        slots = [a for k in range(max(threads.values())) for a in sorted(threads) if threads[a] > k]
        parts = len(threads) if self.parts is None else self.parts
        if not 1 <= parts <= len(slots):
            raise UsageError(
                f"cannot run {parts} part(s) side by side on {len(threads)} Dask worker(s) "
                f"with {len(slots)} thread(s) in all",
                hint="ask for at most one part per worker thread, or add workers",
            )
        return slots[:parts]

    def _prepare(self, client: distributed.Client, workers: list[str]) -> dict[str, float]:
        """Check the spec where it will run, import the engine there (before the start is
        set, not after), then measure each worker's clock against ours, so the shares
        start together even on machines whose clocks disagree."""
        try:
            problems = client.run(_warm_up, self.spec, workers=workers)
        except Exception as exc:
            raise UsageError(
                f"the Dask workers at {self.address} cannot run redline: "
                f"{type(exc).__name__}: {exc}",
                hint="install redline (this version) in every worker's environment",
            ) from None
        for address in workers:
            if problems[address] is not None:
                message, hint = problems[address]
                raise UsageError(f"{message} (on the Dask worker at {address})", hint=hint)
        before = time.time()
        clocks: dict[str, float] = client.run(time.time, workers=workers)
        middle = (before + time.time()) / 2
        return {address: clocks[address] - middle for address in workers}

    def _drain(self, progress: distributed.Queue) -> None:
        """Hand every interval the tasks have sent to ``on_interval``."""
        for message in progress.get(batch=True):
            if self.on_interval is not None:
                self.on_interval(message["part"], Interval(**message["interval"]))

    def _collect(
        self,
        client: distributed.Client,
        futures: list[distributed.Future[Any]],
        slots: list[str],
        parts: dict[int, Part],
        lost: dict[int, str],
    ) -> None:
        """File finished tasks under ``parts``, and failed or orphaned ones under ``lost``."""
        alive = set(client.nthreads())
        for i, future in enumerate(futures):
            if i in parts or i in lost:
                continue
            where = f"worker {i} ({slots[i]})"
            if future.status == "finished":
                try:
                    parts[i] = Part.from_dict(future.result(timeout=self.timeout))
                except Exception as exc:  # its worker died holding the result
                    lost[i] = f"{where}: its result was lost ({type(exc).__name__}: {exc})"
            elif future.status == "error":
                error = future.exception(timeout=self.timeout)
                lost[i] = f"{where} failed: {type(error).__name__}: {error}"
            elif future.status == "cancelled":
                lost[i] = f"{where}: its task was cancelled on the scheduler"
            elif slots[i] not in alive:
                # A pinned task whose worker died would wait for it for ever.
                future.cancel()
                lost[i] = f"{where} left the cluster mid-run (its process died or was killed)"


# -- on the workers -------------------------------------------------------------------
def _warm_up(spec: LoadSpec) -> tuple[str, str | None] | None:
    """The spec's mistake as this worker sees it (its flow modules, its data files), as
    the UsageError's message and hint, which would not survive pickling."""
    import redline.load.engine  # noqa: F401

    try:
        preflight(spec)
    except UsageError as exc:
        return exc.message, exc.hint
    return None


def _run_share(
    share: LoadSpec, index: int, start_at: float, progress_name: str, stop_name: str
) -> dict[str, Any]:
    """One Dask task: run one share in this worker thread; return its part as a dict."""
    client = distributed.get_client()
    progress = distributed.Queue(progress_name, client=client)
    stop = distributed.Event(stop_name, client=client)
    outbox: queue.SimpleQueue[Interval | None] = queue.SimpleQueue()
    stopping = threading.Event()
    # Scheduler round trips stay off the engine's event loop (they would count as its lag).
    relay = threading.Thread(
        target=_relay,
        args=(index, outbox, progress, stop, stopping),
        name=f"redline-load-relay-{index}",
        daemon=True,
    )
    relay.start()
    try:
        part = run_in_process(
            share,
            part=index,
            start_at=start_at,
            on_interval=outbox.put,
            should_stop=stopping.is_set,
        )
    finally:
        outbox.put(None)
        relay.join()
        progress.close()
    return part.to_dict()


def _relay(
    index: int,
    outbox: queue.SimpleQueue[Interval | None],
    progress: distributed.Queue,
    stop: distributed.Event,
    stopping: threading.Event,
) -> None:
    """Forward this task's intervals to the coordinator and its stop to the engine."""
    while True:
        try:
            interval = outbox.get(timeout=_STOP_POLL)
        except queue.Empty:
            pass
        else:
            if interval is None:
                return
            progress.put({"part": index, "interval": asdict(interval)})
        if not stopping.is_set() and stop.is_set():
            stopping.set()
