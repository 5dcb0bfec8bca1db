"""Baselines: the runs a candidate is judged against, by rule, and accepted changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from redline._errors import DataError
from redline.analysis.baseline import (
    BaselineRule,
    accept_baseline,
    baseline_history,
    current_baseline,
    resolve_baseline,
    set_baseline,
)
from redline.store import MetricRecord, RunRecord, Store

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _run(store: Store, day: float, **kw: Any) -> str:
    """A load run of checkout in staging on main, ``day`` days after T0, unless told."""
    fields: dict[str, Any] = {
        "kind": "load",
        "name": "checkout",
        "environment": "staging",
        "branch": "main",
        "version": "1.0",
        "commit": f"{int(day * 10):040x}",
        "metrics": [MetricRecord("latency_p99_ms", 40.0 + day, unit="ms", direction="lower")],
    }
    fields.update(kw)
    return store.record_run(started_at=T0 + timedelta(days=day), **fields)


def _get(store: Store, run_id: str) -> RunRecord:
    run = store.get_run(run_id)
    assert run is not None
    return run


@pytest.fixture
def runs(store: Store) -> dict[str, str]:
    """Eight good main runs in staging with noise around them; their ids by label."""
    ids = {f"main{d}": _run(store, d, version=f"1.{d // 3}") for d in range(8)}
    ids["failed"] = _run(store, 6.5, status="fail")
    ids["feature"] = _run(store, 6.6, branch="feature-x")
    ids["prod"] = _run(store, 6.7, environment="prod")
    ids["validation"] = _run(store, 6.8, kind="validation")
    ids["other"] = _run(store, 6.9, name="search")
    ids["candidate"] = _run(store, 9, branch="feature-x", version="2.0")
    return ids


def test_the_default_is_the_last_five_good_main_runs_older_than_the_candidate(
    store: Store, runs: dict[str, str]
) -> None:
    baseline = resolve_baseline(store, _get(store, runs["main5"]))
    # Not main5 itself, nothing newer, no failed / other branch / env / kind / name.
    assert baseline.run_ids == tuple(runs[f"main{d}"] for d in (4, 3, 2, 1, 0))
    assert [r.id for r in baseline.runs] == list(baseline.run_ids)
    assert baseline.rule == BaselineRule("last_good", 5, "main")
    assert baseline.description == "last 5 good runs on main"
    assert baseline.why == "last 5 good runs of checkout on main in staging"
    assert baseline.entry is None

    pr = resolve_baseline(store, _get(store, runs["candidate"]))
    assert pr.run_ids == tuple(runs[f"main{d}"] for d in (7, 6, 5, 4, 3))


def test_fewer_runs_than_wanted_are_used_and_said(store: Store, runs: dict[str, str]) -> None:
    baseline = resolve_baseline(store, _get(store, runs["main2"]))
    assert baseline.run_ids == (runs["main1"], runs["main0"])
    assert baseline.why == "last 2 good runs of checkout on main in staging (of 5 wanted)"


def test_n_and_the_main_branch_are_configurable(store: Store, runs: dict[str, str]) -> None:
    candidate = _get(store, runs["candidate"])
    assert resolve_baseline(store, candidate, BaselineRule.last_good(2)).run_ids == (
        runs["main7"],
        runs["main6"],
    )
    trunk = [_run(store, 8 + i / 10, branch="trunk") for i in range(3)]
    baseline = resolve_baseline(store, candidate, BaselineRule.last_good(5, "trunk"))
    assert baseline.run_ids == tuple(reversed(trunk))
    assert "on trunk" in baseline.why and "(of 5 wanted)" in baseline.why


def test_a_tag_is_the_good_runs_of_that_version(store: Store, runs: dict[str, str]) -> None:
    baseline = resolve_baseline(store, _get(store, runs["candidate"]), BaselineRule.tag("1.1"))
    assert baseline.run_ids == (runs["main5"], runs["main4"], runs["main3"])
    assert baseline.why == "3 good runs of checkout in staging with version 1.1"


def test_an_unknown_tag_says_which_versions_exist(store: Store, runs: dict[str, str]) -> None:
    with pytest.raises(DataError) as info:
        resolve_baseline(store, _get(store, runs["candidate"]), BaselineRule.tag("9.9"))
    assert "no good runs of checkout in staging have version '9.9'" in str(info.value)
    assert info.value.hint == "versions recorded for checkout in staging: 1.0, 1.1, 1.2, 2.0"
    assert info.value.exit_code == 2


def test_a_run_set_is_exactly_those_runs(store: Store, runs: dict[str, str]) -> None:
    chosen = (runs["prod"], runs["main1"])
    baseline = resolve_baseline(store, _get(store, runs["candidate"]), BaselineRule.runs(chosen))
    assert baseline.run_ids == chosen
    assert baseline.why == f"the run set {runs['prod'][:12]}, {runs['main1'][:12]}"


def test_unknown_run_ids_are_named(store: Store, runs: dict[str, str]) -> None:
    missing = "0" * 32
    rule = BaselineRule.runs([runs["main1"], missing])
    with pytest.raises(DataError, match=f"no run {missing} in the store"):
        resolve_baseline(store, _get(store, runs["candidate"]), rule)


def test_a_run_set_of_only_the_candidate_is_no_baseline(store: Store, runs: dict[str, str]) -> None:
    candidate = _get(store, runs["candidate"])
    with pytest.raises(DataError, match="holding only that run") as info:
        resolve_baseline(store, candidate, BaselineRule.runs([candidate.id]))
    assert "--runs ID,ID" in (info.value.hint or "")


def test_the_only_run_has_no_baseline(store: Store) -> None:
    only = _get(store, _run(store, 0))
    with pytest.raises(DataError) as info:
        resolve_baseline(store, only)
    message = str(info.value)
    assert f"no baseline for run {only.id} (checkout in staging)" in message
    assert "no earlier good runs on main" in message
    assert "redline baseline set checkout --env staging --tag VERSION" in (info.value.hint or "")


def test_a_candidate_whose_earlier_runs_all_failed_has_no_baseline(store: Store) -> None:
    _run(store, 0, status="fail")
    _run(store, 1, status="error")
    _run(store, 2, branch="feature-x")
    with pytest.raises(DataError, match="no earlier good runs on main"):
        resolve_baseline(store, _get(store, _run(store, 3)))


def test_bad_rules_are_refused_with_a_hint() -> None:
    for kind, value in (
        ("last_good", 0),
        ("last_good", "5"),
        ("tag", " "),
        ("runs", ()),
        ("nope", 1),
    ):
        with pytest.raises(DataError) as info:
            BaselineRule(kind, value)
        assert info.value.hint


def test_accepting_a_run_starts_the_baseline_again_from_it(
    store: Store, runs: dict[str, str]
) -> None:
    record = accept_baseline(store, runs["main5"], reason="  new cache  ")
    assert record.action == "accept" and record.reason == "new cache"
    assert record.start_run_id == runs["main5"] and record.run_ids == [runs["main5"]]
    assert record.who and "@" in record.who

    baseline = resolve_baseline(store, _get(store, runs["candidate"]))
    # main0..main4 started before the accepted run: they are no longer used.
    assert baseline.run_ids == (runs["main7"], runs["main6"], runs["main5"])
    assert baseline.why == (
        "last 3 good runs of checkout on main in staging (of 5 wanted) "
        "since accepted 2026-11-06 (reason: new cache)"
    )
    assert baseline.entry == record
    # Other environments keep their own baselines.
    prod = resolve_baseline(store, _get(store, _run(store, 10, environment="prod")))
    assert prod.run_ids == (runs["prod"],)


def test_the_accepted_run_itself_has_no_older_baseline(store: Store, runs: dict[str, str]) -> None:
    accept_baseline(store, runs["main5"], reason="new cache")
    with pytest.raises(DataError, match="since the run accepted on 2026-11-06"):
        resolve_baseline(store, _get(store, runs["main5"]))


def test_an_accepted_run_off_the_main_branch_is_part_of_the_new_baseline(
    store: Store, runs: dict[str, str]
) -> None:
    accept_baseline(store, runs["feature"], reason="the branch's new pool is what we want")
    baseline = resolve_baseline(store, _get(store, runs["candidate"]))
    assert baseline.run_ids == (runs["main7"], runs["feature"])


def test_accept_refuses_bad_input(store: Store, runs: dict[str, str]) -> None:
    with pytest.raises(DataError, match="no run nope in the store"):
        accept_baseline(store, "nope", reason="x")
    with pytest.raises(DataError, match="needs a reason") as info:
        accept_baseline(store, runs["main1"], reason=" ")
    assert "--reason" in (info.value.hint or "")
    with pytest.raises(DataError, match="has status fail: only a good run"):
        accept_baseline(store, runs["failed"], reason="x")
    assert baseline_history(store, "checkout", "staging") == []


def test_a_set_rule_is_kept_and_used_until_the_next(store: Store, runs: dict[str, str]) -> None:
    candidate = _get(store, runs["candidate"])
    rule = BaselineRule.tag("1.0", "main")
    first = set_baseline(store, "checkout", "staging", rule, reason="GA")
    assert first.rule_kind == "tag" and first.rule_value == {"tag": "1.0", "branch": "main"}
    assert first.run_ids == [runs["main2"], runs["main1"], runs["main0"]]
    baseline = resolve_baseline(store, candidate)
    assert baseline.run_ids == (runs["main2"], runs["main1"], runs["main0"])
    assert baseline.why.endswith(f"set by {first.who} on {first.created_at:%Y-%m-%d} (reason: GA)")

    second = set_baseline(store, "checkout", "staging", BaselineRule.last_good(2))
    assert resolve_baseline(store, candidate).run_ids == (runs["main7"], runs["main6"])
    assert baseline_history(store, "checkout", "staging") == [second, first]
    # An explicit rule wins over the stored one.
    explicit = resolve_baseline(store, candidate, BaselineRule.tag("1.1"))
    assert explicit.run_ids == (runs["main5"], runs["main4"], runs["main3"])
    assert "set by" not in explicit.why  # nobody set this rule; the caller chose it


def test_set_keeps_the_start_of_an_accepted_baseline(store: Store, runs: dict[str, str]) -> None:
    accepted = accept_baseline(store, runs["main6"], reason="bigger instance")
    kept = set_baseline(store, "checkout", "staging", BaselineRule.last_good(10))
    assert (kept.start_run_id, kept.start_at) == (accepted.start_run_id, accepted.start_at)
    assert kept.run_ids == [runs["main7"], runs["main6"]]
    assert resolve_baseline(store, _get(store, runs["candidate"])).run_ids == (
        runs["main7"],
        runs["main6"],
    )
    # Accepting again keeps the N and branch of the rule in force.
    again = accept_baseline(store, runs["main7"], reason="again")
    assert again.rule_value == {"n": 10, "branch": "main"}


def test_set_refuses_what_finds_nothing(store: Store, runs: dict[str, str]) -> None:
    with pytest.raises(DataError, match="version '9.9'"):
        set_baseline(store, "checkout", "staging", BaselineRule.tag("9.9"))
    with pytest.raises(DataError, match="no run 0+ in the store"):
        set_baseline(store, "checkout", "staging", BaselineRule.runs(["0" * 32]))
    with pytest.raises(DataError, match="no runs called checkout in qa") as info:
        set_baseline(store, "checkout", "qa", BaselineRule.last_good(3))
    assert info.value.hint == (
        "runs called checkout are recorded in environments: prod, staging (choose one with --env)"
    )
    with pytest.raises(DataError, match="no runs called chekout in staging") as info:
        set_baseline(store, "chekout", "staging", BaselineRule.last_good(3))
    assert "checkout" in (info.value.hint or "") and "search" in (info.value.hint or "")
    assert baseline_history(store, "checkout", "staging") == []
    # A last-good rule may wait for its runs: no good runs on trunk yet.
    waiting = set_baseline(store, "checkout", "staging", BaselineRule.last_good(5, "trunk"))
    assert waiting.run_ids == []


def test_current_baseline_is_what_the_next_run_gets(store: Store, runs: dict[str, str]) -> None:
    now = current_baseline(store, "checkout", "staging")
    assert now.run_ids == tuple(runs[f"main{d}"] for d in (7, 6, 5, 4, 3))
    feature = current_baseline(store, "checkout", "staging", branch="feature-x")
    assert feature.run_ids == (runs["candidate"], runs["feature"])
    with pytest.raises(DataError, match="no runs called checkout in qa"):
        current_baseline(store, "checkout", "qa")


def test_runs_without_an_environment_have_their_own_baseline(store: Store) -> None:
    older = _run(store, 0, environment=None)
    _run(store, 1)  # staging
    newer = _get(store, _run(store, 2, environment=None))
    assert resolve_baseline(store, newer).run_ids == (older,)
    accept_baseline(store, newer.id, reason="no env")
    assert [r.environment for r in baseline_history(store, "checkout", None)] == [None]
    assert baseline_history(store, "checkout", "staging") == []


def test_a_default_rule_applies_only_while_none_is_stored(
    store: Store, runs: dict[str, str]
) -> None:
    candidate = _get(store, runs["candidate"])
    two = BaselineRule.last_good(2)
    assert resolve_baseline(store, candidate, default=two).run_ids == (runs["main7"], runs["main6"])
    assert current_baseline(store, "checkout", "staging", default=two).description == (
        "last 2 good runs on main"
    )
    accepted = accept_baseline(store, runs["main3"], reason="x", default=two)
    assert accepted.rule_value == {"n": 2, "branch": "main"}
    set_baseline(store, "checkout", "staging", BaselineRule.tag("1.1"))
    assert resolve_baseline(store, candidate, default=two).rule.kind == "tag"
