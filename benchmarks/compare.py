"""How often ``redline compare`` is wrong, how often it is right, and how fast it is.

    python benchmarks/compare.py                 # the figures in docs/regressions.md
    python benchmarks/compare.py --trials 4000   # tighter rates
    python benchmarks/compare.py --json

Each simulated run's metric is ``100 x lognormal(0, noise)``: ``noise`` 0.05 is about 5 %
run-to-run variation. A regression of 10 % multiplies the candidate's runs by 1.10. Every
figure uses the library defaults (alpha 0.01, minimum effect 5 %, FDR 5 %) unless a row
says otherwise. Fixed seeds: the same command prints the same rates.

Targets (issue 5): A/A with 30 runs a side at most 1 % regressed; a 10 % regression with
30 a side caught at least 95 % of the time; at most one false regression expected among
1,000 unchanged metrics in one comparison.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

import numpy as np

from redline.analysis.compare import MetricSamples, compare_many
from redline.analysis.synthetic import compare_trials


def rates(
    effect: float, n: int, noise: float, trials: int, seed: int, **kwargs: Any
) -> dict[str, float]:
    counts = compare_trials(effect, n, noise=noise, trials=trials, seed=seed, **kwargs)
    return {v: counts[v] / trials for v in ("regressed", "unchanged", "inconclusive", "improved")}


def many(noise: float, seeds: int, *, min_effect: float, fdr: float | None) -> list[int]:
    out = []
    for seed in range(seeds):
        rng = np.random.default_rng(1000 + seed)
        items = [
            MetricSamples(f"m{i}", *(100 * rng.lognormal(0, noise, (2, 30)))) for i in range(1000)
        ]
        out.append(len(compare_many(items, fdr=fdr, min_effect_rel=min_effect).regressed))
    return out


def timing(rounds: int) -> list[float]:
    rng = np.random.default_rng(5)
    items = [
        MetricSamples(f"m{i}", 100 * rng.lognormal(0, 0.05, 30), 100 * rng.lognormal(0, 0.05, 30))
        for i in range(1000)
    ]
    compare_many(items[:10])  # warm: imports, the cached U distribution
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        compare_many(items)
        times.append(time.perf_counter() - t)
    return times


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000, help="comparisons per rate")
    parser.add_argument("--seeds", type=int, default=10, help="1,000-metric batches")
    parser.add_argument("--rounds", type=int, default=5, help="timing rounds")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    out: dict[str, Any] = {"trials": args.trials}

    aa_settings: list[tuple[str, int, float, dict[str, Any]]] = [
        ("n=30 noise=0.05", 30, 0.05, {}),
        ("n=10 noise=0.05", 10, 0.05, {}),
        ("n=30 noise=0.10", 30, 0.10, {}),
        ("n=30 noise=0.05, no minimum effect", 30, 0.05, {"min_effect_rel": 0.0}),
    ]
    aa = {
        label: rates(0.0, n, noise, args.trials, seed=1, **kw)
        for label, n, noise, kw in aa_settings
    }
    out["a_a"] = aa
    power: dict[str, dict[str, float]] = {}
    for noise in (0.05, 0.08, 0.10):
        for n in (10, 30):
            for effect in (0.05, 0.10, 0.20):
                r = rates(effect, n, noise, args.trials // 2, seed=int(effect * 100) + n)
                power[f"noise={noise} n={n} +{round(effect * 100)}%"] = r
    out["power"] = power
    unchanged = {}
    for noise, min_effect in ((0.05, 0.05), (0.15, 0.05), (0.15, 0.0)):
        key = f"noise={noise} min_effect={min_effect}"
        unchanged[key] = {
            "fdr_0.05": many(noise, args.seeds, min_effect=min_effect, fdr=0.05),
            "no_fdr": many(noise, args.seeds, min_effect=min_effect, fdr=None),
        }
    out["unchanged_1000"] = unchanged
    times = timing(args.rounds)
    out["seconds_per_1000"] = {"median": statistics.median(times), "min": min(times)}

    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"A/A: same distribution both sides ({args.trials} comparisons each)")
    print(f"  {'setting':<42} {'regressed':>10} {'unchanged':>10} {'inconcl.':>10}")
    for label, r in aa.items():
        print(
            f"  {label:<42} {pct(r['regressed']):>10} {pct(r['unchanged']):>10} "
            f"{pct(r['inconclusive']):>10}"
        )
    target = aa["n=30 noise=0.05"]["regressed"]
    print(f"  target <= 1 % regressed at n=30: {'PASS' if target <= 0.01 else 'ABOVE TARGET'}")
    print()
    print(f"Power: share called regressed ({args.trials // 2} comparisons each)")
    print(f"  {'noise':<8} {'runs/side':>9} {'+5 %':>8} {'+10 %':>8} {'+20 %':>8}")
    for noise in (0.05, 0.08, 0.10):
        for n in (10, 30):
            cells = [power[f"noise={noise} n={n} +{e}%"]["regressed"] for e in (5, 10, 20)]
            print(f"  {noise:<8} {n:>9} " + " ".join(f"{pct(c):>8}" for c in cells))
    caught = power["noise=0.05 n=30 +10%"]["regressed"]
    verdict = "PASS" if caught >= 0.95 else "BELOW TARGET"
    print(f"  target >= 95 % for +10 % at n=30, noise 0.05: {verdict}")
    print()
    print(f"False regressions among 1,000 unchanged metrics (30 runs a side; {args.seeds} batches)")
    print(f"  {'setting':<32} {'FDR 5 % mean':>13} {'max':>5} {'no FDR mean':>12} {'max':>5}")
    for key, r in unchanged.items():
        a, b = r["fdr_0.05"], r["no_fdr"]
        print(
            f"  {key:<32} {statistics.mean(a):>13.2f} {max(a):>5} "
            f"{statistics.mean(b):>12.2f} {max(b):>5}"
        )
    worst = max(statistics.mean(r["fdr_0.05"]) for r in unchanged.values())
    print(f"  target <= 1 expected with FDR: {'PASS' if worst <= 1 else 'ABOVE TARGET'}")
    print()
    t = out["seconds_per_1000"]
    print(
        f"Time per 1,000 comparisons (30 runs a side, one compare_many): "
        f"median {t['median']:.3f} s, min {t['min']:.3f} s over {args.rounds} rounds"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
