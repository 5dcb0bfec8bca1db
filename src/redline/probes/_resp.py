"""A small asyncio Redis client, stdlib only: what the ``redis`` probe says and reads.

redis-py costs ~100 ms and ~6 MB to import; a health check needs one connection, ``AUTH``,
``SELECT``, ``PING`` and ``INFO``. This module speaks RESP2 for exactly that:

>>> conn = await RespConnection.open(parse_url("redis://cache:6379/0"))  # doctest: +SKIP
>>> await conn.ping()                                                  # doctest: +SKIP
>>> (await conn.info())["role"]                                        # doctest: +SKIP
'master'
>>> await conn.close()                                                 # doctest: +SKIP

:func:`read_reply` reads one reply (simple string, error, integer, bulk string, array, nulls)
with a cap on its size: a peer that announces a gigabyte gets :class:`ProtocolError` before
a byte of it is read. Failures are :class:`ReplyError` (the server said ``-ERR ...``),
:class:`ProtocolError` (what came back is not RESP2, or is too big), :class:`ConnectionClosed`
and the ``OSError`` family of the socket (refused, ``socket.gaierror``, ``ssl.SSLError``).
URLs are read by :mod:`redline.probes._redisurl`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    import ssl

    from redline.probes._redisurl import Endpoint

__all__ = [
    "MAX_REPLY",
    "ConnectionClosed",
    "ProtocolError",
    "Reply",
    "ReplyError",
    "RespConnection",
    "encode_command",
    "parse_info",
    "read_reply",
]

MAX_REPLY = 16 * 2**20  # bytes in one reply; a real INFO is a few KiB
_MAX_LINE = 64 * 1024  # a status, error or length line
_MAX_ITEMS = 2**20
_MAX_DEPTH = 32
# Finishing a close (a TLS close_notify) may take this long before the socket is cut.
_CLOSE_GRACE = 0.02


class ReplyError(Exception):
    """An error reply (``-WRONGPASS invalid username-password pair``)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text
        first, _, rest = text.partition(" ")
        # The error code is the first word by convention (ERR, NOAUTH, NOPERM, LOADING...).
        self.code = first if first.isupper() else ""
        self.message = rest if self.code else text


class ProtocolError(Exception):
    """The peer's bytes are not a RESP2 reply we accept; the message says what came."""


class ConnectionClosed(ConnectionError):
    """The server closed the connection before it finished a reply."""


Reply: TypeAlias = "str | int | bytes | ReplyError | list[Reply] | None"


async def read_reply(reader: asyncio.StreamReader, max_size: int = MAX_REPLY) -> Reply:
    """One RESP2 reply; an error reply is returned as a :class:`ReplyError`, not raised.

    Raises :class:`ProtocolError` for bytes that are not RESP2 or a reply over ``max_size``
    bytes (checked before reading what a length announces), :class:`ConnectionClosed` at EOF.
    """
    return await _ReplyReader(reader, max_size).read(0)


class _ReplyReader:
    def __init__(self, reader: asyncio.StreamReader, max_size: int) -> None:
        self._reader = reader
        self._max = max_size
        self._left = max_size

    async def read(self, depth: int) -> Reply:
        line = await self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode("utf-8", "replace")
        if kind == b"-":
            return ReplyError(rest.decode("utf-8", "replace"))
        if kind == b":":
            return _number(rest, line)
        if kind == b"$":
            return await self._bulk(_number(rest, line), line)
        if kind == b"*":
            count = _number(rest, line)
            if count == -1:
                return None
            if not 0 <= count <= _MAX_ITEMS or depth >= _MAX_DEPTH:
                raise ProtocolError(f"an array we do not read ({_show(line)} at depth {depth})")
            return [await self.read(depth + 1) for _ in range(count)]
        raise ProtocolError(f"{_show(line)}, which is not RESP (is this a Redis server?)")

    async def _bulk(self, size: int, line: bytes) -> bytes | None:
        if size == -1:
            return None
        if size < 0:
            raise ProtocolError(f"a bulk string of negative length ({_show(line)})")
        self._take(size + 2, f"a bulk string of {size} bytes")
        try:
            data = await self._reader.readexactly(size + 2)
        except asyncio.IncompleteReadError:
            raise ConnectionClosed("the server closed the connection mid-reply") from None
        if not data.endswith(b"\r\n"):
            raise ProtocolError("a bulk string longer than its announced length")
        return data[:-2]

    async def _line(self) -> bytes:
        try:
            line = await self._reader.readuntil(b"\r\n")
        except asyncio.IncompleteReadError as exc:
            mid = " mid-reply" if exc.partial or self._left < self._max else ""
            raise ConnectionClosed(f"the server closed the connection{mid}") from None
        except asyncio.LimitOverrunError:
            raise ProtocolError(
                f"a line of more than {_MAX_LINE // 1024} KiB (is this a Redis server?)"
            ) from None
        self._take(len(line), "its lines")
        return line[:-2]

    def _take(self, size: int, what: str) -> None:
        if size > self._left:
            raise ProtocolError(f"a reply over the {_size(self._max)} limit ({what})")
        self._left -= size


