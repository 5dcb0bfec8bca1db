"""The demo worker: processes jobs, reports its health, never runs a job twice."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from redline.demo import DemoEndpoints
from redline.demo.db import Database
from redline.demo.worker import Worker, serve_health

from .helpers import wait_for, wait_job


def enqueue(client: httpx.Client, kind: str, payload: dict[str, object]) -> int:
    response = client.post("/jobs", json={"kind": kind, "payload": payload})
    assert response.status_code == 202, response.text
    job_id: int = response.json()["id"]
    return job_id


def test_sleep_job_is_done(client: httpx.Client) -> None:
    job = wait_job(client, enqueue(client, "sleep", {"ms": 20}))
    assert job["status"] == "done"
    assert job["result"] == {"slept_ms": 20}
    assert job["attempts"] == 1
    assert job["started_at"] and job["finished_at"]


def test_reprice_job_changes_the_item(client: httpx.Client) -> None:
    item = client.post("/items", json={"name": "mug", "price": 4}).json()
    job = wait_job(client, enqueue(client, "reprice", {"item_id": item["id"], "factor": 1.5}))
    assert job["status"] == "done"
    assert job["result"] == {"item_id": item["id"], "old_price": 4.0, "new_price": 6.0}
    assert client.get(f"/items/{item['id']}").json()["price"] == 6.0
    wait_job(client, enqueue(client, "reprice", {"item_id": item["id"], "price": 2.5}))
    assert client.get(f"/items/{item['id']}").json()["price"] == 2.5


def test_failures_are_recorded(client: httpx.Client) -> None:
    job = wait_job(client, enqueue(client, "fail", {"message": "boom"}))
    assert (job["status"], job["error"], job["result"]) == ("failed", "boom", None)
    job = wait_job(client, enqueue(client, "reprice", {"item_id": 987654, "price": 1}))
    assert (job["status"], job["error"]) == ("failed", "item 987654 not found")


def test_worker_health_counts_processed_jobs(
    endpoints: DemoEndpoints, client: httpx.Client
) -> None:
    with httpx.Client() as health:
        before = health.get(endpoints.worker_health_url)
        assert before.status_code == 200
        assert before.json()["status"] == "ok"
        wait_job(client, enqueue(client, "sleep", {"ms": 1}))
        after = health.get(endpoints.worker_health_url).json()
        assert after["processed"] >= before.json()["processed"] + 1
        assert after["last_job_at"] is not None
        assert (
            health.get(endpoints.worker_health_url.replace("/health", "/nope")).status_code == 404
        )


def test_worker_health_fails_when_polling_stops(tmp_path: Path) -> None:
    db = Database(str(tmp_path / "w.db"))
    db.create_tables()
    worker = Worker(db, poll_interval=0.01, stale_after=0.2)
    server = serve_health(worker, socket.create_server(("127.0.0.1", 0)))
    url = f"http://127.0.0.1:{server.server_address[1]}/health"
    try:
        with httpx.Client() as c:
            first = c.get(url)
            assert first.status_code == 503
            assert first.json()["reason"] == "has not polled the database yet"
            thread = threading.Thread(target=worker.run)
            thread.start()
            wait_for(lambda: c.get(url).status_code == 200, what="worker health ok")
            worker.stop()
            thread.join()
            stale = wait_for(
                lambda: (r := c.get(url)).status_code == 503 and r.json(),
                what="worker health to go stale",
            )
            assert stale["reason"].startswith("has not polled the database for")
    finally:
        server.shutdown()
        server.server_close()
        db.dispose()


def run_workers_on(url: str, jobs: int, workers: int = 3) -> list[Worker]:
    """Enqueue ``jobs`` jobs on ``url``, drain them with ``workers`` workers in threads."""
    seed = Database(url)
    seed.create_tables()
    ids = [seed.enqueue_job("sleep", {"ms": 0})["id"] for _ in range(jobs)]
    pool = [Worker(Database(url), worker_id=f"w{i}", poll_interval=0.005) for i in range(workers)]
    threads = [threading.Thread(target=w.run) for w in pool]
    for t in threads:
        t.start()
    try:
        wait_for(
            lambda: sum(w.processed for w in pool) >= jobs, timeout=30, what="all jobs processed"
        )
    finally:
        for w in pool:
            w.stop()
        for t in threads:
            t.join()
        for w in pool:
            w.db.dispose()
    try:
        rows = [seed.get_job(i) for i in ids]
    finally:
        seed.dispose()
    assert all(row is not None and row["status"] == "done" for row in rows)
    assert [row["attempts"] for row in rows if row] == [1] * jobs
    assert {row["worker"] for row in rows if row} <= {w.worker_id for w in pool}
    assert sum(w.processed for w in pool) == jobs
    return pool


def test_several_workers_never_share_a_job_sqlite(tmp_path: Path) -> None:
    run_workers_on(str(tmp_path / "claims.db"), jobs=60)


@pytest.mark.postgres
def test_several_workers_never_share_a_job_postgres(
    make_pg_database: Callable[[], str],
) -> None:
    run_workers_on(make_pg_database(), jobs=60)
