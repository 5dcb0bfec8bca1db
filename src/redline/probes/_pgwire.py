"""Just enough of PostgreSQL's frontend/backend protocol (v3) for the ``postgres`` probe.

Connect over TCP or a unix socket (TLS as ``sslmode`` says), authenticate (trust,
cleartext, MD5, SCRAM-SHA-256), run statements with the simple query protocol, cancel one
on the server, close. Standard library only, so a check costs no driver import; where to
connect comes from :func:`redline.probes._pgdsn.resolve`.

>>> from redline.probes._pgdsn import resolve
>>> conn = await connect(resolve("postgresql://app@db/shop"), "redline")  # doctest: +SKIP
>>> (await conn.query("SELECT 1")).first()                             # doctest: +SKIP
1
>>> await conn.close()                                                   # doctest: +SKIP

Errors (anything else is an ``OSError``: refused, reset, host not found, TLS)::

    WireError               talking to the server failed; never carries a secret
    ├── PasswordRequired    the server asks for a password and none is configured
    ├── ConnectTimeout      the DSN's connect_timeout passed while connecting
    └── ServerError         an ErrorResponse: .sqlstate, .message, .fields
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl

    from redline.probes._pgauth import Authenticator
    from redline.probes._pgdsn import Params

__all__ = [
    "ConnectTimeout",
    "Connection",
    "PasswordRequired",
    "Result",
    "ServerError",
    "WireError",
    "connect",
]

_PROTOCOL_3 = 196608
_SSL_REQUEST = struct.pack("!ii", 8, 80877103)
_CANCEL_REQUEST = struct.pack("!ii", 16, 80877102)
_TERMINATE = b"X\0\0\0\4"
_MAX_MESSAGE = 1 << 30  # PostgreSQL's own limit on a field; a longer length is garbage
_CLOSE_WAIT = 1.0  # seconds for a cancel request or a TLS goodbye, then the socket just closes


class WireError(Exception):
    """Talking to PostgreSQL failed; the message never holds the DSN or a password."""


class PasswordRequired(WireError):
    """The server asks for a password and neither the DSN nor the environment gives one."""


class ConnectTimeout(WireError):
    """The DSN's ``connect_timeout`` passed before the session was ready."""


class ServerError(WireError):
    """An ErrorResponse, by field code: ``C`` SQLSTATE, ``M`` message, ``D`` detail, ``H`` hint."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        self.fields = dict(fields)
        self.sqlstate = self.fields.get("C", "")
        self.message = self.fields.get("M", "unknown server error")
        super().__init__(self.message)


@dataclass(frozen=True)
class Result:
    """The first result set of a query: column type OIDs and rows as the server's text."""

    types: tuple[int, ...] | None  # None: the statement returns no rows (not a SELECT)
    rows: list[tuple[bytes | None, ...]]

    def first(self) -> Any:
        """The first column of the first row as a Python value; None when there is no row."""
        return self.column(0, limit=1)[0] if self.rows and self.types else None

    def column(self, index: int, limit: int | None = None) -> list[Any]:
        """One column of every row (or of the first ``limit``), converted by its type."""
        oid = self.types[index] if self.types else 0
        return [_value(oid, row[index]) for row in self.rows[:limit]]


def _value(oid: int, raw: bytes | None) -> Any:
    if raw is None:
        return None
    text = raw.decode("utf-8", "replace")
    if oid == 16:  # bool
        return text == "t"
    if oid in (20, 21, 23, 26):  # int8, int2, int4, oid
        return int(text)
    if oid == 1700:  # numeric, NaN and Infinity included
        return Decimal(text)
    if oid in (700, 701):  # float4, float8: float() reads NaN, Infinity, -Infinity
        return float(text)
    return text


async def connect(params: Params, application_name: str) -> Connection:
    """A session ready for queries. ``application_name`` applies when the DSN sets none."""
    timeout = asyncio.timeout(params.connect_timeout)
    try:
        async with timeout:
            return await _connect(params, application_name)
    except TimeoutError:
        if timeout.expired():
            raise ConnectTimeout("connect_timeout expired") from None
        raise


