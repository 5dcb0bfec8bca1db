"""Change point detection: redline against Apache Otava on the same generated series.

    python benchmarks/changepoints.py                # 1,000 series a case, 500 points each
    python benchmarks/changepoints.py --series 100   # quicker
    python benchmarks/changepoints.py --json out.json

Both detectors see exactly the same series (``redline.analysis.synthetic``, fixed seeds):

- false alarms: the share of stable series (Gaussian, lognormal, 1 % gross outliers,
  AR(1) with phi = 0.5) with at least one reported change point;
- recall: a single step of 0.5, 1 and 2 sigma at the middle, found within +-5 points;
  "extra" is the mean number of points per series beyond one (a step series has one change);
- time: the analysis of 1,000 (``--series``) Gaussian series of 500 points, one process, one
  thread (BLAS threads pinned to 1), data already in memory;
- cold start: ``redline analyze changepoints FILE.csv`` against ``otava analyze`` on the same
  CSV file, median of 7 runs after a warm-up.

Otava is installed from PyPI (``apache-otava``) into its own virtual environment under
``~/.cache/redline-bench/otava-venv`` (its pins of numpy, dateparser and Google clients would
otherwise change the project's environment). It runs with the defaults of its
``AnalysisOptions`` (``window_len=50, max_pvalue=0.001, min_magnitude=0``), through
``otava.analysis.compute_change_points``, the function its ``analyze`` command calls per
metric. redline's anomalies (single out-of-band points, reported as pending) are not change
points and are counted apart.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from redline.analysis import synthetic as S

N_POINTS = 500
STEP_AT = N_POINTS // 2
ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}

CASES: dict[str, Any] = {
    "gaussian": lambda seed: S.gaussian(N_POINTS, seed=seed),
    "lognormal": lambda seed: S.lognormal(N_POINTS, seed=seed),
    "outliers 1%": lambda seed: S.outliers(N_POINTS, seed=seed),
    "AR(1) 0.5": lambda seed: S.ar1(N_POINTS, seed=seed, phi=0.5),
    "step 0.5 sigma": lambda seed: S.step(N_POINTS, at=STEP_AT, k_sigma=0.5, seed=seed),
    "step 1 sigma": lambda seed: S.step(N_POINTS, at=STEP_AT, k_sigma=1.0, seed=seed),
    "step 2 sigma": lambda seed: S.step(N_POINTS, at=STEP_AT, k_sigma=2.0, seed=seed),
}
STABLE = ["gaussian", "lognormal", "outliers 1%", "AR(1) 0.5"]
STEPS = ["step 0.5 sigma", "step 1 sigma", "step 2 sigma"]

# Runs inside Otava's venv: read series from .npy, print change point indexes and the time.
_OTAVA_CHILD = """
import json, sys, time
import numpy as np
from otava.analysis import compute_change_points
from otava.series import AnalysisOptions
opts = AnalysisOptions()
out = {}
for name, path in json.loads(sys.argv[1]).items():
    data = np.load(path)
    start = time.perf_counter()
    found = []
    for row in data:
        cps, _ = compute_change_points(
            [float(v) for v in row], window_len=opts.window_len,
            max_pvalue=opts.max_pvalue, min_magnitude=opts.min_magnitude,
        )
        found.append(sorted(int(c.index) for c in cps))
    out[name] = {"found": found, "seconds": time.perf_counter() - start}
print(json.dumps(out))
"""


def otava_venv(cache: Path, install: bool) -> Path | None:
    """The Python of Otava's virtual environment, installing it when missing."""
    venv = cache / "otava-venv"
    python = venv / "bin" / "python"
    if not (venv / "bin" / "otava").exists():
        if not install:
            print(f"Otava is not in {venv} (and --no-install was given)", file=sys.stderr)
            return None
        venv.parent.mkdir(parents=True, exist_ok=True)
        for cmd in (
            [sys.executable, "-m", "venv", str(venv)],
            [str(python), "-m", "pip", "install", "--quiet", "apache-otava"],
        ):
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
                print(f"Otava: {' '.join(cmd[-3:])} failed: {tail[0]}", file=sys.stderr)
                return None
        print(f"installed apache-otava with pip into {venv}", file=sys.stderr)
    return python


