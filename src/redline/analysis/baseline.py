"""Baselines: which earlier runs a candidate run is judged against, and why.

A rule chooses them. The default is the last 5 good runs (status ``ok``) of the same
name, kind and environment on the main branch, older than the candidate; a team may
instead name a version (``tag``: the good runs whose ``version`` is it) or an explicit
set of runs. A rule set for a (name, environment) is stored, with who set it, when
and why, and stays in force until the next one.

Accepting a run (an expected change: a new cache, a bigger instance) starts a new
baseline from it: under the ``last_good`` rule, runs that started before it are no
longer used, for that name and environment, until another run is accepted.

>>> baseline = resolve_baseline(store, candidate)                    # doctest: +SKIP
>>> baseline.why                                                     # doctest: +SKIP
'last 5 good runs of checkout on main in staging since accepted 2026-11-20 (reason: new cache)'
>>> accept_baseline(store, candidate.id, reason="new cache")         # doctest: +SKIP
"""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final

from redline._errors import DataError
from redline.analysis.history import unknown_runs_error

if TYPE_CHECKING:
    from redline.store.baselines import BaselineRecord
    from redline.store.core import Store
    from redline.store.records import RunRecord

__all__ = [
    "DEFAULT_BRANCH",
    "DEFAULT_LAST",
    "Baseline",
    "BaselineRule",
    "accept_baseline",
    "baseline_history",
    "current_baseline",
    "resolve_baseline",
    "set_baseline",
]

DEFAULT_LAST: Final = 5
DEFAULT_BRANCH: Final = "main"


@dataclass(frozen=True, slots=True)
class BaselineRule:
    """How a baseline is chosen.

    - ``last_good``: ``value`` = N, the last N good runs on ``branch`` (the main branch);
    - ``tag``: ``value`` = a version; the good runs with that version (on ``branch``,
      if one is given);
    - ``runs``: ``value`` = a tuple of run ids, exactly those runs.

    >>> BaselineRule().describe()
    'last 5 good runs on main'
    >>> BaselineRule("tag", "v1.2", branch=None).describe()
    'good runs of version v1.2'
    """

    kind: str = "last_good"
    value: int | str | tuple[str, ...] = DEFAULT_LAST
    branch: str | None = DEFAULT_BRANCH

    def __post_init__(self) -> None:
        if self.kind == "last_good":
            if isinstance(self.value, bool) or not isinstance(self.value, int) or self.value < 1:
                raise DataError(
                    f"a last-good baseline needs a number of runs of at least 1, "
                    f"got {self.value!r}",
                    hint="e.g. --last 5",
                )
        elif self.kind == "tag":
            if not isinstance(self.value, str) or not self.value.strip():
                raise DataError(
                    f"a tag baseline needs a version, got {self.value!r}", hint="e.g. --tag v1.2"
                )
        elif self.kind == "runs":
            ids = (self.value,) if isinstance(self.value, str) else self.value
            if not isinstance(ids, tuple) or not ids or not all(isinstance(i, str) for i in ids):
                raise DataError(
                    f"a run-set baseline needs at least one run id, got {self.value!r}",
                    hint="e.g. --runs ID,ID",
                )
            object.__setattr__(self, "value", tuple(i.strip() for i in ids))
        else:
            raise DataError(
                f"unknown baseline rule {self.kind!r}",
                hint="use one of last_good, tag, runs",
            )

    @classmethod
    def last_good(cls, n: int = DEFAULT_LAST, branch: str = DEFAULT_BRANCH) -> BaselineRule:
        return cls("last_good", n, branch)

    @classmethod
    def tag(cls, version: str, branch: str | None = None) -> BaselineRule:
        return cls("tag", version, branch)

    @classmethod
    def runs(cls, run_ids: tuple[str, ...] | list[str]) -> BaselineRule:
        return cls("runs", tuple(run_ids), None)

    @property
    def n(self) -> int:
        assert isinstance(self.value, int)
        return self.value

    @property
    def run_ids(self) -> tuple[str, ...]:
        assert isinstance(self.value, tuple)
        return self.value

    def describe(self) -> str:
        """The rule in a few words."""
        on = f" on {self.branch}" if self.branch else ""
        if self.kind == "last_good":
            return f"last {self.value} good run{'s' if self.value != 1 else ''}{on}"
        if self.kind == "tag":
            return f"good runs of version {self.value}{on}"
        return f"the run set {', '.join(_short(i) for i in self.run_ids)}"

    def to_json(self) -> dict[str, Any]:
        """The rule as a plain document (what the store keeps as ``rule_value``)."""
        if self.kind == "last_good":
            return {"n": self.value, "branch": self.branch}
        if self.kind == "tag":
            return {"tag": self.value, "branch": self.branch}
        return {"runs": list(self.run_ids)}

    @classmethod
    def from_record(cls, record: BaselineRecord) -> BaselineRule:
        """The rule a stored baseline row holds."""
        value = record.rule_value
        if record.rule_kind == "last_good":
            return cls("last_good", int(value["n"]), value.get("branch"))
        if record.rule_kind == "tag":
            return cls("tag", str(value["tag"]), value.get("branch"))
        return cls("runs", tuple(str(i) for i in value["runs"]), None)


