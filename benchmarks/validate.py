"""What ``redline validate`` costs beyond ``redline config check``: 10 services on loopback.

    python benchmarks/validate.py                  # 15 interleaved rounds, human output
    python benchmarks/validate.py --rounds 31 --json

Writes a config of 10 services to a temporary directory: 6 HTTP services with two
checks each (``/health`` with a status and ``max_latency``, ``/ready`` with
``contains``) against a small loopback HTTP server started in its own process on
port 0; 2 PostgreSQL services (``SELECT 1``, and a query with ``expect``) on the
real server at 127.0.0.1:5432; 2 Redis services (PING, and PING with an ``INFO``
condition) on 127.0.0.1:6379. The HTTP services depend on a database and a cache,
as a typical stack does, so the validator runs them second. 16 checks in all.

The store is a SQLite file in the temporary directory, migrated by one untimed
warm-up run, so the rounds measure the steady state (every run records a
validation run with 16 latency metrics). Then, interleaved (the order flips each
round), as fresh processes:

  (a) python -m redline -c FILE config check
  (b) python -m redline -c FILE validate
  (c) python -m redline -c FILE validate --no-store    (what recording the run costs)
  (d) python -c pass                                   (the interpreter, for scale)

and, in the first ``--fresh`` rounds, (b) against a new, empty store
(``REDLINE_STORE_URL``): the first run's migration, reported apart.

Targets (reported, never gated): median (b) - median (a) under 100 ms; median
(b) under 0.6 s; peak RSS of (b) under 50 MB. Then, for context, where (b)'s
extra time goes:

- the modules (b) imports that (a) does not, self time summed by package, from
  ``python -X importtime`` (median of ``--profile-runs``; importtime inflates
  times, so read the rows against each other);
- the same imports step by step in fresh processes, in the order ``validate``
  makes them (no importtime overhead): wall time and peak RSS after each step;
- the interpreter's teardown at exit: each command run normally against the
  same command ending with ``os._exit`` right after redline's ``main`` returns;
- the same validation in one warm process, phase by phase.

Always exits 0: it reports, it does not judge a build.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _proc import cold_rows, ms, run, summary
from http_checks import local_server

DELTA_TARGET_MS = 100.0
WALL_TARGET_S = 0.6
RSS_TARGET_MB = 50.0
_MB = 1024 * 1024

POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
_HTTP_SERVICES = ("api", "auth", "billing", "catalog", "search", "gateway")


def config_text(http_port: int, store: str) -> str:
    """The 10-service config: 6 HTTP (2 checks each), 2 PostgreSQL, 2 Redis; 16 checks."""
    base = f"http://127.0.0.1:{http_port}"
    lines = [
        "project: bench-validate",
        f'store: "{store}"',
        "services:",
        "  db:",
        "    kind: db",
        "    checks:",
        "      - name: select",
        f'        postgres: {{dsn: "{POSTGRES_DSN}"}}',
        "  reports-db:",
        "    kind: db",
        "    checks:",
        "      - name: version",
        "        postgres:",
        f'          dsn: "{POSTGRES_DSN}"',
        "          query: SELECT count(*) >= 0 FROM pg_stat_activity",
        "          expect: true",
        "  cache:",
        "    kind: cache",
        "    checks:",
        "      - name: ping",
        f'        redis: {{url: "{REDIS_URL}"}}',
        "  sessions:",
        "    kind: cache",
        "    checks:",
        "      - name: role",
        f'        redis: {{url: "{REDIS_URL}", info: {{role: master}}}}',
    ]
    for i, name in enumerate(_HTTP_SERVICES):
        deps = '["db", "cache"]' if i % 2 == 0 else '["reports-db", "sessions"]'
        lines += [
            f"  {name}:",
            "    kind: api",
            f"    url: {base}/{name}",
            f"    depends_on: {deps}",
            "    checks:",
            "      - name: health",
            f'        http: {{url: "{base}/{name}/health", status: 200, max_latency: 250ms}}',
            "      - name: ready",
            f'        http: {{url: "{base}/{name}/ready", status: 2xx, contains: "ok"}}',
        ]
    return "\n".join(lines) + "\n"


def _contenders(file: str) -> dict[str, list[str]]:
    redline = [sys.executable, "-m", "redline", "-c", file]
    return {
        "config_check": [*redline, "config", "check"],
        "validate": [*redline, "validate"],
        "validate_no_store": [*redline, "validate", "--no-store"],
        "interpreter": [sys.executable, "-c", "pass"],
    }


def cold(file: str, rounds: int, fresh: int, workdir: str) -> dict[str, Any]:
    """Interleaved cold runs; wall seconds and peak RSS bytes per contender."""
    cmds = _contenders(file)
    env = {k: v for k, v in os.environ.items() if k not in {"REDLINE_CONFIG", "REDLINE_STORE_URL"}}
    names = list(cmds)
    walls: dict[str, list[float]] = {n: [] for n in [*names, "validate_fresh_store"]}
    rss: dict[str, list[int]] = {n: [] for n in walls}
    problems: list[str] = []
    # Warm the page cache and bytecode caches, and migrate the store; not timed.
    for name in names:
        first = run(cmds[name], cwd=workdir, env=env)
        if first.returncode != 0:
            problems.append(f"{name} exited {first.returncode}: {first.output.strip()[-800:]}")
    shown = run([*cmds["validate"], "--json"], cwd=workdir, env=env)
    try:
        doc = json.loads(shown.output)
        counts = doc.get("counts", {})
    except ValueError:
        doc, counts = {}, {}
        problems.append(f"validate --json did not print JSON: {shown.output.strip()[-800:]}")
    if doc and (doc.get("exit_code") != 0 or set(counts) != {"ok"}):
        bad = [c for c in doc.get("checks", []) if c.get("status") != "ok"]
        problems.append(f"validate did not pass: {counts}; {json.dumps(bad)[:800]}")
    human = run(cmds["validate"], cwd=workdir, env=env)
    for r in range(rounds):
        order = names if r % 2 == 0 else list(reversed(names))
        if r < fresh:
            order = [*order, "validate_fresh_store"]
        for name in order:
            if name == "validate_fresh_store":
                store = Path(workdir, f"fresh-{r}", "redline.db").as_posix()
                sample = run(
                    cmds["validate"],
                    cwd=workdir,
                    env={**env, "REDLINE_STORE_URL": f"sqlite:///{store}"},
                )
            else:
                sample = run(cmds[name], cwd=workdir, env=env)
            if sample.returncode != 0:
                problems.append(f"{name} exited {sample.returncode} in round {r}")
            walls[name].append(sample.wall)
            if sample.rss is not None:
                rss[name].append(sample.rss)
    return {
        "commands": {n: " ".join(c) for n, c in cmds.items()},
        "validate_output": human.output.strip(),
        "counts": counts,
        "problems": problems,
        "wall_s": {n: summary(v) for n, v in walls.items() if v},
        "peak_rss_mb": {n: summary([b / _MB for b in v]) for n, v in rss.items() if v},
    }


_IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")
# Runs redline's main and leaves without the interpreter's teardown (module and object
# finalization): the difference to a normal run is what the teardown costs.
_HARD_EXIT = (
    "import os, sys\n"
    "sys.argv = ['redline', *sys.argv[1:]]\n"
    "from redline.cli import main\n"
    "try:\n"
    "    main()\n"
    "except SystemExit as exc:\n"
    "    code = exc.code if isinstance(exc.code, int) else 1\n"
    "sys.stdout.flush(); sys.stderr.flush()\n"
    "os._exit(code)\n"
)


# The order `redline validate` imports in (config check's imports are the first two steps).
IMPORT_STEPS = (
    ("redline.cli", "click, the command group"),
    ("redline.config.loader", "yaml, pydantic, the schema"),
    ("redline.validation", "asyncio, the validator"),
    ("redline.environment", "the environment contract"),
    ("redline.probes.registry", "the probe registry"),
    ("redline.probes.postgres", "postgres probe: its own wire protocol client"),
    ("redline.probes.redis", "redis probe: its own RESP client"),
    ("redline.probes.http", "http probe"),
    ("redline.store.append", "the store write: sqlite3 when the store is at head"),
    ("redline.cli._table", "the human output's table"),
)
_STEPS_SOURCE = """
import importlib, resource, sys, time
unit = 1 if sys.platform == "darwin" else 1024
for name in sys.argv[1:]:
    start = time.perf_counter()
    importlib.import_module(name)
    took = time.perf_counter() - start
    print(name, took, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit)
