"""The ``command`` probe: run a shell command, judge its exit code and output.

>>> probe = CommandProbe(CommandCheck(run="pg_isready -q", exit_code=0), 30.0)
>>> (await probe.check()).outcome                               # doctest: +SKIP
'ok'

The command runs through ``/bin/sh`` in a process group of its own, with stdin closed.
A check leaves nothing behind: when the command exits, times out or is cancelled, its
whole group gets SIGTERM, then SIGKILL a moment later, so ``sleep 1000 &`` children die
with it. Output is drained as it comes; the first and last 32 KiB of each stream are kept.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from redline.probes.base import Measurement, error, fail, ok, with_phases
from redline.probes.tcp import excerpt, probe_budget, within
from redline.redact import REDACTOR

if TYPE_CHECKING:
    from redline.config.schema import CommandCheck

__all__ = ["CommandProbe"]

_KEEP = 32 * 1024  # per stream, at each end
# How long the group has to exit on SIGTERM before SIGKILL: short enough that a check
# still ends within its timeout plus 100 ms.
_GRACE = 0.05
_TAIL_CHARS = 1000


@dataclass
class _Capture:
    """One output stream: all of it counted, its first and last ``_KEEP`` bytes kept."""

    head: bytearray = field(default_factory=bytearray)
    tail: bytearray = field(default_factory=bytearray)
    total: int = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        if len(self.head) < _KEEP:
            self.head += chunk[: _KEEP - len(self.head)]
        self.tail += chunk
        if len(self.tail) > 2 * _KEEP:
            del self.tail[:-_KEEP]

    def texts(self) -> list[str]:
        """The kept parts as text (one part when they overlap)."""
        if self.total <= _KEEP:
            return [bytes(self.head).decode("utf-8", "replace")]
        return [bytes(p).decode("utf-8", "replace") for p in (self.head, self.tail[-_KEEP:])]

    def last(self, chars: int = _TAIL_CHARS) -> str:
        text = bytes(self.tail[-chars * 4 :]).decode("utf-8", "replace")[-chars:]
        return REDACTOR.scrub(text)

    def last_line(self) -> str:
        lines = [line for line in self.last().splitlines() if line.strip()]
        return excerpt(lines[-1].encode(), 120) if lines else ""


class _Collector(asyncio.SubprocessProtocol):
    """Keeps the output and says when the shell exited and when everything closed.

    ``asyncio.subprocess.Process.wait()`` returns only once the pipes close too, which a
    ``sleep 1000 &`` child holding them delays forever; this protocol tells the two apart.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.out = _Capture()
        self.err = _Capture()
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        chunk = data.encode() if isinstance(data, str) else data
        (self.out if fd == 1 else self.err).add(chunk)

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


def _signal_group(pgid: int, signum: signal.Signals) -> bool:
    """Send ``signum`` to the group; False when no process is left in it."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        # Only when the group is gone and its id reused by someone else's session.
        return False
    return True


class CommandProbe:
    """Runs ``spec.run`` through the shell and checks its exit code and output."""

    protocol: ClassVar[str] = "command"

    def __init__(self, spec: CommandCheck, timeout: float) -> None:
        self.spec = spec
        self.timeout = timeout

    async def check(self) -> Measurement:
        spec = self.spec
        if spec.cwd is not None and not os.path.isdir(spec.cwd):
            return error(f"cwd '{spec.cwd}' is not a directory (relative to {os.getcwd()})")
        start = time.perf_counter()
        try:
            transport, collector = await _spawn(spec.run, spec.cwd)
        except OSError as exc:
            return error(f"cannot start the command: {exc.strerror or exc}")
        # Stop early enough that the SIGTERM grace still ends inside run_check's timeout.
        deadline = asyncio.timeout(max(probe_budget(self.timeout) - _GRACE, 0.0))
        try:
            async with deadline:
                await asyncio.shield(collector.exited)
        except TimeoutError:
            if not deadline.expired():
                raise
        finally:
            await _end_group(transport, collector)
        total = time.perf_counter() - start
        out, err = collector.out, collector.err
        if deadline.expired():
            measurement = error(
                f"the command was still running {within(self.timeout)}; "
                "killed it and its process group",
                **_facts(None, out, err),
            )
        else:
            measurement = self._judge(transport.get_returncode(), out, err)
        return with_phases(measurement, total=total)

    def _judge(self, code: int | None, out: _Capture, err: _Capture) -> Measurement:
        spec = self.spec
        facts = _facts(code, out, err)
        problems: list[str] = []
        if code != spec.exit_code:
            said = err.last_line() or out.last_line()
            what = _exit_text(code)
            problems.append(f"{what}, expected {spec.exit_code}" + (f": {said}" if said else ""))
        if spec.contains is not None and not any(
            spec.contains in text for capture in (out, err) for text in capture.texts()
        ):
            shown = out.last(80) or err.last(80)
            ends = f"; it ends '{excerpt(shown.encode())}'" if shown else "; it printed nothing"
            problems.append(f"output does not contain {spec.contains!r}{ends}")
        if not problems:
            return ok(**facts)
        if len(problems) > 1:
            facts["problems"] = problems
            return fail(f"{problems[0]} (and {len(problems) - 1} more)", **facts)
        return fail(problems[0], **facts)


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _facts(code: int | None, out: _Capture, err: _Capture) -> dict[str, Any]:
    return {
        "exit_code": code,
        "stdout_tail": out.last(),
        "stderr_tail": err.last(),
        "stdout_bytes": out.total,
        "stderr_bytes": err.total,
    }


async def _spawn(command: str, cwd: str | None) -> tuple[asyncio.SubprocessTransport, _Collector]:
    loop = asyncio.get_running_loop()
    spawn = asyncio.ensure_future(
        loop.subprocess_shell(
            lambda: _Collector(loop),
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            start_new_session=True,
        )
    )
    try:
        return await asyncio.shield(spawn)
    except asyncio.CancelledError:
        # Cancelled while starting: let the start finish (a moment), then kill what it
        # started. Cancelling the start itself would wait for pipes a child may hold.
        await asyncio.wait([spawn], timeout=1.0)
        if spawn.done() and not spawn.cancelled() and spawn.exception() is None:
            await _end_group(*spawn.result())
        raise


async def _end_group(transport: asyncio.SubprocessTransport, collector: _Collector) -> None:
    """Leave nothing of the command running, collect the rest of its output, close."""
    pgid = transport.get_pid()  # start_new_session: the shell leads a group of its own id
    try:
        if _signal_group(pgid, signal.SIGTERM):
            await asyncio.wait([collector.closed], timeout=_GRACE)
    finally:
        # Runs even when cancelled mid-grace: SIGKILL whatever ignored SIGTERM.
        _signal_group(pgid, signal.SIGKILL)
    try:
        await asyncio.wait([collector.closed], timeout=1.0)
    finally:
        # Normally a no-op; it frees the pipes when a descendant that left the group
        # (setsid) still holds them.
        transport.close()
