"""The demo API: a small item/job service whose knobs have real, measurable effects.

Run it by hand (knobs come from ``DEMO_*`` environment variables)::

    DEMO_LATENCY=50ms python -m redline.demo.app --db demo.db --port 8000

or build the ASGI app in a test or another server::

    app = create_app("sqlite:///demo.db", Knobs(), admin_token="t0ken")

``latency``, ``cpu_burn`` and ``error_rate`` act on the business endpoints (``/items``,
``/jobs``) in that order: sleep on the event loop, burn CPU *on* the event loop (as a
CPU-bound handler would, so it caps throughput), then maybe answer 500. ``slow_query``
slows every business query inside the database. ``/health``, ``/version`` and ``/admin``
ignore them; ``health_fail`` and ``health_latency`` act on ``/health`` only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import json
import os
import random
import secrets
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, Literal, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError
from pydantic import model_validator as _model_validator
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from redline.demo._dburl import DB_ENV
from redline.demo.db import Database
from redline.demo.knobs import ENV_NAMES, TOKEN_ENV, Knobs

__all__ = ["DemoAPI", "burn_cpu", "create_app", "main"]

Endpoint = Callable[[Request], Awaitable[Response]]
M = TypeVar("M", bound=BaseModel)
CACHE_MAX_ENTRIES = 10_000
Price = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False, strict=True)]


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    price: Price


class SleepPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ms: Annotated[float, Field(ge=0, le=60_000, allow_inf_nan=False, strict=True)]


class RepricePayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: Annotated[StrictInt, Field(ge=1)]
    price: Price | None = None
    factor: Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False, strict=True)] | None = None

    @_model_validator(mode="after")
    def _one_of(self) -> RepricePayload:
        if (self.price is None) == (self.factor is None):
            raise ValueError("give exactly one of price or factor")
        return self


class FailPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: Annotated[StrictStr, Field(max_length=500)] = "failed on request"


class JobIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["fail", "reprice", "sleep"]
    payload: dict[str, Any] = Field(default_factory=dict)


_PAYLOADS: dict[str, type[BaseModel]] = {
    "fail": FailPayload,
    "reprice": RepricePayload,
    "sleep": SleepPayload,
}


class _Invalid(Exception):
    def __init__(self, detail: list[dict[str, Any]]) -> None:
        self.detail = detail


def burn_cpu(seconds: float) -> None:
    """Spend ``seconds`` of this thread's CPU time in a busy loop."""
    end = time.thread_time() + seconds
    x = 0
    while time.thread_time() < end:
        for i in range(500):
            x += i * i


