"""HTTP/1.1 servers for the load engine's tests, each in its own process.

A server runs as ``python servers.py MODE`` (standard library only), so a test can
freeze it with SIGSTOP and thaw it with SIGCONT while the engine keeps sending, and
what the server counted is not what the engine counted. It prints ``PORT n m`` (its
port and its control port) once it listens on 127.0.0.1 (port 0) and exits when its stdin closes (the test ended, or
pytest died).

Modes:

- ``http``: keep-alive HTTP/1.1. ``GET /`` (and any other path) answers 200 with
  ``{"ok": true, "id": 7}``; ``/slow?ms=N`` answers after N ms; ``/status/NNN``
  answers NNN; ``/echo`` answers with the request's body.
- ``reset``: accepts, then resets every connection (SO_LINGER 0, abort).
- ``silent``: accepts and reads, never answers.

Every mode has a second, control listener answering ``/__stats`` (requests answered,
connections open, the most open at once, connections accepted), ``/__log`` (the
last requests: method, target, headers, body) and ``/__reset`` (zero the counts once
no connection is open); it is never counted.

The test side is :class:`Server`; a port nothing listens on is :func:`closed_port`.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import signal
import socket
import struct
import subprocess
import sys
from collections import deque
from typing import Any
from urllib.parse import parse_qs, urlsplit

MODES = ("http", "reset", "silent")
_BODY = b'{"ok": true, "id": 7}'
_LOG_SIZE = 20_000


# -- the server process ---------------------------------------------------------------
class _State:
    def __init__(self) -> None:
        self.requests = 0
        self.open = 0
        self.peak = 0
        self.accepted = 0
        self.log: deque[dict[str, Any]] = deque(maxlen=_LOG_SIZE)
        self.idle = asyncio.Event()  # no connection open
        self.idle.set()

    def opened(self) -> None:
        self.accepted += 1
        self.open += 1
        self.peak = max(self.peak, self.open)
        self.idle.clear()

    def closed(self) -> None:
        self.open -= 1
        if self.open == 0:
            self.idle.set()

    async def reset(self) -> None:
        """Forget everything counted, once the last test's connections are gone."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.idle.wait(), 2.0)
        self.requests = self.accepted = 0
        self.peak = self.open
        self.log.clear()

    def stats(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "connections": self.open,
            "peak_connections": self.peak,
            "accepted": self.accepted,
        }


class _Http(asyncio.Protocol):
    """One keep-alive connection; requests are parsed by hand so the server shares no
    code with the engine's client (httptools)."""

    def __init__(self, state: _State, *, control: bool = False) -> None:
        self.state = state
        self.control = control  # the stats listener: its connections are not counted
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if not self.control:
            self.state.opened()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.control:
            self.state.closed()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
            method, target, _version = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.buf) < end + 4 + length:
                return
            body = bytes(self.buf[end + 4 : end + 4 + length])
            del self.buf[: end + 4 + length]
            self.handle(method, target, headers, body)

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        url = urlsplit(target)
        close = headers.get("connection", "").lower() == "close"
        if self.control:
            if url.path == "/__stats":
                document: Any = self.state.stats()
            elif url.path == "/__log":
                document = list(self.state.log)
            elif url.path == "/__reset":
                asyncio.get_running_loop().create_task(self.reset(close))
                return
            else:
                self.respond(404, b"{}", close, count=False)
                return
            self.respond(200, json.dumps(document).encode(), close, count=False)
            return
        self.state.log.append(
            {
                "method": method,
                "target": target,
                "headers": headers,
                "body": body.decode("utf-8", "replace"),
            }
        )
        if url.path == "/slow":
            ms = float(parse_qs(url.query).get("ms", ["100"])[0])
            asyncio.get_running_loop().call_later(ms / 1000, self.respond, 200, _BODY, close)
        elif url.path.startswith("/status/"):
            self.respond(int(url.path.rsplit("/", 1)[1]), _BODY, close)
        elif url.path == "/echo":
            self.respond(200, body, close)
        else:
            self.respond(200, _BODY, close)

    async def reset(self, close: bool) -> None:
        await self.state.reset()
        self.respond(200, json.dumps(self.state.stats()).encode(), close, count=False)

    def respond(self, status: int, body: bytes, close: bool, *, count: bool = True) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        head = (
            f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n" + ("Connection: close\r\n" if close else "") + "\r\n"
        )
        self.transport.write(head.encode() + body)
        if count:
            self.state.requests += 1
        if close:
            self.transport.close()


