"""The redis probe against peers that answer what a real Redis never would: nonsense, a
gigabyte announced, a hang-up or a silence halfway through the exchange. Each is a scripted
RESP peer on loopback port 0 (``server_loop`` in conftest), reached through a real socket."""

from __future__ import annotations

import asyncio
import time

from redline.config.schema import Check
from redline.probes.base import HealthCheckResult, run_check
from tests.probes.conftest import LoopThread


async def _read_command(reader: asyncio.StreamReader) -> list[bytes]:
    count = int((await reader.readuntil(b"\r\n"))[1:])
    args = []
    for _ in range(count):
        size = int((await reader.readuntil(b"\r\n"))[1:])
        args.append((await reader.readexactly(size + 2))[:-2])
    return args


def resp_peer(loop: LoopThread, *replies: bytes | None) -> int:
    """A peer answering each command with the next reply; None hangs up, the end hangs."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for reply in replies:
            await _read_command(reader)
            if reply is None:
                return
            writer.write(reply)
            await writer.drain()
        await reader.read()  # until the client hangs up

    return loop.serve(handler)


def peer_check(port: int, timeout: str = "1s", auth: str = "") -> HealthCheckResult:
    url = f"redis://{auth}127.0.0.1:{port}/0"
    return asyncio.run(
        run_check("cache", Check.model_validate({"timeout": timeout, "redis": {"url": url}}))
    )


def test_a_peer_announcing_a_gigabyte_is_cut_off(server_loop: LoopThread) -> None:
    port = resp_peer(server_loop, b"+PONG\r\n", b"$1073741824\r\n" + b"x" * 65536)
    result = peer_check(port)
    assert result.outcome == "error"
    assert result.reason == (
        f"Redis at 127.0.0.1:{port}/0 sent an invalid reply to INFO: a reply over the 16 MiB "
        "limit (a bulk string of 1073741824 bytes)"
    )


def test_a_peer_that_is_not_redis(server_loop: LoopThread) -> None:
    port = resp_peer(server_loop, b"HTTP/1.1 400 Bad Request\r\n\r\n")
    result = peer_check(port)
    assert result.outcome == "error"
    assert result.reason == (
        f"Redis at 127.0.0.1:{port}/0 sent an invalid reply to PING: "
        "'HTTP/1.1 400 Bad Request', which is not RESP (is this a Redis server?)"
    )


def test_a_ping_answered_with_something_else(server_loop: LoopThread) -> None:
    result = peer_check(port := resp_peer(server_loop, b"+OK\r\n"))
    assert result.outcome == "error"
    assert result.reason == (
        f"Redis at 127.0.0.1:{port}/0 sent an invalid reply to PING: 'OK' where PONG was expected"
    )


def test_a_peer_hanging_up_after_ping(server_loop: LoopThread) -> None:
    result = peer_check(port := resp_peer(server_loop, None))
    assert result.outcome == "error"
    assert result.reason == (
        f"lost the connection to Redis at 127.0.0.1:{port}/0 during PING: "
        "the server closed the connection"
    )
    assert set(result.phases) == {"connect", "total"}


def test_a_peer_that_never_answers_info_times_out_in_the_info_phase(
    server_loop: LoopThread,
) -> None:
    start = time.perf_counter()
    result = peer_check(port := resp_peer(server_loop, b"+PONG\r\n"), timeout="500ms")
    elapsed = time.perf_counter() - start
    assert result.outcome == "error"
    assert (
        result.reason == f"Redis at 127.0.0.1:{port}/0 did not answer INFO within 500ms (timeout)"
    )
    assert set(result.phases) == {"connect", "ping", "total"}
    assert elapsed < 0.5 + 1.0


def test_an_error_reply_to_info_is_quoted(server_loop: LoopThread) -> None:
    loading = b"-LOADING Redis is loading the dataset in memory\r\n"
    result = peer_check(port := resp_peer(server_loop, b"+PONG\r\n", loading))
    assert result.outcome == "error"
    assert result.reason == (
        f"Redis at 127.0.0.1:{port}/0 answered INFO with an error: "
        "LOADING Redis is loading the dataset in memory"
    )


def test_a_peer_hanging_up_on_auth_is_a_connect_failure(server_loop: LoopThread) -> None:
    result = peer_check(port := resp_peer(server_loop, None), auth=":some-password@")
    assert result.outcome == "error"
    assert result.reason == (
        f"could not connect to Redis at 127.0.0.1:{port}/0: the server closed the connection"
    )
    assert "some-password" not in str(result.to_dict())
