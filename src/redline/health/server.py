"""``GET /health``: a cached health endpoint for load balancers, orchestrators and people.

200 when every service is healthy, 503 otherwise (unhealthy, or not known yet), with a
JSON body. By default the body is a summary (overall status, each service's status,
counts, a timestamp) that reveals no hostname, URL, reason or secret; ``?detail=1``
adds every check with its reason and percentiles, only when the endpoint was built
with ``detail=True`` (and still with known secret values masked).

While the checker runs continuously the endpoint serves its state. Otherwise a request
runs a check round, and every request within ``cache_ttl`` of it gets the same answer:
concurrent requests share one round in flight (single flight), so a burst of requests
costs one round, never one each.

>>> endpoint = HealthEndpoint(checker)                             # doctest: +SKIP
>>> async with HealthServer(health_app(endpoint), "127.0.0.1", 0) as server:  # doctest: +SKIP
...     print(server.url)
http://127.0.0.1:54817/health
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

if TYPE_CHECKING:
    from redline.health.checker import HealthChecker
    from redline.health.status import HealthStatus

__all__ = ["HealthEndpoint", "HealthServer", "health_app", "parse_bind"]

_TRUE = {"1", "true", "yes", "on"}


class HealthEndpoint:
    """What ``GET /health`` answers with: a snapshot no older than ``cache_ttl`` seconds."""

    def __init__(
        self,
        checker: HealthChecker,
        *,
        detail: bool = False,
        cache_ttl: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.checker = checker
        self.detail = detail
        self.cache_ttl = checker.config.health.cache_ttl if cache_ttl is None else cache_ttl
        self.rounds = 0
        """Check rounds run on behalf of requests (none while the checker runs continuously)."""
        self._clock = clock
        self._cached: HealthStatus | None = None
        self._cached_at = 0.0
        self._bodies: dict[bool, bytes] = {}
        self._inflight: asyncio.Task[HealthStatus] | None = None

    async def snapshot(self) -> HealthStatus:
        """The cached status if fresh; else the checker's state, or one shared check round."""
        cached = self._cached
        if cached is not None and self._clock() - self._cached_at < self.cache_ttl:
            return cached
        if self.checker.running:
            return self._remember(self.checker.status())
        if self._inflight is None:
            self._inflight = asyncio.create_task(self._round())
        # Shielded: a client that hangs up must not cancel the round others wait for.
        return await asyncio.shield(self._inflight)

    async def body(self, detail: bool) -> tuple[int, bytes]:
        """The HTTP status and JSON body; ``detail`` is honoured only if the endpoint allows it."""
        status = await self.snapshot()
        detail = detail and self.detail
        body = self._bodies.get(detail) if status is self._cached else None
        if body is None:
            document: dict[str, Any] = status.to_dict() if detail else status.summary()
            body = json.dumps(document, separators=(",", ":")).encode()
            if status is self._cached:
                self._bodies[detail] = body
        return status.http_status, body

    async def _round(self) -> HealthStatus:
        try:
            self.rounds += 1
            await self.checker.check_round()
            return self._remember(self.checker.status())
        finally:
            self._inflight = None

    def _remember(self, status: HealthStatus) -> HealthStatus:
        self._cached, self._cached_at, self._bodies = status, self._clock(), {}
        return status


def health_app(endpoint: HealthEndpoint) -> Starlette:
    """A Starlette app serving ``GET /health`` from ``endpoint``."""

    async def health(request: Request) -> Response:
        wants_detail = request.query_params.get("detail", "").lower() in _TRUE
        code, body = await endpoint.body(wants_detail)
        return Response(
            body,
            status_code=code,
            media_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    return Starlette(routes=[Route("/health", health, methods=["GET"])])


def parse_bind(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT``, ``PORT`` or ``[::1]:PORT`` -> (host, port); host 127.0.0.1."""
    value = text.strip()
    host, sep, port_text = value.rpartition(":")
    if not sep:
        host, port_text = "", value
    host = host.strip("[]") or "127.0.0.1"
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(
            f"'{text}' is not HOST:PORT: write 127.0.0.1:8088, :8088, or a port 0-65535 "
            "(0 picks a free one)"
        )
    return host, int(port_text)


class HealthServer:
    """uvicorn serving ``app`` on ``host:port`` (0: a free port) inside the running loop."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: Any = None
        self._socket: socket.socket | None = None
        self._ticker: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """``http://HOST:PORT/health`` with the port actually bound."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/health"

    async def start(self) -> str:
        """Bind, start serving, and return :attr:`url`."""
        import uvicorn

        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.create_server((self.host, self.port), family=family)
        try:
            config = uvicorn.Config(
                self.app,
                lifespan="off",
                log_config=None,
                log_level="warning",
                access_log=False,
                ws="none",
            )
            config.load()
            server = uvicorn.Server(config)
            server.lifespan = config.lifespan_class(config)
            # startup/main_loop/shutdown rather than serve(): serve() would take over SIGINT
            # and SIGTERM, which belong to the command that embeds this server.
            await server.startup(sockets=[sock])
        except BaseException:
            sock.close()
            raise
        self._socket = sock
        self.port = int(sock.getsockname()[1])
        self._server = server
        self._ticker = asyncio.create_task(server.main_loop())
        return self.url

    async def stop(self) -> None:
        """Stop accepting, finish open requests, close the socket."""
        server, self._server = self._server, None
        if server is None:
            return
        server.should_exit = True
        if self._ticker is not None:
            await self._ticker
        await server.shutdown(sockets=[self._socket] if self._socket else None)

    async def __aenter__(self) -> HealthServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
