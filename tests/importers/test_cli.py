"""``redline import``, run as a user runs it: output, --json, exit codes, bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from redline.store import open_store
from tests.helpers import CliResult

from .conftest import DATA

Cli = Callable[..., CliResult]


def test_human_output_one_line_per_run_then_a_total(cli: Cli, tmp_path: Path) -> None:
    result = cli("import", "pytest-benchmark", str(DATA / "pytest_benchmark.json"), "--env", "ci")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == [
        "imported test_tiny.py",
        "imported test_tiny.py",
        "imported test_tiny.py",
    ]
    assert all("13 metrics (run " in line for line in lines[:3])
    store = tmp_path / ".redline" / "redline.db"
    assert lines[3] == (
        f"3 run(s) from {DATA / 'pytest_benchmark.json'} imported into sqlite:///{store}"
    )
    with open_store(f"sqlite:///{store}") as opened:
        assert {r.environment for r in opened.list_runs(kind="import")} == {"ci"}

    again = cli("import", "pytest-benchmark", str(DATA / "pytest_benchmark.json"), "--env", "ci")
    assert again.code == 0, again.err
    assert again.out.count("already imported as run") == 3
    assert again.out.splitlines()[-1].startswith("nothing imported: all 3 run(s)")


def test_json_report_and_the_store_option(cli: Cli, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    result = cli(
        "import", "k6", str(DATA / "k6_summary_export_v1.json"), "--store", url,
        "--name", "api", "--version", "1.2.0", "--commit", "abc123", "--branch", "main", "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    report = result.json()
    assert report["ok"] is True and report["imported"] == 1 and report["store"] == url
    (run,) = report["runs"]
    assert run["name"] == "api" and run["status"] == "imported" and run["metric_count"] == 23
    assert {"name": "http_reqs_rate", "value": 6.561089, "unit": "1/s", "direction": "higher"} in (
        run["metrics"]
    )
    assert any("p(95)<200" in w for w in report["warnings"])
    with open_store(url) as store:
        stored = store.get_run(run["run_id"])
        assert stored is not None
        assert (stored.version, stored.commit, stored.branch, stored.status) == (
            "1.2.0",
            "abc123",
            "main",
            "fail",
        )


def test_dry_run(cli: Cli, tmp_path: Path) -> None:
    result = cli("import", "locust", str(DATA / "locust_stats.csv"), "--dry-run")
    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == "would import  locust: 47 metrics"
    assert "nothing was written" in result.out
    assert not (tmp_path / ".redline").exists()


def test_the_store_of_the_config(
    cli: Cli, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    write("redline.yaml", "project: shop\nstore: sqlite:///data/perf.db\n")
    # a config without environments: --env only labels the runs
    result = cli("import", "json", str(DATA / "generic.json"), "--env", "perf-lab")
    assert result.code == 0, result.err
    with open_store(f"sqlite:///{tmp_path / 'data' / 'perf.db'}") as store:
        assert {r.environment for r in store.list_runs(kind="import")} == {"perf-lab"}


def test_env_picks_a_declared_environments_store(
    cli: Cli, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    write(
        "redline.yaml",
        "project: shop\nstore: sqlite:///main.db\n"
        "environments:\n  staging: {store: 'sqlite:///staging.db'}\n",
    )
    result = cli("import", "k6", str(DATA / "k6_handle_summary.json"), "--env", "staging")
    assert result.code == 0, result.err
    with open_store(f"sqlite:///{tmp_path / 'staging.db'}") as store:
        assert [r.environment for r in store.list_runs(kind="import")] == ["staging"]
    typo = cli("import", "k6", str(DATA / "k6_handle_summary.json"), "--env", "stagin")
    assert typo.code != 0 and "there is no environment 'stagin'" in typo.text
    assert not (tmp_path / "main.db").exists()


@pytest.mark.parametrize(
    ("kind", "name", "content", "says", "hint"),
    [
        ("k6", "missing.json", None, "missing.json: no such file", "k6 run --summary-export"),
        ("pytest-benchmark", "empty.json", "", "empty.json: the file is empty", "run it again"),
        (
            "json",
            "broken.json",
            '{"schema_version": 1,\n "runs": [\n  {"name": "a",, }\n ]\n}',
            "broken.json:3:16: invalid JSON: Expecting property name",
            "fix the file there",
        ),
        (
            "pytest-benchmark",
            "nan.json",
            '{"benchmarks": [{"name": "t", "stats": {\n  "mean": NaN}}], "machine_info": {}}',
            "nan.json:2:11: NaN is not a measured value",
            "leave out a metric",
        ),
        (
            "pytest-benchmark",
            "none.json",
            '{"machine_info": {}, "commit_info": {}, "benchmarks": []}',
            "none.json: holds no benchmarks",
            "check the tests passed",
        ),
        (
            "locust",
            "cut_stats.csv",
            "Type,Name,Request Count,Failure Count\nGET,/,1,0\n,Aggregated,1,0\n",
            "cut_stats.csv:1: the Locust stats CSV has no column Median Response Time",
            "locust --csv PREFIX",
        ),
        (
            "pytest-benchmark",
            "k6.json",
            (DATA / "k6_handle_summary.json").read_text(),
            "it looks like a k6 summary",
            "redline import k6",
        ),
    ],
)
def test_bad_input_exits_2_naming_the_file_and_the_fix(
    cli: Cli,
    tmp_path: Path,
    kind: str,
    name: str,
    content: str | None,
    says: str,
    hint: str,
) -> None:
    if content is not None:
        (tmp_path / name).write_text(content)
    result = cli("import", kind, name)
    assert result.code == 2, result.text
    assert result.out == ""
    first, second = result.err.splitlines()[:2]
    assert first.startswith(f"error: {name}") and says in first, result.err
    assert second.startswith("  hint: ") and hint in second, result.err
    assert "Traceback" not in result.err
    assert not (tmp_path / ".redline").exists()  # nothing was written, not even a store


def test_bad_input_as_json(cli: Cli) -> None:
    result = cli("import", "k6", "nowhere.json", "--json")
    assert result.code == 2
    error = json.loads(result.out)["error"]
    assert error["type"] == "DataError" and error["message"] == "nowhere.json: no such file"


def test_an_unknown_store_exits_2(cli: Cli) -> None:
    result = cli("import", "k6", str(DATA / "k6_handle_summary.json"), "--store", "mysql://x/y")
    assert result.code == 2
    assert "unsupported scheme 'mysql'" in result.err and "hint: supported schemes" in result.err


def test_an_unknown_kind_and_a_bad_direction(cli: Cli) -> None:
    result = cli("import", "jmeter", "x.jtl")
    assert result.code == 2 and "'jmeter' is not one of" in result.err
    result = cli("import", "csv", "x.csv", "--direction", "up")
    assert result.code == 2 and "write lower, higher, or COLUMN=lower|higher" in result.err


def test_csv_with_directions_and_columns(cli: Cli) -> None:
    result = cli(
        "import", "csv", str(DATA / "otava_layout.csv"), "--direction", "queue_depth=lower",
        "--column", "p99_ms", "--column", "queue_depth", "--env", "perf", "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    report = result.json()
    assert report["imported"] == 5 and report["warnings"] == []
    first = report["runs"][0]
    assert first["line"] == 2
    assert {m["name"]: m["direction"] for m in first["metrics"]} == {
        "p99_ms": "lower",
        "queue_depth": "lower",
    }
