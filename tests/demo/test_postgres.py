"""The demo system on the real PostgreSQL server (127.0.0.1:5432, user postgres)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from redline.demo import DemoSystem, Knobs

from .helpers import admin_client, wait_for, wait_job

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_demo(
    tmp_path_factory: pytest.TempPathFactory, make_pg_database: Callable[[], str]
) -> Iterator[DemoSystem]:
    system = DemoSystem(
        tmp_path_factory.mktemp("pgdemo"), db_url=make_pg_database(), knobs=Knobs().to_dict()
    )
    system.start()
    yield system
    system.stop()


@pytest.fixture
def pg_client(pg_demo: DemoSystem) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=pg_demo.endpoints.api_url, timeout=30) as c:
        yield c
    pg_demo.set_knobs(slow_query="0", cache="off")


def test_uses_postgres(pg_demo: DemoSystem, pg_client: httpx.Client) -> None:
    assert pg_demo.endpoints.db_url.startswith("postgresql+psycopg://postgres@127.0.0.1:5432/")
    assert not (pg_demo.base_dir / "demo.db").exists()
    assert pg_client.get("/health").json() == {"status": "ok", "db": "ok", "version": "1.0.0"}


def test_items_and_jobs_round_trip(pg_demo: DemoSystem, pg_client: httpx.Client) -> None:
    item = pg_client.post("/items", json={"name": "kettle", "price": 20}).json()
    assert pg_client.get(f"/items/{item['id']}").json() == item
    assert item in pg_client.get("/items", params={"limit": 100}).json()["items"]
    job = pg_client.post(
        "/jobs", json={"kind": "reprice", "payload": {"item_id": item["id"], "factor": 0.5}}
    ).json()
    done = wait_job(pg_client, job["id"])
    assert done["status"] == "done"
    assert done["result"]["new_price"] == 10.0
    assert pg_client.get(f"/items/{item['id']}").json()["price"] == 10.0


def test_cache_on_postgres(pg_demo: DemoSystem, pg_client: httpx.Client) -> None:
    item = pg_client.post("/items", json={"name": "cached", "price": 1}).json()
    pg_demo.set_knobs(cache="on")
    before = pg_demo.stats()["db_queries"]
    for _ in range(3):
        pg_client.get(f"/items/{item['id']}").raise_for_status()
    assert pg_demo.stats()["db_queries"] - before == 1


def test_slow_query_sleeps_inside_postgres(
    pg_demo: DemoSystem, pg_client: httpx.Client, pg_admin: sa.Engine
) -> None:
    """The delay is spent by the server, visible as a running pg_sleep in pg_stat_activity."""
    dbname = pg_demo.endpoints.db_url.rsplit("/", 1)[1]
    pg_demo.set_knobs(slow_query="1s")
    elapsed: list[float] = []

    def request() -> None:
        start = time.perf_counter()
        pg_client.get("/items").raise_for_status()
        elapsed.append(time.perf_counter() - start)

    thread = threading.Thread(target=request)
    thread.start()
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = :db AND state = 'active' AND query LIKE 'SELECT pg_sleep%'"
    )
    try:
        with pg_admin.connect() as conn:
            wait_for(
                lambda: conn.execute(query, {"db": dbname}).scalar_one() > 0,
                what="pg_sleep to show up in pg_stat_activity",
            )
    finally:
        thread.join()
    assert elapsed[0] >= 1.0


def test_health_is_503_when_the_database_goes_away(
    tmp_path: Path, make_pg_database: Callable[[], str], pg_admin: sa.Engine
) -> None:
    url = make_pg_database()
    with DemoSystem(tmp_path, db_url=url) as demo, httpx.Client(timeout=30) as c:
        api = demo.endpoints.api_url
        assert c.get(f"{api}/health").status_code == 200
        with pg_admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
        response = c.get(f"{api}/health")
        assert response.status_code == 503
        assert response.json()["status"] == "fail"
        assert response.json()["db"].startswith("unreachable")
        items = c.get(f"{api}/items")
        assert items.status_code == 503
        assert items.json() == {"error": "database unavailable"}
        with admin_client(demo.endpoints) as admin:
            assert admin.get("/admin/stats").status_code == 200
        wait_for(
            lambda: c.get(demo.endpoints.worker_health_url).status_code == 503,
            what="worker health to notice the database is gone",
        )
