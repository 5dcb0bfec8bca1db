"""The load engine's numbers against real servers on loopback: what the schedule implies,
what the server counted, and what each executor, check, template and flow promises."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from redline.load.results import Interval, LoadResult
from redline.load.runner import run_load
from redline.load.schedule import Arrivals
from redline.load.spec import Executor, LoadSpec, RequestCheck, RequestSpec, Stage
from tests.load.servers import Server


def arrival(server: Server, rate: float, duration: float, **kw: object) -> LoadSpec:
    """A constant-arrival-rate spec against ``server``."""
    return LoadSpec(
        server.base, Executor("constant-arrival-rate", rate=rate, duration=duration), **kw
    )  # type: ignore[arg-type]


def iterations(server: Server, vus: int, each: int, **kw: object) -> LoadSpec:
    """A per-vu-iterations spec: exactly ``vus * each`` iterations."""
    return LoadSpec(
        server.base,
        Executor("per-vu-iterations", vus=vus, iterations=each, duration=30.0),
        **kw,
    )  # type: ignore[arg-type]


def assert_clean(result: LoadResult) -> None:
    s = result.summary()
    assert (s["errors"], s["dropped"], s["iteration_errors"]) == (0, 0, {}), s


# -- open model: the stall test, rate, workers -----------------------------------------


def test_a_server_stall_shows_in_p95_and_p99(own_server: Server) -> None:
    """A 1 s freeze in a 10 s run at a fixed rate: the iterations due during the freeze
    waited for it, so latencies spread evenly from ~0 to the stall, and the top
    (stall - x) / duration of all requests took longer than x."""
    rate, duration = 200.0, 10.0
    four_seconds_in, ended = threading.Event(), threading.Event()
    stall: list[float] = []

    def on_interval(_worker: int, interval: Interval) -> None:
        if interval.start >= 3.0 - 1e-6:  # the interval flushed 4 s in
            four_seconds_in.set()

    def freeze() -> None:
        four_seconds_in.wait(20)
        if ended.is_set():
            return
        own_server.freeze()
        frozen = time.perf_counter()
        time.sleep(1.0)  # the stall itself: a duration, not something to await
        own_server.thaw()
        stall.append(time.perf_counter() - frozen)

    freezer = threading.Thread(target=freeze)
    freezer.start()
    try:
        result = run_load(arrival(own_server, rate, duration), workers=1, on_interval=on_interval)
    finally:
        ended.set()
        four_seconds_in.set()
        freezer.join()

    assert stall, "the server was never frozen (no interval 4 s in)"
    assert_clean(result)
    assert result.requests == int(rate * duration)
    assert own_server.count == result.requests
    latency = result.summary()["latency_ms"]
    for key, q in (("p95", 0.95), ("p99", 0.99)):
        expected = (stall[0] - (1 - q) * result.requests / rate) * 1000
        assert abs(latency[key] - expected) <= 0.10 * expected, (key, latency, stall)


def test_achieved_rate_is_the_target_rate(server: Server) -> None:
    rate, duration = 500.0, 4.0
    result = run_load(arrival(server, rate, duration), workers=1)
    assert_clean(result)
    assert result.requests == pytest.approx(rate * duration, rel=0.01)
    assert result.duration_s == pytest.approx(duration, rel=0.01)
    assert result.rps == pytest.approx(rate, rel=0.01)
    assert server.count == result.requests


def test_a_light_run_is_not_marked_saturated(server: Server) -> None:
    """100 requests/s is nothing for the generator: no second of it may claim saturation
    (which would tell the user to distrust the latencies). With a few ms per request a
    run ends just after its last whole second, as real runs do; the few runs make the
    timing of that end vary."""
    for server_ms in (0, 5, 30):
        request = RequestSpec(path=f"/slow?ms={server_ms}")
        result = run_load(arrival(server, 100, 1.0, requests=(request,)), workers=1)
        assert_clean(result)
        intervals = [(i.start, i.duration, i.cpu, i.lag_ms) for i in result.parts[0].intervals]
        assert not result.generator_saturated, (server_ms, intervals)


WORKER_SCHEDULES = {
    "200/s": Executor("constant-arrival-rate", rate=200.0, duration=1.0),
    # Two halves of 50.5/s: their counts must still add up to 101.
    "101/s": Executor("constant-arrival-rate", rate=101.0, duration=1.0),
    "ramp": Executor(
        "ramping-arrival-rate", start_rate=0.0, stages=(Stage(0.5, 101.0), Stage(0.5, 0.0))
    ),
}


@pytest.mark.parametrize("schedule", WORKER_SCHEDULES)
def test_one_and_two_workers_send_the_same_count(server: Server, schedule: str) -> None:
    """The schedule fixes the count, however it is split over processes."""
    spec = LoadSpec(server.base, WORKER_SCHEDULES[schedule])
    expected = Arrivals.of(spec.executor).total
    one = run_load(spec, workers=1)
    two = run_load(spec, workers=2)
    assert (one.requests, two.requests) == (expected, expected)
    assert (one.iterations, two.iterations) == (expected, expected)
    assert len(two.parts) == 2 and not two.lost
    assert server.count == 2 * expected


def test_queueing_in_the_generator_counts(server: Server) -> None:
    """5 connections to a server taking 200 ms serve 25/s; at 50/s for 1 s the last
    iterations wait about a second for a connection. That wait is latency (measured from
    the intended start), not something to hide; the connections never exceed the cap."""
    executor = Executor("constant-arrival-rate", rate=50, duration=1.0, max_connections=5)
    spec = LoadSpec(server.base, executor, requests=(RequestSpec(path="/slow?ms=200"),))
    result = run_load(spec, workers=1)
    assert_clean(result)
    assert result.requests == server.count == 50
    assert server.stats()["peak_connections"] <= 5
    latency = result.summary()["latency_ms"]
    assert latency["min"] >= 200
    assert latency["max"] >= 900  # the last one: due at 0.98 s, answered at ~2.0 s


def test_a_full_queue_drops_and_counts_every_iteration(server: Server) -> None:
    executor = Executor(
        "constant-arrival-rate", rate=50, duration=1.0, max_connections=2, max_queue=3
    )
    spec = LoadSpec(server.base, executor, requests=(RequestSpec(path="/slow?ms=200"),))
    result = run_load(spec, workers=1)
    s = result.summary()
    assert s["dropped"] > 0
    assert s["iterations"] + s["dropped"] == 50
    assert s["requests"] == s["iterations"] == server.count
    assert sum(row["dropped"] for row in result.series) == s["dropped"]


def test_bytes_on_the_wire_are_counted_exactly(server: Server) -> None:
    result = run_load(iterations(server, vus=2, each=10), workers=1)
    assert_clean(result)
    port = server.port
    sent = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: redline\r\n\r\n"
    body = '{"ok": true, "id": 7}'
    received = (
        "HTTP/1.1 200 X\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    )
    assert result.summary()["bytes"] == {"sent": 20 * len(sent), "received": 20 * len(received)}


def test_iterations_waiting_for_a_connection_at_the_end_are_not_lost(server: Server) -> None:
    """The server closes every connection after its response (taking 30 ms), so each
    iteration needs a new one, the last included: it must still be sent, waited for and
    counted, never cut off because the schedule ended while it waited to connect."""
    request = RequestSpec(path="/slow?ms=30", headers={"Connection": "close"})
    result = run_load(arrival(server, 20, 1.0, requests=(request,)), workers=1)
    assert_clean(result)
    assert result.requests == result.iterations == 20
    assert server.count == 20
    assert server.stats()["accepted"] == 20


def test_ramping_arrival_rate_sends_what_its_stages_add_up_to(server: Server) -> None:
    executor = Executor(
        "ramping-arrival-rate",
        start_rate=0.0,
        stages=(Stage(1.0, 200.0), Stage(1.0, 200.0), Stage(1.0, 0.0)),
    )
    total = Arrivals.of(executor).total
    assert total == 400  # 100 on the way up, 200 held, 100 on the way down
    result = run_load(LoadSpec(server.base, executor), workers=1)
    assert_clean(result)
    assert result.requests == result.iterations == total
    assert server.count == total
    # A row holds what completed between two flushes of the interval ticker; on a loaded
    # machine a tick can be ~100 ms late and move a few tens of requests to its neighbour.
    per_second = [row["requests"] for row in result.series[:3]]
    assert per_second == pytest.approx([100, 200, 100], rel=0.3), result.series
    assert sum(row["requests"] for row in result.series) == total


# -- closed model ----------------------------------------------------------------------


def test_constant_vus_never_uses_more_connections_than_vus(server: Server) -> None:
    spec = LoadSpec(server.base, Executor("constant-vus", vus=5, duration=2.0))
    result = run_load(spec, workers=1)
    assert_clean(result)
    stats = server.stats()
    assert result.requests > 0
    assert stats["requests"] == result.requests
    assert stats["peak_connections"] <= 5
    assert stats["accepted"] == 5  # one keep-alive connection per VU, kept all run long


def test_per_vu_iterations_does_exactly_vus_times_iterations(server: Server) -> None:
    result = run_load(iterations(server, vus=4, each=25), workers=1)
    assert_clean(result)
    assert result.requests == result.iterations == 100
    assert server.count == 100
    assert server.stats()["peak_connections"] <= 4


def test_per_vu_iterations_with_two_workers(server: Server) -> None:
    result = run_load(iterations(server, vus=3, each=10), workers=2)
    assert_clean(result)
    assert result.requests == 30
    assert server.count == 30


def test_ramping_vus_follows_its_stages(server: Server) -> None:
    executor = Executor(
        "ramping-vus",
        start_vus=1,
        stages=(Stage(0.5, 4), Stage(1.0, 4), Stage(0.5, 0)),
    )
    result = run_load(LoadSpec(server.base, executor), workers=1)
    assert_clean(result)
    stats = server.stats()
    assert result.requests > 0
    assert stats["requests"] == result.requests
    assert stats["peak_connections"] == 4
    assert result.duration_s < executor.total_duration + 1.0


def test_think_time_paces_each_vu(server: Server) -> None:
    """2 VUs thinking 0.25 s between iterations for 1 s: about 4 iterations each."""
    executor = Executor("constant-vus", vus=2, duration=1.0, think_time=0.25)
    result = run_load(LoadSpec(server.base, executor), workers=1)
    assert_clean(result)
    assert 6 <= result.requests <= 10
    assert server.count == result.requests


# -- requests: checks, status classes, weights, templates ------------------------------

CHECKS = {  # name: (check, whether it fails against {"ok": true, "id": 7})
    "status ok": (RequestCheck(status=(200,)), False),
    "status other": (RequestCheck(status=(201, 204)), True),
    "contains": (RequestCheck(contains='"id": 7'), False),
    "contains not": (RequestCheck(contains="nope"), True),
    "json equals": (RequestCheck(json_path="$.id", equals=7), False),
    "json dotted": (RequestCheck(json_path="id", equals=7), False),
    "json differs": (RequestCheck(json_path="$.id", equals=8), True),
    "json missing": (RequestCheck(json_path="$.missing"), True),
    "all of them": (
        RequestCheck(status=(200,), contains="ok", json_path="$.ok", equals=True),
        False,
    ),
}


def test_a_failed_check_is_an_error_of_kind_check(server: Server) -> None:
    requests = tuple(RequestSpec(path="/", name=n, check=c) for n, (c, _) in CHECKS.items())
    result = run_load(iterations(server, vus=3, each=60, requests=requests), workers=1)
    s = result.summary()
    by = s["by_request"]
    assert s["requests"] == sum(r["requests"] for r in by.values()) == 180
    assert all(by[name]["requests"] > 0 for name in CHECKS), by
    errors = {name: by[name]["errors"] for name in CHECKS}
    assert errors == {n: by[n]["requests"] if fails else 0 for n, (_, fails) in CHECKS.items()}
    failed = sum(errors.values())
    assert s["errors_by_kind"] == {"check": failed}
    assert s["checks"] == {"passed": 180 - failed, "failed": failed}
    assert s["statuses"] == {"200": 180}


def test_error_statuses_are_classified(server: Server) -> None:
    requests = (
        RequestSpec(path="/status/503", name="unavailable"),
        RequestSpec(path="/status/404", name="missing"),
        RequestSpec(path="/", name="fine"),
    )
    result = run_load(iterations(server, vus=1, each=30, requests=requests), workers=1)
    s = result.summary()
    by = s["by_request"]
    assert s["requests"] == 30
    assert s["errors_by_kind"] == {
        "status_4xx": by["missing"]["requests"],
        "status_5xx": by["unavailable"]["requests"],
    }
    assert by["fine"]["errors"] == 0
    assert s["statuses"] == {
        "200": by["fine"]["requests"],
        "404": by["missing"]["requests"],
        "503": by["unavailable"]["requests"],
    }


def test_weights_split_requests(server: Server) -> None:
    requests = (
        RequestSpec(path="/heavy", name="heavy", weight=3),
        RequestSpec(path="/light", name="light", weight=1),
    )
    result = run_load(iterations(server, vus=4, each=100, requests=requests), workers=1)
    assert_clean(result)
    by = result.summary()["by_request"]
    assert by["heavy"]["requests"] + by["light"]["requests"] == 400
    assert by["heavy"]["requests"] == pytest.approx(300, abs=30)
    seen = Counter(entry["target"] for entry in server.log())
    assert seen == {"/heavy": by["heavy"]["requests"], "/light": by["light"]["requests"]}


def test_templates_reach_the_server_rendered(server: Server, tmp_path: Path) -> None:
    data = tmp_path / "users.csv"
    data.write_text("user,team\nalpha,red\nbeta,blue\ntwo words,green\n", encoding="utf-8")
    request = RequestSpec(
        path="/t/{{data.user}}",
        method="POST",
        query={"n": "{{randint(1,5)}}"},
        headers={"X-User": "{{data.user}}", "X-Id": "{{uuid}}"},
        body='{"team": "{{data.team}}", "id": "{{uuid}}"}',
    )
    spec = iterations(server, vus=1, each=30, requests=(request,), data_file=str(data))
    result = run_load(spec, workers=1)
    assert_clean(result)
    log = server.log()
    assert len(log) == 30
    assert not any("{{" in e["target"] + e["body"] + str(e["headers"]) for e in log)
    users = Counter()
    numbers = set()
    ids = set()
    for entry in log:
        url = urlsplit(entry["target"])
        user = unquote(url.path.removeprefix("/t/"))
        users[user] += 1
        assert entry["headers"]["x-user"] == user  # one row per request, used everywhere
        team = {"alpha": "red", "beta": "blue", "two words": "green"}[user]
        assert entry["body"].startswith(f'{{"team": "{team}", "id": "')
        numbers.add(int(parse_qs(url.query)["n"][0]))
        ids.add(uuid.UUID(entry["headers"]["x-id"]))
    assert users == {"alpha": 10, "beta": 10, "two words": 10}  # rows in turn
    assert numbers <= {1, 2, 3, 4, 5} and len(numbers) > 1
    assert len(ids) == 30


# -- flows -----------------------------------------------------------------------------

TWO_STEPS = """
async def flow(http, ctx):
    first = await http.get("/", name="first")
    assert first.json("$.id") == 7, "first: no id 7"
    second = await http.post("/echo", name="echo", json={"id": first.json()["id"]})
    assert second.status == 200 and second.json() == {"id": 7}, "echo: wrong body"
