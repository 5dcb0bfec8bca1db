"""`redline releases`: an environment's deploy history and one release explained."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from redline.store import open_store
from tests.helpers import run_cli

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _history(url: str) -> list[str]:
    with open_store(url) as store:
        good = store.record_release(
            environment="prod", version="1.3.0", services=["api"], state="live",
            who_user="ana", who_host="ci-1", started_at=T0, finished_at=T0 + timedelta(seconds=42),
        )  # fmt: skip
        bad = store.record_release(
            environment="prod", version="1.4.0", services=["api"], state="rolled_back",
            previous_release_id=good, who_user="ana", who_host="ci-1",
            started_at=T0 + timedelta(hours=1), finished_at=T0 + timedelta(hours=1, seconds=80),
            reason="soak: p95 312 ms > 300 ms in 2 of 3 intervals (failed 2 > failure_limit 1)",
            steps=[
                {"name": "recipe: deploy", "outcome": "ok", "seconds": 3.2, "output": "done"},
                {"name": "verify: soak", "outcome": "failed", "seconds": 60.0},
            ],
        )  # fmt: skip
        other = store.record_release(environment="staging", version="1.4.0", state="live")
    return [good, bad, other]


def test_the_history_newest_first_with_known_good(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'r.db').as_posix()}"
    good, bad, _ = _history(url)
    r = run_cli("releases", "--env", "prod", "--store", url, cwd=tmp_path)
    assert r.code == 0, r.text
    lines = [line for line in r.out.splitlines() if "1.3.0" in line or "1.4.0" in line]
    assert "1.4.0" in lines[0] and "rolled_back" in lines[0]
    assert "1.3.0" in lines[1] and "live" in lines[1] and "yes" in lines[1]
    doc = run_cli("releases", "--env", "prod", "--store", url, "--json", cwd=tmp_path).json()
    assert [x["id"] for x in doc["releases"]] == [bad, good]
    assert [x["known_good"] for x in doc["releases"]] == [False, True]


def test_show_explains_one_release(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'r.db').as_posix()}"
    _, bad, _ = _history(url)
    r = run_cli("releases", "show", bad, "--store", url, cwd=tmp_path)
    assert r.code == 0, r.text
    assert "1.4.0 to prod, rolled_back" in r.out
    assert "replaced: 1.3.0" in r.out and "failed 2 > failure_limit 1" in r.out
    assert "2. verify: soak: failed in 60.00s" in r.out
    doc = run_cli("releases", "show", bad, "--store", url, "--json", cwd=tmp_path).json()
    assert doc["release"]["steps"][0]["name"] == "recipe: deploy"


def test_bad_input_exits_2(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'r.db').as_posix()}"
    no_env = run_cli("releases", "--store", url, cwd=tmp_path)
    unknown = run_cli("releases", "show", "nope", "--store", url, cwd=tmp_path)
    empty = run_cli("releases", "--env", "prod", "--store", url, cwd=tmp_path)
    assert no_env.code == 2 and "--env" in no_env.err
    assert unknown.code == 2 and "no release 'nope'" in unknown.err and "hint:" in unknown.err
    assert empty.code == 0 and "no releases of prod" in empty.out
    for r in (no_env, unknown, empty):
        assert "Traceback" not in r.text
