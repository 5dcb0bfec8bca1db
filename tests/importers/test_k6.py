"""k6's end-of-test summary JSON.

k6 cannot be installed here (it is a Go binary outside the package registries this
project can reach), so the fixtures are written to k6's documented export shapes:
``k6_summary_export.json`` is ``--summary-export`` of k6 before 1.0 (the values of
k6's end-of-test docs example), ``k6_summary_export_v1.json`` the same export from
k6 1.0 on (thresholds at the top, a rate's fraction as ``rate``), and
``k6_handle_summary.json`` the ``data`` object of ``handleSummary`` written with
``JSON.stringify(data)``. The shapes follow k6's ``summary-wrapper.js``
(``oldJSONSummary`` and ``jsonSummary``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from redline._errors import DataError
from redline.importers import parse_results

from .conftest import DATA


def _metrics(name: str) -> dict[str, tuple[float, str | None, str]]:
    (run,) = parse_results("k6", DATA / name)
    return {m.name: (m.value, m.unit, m.direction) for m in run.metrics}


def test_summary_export_trends_counters_rates_and_gauges() -> None:
    (run,) = parse_results("k6", DATA / "k6_summary_export.json")
    assert run.name == "k6_summary_export" and run.status == "ok"
    m = {x.name: (x.value, x.unit, x.direction) for x in run.metrics}
    assert m["http_req_duration_mean_ms"] == (144.56, "ms", "lower")
    assert m["http_req_duration_p50_ms"] == (110.47, "ms", "lower")
    assert m["http_req_duration_p95_ms"] == (215.95, "ms", "lower")
    assert m["http_req_duration{expected_response:true}_p90_ms"] == (203.54, "ms", "lower")
    assert m["http_reqs_count"] == (180, None, "none")
    assert m["http_reqs_rate"] == (4.36938, "1/s", "higher")
    assert m["http_req_failed_rate"] == (0, None, "lower")
    assert m["checks_rate"] == (1, None, "higher")
    assert m["data_received_count"] == (1301252, "bytes", "none")
    assert m["vus_max"] == (19, None, "none")
    assert m["vus_max_value"] == (20, None, "none")
    summary = dict(run.summary)
    assert summary["format"] == "summary-export"
    assert summary["thresholds"] == {
        "http_req_duration": {"p(95)<500": "ok"},
        "http_req_failed": {"rate<0.01": "ok"},
    }


def test_k6_1_export_with_a_crossed_threshold_is_a_failed_run() -> None:
    from redline.importers._common import Options, read_source
    from redline.importers.k6 import parse

    parsed = parse(read_source("k6", DATA / "k6_summary_export_v1.json"), Options(name="api"))
    (run,) = parsed.runs
    assert run.name == "api" and run.status == "fail"
    assert dict(run.summary)["thresholds"]["http_req_duration"] == {"p(95)<200": "crossed"}
    assert any("p(95)<200" in w for w in parsed.warnings)
    m = {x.name: (x.value, x.unit, x.direction) for x in run.metrics}
    assert m["checks_rate"] == (pytest.approx(0.977777), None, "higher")
    assert m["http_req_duration_p99_ms"] == (301.5, "ms", "lower")
    # a custom trend whose name says time is taken as milliseconds
    assert m["custom_waiting_time_p99_ms"] == (512.1, "ms", "lower")


def test_handle_summary_data_uses_type_and_contains() -> None:
    (run,) = parse_results("k6", DATA / "k6_handle_summary.json")
    m = {x.name: (x.value, x.unit, x.direction) for x in run.metrics}
    assert dict(run.summary)["format"] == "handleSummary"
    assert dict(run.summary)["duration_ms"] == 30012.481
    assert m["payload_build_p95_ms"] == (3.6, "ms", "lower")  # contains: time
    assert m["cart_items_p95"] == (7, None, "none")  # contains: default, a count
    assert m["http_req_failed_rate"] == (0, None, "lower")
    assert run.status == "ok"


def test_a_failed_threshold_in_handle_summary(tmp_path: Path) -> None:
    raw = json.loads((DATA / "k6_handle_summary.json").read_text())
    raw["metrics"]["http_req_duration"]["thresholds"]["p(95)<500"]["ok"] = False
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(raw))
    (run,) = parse_results("k6", path)
    assert run.status == "fail"


def test_no_metrics(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text('{"root_group": {}, "metrics": {}}')
    with pytest.raises(DataError, match="the k6 summary has no metrics"):
        parse_results("k6", path)


def test_a_pytest_benchmark_file_given_as_k6() -> None:
    with pytest.raises(DataError) as caught:
        parse_results("k6", DATA / "pytest_benchmark.json")
    assert "not a k6 summary" in caught.value.message
    assert "it looks like a pytest-benchmark JSON file" in caught.value.message
    assert caught.value.hint == (
        f"import it with `redline import pytest-benchmark {DATA / 'pytest_benchmark.json'}`"
    )


def test_a_k6_file_given_as_pytest_benchmark() -> None:
    path = DATA / "k6_summary_export.json"
    with pytest.raises(DataError) as caught:
        parse_results("pytest-benchmark", path)
    assert caught.value.message == (
        f"{path}: not a pytest-benchmark JSON file (--benchmark-json): it has no 'benchmarks' "
        "list; it looks like a k6 summary (--summary-export or handleSummary JSON)"
    )
    assert caught.value.hint == f"import it with `redline import k6 {path}`"
