"""``redline baseline``: invoked as a user would, against a real store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from redline.store import MetricRecord, open_store
from tests.helpers import CliResult, run_cli

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _record(url: str) -> list[str]:
    """Six checkout runs in staging on main (the fifth failed) and one in prod."""
    ids = []
    with open_store(url) as store:
        for day in range(6):
            metrics = [
                MetricRecord("latency_p99_ms", 40.0 + day, unit="ms", direction="lower"),
                MetricRecord("rps", 1000.0 + day, unit="1/s", direction="higher"),
            ]
            if day % 2:
                metrics.append(MetricRecord("cache_hits", float(day), direction="higher"))
            ids.append(
                store.record_run(
                    kind="load",
                    name="checkout",
                    environment="staging",
                    branch="main",
                    version=f"1.{day // 2}",
                    commit=f"{day:040x}",
                    status="fail" if day == 4 else "ok",
                    started_at=T0 + timedelta(days=day),
                    metrics=metrics,
                )
            )
        ids.append(
            store.record_run(
                kind="load", name="checkout", environment="prod", branch="main", started_at=T0
            )
        )
    return ids


@pytest.fixture
def sqlite_store(tmp_path: Path) -> tuple[str, list[str]]:
    url = f"sqlite:///{(tmp_path / '.redline' / 'redline.db').as_posix()}"
    return url, _record(url)


def _cli(tmp_path: Path, url: str, *args: str) -> CliResult:
    return run_cli("baseline", *args, cwd=tmp_path, env={"REDLINE_STORE_URL": url})


def test_show_prints_the_rule_the_runs_and_the_medians(
    tmp_path: Path, sqlite_store: tuple[str, list[str]]
) -> None:
    url, ids = sqlite_store
    result = _cli(tmp_path, url, "show", "checkout", "--env", "staging")
    assert result.code == 0, result.text
    assert "baseline of checkout in staging: last 5 good runs on main" in result.out
    assert "last 5 good runs of checkout on main in staging" in result.out
    for run_id in (ids[0], ids[5]):
        assert run_id in result.out
    assert ids[4] not in result.out  # the failed run

    data = _cli(tmp_path, url, "show", "checkout", "--env", "staging", "--json").json()
    assert data["ok"] is True and data["rule"]["kind"] == "last_good"
    assert data["rule"] == {
        "kind": "last_good",
        "n": 5,
        "branch": "main",
        "description": "last 5 good runs on main",
    }
    assert [r["id"] for r in data["runs"]] == [ids[5], ids[3], ids[2], ids[1], ids[0]]
    assert data["runs"][0]["commit"] == f"{5:040x}" and data["runs"][0]["version"] == "1.2"
    assert data["metrics"]["latency_p99_ms"] == {
        "median": 42.0,
        "unit": "ms",
        "direction": "lower",
        "runs": 5,
        "missing_in": [],
    }
    # Recorded by only some of the runs: shown, with the runs that lack it.
    assert data["metrics"]["cache_hits"]["runs"] == 3
    assert data["metrics"]["cache_hits"]["missing_in"] == [ids[2], ids[0]]
    assert data["set"] is None


def test_set_accept_and_history(tmp_path: Path, sqlite_store: tuple[str, list[str]]) -> None:
    url, ids = sqlite_store
    result = _cli(
        tmp_path, url, "set", "checkout", "--env", "staging", "--tag", "1.0", "--reason", "GA"
    )
    assert result.code == 0, result.text
    assert (
        "baseline of checkout in staging is now: good runs of version 1.0 (2 runs today)"
        in result.out
    )
    shown = _cli(tmp_path, url, "show", "checkout", "--env", "staging", "--json").json()
    assert [r["id"] for r in shown["runs"]] == [ids[1], ids[0]]
    assert shown["set"]["reason"] == "GA"

    runs = f"{ids[2]},{ids[3]}"
    result = _cli(tmp_path, url, "set", "checkout", "--env", "staging", "--runs", runs, "--json")
    assert result.code == 0, result.text
    assert result.json()["set"]["rule"] == {"kind": "runs", "runs": [ids[2], ids[3]]}

    result = _cli(tmp_path, url, "accept", ids[3], "--reason", "new cache")
    assert result.code == 0, result.text
    assert f"accepted run {ids[3]} (checkout in staging, version 1.1" in result.out
    assert "reason: new cache; by " in result.out
    shown = _cli(tmp_path, url, "show", "checkout", "--env", "staging", "--json").json()
    assert [r["id"] for r in shown["runs"]] == [ids[5], ids[3]]
    assert "since accepted 2026-11-04 (reason: new cache)" in shown["why"]

    history = _cli(tmp_path, url, "history", "checkout", "--env", "staging", "--json").json()
    assert [h["action"] for h in history["history"]] == ["accept", "set", "set"]
    assert [h["reason"] for h in history["history"]] == ["new cache", None, "GA"]
    assert history["history"][0]["start_run_id"] == ids[3] and "@" in history["history"][0]["who"]
    text = _cli(tmp_path, url, "history", "checkout", "--env", "staging")
    assert text.code == 0 and f"accept  last 5 good runs on main from run {ids[3]}" in text.out
    assert "reason: new cache" in text.out
    empty = _cli(tmp_path, url, "history", "checkout", "--env", "prod")
    assert empty.code == 0 and "the default rule applies" in empty.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("accept", "0" * 32, "--reason", "x"), f"no run {'0' * 32} in the store"),
        (("accept", "x"), "Missing option '--reason'"),
        (("set", "checkout", "--env", "staging", "--tag", "9.9"), "have version '9.9'"),
        (("set", "checkout", "--env", "staging", "--runs", "abc"), "no run abc in the store"),
        (("set", "checkout", "--env", "staging"), "give exactly one of --last N"),
        (
            ("set", "checkout", "--env", "staging", "--last", "3", "--tag", "1"),
            "got --last and --tag",
        ),
        (("set", "checkout", "--env", "staging", "--last", "0"), "at least 1"),
        (("set", "checkout", "--env", "staging", "--runs", "a", "--branch", "b"), "--branch goes"),
        (("show", "chekout", "--env", "staging"), "no runs called chekout in staging"),
        (("show", "checkout", "--env", "staging", "--branch", "trunk"), "no good runs on trunk"),
    ],
)
def test_bad_input_exits_2_with_a_message_and_a_hint(
    tmp_path: Path, sqlite_store: tuple[str, list[str]], args: tuple[str, ...], message: str
) -> None:
    url, _ = sqlite_store
    result = _cli(tmp_path, url, *args)
    assert result.code == 2, result.text
    assert message in result.err
    assert "hint:" in result.err and "Traceback" not in result.text


def test_errors_in_json_mode_are_one_document(
    tmp_path: Path, sqlite_store: tuple[str, list[str]]
) -> None:
    url, _ = sqlite_store
    result = _cli(tmp_path, url, "accept", "nope", "--reason", "x", "--json")
    assert result.code == 2
    error = result.json()["error"]
    assert error["type"] == "DataError" and error["message"] == "no run nope in the store"
    assert "32-character" in error["hint"]


def test_a_store_with_no_runs_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'empty.db').as_posix()}"
    result = _cli(tmp_path, url, "show", "checkout", "--env", "staging")
    assert result.code == 2
    assert "no runs called checkout in staging" in result.err
    assert "the store has no runs yet" in result.err


@pytest.mark.postgres
def test_the_commands_work_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    ids = _record(pg_url)
    accepted = _cli(tmp_path, pg_url, "accept", ids[2], "--reason", "pool size", "--json")
    assert accepted.code == 0, accepted.text
    shown = _cli(tmp_path, pg_url, "show", "checkout", "--env", "staging", "--json").json()
    assert [r["id"] for r in shown["runs"]] == [ids[5], ids[3], ids[2]]
    history = _cli(tmp_path, pg_url, "history", "checkout", "--env", "staging", "--json").json()
    assert [h["reason"] for h in history["history"]] == ["pool size"]


CONFIG = """\
project: shop
environments:
  staging: {}
  qa: {}