@dataclass(frozen=True, slots=True)
class Baseline:
    """The runs a candidate is judged against, with the rule that chose them and why."""

    rule: BaselineRule
    description: str
    run_ids: tuple[str, ...]
    runs: tuple[RunRecord, ...]
    why: str
    entry: BaselineRecord | None = field(default=None, compare=False)
    """The stored baseline row in force (None: the default rule, nothing stored)."""


def resolve_baseline(
    store: Store,
    candidate: RunRecord,
    rule: BaselineRule | None = None,
    *,
    default: BaselineRule | None = None,
) -> Baseline:
    """The baseline of ``candidate``: by ``rule``, else the rule stored for its name and
    environment, else ``default`` (the last 5 good runs on main unless given: a config's
    ``regressions:`` section may say otherwise). Never the candidate itself, and under
    ``last_good`` nothing newer than it.

    Raises DataError (with what to do) when the rule finds no runs.
    """
    entry = store.active_baseline(candidate.name, candidate.environment)
    rule = rule or _rule_of(entry, default)
    return _resolve(
        store, candidate.name, candidate.environment, candidate.kind, rule, entry, candidate
    )


def current_baseline(
    store: Store,
    name: str,
    environment: str | None = None,
    *,
    branch: str | None = None,
    kind: str | None = None,
    rule: BaselineRule | None = None,
    default: BaselineRule | None = None,
) -> Baseline:
    """The baseline the next run of (name, environment) would be judged against.

    ``branch`` replaces the rule's main branch; ``kind`` defaults to the kind of the
    newest run of that name; ``default`` is the rule when none is stored.
    """
    _require_runs(store, name, environment)
    entry = store.active_baseline(name, environment)
    if kind is None:
        kind = _kind_of(store, name, environment)
    rule = rule or _rule_of(entry, default)
    if branch is not None and rule.kind != "runs":
        rule = replace(rule, branch=branch)
    return _resolve(store, name, environment, kind, rule, entry, None)


def set_baseline(
    store: Store,
    name: str,
    environment: str | None,
    rule: BaselineRule,
    *,
    reason: str | None = None,
) -> BaselineRecord:
    """Put ``rule`` in force for (name, environment), keeping who, when and why.

    The rule must find runs now (a typo in a version or a run id is refused with
    DataError); a ``last_good`` rule keeps the start of the last accepted baseline.
    """
    _require_runs(store, name, environment)
    entry = store.active_baseline(name, environment)
    kind = _kind_of(store, name, environment)
    # A version or run id that finds nothing is a typo; a last-good rule may wait for runs.
    empty_ok = rule.kind == "last_good"
    chosen = _resolve(store, name, environment, kind, rule, entry, None, empty_ok=empty_ok)
    user, host = _who()
    return store.record_baseline(
        name=name,
        environment=environment,
        action="set",
        rule_kind=rule.kind,
        rule_value=rule.to_json(),
        run_ids=chosen.run_ids,
        start_run_id=entry.start_run_id if entry else None,
        start_at=entry.start_at if entry else None,
        reason=reason,
        who_user=user,
        who_host=host,
    )


