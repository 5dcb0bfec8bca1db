"""``redline analyze changepoints``, run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import run_cli

DATA = Path(__file__).parent / "data"


def test_json_reports_each_column_with_its_change_points(tmp_path: Path) -> None:
    r = run_cli(
        "analyze", "changepoints", str(DATA / "otava.csv"), "--json",
        "--direction", "throughput=higher", cwd=tmp_path,
    )  # fmt: skip
    assert r.code == 0, r.text
    doc = r.json()
    assert doc["schema_version"] == 1
    by_column = {s["column"]: s for s in doc["series"]}
    assert set(by_column) == {"p99_ms", "throughput"}
    (cp,) = by_column["p99_ms"]["change_points"]
    assert abs(cp["index"] - 40) <= 2 and cp["kind"] == "regression"
    assert {"before", "after", "change_pct", "p_value", "effect_low", "effect_high"} <= set(cp)
    assert cp["line"] == cp["index"] + 2 and cp["commit"] == cp["label"]
    (tp,) = by_column["throughput"]["change_points"]
    assert tp["kind"] == "regression" and tp["change_pct"] < 0  # throughput fell
    assert by_column["p99_ms"]["trend"]["per"] == "week"


def test_human_output_is_a_table_per_column(tmp_path: Path) -> None:
    r = run_cli("analyze", "changepoints", str(DATA / "otava.csv"), "--column", "p99_ms",
                cwd=tmp_path)  # fmt: skip
    assert r.code == 0, r.text
    assert "p99_ms: 60 points" in r.out and "regression" in r.out and "trend" in r.out
    assert "throughput" not in r.out


def test_no_change_and_a_constant_series_exit_zero(tmp_path: Path) -> None:
    r = run_cli("analyze", "changepoints", str(DATA / "plain.txt"), cwd=tmp_path)
    assert r.code == 0 and "no change point" in r.out
    flat = tmp_path / "flat.csv"
    flat.write_text("p99\n" + "7\n" * 12)
    r = run_cli("analyze", "changepoints", str(flat), "--json", cwd=tmp_path)
    assert r.code == 0
    (series,) = r.json()["series"]
    assert series["constant"] and series["change_points"] == []
    assert "constant" in series["notes"][0]


def test_bad_input_exits_2_with_where_and_how(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("time,p99\n2026-01-01,1\n2026-01-02,x\n")
    one = tmp_path / "one.csv"
    one.write_text("p99\n3\n")
    cases = [
        ([str(tmp_path / "missing.csv")], "missing.csv: no such file"),
        ([str(bad)], "bad.csv:3:2: column 'p99': 'x' is not a number"),
        ([str(one)], "one.csv:2: column 'p99' has 1 value"),
        ([str(DATA / "otava.csv"), "--column", "p42"], "no column 'p42'"),
        ([str(DATA / "otava.csv"), "--direction", "up"], "expected lower, higher or none"),
    ]
    for args, message in cases:
        r = run_cli("analyze", "changepoints", *args, cwd=tmp_path)
        assert r.code == 2, (args, r.text)
        assert message in r.err and "hint:" in r.err and "Traceback" not in r.text
    r = run_cli("analyze", "changepoints", str(bad), "--json", cwd=tmp_path)
    assert r.code == 2 and r.json()["ok"] is False and r.json()["error"]["type"] == "DataError"


def test_duplicate_timestamps_are_a_note_not_an_error(tmp_path: Path) -> None:
    dup = tmp_path / "dup.csv"
    rows = [f"2026-01-{1 + i // 2:02d}T00:00:00Z,{10 + (i >= 20) * 5}" for i in range(40)]
    dup.write_text("time,p99\n" + "\n".join(rows) + "\n")
    r = run_cli("analyze", "changepoints", str(dup), cwd=tmp_path)
    assert r.code == 0 and "note:" in r.err and "more than once" in r.err
    assert "regression" in r.out


def test_the_command_path_imports_no_heavy_library(tmp_path: Path) -> None:
    # Cold start budget: scipy, SQLAlchemy and pydantic stay off this path.
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDLINE_")}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "redline", "analyze", "changepoints",
         str(DATA / "otava.csv"), "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines()}
    assert "numpy" in imported  # the measurement itself is real
    assert not {"scipy", "sqlalchemy", "pydantic", "rich"} & imported
