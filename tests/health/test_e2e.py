"""End to end: the real probe (run_check, the default seam) against a real HTTP server,
served by the real endpoint on loopback."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from redline.health import HealthChecker, HealthEndpoint, HealthServer, health_app
from redline.redact import REDACTOR
from tests.health.conftest import Target
from tests.health.helpers import make_config
from tests.health.probes import KINDS, SENTINEL, check_for, need


@pytest.mark.parametrize("kind", KINDS)
def test_real_probe_through_the_endpoint_healthy_then_unhealthy(kind: str, target: Target) -> None:
    need(kind)
    REDACTOR.add(SENTINEL)
    config = make_config(
        {"api": [check_for(kind, target.port, failure_threshold=1)]}, cache_ttl="0"
    )
    checker = HealthChecker(config, env="local")  # the production seam: run_check

    async def main() -> list[httpx.Response]:
        endpoint = HealthEndpoint(checker, detail=True)
        async with (
            HealthServer(health_app(endpoint), "127.0.0.1", 0) as server,
            httpx.AsyncClient(timeout=10) as client,
        ):
            up = await client.get(server.url)
            target.status = 503
            down = await client.get(server.url)
            detail = await client.get(server.url + "?detail=1")
        return [up, down, detail]

    up, down, detail = asyncio.run(main())
    assert (up.status_code, up.json()["status"]) == (200, "healthy")
    assert (down.status_code, down.json()["status"]) == (503, "unhealthy")
    assert target.hits == 3
    for response in (up, down):
        assert target.hostport not in response.text
        assert str(target.port) not in response.text
        assert SENTINEL not in response.text
    check = detail.json()["services"]["api"]["checks"][0]
    assert check["outcome"] == "fail"
    assert check["reason"]
    assert SENTINEL not in detail.text


@pytest.mark.parametrize("kind", KINDS)
def test_real_probe_connection_refused_is_could_not_measure(kind: str, closed_port: int) -> None:
    need(kind)
    config = make_config({"api": [check_for(kind, closed_port)]})
    checker = HealthChecker(config, env=None)
    (result,) = asyncio.run(checker.check_round())
    assert result.outcome == "error"
    assert "refused" in result.reason
    assert checker.status().services["api"].checks[0].consecutive_failures == 1
