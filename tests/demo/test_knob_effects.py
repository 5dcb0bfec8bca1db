"""Each knob has a real effect measurable from outside the process."""

from __future__ import annotations

import random
import time

import httpx

from .helpers import wait_for


def timed_get(client: httpx.Client, path: str) -> tuple[httpx.Response, float]:
    start = time.perf_counter()
    response = client.get(path)
    return response, time.perf_counter() - start


def test_latency_delays_business_requests(admin: httpx.Client, client: httpx.Client) -> None:
    admin.post("/admin/knobs", json={"latency": "50ms"}).raise_for_status()
    for path in ("/items", "/jobs/1"):
        response, elapsed = timed_get(client, path)
        assert response.status_code in {200, 404}
        assert elapsed >= 0.05


def test_error_rate_one_fails_every_request(admin: httpx.Client, client: httpx.Client) -> None:
    admin.post("/admin/knobs", json={"error_rate": 1.0}).raise_for_status()
    statuses = [client.get("/items").status_code for _ in range(20)]
    assert statuses == [500] * 20
    assert client.post("/items", json={"name": "x", "price": 1}).status_code == 500
    assert client.get("/health").status_code == 200


def test_error_rate_zero_fails_none(admin: httpx.Client, client: httpx.Client) -> None:
    admin.post("/admin/knobs", json={"error_rate": 0.0}).raise_for_status()
    assert [client.get("/items").status_code for _ in range(20)] == [200] * 20


def test_error_rate_is_exactly_reproducible(admin: httpx.Client, client: httpx.Client) -> None:
    before = admin.get("/admin/stats").json()["injected_errors"]
    admin.post("/admin/knobs", json={"error_rate": 0.3, "seed": 42}).raise_for_status()
    rng = random.Random(42)
    expected = [500 if rng.random() < 0.3 else 200 for _ in range(40)]
    assert [client.get("/items").status_code for _ in range(40)] == expected
    injected = admin.get("/admin/stats").json()["injected_errors"] - before
    assert injected == expected.count(500) > 0
    # Setting the knob again restarts the same sequence.
    admin.post("/admin/knobs", json={"error_rate": 0.3}).raise_for_status()
    assert [client.get("/items").status_code for _ in range(40)] == expected


def test_injected_error_body(admin: httpx.Client, client: httpx.Client) -> None:
    admin.post("/admin/knobs", json={"error_rate": "100%"}).raise_for_status()
    response = client.get("/items")
    assert response.json() == {"error": "injected failure", "knob": "error_rate"}


def test_cpu_burn_spends_cpu_in_the_api(admin: httpx.Client, client: httpx.Client) -> None:
    admin.post("/admin/knobs", json={"cpu_burn": "20ms"}).raise_for_status()
    before = admin.get("/admin/stats").json()["cpu_seconds"]
    for _ in range(5):
        response, elapsed = timed_get(client, "/items")
        assert response.status_code == 200
        assert elapsed >= 0.02
    after = admin.get("/admin/stats").json()["cpu_seconds"]
    assert after - before >= 5 * 0.02


def test_slow_query_slows_items(admin: httpx.Client, client: httpx.Client) -> None:
    admin.post("/admin/knobs", json={"slow_query": "100ms"}).raise_for_status()
    item = client.post("/items", json={"name": "slow", "price": 1}).json()
    for path in ("/items", f"/items/{item['id']}"):
        response, elapsed = timed_get(client, path)
        assert response.status_code == 200
        assert elapsed >= 0.1


def test_cache_on_serves_repeat_reads_without_the_db(
    admin: httpx.Client, client: httpx.Client
) -> None:
    item = client.post("/items", json={"name": "cached", "price": 3}).json()
    admin.post("/admin/knobs", json={"cache": "on"}).raise_for_status()
    before = admin.get("/admin/stats").json()
    first = client.get(f"/items/{item['id']}")
    second = client.get(f"/items/{item['id']}")
    after = admin.get("/admin/stats").json()
    assert first.json() == second.json() == item
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
    assert after["db_queries"] - before["db_queries"] == 1
    assert after["cache_hits"] - before["cache_hits"] == 1


def test_cache_off_reads_the_db_every_time(admin: httpx.Client, client: httpx.Client) -> None:
    item = client.post("/items", json={"name": "uncached", "price": 3}).json()
    before = admin.get("/admin/stats").json()["db_queries"]
    for _ in range(3):
        assert client.get(f"/items/{item['id']}").headers["x-cache"] == "off"
    assert admin.get("/admin/stats").json()["db_queries"] - before == 3


def test_cache_entries_expire(admin: httpx.Client, client: httpx.Client) -> None:
    item = client.post("/items", json={"name": "ttl", "price": 3}).json()
    admin.post("/admin/knobs", json={"cache": "on", "cache_ttl": "200ms"}).raise_for_status()
    assert client.get(f"/items/{item['id']}").headers["x-cache"] == "miss"
    assert client.get(f"/items/{item['id']}").headers["x-cache"] == "hit"
    wait_for(
        lambda: client.get(f"/items/{item['id']}").headers["x-cache"] == "miss",
        what="the cached item to expire",
    )


def test_version_knob(admin: httpx.Client, client: httpx.Client) -> None:
    admin.post("/admin/knobs", json={"version": "1.2.0"}).raise_for_status()
    assert client.get("/version").json()["version"] == "1.2.0"
    assert client.get("/health").json()["version"] == "1.2.0"


def test_health_fail_knob(admin: httpx.Client, client: httpx.Client) -> None:
    admin.post("/admin/knobs", json={"health_fail": True}).raise_for_status()
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["status"] == "fail"
    assert response.json()["reason"] == "health_fail knob is on"
    assert client.get("/items").status_code == 200
    admin.post("/admin/knobs", json={"health_fail": False}).raise_for_status()
    assert client.get("/health").status_code == 200


def test_health_latency_knob(admin: httpx.Client, client: httpx.Client) -> None:
    admin.post("/admin/knobs", json={"health_latency": "60ms"}).raise_for_status()
    response, elapsed = timed_get(client, "/health")
    assert response.status_code == 200
    assert elapsed >= 0.06


def test_business_knobs_leave_health_alone(admin: httpx.Client, client: httpx.Client) -> None:
    admin.post("/admin/knobs", json={"error_rate": 1.0, "slow_query": "1s"}).raise_for_status()
    before = admin.get("/admin/stats").json()
    assert [client.get("/health").status_code for _ in range(5)] == [200] * 5
    assert client.get("/version").status_code == 200
    after = admin.get("/admin/stats").json()
    assert after["requests"] == before["requests"]
    assert after["db_queries"] == before["db_queries"]
