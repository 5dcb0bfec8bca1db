"""The RESP2 reader, the command encoder and INFO parsing of ``redline.probes._resp``.

The reader is fed bytes through a StreamReader (the seam the connection uses); the probe's
tests (test_redis.py, test_redis_peers.py) drive the same code against real servers and peers.
"""

from __future__ import annotations

import asyncio
import re
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis._parsers.helpers import parse_info as redis_py_parse_info  # the oracle: redis-py

from redline.probes._resp import (
    MAX_REPLY,
    ConnectionClosed,
    ProtocolError,
    Reply,
    ReplyError,
    encode_command,
    parse_info,
    read_reply,
)
from tests.probes.redis_fixtures import redis_url_fixture  # noqa: F401 (fixtures)


def read(data: bytes, max_size: int = MAX_REPLY, eof: bool = True) -> Reply:
    async def go() -> Reply:
        reader = asyncio.StreamReader(limit=64 * 1024)
        reader.feed_data(data)
        if eof:
            reader.feed_eof()
        return await read_reply(reader, max_size)

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("data", "reply"),
    [
        (b"+PONG\r\n", "PONG"),
        (b"+\r\n", ""),
        (b":42\r\n", 42),
        (b":-7\r\n", -7),
        (b"$5\r\nhello\r\n", b"hello"),
        (b"$0\r\n\r\n", b""),
        (b"$4\r\na\r\nb\r\n", b"a\r\nb"),  # a bulk string may hold CRLF
        (b"$-1\r\n", None),
        (b"*-1\r\n", None),
        (b"*0\r\n", []),
        (b"*3\r\n:1\r\n$1\r\nx\r\n$-1\r\n", [1, b"x", None]),
        (b"*2\r\n*1\r\n+a\r\n*0\r\n", [["a"], []]),
    ],
)
def test_each_resp2_type(data: bytes, reply: Reply) -> None:
    assert read(data) == reply


def test_an_error_reply_is_returned_with_its_code() -> None:
    reply = read(b"-WRONGPASS invalid username-password pair\r\n")
    assert isinstance(reply, ReplyError)
    assert (reply.code, reply.message) == ("WRONGPASS", "invalid username-password pair")
    plain = read(b"-something odd\r\n")
    assert isinstance(plain, ReplyError)
    assert (plain.code, plain.message) == ("", "something odd")


def test_an_error_inside_an_array_is_a_value() -> None:
    reply = read(b"*2\r\n+OK\r\n-ERR no\r\n")
    assert isinstance(reply, list)
    assert reply[0] == "OK"
    assert isinstance(reply[1], ReplyError)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"HTTP/1.1 200 OK\r\n", "'HTTP/1.1 200 OK', which is not RESP"),
        (b"$abc\r\n", "'$abc', where a number should follow the type"),
        (b"$-2\r\n", "a bulk string of negative length"),
        (b"$2\r\nabcd\r\n", "a bulk string longer than its announced length"),
        (b"*-5\r\n", "an array we do not read"),
        (b"$1048577\r\n", "a reply over the 1 MiB limit (a bulk string of 1048577 bytes)"),
        (b"*1\r\n" * 40, "an array we do not read ('*1' at depth 32)"),
        (b"x" * 70000, "a line of more than 64 KiB"),
    ],
)
def test_what_is_not_accepted(data: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match="^" + re.escape(message)):
        read(data, max_size=2**20, eof=False)


def test_the_cap_counts_a_whole_reply() -> None:
    many = b"*100\r\n" + b"$10\r\n0123456789\r\n" * 100
    assert len(read(many, max_size=len(many))) == 100  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match="over the 1000 bytes limit"):
        read(many, max_size=1000)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the server closed the connection"),
        (b"+PO", "the server closed the connection mid-reply"),
        (b"$10\r\nabc", "the server closed the connection mid-reply"),
        (b"*2\r\n:1\r\n", "the server closed the connection mid-reply"),
    ],
)
def test_eof(data: bytes, message: str) -> None:
    with pytest.raises(ConnectionClosed, match=f"^{message}$"):
        read(data)


def _encode(reply: Any) -> bytes:
    if reply is None:
        return b"$-1\r\n"
    if isinstance(reply, int):
        return b":%d\r\n" % reply
    if isinstance(reply, bytes):
        return b"$%d\r\n%s\r\n" % (len(reply), reply)
    if isinstance(reply, str):
        return b"+%s\r\n" % reply.encode()
    return b"*%d\r\n" % len(reply) + b"".join(_encode(r) for r in reply)


replies = st.recursive(
    st.none()
    | st.integers(-(2**63), 2**63 - 1)
    | st.binary(max_size=64)
    | st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=20
    ),
    lambda inner: st.lists(inner, max_size=5),
    max_leaves=20,
)


@given(replies)
def test_what_is_written_is_read_back(reply: Any) -> None:
    assert read(_encode(reply)) == reply


def test_a_command_is_an_array_of_bulk_strings() -> None:
    assert encode_command("AUTH", "default", "p w") == (
        b"*3\r\n$4\r\nAUTH\r\n$7\r\ndefault\r\n$3\r\np w\r\n"
    )
    assert encode_command("SELECT", 12) == b"*2\r\n$6\r\nSELECT\r\n$2\r\n12\r\n"
    assert read(encode_command("SET", b"k\r\n", "é")) == [b"SET", b"k\r\n", "é".encode()]


def test_info_parses_as_redis_py_parses_it(redis_url: str) -> None:
    parts = urlsplit(redis_url)
    with socket.create_connection((parts.hostname, parts.port or 6379), timeout=5) as sock:
        sock.sendall(encode_command("INFO", "everything"))
        with sock.makefile("rb") as stream:
            size = int(stream.readline()[1:])
            text = stream.read(size + 2)[:-2]
    assert b"# Keyspace" in text
    assert parse_info(text.decode()) == redis_py_parse_info(text)


def test_info_values() -> None:
    text = (
        "# Keyspace\r\n"
        "db0:keys=2,expires=0,avg_ttl=0\r\n"
        "mem_fragmentation_ratio:1.25\r\n"
        "redis_version:7.0.15\r\n"
        "module:name=search,ver=20000\r\n"
        "module:name=json,ver=20000\r\n"
        "flags:a,b\r\n"
        "cmdstat_host:calls=1,usec=2\r\n"
        "a line without a colon\r\n"
    )
    info = parse_info(text)
    assert info == redis_py_parse_info(text)
    assert info["db0"] == {"keys": 2, "expires": 0, "avg_ttl": 0}
    assert info["mem_fragmentation_ratio"] == 1.25
    assert info["redis_version"] == "7.0.15"
    assert [m["name"] for m in info["modules"]] == ["search", "json"]
    assert info["flags"] == ["a", "b"]
    assert info["__raw__"] == ["a line without a colon"]
