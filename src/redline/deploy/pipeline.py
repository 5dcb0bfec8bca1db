"""Deploy and verify, or roll back to the last known good release by itself.

>>> pipeline = Pipeline(store, "prod", recipes={"api": recipe}, verify=verifier)  # doctest: +SKIP
>>> outcome = pipeline.deploy("1.4.2")                                            # doctest: +SKIP
>>> outcome.code, outcome.state                                                   # doctest: +SKIP
(3, 'rolled_back')

One deploy is: take the environment's lock; record the release (``deploying``); run each
service's recipe (``before_switch`` hooks, the switch, ``after_switch`` hooks); verify
(``verifying``: the smoke and soak phases the ``verify`` seam runs); then mark it ``live``
(known good), or roll back to the **last known good** release (the newest ``live`` one: a
failed or rolled-back release never is a target), verify that with the smoke phase, and
mark the new release ``rolled_back``. Every step is journalled into the release's ``steps``
in the store *before* it runs and again when it ends, so a deploy killed at any point leaves
a record :meth:`Pipeline.recover` can finish: a release that may have switched is rolled
back, one that cannot have is marked ``aborted``.

Exit codes (:attr:`Outcome.code`): 0 live; 1 nothing was switched (a ``before_switch`` hook
failed, or the deploy was interrupted before the switch); 3 deployed, then rolled back;
4 the rollback failed or was refused; 6 locked (raised by the lock); 7 the loop guard
stopped automatic rollbacks: a person must look.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

from redline._errors import DeployError
from redline.deploy.recipes import DeployContext, StepResult
from redline.redact import REDACTOR

__all__ = [
    "EXIT_LIVE",
    "EXIT_LOOP_GUARD",
    "EXIT_NOT_SWITCHED",
    "EXIT_ROLLBACK_FAILED",
    "EXIT_ROLLED_BACK",
    "Outcome",
    "Pipeline",
    "Verdict",
]

EXIT_LIVE, EXIT_NOT_SWITCHED, EXIT_ROLLED_BACK, EXIT_ROLLBACK_FAILED = 0, 1, 3, 4
EXIT_LOOP_GUARD = 7
_SWITCH_PHASES = ("deploy", "switch", "after_switch")  # a recipe step that may have switched


class Recipe(Protocol):
    """What the pipeline needs of a recipe (:class:`~redline.deploy.recipes.CommandRecipe`)."""

    def deploy(self, ctx: DeployContext) -> list[StepResult]: ...

    def rollback(self, ctx: DeployContext) -> list[StepResult]: ...


@dataclass(frozen=True)
class Verdict:
    """What verification decided: ``pass``, ``fail`` or ``inconclusive``, then what to do
    (``promote``, ``rollback``, ``hold``), with every reason and the phases' detail."""

    decision: str
    action: str
    reasons: tuple[str, ...] = ()
    detail: Mapping[str, Any] = field(default_factory=dict)


# smoke_only=True is the fast path of a rollback: the soak is skipped, smoke always runs.
Verify = Callable[[DeployContext, bool], Verdict]


@dataclass
class Outcome:
    """How a deploy or rollback ended, with the decisions it rests on."""

    code: int
    state: str
    release_id: str
    version: str
    environment: str
    rolled_back_to: str | None = None
    reasons: list[str] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "exit_code": self.code,
            "state": self.state,
            "release_id": self.release_id,
            "version": self.version,
            "environment": self.environment,
            "rolled_back_to": self.rolled_back_to,
            "reasons": self.reasons,
            "steps": self.steps,
        }