regressions:
  main_branch: trunk
  baseline_runs: 2
"""


def test_the_default_rule_comes_from_the_config(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'r.db').as_posix()}"
    with open_store(url) as store:
        ids = [
            store.record_run(
                kind="load",
                name="checkout",
                environment=env,
                branch=branch,
                started_at=T0 + timedelta(days=day),
                metrics=[MetricRecord("p99_ms", 40.0 + day, unit="ms", direction="lower")],
            )
            for day, branch, env in [
                (0, "trunk", "staging"),
                (1, "trunk", "staging"),
                (2, "trunk", "staging"),
                (3, "main", "staging"),
                (4, "trunk", "prod"),
            ]
        ]
    (tmp_path / "redline.yaml").write_text(CONFIG, encoding="utf-8")
    shown = _cli(tmp_path, url, "show", "checkout", "--env", "staging", "--json").json()
    assert shown["rule"]["description"] == "last 2 good runs on trunk"
    assert [r["id"] for r in shown["runs"]] == [ids[2], ids[1]]
    # prod is not an environment of this config: its top-level regressions: still apply.
    history = _cli(tmp_path, url, "history", "checkout", "--env", "prod")
    assert history.code == 0, history.text
    assert "the default rule applies (last 2 good runs on trunk)" in history.out
    accepted = _cli(tmp_path, url, "accept", ids[1], "--reason", "new index", "--json").json()
    assert accepted["accepted"]["rule"] == {"kind": "last_good", "n": 2, "branch": "trunk"}