async def _connect(params: Params, application_name: str) -> Connection:
    loop = asyncio.get_running_loop()
    sock, address = await _open_socket(params)
    try:
        tls = None
        # As libpq: no TLS over a unix socket, whatever sslmode says. "allow" starts without
        # TLS; libpq would then retry with TLS if the server refused, this client does not.
        if params.sslmode not in ("disable", "allow") and not params.unix_socket:
            await loop.sock_sendall(sock, _SSL_REQUEST)
            # One byte exactly: what a man in the middle sends after it must not be read as if
            # it came over TLS (CVE-2021-23222).
            answer = await loop.sock_recv(sock, 1)
            if answer == b"S":
                tls = _tls_context(params)
            elif answer == b"N" and params.sslmode == "prefer":
                pass
            elif answer == b"N":
                raise WireError("server does not support SSL, but SSL was required")
            else:
                raise WireError("the server did not answer the SSL request as PostgreSQL does")
        if tls is None:
            reader, writer = await asyncio.open_connection(sock=sock)
        else:
            reader, writer = await asyncio.open_connection(
                sock=sock, ssl=tls, server_hostname=params.host, ssl_shutdown_timeout=_CLOSE_WAIT
            )
    except BaseException:
        sock.close()
        raise
    conn = Connection(reader, writer, address)
    try:
        await conn._startup(params, application_name)
    except BaseException:
        conn.abort()
        raise
    return conn


async def _open_socket(params: Params) -> tuple[socket.socket, tuple[int, Any]]:
    loop = asyncio.get_running_loop()
    if params.unix_socket:
        path = f"{params.host}/.s.PGSQL.{params.port}"
        targets: list[tuple[int, Any]] = [(socket.AF_UNIX, path)]
    else:
        host = params.hostaddr or params.host
        families = (socket.AF_INET, socket.AF_INET6)
        targets = [(f, (host, params.port)) for f in families if _numeric(f, host)]
        if not targets:  # a name: resolve it (in a thread); an address needs no lookup
            infos = await loop.getaddrinfo(host, params.port, type=socket.SOCK_STREAM)
            targets = [(family, addr) for family, _, _, _, addr in infos]
    failure: OSError = OSError(f"no address for {params.host}")
    for family, address in targets:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        if family != socket.AF_UNIX:  # as libpq; asyncio only does it for sockets it made
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await loop.sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            failure = exc
            continue
        except BaseException:
            sock.close()
            raise
        return sock, (family, address)
    raise failure


def _numeric(family: int, host: str) -> bool:
    try:
        socket.inet_pton(family, host)
    except OSError:
        return False
    return True


def _tls_context(params: Params) -> ssl.SSLContext:
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    home = os.path.join(os.path.expanduser("~"), ".postgresql")
    default_root = os.path.join(home, "root.crt")
    root = params.sslrootcert or _existing(default_root)
    # As libpq: require checks the chain too when a root certificate is at hand.
    if params.sslmode in ("verify-ca", "verify-full") or (params.sslmode == "require" and root):
        if root is None:
            raise WireError(
                f'root certificate file "{default_root}" does not exist: set sslrootcert to '
                "the CA's certificate file, or sslrootcert=system for the system's CAs"
            )
        context.check_hostname = params.sslmode == "verify-full"
        if root == "system":
            context.load_default_certs()
        else:
            context.load_verify_locations(root)
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    cert = params.sslcert or _existing(os.path.join(home, "postgresql.crt"))
    if cert:
        key = params.sslkey or os.path.join(home, "postgresql.key")
        try:  # "" rather than None: OpenSSL would prompt on the terminal for an encrypted key
            context.load_cert_chain(cert, key, password=params.sslpassword or "")
        except ssl.SSLError:
            raise WireError(
                "could not load the client certificate (sslcert) with its key (sslkey): "
                "is the key encrypted, and sslpassword missing or wrong?"
            ) from None
    return context


def _existing(path: str) -> str | None:
    return path if os.path.exists(path) else None