class Pipeline:
    """Deploys, verifies and rolls back one environment (see the module docstring).

    ``recipes`` maps each service to deploy to its recipe, in deploy order; ``verify`` is
    the seam to the verification phases; ``interrupted`` is polled between steps (the CLI
    sets it from SIGINT/SIGTERM).
    """

    def __init__(
        self,
        store: Any,
        environment: str,
        *,
        recipes: Mapping[str, Recipe],
        verify: Verify,
        lock_ttl: float = 1800.0,
        max_consecutive_auto_rollbacks: int = 2,
        interrupted: Callable[[], bool] = lambda: False,
        snapshot: Mapping[str, Any] | None = None,
        schema_guard: Callable[[Any], None] | None = None,
        description: Mapping[str, Any] | None = None,
    ) -> None:
        if not recipes:
            raise DeployError(
                f"nothing to deploy in {environment}: no service has a deploy: recipe",
                hint="add deploy: {command: {deploy: ./deploy.sh {version}}} to a service",
            )
        self.store, self.environment = store, environment
        self.recipes = dict(recipes)
        self.verify = verify
        self.lock_ttl = lock_ttl
        self.max_auto = max_consecutive_auto_rollbacks
        self.interrupted = interrupted
        # recorded with each release (secrets redacted by the store); a rollback target's
        # snapshot says which database schema revisions it runs on
        self.snapshot = dict(snapshot or {})
        # raises RollbackError (before anything changes) when a target cannot run on the
        # database's current schema
        self.schema_guard = schema_guard
        # what --plan shows of each recipe's commands and of verification (from the config)
        self.description = dict(description or {})
        self._journal: list[dict[str, Any]] = []
        self._release_id = ""

    # -- planning ----------------------------------------------------------------------
    def plan(self, version: str) -> dict[str, Any]:
        """Every step, check phase and the rollback target, with no side effects."""
        good = self.last_known_good()
        target = good.version if good else "nothing (no known good release)"
        recipes = self.description.get("recipes", {})
        verify = self.description.get("verify", ["smoke, then soak"])
        return {
            "schema_version": 1,
            "environment": self.environment,
            "version": version,
            "current": good.version if good else None,
            "steps": [
                f"lock {self.environment} (ttl {self.lock_ttl:g}s)",
                f"record release {version} (deploying)",
                *(
                    f"{service}: {_filled(step, version, self.environment, service)}"
                    for service in self.recipes
                    for step in recipes.get(service, [f"recipe deploy {version}"])
                ),
                *(f"verify: {line}" for line in verify),
                f"live; or roll back to {target}, then verify it (smoke)",
            ],
            "rollback_target": good.version if good else None,
        }

    def _serving(self) -> Any:
        """What serves now, as far as the store knows: the newest release that is live or
        that failed after its switch (the loop guard leaves one serving for a person)."""
        for release in self.store.list_releases(self.environment, limit=50):
            if release.state == "live" or (
                release.state == "failed" and _may_have_switched(release.steps)
            ):
                return release
        return None

    def _recover_unfinished(self) -> list[Outcome]:
        """With the lock held: finish each release a killed deploy left ``deploying`` or
        ``verifying``. One that may have switched is rolled back to the last known good;
        one that cannot have is ``aborted``."""
        outcomes = []
        for release in self.store.list_releases(self.environment, limit=50):
            if release.state not in ("deploying", "verifying"):
                continue
            self._release_id, self._journal = release.id, list(release.steps)
            if any(step.get("action") == "hold" for step in release.steps):
                why = "held for a person after verification; superseded"
                outcomes.append(self._finish(release.version, "failed", EXIT_LOOP_GUARD, [why]))
                continue
            last = next((s for s in reversed(release.steps)), {"name": "start"})
            where = f"interrupted at {last.get('name', 'start')} ({last.get('outcome', '?')})"
            if release.state == "verifying" or _may_have_switched(release.steps):
                outcome = self._roll_back(release.version, self.last_known_good(), where)
                outcome.reasons.append("recovered")
            else:
                outcome = self._finish(
                    release.version,
                    "aborted",
                    EXIT_NOT_SWITCHED,
                    [where, "nothing was switched; recovered"],
                )
            outcomes.append(outcome)
        return outcomes

    def last_known_good(self) -> Any:
        """The newest ``live`` release, or None."""
        found = self.store.list_releases(self.environment, limit=1, state="live")
        return found[0] if found else None

    # -- deploy ------------------------------------------------------------------------
    def deploy(self, version: str, *, reason: str | None = None) -> Outcome:
        """Deploy ``version``; verify; go live or roll back to the last known good."""
        from redline._errors import DeployLockedError
        from redline.deploy.lock import acquire

        with acquire(
            self.store, self.environment, reason=f"deploy {version}", ttl=self.lock_ttl
        ) as lock:
            self.recovered = self._recover_unfinished()  # a killed deploy's release first
            good = self.last_known_good()
            self._start(version, good, reason)
            try:
                return self._deploy(version, good, lock)
            except DeployLockedError as lost:  # unlocked by hand while running
                self._finish(version, "failed", EXIT_NOT_SWITCHED, [f"lost the lock: {lost}"])
                raise

    def _deploy(self, version: str, good: Any, lock: Any) -> Outcome:
        """The recipes, then verification, then live, hold or an automatic rollback."""
        ctx_of = self._contexts(version, good.version if good else None)
        switched = False
        for service, recipe in self.recipes.items():
            if self.interrupted():
                return self._stop_before_switch(version, "interrupted before the switch")
            steps = self._run(f"{service}: deploy", partial(recipe.deploy, ctx_of(service)))
            switched = switched or any(_ran(s) and s.phase in _SWITCH_PHASES for s in steps)
            if not all(s.ok for s in steps):
                failed = next(s for s in steps if not s.ok)
                why = f"{service}: {failed.name} failed ({_exit(failed)})"
                if self.interrupted():
                    why = f"interrupted before {service}: {failed.name}"
                if not switched:
                    return self._stop_before_switch(version, why)
                return self._roll_back(version, good, why)
            lock.heartbeat()
        if self.interrupted():
            return self._roll_back(version, good, "interrupted after the switch")
        self.store.update_release(self._release_id, state="verifying", steps=self._journal)
        verdict = self._verify(ctx_of(next(iter(self.recipes))), smoke_only=False)
        if verdict.decision == "pass" or verdict.action == "promote":
            return self._finish(version, "live", EXIT_LIVE, list(verdict.reasons))
        if verdict.action == "hold":
            return self._finish(
                version,
                "verifying",
                EXIT_LOOP_GUARD,
                [*verdict.reasons, "held: a person decides"],
            )
        return self._roll_back(version, good, "; ".join(verdict.reasons) or verdict.decision)

    # -- rollback ----------------------------------------------------------------------
    def rollback(self, *, to: str | None = None, reason: str | None = None) -> Outcome:
        """Roll back by hand to ``to`` (a known-good version) or the previous known good.

        The fast path: the soak is skipped, the smoke phase always runs.
        """
        from redline._errors import RollbackError
        from redline.deploy.lock import acquire

        with acquire(self.store, self.environment, reason="rollback", ttl=self.lock_ttl):
            self.recovered = self._recover_unfinished()
            current = self._serving()
            target = self._target(to, current)
            if self.schema_guard is not None:
                self.schema_guard(target)  # refused before anything is recorded or changed
            self._start(target.version, current, reason or f"rollback to {target.version}")
            steps = self._rollback_steps(target.version, current.version if current else None)
            if not all(s.ok for s in steps):
                failed = next(s for s in steps if not s.ok)
                why = f"the rollback failed: {failed.name} ({_exit(failed)})"
                outcome = self._finish(target.version, "failed", EXIT_ROLLBACK_FAILED, [why])
                raise RollbackError(
                    f"rolling back {self.environment} to {target.version} failed: {why}",
                    hint=f"see `redline releases show {outcome.release_id}`",
                )
            verdict = self._verify(self._contexts(target.version, None)(""), smoke_only=True)
            if verdict.decision != "pass":
                return self._finish(
                    target.version, "failed", EXIT_ROLLBACK_FAILED, list(verdict.reasons)
                )
            if current is not None and current.id != target.id and current.state == "live":
                self.store.update_release(
                    current.id, state="rolled_back", reason=f"rolled back to {target.version}"
                )
            return self._finish(target.version, "live", EXIT_LIVE, ["rolled back by hand"])

    def _target(self, to: str | None, current: Any) -> Any:
        from redline._errors import RollbackError

        goods = self.store.list_releases(self.environment, limit=200, state="live")
        if to is not None:
            for release in goods:
                if release.version == to:
                    return release
            known = ", ".join(dict.fromkeys(r.version for r in goods)) or "none"
            raise RollbackError(
                f"{to} is not a known good release of {self.environment}",
                hint=f"known good versions: {known}",
            )
        for release in goods:
            if current is None or current.state != "live" or release.version != current.version:
                return release  # the newest known good that is not what serves now
        raise RollbackError(
            f"no earlier known good release of {self.environment} to roll back to",
            hint="`redline releases --env " + self.environment + "` shows the history",
        )

    # -- steps and the journal ---------------------------------------------------------
    def _start(self, version: str, good: Any, reason: str | None) -> None:
        import getpass

        self._journal = []
        self._release_id = self.store.record_release(
            environment=self.environment,
            version=version,
            services=list(self.recipes),
            state="deploying",
            previous_release_id=good.id if good else None,
            who_user=_user(getpass),
            who_host=socket.gethostname(),
            reason=REDACTOR.scrub(reason) if reason else None,
            config_snapshot=self.snapshot or None,
        )

    def _contexts(self, version: str, previous: str | None) -> Callable[[str], DeployContext]:
        def ctx(service: str) -> DeployContext:
            return DeployContext(version, previous, self.environment, service, self.interrupted)

        return ctx

    def _run(self, name: str, action: Callable[[], list[StepResult]]) -> list[StepResult]:
        """Journal ``name`` as running, run it, journal each of its steps."""
        steps: list[StepResult] = self._journalled(
            name, action, lambda done: [_step_dict(name, s) for s in done]
        )
        return steps

    def _verify(self, ctx: DeployContext, *, smoke_only: bool) -> Verdict:
        def entry(verdict: Verdict) -> list[dict[str, Any]]:
            return [
                {
                    "name": "verify: smoke" if smoke_only else "verify: smoke, soak",
                    "outcome": verdict.decision,
                    "action": verdict.action,
                    "reasons": list(verdict.reasons),
                    "detail": dict(verdict.detail),
                }
            ]

        verdict: Verdict = self._journalled("verify", partial(self.verify, ctx, smoke_only), entry)
        return verdict

    def _journalled(
        self, name: str, action: Callable[[], Any], entries: Callable[[Any], list[dict[str, Any]]]
    ) -> Any:
        """Journal ``name`` as running in the store, do ``action``, then replace that entry
        with what it did: a deploy killed in between leaves the running entry behind."""
        running = {"name": name, "outcome": "running", "at": _now()}
        self._journal.append(running)
        self.store.update_release(self._release_id, steps=self._journal)
        result = action()
        self._journal.remove(running)
        self._journal.extend(entries(result))
        self.store.update_release(self._release_id, steps=self._journal)
        return result

    def _rollback_steps(self, version: str, previous: str | None) -> list[StepResult]:
        """Each recipe's rollback to ``version``; a recipe that refuses (RollbackError: the
        release is not on disk) is a failed step, recorded, never an escape."""
        from redline._errors import RollbackError

        steps: list[StepResult] = []
        for service, recipe in reversed(list(self.recipes.items())):
            ctx = DeployContext(version, previous, self.environment, service)
            try:
                steps += self._run(f"{service}: rollback", partial(recipe.rollback, ctx))
            except RollbackError as refused:
                self._journal = [e for e in self._journal if e.get("outcome") != "running"]
                self._journal.append(
                    {
                        "name": f"{service}: rollback",
                        "outcome": "refused",
                        "reasons": [str(refused)],
                    }
                )
                steps.append(
                    StepResult("rollback", "", None, f"refused: {refused.message}", _utc(), 0.0)
                )
                break
        return steps

    def _roll_back(self, version: str, good: Any, why: str) -> Outcome:
        if good is None:
            return self._finish(
                version,
                "failed",
                EXIT_ROLLBACK_FAILED,
                [why, "no known good release to roll back to"],
            )
        chain = self._auto_rollbacks()
        if chain >= self.max_auto:
            return self._finish(
                version,
                "failed",
                EXIT_LOOP_GUARD,
                [why, f"{chain} automatic rollbacks in a row (max_consecutive_auto_rollbacks "
                 f"{self.max_auto}): not rolling back again; a person must look"],
            )  # fmt: skip
        if self.schema_guard is not None:
            from redline._errors import RollbackError

            try:
                self.schema_guard(good)
            except RollbackError as refused:
                reason = f"rollback to {good.version} refused: {refused.message}"
                return self._finish(version, "failed", EXIT_ROLLBACK_FAILED, [why, reason])
        steps = self._rollback_steps(good.version, version)
        if not all(s.ok for s in steps):
            return self._finish(
                version, "failed", EXIT_ROLLBACK_FAILED, [why, "the rollback failed"]
            )
        verdict = self._verify(self._contexts(good.version, version)(""), smoke_only=True)
        if verdict.decision != "pass":
            return self._finish(
                version,
                "failed",
                EXIT_ROLLBACK_FAILED,
                [
                    why,
                    f"rolled back to {good.version}, but it failed its smoke checks",
                    *verdict.reasons,
                ],
            )
        outcome = self._finish(version, "rolled_back", EXIT_ROLLED_BACK, [why])
        outcome.rolled_back_to = good.version
        return outcome

    def _auto_rollbacks(self) -> int:
        """Releases rolled back in a row, newest first, before this one."""
        count = 0
        for release in self.store.list_releases(self.environment, limit=50):
            if release.id == self._release_id:
                continue
            if release.state != "rolled_back":
                break
            count += 1
        return count

    def _stop_before_switch(self, version: str, why: str) -> Outcome:
        state = "aborted" if self.interrupted() else "failed"
        return self._finish(version, state, EXIT_NOT_SWITCHED, [why, "nothing was switched"])

    def _finish(self, version: str, state: str, code: int, reasons: Sequence[str]) -> Outcome:
        text = "; ".join(REDACTOR.scrub(r) for r in reasons)
        self.store.update_release(
            self._release_id, state=state, reason=text or None, steps=self._journal
        )
        return Outcome(
            code, state, self._release_id, version, self.environment,
            reasons=[REDACTOR.scrub(r) for r in reasons], steps=list(self._journal),
        )  # fmt: skip