def accept_baseline(
    store: Store, run_id: str, *, reason: str, default: BaselineRule | None = None
) -> BaselineRecord:
    """Accept ``run_id`` as an expected change: its name and environment get a new
    baseline starting from it (the last-good rule, N and branch kept from the rule in
    force, else from ``default``). ``reason`` is required and kept in the history."""
    if not reason or not reason.strip():
        raise DataError(
            "accepting a baseline needs a reason",
            hint='say why the change is expected: --reason "new cache in front of the db"',
        )
    run = store.get_run(run_id)
    if run is None:
        raise unknown_runs_error([run_id])
    if run.status != "ok":
        raise DataError(
            f"run {run_id} ({run.name}{_in(run.environment)}) has status {run.status}: "
            "only a good run can start a baseline",
            hint="accept a run whose status is ok (rerun once the expected change is in)",
        )
    entry = store.active_baseline(run.name, run.environment)
    rule = _rule_of(entry, default)
    if rule.kind != "last_good":
        rule = default if default is not None and default.kind == "last_good" else BaselineRule()
    user, host = _who()
    return store.record_baseline(
        name=run.name,
        environment=run.environment,
        action="accept",
        rule_kind=rule.kind,
        rule_value=rule.to_json(),
        run_ids=[run.id],
        start_run_id=run.id,
        start_at=run.started_at,
        reason=reason.strip(),
        who_user=user,
        who_host=host,
    )


def baseline_history(
    store: Store, name: str, environment: str | None = None
) -> list[BaselineRecord]:
    """Every change to the baseline of (name, environment), newest (in force) first."""
    return store.baseline_history(name, environment)


# -- resolving --------------------------------------------------------------------------


def _rule_of(entry: BaselineRecord | None, default: BaselineRule | None = None) -> BaselineRule:
    if entry is not None:
        return BaselineRule.from_record(entry)
    return default or BaselineRule()


def _resolve(
    store: Store,
    name: str,
    environment: str | None,
    kind: str | None,
    rule: BaselineRule | None,
    entry: BaselineRecord | None,
    candidate: RunRecord | None,
    *,
    empty_ok: bool = False,
) -> Baseline:
    rule = rule or _rule_of(entry)
    if rule.kind == "runs":
        runs = _run_set(store, rule, candidate)
        why = rule.describe()
    elif rule.kind == "tag":
        assert isinstance(rule.value, str)
        found = store.good_runs(
            name, environment, kind=kind, version=rule.value, branch=rule.branch
        )
        runs = [r for r in found if candidate is None or r.id != candidate.id]
        if not runs and not empty_ok:
            raise _no_tag_runs(store, name, environment, rule, candidate)
        plural = "s" if len(runs) != 1 else ""
        on = f" on {rule.branch}" if rule.branch else ""
        why = f"{len(runs)} good run{plural} of {name}{on}{_in(environment)}"
        why += f" with version {rule.value}"
    else:
        start = entry.start_at if entry is not None else None
        also = entry.start_run_id if entry is not None else None
        runs = store.good_runs(
            name,
            environment,
            kind=kind,
            branch=rule.branch,
            start_at=start,
            also=also,
            before=candidate,
            limit=rule.n,
        )
        if not runs and not empty_ok:
            raise _no_earlier_runs(name, environment, rule, entry, candidate)
        wanted = f" (of {rule.n} wanted)" if len(runs) < rule.n else ""
        on = f" on {rule.branch}" if rule.branch else ""
        plural = "s" if len(runs) != 1 else ""
        why = f"last {len(runs)} good run{plural} of {name}{on}{_in(environment)}{wanted}"
        if entry is not None and entry.start_at is not None:
            why += f" since accepted {_day(entry.start_at)}"
            if entry.reason:
                why += f" (reason: {entry.reason})"
    stored = entry is not None and rule == _rule_of(entry)
    if entry is not None and stored and entry.action == "set" and rule.kind != "last_good":
        why += f", set by {entry.who or 'someone'} on {_day(entry.created_at)}"
        if entry.reason:
            why += f" (reason: {entry.reason})"
    return Baseline(
        rule=rule,
        description=rule.describe(),
        run_ids=tuple(r.id for r in runs),
        runs=tuple(runs),
        why=why,
        entry=entry,
    )


