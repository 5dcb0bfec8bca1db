"""`redline demo`: the first five minutes, run as a new user runs them."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from redline.demo.runner import DemoSystem
from tests.helpers import CliResult

Cli = Callable[..., CliResult]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it has exited all the same.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_demo_runs_every_step_and_stops_everything(cli: Cli, tmp_path: Path) -> None:
    r = cli("demo", "--json")
    assert r.code == 0, r.text
    doc = r.json()
    assert doc["ok"] is True and doc["kept_running"] is False
    names = [s["name"] for s in doc["steps"]]
    assert names == [
        "config check",
        "env check",
        "secrets check",
        "api health",
        "worker health",
        "api round trip",
        "worker job",
        "admin with secret",
        "validate",
        "fault: slow database",
        "load: normal",
        "regressions: baseline",
        "regressions: slowdown caught",
        "regressions: improvement confirmed",
        "deploy: 1.0 goes live",
        "deploy: 2.0-broken rolled back (health check)",
        "deploy: 2.0-slow rolled back (soak statistics)",
        "store",
    ]
    assert all(s["outcome"] == "ok" for s in doc["steps"]), doc["steps"]
    assert not any(_alive(pid) for pid in doc["endpoints"]["pids"])
    # The project it wrote is a real one: the CLI accepts it as it stands.
    project = tmp_path / "redline-demo"
    assert cli("-c", str(project / "redline.yaml"), "config", "check").code == 0
    assert cli("-c", str(project / "redline.yaml"), "env", "check", "--env", "demo").code == 0
    # The run is in the embedded store, with its metrics.
    with sqlite3.connect(project / ".redline" / "redline.db") as db:
        kind, status = db.execute(
            "SELECT kind, status FROM runs WHERE id = ?", (doc["run_id"],)
        ).fetchone()
        metrics = {
            n
            for (n,) in db.execute(
                "SELECT name FROM run_metrics WHERE run_id = ?", (doc["run_id"],)
            )
        }
    assert (kind, status) == ("demo", "ok")
    assert metrics == {"api_health_ms", "worker_health_ms", "round_trip_ms", "job_ms"}
    # The validator passed the healthy system and caught the injected fault, explaining it.
    fault = next(s for s in doc["steps"] if s["name"] == "fault: slow database")
    assert [c["service"] + "/" + c["check"] for c in fault["caught"]] == ["api/items"]
    assert "more than max_latency 300 ms" in fault["caught"][0]["reason"]
    # A short run of the `normal` scenario: every scheduled request sent, judged, stored.
    load = next(s for s in doc["steps"] if s["name"] == "load: normal")["load"]
    assert load["requests"] == 60 and load["errors"] == 0 and load["dropped"] == 0
    assert load["thresholds"] and all(t["ok"] for t in load["thresholds"])
    with sqlite3.connect(project / ".redline" / "redline.db") as db:
        (load_run,) = db.execute(
            "SELECT id FROM runs WHERE kind = 'load' AND name = 'normal'"
        ).fetchone()
        (hists,) = db.execute(
            "SELECT count(*) FROM histograms WHERE run_id = ?", (load_run,)
        ).fetchone()
    assert hists >= 2  # the total per request name, and whole iterations
    # The regression story: the gate fails the slowdown and confirms the cache's gain.
    slow = next(s for s in doc["steps"] if s["name"] == "regressions: slowdown caught")["gate"]
    assert slow["verdict"] == "regressed" and "latency_p50_ms" in slow["regressed"]
    assert len(slow["candidate"]["runs"]) == 3 and len(slow["baseline"]["runs"]) == 5
    fast = next(s for s in doc["steps"] if s["name"] == "regressions: improvement confirmed")
    assert fast["gate"]["verdict"] == "pass" and "latency_p50_ms" in fast["gate"]["improved"]
    gate = cli("-c", str(project / "redline.yaml"), "gate", "catalog", "--env", "demo", "--json")
    assert gate.code == 0 and gate.json()["candidate"]["commit"] == "cac4e01", gate.text
    # The deploy story: a broken and a slower version, both rolled back to 1.0 by themselves.
    deploys = {s["name"]: s["deploy"] for s in doc["steps"] if s["name"].startswith("deploy:")}
    live, broken, slow = deploys.values()
    assert (live["exit_code"], live["state"]) == (0, "live")
    assert (broken["exit_code"], broken["rolled_back_to"]) == (3, "1.0")
    assert "api/health" in broken["reasons"][0]
    assert (slow["exit_code"], slow["rolled_back_to"]) == (3, "1.0")
    assert any("canary judge: p50_ms" in r for r in slow["reasons"]), slow["reasons"]
    releases = cli("-c", str(project / "redline.yaml"), "releases", "--env", "demo", "--json")
    assert [(r["version"], r["state"]) for r in releases.json()["releases"]] == [
        ("2.0-slow", "rolled_back"),
        ("2.0-broken", "rolled_back"),
        ("1.0", "live"),
    ]
    # The sample mistake shows what diagnostics look like.
    assert any("RL110 [unknown-dependency]" in line for line in doc["sample_mistake"])
    assert any("RL108 [bad-duration]" in line for line in doc["sample_mistake"])


def test_human_output(cli: Cli) -> None:
    r = cli("demo")
    assert r.code == 0, r.text
    assert "What redline found" in r.out
    assert "every step passed" in r.out
    assert "Stopped the demo system" in r.out
    assert "ok  worker job" in r.err


def test_keep_then_stop(cli: Cli, tmp_path: Path) -> None:
    r = cli("demo", "--keep", "--json", "--dir", "d")
    assert r.code == 0, r.text
    pids = r.json()["endpoints"]["pids"]
    try:
        assert all(_alive(pid) for pid in pids)  # outlived the command that started it
        token = (tmp_path / "d" / "system" / "admin-token").read_text().strip()
        assert token not in r.text
        again = cli("demo", "--dir", "d")
        assert again.code == 2
        assert "a demo system is already running" in again.err and "--stop" in again.err
        assert "Traceback" not in again.err
    finally:
        stopped = cli("demo", "--stop", "--dir", "d")
    assert stopped.code == 0 and "stopped the demo system" in stopped.out
    assert not any(_alive(pid) for pid in pids)
    assert "no demo system is running" in cli("demo", "--stop", "--dir", "d").out
    assert DemoSystem.endpoints_from_state(tmp_path / "d" / "system") is None