def _step_dict(name: str, step: StepResult) -> dict[str, Any]:
    return {
        "name": f"{name}: {step.name}",
        "outcome": "ok" if step.ok else ("timed out" if step.timed_out else "failed"),
        "command": step.command,
        "exit_code": step.exit_code,
        "seconds": round(step.seconds, 3),
        "output": step.output[-2000:],
    }


def _filled(text: str, version: str, env: str, service: str) -> str:
    """A command as --plan shows it: the placeholders it knows already filled."""
    for name, value in (("version", version), ("env", env), ("service", service)):
        text = text.replace("{" + name + "}", value)
    return text


def _ran(step: StepResult) -> bool:
    """The step's command started (an interrupted or unstartable one has no exit code)."""
    return step.exit_code is not None or step.timed_out


def _exit(step: StepResult) -> str:
    if step.timed_out:
        return "timed out"
    if step.exit_code is None:
        return step.output or "did not run"
    return f"exit {step.exit_code}"


def _user(getpass: Any) -> str | None:
    try:
        return str(getpass.getuser())
    except (KeyError, OSError):
        return None


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _utc() -> datetime:
    return datetime.now(UTC)


def recover(pipeline: Pipeline) -> list[Outcome]:
    """Finish what a killed deploy left (see :meth:`Pipeline._recover_unfinished`); refused
    (exit 6) while a live deploy holds the lock. ``redline deploy`` and ``rollback`` do the
    same first, under their own lock."""
    from redline.deploy.lock import acquire, current_lock

    holder = current_lock(pipeline.store, pipeline.environment)
    if holder is not None and not holder.stale:
        from redline._errors import DeployLockedError

        raise DeployLockedError(
            f"a deploy of {pipeline.environment} is running ({holder.describe()}): "
            "nothing to recover while it holds the lock",
            hint=f"`redline deploy unlock --env {pipeline.environment}` if that deploy is dead",
        )
    with acquire(pipeline.store, pipeline.environment, reason="recover", ttl=pipeline.lock_ttl):
        return pipeline._recover_unfinished()


def _may_have_switched(steps: Sequence[Mapping[str, Any]]) -> bool:
    """A recipe's deploy step began (finished or not): the switch may have happened."""
    for step in steps:
        name = str(step.get("name", ""))
        if name.endswith(": deploy") and step.get("outcome") == "running":
            return True
        if any(f": deploy: {phase}" in name for phase in _SWITCH_PHASES):
            return True
    return False
