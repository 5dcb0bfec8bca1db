"""Peers for corners a real server cannot produce on demand, on loopback port 0.

- :class:`WrongPasswordPostgres` speaks just enough of the PostgreSQL wire protocol to
  refuse a login: it declines SSL/GSS, asks for a cleartext password, then answers
  ``ErrorResponse`` with SQLSTATE 28P01 (the local PostgreSQL trusts every login, so it
  can never say "wrong password").
- :class:`SilentServer` accepts TCP connections and never sends a byte (a hung
  server; for connect timeouts of any protocol).
- ``closed_port``: a loopback port that was bound and released, so connecting is refused.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator
from types import TracebackType

import pytest

__all__ = [
    "SilentServer",
    "WrongPasswordPostgres",
    "closed_port_fixture",
    "silent_server_fixture",
    "wrong_password_postgres_fixture",
]

_SSL_REQUEST = 80877103
_GSS_REQUEST = 80877104
_PROTOCOL_3 = 196608


class _LoopbackServer:
    """A listening socket on 127.0.0.1 and a thread that accepts until closed."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.accepted = threading.Event()

    def __enter__(self) -> _LoopbackServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        # shutdown() wakes the accept() of the serving thread on Linux
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(timeout=5)
        for conn in self._conns:
            conn.close()

    def _accept_loop(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._conns.append(conn)
            self.accepted.set()
            self.handle(conn)

    def handle(self, conn: socket.socket) -> None:
        """Serve one connection; the default keeps it open and says nothing."""


class SilentServer(_LoopbackServer):
    """Accepts every connection and never answers."""

    def hung_up(self, within: float = 5.0) -> bool:
        """Whether every accepted client closed its end (read to EOF) within ``within`` s."""
        deadline = time.monotonic() + within
        for conn in list(self._conns):
            while (left := deadline - time.monotonic()) > 0:
                conn.settimeout(left)
                try:
                    if not conn.recv(4096):
                        break
                except TimeoutError:
                    return False
                except OSError:  # reset by the peer: closed too
                    break
            else:
                return False
        return bool(self._conns)


class WrongPasswordPostgres(_LoopbackServer):
    """Refuses every login with 'password authentication failed' (SQLSTATE 28P01)."""

    def __init__(self) -> None:
        super().__init__()
        self.passwords: list[str] = []  # what clients sent, to prove the password was tried

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            params = self._startup(conn)
            if params is None:
                return
            conn.sendall(b"R" + struct.pack("!ii", 8, 3))  # AuthenticationCleartextPassword
            kind, body = _recv_message(conn)
            if kind == b"p":
                self.passwords.append(body.rstrip(b"\0").decode())
            user = params.get("user", "")
            conn.sendall(
                _error_response(
                    severity="FATAL",
                    code="28P01",
                    message=f'password authentication failed for user "{user}"',
                )
            )
        except OSError:
            pass
        finally:
            conn.close()

    def _startup(self, conn: socket.socket) -> dict[str, str] | None:
        while True:
            header = _recv_exactly(conn, 8)
            if not header:
                return None
            length, code = struct.unpack("!ii", header)
            if code in (_SSL_REQUEST, _GSS_REQUEST):
                conn.sendall(b"N")
                continue
            body = _recv_exactly(conn, length - 8)
            if code != _PROTOCOL_3:
                return None
            items = body.rstrip(b"\0").split(b"\0")
            return {k.decode(): v.decode() for k, v in zip(items[::2], items[1::2], strict=True)}


def _recv_message(conn: socket.socket) -> tuple[bytes, bytes]:
    header = _recv_exactly(conn, 5)
    if not header:
        return b"", b""
    (length,) = struct.unpack("!i", header[1:])
    return header[:1], _recv_exactly(conn, length - 4)


def _recv_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return b""
        data += chunk
    return data


def _error_response(*, severity: str, code: str, message: str) -> bytes:
    fields = b"".join(
        tag + value.encode() + b"\0"
        for tag, value in ((b"S", severity), (b"V", severity), (b"C", code), (b"M", message))
    )
    body = fields + b"\0"
    return b"E" + struct.pack("!i", len(body) + 4) + body


@pytest.fixture(name="wrong_password_postgres")
def wrong_password_postgres_fixture() -> Iterator[WrongPasswordPostgres]:
    with WrongPasswordPostgres() as server:
        yield server


@pytest.fixture(name="silent_server")
def silent_server_fixture() -> Iterator[SilentServer]:
    with SilentServer() as server:
        yield server


@pytest.fixture(name="closed_port")
def closed_port_fixture() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
