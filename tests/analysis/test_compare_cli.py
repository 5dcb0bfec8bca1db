"""`redline compare BASE.csv CANDIDATE.csv`, run as a user runs it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from redline.cli.compare_cmd import guess_direction
from tests.helpers import CliResult

Cli = Callable[..., CliResult]


def series(
    path: Path,
    *,
    seed: int,
    latency: float = 1.0,
    rps: float = 1.0,
    n: int = 30,
    noise: float = 0.05,
) -> Path:
    """An Otava-style file: time, commit, then metric columns, one row per run."""
    rng = np.random.default_rng(seed)
    rows = ["time,commit,p99_ms,throughput,cpu_pct"]
    for i in range(n):
        rows.append(
            f"2026-01-{1 + i % 28:02d}T10:00:00Z,c{i:03d},"
            f"{100 * latency * rng.lognormal(0, noise):.3f},"
            f"{2000 * rps * rng.lognormal(0, 0.03):.1f},{40 * rng.lognormal(0, 0.05):.2f}"
        )
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return series(tmp_path / "base.csv", seed=1)


def test_a_regression_exits_1_with_a_table_and_the_reason(cli: Cli, base: Path) -> None:
    series(base.parent / "cand.csv", seed=2, latency=1.12, rps=0.9)
    r = cli("compare", "base.csv", "cand.csv")
    assert r.code == 1, r.text
    assert "Traceback" not in r.text
    lines = {line.split()[1]: line for line in r.out.splitlines() if line.startswith("│")}
    assert "REGRESSED" in lines["p99_ms"] and "REGRESSED" in lines["throughput"]
    assert "unchanged" in lines["cpu_pct"]
    assert "p99_ms (lower is better): regressed" in r.out
    assert "throughput (higher is better): regressed" in r.out
    assert "false discoveries held at 5% over 3 metrics" in r.out
    assert r.out.rstrip().endswith("REGRESSED: 2 regressed, 1 unchanged")


def test_json_output(cli: Cli, base: Path) -> None:
    series(base.parent / "cand.csv", seed=2, latency=1.12)
    doc = cli("compare", "base.csv", "cand.csv", "--json", "--column", "p99_ms").json()
    assert doc["schema_version"] == 1 and doc["regressed"] is True
    assert doc["fdr"] == {"method": "benjamini-hochberg", "q": 0.05, "tests": 1}
    assert doc["sources"] == {"baseline": "base.csv", "candidate": "cand.csv"}
    [m] = doc["metrics"]
    assert m["metric"] == "p99_ms" and m["verdict"] == "regressed"
    assert 8 < m["change_pct"] < 16 and m["interval"][0] > 0 and m["p_value"] < 1e-6
    assert m["n_baseline"] == m["n_candidate"] == 30 and m["direction"] == "lower"


def test_nothing_regressed_exits_0_and_settings_apply(cli: Cli, base: Path) -> None:
    series(base.parent / "same.csv", seed=3)
    r = cli("compare", "base.csv", "same.csv")
    assert r.code == 0, r.text
    assert "no regression" in r.out
    # a real 3 % slowdown on quiet runs: within the default 5 %, beyond a 1 % minimum
    series(base.parent / "quiet.csv", seed=6, noise=0.005)
    series(base.parent / "slight.csv", seed=2, latency=1.03, noise=0.005)
    assert cli("compare", "quiet.csv", "slight.csv", "--column", "p99_ms").code == 0
    strict = cli(
        "compare", "quiet.csv", "slight.csv", "--column", "p99_ms", "--min-effect", "1%", "--json"
    )
    assert strict.code == 1 and strict.json()["metrics"][0]["min_effect_pct"] == 1.0
    # throughput up 20 %: better by the default direction, worse when told lower is better
    series(base.parent / "fast.csv", seed=4, rps=1.2)
    assert cli("compare", "base.csv", "fast.csv", "--column", "throughput").code == 0
    told = cli("compare", "base.csv", "fast.csv", "--direction", "throughput=lower", "--json")
    verdicts = {m["metric"]: m["verdict"] for m in told.json()["metrics"]}
    assert told.code == 1 and verdicts["throughput"] == "regressed"
    off = cli("compare", "base.csv", "fast.csv", "--fdr", "0", "--json").json()
    assert off["fdr"]["method"] == "none"


def test_too_few_runs_are_inconclusive_not_a_failure(cli: Cli, base: Path) -> None:
    series(base.parent / "few.csv", seed=5, latency=1.3, n=3)
    series(base.parent / "tiny.csv", seed=6, latency=1.0, n=2)
    r = cli("compare", "tiny.csv", "few.csv", "--column", "p99_ms", "--json")
    assert r.code == 0, r.text
    [m] = r.json()["metrics"]
    assert m["verdict"] == "inconclusive" and m["runs_needed"] >= 5
    assert m["more_runs"]["candidate"] == m["runs_needed"] - 3
    # against a real baseline, three candidate runs 30 % slower are decided (Student's t)
    r = cli("compare", "base.csv", "few.csv", "--column", "p99_ms", "--json")
    [m] = r.json()["metrics"]
    assert r.code == 1 and m["verdict"] == "regressed" and m["test"].startswith("student t")


def test_units_are_converted_between_files(cli: Cli, write: Callable[..., Path]) -> None:
    write("ms.csv", "p99\n" + "".join(f"{v}ms\n" for v in (10, 11, 12, 10, 11, 12, 11, 10)))
    write("s.csv", "p99\n" + "".join(f"{v / 1000}s\n" for v in (15, 16, 17, 15, 16, 17, 16, 15)))
    doc = cli("compare", "ms.csv", "s.csv", "--json").json()
    [m] = doc["metrics"]
    assert m["unit"] == "ms" and m["candidate"] == pytest.approx(16.0)
    assert m["verdict"] == "regressed"
    write("bare.csv", "p99\n10\n11\n12\n10\n11\n")
    r = cli("compare", "ms.csv", "bare.csv")
    assert r.code == 2 and "ms.csv writes it in ms, bare.csv without a unit" in r.err


@pytest.mark.parametrize(
    ("candidate", "args", "message"),
    [
        ("p99_ms,cpu_pct\n1,2\n", (), "cand.csv: metric column 'throughput' (in base.csv)"),
        (None, ("--column", "nope"), "base.csv: no column 'nope'"),
        ("", (), "cand.csv: the file is empty"),
        ("p99_ms,throughput,cpu_pct\n1,2,x\n", (), "cand.csv:2:3: column 'cpu_pct'"),
        (
            "p99_ms,throughput,cpu_pct\n,2,3\n,4,5\n",
            (),
            "cand.csv:2: column 'p99_ms' has no values",
        ),
        (None, ("--min-effect", "5"), "did you mean 5%?"),
        (None, ("--direction", "up"), "a direction is lower, higher or none"),
        (None, ("--direction", "rps=higher"), "--direction names 'rps'"),
    ],
)
def test_bad_input_exits_2_with_the_file_and_a_hint(
    cli: Cli, base: Path, candidate: str | None, args: tuple[str, ...], message: str
) -> None:
    if candidate is None:
        series(base.parent / "cand.csv", seed=2)
    else:
        (base.parent / "cand.csv").write_text(candidate, encoding="utf-8")
    r = cli("compare", "base.csv", "cand.csv", *args)
    assert r.code == 2, r.text
    assert message in r.err and "hint:" in r.err and "Traceback" not in r.text


def test_a_column_with_no_values_and_a_missing_file(cli: Cli, write: Callable[..., Path]) -> None:
    write("a.csv", "p99,x\n10,\n11,\n12,\n")
    r = cli("compare", "a.csv", "a.csv", "--column", "x")
    assert r.code == 2 and "a.csv:2: column 'x' has no values" in r.err
    r = cli("compare", "a.csv", "missing.csv", "--json")
    assert r.code == 2 and r.json()["error"]["message"] == "missing.csv: no such file"
    r = cli("compare", "a.csv")
    assert r.code == 2 and "compare takes two files" in r.err


@pytest.mark.parametrize(
    ("name", "direction"),
    [
        ("p99_ms", "lower"),
        ("errors", "lower"),
        ("throughput", "higher"),
        ("requests_per_sec", "higher"),
        ("rps", "higher"),
        ("cache_hit_rate", "higher"),
        ("rss_mb", "lower"),
    ],
)
def test_direction_guess(name: str, direction: str) -> None:
    assert guess_direction(name) == direction
