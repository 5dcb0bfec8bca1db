"""The first five minutes: start the demo system, point redline at it, show what it finds.

:func:`run_tour` is what ``redline demo`` runs. It writes a real project into a
directory (``redline.yaml``, an ``.env`` file, an encrypted secrets file and its key,
an embedded store), starts the demo system on free loopback ports, and runs every
capability redline has on it, one step at a time. Each step records what it saw;
the run as a whole is recorded in the store.
"""

from __future__ import annotations

import os
import shlex
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from redline.demo.deploys import deploy_steps
from redline.demo.regressions import CATALOG_YAML, regression_steps
from redline.demo.runner import DemoEndpoints, DemoSystem
from redline.load.scenarios import presets_yaml

__all__ = ["DEMO_ENV", "Step", "Tour", "demo_config", "run_tour"]

DEMO_ENV = "demo"
DEMO_LOAD_SECONDS = 3.0  # the tour's run of the `normal` scenario: short, to stay quick
FAULT_SLOW_QUERY = "400ms"  # over the items check's max_latency (300ms), under its timeout
_JOB_DEADLINE = 15.0


@dataclass
class Step:
    """One thing the tour did: ok, fail (measured and wrong) or error (could not measure)."""

    name: str
    outcome: str
    detail: str
    ms: float | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Tour:
    """What the tour found, and where the project it wrote lives."""

    directory: Path
    endpoints: DemoEndpoints | None = None
    steps: list[Step] = field(default_factory=list)
    run_id: str | None = None
    store_url: str = ""
    sample_mistake: list[str] = field(default_factory=list)
    kept: bool = False

    @property
    def ok(self) -> bool:
        return all(s.outcome == "ok" for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        ep = self.endpoints
        return {
            "schema_version": 1,
            "ok": self.ok,
            "directory": str(self.directory),
            "config": str(self.directory / "redline.yaml"),
            "store": self.store_url,
            "run_id": self.run_id,
            "kept_running": self.kept,
            "endpoints": None
            if ep is None
            else {
                "api": ep.api_url,
                "worker_health": ep.worker_health_url,
                "pids": list(ep.pids),
            },
            "steps": [
                {"name": s.name, "outcome": s.outcome, "detail": s.detail, "ms": s.ms, **s.data}
                for s in self.steps
            ],
            "sample_mistake": self.sample_mistake,
        }


def demo_config(api_url: str, worker_health_url: str) -> tuple[str, str]:
    """The ``redline.yaml`` and ``.env.demo`` the tour writes for a running demo system."""
    deploy_command = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "redline.demo.deploy"))
    config = f"""\
# Written by `redline demo` for the demo system it started; edit it and run
# `redline -c {{this file}} config check` to see redline's diagnostics at work.
project: redline-demo
store: sqlite:///.redline/redline.db
variable_prefixes: [DEMO_]
environments:
  {DEMO_ENV}:
    env_file: .env.demo
    vars:
      API_URL: "{api_url}"
variables:
  API_URL: {{type: url, required: true, description: "Base URL of the demo API"}}
  DEMO_WORKER_HEALTH: {{type: url, required: true}}
  DEMO_ADMIN_TOKEN: {{type: str, required: true, secret: true, pattern: "[A-Za-z0-9_-]{{20,}}"}}
  DEMO_JOB_TIMEOUT: {{type: duration, max: 60, default: 15s}}
services:
  api:
    kind: api
    url: "${{API_URL}}"
    depends_on: [db]
    checks:
      - name: health
        http:
          {{url: "${{API_URL}}/health", status: 200, max_latency: 250ms, contains: '"status":"ok"'}}
      - name: items
        http: {{url: "${{API_URL}}/items?limit=5", status: 200, max_latency: 300ms}}
    deploy:
      # the demo's "versions" are sets of knobs (redline.demo.deploy)
      command: {{deploy: "{deploy_command} {{version}}", timeout: 30s}}
      verify:
        smoke: {{deadline: 2s, interval: 250ms}}
        soak:
          {{duration: 6s, interval: 2s, scenario: normal, rate: 50/s,
           judge: [{{metric: p50_ms, tolerance: 15%}}, {{metric: p95_ms, tolerance: 15%}}]}}
  worker:
    kind: worker
    depends_on: [db]
    checks:
      - name: health
        http: {{url: "${{DEMO_WORKER_HEALTH}}", status: 200, max_latency: 250ms}}
  db:
    kind: db
    checks:
      - name: file
        command: {{run: "test -s demo.db", cwd: system}}
"""
    # The three ready load scenarios (normal, peak, stress), aimed at the api service.
    config += presets_yaml()
    # ...and the regression story's scenario, with the gate's settings.
    config += CATALOG_YAML
    env_file = f"DEMO_WORKER_HEALTH={worker_health_url}\n"
    return config, env_file


