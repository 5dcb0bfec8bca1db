"""`redline compare --baseline-runs ... --candidate-runs ...`: run sets from a real store."""

from __future__ import annotations

import random
from pathlib import Path

from redline.load import hist
from redline.store import HistogramRecord, MetricRecord, open_store
from tests.analysis.runs import History
from tests.helpers import run_cli


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{(tmp_path / 'runs.db').as_posix()}"


def test_two_run_sets_compared_metric_by_metric(tmp_path: Path) -> None:
    url = _url(tmp_path)
    with open_store(url) as store:
        h = History(store)
        base = h.baseline(n=6)
        cand = [h.run(p99=130.0, commit="feat", branch="feature") for _ in range(6)]
    r = run_cli(
        "compare", "--store", url, "--baseline-runs", ",".join(base),
        "--candidate-runs", ",".join(cand), "--json", cwd=tmp_path,
    )  # fmt: skip
    assert r.code == 1, r.text
    doc = r.json()
    verdicts = {m["metric"]: m["verdict"] for m in doc["metrics"]}
    assert verdicts["p99_ms"] == "regressed"
    assert verdicts["rps"] == "unchanged"
    assert doc["sources"]["candidate_runs"] == cand
    human = run_cli(
        "compare", "--store", url, "--baseline-runs", ",".join(base),
        "--candidate-runs", ",".join(cand), cwd=tmp_path,
    )  # fmt: skip
    assert human.code == 1 and "p99_ms" in human.out and "REGRESSED" in human.out


def _latencies(store_run: str, url: str, scale: float, seed: int) -> str:
    rng = random.Random(seed)
    h = hist.new_histogram()
    for _ in range(5000):
        h.record_value(int(rng.lognormvariate(0, 0.3) * 10_000 * scale))
    total = HistogramRecord(
        "total", hist.encode(h), hist.LOWEST_US, hist.HIGHEST_US, hist.SIGNIFICANT_DIGITS,
        h.get_total_count(),
    )  # fmt: skip
    with open_store(url) as store:
        return store.record_run(
            kind="load",
            name=store_run,
            metrics=[MetricRecord("p99_ms", 20.0 * scale, unit="ms", direction="lower")],
            histograms=[total],
        )


def test_one_run_each_compares_the_distributions_and_says_noise_is_unknown(
    tmp_path: Path,
) -> None:
    url = _url(tmp_path)
    a = _latencies("checkout", url, 1.0, seed=1)
    b = _latencies("checkout", url, 1.3, seed=2)
    r = run_cli(
        "compare", "--store", url, "--baseline-runs", a, "--candidate-runs", b, "--json",
        cwd=tmp_path,
    )  # fmt: skip
    doc = r.json()
    [dist] = doc["sources"]["distributions"]
    assert dist["metric"] == "total" and dist["advisory"] is True
    assert dist["noise_known"] is False and dist["verdict"] == "regressed"
    [p99] = doc["metrics"]
    assert p99["verdict"] == "inconclusive"  # one value a side decides nothing
    human = run_cli(
        "compare", "--store", url, "--baseline-runs", a, "--candidate-runs", b, cwd=tmp_path
    )
    assert "distribution of total: regressed (advisory)" in human.out
    assert "run-to-run noise is unknown" in human.out


def test_bad_run_sets_exit_2(tmp_path: Path) -> None:
    url = _url(tmp_path)
    with open_store(url) as store:
        base = History(store).baseline(n=3)
        other = store.record_run(
            kind="import", name="x", metrics=[MetricRecord("ops", 5.0, direction="higher")]
        )
    unknown = run_cli(
        "compare", "--store", url, "--baseline-runs", "nope", "--candidate-runs", base[0],
        cwd=tmp_path,
    )  # fmt: skip
    half = run_cli("compare", "--store", url, "--baseline-runs", base[0], cwd=tmp_path)
    disjoint = run_cli(
        "compare", "--store", url, "--baseline-runs", ",".join(base), "--candidate-runs", other,
        cwd=tmp_path,
    )  # fmt: skip
    assert unknown.code == 2 and "nope" in unknown.err
    assert half.code == 2 and "--candidate-runs" in half.err
    assert disjoint.code == 2 and "no metric in common" in disjoint.err
    for r in (unknown, half, disjoint):
        assert "Traceback" not in r.text


def test_column_narrows_a_run_set_comparison(tmp_path: Path) -> None:
    url = _url(tmp_path)
    with open_store(url) as store:
        h = History(store)
        base = h.baseline(n=6)
        cand = [h.run(p99=130.0, commit="feat", branch="feature") for _ in range(3)]
    args = ["compare", "--store", url, "--baseline-runs", ",".join(base)]
    args += ["--candidate-runs", ",".join(cand)]
    r = run_cli(*args, "--column", "rps", cwd=tmp_path)
    assert r.code == 0, r.text
    assert "rps" in r.out and "p99_ms" not in r.out
    assert "student t at alpha 0.01" in r.out  # 6 vs 3 runs: too few for ranks
    missing = run_cli(*args, "--column", "p42_ms", cwd=tmp_path)
    assert missing.code == 2 and "p42_ms" in missing.err and "hint:" in missing.err
