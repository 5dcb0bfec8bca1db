"""DeploymentValidator: is it up, and is it right? One report for one environment.

>>> validator = DeploymentValidator(load_config("redline.yaml"), env="staging")  # doctest: +SKIP
>>> report = validator.run()                                                      # doctest: +SKIP
>>> report.exit_code, [v.status for v in report.verdicts]                          # doctest: +SKIP
(1, ['ok', 'fail', 'blocked'])

In order: the config's own diagnostics, the environment contract, the secrets file's
readability, then every check at once (asyncio), each service's checks starting when
the services it depends on have passed. A check whose dependency failed is reported
as ``blocked`` by it, not as a failure of its own. Waivers excuse a failing check
until their date; warnings never fail the run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from redline.config.diagnostics import Diagnostic
from redline.probes.base import HealthCheckResult, run_check

if TYPE_CHECKING:
    from redline.config.loader import LoadedConfig
    from redline.config.schema import Check, Config
    from redline.store import Store

__all__ = [
    "CheckVerdict",
    "DeploymentValidator",
    "ValidationReport",
    "junit_xml",
    "record_validation",
]

Status = Literal["ok", "fail", "error", "blocked", "waived"]
RunCheck = Callable[[str, "Check"], Awaitable[HealthCheckResult]]
SCHEMA_VERSION = 1
_RETRY_PAUSE = (0.25, 0.5, 1.0, 2.0)


@dataclass(frozen=True)
class CheckVerdict:
    """What the validator concluded about one check."""

    service: str
    check: str
    protocol: str
    severity: Literal["critical", "warning"]
    status: Status
    reason: str
    result: HealthCheckResult | None = None
    blocked_by: str | None = None
    waiver: Mapping[str, Any] | None = None

    @property
    def id(self) -> str:
        return f"{self.service}/{self.check}"

    @property
    def counts(self) -> bool:
        """Whether this verdict can fail the run (a failing critical check, not waived)."""
        return self.severity == "critical" and self.status in {"fail", "error", "blocked"}

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "service": self.service,
            "check": self.check,
            "protocol": self.protocol,
            "severity": self.severity,
            "status": self.status,
            "reason": self.reason,
            "blocked_by": self.blocked_by,
            "waiver": dict(self.waiver) if self.waiver else None,
        }
        if self.result is not None:
            r = self.result.to_dict()
            doc.update(
                outcome=r["outcome"],
                latency_ms=r["latency_ms"],
                phases_ms=r["phases_ms"],
                attempts=r["attempts"],
                details=r["details"],
            )
        return doc


@dataclass
class ValidationReport:
    """Everything one validation found, and the exit code it implies."""

    project: str
    environment: str | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    verdicts: list[CheckVerdict] = field(default_factory=list)
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    duration: float = 0.0
    rounds: int = 1
    run_id: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def config_invalid(self) -> bool:
        return any(d.severity == "error" for d in self.diagnostics)

    @property
    def exit_code(self) -> int:
        """0 all ok; 1 a critical check failed; 2 one could not measure; 5 config invalid."""
        if self.config_invalid:
            return 5
        roots = {self._root_status(v, frozenset()) for v in self.verdicts if v.counts}
        if "fail" in roots:
            return 1
        return 2 if roots else 0

    @property
    def status(self) -> str:
        return {0: "ok", 1: "fail", 2: "error", 5: "error"}[self.exit_code]

    def _root_status(self, verdict: CheckVerdict, seen: frozenset[str]) -> str:
        """``fail`` or ``error``: for a blocked check, what blocked it (through chains)."""
        if verdict.status != "blocked":
            return verdict.status
        causes = [v for v in self.verdicts if v.service == verdict.blocked_by and v.counts]
        found = {self._root_status(c, seen | {verdict.id}) for c in causes if c.id not in seen}
        return "fail" if "fail" in found else "error"

    def failures_first(self) -> list[CheckVerdict]:
        order = {"fail": 0, "error": 1, "blocked": 2, "waived": 3, "ok": 4}
        return sorted(self.verdicts, key=lambda v: (v.severity != "critical", order[v.status]))

    def to_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for v in self.verdicts:
            counts[v.status] = counts.get(v.status, 0) + 1
        return {
            "schema_version": SCHEMA_VERSION,
            "project": self.project,
            "environment": self.environment,
            "status": self.status,
            "exit_code": self.exit_code,
            "started_at": self.started_at.isoformat(),
            "duration_ms": round(self.duration * 1000, 3),
            "rounds": self.rounds,
            "counts": counts,
            "diagnostics": [d.to_dict() for d in self.diagnostics],
            "checks": [v.to_dict() for v in self.failures_first()],
            "notes": self.notes,
            "run_id": self.run_id,
        }


class DeploymentValidator:
    """Validates one environment of a loaded config: contract, secrets, then every check."""

    def __init__(
        self,
        loaded: LoadedConfig,
        env: str | None = None,
        *,
        run: RunCheck | None = None,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self.loaded = loaded
        self.env = loaded.default_env(env)
        self._run: RunCheck = run or run_check
        self._today = today

    def run(
        self, *, services: Iterable[str] = (), checks: Iterable[str] = (), wait: float = 0.0
    ) -> ValidationReport:
        """:meth:`validate` from synchronous code."""
        return asyncio.run(self.validate(services=services, checks=checks, wait=wait))

    async def validate(
        self, *, services: Iterable[str] = (), checks: Iterable[str] = (), wait: float = 0.0
    ) -> ValidationReport:
        """Validate; with ``wait`` seconds, re-run what failed until it passes or time is up."""
        start = time.perf_counter()
        config = self.loaded.config(self.env)
        report = ValidationReport(config.project, self.env)
        report.diagnostics.extend(d for d in self.loaded.diagnostics if d.severity == "warning")
        report.diagnostics.extend(self._preflight())
        if report.config_invalid:
            report.duration = time.perf_counter() - start
            return report
        runtime = self.loaded.runtime_config(self.env)
        wanted = self._selection(runtime, set(services), set(checks), report)
        deadline = start + wait
        verdicts = await self._round(runtime, wanted, {})
        while wait > 0 and any(v.counts for v in verdicts.values()):
            pause = _RETRY_PAUSE[min(report.rounds - 1, len(_RETRY_PAUSE) - 1)]
            if time.perf_counter() + pause >= deadline:
                report.notes.append(
                    f"still failing after waiting {wait:g}s ({report.rounds} rounds)"
                )
                break
            await asyncio.sleep(pause)
            report.rounds += 1
            verdicts = await self._round(runtime, wanted, verdicts)
        report.verdicts = list(verdicts.values())
        report.duration = time.perf_counter() - start
        return report

    def _preflight(self) -> list[Diagnostic]:
        """The environment contract and the secrets file: problems here stop the checks."""
        from redline._errors import SecretsError
        from redline.environment import EnvironmentManager

        out: list[Diagnostic] = []
        if self.env is not None:
            out.extend(EnvironmentManager(self.loaded).check(self.env))
        secrets = self.loaded.secrets() if self.loaded.has_secrets_file() else None
        if secrets is not None:
            try:
                problems = secrets.verify()
            except SecretsError as exc:
                problems = [exc.message]
            out.extend(
                Diagnostic(
                    "secrets-unreadable",
                    p,
                    str(secrets.display),
                    hint="run `redline secrets check`",
                )
                for p in problems
            )
        return out

    def _selection(
        self, config: Config, services: set[str], checks: set[str], report: ValidationReport
    ) -> dict[str, list[Check]]:
        unknown = services - set(config.services)
        if unknown:
            report.notes.append(f"no such service: {', '.join(sorted(unknown))}")
        chosen: dict[str, list[Check]] = {}
        for name, service in config.services.items():
            if services and name not in services:
                continue
            picked = [c for c in service.checks if not checks or (c.name or c.protocol) in checks]
            if picked:
                chosen[name] = picked
        if checks and not chosen:
            report.notes.append(f"no check named {', '.join(sorted(checks))}")
        return chosen

    async def _round(
        self, config: Config, wanted: dict[str, list[Check]], previous: Mapping[str, CheckVerdict]
    ) -> dict[str, CheckVerdict]:
        """Every wanted check once (those that passed before are kept), dependencies first."""
        done: dict[str, asyncio.Future[list[CheckVerdict]]] = {}
        loop = asyncio.get_running_loop()
        for name in wanted:
            done[name] = loop.create_future()

        async def service(name: str) -> None:
            blocker = None
            for dep in config.services[name].depends_on:
                if dep in done and any(v.counts for v in await done[dep]):
                    blocker = dep
                    break
            items = await asyncio.gather(
                *(self._verdict(name, c, blocker, previous) for c in wanted[name])
            )
            done[name].set_result(list(items))

        await asyncio.gather(*(service(n) for n in wanted))
        return {v.id: v for fut in done.values() for v in fut.result()}

    async def _verdict(
        self, service: str, check: Check, blocker: str | None, previous: Mapping[str, CheckVerdict]
    ) -> CheckVerdict:
        name = check.name or check.protocol
        before = previous.get(f"{service}/{name}")
        if before is not None and before.status in {"ok", "waived"}:
            return before
        base = partial(CheckVerdict, service, name, check.protocol, check.severity)
        if blocker is not None:
            return base(
                status="blocked",
                blocked_by=blocker,
                reason=f"blocked by {blocker}: it did not pass, so this was not run",
            )
        result = await self._run(service, check)
        if result.outcome == "ok":
            return base(status="ok", reason=result.reason, result=result)
        waiver = check.waiver
        if waiver is not None:
            info = {"reason": waiver.reason, "until": str(waiver.until)}
            if self._today() <= waiver.until:
                return base(
                    status="waived",
                    result=result,
                    waiver=info,
                    reason=f"{result.reason} (waived until {waiver.until}: {waiver.reason})",
                )
            return base(
                status=result.outcome,
                result=result,
                waiver=info,
                reason=f"{result.reason} (waiver expired on {waiver.until})",
            )
        return base(status=result.outcome, reason=result.reason, result=result)


def record_validation(store: Store | str, report: ValidationReport, **meta: Any) -> str:
    """Record ``report`` as a ``validation`` run with its per-check latencies; the run id.

    ``store`` is an open :class:`~redline.store.Store` or a store URL; with a URL the
    run is appended by :func:`~redline.store.append_run`, which skips SQLAlchemy for
    a SQLite store already in use.
    """
    import socket

    from redline.store.records import MetricRecord

    metrics = [
        MetricRecord(
            f"{v.service}.{v.check}.latency_ms",
            round(v.result.latency * 1000, 3),
            unit="ms",
            direction="lower",
        )
        for v in report.verdicts
        if v.result is not None
    ]
    finished = report.started_at + dt.timedelta(seconds=report.duration)
    run: dict[str, Any] = {
        "kind": "validation",
        "name": report.project,
        "environment": report.environment,
        "status": report.status,
        "started_at": report.started_at,
        "finished_at": finished,
        "host": meta.pop("host", None) or socket.gethostname(),
        "summary": {
            "exit_code": report.exit_code,
            "checks": {v.id: v.status for v in report.verdicts},
            "rounds": report.rounds,
        },
        "metrics": metrics,
        **meta,
    }
    if isinstance(store, str):
        from redline.store.append import append_run

        run_id = append_run(store, **run)
    else:
        run_id = store.record_run(**run)
    report.run_id = run_id
    return run_id


def junit_xml(report: ValidationReport) -> str:
    """The report as JUnit XML: a test case per check (blocked and waived are skipped)."""
    from xml.etree import ElementTree as ET

    suite = ET.Element(
        "testsuite",
        name=f"redline.validate.{report.environment or 'default'}",
        tests=str(len(report.verdicts)),
        time=f"{report.duration:.3f}",
        timestamp=report.started_at.isoformat(),
    )
    failures = errors = skipped = 0
    for v in report.verdicts:
        seconds = v.result.latency if v.result else 0.0
        case = ET.SubElement(
            suite, "testcase", classname=v.service, name=v.check, time=f"{seconds:.6f}"
        )
        if v.status in {"blocked", "waived"}:
            skipped += 1
            ET.SubElement(case, "skipped", message=v.reason)
        elif v.status == "fail" and v.severity == "critical":
            failures += 1
            ET.SubElement(case, "failure", message=v.reason, type="fail").text = v.reason
        elif v.status == "error" and v.severity == "critical":
            errors += 1
            ET.SubElement(case, "error", message=v.reason, type="error").text = v.reason
        elif v.status != "ok":
            ET.SubElement(case, "system-out").text = f"warning: {v.reason}"
    for d in report.diagnostics:
        case = ET.SubElement(suite, "testcase", classname="config", name=d.code)
        if d.severity == "error":
            errors += 1
            ET.SubElement(case, "error", message=d.one_line(), type=d.rule)
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    suite.set("tests", str(len(suite)))
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
