"""Peers for corners a real server cannot produce on demand, on loopback port 0.

- :class:`WrongPasswordPostgres` speaks just enough of the PostgreSQL wire protocol to
  refuse a login: it declines SSL/GSS, asks for a cleartext password, then answers
  ``ErrorResponse`` with SQLSTATE 28P01 (the local PostgreSQL trusts every login, so it
  can never say "wrong password").
- :class:`FakePostgres` logs in with the method it is given (cleartext, MD5 or
  SCRAM-SHA-256, checking the password as PostgreSQL does; optionally over TLS, or
  forging its SCRAM signature like a server that does not know the password) and answers
  every query with one row. It records what clients sent.
- :class:`SilentServer` accepts TCP connections and never sends a byte (a hung
  server; for connect timeouts of any protocol).
- ``closed_port``: a loopback port that was bound and released, so connecting is refused.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, Self

import pytest

__all__ = [
    "FakePostgres",
    "SilentServer",
    "WrongPasswordPostgres",
    "closed_port_fixture",
    "fake_postgres_fixture",
    "silent_server_fixture",
    "wrong_password_postgres_fixture",
]

_SSL_REQUEST = 80877103
_GSS_REQUEST = 80877104
_PROTOCOL_3 = 196608


class _LoopbackServer:
    """A listening socket on 127.0.0.1 and a thread that accepts until closed."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.create_server((host, 0), family=family)
        self.port: int = self._listener.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.accepted = threading.Event()

    def __enter__(self) -> Self:
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
        return _startup(conn, None)[1]


