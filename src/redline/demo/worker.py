"""The demo worker: claims queued jobs one at a time, runs them, records the outcome.

Run it next to the API, on the same database::

    python -m redline.demo.worker --db demo.db --health-port 8001

Job kinds: ``sleep`` (``{"ms": 250}``), ``reprice`` (``{"item_id": 1, "price": 9.5}`` or
``{"item_id": 1, "factor": 1.1}``) and ``fail`` (``{"message": "..."}``, always fails).
Its own ``GET /health`` answers 200 while it keeps polling the database (or is busy with a
job) and 503 once it has not polled for a few poll intervals. SIGTERM or SIGINT stops it
after the job in hand is finished.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import sqlalchemy as sa

from redline.demo._dburl import DB_ENV
from redline.demo.db import ClaimedJob, Database, iso_time
from redline.units import parse_duration

__all__ = ["JobError", "Worker", "main", "serve_health"]


class JobError(Exception):
    """A job that cannot be done as asked; recorded as the job's error."""


class Worker:
    """A polling loop over the jobs table; :meth:`stop` ends it after the current job."""

    def __init__(
        self,
        db: Database,
        *,
        worker_id: str | None = None,
        poll_interval: float = 0.1,
        stale_after: float | None = None,
    ) -> None:
        self.db = db
        self.worker_id = worker_id or f"worker-{os.getpid()}"
        self.poll_interval = poll_interval
        self.stale_after = stale_after if stale_after is not None else max(5 * poll_interval, 2.0)
        self.processed = 0
        self.failed = 0
        self.last_job_at: float | None = None
        self.current_job: int | None = None
        self._last_poll: float | None = None
        self._stop = threading.Event()
        self._kinds: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "fail": self._fail,
            "reprice": self._reprice,
            "sleep": self._sleep,
        }

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        """Poll until :meth:`stop`; database errors are reported and retried, never fatal."""
        backoff = self.poll_interval
        while not self._stop.is_set():
            try:
                job = self.db.claim_job(self.worker_id)
            except sa.exc.DBAPIError as exc:
                print(f"{self.worker_id}: cannot poll the database: {exc}", file=sys.stderr)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = self.poll_interval
            self._last_poll = time.monotonic()
            if job is None:
                self._stop.wait(self.poll_interval)
            else:
                self.process(job)

    def process(self, job: ClaimedJob) -> None:
        """Run one claimed job and record ``done`` with its result or ``failed`` with why."""
        self.current_job = job.id
        result: dict[str, Any] | None = None
        error: str | None = None
        try:
            handler = self._kinds.get(job.kind)
            if handler is None:
                raise JobError(f"unknown job kind {job.kind!r}")
            result = handler(job.payload)
        except JobError as exc:
            error = str(exc)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        try:
            self.db.finish_job(job.id, result=result, error=error)
        except sa.exc.DBAPIError as exc:
            print(f"{self.worker_id}: cannot record job {job.id}: {exc}", file=sys.stderr)
        finally:
            self.current_job = None
            self.processed += 1
            self.failed += error is not None
            self.last_job_at = time.time()

    def health(self) -> tuple[int, dict[str, Any]]:
        """HTTP status and body for ``GET /health``."""
        age = None if self._last_poll is None else time.monotonic() - self._last_poll
        busy = self.current_job is not None
        ok = busy or (age is not None and age <= self.stale_after)
        body = {
            "status": "ok" if ok else "fail",
            "worker": self.worker_id,
            "processed": self.processed,
            "failed": self.failed,
            "last_job_at": iso_time(self.last_job_at),
            "last_poll_age_seconds": age,
            "busy": busy,
            "current_job": self.current_job,
        }
        if not ok:
            body["reason"] = (
                "has not polled the database yet"
                if age is None
                else f"has not polled the database for {age:.1f}s"
            )
        return (200 if ok else 503), body

    # -- job kinds --------------------------------------------------------------------

    def _sleep(self, payload: dict[str, Any]) -> dict[str, Any]:
        ms = float(payload.get("ms", 0))
        if not 0 <= ms <= 60_000:
            raise JobError("sleep needs 0 <= ms <= 60000")
        time.sleep(ms / 1000)
        return {"slept_ms": ms}

    def _reprice(self, payload: dict[str, Any]) -> dict[str, Any]:
        item_id = int(payload["item_id"])
        price = payload.get("price")
        factor = payload.get("factor")
        try:
            return self.db.reprice_item(
                item_id,
                price_cents=None if price is None else round(float(price) * 100),
                factor=None if factor is None else float(factor),
            )
        except KeyError as exc:
            raise JobError(str(exc.args[0])) from None

    def _fail(self, payload: dict[str, Any]) -> dict[str, Any]:
        raise JobError(str(payload.get("message", "failed on request")))


def serve_health(worker: Worker, sock: socket.socket) -> ThreadingHTTPServer:
    """Serve ``GET /health`` for ``worker`` on the listening ``sock``, in a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] == "/health":
                status, body = worker.health()
            else:
                status, body = 404, {"error": "not found"}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(sock.getsockname()[:2], Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    """Run a worker until SIGTERM/SIGINT (or until the parent is gone)."""
    parser = argparse.ArgumentParser(
        prog="python -m redline.demo.worker", description="Run a redline demo worker."
    )
    parser.add_argument(
        "--db",
        default=os.environ.get(DB_ENV, "redline-demo.db"),
        help=f"SQLite path or database URL (default: ${DB_ENV} or ./redline-demo.db)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="health endpoint address")
    parser.add_argument("--health-port", type=int, default=8001)
    parser.add_argument("--health-fd", type=int, help="serve health on this listening socket")
    parser.add_argument("--poll-interval", default="100ms")
    parser.add_argument("--worker-id")
    parser.add_argument("--lifeline-fd", type=int, help="exit when this pipe reaches EOF")
    args = parser.parse_args(argv)

    try:
        poll_interval = parse_duration(args.poll_interval)
    except ValueError as exc:
        parser.error(f"--poll-interval: {exc}")
    db = Database(args.db)
    try:
        db.create_tables()
    except sa.exc.DBAPIError as exc:
        print(f"redline demo worker: cannot use the database: {exc}", file=sys.stderr)
        db.dispose()
        return 1
    worker = Worker(db, worker_id=args.worker_id, poll_interval=poll_interval)

    if args.health_fd is not None:
        sock = socket.socket(fileno=args.health_fd)
    else:
        sock = socket.create_server((args.host, args.health_port))
    server = serve_health(worker, sock)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _signum, _frame: worker.stop())
    if args.lifeline_fd is not None:
        from redline.demo._lifeline import watch_parent

        watch_parent(args.lifeline_fd, worker.stop)
    try:
        worker.run()
    finally:
        server.shutdown()
        server.server_close()
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
