"""Helpers shared by the demo tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from redline.demo import DemoEndpoints


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def admin_client(endpoints: DemoEndpoints) -> httpx.Client:
    return httpx.Client(
        base_url=endpoints.api_url,
        headers={"Authorization": f"Bearer {endpoints.admin_token}"},
        timeout=30,
    )


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs; zombies count as gone (init may be slow to reap them)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def wait_job(client: httpx.Client, job_id: int, timeout: float = 10.0) -> dict[str, Any]:
    """The job once the worker has finished it (done or failed)."""

    def finished() -> dict[str, Any] | None:
        job: dict[str, Any] = client.get(f"/jobs/{job_id}").json()
        return job if job["status"] in {"done", "failed"} else None

    result: dict[str, Any] = wait_for(finished, timeout, what=f"job {job_id} to finish")
    return result
