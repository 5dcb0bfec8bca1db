"""From ``redline.yaml`` to a :class:`~redline.deploy.pipeline.Pipeline`: recipes and the
verification seam, for the services of one environment that have a ``deploy:`` section."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redline._errors import DeployError, RollbackError
from redline.deploy.pipeline import Pipeline, Recipe, Verdict
from redline.deploy.recipes import CommandRecipe, DeployContext, Hooks, StepResult

if TYPE_CHECKING:
    from redline.config.loader import LoadedConfig
    from redline.config.schema import ServiceDeploy

__all__ = ["ReleasesRecipe", "pipeline_from_config", "recipe_of"]


class ReleasesRecipe:
    """A release-directory recipe seen as the pipeline sees recipes: a rollback to a
    version switches back to that version's newest release on disk, and prepares nothing;
    a deploy also cleans up old releases, never the current one nor the previous."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def deploy(self, ctx: DeployContext) -> list[StepResult]:
        rd = self.inner.release_dir
        before = rd.current()
        steps: list[StepResult] = self.inner.deploy(ctx)
        if all(s.ok for s in steps):
            rd.cleanup(protect={p for p in (before, rd.current()) if p})
        return steps

    def rollback(self, ctx: DeployContext) -> list[StepResult]:
        """Switch back to ``ctx.version``'s newest good release; the one rolled back from
        is marked failed (kept for inspection, never a target)."""
        rd = self.inner.release_dir
        release_id = rd.find(ctx.version)
        if release_id is None:
            raise RollbackError(
                f"no release of {ctx.version} under {rd.releases_path}",
                hint="it was cleaned up (raise keep_releases), or never deployed here",
            )
        leaving = rd.current()
        result: list[StepResult] = self.inner.rollback_to(release_id, ctx)
        if leaving and leaving != release_id and all(s.ok for s in result):
            rd.mark_failed(leaving, f"rolled back to {ctx.version}")
        return result


def recipe_of(spec: ServiceDeploy, base_dir: Path) -> Recipe:
    """The recipe a service's ``deploy:`` describes; commands run in the config's directory."""
    hooks = Hooks(
        before_switch=spec.hooks.before_switch,
        after_switch=spec.hooks.after_switch,
        on_failure=spec.hooks.on_failure,
        after_rollback=spec.hooks.after_rollback,
    )
    if spec.command is not None:
        c = spec.command
        cwd = base_dir / c.cwd if c.cwd else base_dir
        return CommandRecipe(c.deploy, c.rollback, timeout=c.timeout, cwd=cwd, hooks=hooks)
    from redline.deploy.releasedir import ReleaseDir, ReleaseDirRecipe

    r = spec.releases
    assert r is not None  # the config allows exactly one recipe
    root = Path(r.root) if Path(r.root).is_absolute() else base_dir / r.root
    return ReleasesRecipe(
        ReleaseDirRecipe(
            ReleaseDir(root, r.keep_releases, r.shared),
            populate=r.populate,
            start=r.start,
            stop=r.stop,
            reload=r.reload,
            hooks=hooks,
            timeout=r.timeout,
        )
    )


def pipeline_from_config(
    store: Any,
    loaded: LoadedConfig,
    environment: str,
    *,
    services: Sequence[str] = (),
    interrupted: Any = None,
) -> Pipeline:
    """The pipeline for ``environment``: every service with a ``deploy:`` (or ``services``)."""
    config = loaded.config(environment)
    chosen = {
        name: s.deploy
        for name, s in config.services.items()
        if s.deploy is not None and (not services or name in services)
    }
    unknown = [s for s in services if s not in config.services]
    if unknown:
        raise DeployError(
            f"no service {', '.join(map(repr, unknown))} in the config",
            hint=f"services: {', '.join(config.services)}",
        )
    recipes = {name: recipe_of(spec, loaded.base_dir) for name, spec in chosen.items()}
    schemas = {name: spec.schema_ for name, spec in chosen.items() if spec.schema_ is not None}
    snapshot = {
        "config": loaded.raw,  # as written: ${VAR} references, never their values
        "schema": {name: _range_of(g) for name, g in schemas.items()},
    }
    return Pipeline(
        store,
        environment,
        recipes=recipes,
        verify=_verifier(store, loaded, environment, chosen, interrupted or (lambda: False)),
        lock_ttl=config.deploy.lock_ttl,
        max_consecutive_auto_rollbacks=config.deploy.max_consecutive_auto_rollbacks,
        snapshot=snapshot,
        schema_guard=_schema_guard(schemas) if schemas else None,
        description=_describe(config, chosen),
        **({"interrupted": interrupted} if interrupted is not None else {}),
    )


