"""The tcp probe against real TCP servers on loopback."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

from redline.config.schema import Check
from redline.probes.base import HealthCheckResult, run_check
from redline.probes.registry import probe_for
from redline.probes.tcp import TcpProbe, excerpt
from tests.probes.conftest import TcpServer


def check(port: int, host: str = "127.0.0.1", timeout: str = "2s", **spec: Any) -> Check:
    return Check.model_validate({"timeout": timeout, "tcp": {"host": host, "port": port, **spec}})


def run(c: Check) -> tuple[HealthCheckResult, float]:
    start = time.perf_counter()
    result = asyncio.run(run_check("cache", c))
    return result, time.perf_counter() - start


def test_registry_builds_the_tcp_probe(echo_server: TcpServer) -> None:
    assert isinstance(probe_for(check(echo_server.port), 1.0), TcpProbe)


def test_connect_only(echo_server: TcpServer) -> None:
    result, _ = run(check(echo_server.port))
    assert result.outcome == "ok", result.reason
    assert result.phases["dns"] == 0.0
    assert result.phases["connect"] > 0
    assert result.details == {"address": f"127.0.0.1:{echo_server.port}"}


def test_connect_by_name(echo_server: TcpServer) -> None:
    result, _ = run(check(echo_server.port, host="localhost"))
    assert result.outcome == "ok", result.reason


def test_send_and_expect(echo_server: TcpServer) -> None:
    result, _ = run(check(echo_server.port, send="PING\r\n", expect="PING"))
    assert result.outcome == "ok", result.reason
    assert result.details["bytes_sent"] == 6
    assert "first_byte" in result.phases
    assert echo_server.received == b"PING\r\n"


def test_send_without_expect(echo_server: TcpServer) -> None:
    result, _ = run(check(echo_server.port, send="hello"))
    assert result.outcome == "ok", result.reason
    assert result.details["bytes_sent"] == 5


def test_expect_a_banner(banner_server: Callable[..., TcpServer]) -> None:
    server = banner_server(b"220 mail.example ESMTP ready\r\n")
    result, _ = run(check(server.port, expect="ESMTP"))
    assert result.outcome == "ok", result.reason


def test_expect_mismatch_when_the_server_closes(banner_server: Callable[..., TcpServer]) -> None:
    server = banner_server(b"-ERR unknown command\r\n")
    result, _ = run(check(server.port, send="PING\r\n", expect="+PONG"))
    assert result.outcome == "fail"
    assert result.reason == (
        "the server closed the connection; expected '+PONG', got '-ERR unknown command\\r\\n'"
    )


def test_expect_mismatch_on_an_open_connection(banner_server: Callable[..., TcpServer]) -> None:
    server = banner_server(b"HELLO v1\n", close=False)
    result, elapsed = run(check(server.port, expect="HELLO v2", timeout="500ms"))
    assert result.outcome == "fail"
    assert result.reason == "expected 'HELLO v2' within 500ms, got 'HELLO v1\\n'"
    assert elapsed < 0.5 + 1.0


def test_a_long_binary_reply_is_shown_short_and_printable(
    banner_server: Callable[..., TcpServer],
) -> None:
    server = banner_server(bytes(range(256)) * 8)
    result, _ = run(check(server.port, expect="OK"))
    assert result.outcome == "fail"
    assert result.reason.endswith("...'")
    assert len(result.reason) < 400
    assert all(c.isprintable() for c in result.reason)


def test_a_server_that_never_replies_ends_at_the_timeout(silent_tcp_server: TcpServer) -> None:
    result, elapsed = run(
        check(silent_tcp_server.port, send="PING\n", expect="PONG", timeout="500ms")
    )
    assert result.outcome == "error"
    assert result.reason == "connected, sent 5 bytes, but no reply within 500ms"
    assert elapsed < 0.5 + 1.0
    assert silent_tcp_server.received == b"PING\n"


def test_connection_refused(refused_port: int) -> None:
    result, _ = run(check(refused_port))
    assert result.outcome == "error"
    assert result.reason == (
        f"connection refused by 127.0.0.1:{refused_port} "
        "(is the service running and listening on that port?)"
    )


def test_a_name_that_does_not_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    def getaddrinfo(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    result, _ = run(check(6379, host="cache.internal.invalid"))
    assert result.outcome == "error"
    assert result.reason == (
        "DNS: cannot resolve 'cache.internal.invalid' (Name or service not known)"
    )


def test_cancelling_closes_the_connection(silent_tcp_server: TcpServer) -> None:
    probe = TcpProbe(check(silent_tcp_server.port, expect="x").tcp, 30.0)  # type: ignore[arg-type]

    async def cancel_soon() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(probe.check(), 0.2)
        # Nothing left open: asyncio.run would warn about an unclosed transport otherwise.

    asyncio.run(cancel_soon())


def test_excerpt() -> None:
    assert excerpt(b"ok\r\n") == "ok\\r\\n"
    assert excerpt(b"\x00\xff") == "\\x00\ufffd"
    assert excerpt(b"a" * 100, 10) == "a" * 10 + "..."
