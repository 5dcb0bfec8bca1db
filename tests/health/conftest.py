"""Fixtures: a real HTTP target on loopback whose answer a test can change."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Target:
    """A real HTTP server on 127.0.0.1, port 0; ``status`` is what GET answers."""

    def __init__(self) -> None:
        self.status = 200
        self.hits = 0
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                target.hits += 1
                body = b"ok\n" if target.status < 400 else b"down\n"
                self.send_response(target.status)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def hostport(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.hostport}/health"


@pytest.fixture
def target() -> Iterator[Target]:
    t = Target()
    t.thread.start()
    try:
        yield t
    finally:
        t.server.shutdown()
        t.server.server_close()
        t.thread.join(5)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