def _range_of(guard: Any) -> dict[str, Any]:
    return {
        "min": guard.min,
        "max": guard.max,
        "revisions": list(guard.revisions),
        "order": list(guard.order),
    }


def _schema_guard(schemas: dict[str, Any]) -> Any:
    """Refuse a rollback to a release that cannot run on the database's schema revision:
    the target's range is the one recorded with it, the revision is read now."""
    from redline.deploy.schema_guard import SchemaRange, check_rollback, read_revision

    def guard(target: Any) -> None:
        recorded = (target.config_snapshot or {}).get("schema") or {}
        for service, cfg in schemas.items():
            declared = recorded.get(service)
            if not declared or not (
                declared.get("min") or declared.get("max") or declared.get("revisions")
            ):
                continue  # the target declared no schema: nothing to hold it to
            allowed = SchemaRange.parse({k: v for k, v in declared.items() if v not in (None, [])})
            try:
                current = read_revision(cfg.dsn, table=cfg.table, column=cfg.column)
            except DeployError as exc:
                raise RollbackError(
                    f"{service}: cannot read the database's schema revision ({exc.message}): "
                    f"the rollback to {target.version} was refused and nothing was changed",
                    hint="bring the database back, or roll back by hand once it is checked",
                ) from None
            check_rollback(target.version, allowed, current)

    return guard


def _verifier(
    store: Any,
    loaded: LoadedConfig,
    environment: str,
    chosen: dict[str, Any],
    interrupted: Any,
) -> Any:
    """The verification seam: the deployed services' checks (smoke), then the soak."""
    from redline.deploy import verify as v

    first = next(iter(chosen.values()))
    cfg = first.verify
    policy = v.Policy(
        failure_limit=cfg.policy.failure_limit,
        consecutive_error_limit=cfg.policy.consecutive_error_limit,
        no_data=cfg.policy.no_data,
        inconclusive=cfg.policy.inconclusive,
        shadow=frozenset(f"{name}/{check}" for name in chosen for check in cfg.shadow),
    )

    async def run_checks(ids: frozenset[str]) -> Sequence[Any]:
        from redline.validation import DeploymentValidator

        def run() -> Sequence[Any]:
            report = DeploymentValidator(loaded, environment).run(services=tuple(chosen))
            # a waived check carries its failing result, and does not decide
            results = [
                x.result for x in report.verdicts if x.result is not None and x.status != "waived"
            ]
            return [r for r in results if not ids or r.id in ids]

        return await asyncio.to_thread(run)

    def verify(ctx: DeployContext, smoke_only: bool) -> Verdict:
        smoke = v.Smoke(deadline=cfg.smoke.deadline, interval=cfg.smoke.interval)
        measure, soak = None, None
        if cfg.soak is not None and not smoke_only:
            measure, soak = _soak(loaded, environment, cfg.soak, v, _baseline(store, environment))
        phases = v.verify(checks=run_checks, smoke=smoke, measure=measure, soak=soak, policy=policy)
        # a rollback's smoke check runs to its end: the interruption is what caused it
        result = asyncio.run(
            _unless_interrupted(phases, (lambda: False) if smoke_only else interrupted)
        )
        if result is None:
            return Verdict("fail", "rollback", ("interrupted during verification",))
        data = result.to_dict()
        if result.soak is not None:  # the next release's baseline for the canary judge
            data[SAMPLES_KEY] = _samples_of(result.soak)
        reasons = result.reason_lines()
        return Verdict(result.decision, result.action, reasons, data)

    return verify


SAMPLES_KEY = "soak_samples"