def _number(text: bytes, line: bytes) -> int:
    try:
        return int(text)
    except ValueError:
        raise ProtocolError(f"{_show(line)}, where a number should follow the type") from None


def _show(line: bytes) -> str:
    text = line[:40].decode("ascii", "backslashreplace")
    return repr(text + ("..." if len(line) > 40 else ""))


def _unexpected(reply: Reply, wanted: str) -> ProtocolError:
    shown = repr(reply)
    return ProtocolError(
        f"{shown[:60]}{'...' if len(shown) > 60 else ''} where {wanted} was expected"
    )


def _size(value: int) -> str:
    return f"{value // 2**20} MiB" if value >= 2**20 else f"{value} bytes"


def encode_command(*args: str | int | bytes) -> bytes:
    """``args`` as a RESP array of bulk strings, the form every command is sent in."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class RespConnection:
    """One connection to a Redis server; send a command, read its reply, close."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, max_reply: int
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._max_reply = max_reply

    @classmethod
    async def open(
        cls, endpoint: Endpoint, tls: ssl.SSLContext | None = None, max_reply: int = MAX_REPLY
    ) -> RespConnection:
        """Connect to ``endpoint`` (TLS with ``tls``; see :meth:`TlsOptions.context`).

        Raises the socket's OSError: refused, ``socket.gaierror``, ``ssl.SSLError``...
        """
        if endpoint.socket_path is not None:
            reader, writer = await asyncio.open_unix_connection(
                endpoint.socket_path, limit=_MAX_LINE
            )
        else:
            reader, writer = await asyncio.open_connection(
                endpoint.host, endpoint.port, ssl=tls, limit=_MAX_LINE
            )
        return cls(reader, writer, max_reply)

    async def command(self, *args: str | int | bytes) -> Reply:
        """Send one command and read its reply; an error reply raises :class:`ReplyError`."""
        self._writer.write(encode_command(*args))
        await self._writer.drain()
        reply = await read_reply(self._reader, self._max_reply)
        if isinstance(reply, ReplyError):
            raise reply
        return reply

    async def auth(self, username: str | None, password: str | None) -> None:
        """``AUTH user password``, as redis-py logs in: user ``default`` when none is named.

        The two-argument form is what lets a password reach a server that has none (its
        ``nopass`` default user takes any); a server older than 6.0 knows no users and
        answers "wrong number of arguments", so it gets ``AUTH password``.
        """
        try:
            reply = await self.command("AUTH", username or "default", password or "")
        except ReplyError as exc:
            if "wrong number of arguments" not in exc.text.lower():
                raise
            reply = await self.command("AUTH", password or "")
        if reply != "OK":
            raise _unexpected(reply, "OK")

    async def ping(self) -> None:
        """``PING``; anything but ``+PONG`` raises :class:`ProtocolError`."""
        reply = await self.command("PING")
        if reply != "PONG":
            raise _unexpected(reply, "PONG")

    async def info(self, section: str | None = None) -> dict[str, Any]:
        """``INFO [section]`` parsed by :func:`parse_info`."""
        reply = await self.command("INFO", *([section] if section else []))
        if not isinstance(reply, bytes):
            raise _unexpected(reply, "a bulk string")
        return parse_info(reply.decode("utf-8", "replace"))

    async def close(self) -> None:
        """Close the connection; a peer that does not finish the close in time is cut off."""
        self._writer.close()
        try:
            async with asyncio.timeout(_CLOSE_GRACE):
                await self._writer.wait_closed()
        except asyncio.CancelledError:
            self._writer.transport.abort()
            raise
        except OSError:  # the peer reset, or never answered a TLS close_notify
            self._writer.transport.abort()


def parse_info(text: str) -> dict[str, Any]:
    """INFO's ``field:value`` lines as redis-py's ``parse_info`` returns them.

    >>> parse_info("# Server\\r\\nredis_version:7.0.15\\r\\ndb0:keys=2,expires=0\\r\\n")
    {'redis_version': '7.0.15', 'db0': {'keys': 2, 'expires': 0}}
    """
    info: dict[str, Any] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if ":" not in line:
            info.setdefault("__raw__", []).append(line)
            continue
        key, value = line.split(":", 1)
        if key == "cmdstat_host":  # the one key with a colon in it
            key, value = line.rsplit(":", 1)
        if key == "module":
            info.setdefault("modules", []).append(_info_value(value))
        else:
            info[key] = _info_value(value)
    return info


def _info_value(value: str) -> Any:
    if "," not in value and "=" not in value:
        try:
            return float(value) if "." in value else int(value)
        except ValueError:
            return value
    if "=" not in value:
        return [_info_value(v) for v in value.split(",") if v]
    fields: dict[str, Any] = {}
    for item in value.split(","):
        if "=" in item:
            k, v = item.rsplit("=", 1)
            fields[k] = _info_value(v)
        elif item:
            fields[item] = True
    return fields
