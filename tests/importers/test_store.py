"""Importing into the real stores: SQLite in tmp_path and PostgreSQL on 127.0.0.1:5432."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from redline._errors import DataError, StoreError, StoreUnavailableError
from redline.importers import import_results, parse_results
from redline.store import open_store
from redline.store.core import Store

from .conftest import DATA


def _runs(url: str) -> list[Any]:
    with open_store(url) as store:
        return store.list_runs(kind="import", limit=None)


def test_every_benchmark_becomes_a_run_with_its_metrics(store_url: str) -> None:
    report = import_results(
        "pytest-benchmark", DATA / "pytest_benchmark.json", store_url=store_url, environment="ci"
    )
    assert (report.imported, report.skipped, report.dry_run) == (3, 0, False)
    parsed = {r.name: r for r in parse_results("pytest-benchmark", DATA / "pytest_benchmark.json")}
    with open_store(store_url) as store:
        for outcome in report.runs:
            assert outcome.run_id is not None
            run = store.get_run(outcome.run_id)
            assert run is not None
            assert (run.kind, run.name, run.environment, run.status) == (
                "import",
                outcome.name,
                "ci",
                "ok",
            )
            assert run.commit == parsed[run.name].commit and run.branch == "master"
            assert run.started_at == parsed[run.name].started_at
            assert run.summary["source"]["tool"] == "pytest-benchmark"
            assert run.summary["source"]["fingerprint"] == parsed[run.name].fingerprint
            stored = store.run_metrics(run.id)
            assert sorted(stored, key=lambda m: m.name) == sorted(
                parsed[run.name].metrics, key=lambda m: m.name
            )


def test_the_same_file_twice_is_skipped_and_force_imports_it_again(store_url: str) -> None:
    path = DATA / "locust_stats.csv"
    first = import_results("locust", path, store_url=store_url)
    again = import_results("locust", path, store_url=store_url)
    assert (first.imported, again.imported, again.skipped) == (1, 0, 1)
    assert again.runs[0].duplicate_of == first.runs[0].run_id
    assert len(_runs(store_url)) == 1
    forced = import_results("locust", path, store_url=store_url, force=True)
    assert forced.imported == 1 and forced.runs[0].run_id != first.runs[0].run_id
    assert len(_runs(store_url)) == 2


def test_a_changed_file_under_the_same_name_is_a_new_result(
    sqlite_url: str, data_file: Callable[..., Path]
) -> None:
    path = data_file("k6_summary_export.json", "api.json")
    import_results("k6", path, store_url=sqlite_url)
    path.write_text(path.read_text().replace("144.56", "150.01"))
    assert import_results("k6", path, store_url=sqlite_url).imported == 1
    assert len(_runs(sqlite_url)) == 2


def test_dry_run_writes_nothing_and_does_not_create_the_store(tmp_path: Path) -> None:
    db = tmp_path / "new" / "redline.db"
    url = f"sqlite:///{db}"
    report = import_results("json", DATA / "generic.json", store_url=url, dry_run=True)
    assert report.dry_run and report.planned == 2 and report.imported == 0
    assert not db.exists() and not db.parent.exists()
    import_results("json", DATA / "generic.json", store_url=url)
    again = import_results("json", DATA / "generic.json", store_url=url, dry_run=True)
    assert (again.planned, again.skipped) == (0, 2)
    assert len(_runs(url)) == 2


def test_a_file_bad_half_way_imports_nothing(sqlite_url: str, tmp_path: Path) -> None:
    raw = json.loads((DATA / "pytest_benchmark.json").read_text())
    raw["benchmarks"][2]["stats"]["mean"] = None
    del raw["benchmarks"][2]["stats"]["min"]
    raw["benchmarks"][2]["stats"]["max"] = "slow"
    path = tmp_path / "half.json"
    path.write_text(json.dumps(raw))
    open_store(sqlite_url).close()
    with pytest.raises(DataError, match=r"benchmarks\[2\]\.stats: max is 'slow'"):
        import_results("pytest-benchmark", path, store_url=sqlite_url)
    assert _runs(sqlite_url) == []


def test_a_store_failing_half_way_says_so_and_the_rerun_completes(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = Store.record_run
    calls = {"n": 0}

    def flaky(self: Store, **kw: Any) -> str:
        calls["n"] += 1
        if calls["n"] == 2:
            raise StoreUnavailableError("cannot open the store: connection refused")
        return real(self, **kw)

    monkeypatch.setattr(Store, "record_run", flaky)
    path = DATA / "pytest_benchmark.json"
    with pytest.raises(StoreError) as caught:
        import_results("pytest-benchmark", path, store_url=sqlite_url)
    assert "after 1 of 3 runs" in caught.value.message
    assert caught.value.hint is not None and "run the same import again" in caught.value.hint
    monkeypatch.setattr(Store, "record_run", real)
    rerun = import_results("pytest-benchmark", path, store_url=sqlite_url)
    assert (rerun.imported, rerun.skipped) == (2, 1)
    assert len(_runs(sqlite_url)) == 3


def test_commit_and_branch_from_ci_variables(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_SHA", "feedface" * 5)
    monkeypatch.setenv("GITHUB_REF_NAME", "release-2")
    report = import_results("locust", DATA / "locust_stats.csv", store_url=sqlite_url)
    (run,) = _runs(sqlite_url)
    assert (run.commit, run.branch, run.host) == ("feedface" * 5, "release-2", socket.gethostname())
    assert report.runs[0].run_id == run.id
    # what the file says wins over CI (pytest-benchmark's commit_info) ...
    import_results("pytest-benchmark", DATA / "pytest_benchmark.json", store_url=sqlite_url)
    bench = [r for r in _runs(sqlite_url) if r.name.startswith("test_tiny")]
    assert {r.branch for r in bench} == {"master"}
    # ... and the caller wins over both
    import_results("k6", DATA / "k6_handle_summary.json", store_url=sqlite_url, commit="c0ffee")
    (k6,) = [r for r in _runs(sqlite_url) if r.name == "k6_handle_summary"]
    assert (k6.commit, k6.branch) == ("c0ffee", "release-2")


def test_commit_and_branch_from_the_git_repository_of_the_file(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_file: Callable[..., Path]
) -> None:
    monkeypatch.delenv("GITHUB_SHA", raising=False)
    monkeypatch.delenv("GITHUB_REF_NAME", raising=False)
    git = ["git", "-C", str(tmp_path), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", "-b", "perf"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    head = subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    path = data_file("k6_summary_export.json", "k6.json")
    import_results("k6", path, store_url=sqlite_url)
    (run,) = _runs(sqlite_url)
    assert (run.commit, run.branch) == (head, "perf")


def test_history_files_are_not_given_the_current_commit(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_SHA", "feedface" * 5)
    import_results("json", DATA / "generic.json", store_url=sqlite_url)
    assert sorted(r.commit for r in _runs(sqlite_url)) == ["9f1c2e7", "a41b9d0"]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://u@127.0.0.1/x", "unsupported scheme 'mysql'"),
        ("postgresql://nobody@127.0.0.1:{port}/x", "connection refused"),
    ],
)
def test_an_unknown_or_unreachable_store(url: str, says: str, closed_port: int) -> None:
    with pytest.raises(StoreUnavailableError, match=says):
        import_results(
            "k6", DATA / "k6_handle_summary.json", store_url=url.format(port=closed_port)
        )


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
