"""Scripted flows: ``async def flow(http, ctx)`` for iterations that chain requests.

>>> async def checkout(http, ctx):                                  # doctest: +SKIP
...     login = await http.post("/login", json={"user": "demo"})
...     token = login.json()["token"]
...     cart = await http.get("/cart", headers={"Authorization": f"Bearer {token}"})
...     assert cart.status == 200, "cart failed"

Referenced from a scenario as ``flow: mypkg.flows:checkout`` (or ``--flow`` on
``redline load run``). Each request's latency is kept under its ``name`` (default
``METHOD path``). An iteration that raises counts as a failed iteration (an
``AssertionError`` as a failed check) and the run goes on; a request that errors
(refused, timeout, reset) raises :class:`RequestError` inside the flow.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json as jsonlib
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from redline._errors import UsageError
from redline.load.requests import json_at
from redline.load.spec import RequestSpec
from redline.load.transport import Connection

if TYPE_CHECKING:
    from redline.load.engine import Engine

__all__ = ["FlowHttp", "RequestError", "Response", "load_flow"]


class RequestError(Exception):
    """A request in a flow got no response: ``kind`` is timeout, refused, reset, ..."""

    def __init__(self, kind: str, label: str) -> None:
        super().__init__(f"{label}: {kind}")
        self.kind = kind


class Response:
    """A response as a flow sees it."""

    __slots__ = ("_headers", "body", "status")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status = status
        self._headers = headers
        self.body = body

    @property
    def headers(self) -> dict[str, str]:
        """Header names in lower case (the last value wins)."""
        return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self._headers}

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self, path: str | None = None) -> Any:
        """The body as JSON, or the value at ``path`` in it (``$.a.b[0]``)."""
        document = jsonlib.loads(self.body)
        return document if path is None else json_at(document, path)


def load_flow(reference: str) -> Callable[..., Any]:
    """The coroutine function named by ``module:function``; a UsageError if it is not one."""
    module_name, _, attr = reference.partition(":")
    if not module_name or not attr:
        raise UsageError(
            f"flow {reference!r} is not module:function",
            hint="write it like mypkg.flows:checkout",
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(
            f"cannot import flow module {module_name!r}: {exc}",
            hint="is it on PYTHONPATH (or next to redline.yaml)?",
        ) from None
    function = getattr(module, attr, None)
    if function is None or not inspect.iscoroutinefunction(function):
        raise UsageError(
            f"{reference} is not an async function",
            hint="define it as: async def flow(http, ctx): ...",
        )
    return function  # type: ignore[no-any-return]


class FlowHttp:
    """The client a flow gets: one connection, reconnected when the server closes it."""

    def __init__(self, engine: Engine, conn: Connection) -> None:
        self.engine = engine
        self.conn = conn
        self.failure: BaseException | None = None

    def note_failure(self, exc: BaseException) -> None:
        self.failure = exc

    async def get(self, path: str, **kw: Any) -> Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> Response:
        return await self.request("POST", path, **kw)

    async def put(self, path: str, **kw: Any) -> Response:
        return await self.request("PUT", path, **kw)

    async def delete(self, path: str, **kw: Any) -> Response:
        return await self.request("DELETE", path, **kw)

    async def request(
        self,
        method: str,
        path: str,
        *,
        name: str | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: str | bytes | None = None,
        timeout: float | None = None,
    ) -> Response:
        """Send one request on this iteration's connection; the response, or RequestError."""
        engine = self.engine
        if params:
            path += ("&" if "?" in path else "?") + urlencode(dict(params))
        spec = RequestSpec(
            path=path, method=method, name=name, headers=dict(headers or {}), json=json, body=data
        )
        prepared = engine.prepared_for(spec)
        if self.conn.closed:
            self.conn = await engine.reconnect(self.conn)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Response] = loop.create_future()
        started = time.perf_counter()

        def done(
            conn: Connection,
            status: int,
            got_headers: list[tuple[bytes, bytes]] | None,
            body: bytes | None,
            error: str | None,
        ) -> None:
            engine.record_flow_request(prepared, started, status, error)
            if future.done():
                return
            if error is not None:
                future.set_exception(RequestError(error, prepared.label))
            else:
                future.set_result(Response(status, got_headers or [], body or b""))

        self.conn.send(
            prepared.build(),
            done,
            started + (timeout or engine.spec.timeout),
            want_body=True,
            want_headers=True,
        )
        return await future


def prepared_key(spec: RequestSpec) -> tuple[Any, ...]:
    """A cache key for a flow's request (flows repeat the same few requests)."""
    body = spec.body if not isinstance(spec.json, dict | list) else jsonlib.dumps(spec.json)
    return (spec.method, spec.path, spec.name, tuple(sorted(spec.headers.items())), body)
