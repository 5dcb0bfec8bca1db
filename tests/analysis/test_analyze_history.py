"""`redline analyze history NAME`: change points in the stored runs, improvements included."""

from __future__ import annotations

from pathlib import Path

from redline.store import open_store
from tests.analysis.runs import History
from tests.helpers import run_cli


def test_a_confirmed_improvement_is_a_headline(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'h.db').as_posix()}"
    with open_store(url) as store:
        h = History(store)
        for i in range(20):
            h.run(p99=100.0, commit=f"c{i:02d}", version=f"v1.{i // 10}.{i % 10}")
        for i in range(12):
            h.run(p99=79.0, commit=f"d{i:02d}", version=f"v1.3.{i}")
    r = run_cli("analyze", "history", "checkout", "--env", "staging", "--store", url, cwd=tmp_path)
    assert r.code == 0, r.text
    assert "improvement: p99_ms -21 % since v1.3.0" in r.out
    assert "confirmed over 12 runs" in r.out
    assert "rps" not in r.out.split("\n")[0]  # rps is steady: no headline
    doc = run_cli(
        "analyze", "history", "checkout", "--env", "staging", "--store", url, "--json",
        cwd=tmp_path,
    ).json()  # fmt: skip
    [p99] = [s for s in doc["series"] if s["metric"] == "p99_ms"]
    [event] = p99["change_points"]
    assert event["kind"] == "improvement" and event["index"] == 20 and event["label"] == "v1.3.0"
    assert doc["headlines"] == [line for line in r.out.splitlines() if "confirmed" in line]


def test_nothing_to_analyse_exits_2(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'h.db').as_posix()}"
    r = run_cli("analyze", "history", "checkout", "--store", url, cwd=tmp_path)
    assert r.code == 2 and "no runs of checkout on main" in r.err and "hint:" in r.err
    assert "Traceback" not in r.text
