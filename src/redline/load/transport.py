"""HTTP/1.1 keep-alive connections built for throughput: an asyncio protocol and httptools.

A :class:`Connection` sends one request at a time and calls its ``done`` callback
from inside ``data_received`` when the response is complete, so the engine can
record the latency and write the next request without a task, a future or a
trip through the event loop in between. Bodies are kept only when a check needs
them. Errors are classified once, here, into the kinds the report shows.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from collections.abc import Callable
from typing import Any

import httptools

__all__ = [
    "ERROR_KINDS",
    "BodyConnection",
    "Connection",
    "Done",
    "FullConnection",
    "classify",
    "connect",
]

# What went wrong with a request that got no (complete) response.
ERROR_KINDS = (
    "timeout",
    "refused",
    "reset",
    "tls",
    "dns",
    "unreachable",
    "protocol",
    "interrupted",
    "other",
)

# done(connection, status, headers, body, error_kind): status 0 when error_kind is set.
Done = Callable[
    ["Connection", int, "list[tuple[bytes, bytes]] | None", "bytes | None", "str | None"], None
]


def classify(exc: BaseException | None) -> str:
    """The error kind of ``exc`` (None: the peer closed the connection: ``reset``)."""
    if exc is None or isinstance(exc, ConnectionResetError | BrokenPipeError):
        return "reset"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return "tls"
    if isinstance(exc, socket.gaierror):
        return "dns"
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "unreachable"
    if isinstance(exc, OSError) and exc.errno == errno.ECONNREFUSED:
        return "refused"
    if isinstance(exc, OSError) and exc.errno in (
        errno.ECONNRESET,
        errno.EPIPE,
        errno.ECONNABORTED,
    ):
        return "reset"
    return "other"


class Stats:
    """Bytes on the wire for one engine (shared by its connections)."""

    __slots__ = ("received", "sent")

    def __init__(self) -> None:
        self.sent = 0
        self.received = 0


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; ``send`` one request, get ``done`` once."""

    def __init__(self, stats: Stats, on_lost: Callable[[Connection], None] | None = None) -> None:
        self.stats = stats
        self.on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.done: Done | None = None
        self.deadline = float("inf")
        self.closed = False
        self.fail_kind: str | None = None
        self.body: list[bytes] | None = None
        self.headers: list[tuple[bytes, bytes]] | None = None
        self.vu: Any = None  # the engine's per-connection state

    # -- asyncio.Protocol -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.stats.received += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail("protocol")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.done is not None:
            self._fail(self.fail_kind or classify(exc))
        if self.on_lost is not None:
            self.on_lost(self)

    # -- httptools callbacks ----------------------------------------------------------
    # httptools calls only the callbacks a protocol has: this class keeps neither headers
    # nor bodies (one Python call per response); the subclasses below add them.
    def on_message_complete(self) -> None:
        done = self.done
        if done is None:
            return  # an unsolicited response: ignore it
        self.done = None
        status: int = self.parser.get_status_code()
        if not self.parser.should_keep_alive():
            self.close()
        body = b"".join(self.body) if self.body is not None else None
        done(self, status, self.headers, body, None)

    # -- the engine's side ------------------------------------------------------------
    def send(
        self,
        data: bytes,
        done: Done,
        deadline: float,
        *,
        want_body: bool = False,
        want_headers: bool = False,
    ) -> None:
        """Write a request; ``done`` is called once, with the response or the error."""
        self.done = done
        self.deadline = deadline
        self.body = [] if want_body else None
        self.headers = [] if want_headers else None
        assert self.transport is not None
        self.transport.write(data)
        self.stats.sent += len(data)

    def expire(self, kind: str = "timeout") -> None:
        """End the request in flight as ``kind`` (it ran past its deadline, or the run is
        over) and drop the connection; ``done`` is called when the transport reports."""
        self.fail_kind = kind
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.abort()
        elif self.done is not None:
            self._fail(kind)

    def abort(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.abort()

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()

    def _fail(self, kind: str) -> None:
        done = self.done
        self.done = None
        self.abort()
        if done is not None:
            done(self, 0, None, None, kind)


class BodyConnection(Connection):
    """A connection that keeps response bodies (for checks that read them)."""

    def on_body(self, body: bytes) -> None:
        if self.body is not None:
            self.body.append(body)


class FullConnection(BodyConnection):
    """A connection that keeps headers and bodies (for flows)."""

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.headers is not None:
            self.headers.append((name, value))


async def connect(
    host: str,
    port: int,
    stats: Stats,
    *,
    tls: ssl.SSLContext | None = None,
    timeout: float = 10.0,
    on_lost: Callable[[Connection], None] | None = None,
    kind: type[Connection] = Connection,
) -> Connection:
    """A new connection of class ``kind``, or the exception that prevented it
    (TimeoutError on timeout)."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout):
        _, conn = await loop.create_connection(
            lambda: kind(stats, on_lost),
            host,
            port,
            ssl=tls,
            server_hostname=host if tls is not None else None,
        )
    sock = conn.transport.get_extra_info("socket") if conn.transport else None
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn
