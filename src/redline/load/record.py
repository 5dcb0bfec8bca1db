"""Recording a load test in the store, so later runs can be compared with it.

A load run becomes a ``kind: load`` run named after its scenario, with the
environment, version, git commit and branch (from ``GITHUB_SHA`` /
``GITHUB_REF_NAME`` in CI, else from the repository at ``base``), the host, the
summary and spec as its document, scalar metrics with their direction, and the
encoded histograms (total, per request name, and whole iterations).
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from redline.load import hist
from redline.load.results import LoadResult
from redline.load.spec import LoadSpec

__all__ = ["git_revision", "record_load"]

_PERCENTILES = ("p50", "p90", "p95", "p99", "p999", "max", "mean")


def record_load(
    result: LoadResult,
    spec: LoadSpec,
    store_url: str,
    *,
    env: str | None = None,
    version: str | None = None,
    base: Path | None = None,
    commit: str | None = None,
    branch: str | None = None,
) -> str:
    """Append ``result`` to the store at ``store_url``; the run id (StoreError on failure).

    ``commit`` and ``branch`` name the code measured; by default CI's (``GITHUB_SHA``,
    ``GITHUB_REF_NAME``), else the git repository's at ``base``.
    """
    from redline.store.append import append_run
    from redline.store.records import HistogramRecord, MetricRecord

    s = result.summary()
    latency = s["latency_ms"]
    metrics = [
        MetricRecord(f"latency_{k}_ms", latency[k], unit="ms", direction="lower")
        for k in _PERCENTILES
    ]
    metrics += [
        MetricRecord("rps", s["rps"], unit="1/s", direction="higher"),
        MetricRecord(
            "error_rate", s["errors"] / s["requests"] if s["requests"] else 0.0, direction="lower"
        ),
        MetricRecord("dropped", float(s["dropped"]), direction="lower"),
        MetricRecord("requests", float(s["requests"]), direction="none"),
    ]
    metrics += [
        MetricRecord(f"{name}.p99_ms", r["latency_ms"]["p99"], unit="ms", direction="lower")
        for name, r in s["by_request"].items()
    ]
    histograms = [
        HistogramRecord(
            name,
            hist.encode(h),
            hist.LOWEST_US,
            hist.HIGHEST_US,
            hist.SIGNIFICANT_DIGITS,
            h.get_total_count(),
        )
        for name, h in sorted(result.histograms.items())
    ]
    if commit is None or branch is None:
        found_commit, found_branch = git_revision(base or Path.cwd())
        commit = commit or os.environ.get("GITHUB_SHA") or found_commit
        branch = branch or os.environ.get("GITHUB_REF_NAME") or found_branch
    crossed = any(not t["ok"] for t in result.thresholds)
    summary = {k: v for k, v in s.items() if k != "by_request"}
    return append_run(
        store_url,
        kind="load",
        name=spec.name,
        environment=env,
        version=version or os.environ.get("REDLINE_VERSION") or None,
        commit=commit,
        branch=branch,
        host=socket.gethostname(),
        status="fail" if crossed else ("aborted" if result.interrupted else "ok"),
        summary={**summary, "spec": spec.to_dict()},
        metrics=metrics,
        histograms=histograms,
    )


def git_revision(base: Path) -> tuple[str | None, str | None]:
    """The commit and branch of the git repository at ``base``; Nones when it is none."""

    def ask(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=base, capture_output=True, text=True, timeout=5, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return (out.stdout.strip() or None) if out.returncode == 0 else None

    return ask("rev-parse", "HEAD"), ask("rev-parse", "--abbrev-ref", "HEAD")
