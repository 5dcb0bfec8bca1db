"""DeploymentValidator and `redline validate`, against real processes and servers."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from redline import load_config
from redline.validation import DeploymentValidator
from tests.helpers import CliResult

Cli = Callable[..., CliResult]

STACK = """
project: stack
store: sqlite:///.redline/redline.db
services:
  db:
    checks:
      - {name: up, command: {run: "exit 3"}}
  api:
    depends_on: [db]
    checks:
      - {name: health, command: {run: "true"}}
  edge:
    depends_on: [api]
    checks:
      - {name: health, command: {run: "true"}}
  cache:
    checks:
      - {name: ping, severity: warning, command: {run: "false"}}
  web:
    checks:
      - name: flaky
        command: {run: "false"}
        waiver: {reason: "tracked in OPS-12", until: 2999-01-01}
      - name: old
        command: {run: "false"}
        waiver: {reason: "was fixed", until: 2020-01-01}
      - {name: fine, command: {run: "echo ready", contains: ready}}
"""


def statuses(report) -> dict[str, str]:
    return {v.id: v.status for v in report.verdicts}


def test_dependencies_block_waivers_and_warnings(write: Callable[..., Path]) -> None:
    report = DeploymentValidator(load_config(write("redline.yaml", STACK), environ={})).run()
    assert statuses(report) == {
        "db/up": "fail",
        "api/health": "blocked",
        "edge/health": "blocked",
        "cache/ping": "fail",
        "web/flaky": "waived",
        "web/old": "fail",
        "web/fine": "ok",
    }
    by_id = {v.id: v for v in report.verdicts}
    assert by_id["api/health"].blocked_by == "db" and by_id["api/health"].result is None
    assert by_id["edge/health"].reason.startswith("blocked by api")
    assert "waived until 2999-01-01: tracked in OPS-12" in by_id["web/flaky"].reason
    assert "waiver expired on 2020-01-01" in by_id["web/old"].reason
    assert not by_id["cache/ping"].counts  # a warning never fails the run
    assert report.exit_code == 1
    first = report.failures_first()
    assert [v.status for v in first[:2]] == ["fail", "fail"] and first[-1].severity == "warning"


def test_could_not_measure_is_exit_2(write: Callable[..., Path]) -> None:
    path = write(
        "redline.yaml",
        """
        project: p
        services:
          slow: {checks: [{name: hang, timeout: 300ms, command: {run: "sleep 30"}}]}
          app:
            depends_on: [slow]
            checks: [{name: health, command: {run: "true"}}]
    """,
    )
    report = DeploymentValidator(load_config(path, environ={})).run()
    assert statuses(report) == {"slow/hang": "error", "app/health": "blocked"}
    by_id = {v.id: v for v in report.verdicts}
    assert "300ms" in by_id["slow/hang"].reason
    assert report.exit_code == 2  # the blocked check inherits "could not measure"


def test_wait_retries_until_it_passes(write: Callable[..., Path], tmp_path: Path) -> None:
    marker = tmp_path / "started"
    path = write(
        "redline.yaml",
        f"""
        project: p
        services:
          app: {{checks: [{{name: boot, command: {{run: "test -f {marker} || {{ touch {marker}; exit 1; }}"}}}}]}}
    """,
    )
    loaded = load_config(path, environ={})
    assert DeploymentValidator(loaded).run().exit_code == 1
    marker.unlink()
    report = DeploymentValidator(loaded).run(wait=30)
    assert report.exit_code == 0 and report.rounds == 2


def test_narrowing(write: Callable[..., Path]) -> None:
    loaded = load_config(write("redline.yaml", STACK), environ={})
    assert set(statuses(DeploymentValidator(loaded).run(services=["web"]))) == {
        "web/flaky",
        "web/old",
        "web/fine",
    }
    assert set(statuses(DeploymentValidator(loaded).run(checks=["health"]))) == {
        "api/health",
        "edge/health",
    }


def test_contract_breaks_stop_the_checks(write: Callable[..., Path]) -> None:
    path = write(
        "redline.yaml",
        """
        project: p
        environments: {prod: {}}
        variables: {TOKEN: {required: true, secret: true}}
        services: {app: {checks: [{command: {run: "true"}}]}}
    """,
    )
    report = DeploymentValidator(load_config(path, environ={}), "prod").run()
    assert report.exit_code == 5 and report.verdicts == []
    assert [d.rule for d in report.diagnostics] == ["var-missing"]


def test_cli_outputs_store_and_exit_codes(
    cli: Cli, write: Callable[..., Path], tmp_path: Path
) -> None:
    write("redline.yaml", STACK)
    r = cli("validate", "--junit", "out/junit.xml")
    assert r.code == 1, r.text
    assert "Traceback" not in r.err
    lines = r.out.splitlines()
    assert "FAIL" in r.out and "blocked" in r.out and "waived" in r.out
    assert any("fail" in line and "exit 1" in line for line in lines)
    suite = ET.parse(tmp_path / "out" / "junit.xml").getroot()
    assert (suite.get("failures"), suite.get("skipped")) == ("2", "3")
    doc = cli("validate", "--json").json()
    assert doc["schema_version"] == 1 and doc["exit_code"] == 1
    assert doc["checks"][0]["status"] == "fail"
    gh = cli("validate", "--format", "github")
    assert gh.code == 1
    assert "::error file=redline.yaml,line=6," in gh.out and "db/up: FAIL" in gh.out
    with sqlite3.connect(tmp_path / ".redline" / "redline.db") as db:
        runs = db.execute("SELECT kind, status FROM runs ORDER BY started_at").fetchall()
        metrics = db.execute("SELECT count(*) FROM run_metrics").fetchone()[0]
    assert runs == [("validation", "fail")] * 3
    assert metrics == 3 * 5  # the checks that ran, each run
    ok = cli("validate", "--service", "web", "--check", "fine", "--json")
    assert ok.code == 0 and json.loads(ok.out)["counts"] == {"ok": 1}


@pytest.mark.parametrize("wait", ["5", "soon"])
def test_bad_wait_is_a_usage_error(cli: Cli, write: Callable[..., Path], wait: str) -> None:
    write("redline.yaml", "project: p\n")
    r = cli("validate", "--wait", wait)
    assert r.code == 2 and "Invalid value for '--wait'" in r.err