@contextmanager
def _timed(steps: list[Step], name: str) -> Iterator[Step]:
    step = Step(name, "ok", "")
    start = time.perf_counter()
    try:
        yield step
    except Exception as exc:
        from redline.redact import REDACTOR

        step.outcome = "error"
        step.detail = REDACTOR.scrub(f"{type(exc).__name__}: {exc}".splitlines()[0])
    finally:
        step.ms = (time.perf_counter() - start) * 1000
        steps.append(step)


def run_tour(
    directory: Path,
    *,
    keep: bool = False,
    db_url: str | None = None,
    on_step: Callable[[Step], None] | None = None,
) -> Tour:
    """Start the demo system in ``directory``, run every check on it, stop it unless ``keep``."""
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    tour = Tour(directory)
    system = DemoSystem(directory / "system", db_url=db_url, detach=keep)
    tour.endpoints = system.start()
    try:
        _write_project(tour, tour.endpoints)
        _steps(tour, on_step)
    finally:
        if keep:
            tour.kept = True
        else:
            system.stop()
    return tour


def _write_project(tour: Tour, ep: DemoEndpoints) -> None:
    from redline.secrets import SecretsFile, generate_key

    d = tour.directory
    config, env_file = demo_config(ep.api_url, ep.worker_health_url)
    (d / "redline.yaml").write_text(config, encoding="utf-8")
    (d / ".env.demo").write_text(env_file, encoding="utf-8")
    (d / "catalog.csv").write_text("id\n1\n", encoding="utf-8")  # the story writes real ids
    key_path = d / ".redline" / "secrets.key"
    key_path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key + b"\n")
    secrets_path = d / "redline.secrets.yaml"
    secrets_path.unlink(missing_ok=True)
    secrets = SecretsFile.new(secrets_path, key=key)
    secrets.set(DEMO_ENV, "DEMO_ADMIN_TOKEN", ep.admin_token)
    secrets.save()


def _steps(tour: Tour, on_step: Callable[[Step], None] | None) -> None:
    from redline.config.loader import check_config, load_config
    from redline.environment import EnvironmentManager

    steps = tour.steps
    path = tour.directory / "redline.yaml"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DEMO_", "API_URL"))}
    environ.pop("REDLINE_SECRETS_KEY", None)

    def done() -> None:
        if on_step is not None:
            on_step(steps[-1])

    with _timed(steps, "config check") as step:
        checked, diags = check_config(path, environ=environ)
        errors = [d for d in diags if d.severity == "error"]
        step.outcome = "fail" if errors or checked is None else "ok"
        if errors or checked is None:
            step.detail = f"{len(errors)} problems: {errors[0].one_line() if errors else ''}"
        else:
            services = checked.config(DEMO_ENV).services
            n_checks = sum(len(s.checks) for s in services.values())
            step.detail = f"0 problems: {len(services)} services, {n_checks} checks, 1 environment"
    done()
    loaded = load_config(path, environ=environ)
    with _timed(steps, "env check") as step:
        problems = [d for d in EnvironmentManager(loaded).check(DEMO_ENV) if d.severity == "error"]
        step.outcome = "fail" if problems else "ok"
        step.detail = (
            f"{len(problems)} contract violations"
            if problems
            else f"contract holds in '{DEMO_ENV}': {len(loaded.config(DEMO_ENV).variables)} vars"
        )
    done()
    secrets = loaded.secrets()
    with _timed(steps, "secrets check") as step:
        failures = secrets.verify()
        step.outcome = "fail" if failures else "ok"
        step.detail = (
            "; ".join(failures)
            if failures
            else (
                f"{len(secrets.names(DEMO_ENV))} secret, key {secrets.key_id}, integrity verified"
            )
        )
    done()
    sources = loaded.sources(DEMO_ENV, decrypt=True)
    api = loaded.runtime_config(DEMO_ENV).services["api"].url or ""
    token_value = sources.lookup("DEMO_ADMIN_TOKEN")
    token = token_value.value if token_value else ""
    worker_health = sources.lookup("DEMO_WORKER_HEALTH")
    metrics: dict[str, float] = {}
    with httpx.Client(timeout=10.0) as client:
        _http_steps(
            tour, client, api, worker_health.value if worker_health else "", token, metrics, done
        )
        _validation_steps(tour, loaded, client, api, token, done)
    _load_step(tour, loaded, done)
    with httpx.Client(timeout=10.0) as client:
        regression_steps(tour, loaded, client, api, token, done)
    deploy_steps(tour, loaded, done)
    _store_step(tour, loaded, metrics, done)
    tour.sample_mistake = _sample_mistake(path, environ)


