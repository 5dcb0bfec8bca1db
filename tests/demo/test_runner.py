"""DemoSystem: starting, stopping, state files, and children that never outlive their parent."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from redline._errors import DemoError
from redline.demo import DemoSystem
from redline.demo.db import Database

from .helpers import admin_client, pid_alive, wait_for

HELPER = """
import json, sys
from pathlib import Path
from redline.demo import DemoSystem

demo = DemoSystem(Path(sys.argv[1]), detach=sys.argv[2] == "detach")
ep = demo.start()
print(json.dumps({"pids": ep.pids, "api_url": ep.api_url}), flush=True)
if sys.argv[2] != "detach":
    sys.stdin.read()
"""


def run_helper(base_dir: Path, mode: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Start a demo from another process; returns that process and what it printed."""
    helper = subprocess.Popen(
        [sys.executable, "-c", HELPER, str(base_dir), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert helper.stdout is not None
    line = helper.stdout.readline()
    assert line, "the helper exited before starting the demo"
    return helper, json.loads(line)


def close_helper(helper: subprocess.Popen[str]) -> None:
    for stream in (helper.stdin, helper.stdout):
        if stream is not None:
            stream.close()
    helper.wait(timeout=30)


def all_gone(pids: list[int]) -> bool:
    return not any(pid_alive(pid) for pid in pids)


def test_stop_finishes_the_current_job_and_leaves_nothing(tmp_path: Path) -> None:
    demo = DemoSystem(tmp_path, knobs={"version": "2.0.0"})
    ep = demo.start()
    assert demo.is_running()
    with httpx.Client(base_url=ep.api_url) as c:
        assert c.get("/version").json()["version"] == "2.0.0"
        job_id = c.post("/jobs", json={"kind": "sleep", "payload": {"ms": 700}}).json()["id"]
        wait_for(lambda: c.get(f"/jobs/{job_id}").json()["status"] == "running", what="job start")
    demo.stop()
    assert not demo.is_running()
    assert all_gone(list(ep.pids))
    assert not (tmp_path / "demo.json").exists()
    assert not (tmp_path / "admin-token").exists()
    db = Database(str(tmp_path / "demo.db"))
    try:
        job = db.get_job(job_id)
    finally:
        db.dispose()
    assert job is not None and job["status"] == "done"
    demo.stop()  # a second stop is harmless


def test_context_manager_state_file_and_second_start(tmp_path: Path) -> None:
    with DemoSystem(tmp_path, knobs={"health_fail": True}) as demo:
        ep = demo.endpoints
        state = json.loads((tmp_path / "demo.json").read_text())
        assert state["pids"] == {"api": ep.pids[0], "worker": ep.pids[1]}
        assert state["api_url"] == ep.api_url
        assert ep.admin_token not in (tmp_path / "demo.json").read_text()
        token_file = tmp_path / "admin-token"
        assert token_file.read_text() == ep.admin_token
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert ep.admin_token not in repr(ep)
        assert DemoSystem.endpoints_from_state(tmp_path) == ep
        with httpx.Client() as c:
            assert c.get(f"{ep.api_url}/health").status_code == 503
        with pytest.raises(DemoError, match="already running"):
            DemoSystem(tmp_path).start()
        with pytest.raises(DemoError, match="already started"):
            demo.start()
        os.kill(ep.pids[1], signal.SIGKILL)
        wait_for(lambda: not demo.is_running(), what="is_running() to see the dead worker")
    assert all_gone(list(ep.pids))
    assert DemoSystem.endpoints_from_state(tmp_path) is None


def test_killing_the_parent_stops_the_children(tmp_path: Path) -> None:
    helper, info = run_helper(tmp_path, "attached")
    pids = info["pids"]
    assert not all_gone(pids)
    helper.kill()
    close_helper(helper)
    wait_for(lambda: all_gone(pids), timeout=15, what="children to exit after the parent died")
    log = (tmp_path / "api.log").read_text()
    assert "parent process gone" in log


def test_detached_demo_outlives_its_parent_until_stop_from_state(tmp_path: Path) -> None:
    helper, info = run_helper(tmp_path, "detach")
    close_helper(helper)
    pids = info["pids"]
    assert not all_gone(pids)
    ep = DemoSystem.endpoints_from_state(tmp_path)
    assert ep is not None and ep.api_url == info["api_url"]
    with admin_client(ep) as admin:
        assert admin.get("/health").status_code == 200
        assert admin.get("/admin/knobs").status_code == 200
    assert DemoSystem.stop_from_state(tmp_path) is True
    assert all_gone(pids)
    assert not (tmp_path / "demo.json").exists()
    assert DemoSystem.stop_from_state(tmp_path) is False


def test_start_failure_reports_the_child_log(tmp_path: Path) -> None:
    # A bound but never listening port: connections to it are refused.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        demo = DemoSystem(tmp_path, db_url=f"postgresql://postgres@127.0.0.1:{port}/nope")
        with pytest.raises(DemoError, match="exited with code") as info:
            demo.start()
    assert "refused" in str(info.value).lower()
    assert not demo.is_running()
    assert not (tmp_path / "demo.json").exists()


def test_bad_knobs_are_refused_before_starting(tmp_path: Path) -> None:
    with pytest.raises(DemoError, match="bad demo knob: latency"):
        DemoSystem(tmp_path, knobs={"latency": "fast"})
    assert not any(tmp_path.iterdir())


def test_endpoints_before_start(tmp_path: Path) -> None:
    with pytest.raises(DemoError, match="not started"):
        _ = DemoSystem(tmp_path).endpoints
    assert DemoSystem.stop_from_state(tmp_path) is False