"""


def import_steps(runs: int) -> list[dict[str, Any]]:
    """Each step of IMPORT_STEPS in fresh processes: median seconds and peak RSS after it."""
    names = [name for name, _ in IMPORT_STEPS]
    took: dict[str, list[float]] = {n: [] for n in names}
    rss: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(runs):
        sample = run([sys.executable, "-c", _STEPS_SOURCE, *names])
        for line in sample.output.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] in took:
                took[parts[0]].append(float(parts[1]))
                rss[parts[0]].append(int(parts[2]) / _MB)
    return [
        {
            "module": name,
            "why": why,
            "s": statistics.median(took[name]) if took[name] else None,
            "rss_after_mb": statistics.median(rss[name]) if rss[name] else None,
        }
        for name, why in IMPORT_STEPS
    ]


def _group(module: str) -> str:
    """The package a module is counted under: its top-level name, redline's by subpackage."""
    parts = module.split(".")
    if parts[0] == "redline" and len(parts) > 1:
        return ".".join(parts[:2])
    return "psycopg" if parts[0].startswith("psycopg") else parts[0]


def _importtime(cmd: list[str], workdir: str, env: dict[str, str]) -> dict[str, int]:
    """module -> self microseconds, from one ``-X importtime`` run of ``cmd``."""
    sample = run([sys.executable, "-X", "importtime", *cmd[1:]], cwd=workdir, env=env)
    found: dict[str, int] = {}
    for line in sample.output.splitlines():
        m = _IMPORTTIME.match(line)
        if m:
            found[m.group(4)] = int(m.group(1))
    return found


