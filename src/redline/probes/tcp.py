"""The ``tcp`` probe: connect, optionally send bytes and expect a reply.

>>> probe = TcpProbe(TcpCheck(host="127.0.0.1", port=6379, send="PING\\r\\n", expect="PONG"), 5.0)
>>> await probe.check()                                        # doctest: +SKIP
Measurement(outcome='ok', ..., phases={'dns': 0.0, 'connect': 0.00012, 'first_byte': 0.0001})

It also holds what the HTTP probe builds on: :func:`open_connection` (resolve, then
connect to each address in turn, timing both and turning failures into one-line
reasons), :func:`probe_budget` and :func:`excerpt`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from redline.probes.base import Measurement, error, fail, ok, with_phases
from redline.redact import REDACTOR

if TYPE_CHECKING:
    from redline.config.schema import TcpCheck

__all__ = [
    "Connection",
    "ConnectionFailed",
    "Progress",
    "TcpProbe",
    "excerpt",
    "open_connection",
    "probe_budget",
    "stalled_reason",
    "within",
]

# What `expect` reads at most before giving up on finding the text.
_EXPECT_CAP = 64 * 1024


def probe_budget(timeout: float) -> float:
    """Seconds a probe gives itself: a little under run_check's ``timeout``.

    Ending on its own deadline lets a probe say what it was waiting for ("connected, but
    no reply") instead of run_check's bare "no answer"; run_check's timeout stays the
    backstop.
    """
    return max(timeout - min(0.05, timeout * 0.1), 0.0)


def excerpt(data: bytes, limit: int = 80) -> str:
    """A short, printable, secret-free rendering of bytes a peer sent."""
    text = data[:limit].decode("utf-8", "replace")
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    if len(data) > limit:
        shown += "..."
    return REDACTOR.scrub(shown)


@dataclass
class Progress:
    """Where an attempt got to (for the reason when it stalls) and the phases it timed."""

    stage: str = "dns"
    phases: dict[str, float] = field(default_factory=dict)

    def add(self, phase: str, seconds: float) -> None:
        self.phases[phase] = self.phases.get(phase, 0.0) + seconds


class ConnectionFailed(Exception):
    """Could not open the connection; the message is the one-line reason."""


@dataclass
class Connection:
    """An open TCP stream and the address it reached (``ip:port``)."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    address: str

    def abort(self) -> None:
        # A probe never needs a graceful close; abort frees the socket now, even mid-TLS.
        self.writer.transport.abort()


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def _resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConnectionFailed(f"DNS: cannot resolve '{host}' ({exc.strerror})") from None
    seen: dict[str, None] = {}
    for *_, sockaddr in infos:
        seen.setdefault(str(sockaddr[0]), None)
    return list(seen)


def _connect_reason(address: str, exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return (
            f"connection refused by {address} (is the service running and listening on that port?)"
        )
    return f"cannot connect to {address}: {exc.strerror or exc}"


async def open_connection(
    host: str, port: int, progress: Progress, *, limit: int = 2**16
) -> Connection:
    """Resolve ``host`` and connect to its addresses in turn; phases ``dns`` and ``connect``.

    Raises :class:`ConnectionFailed` with a one-line reason when no address connects.
    """
    clock = time.perf_counter
    progress.stage = "dns"
    if _is_ip(host):
        addresses, resolved = [host], clock()
        progress.add("dns", 0.0)  # nothing to look up
    else:
        start = clock()
        addresses = await _resolve(host, port)
        resolved = clock()
        progress.add("dns", resolved - start)
    progress.stage = "connect"
    failure: OSError | None = None
    address = _hostport(host, port)
    for ip in addresses:
        address = _hostport(ip, port)
        try:
            reader, writer = await asyncio.open_connection(ip, port, limit=limit)
        except OSError as exc:
            if isinstance(exc, TimeoutError) and exc.errno is None:
                raise
            failure = exc
            continue
        progress.add("connect", clock() - resolved)
        return Connection(reader, writer, address)
    progress.add("connect", clock() - resolved)
    assert failure is not None
    raise ConnectionFailed(_connect_reason(address, failure))


def within(timeout: float) -> str:
    """``within 5s``: the check's timeout as the user wrote it."""
    from redline.units import format_duration

    return f"within {format_duration(timeout)}"


def stalled_reason(progress: Progress, host: str, port: int, timeout: float) -> str:
    """Why an attempt ran out of time (``timeout`` seconds), from where it got to."""
    limit = within(timeout)
    target = _hostport(host, port)
    return {
        "dns": f"DNS: no answer for '{host}' {limit}",
        "connect": f"no TCP connection to {target} {limit} (filtered or unreachable?)",
        "tls": f"TLS handshake with {target} did not finish {limit}",
    }.get(progress.stage, f"{progress.stage}: no progress {limit}")


class TcpProbe:
    """Connects to ``host:port``; with ``send``/``expect``, talks and checks the reply."""

    protocol: ClassVar[str] = "tcp"

    def __init__(self, spec: TcpCheck, timeout: float) -> None:
        self.spec = spec
        self.timeout = timeout

    async def check(self) -> Measurement:
        spec = self.spec
        progress = Progress()
        budget = probe_budget(self.timeout)
        deadline = asyncio.timeout(budget)
        received = bytearray()
        try:
            async with deadline:
                conn = await open_connection(spec.host, spec.port, progress)
                try:
                    result = await self._talk(conn, progress, received)
                finally:
                    conn.abort()
        except ConnectionFailed as exc:
            return with_phases(error(str(exc)), **progress.phases)
        except TimeoutError:
            if not deadline.expired():
                raise
            return with_phases(self._out_of_time(progress, received), **progress.phases)
        return with_phases(result, **progress.phases)

    async def _talk(self, conn: Connection, progress: Progress, received: bytearray) -> Measurement:
        spec = self.spec
        facts: dict[str, Any] = {"address": conn.address}
        if spec.send is not None:
            progress.stage = "send"
            payload = spec.send.encode()
            conn.writer.write(payload)
            await conn.writer.drain()
            facts["bytes_sent"] = len(payload)
        if spec.expect is None:
            return ok(**facts)
        progress.stage = "expect"
        wanted = spec.expect.encode()
        sent = time.perf_counter()
        while wanted not in received:
            if len(received) >= _EXPECT_CAP:
                return fail(
                    f"expected {spec.expect!r} in the first {_EXPECT_CAP // 1024} KiB of the "
                    f"reply, got '{excerpt(bytes(received))}'",
                    **facts,
                    bytes_received=len(received),
                )
            try:
                chunk = await conn.reader.read(_EXPECT_CAP - len(received))
                ended = "closed"
            except ConnectionResetError:
                chunk, ended = b"", "reset"
            if not received and chunk:
                progress.add("first_byte", time.perf_counter() - sent)
            if not chunk:
                if not received and ended == "reset":
                    return error(f"{conn.address} reset the connection without replying", **facts)
                got = f"got '{excerpt(bytes(received))}'" if received else "got nothing"
                return fail(
                    f"the server {ended} the connection; expected {spec.expect!r}, {got}",
                    **facts,
                    bytes_received=len(received),
                )
            received += chunk
        return ok(**facts, bytes_received=len(received))

    def _out_of_time(self, progress: Progress, received: bytearray) -> Measurement:
        spec = self.spec
        if progress.stage != "expect":
            return error(stalled_reason(progress, spec.host, spec.port, self.timeout))
        limit = within(self.timeout)
        if received:
            return fail(
                f"expected {spec.expect!r} {limit}, got '{excerpt(bytes(received))}'",
                bytes_received=len(received),
            )
        sent = f"sent {len(spec.send.encode())} bytes, but " if spec.send else ""
        return error(f"connected, {sent}no reply {limit}", bytes_received=0)
