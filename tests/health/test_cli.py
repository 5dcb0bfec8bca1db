"""`redline health` invoked as a user would, against the real loopback HTTP target."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from redline.store import open_store
from tests.health.conftest import Target
from tests.health.probes import KINDS, need, yaml_check
from tests.helpers import CliResult

# Until the lead registers `health` in redline.cli._COMMANDS, run the command object the
# same way redline.cli.main does (same error handling, same exit codes).
_SHIM = """
import sys
from redline.cli._output import handle_errors
from redline.cli.health_cmd import health
args = sys.argv[1:]
sys.exit(handle_errors(
    lambda: health.main(args=args, prog_name="redline health", standalone_mode=False), args))
"""


def _argv(*args: str) -> list[str]:
    from redline.cli import _COMMANDS

    if "health" in _COMMANDS:
        return [sys.executable, "-m", "redline", "health", *args]
    return [sys.executable, "-c", _SHIM, *args]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDLINE_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _health(cwd: Path, *args: str) -> CliResult:
    proc = subprocess.run(
        _argv(*args), cwd=cwd, env=_env(), capture_output=True, text=True, timeout=60
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def _project(tmp_path: Path, kind: str, port: int, **check: str) -> Path:
    extra = "".join(f", {k}: {v}" for k, v in check.items())
    (tmp_path / "redline.yaml").write_text(
        f"""
project: shop
environments:
  local: {{vars: {{PORT: "{port}"}}}}
health: {{interval: 100ms, jitter: 0s}}
services:
  api:
    checks:
      - {{name: health, timeout: 2s, failure_threshold: 1, {yaml_check(kind)}{extra}}}
""",
        encoding="utf-8",
    )
    return tmp_path


@pytest.mark.parametrize("kind", KINDS)
def test_once_exit_codes_0_1_2(kind: str, tmp_path: Path, target: Target, closed_port: int) -> None:
    need(kind)
    healthy = _health(_project(tmp_path, kind, target.port), "--env", "local", "--once")
    assert healthy.code == 0, healthy.text
    assert "health" in healthy.out and "ok" in healthy.out
    assert healthy.out.rstrip().endswith("healthy")

    target.status = 503
    unhealthy = _health(tmp_path, "--env", "local", "--once")
    assert unhealthy.code == 1, unhealthy.text
    assert "FAIL" in unhealthy.out
    assert "unhealthy: 1 failed (of 1 critical checks)" in unhealthy.out

    refused = _health(_project(tmp_path, kind, closed_port), "--env", "local", "--once")
    assert refused.code == 2, refused.text
    assert "ERROR" in refused.out and "refused" in refused.out
    assert "unknown: 1 could not measure (of 1 critical checks)" in refused.out


def test_once_json_is_one_document(tmp_path: Path, target: Target) -> None:
    target.status = 503
    result = _health(_project(tmp_path, "tcp", target.port), "--env", "local", "--once", "--json")
    assert result.code == 1, result.text
    document = result.json()
    assert (document["status"], document["exit_code"], document["environment"]) == (
        "unhealthy",
        1,
        "local",
    )
    (check,) = document["checks"]
    assert (check["service"], check["check"], check["outcome"]) == ("api", "health", "fail")
    # The samples went to the store beside the config.
    with open_store(f"sqlite:///{tmp_path}/.redline/redline.db") as store:
        assert [s.value for s in store.samples("health.check.outcome")] == [0.0]


def test_once_warning_checks_do_not_change_the_exit_code(tmp_path: Path, target: Target) -> None:
    target.status = 503
    _project(tmp_path, "tcp", target.port, severity="warning")
    result = _health(tmp_path, "--env", "local", "--once", "--no-store")
    assert result.code == 0, result.text
    assert "health (warning)" in result.out
    assert not (tmp_path / ".redline").exists()


class _Lines:
    """Lines of a stream, read by a thread, handed over with a timeout."""

    def __init__(self, stream: object) -> None:
        self._queue: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self._queue.put(line.rstrip("\n"))

    def next(self, timeout: float = 15) -> str:
        return self._queue.get(timeout=timeout)

    def rest(self) -> list[str]:
        self._thread.join(10)
        out = []
        while not self._queue.empty():
            out.append(self._queue.get())
        return out


def _start(cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _argv(*args),
        cwd=cwd,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_continuous_json_lines_of_state_changes_until_sigterm(
    tmp_path: Path, target: Target
) -> None:
    proc = _start(_project(tmp_path, "tcp", target.port), "--env", "local", "--json")
    try:
        lines = _Lines(proc.stdout)
        first = json.loads(lines.next())
        assert (first["service"], first["previous"], first["state"]) == (
            "api",
            "unknown",
            "healthy",
        )
        target.status = 503
        second = json.loads(lines.next())
        assert (second["state"], second["outcome"], second["count"]) == ("unhealthy", "fail", 1)
        assert second["message"].startswith("api unhealthy: health failed once: ")
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(15)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    assert code == 1  # it stopped while unhealthy
    assert lines.rest() == []


def test_continuous_lines_and_serve_until_sigint(tmp_path: Path, target: Target) -> None:
    _project(tmp_path, "tcp", target.port)
    proc = _start(tmp_path, "--env", "local", "--serve", "127.0.0.1:0")
    try:
        errors = _Lines(proc.stderr)
        lines = _Lines(proc.stdout)
        serving = errors.next()
        assert serving.startswith("serving health on http://127.0.0.1:")
        url = serving.rsplit(" ", 1)[1]
        first = lines.next()
        # "12:00:03 api healthy: health ok"
        assert first[:2].isdigit() and first[2] == ":" and first[9:] == "api healthy: health ok"
        response = httpx.get(url, timeout=10)
        assert (response.status_code, response.json()["status"]) == (200, "healthy")
        assert target.hostport not in response.text
        proc.send_signal(signal.SIGINT)
        code = proc.wait(15)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    assert code == 0
    (final,) = lines.rest()
    assert final.startswith("healthy: 1 of 1 services healthy; ")


def test_duration_stops_it(tmp_path: Path, target: Target) -> None:
    _project(tmp_path, "tcp", target.port)
    result = _health(tmp_path, "--env", "local", "--duration", "500ms", "--no-store")
    assert result.code == 0, result.text
    assert result.out.splitlines()[0].endswith("api healthy: health ok")
    assert "skipped slots" in result.out.splitlines()[-1]


def test_usage_mistakes_and_invalid_config(tmp_path: Path) -> None:
    (tmp_path / "redline.yaml").write_text("project: shop\nservices: {api: {checks: [{}]}}\n")
    assert _health(tmp_path, "--once", "--serve", ":0").code == 2
    assert _health(tmp_path, "--detail").code == 2
    assert _health(tmp_path, "--serve", "nowhere").code == 2
    invalid = _health(tmp_path, "--once")
    assert invalid.code == 5
    assert "redline.yaml" in invalid.err


def test_a_port_in_use_is_a_message_not_a_traceback(tmp_path: Path, target: Target) -> None:
    _project(tmp_path, "tcp", target.port)
    result = _health(tmp_path, "--env", "local", "--serve", target.hostport, "--no-store")
    assert result.code == 2
    assert f"cannot serve on {target.hostport}: " in result.err
    assert "Traceback" not in result.text