def breakdown(file: str, runs: int, rounds: int, workdir: str) -> dict[str, Any]:
    """Where validate's extra time goes: extra imports by package, and teardown at exit."""
    cmds = _contenders(file)
    env = {k: v for k, v in os.environ.items() if k not in {"REDLINE_CONFIG", "REDLINE_STORE_URL"}}
    by_package: dict[str, list[float]] = {}
    modules: list[int] = []
    for _ in range(runs):
        check = _importtime(cmds["config_check"], workdir, env)
        validate = _importtime(cmds["validate"], workdir, env)
        extra = {m: us for m, us in validate.items() if m not in check}
        modules.append(len(extra))
        sums: dict[str, float] = {}
        for mod, us in extra.items():
            sums[_group(mod)] = sums.get(_group(mod), 0.0) + us / 1000
        for pkg in set(sums) | set(by_package):
            by_package.setdefault(pkg, []).append(sums.get(pkg, 0.0))
    packages = sorted(
        ((pkg, statistics.median(v)) for pkg, v in by_package.items()), key=lambda kv: -kv[1]
    )
    hard = {
        name: [sys.executable, "-c", _HARD_EXIT, *cmds[name][3:]]
        for name in ("config_check", "validate")
    }
    walls: dict[str, list[float]] = {}
    for r in range(rounds):
        order = ["config_check", "validate"]
        for name in order if r % 2 == 0 else reversed(order):
            walls.setdefault(name, []).append(run(cmds[name], cwd=workdir, env=env).wall)
            walls.setdefault(f"{name}_os_exit", []).append(
                run(hard[name], cwd=workdir, env=env).wall
            )
    med = {k: statistics.median(v) for k, v in walls.items()}
    return {
        "importtime_runs": runs,
        "extra_modules": statistics.median(modules) if modules else 0,
        "extra_import_ms_by_package": dict(packages),
        "import_steps": import_steps(runs),
        "teardown_rounds": rounds,
        "wall_s": med,
        "teardown_ms": {
            name: (med[name] - med[f"{name}_os_exit"]) * 1000
            for name in ("config_check", "validate")
        },
    }


