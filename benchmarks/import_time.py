"""What ``import redline`` adds to a bare interpreter start.

    python benchmarks/import_time.py                # 15 interleaved rounds, human output
    python benchmarks/import_time.py --rounds 31 --json

Runs, interleaved (the order flips each round) so a noisy machine hurts each
alike, cold processes of:

  python -c pass
  python -c "import redline"
  python -c "import redline; redline.load_config"   (resolves the lazy name: imports the loader)

and prints median wall times and the delta over ``pass``. Target (reported,
never gated): ``import redline`` adds under 100 ms. For context it then runs
``python -X importtime`` on both imports several times and lists the ten
modules with the most self time that a bare start does not import.

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
import time
from typing import Any

from _proc import run, summary

TARGET_MS = 100.0
_MB = 1024 * 1024

STATEMENTS = {
    "bare": "pass",
    "import_redline": "import redline",
    "load_config": "import redline; redline.load_config",
}
_IMPORTTIME = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def cold(rounds: int) -> dict[str, Any]:
    """Interleaved cold runs of each statement; wall seconds and peak RSS."""
    names = list(STATEMENTS)
    walls: dict[str, list[float]] = {n: [] for n in names}
    rss: dict[str, list[float]] = {n: [] for n in names}
    problems = []
    for name in names:  # warm the bytecode caches; not timed
        first = run([sys.executable, "-c", STATEMENTS[name]])
        if first.returncode != 0:
            problems.append(f"{name} exited {first.returncode}: {first.output.strip()[-500:]}")
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            sample = run([sys.executable, "-c", STATEMENTS[name]])
            walls[name].append(sample.wall)
            if sample.rss is not None:
                rss[name].append(sample.rss / _MB)
    return {
        "wall_s": {n: summary(v) for n, v in walls.items()},
        "peak_rss_mb": {n: summary(v) for n, v in rss.items() if v},
        "problems": problems,
    }


def _importtime(statement: str) -> dict[str, tuple[int, int]]:
    """module -> (self us, cumulative us) from one ``-X importtime`` run."""
    sample = run([sys.executable, "-X", "importtime", "-c", statement])
    found: dict[str, tuple[int, int]] = {}
    for line in sample.output.splitlines():
        m = _IMPORTTIME.match(line)
        if m:
            found[m.group(4)] = (int(m.group(1)), int(m.group(2)))
    return found


def profile(statement: str, runs: int) -> dict[str, Any]:
    """Median self and cumulative time of the modules ``statement`` adds to a bare start."""
    bare = set(_importtime("pass"))
    samples = [_importtime(statement) for _ in range(runs)]
    modules = set().union(*samples) - bare
    rows = []
    for mod in modules:
        got = [s[mod] for s in samples if mod in s]
        rows.append(
            {
                "module": mod,
                "self_ms": statistics.median(g[0] for g in got) / 1000,
                "cumulative_ms": statistics.median(g[1] for g in got) / 1000,
            }
        )
    rows.sort(key=lambda r: -r["self_ms"])
    return {
        "modules_added": len(rows),
        "self_ms_total": sum(r["self_ms"] for r in rows),
        "top": rows[:10],
    }


def report(result: dict[str, Any]) -> str:
    w = result["cold"]["wall_s"]
    rss = result["cold"]["peak_rss_mb"]
    m = result["machine"]
    lines = [
        f"import time benchmark: {w['bare']['n']} interleaved rounds",
        f"python {m['python']} on {m['platform']}, {m['cpus']} CPUs",
        "",
        f"{'cold processes (wall)':<58}median     min     max    delta  peak RSS",
    ]
    base = w["bare"]["median"]
    for name, statement in STATEMENTS.items():
        s = w[name]
        delta = (s["median"] - base) * 1000
        r = rss.get(name, {}).get("median")
        label = f"python -c {statement!r}"
        lines.append(
            f"  {label:<53} {s['median'] * 1000:6.1f}ms {s['min'] * 1000:6.1f}ms "
            f"{s['max'] * 1000:6.1f}ms {delta:+6.1f}ms" + (f" {r:7.1f} MB" if r is not None else "")
        )
    t = result["targets"]
    lines += [
        "",
        f"import redline adds {t['import_redline_ms']:.1f} ms (median) over a bare start; "
        f"target < {TARGET_MS:.0f} ms: {t['verdict']}",
        f"resolving redline.load_config adds {t['load_config_ms']:.1f} ms over a bare start "
        "(context; no target)",
    ]
    for name, prof in result["importtime"].items():
        lines += [
            "",
            f"python -X importtime -c {STATEMENTS[name]!r}: {prof['modules_added']} modules "
            f"beyond a bare start, {prof['self_ms_total']:.1f} ms self time in all "
            "(importtime inflates times; compare them with each other)",
            "  self ms   cumul ms  module",
        ]
        lines += [
            f"  {row['self_ms']:7.1f}  {row['cumulative_ms']:9.1f}  {row['module']}"
            for row in prof["top"]
        ]
    if result["cold"]["problems"]:
        lines += ["", "PROBLEMS (figures above may not mean what they say):"]
        lines += [f"  {p}" for p in result["cold"]["problems"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument(
        "--profile-runs", type=int, default=5, help="-X importtime runs per statement (default 5)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    result: dict[str, Any] = {
        "benchmark": "import_time",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "cold": cold(args.rounds),
        "importtime": {
            name: profile(STATEMENTS[name], args.profile_runs)
            for name in ("import_redline", "load_config")
        },
    }
    w = result["cold"]["wall_s"]
    delta = (w["import_redline"]["median"] - w["bare"]["median"]) * 1000
    result["targets"] = {
        "import_redline_ms": delta,
        "load_config_ms": (w["load_config"]["median"] - w["bare"]["median"]) * 1000,
        "target_ms": TARGET_MS,
        "verdict": "PASS" if delta < TARGET_MS else "ABOVE TARGET",
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
