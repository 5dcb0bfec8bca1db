"""How long ``redline config check`` takes, and how much memory, against bare PyYAML.

    python benchmarks/config_check.py               # 15 interleaved rounds, human output
    python benchmarks/config_check.py --rounds 31 --json

Writes a generated config (50 services x 10 checks x 3 environments, ~2,600
lines; see ``_gen.py``) to a temporary directory, then runs, interleaved so a
noisy machine hurts every contender alike (the order flips each round):

  (a) a cold ``python -c`` doing ``yaml.safe_load`` of the file (PyYAML's
      pure-Python loader, the baseline the issue names);
  (b) a cold ``python -m redline -c FILE config check``;
  (c) the ``redline`` console script, when one is installed;
  (d) a cold ``python -c pass``, for the interpreter's own start-up.

Targets (reported, never gated): median (b) / median (a) at most 1.5x; peak
RSS of (b) under 50 MB. Then, for context, figures from one warm process:
C-loader compose, redline's YAML reader, pydantic validation, the whole
``check_config()``, and warm ``yaml.safe_load``.

Always exits 0: it reports, it does not judge a build.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _gen import generate
from _proc import cold_rows, ms, run, summary

RATIO_TARGET = 1.5
RSS_TARGET_MB = 50.0
_MB = 1024 * 1024

_BARE_YAML = "import sys, yaml; yaml.safe_load(open(sys.argv[1], encoding='utf-8'))"


def _console_script() -> str | None:
    """The ``redline`` script installed beside this interpreter, else one on PATH."""
    scripts = sysconfig.get_path("scripts")
    for folder in (scripts, os.path.dirname(sys.executable)):
        candidate = Path(folder, "redline.exe" if os.name == "nt" else "redline")
        if candidate.is_file():
            return str(candidate)
    return shutil.which("redline")


def _contenders(file: str) -> dict[str, list[str]]:
    found = {
        "bare_yaml": [sys.executable, "-c", _BARE_YAML, file],
        "config_check": [sys.executable, "-m", "redline", "-c", file, "config", "check"],
        "interpreter": [sys.executable, "-c", "pass"],
    }
    script = _console_script()
    if script:
        found["console_script"] = [script, "-c", file, "config", "check"]
    return found


def cold(file: str, rounds: int, workdir: str) -> dict[str, Any]:
    """Interleaved cold runs; wall seconds and peak RSS bytes per contender."""
    cmds = _contenders(file)
    env = {k: v for k, v in os.environ.items() if k != "REDLINE_CONFIG"}
    names = list(cmds)
    walls: dict[str, list[float]] = {n: [] for n in names}
    rss: dict[str, list[int]] = {n: [] for n in names}
    problems: list[str] = []
    for name in names:  # warm the page cache and the bytecode caches; not timed
        first = run(cmds[name], cwd=workdir, env=env)
        if first.returncode != 0:
            problems.append(f"{name} exited {first.returncode}: {first.output.strip()[-500:]}")
    check = run(cmds["config_check"], cwd=workdir, env=env)
    if check.returncode != 0 or ": ok (" not in check.output:
        problems.append(f"config check did not report ok: {check.output.strip()[-500:]}")
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            sample = run(cmds[name], cwd=workdir, env=env)
            walls[name].append(sample.wall)
            if sample.rss is not None:
                rss[name].append(sample.rss)
    return {
        "commands": {n: " ".join(c) for n, c in cmds.items()},
        "check_output": check.output.strip(),
        "problems": problems,
        "wall_s": {n: summary(v) for n, v in walls.items()},
        "peak_rss_mb": {n: summary([b / _MB for b in v]) for n, v in rss.items() if v},
    }


def _time(fn: Callable[[], object], repeat: int) -> dict[str, float]:
    fn()  # the first call pays for lazy imports and caches
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return summary(samples)


def warm(file: str, repeat: int) -> dict[str, Any]:
    """In-process figures, each after one untimed call."""
    # First imports in this process, in the order the command pays for them.
    start = time.perf_counter()
    import yaml

    import_yaml = time.perf_counter() - start
    start = time.perf_counter()
    from pydantic import BaseModel  # noqa: F401  - `import pydantic` alone is lazy

    import_pydantic = time.perf_counter() - start
    start = time.perf_counter()
    from redline.config.schema import Config  # builds the models' validators

    import_schema = time.perf_counter() - start
    start = time.perf_counter()
    from redline.config.loader import check_config

    import_loader = time.perf_counter() - start
    from redline.config.source import load_yaml

    text = Path(file).read_text(encoding="utf-8")
    loaded, diags = check_config(file)
    assert loaded is not None
    env = loaded.environment_names()[-1]
    resolved = loaded.resolved(env)
    c_loader = getattr(yaml, "CSafeLoader", None)
    figures: dict[str, Any] = {
        "import_yaml_s": import_yaml,
        "import_pydantic_s": import_pydantic,
        "import_schema_s": import_schema,
        "import_loader_s": import_loader,
        "libyaml": c_loader is not None,
        "diagnostics": len(diags),
        "yaml_safe_load_pure_s": _time(lambda: yaml.safe_load(text), max(3, repeat // 3)),
    }
    if c_loader is not None:
        figures["yaml_compose_c_s"] = _time(lambda: yaml.compose(text, Loader=c_loader), repeat)
        figures["yaml_load_c_s"] = _time(lambda: yaml.load(text, Loader=c_loader), repeat)
    figures["redline_load_yaml_s"] = _time(lambda: load_yaml(text, file), repeat)
    figures["pydantic_validate_one_env_s"] = _time(lambda: Config.model_validate(resolved), repeat)
    figures["check_config_s"] = _time(lambda: check_config(file), repeat)
    # The same with the cyclic garbage collector off: how much of the above is collections.
    gc.disable()
    try:
        figures["check_config_gc_off_s"] = _time(lambda: check_config(file), repeat)
    finally:
        gc.enable()
    return figures


def report(result: dict[str, Any]) -> str:
    c = result["cold"]
    w = c["wall_s"]
    lines = [
        f"redline config check benchmark: {result['config']['lines']} lines "
        f"({result['config']['shape']}), {c['wall_s']['bare_yaml']['n']} interleaved rounds",
        f"python {result['machine']['python']} on {result['machine']['platform']}, "
        f"{result['machine']['cpus']} CPUs, libyaml={result['warm'].get('libyaml')}",
        "",
        "cold processes (wall)              median       min       max   peak RSS median",
    ]
    labels = {
        "interpreter": "python -c pass",
        "bare_yaml": "(a) bare yaml.safe_load",
        "config_check": "(b) python -m redline config check",
        "console_script": "(c) redline config check (script)",
    }
    lines += cold_rows(labels, w, c["peak_rss_mb"], 34)
    t = result["targets"]
    lines += [
        "",
        f"ratio (b)/(a) of medians: {t['ratio_median']:.2f}x (of mins {t['ratio_min']:.2f}x); "
        f"target <= {RATIO_TARGET}x: {t['ratio_verdict']}",
    ]
    if t["peak_rss_mb"] is not None:
        lines.append(
            f"peak RSS of (b), median: {t['peak_rss_mb']:.1f} MB; "
            f"target < {RSS_TARGET_MB:.0f} MB: {t['rss_verdict']}"
        )
    if "console_script" in w:
        lines.append(f"ratio (c)/(a) of medians: {t['ratio_script_median']:.2f}x")
    v = result["warm"]
    lines += ["", "in one warm process (median)"]
    rows = [
        ("import yaml (first)", v["import_yaml_s"]),
        ("import pydantic.BaseModel (first)", v["import_pydantic_s"]),
        ("import redline.config.schema (first)", v["import_schema_s"]),
        ("import redline.config.loader (rest)", v["import_loader_s"]),
        ("yaml.safe_load, pure Python", v["yaml_safe_load_pure_s"]["median"]),
        ("yaml.compose, C loader", v.get("yaml_compose_c_s", {}).get("median")),
        ("yaml.load, C loader", v.get("yaml_load_c_s", {}).get("median")),
        ("redline load_yaml (compose + marks)", v["redline_load_yaml_s"]["median"]),
        ("pydantic Config.model_validate, 1 env", v["pydantic_validate_one_env_s"]["median"]),
        ("check_config(), all environments", v["check_config_s"]["median"]),
        ("check_config(), gc disabled", v["check_config_gc_off_s"]["median"]),
    ]
    lines += [f"  {label:<40} {ms(value)}" for label, value in rows if value is not None]
    if c["problems"]:
        lines += ["", "PROBLEMS (figures above may not mean what they say):"]
        lines += [f"  {p}" for p in c["problems"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--repeat", type=int, default=15, help="warm repetitions (default 15)")
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--checks", type=int, default=10)
    parser.add_argument("--envs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="redline-bench-") as workdir:
        file = str(Path(workdir, "redline.yaml"))
        text = generate(args.services, args.checks, args.envs)
        Path(file).write_text(text, encoding="utf-8")
        result: dict[str, Any] = {
            "benchmark": "config_check",
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "machine": {
                "python": platform.python_version(),
                "implementation": platform.python_implementation(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
            },
            "config": {
                "shape": f"{args.services} services x {args.checks} checks x {args.envs} envs",
                "lines": text.count("\n"),
                "bytes": len(text.encode()),
            },
        }
        result["cold"] = cold(file, args.rounds, workdir)
        result["warm"] = warm(file, args.repeat)

    w = result["cold"]["wall_s"]
    ratio = w["config_check"]["median"] / w["bare_yaml"]["median"]
    rss = result["cold"]["peak_rss_mb"].get("config_check", {}).get("median")
    result["targets"] = {
        "ratio_median": ratio,
        "ratio_min": w["config_check"]["min"] / w["bare_yaml"]["min"],
        "ratio_target": RATIO_TARGET,
        "ratio_verdict": "PASS" if ratio <= RATIO_TARGET else "ABOVE TARGET",
        "peak_rss_mb": rss,
        "rss_target_mb": RSS_TARGET_MB,
        "rss_verdict": None if rss is None else ("PASS" if rss < RSS_TARGET_MB else "ABOVE TARGET"),
    }
    if "console_script" in w:
        result["targets"]["ratio_script_median"] = (
            w["console_script"]["median"] / w["bare_yaml"]["median"]
        )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