class FakePostgres(_LoopbackServer):
    """Logs in with ``auth`` ("trust", "cleartext", "md5", "scram") and answers with ``row``.

    ``row`` is the one row every query returns, as (type OID, text or None) per column.
    """

    def __init__(
        self,
        *,
        auth: str = "trust",
        password: str = "",
        tls: ssl.SSLContext | None = None,
        forge_signature: bool = False,
        row: Sequence[tuple[int, str | None]] = ((23, "1"),),
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(host)
        self.auth, self.password, self.tls, self.row = auth, password, tls, row
        self.forge_signature = forge_signature
        self.startups: list[dict[str, str]] = []  # the startup parameters of each client
        self.encrypted: list[bool] = []  # whether each client's session ran over TLS
        self.received: list[bytes] = []  # message types after the login: Q, X...
        self.served = threading.Event()  # set when a client's connection has ended

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            conn, params = _startup(conn, self.tls)
            if params is None:
                return
            self.startups.append(params)
            self.encrypted.append(isinstance(conn, ssl.SSLSocket))
            if not self._login(conn, params.get("user", "")):
                conn.sendall(
                    _error_response(
                        severity="FATAL", code="28P01", message="password authentication failed"
                    )
                )
                return
            conn.sendall(
                _message(b"R", struct.pack("!i", 0))
                + _message(b"S", b"server_version\0" + b"15.0 (fake)\0")
                + _message(b"K", struct.pack("!ii", 4242, 1234))
                + _message(b"Z", b"I")
            )
            while (kind := _recv_message(conn)[0]) not in (b"", b"X"):
                self.received.append(kind)
                conn.sendall(self._answer())
            if kind:
                self.received.append(kind)
        except (OSError, ValueError, KeyError):
            pass
        finally:
            conn.close()
            self.served.set()

    def _login(self, conn: socket.socket, user: str) -> bool:
        if self.auth == "trust":
            return True
        if self.auth == "cleartext":
            conn.sendall(_message(b"R", struct.pack("!i", 3)))
            return _recv_message(conn)[1] == self.password.encode() + b"\0"
        if self.auth == "md5":
            salt = os.urandom(4)
            conn.sendall(_message(b"R", struct.pack("!i", 5) + salt))
            inner = hashlib.md5((self.password + user).encode()).hexdigest()
            outer = hashlib.md5(inner.encode() + salt).hexdigest()
            return _recv_message(conn)[1] == f"md5{outer}\0".encode()
        return self._scram(conn)

    def _scram(self, conn: socket.socket) -> bool:
        """The server side of SCRAM-SHA-256 (RFC 5802), written apart from the client's."""
        conn.sendall(_message(b"R", struct.pack("!i", 10) + b"SCRAM-SHA-256\0\0"))
        body = _recv_message(conn)[1]
        mechanism, _, rest = body.partition(b"\0")
        client_first = rest[4:].decode()
        if mechanism != b"SCRAM-SHA-256" or not client_first.startswith("n,,"):
            return False  # the client hung up, or does not speak SCRAM as PostgreSQL does
        client_first_bare = client_first[3:]
        nonce = dict(a.split("=", 1) for a in client_first_bare.split(","))["r"] + "fake-nonce"
        salt = os.urandom(16)
        server_first = f"r={nonce},s={base64.b64encode(salt).decode()},i=4096"
        conn.sendall(_message(b"R", struct.pack("!i", 11) + server_first.encode()))
        client_final = _recv_message(conn)[1].decode()
        without_proof, _, proof = client_final.rpartition(",p=")
        auth_message = f"{client_first_bare},{server_first},{without_proof}".encode()
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), salt, 4096)
        stored_key = hashlib.sha256(hmac.digest(salted, b"Client Key", "sha256")).digest()
        client_signature = hmac.digest(stored_key, auth_message, "sha256")
        client_key = bytes(a ^ b for a, b in zip(base64.b64decode(proof), client_signature, strict=True))
        if (
            without_proof != f"c=biws,r={nonce}"
            or hashlib.sha256(client_key).digest() != stored_key
        ):
            return False
        server_key = hmac.digest(salted, b"Server Key", "sha256")
        signature = hmac.digest(server_key, auth_message, "sha256")
        if self.forge_signature:
            signature = bytes(32)
        conn.sendall(_message(b"R", struct.pack("!i", 12) + b"v=" + base64.b64encode(signature)))
        return True

    def _answer(self) -> bytes:
        description = struct.pack("!h", len(self.row)) + b"".join(
            f"c{i}\0".encode() + struct.pack("!IhIhih", 0, 0, oid, -1, -1, 0)
            for i, (oid, _) in enumerate(self.row)
        )
        values = struct.pack("!h", len(self.row)) + b"".join(
            struct.pack("!i", -1)
            if text is None
            else struct.pack("!i", len(text.encode())) + text.encode()
            for _, text in self.row
        )
        return (
            _message(b"T", description)
            + _message(b"D", values)
            + _message(b"C", b"SELECT 1\0")
            + _message(b"Z", b"I")
        )


def _startup(
    conn: socket.socket, tls: ssl.SSLContext | None
) -> tuple[socket.socket, dict[str, str] | None]:
    """Reads the startup packet, answering SSL (``S`` when ``tls``) and GSS requests first."""
    while True:
        header = _recv_exactly(conn, 8)
        if not header:
            return conn, None
        length, code = struct.unpack("!ii", header)
        if code == _SSL_REQUEST and tls is not None:
            conn.sendall(b"S")
            conn = tls.wrap_socket(conn, server_side=True)
            continue
        if code in (_SSL_REQUEST, _GSS_REQUEST):
            conn.sendall(b"N")
            continue
        body = _recv_exactly(conn, length - 8)
        if code != _PROTOCOL_3:
            return conn, None
        items = body.rstrip(b"\0").split(b"\0")
        return conn, {k.decode(): v.decode() for k, v in zip(items[::2], items[1::2], strict=True)}


def _message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


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


@pytest.fixture(name="fake_postgres")
def fake_postgres_fixture() -> Iterator[Callable[..., FakePostgres]]:
    """Starts :class:`FakePostgres` servers with the given options; closes them after the test."""
    servers: list[FakePostgres] = []

    def start(**options: Any) -> FakePostgres:
        server = FakePostgres(**options)
        servers.append(server)
        return server.__enter__()

    yield start
    for server in servers:
        server.close()


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
