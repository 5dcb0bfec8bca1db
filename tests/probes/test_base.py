"""run_check (timeouts, retries, errors) and the registry (built-ins and entry-point plugins)."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

from redline.config.schema import PROTOCOLS, Check
from redline.probes import base, registry
from redline.probes.base import (
    DEFAULT_TIMEOUTS,
    Measurement,
    Probe,
    error,
    ok,
    run_check,
    timeout_for,
)
from redline.probes.command import CommandProbe
from redline.probes.http import HttpProbe
from redline.probes.tcp import TcpProbe
from tests.probes.conftest import HttpServer, TcpServer


class Scripted:
    """A probe that says what it is told, in order; counts its calls."""

    protocol: ClassVar[str] = "scripted"

    def __init__(self, *outcomes: Measurement | BaseException) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    async def check(self) -> Measurement:
        self.calls += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


class Hangs:
    protocol: ClassVar[str] = "hangs"

    async def check(self) -> Measurement:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def tcp_check(port: int = 1, **extra: Any) -> Check:
    return Check.model_validate({"tcp": {"host": "127.0.0.1", "port": port}, **extra})


def run(check: Check, probe: Probe | None = None) -> tuple[Any, float]:
    start = time.perf_counter()
    result = asyncio.run(run_check("svc", check, probe=probe))
    return result, time.perf_counter() - start


# -- retries -------------------------------------------------------------------------------


def test_a_pass_after_one_failure_reports_two_attempts(http_server: HttpServer) -> None:
    check = Check.model_validate(
        {
            "name": "flaky",
            "retries": 2,
            "retry_backoff": "10ms",
            "http": {"url": http_server.url("/flaky"), "status": "2xx"},
        }
    )
    result, _ = run(check)
    assert result.outcome == "ok", result.reason
    assert result.attempts == 2
    assert result.to_dict()["attempts"] == 2
    assert [r.path for r in http_server.requests] == ["/flaky", "/flaky"]


def test_the_last_attempt_decides_when_retries_run_out(http_server: HttpServer) -> None:
    check = Check.model_validate(
        {"retries": 1, "retry_backoff": "10ms", "http": {"url": http_server.url("/status")}}
    )
    result, _ = run(check)
    assert result.outcome == "fail"
    assert result.attempts == 2
    assert result.reason == "status 503 Service Unavailable, expected 200-399"


def test_backoff_doubles_between_attempts() -> None:
    probe = Scripted(error("a"), error("b"), error("c"), ok())
    check = tcp_check(retries=3, retry_backoff="100ms")
    result, elapsed = run(check, probe)
    assert result.outcome == "ok"
    assert result.attempts == 4
    assert elapsed >= 0.1 + 0.2 + 0.4


def test_no_retry_after_a_pass() -> None:
    probe = Scripted(ok())
    result, _ = run(tcp_check(retries=5), probe)
    assert (result.attempts, probe.calls) == (1, 1)


# -- timeouts ------------------------------------------------------------------------------


def test_every_protocol_has_a_default_timeout() -> None:
    for protocol in PROTOCOLS:
        assert DEFAULT_TIMEOUTS[protocol] > 0
    assert timeout_for(tcp_check()) == DEFAULT_TIMEOUTS["tcp"]
    assert timeout_for(tcp_check(timeout="250ms")) == 0.25


def test_the_default_timeout_applies(
    silent_tcp_server: TcpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A check without `timeout:` gets its protocol's default (shortened here to keep the
    # test quick); the probe is built with it and run_check enforces it.
    monkeypatch.setitem(base.DEFAULT_TIMEOUTS, "tcp", 0.3)  # type: ignore[arg-type]
    check = Check.model_validate(
        {"tcp": {"host": "127.0.0.1", "port": silent_tcp_server.port, "expect": "x"}}
    )
    assert check.timeout is None
    result, elapsed = run(check)
    assert result.outcome == "error"
    assert result.reason == "connected, no reply within 300ms"
    assert elapsed < 0.3 + 1.0


def test_run_check_times_out_a_probe_that_ignores_its_budget() -> None:
    result, elapsed = run(tcp_check(timeout="200ms"), Hangs())
    assert result.outcome == "error"
    assert result.reason == "no answer within 200ms (timeout)"
    assert result.details == {"timeout_s": 0.2}
    assert elapsed < 0.2 + 1.0


# -- errors --------------------------------------------------------------------------------


def test_an_unexpected_exception_becomes_a_one_line_error() -> None:
    result, _ = run(tcp_check(), Scripted(ValueError("bad value\n  at line 2\nmore")))
    assert result.outcome == "error"
    assert result.reason == "ValueError: bad value"
    result, _ = run(tcp_check(), Scripted(RuntimeError()))
    assert result.reason == "RuntimeError"


def test_os_errors_become_reasons() -> None:
    result, _ = run(tcp_check(), Scripted(ConnectionRefusedError(111, "Connection refused")))
    assert (
        result.reason == "connection refused (is the service running and listening on that port?)"
    )
    result, _ = run(tcp_check(), Scripted(ConnectionResetError(104, "Connection reset")))
    assert result.reason == "connection reset by the peer"


def test_an_error_is_retried_and_stays_visible() -> None:
    probe = Scripted(error("refused"), error("refused"))
    result, _ = run(tcp_check(retries=1, retry_backoff="1ms"), probe)
    assert (result.outcome, result.attempts, result.reason) == ("error", 2, "refused")


def test_result_shape() -> None:
    result, _ = run(tcp_check(name="redis-port", severity="warning"), Scripted(ok(port=1)))
    data = result.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["service"] == "svc"
    assert data["check"] == "redis-port"
    assert data["protocol"] == "tcp"
    assert data["severity"] == "warning"
    assert data["details"] == {"port": 1}
    assert set(data["phases_ms"]) == {"total"}
    assert result.id == "svc/redis-port"


# -- registry ------------------------------------------------------------------------------


def test_builtins_are_found_and_satisfy_the_probe_protocol() -> None:
    assert registry.factory_for("http") is HttpProbe
    assert registry.factory_for("tcp") is TcpProbe
    assert registry.factory_for("command") is CommandProbe
    for factory, spec in (
        (HttpProbe, {"http": {"url": "http://127.0.0.1/"}}),
        (TcpProbe, {"tcp": {"host": "h", "port": 1}}),
        (CommandProbe, {"command": {"run": "true"}}),
    ):
        probe = factory(Check.model_validate(spec).spec, 1.0)
        assert isinstance(probe, Probe)
        assert probe.protocol == next(iter(spec))
    with pytest.raises(KeyError):
        registry.factory_for("gopher")


PLUGIN_MODULE = "redline_plugin_echo_probe"


@pytest.fixture
def echo_plugin(tmp_path: Path) -> Iterator[str]:
    """A real installed plugin: a module and a dist-info with a ``redline.probes`` entry point."""
    (tmp_path / f"{PLUGIN_MODULE}.py").write_text(
        textwrap.dedent(
            """
            from redline.probes.base import error, ok


            class EchoProbe:
                protocol = "echo"

                def __init__(self, spec, timeout):
                    self.spec = spec
                    self.timeout = timeout

                async def check(self):
                    if self.spec.get("fail"):
                        return error("echo said no")
                    return ok(self.spec["say"], timeout=self.timeout)
            """
        )
    )
    dist = tmp_path / "redline_plugin_echo-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: redline-plugin-echo\nVersion: 0.1\n"
    )
    (dist / "entry_points.txt").write_text(f"[redline.probes]\necho = {PLUGIN_MODULE}:EchoProbe\n")
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    registry._entry_points.cache_clear()
    yield "echo"
    sys.path.remove(str(tmp_path))
    sys.modules.pop(PLUGIN_MODULE, None)
    importlib.invalidate_caches()
    registry._entry_points.cache_clear()


def test_a_plugin_protocol_validates_and_runs(echo_plugin: str) -> None:
    assert echo_plugin in registry.plugin_protocols()
    check = Check.model_validate({"name": "hello", "echo": {"say": "hi there"}})
    assert check.protocol == "echo"
    assert check.spec == {"say": "hi there"}
    assert timeout_for(check) == 10.0  # a plugin protocol still gets a timeout
    result, _ = run(check)
    assert result.outcome == "ok"
    assert result.protocol == "echo"
    assert result.reason == "hi there"
    assert result.details == {"timeout": 10.0}
    failing = Check.model_validate({"echo": {"fail": True}, "retries": 1, "retry_backoff": "1ms"})
    result, _ = run(failing)
    assert (result.outcome, result.attempts, result.reason) == ("error", 2, "echo said no")


def test_an_unknown_protocol_is_still_a_config_error(echo_plugin: str) -> None:
    with pytest.raises(ValidationError):
        Check.model_validate({"gopher": {"host": "x"}})
    with pytest.raises(ValidationError, match="exactly one"):
        Check.model_validate({"echo": {"say": "a"}, "tcp": {"host": "h", "port": 1}})


def test_without_the_plugin_its_key_is_unknown() -> None:
    registry._entry_points.cache_clear()
    assert "echo" not in registry.plugin_protocols()
    with pytest.raises(ValidationError):
        Check.model_validate({"echo": {"say": "a"}})