def _http_steps(
    tour: Tour,
    client: httpx.Client,
    api: str,
    worker_health: str,
    token: str,
    metrics: dict[str, float],
    done: Callable[[], None],
) -> None:
    steps = tour.steps
    for name, url, metric in (
        ("api health", f"{api}/health", "api_health_ms"),
        ("worker health", worker_health, "worker_health_ms"),
    ):
        with _timed(steps, name) as step:
            r = client.get(url)
            step.outcome = "ok" if r.status_code == 200 else "fail"
            step.detail = f"GET {httpx.URL(url).path} -> {r.status_code}"
        metrics[metric] = steps[-1].ms or 0.0
        done()
    with _timed(steps, "api round trip") as step:
        created = client.post(f"{api}/items", json={"name": "redline mug", "price": 12.5})
        created.raise_for_status()
        item_id = created.json()["id"]
        first = client.get(f"{api}/items/{item_id}")
        second = client.get(f"{api}/items/{item_id}")
        step.outcome = "ok" if first.status_code == second.status_code == 200 else "fail"
        step.detail = (
            f"POST /items, GET /items/{item_id} twice -> {first.status_code}, {second.status_code}"
        )
        step.data["item_id"] = item_id
    metrics["round_trip_ms"] = steps[-1].ms or 0.0
    done()
    with _timed(steps, "worker job") as step:
        job = client.post(
            f"{api}/jobs",
            json={
                "kind": "reprice",
                "payload": {"item_id": steps[-2].data.get("item_id", 1), "factor": 1.1},
            },
        )
        job.raise_for_status()
        job_id = job.json()["id"]
        deadline = time.monotonic() + _JOB_DEADLINE
        status = "queued"
        while time.monotonic() < deadline:
            status = client.get(f"{api}/jobs/{job_id}").json().get("status", "?")
            if status in {"done", "failed"}:
                break
            time.sleep(0.02)
        step.outcome = "ok" if status == "done" else "fail"
        step.detail = f"job {job_id} (reprice) enqueued by the API, {status} by the worker"
    metrics["job_ms"] = steps[-1].ms or 0.0
    done()
    with _timed(steps, "admin with secret") as step:
        r = client.get(f"{api}/admin/knobs", headers={"Authorization": f"Bearer {token}"})
        step.outcome = "ok" if r.status_code == 200 else "fail"
        step.detail = (
            f"GET /admin/knobs with DEMO_ADMIN_TOKEN from the secrets file -> {r.status_code}"
        )
    done()


def _validation_steps(
    tour: Tour,
    loaded: Any,
    client: httpx.Client,
    api: str,
    token: str,
    done: Callable[[], None],
) -> None:
    """Validate the healthy system, then slow its database and show the validator catch it."""
    from redline.validation import DeploymentValidator

    validator = DeploymentValidator(loaded, DEMO_ENV)
    with _timed(tour.steps, "validate") as step:
        report = validator.run()
        step.outcome = "ok" if report.exit_code == 0 else "fail"
        step.detail = f"{len(report.verdicts)} checks, exit {report.exit_code}" + "".join(
            f"; {v.id}: {v.status} {v.reason}" for v in report.verdicts if v.status != "ok"
        )
    done()
    admin = {"Authorization": f"Bearer {token}"}
    with _timed(tour.steps, "fault: slow database") as step:
        client.post(f"{api}/admin/knobs", json={"slow_query": FAULT_SLOW_QUERY}, headers=admin)
        try:
            faulty = validator.run()
        finally:
            client.post(f"{api}/admin/knobs", json={"slow_query": "0"}, headers=admin)
        caught = [v for v in faulty.verdicts if v.counts]
        step.outcome = "ok" if faulty.exit_code == 1 and caught else "fail"
        step.detail = (
            f"database slowed by {FAULT_SLOW_QUERY}; validate exit {faulty.exit_code}: "
            + "; ".join(f"{v.id} {v.status}: {v.reason}" for v in caught)
            if caught
            else f"the validator missed the slow database (exit {faulty.exit_code})"
        )
        step.data["caught"] = [v.to_dict() for v in caught]
    done()