class DemoAPI:
    """The demo service's state (knobs, cache, counters, database) and its endpoints."""

    def __init__(self, db_url: str, knobs: Knobs, admin_token: str) -> None:
        self.db = Database(db_url)
        self.knobs = knobs
        self._token = admin_token.encode()
        self._rng = random.Random(knobs.seed)
        self._cache: dict[int, tuple[float, dict[str, Any]]] = {}
        self._started = time.monotonic()
        self.requests = 0
        self.injected_errors = 0
        self.cache_hits = 0
        self.cache_misses = 0

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(self.db.create_tables)
        try:
            yield
        finally:
            self.db.dispose()

    def routes(self) -> list[Route]:
        b, a = self._business, self._admin
        return [
            Route("/health", self.health, methods=["GET"]),
            Route("/version", self.version, methods=["GET"]),
            Route("/items", b(self.list_items), methods=["GET"]),
            Route("/items", b(self.create_item), methods=["POST"]),
            Route("/items/{id:int}", b(self.get_item), methods=["GET"]),
            Route("/jobs", b(self.create_job), methods=["POST"]),
            Route("/jobs/{id:int}", b(self.get_job), methods=["GET"]),
            Route("/admin/knobs", a(self.get_knobs), methods=["GET"]),
            Route("/admin/knobs", a(self.patch_knobs), methods=["POST"]),
            Route("/admin/stats", a(self.stats), methods=["GET"]),
        ]

    # -- wrappers ---------------------------------------------------------------------

    def _business(self, handler: Endpoint) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            knobs = self.knobs
            self.requests += 1
            # One draw per request, in arrival order, so a seeded run is exactly repeatable.
            fail = self._rng.random() < knobs.error_rate
            if knobs.latency > 0:
                await asyncio.sleep(knobs.latency)
            if knobs.cpu_burn > 0:
                burn_cpu(knobs.cpu_burn)
            if fail:
                self.injected_errors += 1
                return JSONResponse(
                    {"error": "injected failure", "knob": "error_rate"}, status_code=500
                )
            try:
                return await handler(request)
            except _Invalid as exc:
                return JSONResponse(
                    {"error": "invalid request", "detail": exc.detail}, status_code=422
                )

        return endpoint

    def _admin(self, handler: Endpoint) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), self._token
            ):
                return JSONResponse(
                    {"error": "admin endpoints need Authorization: Bearer <token>"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            try:
                return await handler(request)
            except _Invalid as exc:
                return JSONResponse(
                    {"error": "invalid request", "detail": exc.detail}, status_code=422
                )

        return endpoint

    # -- health and metadata ----------------------------------------------------------

    async def health(self, _request: Request) -> Response:
        knobs = self.knobs
        if knobs.health_latency > 0:
            await asyncio.sleep(knobs.health_latency)
        try:
            await run_in_threadpool(self.db.ping)
            db = "ok"
        except Exception as exc:
            db = f"unreachable: {type(exc).__name__}"
        body: dict[str, Any] = {"status": "ok", "db": db, "version": knobs.version}
        if db != "ok":
            body["status"] = "fail"
        if knobs.health_fail:
            body["status"] = "fail"
            body["reason"] = "health_fail knob is on"
        return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)

    async def version(self, _request: Request) -> Response:
        return JSONResponse({"name": "redline-demo", "version": self.knobs.version})

    # -- items ------------------------------------------------------------------------

    async def list_items(self, request: Request) -> Response:
        limit = _int_param(request, "limit", default=20, low=1, high=100)
        offset = _int_param(request, "offset", default=0, low=0, high=10**9)
        rows = await run_in_threadpool(
            self.db.list_items, limit, offset, slow=self.knobs.slow_query
        )
        next_offset = offset + len(rows) if len(rows) == limit else None
        return JSONResponse(
            {"items": rows, "limit": limit, "offset": offset, "next_offset": next_offset}
        )

    async def create_item(self, request: Request) -> Response:
        data = _validate(ItemIn, await _json(request))
        item = await run_in_threadpool(
            self.db.create_item,
            data.name,
            round(data.price * 100),
            slow=self.knobs.slow_query,
        )
        return JSONResponse(item, status_code=201, headers={"Location": f"/items/{item['id']}"})

    async def get_item(self, request: Request) -> Response:
        item_id: int = request.path_params["id"]
        knobs = self.knobs
        if knobs.cache:
            cached = self._cache.get(item_id)
            if cached is not None and cached[0] > time.monotonic():
                self.cache_hits += 1
                return JSONResponse(cached[1], headers={"X-Cache": "hit"})
            self.cache_misses += 1
        item = await run_in_threadpool(self.db.get_item, item_id, slow=knobs.slow_query)
        if item is None:
            return JSONResponse({"error": f"item {item_id} not found"}, status_code=404)
        if knobs.cache:
            if len(self._cache) >= CACHE_MAX_ENTRIES:
                # Oldest insertion first: enough to keep a long load test from eating memory.
                del self._cache[next(iter(self._cache))]
            self._cache[item_id] = (time.monotonic() + knobs.cache_ttl, item)
        return JSONResponse(item, headers={"X-Cache": "miss" if knobs.cache else "off"})

    # -- jobs -------------------------------------------------------------------------

    async def create_job(self, request: Request) -> Response:
        job_in = _validate(JobIn, await _json(request))
        payload = _validate(_PAYLOADS[job_in.kind], job_in.payload, loc=("payload",))
        job = await run_in_threadpool(
            self.db.enqueue_job,
            job_in.kind,
            payload.model_dump(exclude_none=True),
            slow=self.knobs.slow_query,
        )
        return JSONResponse(job, status_code=202, headers={"Location": f"/jobs/{job['id']}"})

    async def get_job(self, request: Request) -> Response:
        job_id: int = request.path_params["id"]
        job = await run_in_threadpool(self.db.get_job, job_id, slow=self.knobs.slow_query)
        if job is None:
            return JSONResponse({"error": f"job {job_id} not found"}, status_code=404)
        return JSONResponse(job)

    # -- admin ------------------------------------------------------------------------

    async def get_knobs(self, _request: Request) -> Response:
        return JSONResponse(self.knobs.to_dict())

    async def patch_knobs(self, request: Request) -> Response:
        changes = await _json(request)
        if not isinstance(changes, dict):
            raise _Invalid([{"loc": [], "msg": "expected a JSON object of knob values"}])
        try:
            knobs = self.knobs.patch(changes)
        except ValueError as exc:
            raise _Invalid([{"loc": [], "msg": str(exc)}]) from None
        self.knobs = knobs
        if {"error_rate", "seed"} & changes.keys():
            self._rng = random.Random(knobs.seed)
        if {"cache", "cache_ttl"} & changes.keys():
            self._cache.clear()
        return JSONResponse(knobs.to_dict())

    async def stats(self, _request: Request) -> Response:
        return JSONResponse(
            {
                "requests": self.requests,
                "injected_errors": self.injected_errors,
                "db_queries": self.db.queries,
                "cache_hits": self.cache_hits,
                "cache_misses": self.cache_misses,
                "cache_size": len(self._cache),
                "cpu_seconds": time.process_time(),
                "uptime_seconds": time.monotonic() - self._started,
                "pid": os.getpid(),
            }
        )


async def _database_unavailable(_request: Request, exc: Exception) -> Response:
    print(f"redline demo: database error: {type(exc).__name__}: {exc}", file=sys.stderr)
    return JSONResponse({"error": "database unavailable"}, status_code=503)


def create_app(db_url: str, knobs: Knobs, admin_token: str) -> Starlette:
    """The demo ASGI app over the database at ``db_url`` (tables are created at startup)."""
    api = DemoAPI(db_url, knobs, admin_token)
    app = Starlette(
        routes=api.routes(),
        lifespan=api.lifespan,
        exception_handlers={sa.exc.DBAPIError: _database_unavailable},
    )
    app.state.demo = api
    return app


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _Invalid([{"loc": ["body"], "msg": "body is not valid JSON"}]) from None


def _validate(model: type[M], data: Any, loc: tuple[str, ...] = ()) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        detail = [
            {"loc": [*loc, *err["loc"]], "msg": err["msg"]}
            for err in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        raise _Invalid(detail) from None


def _int_param(request: Request, name: str, *, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise _Invalid([{"loc": ["query", name], "msg": f"must be an integer in {low}..{high}"}])
    return value


def main(argv: list[str] | None = None) -> int:
    """Serve the demo API until SIGTERM/SIGINT (or until the parent is gone)."""
    parser = argparse.ArgumentParser(
        prog="python -m redline.demo.app",
        description="Serve the redline demo API.",
        epilog="Knobs come from environment variables: "
        + ", ".join(f"{var} ({name})" for name, var in ENV_NAMES.items())
        + f". The admin token comes from {TOKEN_ENV} (generated and printed if unset).",
    )
    parser.add_argument(
        "--db",
        default=os.environ.get(DB_ENV, "redline-demo.db"),
        help=f"SQLite path or database URL (default: ${DB_ENV} or ./redline-demo.db)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--fd", type=int, help="serve on this already-listening socket")
    parser.add_argument("--lifeline-fd", type=int, help="exit when this pipe reaches EOF")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)

    try:
        knobs = Knobs.from_env(os.environ)
    except ValueError as exc:
        print(f"redline demo: {exc}", file=sys.stderr)
        return 2
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        token = secrets.token_urlsafe(24)
        print(f"redline demo: generated admin token {token} (set {TOKEN_ENV} to choose one)")

    import uvicorn

    app = create_app(args.db, knobs, token)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    if args.lifeline_fd is not None:
        from redline.demo._lifeline import watch_parent

        def stop() -> None:
            server.should_exit = True

        watch_parent(args.lifeline_fd, stop)
    sockets = None if args.fd is None else [socket.socket(fileno=args.fd)]
    server.run(sockets=sockets)
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
