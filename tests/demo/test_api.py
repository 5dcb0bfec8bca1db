"""The demo API's endpoints over real HTTP, against a real SQLite-backed process."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from redline.demo import DemoEndpoints


def test_health_reports_db_and_version(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "db": "ok", "version": "1.0.0"}


def test_version(client: httpx.Client) -> None:
    assert client.get("/version").json() == {"name": "redline-demo", "version": "1.0.0"}


def test_create_and_get_item(client: httpx.Client) -> None:
    response = client.post("/items", json={"name": "pen", "price": 1.25})
    assert response.status_code == 201
    item = response.json()
    assert item["name"] == "pen" and item["price"] == 1.25
    assert response.headers["location"] == f"/items/{item['id']}"
    fetched = client.get(f"/items/{item['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == item


def test_get_missing_item_is_404(client: httpx.Client) -> None:
    response = client.get("/items/987654")
    assert response.status_code == 404
    assert response.json() == {"error": "item 987654 not found"}


def test_list_items_paginates(client: httpx.Client) -> None:
    created = [client.post("/items", json={"name": f"p{i}", "price": i}).json() for i in range(5)]
    seen: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        page = client.get("/items", params={"limit": 2, "offset": offset}).json()
        assert page["limit"] == 2 and page["offset"] == offset
        assert len(page["items"]) <= 2
        seen += page["items"]
        offset = page["next_offset"]
    ids = [item["id"] for item in seen]
    assert ids == sorted(set(ids))
    assert {item["id"] for item in created} <= set(ids)
    assert len(client.get("/items").json()["items"]) == min(20, len(ids))


@pytest.mark.parametrize(
    "body",
    [
        {"price": 1},
        {"name": "x"},
        {"name": "", "price": 1},
        {"name": "x", "price": -1},
        {"name": "x", "price": "1"},
        {"name": "x", "price": True},
        {"name": 5, "price": 1},
        {"name": "x", "price": 1, "colour": "red"},
        ["name", "price"],
    ],
)
def test_create_item_rejects_bad_input(client: httpx.Client, body: Any) -> None:
    response = client.post("/items", json=body)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid request"
    assert response.json()["detail"]


def test_create_item_rejects_malformed_json(client: httpx.Client) -> None:
    response = client.post(
        "/items", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"] == [{"loc": ["body"], "msg": "body is not valid JSON"}]


@pytest.mark.parametrize("limit", ["0", "101", "ten"])
def test_list_items_rejects_bad_limit(client: httpx.Client, limit: str) -> None:
    response = client.get("/items", params={"limit": limit})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "limit"]


def test_enqueue_job_and_read_it(client: httpx.Client) -> None:
    response = client.post("/jobs", json={"kind": "sleep", "payload": {"ms": 1}})
    assert response.status_code == 202
    job = response.json()
    assert job["status"] == "queued" and job["kind"] == "sleep"
    assert response.headers["location"] == f"/jobs/{job['id']}"
    fetched = client.get(f"/jobs/{job['id']}").json()
    assert fetched["id"] == job["id"]
    assert fetched["status"] in {"queued", "running", "done"}


def test_get_missing_job_is_404(client: httpx.Client) -> None:
    assert client.get("/jobs/987654").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "explode"},
        {"kind": "sleep"},
        {"kind": "sleep", "payload": {"ms": -5}},
        {"kind": "sleep", "payload": {"ms": 1, "extra": 1}},
        {"kind": "reprice", "payload": {"item_id": 1}},
        {"kind": "reprice", "payload": {"item_id": 1, "price": 2, "factor": 2}},
        {"kind": "reprice", "payload": {"item_id": "1", "price": 2}},
        {"payload": {}},
    ],
)
def test_enqueue_job_rejects_bad_input(client: httpx.Client, body: Any) -> None:
    response = client.post("/jobs", json=body)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_payload_errors_point_into_the_payload(client: httpx.Client) -> None:
    response = client.post("/jobs", json={"kind": "sleep", "payload": {"ms": "soon"}})
    assert response.json()["detail"][0]["loc"] == ["payload", "ms"]


@pytest.mark.parametrize("path", ["/admin/knobs", "/admin/stats"])
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": "Basic d3Jvbmc="},
        {"Authorization": "Bearer"},
    ],
)
def test_admin_needs_the_token(
    endpoints: DemoEndpoints, path: str, headers: dict[str, str]
) -> None:
    with httpx.Client(base_url=endpoints.api_url, headers=headers) as c:
        response = c.get(path)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert c.post("/admin/knobs", json={"latency": "1s"}).status_code == 401
    assert endpoints.admin_token not in response.text


def test_admin_knobs_get_and_patch(admin: httpx.Client) -> None:
    knobs = admin.get("/admin/knobs")
    assert knobs.status_code == 200
    assert knobs.json()["latency"] == "0"
    patched = admin.post("/admin/knobs", json={"latency": "5ms", "cache": "on"})
    assert patched.status_code == 200
    assert patched.json()["latency"] == "5ms" and patched.json()["cache"] is True
    assert admin.get("/admin/knobs").json() == patched.json()


@pytest.mark.parametrize("body", [{"latency": "soon"}, {"nope": 1}, ["latency"]])
def test_admin_knobs_rejects_bad_patches(admin: httpx.Client, body: Any) -> None:
    before = admin.get("/admin/knobs").json()
    response = admin.post("/admin/knobs", json=body)
    assert response.status_code == 422
    assert admin.get("/admin/knobs").json() == before


def test_admin_stats(admin: httpx.Client, client: httpx.Client) -> None:
    before = admin.get("/admin/stats").json()
    client.get("/items")
    client.get("/health")
    after = admin.get("/admin/stats").json()
    assert after["requests"] == before["requests"] + 1
    assert after["db_queries"] == before["db_queries"] + 1
    assert after["pid"] == before["pid"]
