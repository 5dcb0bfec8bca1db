"""GET /health on a real uvicorn on loopback port 0: status codes, what the body reveals,
the cache, and single flight under 200 concurrent requests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from redline.health import HealthChecker, HealthEndpoint, HealthServer, health_app, parse_bind
from redline.redact import REDACTOR
from tests.health.helpers import ScriptedRun, VirtualClock, make_config

SENTINEL = "sentinel-s3cret-9f4e2a"
HOST = "db-primary.internal.example"
REASON = f"connection to {HOST}:5432 refused (password {SENTINEL})"


def _config(**health: Any) -> Any:
    return make_config(
        {
            "api": [{"name": "probe-of-api", "failure_threshold": 1}],
            "db": [
                {
                    "name": "probe-of-db",
                    "failure_threshold": 1,
                    "http": {"url": f"http://{HOST}:5432/x?token={SENTINEL}"},
                }
            ],
        },
        **health,
    )


Client = Callable[[str], Awaitable[httpx.Response]]


def _serve(
    endpoint: HealthEndpoint, body: Callable[[HealthServer, httpx.AsyncClient], Awaitable[Any]]
) -> Any:
    async def main() -> Any:
        async with (
            HealthServer(health_app(endpoint), "127.0.0.1", 0) as server,
            httpx.AsyncClient(timeout=10) as client,
        ):
            return await body(server, client)

    return asyncio.run(main())


def test_200_when_healthy_with_a_summary_body() -> None:
    checker = HealthChecker(_config(), env="prod", run=ScriptedRun())

    async def body(server: HealthServer, client: httpx.AsyncClient) -> httpx.Response:
        assert server.url.startswith("http://127.0.0.1:") and server.port != 0
        return await client.get(server.url)

    response = _serve(HealthEndpoint(checker), body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    document = response.json()
    assert document["status"] == "healthy"
    assert document["environment"] == "prod"
    assert document["services"] == {
        "api": {"status": "healthy", "checks": 1, "failing": 0},
        "db": {"status": "healthy", "checks": 1, "failing": 0},
    }
    assert document["counts"]["healthy"] == 2
    assert document["checked_at"]


def test_503_when_unhealthy_and_the_summary_reveals_no_host_reason_or_secret() -> None:
    REDACTOR.add(SENTINEL)
    run = ScriptedRun({"probe-of-db": [("error", 0.2, REASON)]})
    checker = HealthChecker(_config(), env="prod", run=run)

    async def body(server: HealthServer, client: httpx.AsyncClient) -> list[httpx.Response]:
        # Asking for detail from a server started without it gives the summary.
        return [await client.get(server.url), await client.get(server.url + "?detail=1")]

    for response in _serve(HealthEndpoint(checker), body):
        assert response.status_code == 503
        assert response.json()["status"] == "unhealthy"
        assert response.json()["services"]["db"] == {
            "status": "unhealthy",
            "checks": 1,
            "failing": 1,
        }
        for secret in (HOST, "5432", SENTINEL, "refused", "probe-of-db", "token", "http"):
            assert secret not in response.text


def test_detail_when_the_server_allows_it_still_without_secrets() -> None:
    REDACTOR.add(SENTINEL)
    run = ScriptedRun({"probe-of-db": [("error", 0.2, REASON)]})
    checker = HealthChecker(_config(), env="prod", run=run)

    async def body(server: HealthServer, client: httpx.AsyncClient) -> list[httpx.Response]:
        return [await client.get(server.url + "?detail=1"), await client.get(server.url)]

    detailed, summary = _serve(HealthEndpoint(checker, detail=True), body)
    assert detailed.status_code == 503
    check = detailed.json()["services"]["db"]["checks"][0]
    assert check["reason"] == f"connection to {HOST}:5432 refused (password ***)"
    assert check["outcome"] == "error"
    assert SENTINEL not in detailed.text
    assert "services" in summary.json() and HOST not in summary.text


def test_200_concurrent_requests_share_one_check_round() -> None:
    run = ScriptedRun(duration={"probe-of-api": 0.05, "probe-of-db": 0.05})
    checker = HealthChecker(_config(), env="prod", run=run)
    clock = VirtualClock(0.0)
    endpoint = HealthEndpoint(checker, clock=clock)  # cache_ttl from the config: 2 s

    async def body(server: HealthServer, client: httpx.AsyncClient) -> list[int]:
        responses = await asyncio.gather(*(client.get(server.url) for _ in range(200)))
        codes = [r.status_code for r in responses]
        clock.now += 1.9  # still within the TTL: from the cache
        codes.append((await client.get(server.url)).status_code)
        assert run.counts == {"probe-of-api": 1, "probe-of-db": 1}
        clock.now += 0.2  # the TTL has passed: one new round
        codes.append((await client.get(server.url)).status_code)
        return codes

    codes = _serve(endpoint, body)
    assert codes == [200] * 202
    assert endpoint.rounds == 2
    assert run.counts == {"probe-of-api": 2, "probe-of-db": 2}


def test_while_checking_continuously_requests_are_served_from_its_state() -> None:
    run = ScriptedRun()
    config = _config(interval="20ms")
    checker = HealthChecker(config, env="prod", run=run)
    endpoint = HealthEndpoint(checker)

    async def body(server: HealthServer, client: httpx.AsyncClient) -> list[httpx.Response]:
        stop = asyncio.Event()
        task = asyncio.create_task(checker.run(stop))
        try:
            await run.wait_for(4)
            responses = await asyncio.gather(*(client.get(server.url) for _ in range(50)))
        finally:
            stop.set()
            await task
        return responses

    responses = _serve(endpoint, body)
    assert {r.status_code for r in responses} == {200}
    assert endpoint.rounds == 0


def test_only_get_health_is_served() -> None:
    checker = HealthChecker(_config(), env=None, run=ScriptedRun())

    async def body(server: HealthServer, client: httpx.AsyncClient) -> tuple[int, int]:
        base = server.url.removesuffix("/health")
        return (await client.get(base + "/")).status_code, (
            await client.post(server.url)
        ).status_code

    assert _serve(HealthEndpoint(checker), body) == (404, 405)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:8088", ("127.0.0.1", 8088)),
        (":8088", ("127.0.0.1", 8088)),
        ("8088", ("127.0.0.1", 8088)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
        ("[::1]:9000", ("::1", 9000)),
    ],
)
def test_parse_bind(text: str, expected: tuple[str, int]) -> None:
    assert parse_bind(text) == expected


@pytest.mark.parametrize("text", ["localhost", "127.0.0.1:http", "1.2.3.4:70000", ""])
def test_parse_bind_refuses_what_is_not_host_port(text: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_bind(text)


def test_summary_is_json_with_no_detail_keys() -> None:
    run = ScriptedRun()
    checker = HealthChecker(_config(), env=None, run=run)
    asyncio.run(checker.check_round())
    summary = json.dumps(checker.status().summary())
    assert set(json.loads(summary)) == {"status", "environment", "checked_at", "services", "counts"}