def _timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def warm(file: str, workdir: str, repeat: int) -> dict[str, Any]:
    """The validation in one process: first imports, then warm phases (median of ``repeat``)."""
    out: dict[str, Any] = {}
    out["import_loader_s"], _ = _timed(lambda: __import__("redline.config.loader"))
    from redline.config.loader import load_config

    out["first_load_config_s"], loaded = _timed(lambda: load_config(file))
    out["import_validation_s"], _ = _timed(lambda: __import__("redline.validation"))
    from redline.validation import DeploymentValidator, record_validation

    out["first_validate_s"], report = _timed(lambda: DeploymentValidator(loaded).run())
    url = loaded.store_url(None)
    # What `redline validate` does: append the run by URL (sqlite3 when the store is at head).
    out["first_record_s"], _ = _timed(lambda: record_validation(url, report, host="bench"))
    from redline.store import open_store

    # Migration of a new SQLite store (SQLAlchemy and Alembic), imports already paid.
    migrations = []
    for i in range(3):
        path = Path(workdir, f"warm-fresh-{i}", "redline.db").as_posix()
        seconds, fresh = _timed(lambda p=path: open_store(f"sqlite:///{p}"))
        fresh.close()
        migrations.append(seconds)
    out["migrate_new_store_s"] = summary(migrations)
    phases: dict[str, list[float]] = {"load_config": [], "validate_run": [], "record": []}
    for _ in range(repeat):
        t0 = time.perf_counter()
        loaded = load_config(file)
        t1 = time.perf_counter()
        report = DeploymentValidator(loaded).run()
        t2 = time.perf_counter()
        record_validation(loaded.store_url(None), report, host="bench")
        t3 = time.perf_counter()
        for name, seconds in zip(phases, (t1 - t0, t2 - t1, t3 - t2), strict=True):
            phases[name].append(seconds)
    out["warm_s"] = {k: summary(v) for k, v in phases.items()}
    out["check_latency_ms"] = {
        v.id: round(v.result.latency * 1000, 2) for v in report.verdicts if v.result
    }
    return out


