"""Servers the probes are tested against: real sockets on 127.0.0.1, port 0.

Each server runs on an asyncio loop in a background thread, so the probe under test runs
on its own loop (``asyncio.run`` in the test) exactly as in production. The HTTP server
answers by path with the behaviours a probe must cope with: normal JSON, wrong status,
redirects, slow answers, no answer at all, headers then a stall, an endless body, invalid
JSON, chunked bodies, resets. HTTPS servers use a throwaway CA (``tests/probes/certs.py``);
a probe trusts it through ``SSL_CERT_FILE`` (the ``trust_test_ca`` fixture).
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import struct
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.probes.certs import ThrowawayCA, self_signed

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

JSON_DOC: dict[str, Any] = {
    "status": "ok",
    "version": "1.2.3",
    "count": 3,
    "db": {"ok": True, "latency_ms": 3.5},
    "items": [{"name": "a"}, {"name": "b"}],
    "tags": None,
}


class _Tracked(asyncio.StreamReaderProtocol):
    """Remembers every accepted connection, so shutdown can close even unserved ones."""

    def __init__(self, transports: set[asyncio.BaseTransport], handler: Handler) -> None:
        super().__init__(asyncio.StreamReader(limit=2**16), handler)
        self._transports = transports

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transports.add(transport)
        super().connection_made(transport)


class LoopThread:
    """An asyncio loop in a daemon thread that serves handlers until ``close()``."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        # Clients in these tests hang up mid-handshake on purpose; nothing to log.
        self.loop.set_exception_handler(lambda loop, context: None)
        self._servers: list[asyncio.Server] = []
        self._transports: set[asyncio.BaseTransport] = set()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def call(self, coro: Awaitable[Any]) -> Any:
        async def wrap() -> Any:
            return await coro

        return asyncio.run_coroutine_threadsafe(wrap(), self.loop).result(timeout=10)

    def serve(self, handler: Handler, tls: ssl.SSLContext | None = None) -> int:
        """Serve ``handler`` on a fresh port (TLS is started per connection, server side)."""

        def protocol() -> _Tracked:
            return _Tracked(self._transports, _guarded(handler, tls))

        async def start() -> asyncio.Server:
            return await self.loop.create_server(protocol, "127.0.0.1", 0)

        server: asyncio.Server = self.call(start())
        self._servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    def close(self) -> None:
        async def shutdown() -> None:
            # A connection accepted a moment ago is still being set up by asyncio, which
            # leaks its socket if the server closes first: let that finish, then close
            # in the same step (so no accept can slip in between).
            while accepting := [
                t
                for t in asyncio.all_tasks()
                if "_accept_connection" in getattr(t.get_coro(), "__qualname__", "")
            ]:
                await asyncio.wait(accepting, timeout=5)
            for server in self._servers:
                server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for transport in self._transports:
                transport.abort()  # type: ignore[attr-defined]
            await asyncio.sleep(0)  # let the aborts close their sockets

        self.call(shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


def _guarded(handler: Handler, tls: ssl.SSLContext | None) -> Handler:
    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if tls is not None:
                await writer.start_tls(tls)
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.transport.abort()

    return run


# ---------------------------------------------------------------------------------------
# HTTP


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    reader: asyncio.StreamReader


def _response(
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    phrase: str = "",
) -> bytes:
    phrases = {200: "OK", 302: "Found", 303: "See Other", 500: "Internal Server Error"}
    phrases[503] = "Service Unavailable"
    lines = [f"HTTP/1.1 {status} {phrase or phrases.get(status, 'Status')}"]
    head = {"Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
    lines += [f"{k}: {v}" for k, v in head.items() if v is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _json(status: int, doc: Any, **headers: str) -> bytes:
    return _response(
        status, json.dumps(doc).encode(), {"Content-Type": "application/json", **headers}
    )


@dataclass
class HttpServer:
    """A scripted HTTP/1.1 server; ``url(path)`` names one of its behaviours."""

    loop: LoopThread
    tls: ssl.SSLContext | None = None
    port: int = 0
    requests: list[Request] = field(default_factory=list)
    # Set when a connection serving /hang, /stall or /endless ends (the client hung up).
    hung_up: threading.Event = field(default_factory=threading.Event)
    endless_sent: int = 0
    flaky_left: int = 1

    def __post_init__(self) -> None:
        self.port = self.loop.serve(self._handle, self.tls)

    def url(self, path: str = "/json", host: str = "127.0.0.1") -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        request = Request(method, parts.path, query, headers, body, reader)
        self.requests.append(request)
        route = getattr(self, "route_" + parts.path.strip("/").replace("-", "_"), None)
        if route is None:
            writer.write(_response(404, b"no such route"))
        else:
            await route(request, writer)
        await writer.drain()

    async def route_json(self, request: Request, writer: asyncio.StreamWriter) -> None:
        doc = JSON_DOC if request.method != "HEAD" else {}
        writer.write(_json(200, doc, **{"X-Version": "1.2.3", "X-Region": "eu"}))

    async def route_status(self, request: Request, writer: asyncio.StreamWriter) -> None:
        code = int(request.query.get("code", "503"))
        writer.write(_response(code, b"database unavailable", {"Content-Type": "text/plain"}))

    async def route_redirect(self, request: Request, writer: asyncio.StreamWriter) -> None:
        code = int(request.query.get("code", "302"))
        writer.write(_response(code, b"", {"Location": request.query.get("to", "/json")}))

    async def route_loop(self, request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(_response(302, b"", {"Location": "/loop"}))

    async def route_echo(self, request: Request, writer: asyncio.StreamWriter) -> None:
        doc = {"method": request.method, "body": request.body.decode(), "headers": request.headers}
        writer.write(_json(200, doc))

    async def route_slow(self, request: Request, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(int(request.query.get("ms", "300")) / 1000)  # the behaviour under test
        writer.write(_json(200, JSON_DOC))

    async def route_hang(self, request: Request, writer: asyncio.StreamWriter) -> None:
        await self._until_hung_up(request.reader)

    async def route_stall(self, request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
        await writer.drain()
        await self._until_hung_up(request.reader)

    async def route_stall_head(self, request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-")
        await writer.drain()
        await self._until_hung_up(request.reader)

    async def route_endless(self, request: Request, writer: asyncio.StreamWriter) -> None:
        # A 5 GB body (or, chunked, an endless one) generated as fast as the client reads.
        chunked = request.query.get("chunked") == "1"
        framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {5 * 2**30}"
        writer.write(f"HTTP/1.1 200 OK\r\n{framing}\r\n\r\n".encode())
        block = b"x" * 65536
        piece = b"10000\r\n" + block + b"\r\n" if chunked else block
        try:
            while True:
                writer.write(piece)
                await writer.drain()
                self.endless_sent += len(block)
        except ConnectionError:
            self.hung_up.set()

    async def route_until_close(self, request: Request, writer: asyncio.StreamWriter) -> None:
        size = int(request.query.get("size", "100"))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + b"y" * size)

    async def route_big(self, request: Request, writer: asyncio.StreamWriter) -> None:
        size = int(request.query.get("size", "100000"))
        body = json.dumps({"pad": "z" * size, "status": "ok"}).encode()
        writer.write(_response(200, body, {"Content-Type": "application/json"}))

    async def route_invalid_json(self, request: Request, writer: asyncio.StreamWriter) -> None:
        body = b'{"status": ok, "db": '
        writer.write(_response(200, body, {"Content-Type": "application/json"}))

    async def route_chunked(self, request: Request, writer: asyncio.StreamWriter) -> None:
        body = json.dumps(JSON_DOC).encode()
        half = len(body) // 2
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for part in (body[:half], body[half:]):
            writer.write(f"{len(part):x};ext=1\r\n".encode() + part + b"\r\n")
        writer.write(b"0\r\nX-Trailer: yes\r\n\r\n")

    async def route_early_hints(self, request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
        writer.write(_json(200, JSON_DOC))

    async def route_flaky(self, request: Request, writer: asyncio.StreamWriter) -> None:
        if self.flaky_left > 0:
            self.flaky_left -= 1
            writer.write(_response(500, b"warming up"))
        else:
            writer.write(_json(200, JSON_DOC))

    async def route_reset(self, request: Request, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        # SO_LINGER 0: closing sends RST, not FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async def route_close(self, request: Request, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async def route_garbage(self, request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")

    async def _until_hung_up(self, reader: asyncio.StreamReader) -> None:
        # The client sends nothing more: read() returns only when it hangs up.
        try:
            await reader.read()
        finally:
            self.hung_up.set()


@pytest.fixture
def server_loop() -> Iterator[LoopThread]:
    loop = LoopThread()
    yield loop
    loop.close()


@pytest.fixture
def http_server(server_loop: LoopThread) -> HttpServer:
    return HttpServer(server_loop)


@pytest.fixture
def refused_port() -> int:
    """A port that was bound, then closed: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# ---------------------------------------------------------------------------------------
# TLS


@dataclass(frozen=True)
class TlsFiles:
    ca: ThrowawayCA
    ca_file: Path
    directory: Path


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    directory = tmp_path_factory.mktemp("tls")
    ca = ThrowawayCA()
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca.cert_pem)
    return TlsFiles(ca, ca_file, directory)


@pytest.fixture
def trust_test_ca(test_ca: TlsFiles, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Trust the throwaway CA the way a user trusts a private one: SSL_CERT_FILE."""
    monkeypatch.setenv("SSL_CERT_FILE", str(test_ca.ca_file))
    return test_ca.ca_file


def _https(loop: LoopThread, tmp_path: Path, issued: Any, stem: str) -> HttpServer:
    return HttpServer(loop, tls=issued.server_context(tmp_path, stem))


HOSTS = ["localhost", "127.0.0.1"]


@pytest.fixture
def https_server(server_loop: LoopThread, test_ca: TlsFiles, tmp_path: Path) -> HttpServer:
    """HTTPS with a certificate from the throwaway CA, valid for 90 days."""
    return _https(server_loop, tmp_path, test_ca.ca.issue(HOSTS, days=90), "valid")


@pytest.fixture
def https_expiring(server_loop: LoopThread, test_ca: TlsFiles, tmp_path: Path) -> HttpServer:
    """HTTPS whose (trusted) certificate expires in 3 days and an hour."""
    issued = test_ca.ca.issue(HOSTS, days=3 + 1 / 24)
    return _https(server_loop, tmp_path, issued, "expiring")


@pytest.fixture
def https_expired(server_loop: LoopThread, test_ca: TlsFiles, tmp_path: Path) -> HttpServer:
    """HTTPS whose certificate, from the trusted CA, expired yesterday."""
    now = datetime.now(UTC)
    issued = test_ca.ca.issue(
        HOSTS, not_before=now - timedelta(days=30), not_after=now - timedelta(days=1)
    )
    return _https(server_loop, tmp_path, issued, "expired")


@pytest.fixture
def https_self_signed(server_loop: LoopThread, tmp_path: Path) -> HttpServer:
    return _https(server_loop, tmp_path, self_signed(HOSTS), "self-signed")


@pytest.fixture
def https_wrong_host(server_loop: LoopThread, test_ca: TlsFiles, tmp_path: Path) -> HttpServer:
    """HTTPS with a trusted certificate for another name."""
    return _https(server_loop, tmp_path, test_ca.ca.issue(["other.example"]), "wrong-host")


# ---------------------------------------------------------------------------------------
# TCP


@dataclass
class TcpServer:
    port: int
    received: bytearray = field(default_factory=bytearray)


def _tcp(
    loop: LoopThread,
    talk: Callable[[asyncio.StreamReader, asyncio.StreamWriter, TcpServer], Awaitable[None]],
) -> TcpServer:
    server = TcpServer(0)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await talk(reader, writer, server)

    server.port = loop.serve(handler)
    return server


@pytest.fixture
def echo_server(server_loop: LoopThread) -> TcpServer:
    """Echoes every byte back until the client hangs up."""

    async def talk(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: TcpServer) -> None:
        while data := await r.read(65536):
            s.received += data
            w.write(data)
            await w.drain()

    return _tcp(server_loop, talk)


@pytest.fixture
def silent_tcp_server(server_loop: LoopThread) -> TcpServer:
    """Accepts, reads, never writes."""

    async def talk(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: TcpServer) -> None:
        while data := await r.read(65536):
            s.received += data

    return _tcp(server_loop, talk)


@pytest.fixture
def banner_server(server_loop: LoopThread) -> Callable[..., TcpServer]:
    """``banner_server(b"220 hi\\r\\n", close=True)``: says that on connect, then closes or idles."""

    def make(banner: bytes, *, close: bool = True) -> TcpServer:
        async def talk(r: asyncio.StreamReader, w: asyncio.StreamWriter, s: TcpServer) -> None:
            w.write(banner)
            await w.drain()
            if close:
                w.write_eof()  # a clean FIN, then wait for the client to hang up
            await r.read()

        return _tcp(server_loop, talk)

    return make
