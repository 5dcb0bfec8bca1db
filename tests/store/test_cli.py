"""``redline store info`` and ``redline store upgrade``, run as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from redline.store import MetricRecord, open_store
from redline.store.migrate import HEAD_REVISION, known_revisions

from .conftest import run_cli


def test_info_does_not_create_a_missing_sqlite_store(tmp_path: Path) -> None:
    path = tmp_path / ".redline" / "redline.db"
    result = run_cli("store", "info", "--json", "--store", f"sqlite:///{path}")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["exists"] is False and info["revision"] is None and info["backend"] == "sqlite"
    assert not path.exists() and not path.parent.exists()


def test_upgrade_then_info(store_url: str) -> None:
    upgraded = run_cli("store", "upgrade", "--json", "--store", store_url)
    assert upgraded.returncode == 0, upgraded.stderr
    report = json.loads(upgraded.stdout)
    assert report["from"] is None and report["to"] == HEAD_REVISION
    assert report["applied"] == known_revisions()

    again = json.loads(run_cli("store", "upgrade", "--json", "--store", store_url).stdout)
    assert again["from"] == again["to"] == HEAD_REVISION and again["applied"] == []

    with open_store(store_url) as store:
        store.record_run(kind="demo", name="tour", metrics=[MetricRecord("p99_ms", 3.0)])

    result = run_cli("store", "info", "--json", "--store", store_url)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["ok"] is True and info["exists"] is True
    assert info["revision"] == info["head"] == HEAD_REVISION and info["up_to_date"] is True
    assert info["rows"] == {
        "baselines": 0,
        "deploy_locks": 0,
        "histograms": 0,
        "lock_events": 0,
        "releases": 0,
        "run_metrics": 1,
        "runs": 1,
        "samples": 0,
    }


def test_info_as_text_takes_the_url_from_the_environment(sqlite_url: str) -> None:
    open_store(sqlite_url).close()
    result = run_cli("store", "info", env={"REDLINE_STORE_URL": sqlite_url})
    assert result.returncode == 0, result.stderr
    assert sqlite_url in result.stdout
    assert f"{HEAD_REVISION} (head {HEAD_REVISION})" in result.stdout
    assert "run_metrics" in result.stdout


def test_unreachable_store_exits_2_without_the_password(closed_port: int) -> None:
    url = f"postgresql://redline:hunter2-secret@127.0.0.1:{closed_port}/redline"
    result = run_cli("store", "info", "--json", "--store", url)
    assert result.returncode == 2
    assert "hunter2-secret" not in result.stdout + result.stderr
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "StoreUnavailableError"
    assert f"redline:***@127.0.0.1:{closed_port}" in error["message"]
    assert "Traceback" not in result.stderr


def test_store_from_a_newer_redline_exits_2(store_url: str) -> None:
    with open_store(store_url) as store, store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_newer'"))
    for command in ("info", "upgrade"):
        result = run_cli("store", command, "--store", store_url)
        assert result.returncode == 2
        assert "9999_newer" in result.stderr and "upgrade redline" in result.stderr
        assert "Traceback" not in result.stderr
