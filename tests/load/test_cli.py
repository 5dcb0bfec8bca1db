"""`redline load run` as a user runs it: its --json summary, --out and --csv files, its
options reaching the server, and the run recorded in the store."""

from __future__ import annotations

import csv
import io
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from redline.store import open_store
from tests.helpers import CliResult, run_cli
from tests.load.servers import Server

Cli = Callable[..., CliResult]
QUICK = ("--workers", "1", "--no-store")

SUMMARY_KEYS = {
    "requests",
    "errors",
    "dropped",
    "duration_s",
    "rps",
    "latency_ms",
    "by_request",
    "thresholds",
    "generator_saturated",
}
LATENCY_KEYS = {"p50", "p90", "p95", "p99", "p999", "max"}


def ok(result: CliResult) -> CliResult:
    assert result.code == 0, result.text
    assert "Traceback" not in result.text
    assert "Warning" not in result.err, result.err
    return result


@dataclass
class Report:
    """One run's --json, --out and --csv (a 3 s run costs 3 s: the tests share it)."""

    result: CliResult
    folder: Path
    served: int  # what the server counted


@pytest.fixture(scope="module")
def report(shared_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Report:
    """100/s for 3 s, each request taking 30 ms: the last responses arrive just after the
    third second, as real runs end."""
    shared_server.reset()
    folder = tmp_path_factory.mktemp("report")
    result = run_cli(
        "load", "run", shared_server.base + "/slow?ms=30", "--rate", "100/s",
        "--duration", "3s", "--workers", "1", "--no-store", "--json",
        "--threshold", "http_req_failed:rate<0.01",
        "--out", "results/run.json", "--csv", "series.csv", cwd=folder,
    )  # fmt: skip
    return Report(result, folder, shared_server.count)


def test_json_has_the_keys_the_issue_promises(report: Report) -> None:
    s = ok(report.result).json()
    assert set(s) >= SUMMARY_KEYS
    assert set(s["latency_ms"]) >= LATENCY_KEYS
    assert (s["requests"], s["errors"], s["dropped"]) == (300, 0, 0)
    assert s["duration_s"] >= 3.0
    assert s["rps"] > 0
    assert s["by_request"]["GET /slow?ms=30"]["requests"] == 300
    assert set(s["by_request"]["GET /slow?ms=30"]["latency_ms"]) >= LATENCY_KEYS
    assert [(t["metric_key"], t["expression"], t["ok"]) for t in s["thresholds"]] == [
        ("http_req_failed", "rate<0.01", True)
    ]
    assert s["generator_saturated"] is False
    assert 30 <= s["latency_ms"]["p50"] <= s["latency_ms"]["p99"] <= s["latency_ms"]["max"]
    assert report.served == 300


def test_text_output_reads_like_a_report(load_cli: Cli, server: Server) -> None:
    result = ok(load_cli("run", server.url, "--rate", "50/s", "--duration", "1s", *QUICK))
    assert "50 requests in" in result.out
    assert "latency (ms)" in result.out
    for key in ("p50", "p99", "p999", "max"):
        assert key in result.out


def test_out_has_series_and_encoded_histograms(report: Report) -> None:
    ok(report.result)
    document = json.loads((report.folder / "results" / "run.json").read_text(encoding="utf-8"))
    assert set(document) >= SUMMARY_KEYS
    assert document["requests"] == 300
    assert sum(row["requests"] for row in document["series"]) == 300
    # One request per iteration: the iterations' histogram would repeat the requests'.
    assert set(document["histograms"]) == {"GET /slow?ms=30"}
    assert all(h.startswith("HISTFAAA") for h in document["histograms"].values())


def test_csv_has_a_header_and_one_row_per_second(report: Report) -> None:
    """A 3 s run has three rows, also when its last responses arrive just after the third
    second: the drain is part of the last second, not a fourth "second" of a few ms whose
    rate and CPU are extrapolated from almost nothing."""
    ok(report.result)
    text = (report.folder / "series.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows, "no rows"
    assert set(rows[0]) >= {"t", "requests", "rps", "errors", "dropped", "p50_ms", "p99_ms"}
    assert [row["t"] for row in rows] == ["0", "1", "2"], rows
    assert sum(int(row["requests"]) for row in rows) == 300


def test_method_headers_and_body_reach_the_server(load_cli: Cli, server: Server) -> None:
    ok(
        load_cli(
            "run", server.base + "/echo?x=1", "--rate", "10/s", "--duration", "1s", *QUICK,
            "--method", "POST", "--header", "X-Team: red", "-H", "Content-Type: text/plain",
            "--body", "hello",
        )
    )  # fmt: skip
    log = server.log()
    assert len(log) == 10
    for entry in log:
        assert (entry["method"], entry["target"], entry["body"]) == ("POST", "/echo?x=1", "hello")
        assert entry["headers"]["x-team"] == "red"
        assert entry["headers"]["content-type"] == "text/plain"


def test_connections_runs_the_closed_model(load_cli: Cli, server: Server) -> None:
    result = ok(
        load_cli("run", server.url, "--connections", "3", "--duration", "1s", *QUICK, "--json")
    )
    s = result.json()
    stats = server.stats()
    assert s["requests"] == stats["requests"] > 0
    assert stats["accepted"] == 3


def test_short_c_is_connections_without_warnings(load_cli: Cli, server: Server) -> None:
    """`-c` names --connections on `load run`, as in wrk (its help says so); it must not
    also be --config's short flag there (click warns, and the last one wins)."""
    help_text = ok(load_cli("run", "--help"))
    assert "-c, --connections" in help_text.out
    result = ok(load_cli("run", server.url, "-c", "3", "--duration", "1s", *QUICK, "--json"))
    assert server.stats()["accepted"] == 3
    assert result.json()["requests"] == server.count


def test_two_workers_merge_into_one_summary(load_cli: Cli, server: Server) -> None:
    result = ok(
        load_cli(
            "run", server.url, "--rate", "100/s", "--duration", "1s", "--workers", "2",
            "--no-store", "--json",
        )
    )  # fmt: skip
    s = result.json()
    assert s["workers"] == 2 and s["lost_workers"] == []
    assert s["requests"] == 100 == server.count


def test_the_run_is_recorded_in_the_store(load_cli: Cli, server: Server, tmp_path: Path) -> None:
    """Without a config, runs go to .redline/redline.db in the current directory."""
    ok(
        load_cli(
            "run", server.url, "--rate", "20/s", "--duration", "1s", "--workers", "1",
            "--version", "1.4.2",
        )
    )  # fmt: skip
    database = tmp_path / ".redline" / "redline.db"
    assert database.is_file()
    with open_store(f"sqlite:///{database}") as store:
        runs = store.list_runs(kind="load")
        assert len(runs) == 1
        run = runs[0]
        assert run.name == f"adhoc {server.url}"
        assert (run.status, run.version, run.host) == ("ok", "1.4.2", socket.gethostname())
        assert run.summary["requests"] == 20
        metrics = {m.name: m.value for m in store.run_metrics(run.id)}
        assert metrics["requests"] == 20
        assert "latency_p99_ms" in metrics
        histograms = {h.name: h for h in store.histograms(run.id)}
        assert histograms["GET /"].count == 20


def test_the_store_named_by_the_config(load_cli: Cli, server: Server, tmp_path: Path) -> None:
    store_path = tmp_path / "elsewhere" / "runs.db"
    (tmp_path / "conf").mkdir()
    config = tmp_path / "conf" / "redline.yaml"
    config.write_text(f"project: shop\nstore: sqlite:///{store_path}\n", encoding="utf-8")
    ok(
        run_cli(
            "--config", str(config), "load", "run", server.url, "--rate", "20/s",
            "--duration", "1s", "--workers", "1", cwd=tmp_path,
        )
    )  # fmt: skip
    assert not (tmp_path / ".redline").exists()
    with open_store(f"sqlite:///{store_path}") as store:
        assert [r.summary["requests"] for r in store.list_runs(kind="load")] == [20]


def test_no_store_records_nothing(load_cli: Cli, server: Server, tmp_path: Path) -> None:
    ok(load_cli("run", server.url, "--rate", "20/s", "--duration", "1s", *QUICK))
    assert not (tmp_path / ".redline").exists()