def report(result: dict[str, Any]) -> str:
    c = result["cold"]
    w = c["wall_s"]
    m = result["machine"]
    lines = [
        f"redline validate benchmark: {result['config']['shape']}, "
        f"{w['validate']['n']} interleaved rounds",
        f"python {m['python']} on {m['platform']}, {m['cpus']} CPUs; {result['date']}",
        "",
        "cold processes (wall)                    median       min       max   peak RSS median",
    ]
    labels = {
        "interpreter": "python -c pass",
        "config_check": "(a) redline config check",
        "validate": "(b) redline validate",
        "validate_fresh_store": "(b) on a new store (migrates)",
        "validate_no_store": "(c) redline validate --no-store",
    }
    lines += cold_rows(labels, w, c["peak_rss_mb"], 38)
    t = result["targets"]
    lines += [
        "",
        f"validate - config check (medians): {t['delta_ms']:.1f} ms "
        f"(of mins {t['delta_min_ms']:.1f} ms); target < {DELTA_TARGET_MS:.0f} ms: "
        f"{t['delta_verdict']}",
        f"validate wall (median): {t['validate_s'] * 1000:.1f} ms; "
        f"target < {WALL_TARGET_S * 1000:.0f} ms: {t['wall_verdict']}",
    ]
    if t["peak_rss_mb"] is not None:
        lines.append(
            f"validate peak RSS (median): {t['peak_rss_mb']:.1f} MB; "
            f"target < {RSS_TARGET_MB:.0f} MB: {t['rss_verdict']}"
        )
    if "validate_no_store" in w:
        store_ms = (w["validate"]["median"] - w["validate_no_store"]["median"]) * 1000
        lines.append(f"recording the run in the store (b) - (c): {store_ms:.1f} ms of the medians")
    if t.get("migration_ms") is not None:
        lines.append(
            f"first run on a new store: +{t['migration_ms']:.1f} ms over a migrated one "
            f"(median of {w['validate_fresh_store']['n']}; not in the figures above)"
        )
    b = result["breakdown"]
    total = sum(b["extra_import_ms_by_package"].values())
    lines += [
        "",
        f"where (b)'s extra time goes: {b['extra_modules']:.0f} modules that (a) does not "
        f"import, {total:.1f} ms self time under -X importtime (median of "
        f"{b['importtime_runs']} runs; inflated, compare rows):",
    ]
    shown = list(b["extra_import_ms_by_package"].items())
    lines += [f"  {ms:7.1f} ms  {pkg}" for pkg, ms in shown[:12]]
    rest = sum(ms for _, ms in shown[12:])
    if rest:
        lines.append(f"  {rest:7.1f} ms  ({len(shown) - 12} more packages)")
    lines += [
        "",
        f"the same imports step by step, fresh processes (median of {b['importtime_runs']}); "
        "the first two are config check's too:",
        "     ms  peak RSS after  module (why)",
    ]
    before = None
    for step in b["import_steps"]:
        if step["s"] is None:
            lines.append(f"    n/a                  {step['module']} ({step['why']})")
            continue
        grew = "" if before is None else f" (+{step['rss_after_mb'] - before:4.1f})"
        lines.append(
            f"  {step['s'] * 1000:5.1f}  {step['rss_after_mb']:6.1f} MB{grew:9} "
            f"{step['module']} ({step['why']})"
        )
        before = step["rss_after_mb"]
    td = b["teardown_ms"]
    lines.append(
        f"interpreter teardown at exit (normal exit - os._exit, medians of "
        f"{b['teardown_rounds']}): validate {td['validate']:.1f} ms, "
        f"config check {td['config_check']:.1f} ms"
    )
    v = result["warm"]
    lines += ["", "in one warm process"]
    rows = [
        ("import redline.config.loader (first)", v["import_loader_s"]),
        ("load_config (first)", v["first_load_config_s"]),
        ("import redline.validation (first)", v["import_validation_s"]),
        ("DeploymentValidator.run (first: probe imports)", v["first_validate_s"]),
        ("record_validation by URL (first)", v["first_record_s"]),
        ("open_store of a new SQLite file (migrate)", v["migrate_new_store_s"]["median"]),
    ]
    rows += [(f"{k} (warm median)", s["median"]) for k, s in v["warm_s"].items()]
    lines += [f"  {label:<48} {ms(value)}" for label, value in rows]
    slowest = sorted(v["check_latency_ms"].items(), key=lambda kv: -kv[1])[:4]
    lines.append("  slowest checks (warm): " + ", ".join(f"{k} {ms} ms" for k, ms in slowest))
    if c["problems"]:
        lines += ["", "PROBLEMS (figures above may not mean what they say):"]
        lines += [f"  {p}" for p in c["problems"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument(
        "--fresh", type=int, default=5, help="runs on a new store, for the migration (default 5)"
    )
    parser.add_argument("--repeat", type=int, default=9, help="warm repetitions (default 9)")
    parser.add_argument(
        "--profile-runs", type=int, default=5, help="-X importtime runs each (default 5)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="redline-bench-") as workdir, local_server() as http:
        file = str(Path(workdir, "redline.yaml"))
        store = f"sqlite:///{Path(workdir, 'store', 'redline.db').as_posix()}"
        text = config_text(http.port, store)
        Path(file).write_text(text, encoding="utf-8")
        result: dict[str, Any] = {
            "benchmark": "validate",
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "machine": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "load": os.getloadavg() if hasattr(os, "getloadavg") else None,
            },
            "config": {
                "shape": "10 services (6 HTTP x 2 checks, 2 PostgreSQL, 2 Redis), 16 checks",
                "lines": text.count("\n"),
            },
        }
        result["cold"] = cold(file, args.rounds, min(args.fresh, args.rounds), workdir)
        result["breakdown"] = breakdown(file, args.profile_runs, args.profile_runs, workdir)
        result["warm"] = warm(file, workdir, args.repeat)

    w = result["cold"]["wall_s"]
    delta = w["validate"]["median"] - w["config_check"]["median"]
    rss = result["cold"]["peak_rss_mb"].get("validate", {}).get("median")
    fresh = w.get("validate_fresh_store")
    result["targets"] = {
        "delta_ms": delta * 1000,
        "delta_min_ms": (w["validate"]["min"] - w["config_check"]["min"]) * 1000,
        "delta_target_ms": DELTA_TARGET_MS,
        "delta_verdict": "PASS" if delta * 1000 < DELTA_TARGET_MS else "ABOVE TARGET",
        "validate_s": w["validate"]["median"],
        "wall_target_s": WALL_TARGET_S,
        "wall_verdict": "PASS" if w["validate"]["median"] < WALL_TARGET_S else "ABOVE TARGET",
        "peak_rss_mb": rss,
        "rss_target_mb": RSS_TARGET_MB,
        "rss_verdict": None if rss is None else ("PASS" if rss < RSS_TARGET_MB else "ABOVE TARGET"),
        "migration_ms": (fresh["median"] - w["validate"]["median"]) * 1000 if fresh else None,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