class _Reset(asyncio.Protocol):
    def __init__(self, state: _State) -> None:
        self.state = state

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.state.opened()
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.state.closed()


class _Silent(asyncio.Protocol):
    def __init__(self, state: _State) -> None:
        self.state = state

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.state.opened()

    def connection_lost(self, exc: Exception | None) -> None:
        self.state.closed()


async def _serve(mode: str) -> None:
    loop = asyncio.get_running_loop()
    state = _State()
    protocol = {"http": _Http, "reset": _Reset, "silent": _Silent}[mode]
    # A deep backlog: while the server is frozen, the engine's new connections wait in
    # the kernel instead of having their SYNs dropped (a 1 s retransmit would skew them).
    server = await loop.create_server(lambda: protocol(state), "127.0.0.1", 0, backlog=4096)
    # Stats and the log come from a second listener, so asking never shows in them.
    control = await loop.create_server(lambda: _Http(state, control=True), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    stats_port = control.sockets[0].getsockname()[1]
    gone = loop.create_future()
    loop.add_reader(sys.stdin.fileno(), _on_stdin, gone)
    sys.stdout.write(f"PORT {port} {stats_port}\n")
    sys.stdout.flush()
    await gone


def _on_stdin(gone: asyncio.Future[None]) -> None:
    if not os.read(sys.stdin.fileno(), 4096) and not gone.done():
        gone.set_result(None)


# -- the test side --------------------------------------------------------------------
class Server:
    """A server process in ``mode`` on 127.0.0.1; close it with :meth:`close`."""

    def __init__(self, mode: str = "http") -> None:
        if mode not in MODES:
            raise ValueError(f"mode {mode!r} is not one of {MODES}")
        self.mode = mode
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if not line or line[0] != b"PORT":
            self.close()
            raise RuntimeError(f"the {mode} server did not start")
        self.port, self._stats_port = int(line[1]), int(line[2])
        self.frozen = False

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.base + "/"

    def _get(self, path: str) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", self._stats_port, timeout=10)
        try:
            conn.request("GET", path)
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def stats(self) -> dict[str, int]:
        """Requests answered, connections open now, the most open at once, accepted."""
        return self._get("/__stats")  # type: ignore[no-any-return]

    @property
    def count(self) -> int:
        """Requests the server answered (its stats requests excepted)."""
        return int(self.stats()["requests"])

    def log(self) -> list[dict[str, Any]]:
        """The last requests the server saw (method, target, headers, body)."""
        return self._get("/__log")  # type: ignore[no-any-return]

    def reset(self) -> dict[str, int]:
        """Start counting afresh (for a server shared by tests): waits up to 2 s for the
        connections still open to close, then zeroes the counts and empties the log."""
        if self.frozen:
            self.thaw()
        if self.proc.poll() is not None:
            raise RuntimeError(f"the {self.mode} server exited ({self.proc.returncode})")
        return self._get("/__reset")  # type: ignore[no-any-return]

    def freeze(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)
        self.frozen = False

    def close(self) -> None:
        if self.proc.poll() is None:
            self.thaw()
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()  # the server exits when its stdin closes
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc.stdout.close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _main(mode: str) -> None:
    try:
        import uvloop
    except ImportError:  # asyncio's loop is slower to catch up after a freeze, still right
        asyncio.run(_serve(mode))
    else:
        # uvloop accepts and answers the backlog a freeze leaves behind in a few ms,
        # where asyncio's loop takes ~0.5 ms per queued connection.
        uvloop.run(_serve(mode))


if __name__ == "__main__":
    _main(sys.argv[1])
