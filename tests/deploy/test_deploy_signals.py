"""Ctrl-C / SIGTERM during `redline deploy`: before the switch nothing changes; after it the
release is rolled back; the lock is released either way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

CONFIG = """\
project: shop
store: sqlite:///store.db
environments:
  prod: {{}}
services:
  api:
    checks:
      - name: serving
        command: {{run: "{check}", cwd: site}}
    deploy:
      command: {{deploy: "printf %s {{version}} > current", cwd: site}}
      hooks: {{before_switch: ["{hook}"]}}
      verify:
        smoke: {{deadline: 30s, interval: 200ms}}
"""
SERVING = "test -f current && ! grep -q slow current"


def _project(tmp_path: Path, *, hook: str = "true", check: str = SERVING) -> Path:
    (tmp_path / "site").mkdir()
    (tmp_path / "redline.yaml").write_text(CONFIG.format(hook=hook, check=check))
    return tmp_path


def _redline(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDLINE_")}
    return subprocess.run(
        [sys.executable, "-m", "redline", *args], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip


def _start(cwd: Path, version: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDLINE_")}
    return subprocess.Popen(
        [sys.executable, "-m", "redline", "deploy", version, "--env", "prod", "--json"],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _wait_for(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_sigint_before_the_switch_changes_nothing(tmp_path: Path) -> None:
    cwd = _project(tmp_path)
    assert _redline(cwd, "deploy", "1.0", "--env", "prod").returncode == 0
    (cwd / "redline.yaml").write_text(
        CONFIG.format(hook="touch hook-started && sleep 2", check=SERVING)
    )
    proc = _start(cwd, "2.0")
    _wait_for((cwd / "site" / "hook-started").exists)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1, err
    doc = json.loads(out)
    assert doc["state"] == "aborted" and "interrupted before api: deploy" in doc["reasons"][0]
    assert (cwd / "site" / "current").read_text() == "1.0"
    assert "Traceback" not in err
    free = _redline(cwd, "deploy", "unlock", "--env", "prod")
    assert "it was free" in free.stdout


def test_sigterm_after_the_switch_rolls_back(tmp_path: Path) -> None:
    cwd = _project(tmp_path)
    assert _redline(cwd, "deploy", "1.0", "--env", "prod").returncode == 0
    proc = _start(cwd, "2.0-slow")  # its checks fail, and smoke waits up to 30 s
    current = cwd / "site" / "current"
    _wait_for(lambda: current.read_text() == "2.0-slow")
    time.sleep(0.3)  # well into verification
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 3, err
    doc = json.loads(out)
    assert doc["state"] == "rolled_back" and doc["rolled_back_to"] == "1.0"
    assert (cwd / "site" / "current").read_text() == "1.0"