def _load_step(tour: Tour, loaded: Any, done: Callable[[], None]) -> None:
    """A short run of the ``normal`` scenario, judged by its thresholds and stored."""
    import dataclasses

    from redline.load.record import record_load
    from redline.load.runner import LoadRun
    from redline.load.scenarios import scenario_spec
    from redline.load.thresholds import evaluate
    from redline.store import resolve_store_url

    with _timed(tour.steps, "load: normal") as step:
        spec = scenario_spec(loaded, "normal", DEMO_ENV)
        spec = dataclasses.replace(
            spec, executor=dataclasses.replace(spec.executor, duration=DEMO_LOAD_SECONDS)
        )
        result = LoadRun(spec, workers=1).run()
        result.thresholds = [t.to_dict() for t in evaluate(spec.thresholds, result)]
        store = resolve_store_url(None, loaded.config(DEMO_ENV).store, loaded.base_dir, environ={})
        record_load(result, spec, store, env=DEMO_ENV, base=loaded.base_dir)
        s = result.summary()
        held = sum(t["ok"] for t in s["thresholds"])
        step.outcome = "ok" if s["requests"] and held == len(s["thresholds"]) else "fail"
        step.detail = (
            f"{s['requests']} requests at {spec.executor.rate:g}/s for {DEMO_LOAD_SECONDS:g}s: "
            f"p50 {s['latency_ms']['p50']:.1f} ms, p99 {s['latency_ms']['p99']:.1f} ms, "
            f"{s['errors']} errors, {held}/{len(s['thresholds'])} thresholds held"
        )
        step.data["load"] = s
    done()


def _store_step(
    tour: Tour, loaded: Any, metrics: dict[str, float], done: Callable[[], None]
) -> None:
    from redline.store import MetricRecord, open_store, resolve_store_url

    tour.store_url = resolve_store_url(
        None, loaded.config(DEMO_ENV).store, loaded.base_dir, environ={}
    )
    with _timed(tour.steps, "store") as step:
        status = "ok" if all(s.outcome == "ok" for s in tour.steps) else "fail"
        with open_store(tour.store_url) as store:
            run_id = store.record_run(
                kind="demo",
                name="tour",
                environment=DEMO_ENV,
                status=status,
                host=socket.gethostname(),
                summary={"steps": {s.name: s.outcome for s in tour.steps}},
                metrics=[
                    MetricRecord(k, round(v, 3), unit="ms", direction="lower")
                    for k, v in sorted(metrics.items())
                ],
            )
            stored = store.run_metrics(run_id)
        tour.run_id = run_id
        step.detail = f"run {run_id[:12]} recorded with {len(stored)} metrics (.redline/redline.db)"
        step.outcome = "ok" if len(stored) == len(metrics) else "fail"
    done()


def _sample_mistake(path: Path, environ: dict[str, str]) -> list[str]:
    """The diagnostics for a copy of the config with two typical mistakes."""
    from redline.config.loader import check_config

    text = path.read_text(encoding="utf-8")
    broken = text.replace("max_latency: 250ms", "max_latency: 250", 1).replace(
        "    depends_on: [db]\n", "    depends_on: [database]\n", 1
    )
    copy = path.with_name("redline.broken.yaml")
    copy.write_text(broken, encoding="utf-8")
    try:
        _, diags = check_config(copy, environ=environ)
    finally:
        copy.unlink()
    return [
        d.one_line().replace(str(copy.parent) + os.sep, "")
        + (f"  (hint: {d.hint})" if d.hint else "")
        for d in diags
    ]
