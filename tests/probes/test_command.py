"""The command probe: real processes, and proof that none is left behind."""

from __future__ import annotations

import asyncio
import os
import select
import time
from pathlib import Path
from typing import Any

import pytest

from redline.config.schema import Check
from redline.probes.base import HealthCheckResult, run_check
from redline.probes.command import CommandProbe
from redline.probes.registry import probe_for
from redline.redact import Redactor


def check(run: str, timeout: str = "5s", **spec: Any) -> Check:
    return Check.model_validate({"timeout": timeout, "command": {"run": run, **spec}})


def run(c: Check) -> tuple[HealthCheckResult, float]:
    start = time.perf_counter()
    result = asyncio.run(run_check("worker", c))
    return result, time.perf_counter() - start


def exited(pid: int, within: float = 5.0) -> bool:
    """Whether process ``pid`` has exited (or does within ``within`` seconds): a pidfd wait."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], within)[0])
    finally:
        os.close(fd)


def group_gone(pgid: int) -> bool:
    """Whether every process of group ``pgid`` has exited (waiting up to 5 s for each)."""
    return all(exited(pid) for pid in live_members(pgid)) and live_members(pgid) == []


def live_members(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that are not zombies."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            found.append(int(entry.name))
    return found


def pids(result: HealthCheckResult) -> list[int]:
    return [int(line) for line in result.details["stdout_tail"].split()]


def test_registry_builds_the_command_probe() -> None:
    assert isinstance(probe_for(check("true"), 1.0), CommandProbe)


def test_ok_with_output(tmp_path: Path) -> None:
    result, _ = run(check("echo starting; echo ready >&2", contains="ready"))
    assert result.outcome == "ok", result.reason
    assert result.details["exit_code"] == 0
    assert result.details["stdout_tail"] == "starting\n"
    assert result.details["stderr_tail"] == "ready\n"
    assert result.phases["total"] > 0


def test_wrong_exit_code_names_the_last_stderr_line() -> None:
    result, _ = run(check("echo working; echo 'disk full' >&2; exit 3"))
    assert result.outcome == "fail"
    assert result.reason == "exit code 3, expected 0: disk full"
    assert result.details["exit_code"] == 3


def test_an_expected_nonzero_exit_code() -> None:
    result, _ = run(check("exit 3", exit_code=3))
    assert result.outcome == "ok", result.reason


def test_output_mismatch() -> None:
    result, _ = run(check("echo starting", contains="ready"))
    assert result.outcome == "fail"
    assert result.reason == "output does not contain 'ready'; it ends 'starting\\n'"
    result, _ = run(check("true", contains="ready"))
    assert result.reason == "output does not contain 'ready'; it printed nothing"


def test_killed_by_a_signal() -> None:
    result, _ = run(check("kill -9 $$"))
    assert result.outcome == "fail"
    assert result.reason == "killed by SIGKILL, expected 0"


def test_cwd_is_relative_to_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "VERSION").write_text("1.4.2\n")
    monkeypatch.chdir(tmp_path)
    result, _ = run(check("cat VERSION", cwd="app", contains="1.4.2"))
    assert result.outcome == "ok", result.reason
    result, _ = run(check("true", cwd="missing"))
    assert result.outcome == "error"
    assert result.reason == f"cwd 'missing' is not a directory (relative to {tmp_path})"


def test_large_output_is_drained_and_capped() -> None:
    result, _ = run(
        check("head -c 5000000 /dev/zero | tr '\\0' x; echo; echo done", contains="done")
    )
    assert result.outcome == "ok", result.reason
    assert result.details["stdout_bytes"] == 5000000 + 6
    assert len(result.details["stdout_tail"]) <= 1000


def test_a_command_that_never_exits_is_killed_at_the_timeout() -> None:
    result, elapsed = run(check("echo $$; sleep 1000 & echo $!; sleep 1000", timeout="500ms"))
    assert result.outcome == "error"
    assert result.reason == (
        "the command was still running within 500ms; killed it and its process group"
    )
    assert elapsed < 0.5 + 1.0
    shell, child = pids(result)
    assert exited(shell)
    assert exited(child)
    assert group_gone(shell)


def test_a_command_ignoring_sigterm_is_killed() -> None:
    result, elapsed = run(check("trap '' TERM; echo $$; sleep 1000", timeout="300ms"))
    assert result.outcome == "error"
    assert elapsed < 0.3 + 1.0
    (shell,) = pids(result)
    assert exited(shell)
    assert group_gone(shell)


def test_background_children_do_not_outlive_the_check() -> None:
    result, elapsed = run(check("sleep 1000 & echo $!; echo $$"))
    assert result.outcome == "ok", result.reason
    assert elapsed < 5
    child, shell = pids(result)
    assert exited(child)
    assert group_gone(shell)


def test_cancelling_a_check_kills_the_process_group(tmp_path: Path) -> None:
    fifo = tmp_path / "pid"
    os.mkfifo(fifo)
    probe = CommandProbe(check(f"echo $$ > {fifo}; sleep 1000").command, 30.0)  # type: ignore[arg-type]

    async def cancel_once_started() -> int:
        task = asyncio.create_task(probe.check())
        pid = int(await asyncio.to_thread(fifo.read_text))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return pid

    shell = asyncio.run(cancel_once_started())
    assert exited(shell)
    assert group_gone(shell)


def test_secrets_in_output_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    redactor = Redactor()
    redactor.add("s3cret-token-42")
    monkeypatch.setattr("redline.probes.command.REDACTOR", redactor)
    monkeypatch.setattr("redline.probes.tcp.REDACTOR", redactor)
    result, _ = run(check("echo token=s3cret-token-42; echo bad s3cret-token-42 >&2; exit 1"))
    assert result.outcome == "fail"
    assert result.reason == "exit code 1, expected 0: bad ***"
    assert "s3cret-token-42" not in repr(result.to_dict())