def _run_set(store: Store, rule: BaselineRule, candidate: RunRecord | None) -> list[RunRecord]:
    found = store.runs_by_id(rule.run_ids)
    unknown = [i for i in rule.run_ids if i not in found]
    if unknown:
        raise unknown_runs_error(unknown)
    runs = [found[i] for i in rule.run_ids if candidate is None or i != candidate.id]
    if not runs:
        assert candidate is not None
        raise DataError(
            f"the baseline of run {candidate.id} is a run set holding only that run",
            hint=f"set a baseline of other runs: redline baseline set {candidate.name}"
            f"{_env_flag(candidate.environment)} --runs ID,ID (or --last 5)",
        )
    return runs


def _no_earlier_runs(
    name: str,
    environment: str | None,
    rule: BaselineRule,
    entry: BaselineRecord | None,
    candidate: RunRecord | None,
) -> DataError:
    on = f" on {rule.branch}" if rule.branch else ""
    since = ""
    if entry is not None and entry.start_at is not None:
        since = f" since the run accepted on {_day(entry.start_at)}"
    earlier = "earlier " if candidate is not None else ""
    subject = (
        f"run {candidate.id} ({name}{_in(environment)})"
        if candidate
        else (f"{name}{_in(environment)}")
    )
    return DataError(
        f"no baseline for {subject}: no {earlier}good runs{on}{since}",
        hint=f"record good runs of {name}{on}{_in(environment)} first, or choose the "
        f"baseline: redline baseline set {name}{_env_flag(environment)} --tag VERSION "
        "(or --runs ID,ID)",
    )


def _no_tag_runs(
    store: Store,
    name: str,
    environment: str | None,
    rule: BaselineRule,
    candidate: RunRecord | None,
) -> DataError:
    versions = store.run_versions(name, environment)
    shown = ", ".join(versions[-12:]) if versions else "none"
    only = " other than the candidate" if candidate is not None else ""
    on = f" on {rule.branch}" if rule.branch else ""
    return DataError(
        f"no good runs of {name}{_in(environment)}{on} have version {rule.value!r}{only}",
        hint=f"versions recorded for {name}{_in(environment)}: {shown}",
    )


def _require_runs(store: Store, name: str, environment: str | None) -> None:
    places = store.series_places(name)
    if any(env == environment for env, _ in places):
        return
    if places:
        envs = sorted({env or "(none)" for env, _ in places})
        hint = f"runs called {name} are recorded in environments: {', '.join(envs)}"
        hint += " (choose one with --env)"
    else:
        names = store.run_names()
        shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        hint = f"the store has runs called: {shown}" if names else "the store has no runs yet"
    raise DataError(f"no runs called {name}{_in(environment)} in the store", hint=hint)


def _kind_of(store: Store, name: str, environment: str | None) -> str | None:
    latest = store.good_runs(name, environment, limit=1) or []
    return latest[0].kind if latest else None


def _who() -> tuple[str | None, str | None]:
    try:
        user: str | None = getpass.getuser()
    except (OSError, KeyError, ImportError):
        user = None
    return user, socket.gethostname() or None


def _in(environment: str | None) -> str:
    return f" in {environment}" if environment else ""


def _env_flag(environment: str | None) -> str:
    return f" --env {environment}" if environment else ""


def _day(when: Any) -> str:
    return str(when.strftime("%Y-%m-%d"))


def _short(run_id: str) -> str:
    return run_id[:12]
