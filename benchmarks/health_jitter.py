"""HealthChecker with 1,000 checks on 10 s intervals: start jitter, CPU per check, peak RSS.

    python benchmarks/health_jitter.py                    # 1,000 HTTP checks for 35 s
    python benchmarks/health_jitter.py --duration 65 --json
    python benchmarks/health_jitter.py --protocol tcp     # TCP connects instead of HTTP
    python benchmarks/health_jitter.py --jitter 10s       # first starts spread over 10 s

Writes a config of 100 services x 10 checks, every check on a 10 s interval
(``health: {interval: 10s, jitter: 1s}``: the first start of each check is spread
over [0, jitter], 1 s being the schema's default), all against a loopback HTTP
server in its own process that answers at once (``--protocol tcp``: TCP connects
to it). A ``HealthChecker`` with a migrated SQLite store (batched sample writes,
as ``redline health`` does) runs in this process for ``--duration`` seconds.

Figures:

- start jitter: the checker's own schedule statistics (``status().schedule``:
  lateness of each start against its absolute slot, an HDR histogram), p50 /
  p99 / max; and, as a cross-check computed here from the check seam, each
  start's offset from ``first start + k x interval`` of its check (drift).
  Target: p99 under 100 ms.
- CPU per check: ``time.process_time()`` of this process over the run (every
  thread, so the store writer too) divided by the results; user / sys apart.
  Also the steady state: from 2 s after the first round's starts to the end,
  leaving out the first round's lazy imports and first connections.
  The server's CPU is not counted (another process).
- peak RSS: ``ru_maxrss`` of this process (which holds nothing but redline, the
  config and this script); and the resident set (``VmRSS``) with the config
  loaded, then once ``HealthChecker(...)`` is built (its per-check state).

Always exits 0: it reports, it does not judge a build.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from http_checks import local_server

JITTER_TARGET_S = 0.100
_RSS_UNIT = 1 if sys.platform == "darwin" else 1024
_MB = 1024 * 1024


def config_text(port: int, services: int, per: int, interval: str, jitter: str, proto: str) -> str:
    lines = [
        "project: bench-health",
        f"health: {{interval: {interval}, jitter: {jitter}}}",
        "services:",
    ]
    for s in range(services):
        lines += [f"  svc-{s:03d}:", "    checks:"]
        for c in range(per):
            lines += [f"      - name: c{c:02d}", "        timeout: 5s"]
            if proto == "http":
                url = f"http://127.0.0.1:{port}/svc-{s}/c{c}"
                lines.append(f'        http: {{url: "{url}", status: 200, contains: "ok"}}')
            else:
                lines.append(f"        tcp: {{host: 127.0.0.1, port: {port}}}")
    return "\n".join(lines) + "\n"


def _rss_now() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / _MB
    except OSError:
        pass
    return None


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1)]


async def _run(checker: Any, duration: float, mark: float, at_mark: Any) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.call_later(duration, stop.set)
    if mark < duration:
        loop.call_later(mark, at_mark)
    await checker.run(stop)


def measure(workdir: str, args: argparse.Namespace) -> dict[str, Any]:
    from redline.config.loader import load_config
    from redline.health import HealthChecker
    from redline.probes.base import run_check
    from redline.store import open_store

    services = max(1, args.checks // 10)
    per = math.ceil(args.checks / services)
    with local_server() as server:
        file = Path(workdir, "redline.yaml")
        file.write_text(
            config_text(server.port, services, per, args.interval, args.jitter, args.protocol)
        )
        loaded = load_config(str(file))
        config = loaded.runtime_config(None)
        store = None
        if not args.no_store:
            store = open_store(f"sqlite:///{Path(workdir, 'store', 'redline.db').as_posix()}")

        starts: dict[tuple[str, str], list[float]] = {}
        done = [0]
        marked: list[float] = []

        async def seam(service: str, check: Any) -> Any:
            # The cross-check: when the checker called the probe, per check.
            starts.setdefault((service, check.name), []).append(time.monotonic())
            try:
                return await run_check(service, check)
            finally:
                done[0] += 1

        def at_mark() -> None:
            marked.extend((time.process_time(), done[0]))

        rss_setup = _rss_now()
        checker = HealthChecker(config, env=None, store=store, run=seam)
        rss_built = _rss_now()
        t0, c0, w0 = os.times(), time.process_time(), time.perf_counter()
        # Steady state: from 2 s after the first round's last start (lazy imports, first
        # connections and the store writer's thread are behind) to the end.
        mark = checker.config.health.jitter + 2.0
        asyncio.run(_run(checker, args.duration, mark, at_mark))
        t1, c1, w1 = os.times(), time.process_time(), time.perf_counter()
        done_end = done[0]
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _RSS_UNIT / _MB
        status = checker.status()
        if store is not None:
            store.close()

    interval = checker.checks[0].interval
    drift = [
        t - times[0] - k * interval
        for times in starts.values()
        for k, t in enumerate(times)
        if k > 0
    ]
    outcomes = {"ok": 0, "fail": 0, "error": 0}
    reasons: dict[str, int] = {}
    for svc in status.services.values():
        for c in svc.checks:
            outcomes["ok"] += c.ok
            outcomes["fail"] += c.failed
            outcomes["error"] += c.errors
            if c.last is not None and not c.last.ok:
                reasons[c.last.reason] = reasons.get(c.last.reason, 0) + 1
    results = sum(outcomes.values())
    s = status.schedule
    return {
        "checks": len(checker.checks),
        "interval_s": interval,
        "jitter_s": config.health.jitter,
        "protocol": args.protocol,
        "duration_s": w1 - w0,
        "store": "sqlite" if store is not None else None,
        "schedule": {
            "starts": s.starts,
            "skipped": s.skipped,
            "late_p50_s": s.late_p50,
            "late_p99_s": s.late_p99,
            "late_max_s": s.late_max,
            "samples_written": s.samples_written,
            "store_errors": s.store_errors,
        },
        "cross_check": {
            "repeat_starts": len(drift),
            "drift_p50_s": _percentile(drift, 50),
            "drift_p99_s": _percentile(drift, 99),
            "drift_max_s": max(drift, default=0.0),
        },
        "results": results,
        "outcomes": outcomes,
        "failing_reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])[:3]),
        "cpu": {
            "total_s": c1 - c0,
            "user_s": t1.user - t0.user,
            "sys_s": t1.system - t0.system,
            "per_check_ms": (c1 - c0) / results * 1000 if results else None,
            "busy_pct": (c1 - c0) / (w1 - w0) * 100,
            "steady_per_check_ms": (
                (c1 - marked[0]) / (done_end - marked[1]) * 1000
                if marked and done_end > marked[1]
                else None
            ),
            "steady_results": done_end - marked[1] if marked else 0,
        },
        "rss_mb": {"setup": rss_setup, "checker_built": rss_built, "peak": peak},
    }


def report(result: dict[str, Any]) -> str:
    r = result["run"]
    m = result["machine"]
    s = r["schedule"]
    x = r["cross_check"]
    cpu = r["cpu"]
    rss = r["rss_mb"]
    ms = 1000
    per = f"{cpu['per_check_ms']:.3f} ms" if cpu["per_check_ms"] is not None else "n/a"
    steady = cpu["steady_per_check_ms"]
    steady_text = f"{steady:.3f} ms" if steady is not None else "n/a (run longer)"
    lines = [
        f"redline HealthChecker benchmark: {r['checks']} {r['protocol']} checks every "
        f"{r['interval_s']:g} s (first starts spread over {r['jitter_s']:g} s), "
        f"{r['duration_s']:.1f} s, store: {r['store']}",
        f"python {m['python']} on {m['platform']}, {m['cpus']} CPUs; {result['date']}",
        "",
        f"starts {s['starts']}, skipped slots {s['skipped']}, results {r['results']} "
        f"{r['outcomes']}, samples written {s['samples_written']}, "
        f"store errors {s['store_errors']}",
        f"start lateness (checker's schedule stats): p50 {s['late_p50_s'] * ms:.1f} ms, "
        f"p99 {s['late_p99_s'] * ms:.1f} ms, max {s['late_max_s'] * ms:.1f} ms",
        f"  target p99 < {JITTER_TARGET_S * ms:.0f} ms: {result['targets']['jitter_verdict']}",
        f"cross-check, start k vs first start + k x interval ({x['repeat_starts']} repeat "
        f"starts): p50 {x['drift_p50_s'] * ms:.1f} ms, p99 {x['drift_p99_s'] * ms:.1f} ms, "
        f"max {x['drift_max_s'] * ms:.1f} ms",
        f"CPU: {cpu['total_s']:.2f} s over the run (user {cpu['user_s']:.2f}, "
        f"sys {cpu['sys_s']:.2f}; {cpu['busy_pct']:.0f}% of one core) = {per} per check",
        f"  steady state (after the first round, {cpu['steady_results']} results): "
        f"{steady_text} per check",
        f"RSS: {rss['setup']:.1f} MB with redline imported and the config loaded; "
        f"{rss['checker_built']:.1f} MB once HealthChecker(...) is built "
        f"(+{rss['checker_built'] - rss['setup']:.1f} MB for {r['checks']} checks); "
        f"peak {rss['peak']:.1f} MB",
    ]
    if r["failing_reasons"]:
        lines.append(f"last reasons of failing checks: {r['failing_reasons']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=1000, help="checks (default 1000)")
    parser.add_argument("--interval", default="10s", help="health.interval (default 10s)")
    parser.add_argument("--jitter", default="1s", help="health.jitter (default 1s)")
    parser.add_argument("--duration", type=float, default=35.0, help="seconds (default 35)")
    parser.add_argument("--protocol", choices=["http", "tcp"], default="http")
    parser.add_argument("--no-store", action="store_true", help="run without a store")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    result: dict[str, Any] = {
        "benchmark": "health_jitter",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load": os.getloadavg() if hasattr(os, "getloadavg") else None,
        },
    }
    with tempfile.TemporaryDirectory(prefix="redline-bench-") as workdir:
        result["run"] = measure(workdir, args)
    p99 = result["run"]["schedule"]["late_p99_s"]
    result["targets"] = {
        "late_p99_s": p99,
        "target_s": JITTER_TARGET_S,
        "jitter_verdict": "PASS" if p99 < JITTER_TARGET_S else "ABOVE TARGET",
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
