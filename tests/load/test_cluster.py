"""Load tests on a Dask cluster: a real LocalCluster (worker processes) against a loopback server.

The cluster is shared by the module (starting one takes seconds); the test that kills
a worker gets a cluster of its own.
"""

from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from distributed import Client, LocalCluster

from redline import UsageError
from redline.load.cluster import ClusterRun
from redline.load.results import Interval
from redline.load.runner import LoadRun
from redline.load.schedule import Arrivals
from redline.load.spec import Executor, LoadSpec
from tests.helpers import CliResult
from tests.load.servers import Server


def _cluster() -> Iterator[LocalCluster]:
    # dashboard_address=None still binds 8787 (and warns when something has it): port 0.
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    ) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    """Two single-threaded worker processes and their scheduler, for the module."""
    yield from _cluster()


@pytest.fixture
def own_cluster() -> Iterator[LocalCluster]:
    """A cluster for one test (it may lose workers)."""
    yield from _cluster()


FLOW = """
async def flow(http, ctx):
    await http.get("/")
"""


def _spec(server: Server, rate: float, duration: float) -> LoadSpec:
    return LoadSpec(server.base, Executor("constant-arrival-rate", rate=rate, duration=duration))


def test_cluster_local_processes_agree_on_counts(
    server: Server, request: pytest.FixtureRequest
) -> None:
    spec = _spec(server, rate=200, duration=2)
    # The local runs fork; they go first, before this process holds the cluster's
    # threads (forking a multi-threaded process can deadlock the child).
    one = LoadRun(spec, workers=1).run()
    two = LoadRun(spec, workers=2).run()
    assert server.count == 800
    cluster: LocalCluster = request.getfixturevalue("cluster")
    seen: list[tuple[int, Interval]] = []
    result = ClusterRun(
        spec, cluster.scheduler_address, on_interval=lambda i, iv: seen.append((i, iv))
    ).run()

    assert one.requests == two.requests == result.requests == 400
    assert server.count == 1200
    summary = result.summary()
    assert summary["workers"] == 2
    assert summary["lost_workers"] == []
    assert summary["interrupted"] is False
    assert summary["errors"] == 0
    assert summary["statuses"] == {"200": 400}
    assert result.total.get_total_count() == 400  # the histograms travelled and merged
    # Live progress came from both workers, and adds up to what they returned.
    assert {i for i, _ in seen} == {0, 1}
    assert sum(iv.requests for _, iv in seen) == 400


def test_an_uneven_split_still_adds_up(server: Server, cluster: LocalCluster) -> None:
    """101/s over two workers is no 50.5/s each: the parts take alternate iterations of
    one schedule, so the total is the schedule's (as with local worker processes)."""
    spec = _spec(server, rate=101, duration=1)
    result = ClusterRun(spec, cluster.scheduler_address).run()
    assert Arrivals.of(spec.executor).total == 101
    assert result.requests == result.iterations == 101
    assert sorted(p.requests for p in result.parts) == [50, 51]
    assert server.count == 101


@pytest.mark.timeout(10)  # refused at once, not after Dask's connect retries
def test_no_scheduler_is_a_usage_error(server: Server, dead_port: int) -> None:
    address = f"tcp://127.0.0.1:{dead_port}"
    with pytest.raises(UsageError) as caught:
        ClusterRun(_spec(server, rate=10, duration=1), address).run()
    assert caught.value.message.startswith(f"no Dask scheduler at {address}: ")
    assert "refused" in caught.value.message.lower()
    assert caught.value.hint is not None and "dask scheduler" in caught.value.hint
    assert server.count == 0


def test_no_scheduler_from_the_cli(
    server: Server, dead_port: int, load_cli: Callable[..., CliResult]
) -> None:
    result = load_cli(
        "run", server.url, "--rate", "10/s", "--duration", "1s",
        "--cluster", f"tcp://127.0.0.1:{dead_port}", "--json", "--no-store",
    )  # fmt: skip
    assert result.code == 2, result.text
    error = result.json()["error"]
    assert error["type"] == "UsageError"
    assert error["message"].startswith(f"no Dask scheduler at tcp://127.0.0.1:{dead_port}: ")
    assert "dask scheduler" in error["hint"]
    assert "Traceback" not in result.text


def test_more_parts_than_worker_threads(server: Server, cluster: LocalCluster) -> None:
    with pytest.raises(UsageError, match=r"cannot run 3 part\(s\) side by side"):
        ClusterRun(_spec(server, rate=10, duration=1), cluster.scheduler_address, parts=3).run()
    assert server.count == 0


def test_a_flow_the_workers_cannot_import_is_a_usage_error(
    server: Server, cluster: LocalCluster, flow_module: Callable[..., str]
) -> None:
    # flow_module puts the module on this process's path only, as on a laptop driving
    # a remote cluster: the check runs where the flow will.
    flow = flow_module(FLOW)
    spec = dataclasses.replace(_spec(server, rate=10, duration=1), flow=flow)
    with pytest.raises(UsageError) as caught:
        ClusterRun(spec, cluster.scheduler_address).run()
    module = flow.partition(":")[0]
    assert f"cannot import flow module {module!r}" in caught.value.message
    assert "(on the Dask worker at tcp://127.0.0.1:" in caught.value.message
    assert caught.value.hint is not None
    assert server.count == 0


def test_a_lost_worker_keeps_the_others_results(server: Server, own_cluster: LocalCluster) -> None:
    with Client(own_cluster, set_as_default=False) as client:
        pids: dict[str, int] = client.run(os.getpid)
    victim = sorted(pids)[1]  # the worker running part 1
    killed: list[int] = []

    def kill_once(_part: int, _interval: Interval) -> None:
        # The first interval means every worker is sending: kill one mid-run.
        if not killed:
            os.kill(pids[victim], signal.SIGKILL)
            killed.append(pids[victim])

    spec = _spec(server, rate=100, duration=3)
    result = ClusterRun(spec, own_cluster.scheduler_address, on_interval=kill_once).run()

    assert killed
    assert len(result.lost) == 1
    assert f"worker 1 ({victim})" in result.lost[0]
    assert "left the cluster mid-run" in result.lost[0]
    assert [p.part for p in result.parts] == [0]
    assert result.requests == 150  # worker 0's whole share: 50/s for 3 s
    assert server.count >= 150  # and whatever worker 1 sent before it died
    assert result.summary()["lost_workers"] == result.lost


def test_stop_keeps_partial_results(server: Server, cluster: LocalCluster) -> None:
    spec = _spec(server, rate=100, duration=10)
    run: ClusterRun

    def stop_at_first(_part: int, _interval: Interval) -> None:
        run.stop()

    run = ClusterRun(spec, cluster.scheduler_address, on_interval=stop_at_first)
    result = run.run()

    assert run.stopped and result.interrupted
    assert result.lost == []
    assert len(result.parts) == 2
    assert 0 < result.requests < 1000
    assert result.duration_s < 5
    assert server.count == result.requests  # in-flight requests finished and counted


def test_cli_runs_on_the_cluster(
    server: Server, cluster: LocalCluster, load_cli: Callable[..., CliResult]
) -> None:
    result = load_cli(
        "run", server.url, "--rate", "100/s", "--duration", "2s",
        "--cluster", cluster.scheduler_address, "--json", "--no-store",
    )  # fmt: skip
    assert result.code == 0, result.text
    summary: dict[str, Any] = result.json()
    assert summary["requests"] == 200
    assert summary["workers"] == 2
    assert summary["lost_workers"] == []
    assert server.count == 200