"""

WRONG_CHECK = """
async def flow(http, ctx):
    response = await http.get("/")
    assert response.json("$.id") == 8, "id is not 8"
"""

RAISES = """
async def flow(http, ctx):
    await http.get("/")
    raise RuntimeError("boom")
"""

HANGS = """
import asyncio

async def flow(http, ctx):
    await http.get("/")
    await asyncio.Event().wait()
"""


def test_a_two_request_flow_with_a_json_check(
    server: Server, flow_module: Callable[[str], str]
) -> None:
    result = run_load(arrival(server, 50, 1.0, flow=flow_module(TWO_STEPS)), workers=1)
    assert_clean(result)
    s = result.summary()
    assert s["iterations"] == 50
    assert s["requests"] == 100
    assert {k: v["requests"] for k, v in s["by_request"].items() if v["requests"]} == {
        "first": 50,
        "echo": 50,
    }
    assert server.count == 100


def test_a_failed_assertion_in_a_flow_is_a_failed_check(
    server: Server, flow_module: Callable[[str], str]
) -> None:
    result = run_load(iterations(server, vus=2, each=5, flow=flow_module(WRONG_CHECK)), workers=1)
    s = result.summary()
    assert s["iterations"] == 10
    assert s["iteration_errors"] == {"check": 10}
    assert s["checks"]["failed"] == 10
    assert s["requests"] == server.count == 10


def test_a_flow_that_raises_fails_its_iteration_and_the_run_goes_on(
    server: Server, flow_module: Callable[[str], str]
) -> None:
    result = run_load(arrival(server, 50, 1.0, flow=flow_module(RAISES)), workers=1)
    s = result.summary()
    assert s["iterations"] == 50  # every scheduled iteration ran, none was lost
    assert s["iteration_errors"] == {"RuntimeError": 50}
    assert s["requests"] == server.count == 50
    assert s["errors"] == 0  # the requests themselves were fine


def test_a_raising_flow_does_not_stop_its_vu(
    server: Server, flow_module: Callable[[str], str]
) -> None:
    result = run_load(iterations(server, vus=2, each=5, flow=flow_module(RAISES)), workers=1)
    s = result.summary()
    assert s["iterations"] == 10
    assert s["iteration_errors"] == {"RuntimeError": 10}
    assert s["requests"] == server.count == 10


@pytest.mark.parametrize("model", ["open", "closed"])
def test_a_hanging_flow_is_bounded_by_graceful_stop(
    server: Server, flow_module: Callable[[str], str], model: str
) -> None:
    duration, graceful = 1.0, 0.5
    if model == "open":
        executor = Executor("constant-arrival-rate", rate=10, duration=duration)
    else:
        executor = Executor("constant-vus", vus=3, duration=duration)
    spec = LoadSpec(server.base, executor, flow=flow_module(HANGS), graceful_stop=graceful)
    started = time.perf_counter()
    result = run_load(spec, workers=1)
    elapsed = time.perf_counter() - started
    assert elapsed < duration + graceful + 1.0
    s = result.summary()
    hung = 10 if model == "open" else 3
    assert s["iterations"] == hung
    assert s["iteration_errors"] == {"interrupted": hung}
    assert s["requests"] == server.count == hung