def _samples_of(soak: Any) -> dict[str, list[float]]:
    """Every counted soak measurement's per-second samples, by measurement name."""
    out: dict[str, list[float]] = {}
    for o in soak.observations:
        if o.counted and not o.shadow:
            out.setdefault(o.measurement.name, []).extend(float(x) for x in o.measurement.samples)
    return out


def _baseline(store: Any, environment: str) -> dict[str, list[float]]:
    """The soak samples of the last known good release of ``environment`` (none: {})."""
    for release in store.list_releases(environment, limit=20, state="live"):
        for step in reversed(release.steps):
            samples = (step.get("detail") or {}).get(SAMPLES_KEY)
            if samples:
                return {k: list(v) for k, v in samples.items()}
    return {}


def _soak(
    loaded: LoadedConfig, environment: str, cfg: Any, v: Any, baseline: dict[str, list[float]]
) -> tuple[Any, Any]:
    from redline.load.scenarios import scenario_spec

    if cfg.scenario is None:
        raise DeployError(
            "a soak needs a load scenario to measure with",
            hint="set verify.soak.scenario to one under load.scenarios",
        )
    spec = scenario_spec(loaded, cfg.scenario, environment)
    rate = cfg.rate or spec.executor.rate or 10.0
    measure = v.load_measure(spec, rate=rate, interval=cfg.interval)
    judge = tuple(
        v.JudgeMetric(
            j.metric,
            "lower",  # latency and errors: lower is better
            tolerance=j.tolerance,
            critical=j.critical,
        )
        for j in cfg.judge
    )
    soak = v.Soak(
        duration=cfg.duration,
        interval=cfg.interval,
        thresholds=cfg.thresholds,
        judge=judge,
        baseline=baseline,
    )
    return measure, soak


async def _unless_interrupted(phases: Any, interrupted: Any) -> Any:
    """Await the verification, or None as soon as ``interrupted()`` (polled every 0.1 s)."""
    task = asyncio.ensure_future(phases)
    while not task.done():
        if interrupted():
            task.cancel()
            return None
        await asyncio.wait({task}, timeout=0.1)
    return task.result()


def _describe(config: Any, chosen: dict[str, Any]) -> dict[str, Any]:
    """What ``--plan`` shows: each recipe's steps as written, and the verification."""
    recipes: dict[str, list[str]] = {}
    for name, spec in chosen.items():
        steps = [f"before_switch: {c}" for c in spec.hooks.before_switch]
        if spec.command is not None:
            steps.append(f"deploy: {spec.command.deploy}")
        else:
            r = spec.releases
            steps += [f"prepare {r.root}/releases/<id>: {r.populate}"]
            steps += [f"link shared/{p}" for p in r.shared]
            steps += [f"switch {r.root}/current (atomic)"]
            steps += [f"{k}: {getattr(r, k)}" for k in ("reload", "stop", "start") if getattr(r, k)]
        steps += [f"after_switch: {c}" for c in spec.hooks.after_switch]
        recipes[name] = steps
    cfg = next(iter(chosen.values())).verify
    checks = [f"{n}/{c.name}" for n in chosen for c in config.services[n].checks]
    lines = [
        f"smoke: {', '.join(checks) or 'no checks'} until all pass "
        f"(deadline {cfg.smoke.deadline:g}s, every {cfg.smoke.interval:g}s)"
    ]
    if cfg.soak is not None:
        soak = cfg.soak
        judged = ", ".join(f"{j.metric} within {j.tolerance:.0%}" for j in soak.judge)
        lines.append(
            f"soak: {soak.scenario or '?'} at {soak.rate or 'its rate'}/s for {soak.duration:g}s, "
            f"judged every {soak.interval:g}s"
            + (f"; thresholds {dict(soak.thresholds)}" if soak.thresholds else "")
            + (f"; canary judge vs the last known good: {judged}" if judged else "")
        )
    p = cfg.policy
    lines.append(
        f"policy: failure_limit {p.failure_limit}, consecutive_error_limit "
        f"{p.consecutive_error_limit}, no_data {p.no_data}, inconclusive {p.inconclusive}"
        + (f", shadow {', '.join(cfg.shadow)}" if cfg.shadow else "")
    )
    return {"recipes": recipes, "verify": lines}
