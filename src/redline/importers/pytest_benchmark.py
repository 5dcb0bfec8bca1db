"""pytest-benchmark's ``--benchmark-json`` file: one run per benchmark.

The file (pytest-benchmark 3 to 5) holds ``machine_info``, ``commit_info``
(``id``, ``branch``, ``time``, ``dirty``, ...), ``datetime`` (when the session ran),
``version`` and ``benchmarks``: each with ``name``, ``fullname``, ``group``,
``params``, ``extra_info`` and ``stats`` in seconds (``min``, ``max``, ``mean``,
``stddev``, ``median``, ``iqr``, ``q1``, ``q3``, ``ld15iqr``, ``hd15iqr``, ``ops``,
``rounds``, ``iterations``, ...). pytest-benchmark itself is not needed to read it.

A run is named after the benchmark's ``fullname`` (``tests/test_x.py::test_sort[100]``);
with ``--name N`` it is ``N::<name>`` instead, so a suite that moves keeps its series.
Its metrics keep pytest-benchmark's names: times in seconds (lower is better), ``ops``
in 1/s (higher is better), ``rounds`` and ``iterations`` as counts.
"""

from __future__ import annotations

from typing import Any

from redline._errors import DataError
from redline.importers._common import (
    Options,
    Parsed,
    Source,
    describe_json,
    load_json,
    make_metric,
    make_run,
    parse_time,
    wrong_kind,
)
from redline.store.records import MetricRecord

__all__ = ["parse"]

# stat -> (unit, direction); in the order a reader expects them.
STATS: dict[str, tuple[str | None, str]] = {
    "min": ("s", "lower"),
    "max": ("s", "lower"),
    "mean": ("s", "lower"),
    "stddev": ("s", "lower"),
    "median": ("s", "lower"),
    "iqr": ("s", "lower"),
    "q1": ("s", "lower"),
    "q3": ("s", "lower"),
    "ld15iqr": ("s", "lower"),
    "hd15iqr": ("s", "lower"),
    "ops": ("1/s", "higher"),
    "rounds": (None, "none"),
    "iterations": (None, "none"),
}
_MACHINE_KEYS = (
    "node",
    "machine",
    "processor",
    "system",
    "release",
    "python_implementation",
    "python_version",
)


def parse(source: Source, options: Options) -> Parsed:
    """The runs of a pytest-benchmark JSON file."""
    data = load_json(source)
    if not isinstance(data, dict) or "benchmarks" not in data:
        wrong_kind(source, "it has no 'benchmarks' list", describe_json(data))
    benchmarks = data["benchmarks"]
    if not isinstance(benchmarks, list):
        raise DataError(
            f"{source.path}: 'benchmarks' is {type(benchmarks).__name__}, not a list",
            hint="is it a file pytest-benchmark wrote with --benchmark-json?",
        )
    if not benchmarks:
        raise DataError(
            f"{source.path}: holds no benchmarks (its 'benchmarks' list is empty)",
            hint="pytest-benchmark leaves out benchmarks that failed, were skipped or ran "
            "with --benchmark-disable: check the tests passed and run them again",
        )
    warnings: list[str] = []
    commit_info = _object(data, "commit_info")
    machine_info = _object(data, "machine_info")
    when = data.get("datetime") or commit_info.get("time")
    started_at = parse_time(when, f"{source.path}: datetime") if when else source.mtime
    commit = _text(commit_info.get("id"))
    if commit_info.get("dirty") and commit:
        warnings.append(
            f"{source.path}: the benchmarks ran with uncommitted changes on top of {commit[:12]}"
        )
    common: dict[str, Any] = {
        "pytest_benchmark_version": data.get("version"),
        "commit_info": commit_info,
        "machine_info": {k: machine_info[k] for k in _MACHINE_KEYS if k in machine_info},
        "time_source": "datetime" if when else "file modification time",
    }
    cpu = machine_info.get("cpu")
    if isinstance(cpu, dict) and cpu.get("brand_raw"):
        common["machine_info"]["cpu"] = cpu["brand_raw"]
    runs = []
    seen: dict[str, int] = {}
    for i, bench in enumerate(benchmarks):
        where = f"{source.path}: benchmarks[{i}]"
        if not isinstance(bench, dict):
            raise DataError(f"{where} is not an object", hint="is the file complete?")
        short = _text(bench.get("name")) or _text(bench.get("fullname"))
        if short is None:
            raise DataError(f"{where} has no name", hint="is the file complete?")
        full = _text(bench.get("fullname")) or short
        name = f"{options.name}::{short}" if options.name else full
        if name in seen:
            raise DataError(
                f"{where}: benchmark {name!r} appears twice (also benchmarks[{seen[name]}])",
                hint="give each benchmark its own name (or drop --name, which keeps only the "
                "test's name)",
            )
        seen[name] = i
        stats = bench.get("stats")
        if not isinstance(stats, dict):
            raise DataError(f"{where} ({short}) has no 'stats'", hint="is the file complete?")
        metrics: list[MetricRecord] = [
            make_metric(stat, stats[stat], f"{where}.stats", unit=unit, direction=direction)
            for stat, (unit, direction) in STATS.items()
            if stats.get(stat) is not None
        ]
        if not any(m.name == "mean" for m in metrics):
            raise DataError(
                f"{where}.stats ({short}) has no mean", hint="is it pytest-benchmark's JSON?"
            )
        summary = {
            **common,
            "benchmark": {
                key: bench.get(key)
                for key in ("name", "fullname", "group", "param", "params", "extra_info")
                if bench.get(key) not in (None, {}, "")
            },
        }
        runs.append(
            make_run(
                source,
                name=name,
                identity=f"{source.sha256}:{full}",
                started_at=started_at,
                metrics=metrics,
                summary=summary,
                commit=commit,
                branch=_branch(commit_info.get("branch")),
                host=_text(machine_info.get("node")),
            )
        )
    return Parsed(runs, warnings, fresh=True)


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _branch(value: Any) -> str | None:
    # pytest-benchmark writes "(unknown)" on a detached HEAD.
    branch = _text(value)
    return None if branch in ("(unknown)", "HEAD") else branch


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None