def otava_version(python: Path) -> str:
    done = subprocess.run(
        [
            str(python),
            "-c",
            "from importlib import metadata; print(metadata.version('apache-otava'))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "?"


def generate(series: int) -> dict[str, np.ndarray]:
    return {
        name: np.array([make(1_000_000 * (i + 1) + s) for s in range(series)])
        for i, (name, make) in enumerate(CASES.items())
    }


def run_redline(data: dict[str, np.ndarray]) -> dict[str, Any]:
    from redline.analysis.changepoints import analyze_series

    out: dict[str, Any] = {}
    for name, rows in data.items():
        start = time.perf_counter()
        found, anomalies = [], 0
        for row in rows:
            result = analyze_series(row)
            found.append([e.index for e in result.change_points])
            anomalies += len(result.anomalies)
        out[name] = {
            "found": found,
            "seconds": time.perf_counter() - start,
            "anomalies": anomalies,
        }
    return out


def run_otava(python: Path, data: dict[str, np.ndarray], tmp: Path) -> dict[str, Any]:
    paths = {}
    for name, rows in data.items():
        path = tmp / f"{len(paths)}.npy"
        np.save(path, rows)
        paths[name] = str(path)
    env = {**os.environ, **ONE_THREAD}
    done = subprocess.run(
        [str(python), "-c", _OTAVA_CHILD, json.dumps(paths)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"Otava failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def oracle_recall(rows: np.ndarray) -> float:
    """Recall of least squares told there is exactly one change: the best a detector can place
    a step in Gaussian noise (the maximum-likelihood split), a ceiling for the recall rows."""
    n = rows.shape[1]
    centred = rows - rows.mean(axis=1, keepdims=True)
    s = np.cumsum(centred, axis=1)[:, :-1]
    k = np.arange(1, n)
    t = s * s / (k * (n - k) / n)
    at = np.argmax(t[:, 4 : n - 5], axis=1) + 5
    return float(np.mean(np.abs(at - STEP_AT) <= 5))


def score(found: list[list[int]], case: str) -> dict[str, float]:
    n = len(found)
    if case in STABLE:
        return {"false_alarms": sum(bool(f) for f in found) / n}
    hit = sum(any(abs(i - STEP_AT) <= 5 for i in f) for f in found)
    extra = sum(max(len(f) - 1, 0) for f in found)
    return {"recall": hit / n, "extra": extra / n}


def cold_start(python: Path | None, tmp: Path, runs: int = 7) -> dict[str, float]:
    csv = tmp / "series.csv"
    y = S.step(N_POINTS, at=STEP_AT, k_sigma=2.0, seed=1)
    lines = ["time,commit,p99"]
    for i, v in enumerate(y):
        lines.append(f"2026-01-01T00:00:00Z,c{i:04d},{v:.4f}".replace("00:00:00", _hms(i)))
    csv.write_text("\n".join(lines) + "\n")
    cmds = {"redline": [sys.executable, "-m", "redline", "analyze", "changepoints", str(csv)]}
    if python is not None:
        conf = tmp / "otava.yaml"
        conf.write_text(
            "tests:\n  bench:\n    type: csv\n"
            f"    file: {csv}\n    time_column: time\n    attributes: [commit]\n"
            "    metrics: [p99]\n"
        )
        otava = str(python.parent / "otava")
        cmds["Otava"] = [otava, "analyze", "--config-file", str(conf), "bench"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = {}
    for name, cmd in cmds.items():
        walls = []
        for i in range(runs + 1):
            start = time.perf_counter()
            done = subprocess.run(
                cmd, capture_output=True, text=True, env=env, cwd=tmp, check=False
            )
            wall = time.perf_counter() - start
            if done.returncode != 0:
                print(f"{name} cold start failed: {done.stderr[-500:]}", file=sys.stderr)
                break
            if i:  # the first run warms the disk cache and writes bytecode
                walls.append(wall)
        if walls:
            out[name] = statistics.median(walls)
    return out


def _hms(i: int) -> str:
    return f"{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000, help="series a case (default 1000)")
    parser.add_argument("--no-install", action="store_true", help="do not install Otava")
    parser.add_argument("--no-otava", action="store_true", help="measure redline only")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    os.environ.update(ONE_THREAD)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "redline-bench"
    python = None if args.no_otava else otava_venv(cache, install=not args.no_install)
    data = generate(args.series)
    results: dict[str, dict[str, Any]] = {"redline": run_redline(data)}
    with tempfile.TemporaryDirectory() as tmp:
        if python is not None:
            results["Otava"] = run_otava(python, data, Path(tmp))
        cold = cold_start(python, Path(tmp))
    names = list(results)
    version = f" (apache-otava {otava_version(python)})" if python else ""
    print(f"Change points: {args.series} series a case x {N_POINTS} points{version}")
    print(f"  {'':<34}" + "".join(f"{n:>12}" for n in names))
    for case in STABLE:
        row = [f"{score(results[n][case]['found'], case)['false_alarms']:12.1%}" for n in names]
        print(f"  {'false alarms, ' + case:<34}" + "".join(row))
    for case in STEPS:
        k = case.split()[1]
        row = [f"{score(results[n][case]['found'], case)['recall']:12.1%}" for n in names]
        print(f"  {'recall +-5 points, ' + k + ' sigma':<34}" + "".join(row))
    oracle = "  ".join(f"{case.split()[1]} sigma {oracle_recall(data[case]):.1%}" for case in STEPS)
    print(f"  (ceiling: least squares told there is one change: {oracle})")
    for case in STEPS:
        k = case.split()[1]
        row = [f"{score(results[n][case]['found'], case)['extra']:12.3f}" for n in names]
        print(f"  {'extra points a series, ' + k + ' sigma':<34}" + "".join(row))
    times = [results[n]["gaussian"]["seconds"] for n in names]
    print(f"  {f'time, {args.series} x {N_POINTS} (s)':<34}" + "".join(f"{t:12.2f}" for t in times))
    row = [f"{cold[n]:12.2f}" if n in cold else f"{'n/a':>12}" for n in names]
    print(f"  {'cold start of the CLI (s)':<34}" + "".join(row))
    anomalies = {c: results["redline"][c]["anomalies"] / args.series for c in STABLE}
    print(
        "  redline anomalies (pending points, not change points) a series: "
        + ", ".join(f"{c} {v:.2f}" for c, v in anomalies.items())
    )
    if args.json:
        doc = {
            "series": args.series,
            "points": N_POINTS,
            "scores": {n: {c: score(results[n][c]["found"], c) for c in CASES} for n in names},
            "seconds": {n: {c: results[n][c]["seconds"] for c in CASES} for n in names},
            "cold_start": cold,
            "oracle_recall": {c: oracle_recall(data[c]) for c in STEPS},
        }
        Path(args.json).write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