class Connection:
    """One session: simple queries, then :meth:`close` (which also cancels a running one)."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, address: tuple[int, Any]
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._address = address  # where a cancel request goes
        self._key = b""  # BackendKeyData: process id and secret key, as sent
        self._busy = False  # a query was sent and its ReadyForQuery not read yet
        self.parameters: dict[str, str] = {}  # ParameterStatus: server_version...

    async def query(self, sql: str) -> Result:
        """Runs ``sql`` (one or more statements); the first result set that has columns."""
        self._send(b"Q", sql.encode() + b"\0")
        self._busy = True
        types: tuple[int, ...] | None = None
        rows: list[tuple[bytes | None, ...]] = []
        sets = 0
        failure: ServerError | None = None
        while True:
            try:
                kind, body = await self._receive()
            except WireError:
                if failure is None:
                    raise
                self._busy = False
                raise failure from None  # a FATAL error, then the server hung up
            if kind == b"T":
                sets += 1
                if sets == 1:
                    types = _row_description(body)
            elif kind == b"D" and sets == 1:
                rows.append(_data_row(body))
            elif kind == b"E":
                failure = failure or ServerError(_fields(body))
            elif kind == b"G":  # COPY FROM STDIN: there is nothing to send
                self._send(b"f", b"the probe sends no COPY data\0")
            elif kind == b"Z":
                self._busy = False
                break
            # C CommandComplete, I EmptyQueryResponse, N notice, S parameter, A notification,
            # H/d/c COPY TO STDOUT: nothing to keep.
        if failure is not None:
            raise failure
        return Result(types, rows)

    async def close(self) -> None:
        """Cancels a query still running (on a new connection, as libpq), says goodbye, closes."""
        writer = self._writer
        if writer.is_closing():
            return
        try:
            async with asyncio.timeout(_CLOSE_WAIT):
                if self._busy and self._key:
                    await self._cancel()
                writer.write(_TERMINATE)
                writer.close()
                await writer.wait_closed()
        except (OSError, TimeoutError):
            pass
        finally:
            self.abort()

    def abort(self) -> None:
        """Closes the socket now, without a word to the server."""
        self._writer.transport.abort()

    async def _cancel(self) -> None:
        loop = asyncio.get_running_loop()
        family, address = self._address
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setblocking(False)
            await loop.sock_connect(sock, address)
            await loop.sock_sendall(sock, _CANCEL_REQUEST + self._key)
            await loop.sock_recv(sock, 1)  # the server hangs up once it has read the request

    async def _startup(self, params: Params, application_name: str) -> None:
        settings = {
            "user": params.user,
            "database": params.dbname,
            "application_name": params.application_name or application_name,
            "client_encoding": "UTF8",
            "options": params.options or "",
        }
        body = struct.pack("!i", _PROTOCOL_3) + b"".join(
            f"{name}\0{value}\0".encode() for name, value in settings.items() if value
        )
        self._writer.write(struct.pack("!i", len(body) + 5) + body + b"\0")
        auth: Authenticator | None = None
        while True:
            kind, body = await self._receive()
            if kind == b"R":
                code = int.from_bytes(body[:4], "big")
                if code == 0 and auth is None:  # trust: nothing to answer, nothing to import
                    continue
                if auth is None:
                    from redline.probes._pgauth import Authenticator

                    auth = Authenticator(params.user, params.password)
                if (answer := auth.answer(code, body[4:])) is not None:
                    self._send(b"p", answer)
            elif kind == b"S":
                name, value, _ = body.split(b"\0", 2)
                self.parameters[name.decode()] = value.decode("utf-8", "replace")
            elif kind == b"K":
                self._key = body[:8]
            elif kind == b"E":
                raise ServerError(_fields(body))
            elif kind == b"Z":
                return
            # N NoticeResponse, v NegotiateProtocolVersion: nothing to do

    def _send(self, kind: bytes, body: bytes) -> None:
        self._writer.write(kind + struct.pack("!i", len(body) + 4) + body)

    async def _receive(self) -> tuple[bytes, bytes]:
        try:
            header = await self._reader.readexactly(5)
            length = int.from_bytes(header[1:], "big")
            if not 4 <= length <= _MAX_MESSAGE:
                raise WireError("the server sent a malformed message")
            return header[:1], await self._reader.readexactly(length - 4)
        except asyncio.IncompleteReadError:
            raise WireError("server closed the connection unexpectedly") from None


def _fields(body: bytes) -> dict[str, str]:
    return {
        item[:1].decode(): item[1:].decode("utf-8", "replace") for item in body.split(b"\0") if item
    }


def _row_description(body: bytes) -> tuple[int, ...]:
    (count,) = struct.unpack_from("!h", body)
    types, offset = [], 2
    for _ in range(count):
        offset = body.index(b"\0", offset) + 1  # past the column name
        types.append(struct.unpack_from("!IhIh", body, offset)[2])
        offset += 18  # table oid, column number, type oid, size, modifier, format
    return tuple(types)


def _data_row(body: bytes) -> tuple[bytes | None, ...]:
    (count,) = struct.unpack_from("!h", body)
    values: list[bytes | None] = []
    offset = 2
    for _ in range(count):
        (length,) = struct.unpack_from("!i", body, offset)
        offset += 4
        values.append(None if length < 0 else body[offset : offset + length])
        offset += max(length, 0)
    return tuple(values)
