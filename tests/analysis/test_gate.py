"""`redline gate`: a regression exits 1, no regression 0, could-not-decide 2, on real stores."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from redline._errors import DataError
from redline.analysis.baseline import BaselineRule
from redline.analysis.gate import GatePolicy, MetricPolicy, run_gate
from redline.store import Store, open_store
from tests.analysis.runs import History
from tests.helpers import run_cli


def test_a_regressed_commit_fails_the_gate(store: Store) -> None:
    h = History(store)
    h.baseline()
    for _ in range(5):
        h.run(p99=125.0, commit="feat1", branch="feature")
    result = run_gate(store, name="checkout", environment="staging")
    assert result.verdict == "regressed" and result.exit_code == 1
    assert [m.metric for m in result.regressed] == ["p99_ms"]
    p99 = next(m for m in result.comparison.metrics if m.metric == "p99_ms")
    assert p99.change_rel is not None and 0.18 < p99.change_rel < 0.32
    assert p99.interval_rel is not None and p99.interval_rel[0] > 0.05
    assert len(result.candidate) == 5  # the commit's five runs judged together
    assert len(result.baseline.runs) == 5  # the last five good runs on main
    assert "bytes_received" not in result.gated  # no direction: compared, not gated


def test_an_unchanged_commit_passes(store: Store) -> None:
    h = History(store)
    h.baseline()
    for _ in range(6):
        h.run(p99=100.0, commit="feat2", branch="feature")
    result = run_gate(store, name="checkout", environment="staging")
    assert result.verdict == "pass", [m.reason for m in result.comparison.metrics]
    assert result.exit_code == 0
    assert {m.verdict for m in result.comparison.metrics} == {"unchanged"}


def test_one_candidate_run_far_outside_the_baseline_is_a_regression(store: Store) -> None:
    h = History(store)
    h.baseline()
    h.run(p99=160.0, commit="feat3", branch="feature")
    result = run_gate(store, name="checkout")
    assert result.verdict == "regressed"
    p99 = next(m for m in result.comparison.metrics if m.metric == "p99_ms")
    assert p99.n_candidate == 1 and p99.test is not None and "prediction" in p99.test


def test_one_candidate_run_inside_the_noise_is_unchanged_or_undecided_never_regressed(
    store: Store,
) -> None:
    h = History(store)
    h.baseline()
    h.run(p99=101.0, commit="feat4", branch="feature")
    result = run_gate(store, name="checkout")
    assert result.verdict != "regressed"
    assert result.exit_code in (0, 2)


def test_an_improvement_is_reported_and_passes(store: Store) -> None:
    h = History(store)
    h.baseline()
    for _ in range(5):
        h.run(p99=70.0, rps=1300.0, commit="feat5", branch="feature")
    result = run_gate(store, name="checkout")
    assert result.verdict == "pass"
    assert {m.metric for m in result.improved} == {"p99_ms", "rps"}


def test_a_minimum_effect_keeps_a_small_real_change_from_failing(store: Store) -> None:
    h = History(store)
    h.baseline()
    for _ in range(6):
        h.run(p99=108.0, commit="feat6", branch="feature", noise=0.005)
    strict = run_gate(store, name="checkout")
    assert strict.verdict == "regressed"  # 8 % > the default 5 %
    lenient = GatePolicy(metrics={"p99_*": MetricPolicy(min_effect_rel=0.15)})
    result = run_gate(store, name="checkout", policy=lenient)
    assert result.verdict == "pass"
    p99 = next(m for m in result.comparison.metrics if m.metric == "p99_ms")
    assert p99.verdict == "unchanged" and "within" in p99.reason


def test_no_baseline_is_could_not_decide(store: Store) -> None:
    h = History(store)
    h.run(p99=100.0, commit="only", branch="feature")
    with pytest.raises(DataError) as caught:
        run_gate(store, name="checkout")
    assert caught.value.exit_code == 2
    assert caught.value.hint


def test_the_candidates_own_commit_is_never_its_baseline(store: Store) -> None:
    h = History(store)
    h.baseline(n=3)
    same = [h.run(p99=100.0, commit="same", branch="main") for _ in range(3)]
    result = run_gate(store, run_ids=[same[-1]])  # one run named: its siblings are older
    assert [r.id for r in result.candidate] == [same[-1]]
    assert not {r.commit for r in result.baseline.runs} & {"same"}
    assert any("own commit" in note for note in result.notes)


def test_a_metric_missing_on_one_side_is_named(store: Store) -> None:
    h = History(store)
    h.baseline()
    for _ in range(5):
        h.run(p99=100.0, commit="feat7", branch="feature", extra={"new_metric": 1.0})
    result = run_gate(store, name="checkout")
    assert any("new_metric" in n and "only in the candidate" in n for n in result.notes)
    new = next(m for m in result.comparison.metrics if m.metric == "new_metric")
    assert new.verdict == "inconclusive"
    assert result.verdict == "undecided" and result.exit_code == 2
    relaxed = run_gate(store, name="checkout", policy=GatePolicy(inconclusive="pass"))
    assert relaxed.exit_code == 0


def test_a_baseline_by_tag_and_by_run_ids(store: Store) -> None:
    h = History(store)
    ids = h.baseline(n=6)
    for _ in range(5):
        h.run(p99=130.0, commit="feat8", branch="feature")
    by_ids = run_gate(store, name="checkout", rule=BaselineRule.runs(ids[:5]))
    assert set(by_ids.baseline.run_ids) == set(ids[:5])
    assert by_ids.verdict == "regressed"


def test_unknown_metric_and_run_are_clear(store: Store) -> None:
    h = History(store)
    h.baseline()
    h.run(p99=100.0, commit="feat9", branch="feature")
    with pytest.raises(DataError, match="no metric matches 'p42_ms'"):
        run_gate(store, name="checkout", metrics=["p42_ms"])
    with pytest.raises(DataError):
        run_gate(store, run_ids=["nope"])


# -- the command ------------------------------------------------------------------------


def _project(tmp_path: Path, regressions: str = "") -> tuple[Path, str]:
    url = f"sqlite:///{(tmp_path / 'gate.db').as_posix()}"
    (tmp_path / "redline.yaml").write_text(
        f"project: shop\nstore: {url}\nenvironments:\n  staging: {{}}\n{regressions}",
        encoding="utf-8",
    )
    return tmp_path, url


def _regressed_store(url: str) -> None:
    with open_store(url) as store:
        h = History(store)
        h.baseline()
        for _ in range(5):
            h.run(p99=125.0, commit="feat1", branch="feature")


def test_cli_exit_codes_and_reports(tmp_path: Path) -> None:
    cwd, url = _project(tmp_path)
    _regressed_store(url)
    r = run_cli(
        "gate", "checkout", "--env", "staging", "--junit", "out/gate.xml",
        "--markdown", "out/gate.md", cwd=cwd,
    )  # fmt: skip
    assert r.code == 1, r.text
    assert "FAIL: regressed: p99_ms" in r.out
    assert "Traceback" not in r.text
    md = (cwd / "out" / "gate.md").read_text()
    assert "| metric | baseline | candidate | change | interval | verdict |" in md
    assert "p99_ms" in md and "regressed" in md
    suite = ET.parse(cwd / "out" / "gate.xml").getroot()
    assert suite.get("failures") == "1"
    failed = [c.get("name") for c in suite if c.find("failure") is not None]
    assert failed == ["p99_ms"]
    j = run_cli("gate", "checkout", "--env", "staging", "--json", cwd=cwd)
    data = json.loads(j.out)
    assert j.code == 1 and data["verdict"] == "regressed" and data["regressed"] == ["p99_ms"]
    assert data["schema_version"] == 1 and data["fdr"]["method"] == "benjamini-hochberg"
    gh = run_cli("gate", "checkout", "--env", "staging", "--format", "github", cwd=cwd)
    assert gh.code == 1 and "::error title=checkout: p99_ms regressed::" in gh.out


def test_cli_config_sets_the_minimum_effect(tmp_path: Path) -> None:
    section = "regressions:\n  metrics:\n    p99_ms: {min_effect: 40%}\n"
    cwd, url = _project(tmp_path, section)
    _regressed_store(url)
    r = run_cli("gate", "checkout", "--env", "staging", cwd=cwd)
    assert r.code == 0, r.text
    assert "PASS" in r.out


def test_cli_bad_input_exits_2_without_a_traceback(tmp_path: Path) -> None:
    cwd, url = _project(tmp_path)
    empty = run_cli("gate", "checkout", "--env", "staging", cwd=cwd)
    assert empty.code == 2 and "nothing to gate" in empty.err and "hint:" in empty.err
    _regressed_store(url)
    both = run_cli("gate", "checkout", "--last", "3", "--tag", "v1", cwd=cwd)
    assert both.code == 2 and "--last and --tag" in both.err
    bad = run_cli("gate", "checkout", "--min-effect", "5", cwd=cwd)
    assert bad.code == 2 and "did you mean 5%" in bad.err
    for r in (empty, both, bad):
        assert "Traceback" not in r.text


def test_a_partial_default_keeps_the_gate_on(tmp_path: Path) -> None:
    """`default: {min_effect: 3%}` alone once gated nothing: the gate always passed."""
    cwd, url = _project(tmp_path, "regressions:\n  default: {min_effect: 3%}\n")
    _regressed_store(url)
    r = run_cli("gate", "checkout", "--env", "staging", "--json", cwd=cwd)
    doc = r.json()
    assert r.code == 1 and "p99_ms" in doc["gated"] and doc["regressed"] == ["p99_ms"]


def test_a_commit_measured_on_main_keeps_a_full_baseline(store: Store) -> None:
    h = History(store)
    h.baseline(n=6)
    for _ in range(3):
        h.run(p99=100.0, commit="merge", branch="main")
    result = run_gate(store, name="checkout")
    assert len(result.candidate) == 3
    assert len(result.baseline.runs) == 5  # five earlier commits, not 5 - 2
    assert not any("own commit" in note for note in result.notes)
