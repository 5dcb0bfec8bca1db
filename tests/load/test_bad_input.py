"""Bad input to `redline load`, as a user meets it: the CLI in a subprocess against real
servers on loopback. Every case exits with the documented code and says what went wrong
and what to do, never with a traceback; the engine never lies about what it measured."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from redline import UsageError
from redline.load.runner import run_load
from redline.load.spec import Executor, LoadSpec, RequestSpec
from tests.helpers import CliResult
from tests.load.servers import Server

Cli = Callable[..., CliResult]
QUICK = ("--duration", "1s", "--workers", "1", "--no-store")


def clean(result: CliResult) -> CliResult:
    """No traceback, whatever happened."""
    assert "Traceback" not in result.text, result.text
    return result


# -- arguments -------------------------------------------------------------------------


@pytest.mark.parametrize("rate", ["fast", "-5/s"])
def test_a_bad_rate_says_how_to_write_one(load_cli: Cli, server: Server, rate: str) -> None:
    result = clean(load_cli("run", server.url, "--rate", rate, *QUICK))
    assert result.code == 2
    assert "--rate" in result.err and "2000/s" in result.err
    assert server.count == 0


@pytest.mark.parametrize("duration", ["-3s", "abc"])
def test_a_bad_duration_says_how_to_write_one(load_cli: Cli, server: Server, duration: str) -> None:
    result = clean(
        load_cli("run", server.url, "--rate", "10/s", "--duration", duration, "--no-store")
    )
    assert result.code == 2
    assert "--duration" in result.err and duration in result.err
    assert server.count == 0


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "127.0.0.1:8080"])
def test_a_url_that_is_not_http(load_cli: Cli, url: str) -> None:
    result = clean(load_cli("run", url, "--rate", "10/s", *QUICK))
    assert result.code == 2
    assert "http:// or https://" in result.err
    assert "http://127.0.0.1:8080/" in result.err  # the hint shows a URL that works


@pytest.mark.parametrize(
    ("threshold", "hint"),
    [
        ("http_req_duration:p99<200", "p(99)"),
        ("http_req_duration<200", "METRIC:EXPRESSION"),
        ("latency:p(99)<200", "http_req_duration"),
    ],
)
def test_a_bad_threshold_lists_the_valid_forms_before_any_traffic(
    load_cli: Cli, server: Server, threshold: str, hint: str
) -> None:
    result = clean(load_cli("run", server.url, "--rate", "10/s", "--threshold", threshold, *QUICK))
    assert result.code == 2, result.text
    assert hint in result.err
    assert server.count == 0


def test_a_crossed_threshold_exits_1(load_cli: Cli, server: Server) -> None:
    result = clean(
        load_cli(
            "run",
            server.url,
            "--rate",
            "20/s",
            "--threshold",
            "http_req_duration:p(99)<0.001",
            "--threshold",
            "http_req_failed:rate<0.01",
            *QUICK,
        )
    )
    assert result.code == 1, result.text
    assert "threshold FAIL http_req_duration: p(99)<0.001" in result.out
    assert "threshold ok   http_req_failed: rate<0.01" in result.out


# -- targets that do not answer --------------------------------------------------------

MODELS = {"open": ("--rate", "20/s"), "closed": ("--connections", "2")}


def test_nobody_listening_is_refused_and_says_so(load_cli: Cli, dead_port: int) -> None:
    url = f"http://127.0.0.1:{dead_port}/"
    result = clean(load_cli("run", url, "--connections", "2", *QUICK))
    assert result.code == 2, result.text
    assert "no request got a response (refused)" in result.err
    assert f"127.0.0.1:{dead_port}" in result.err


def test_nobody_listening_is_counted_per_iteration(load_cli: Cli, dead_port: int) -> None:
    url = f"http://127.0.0.1:{dead_port}/"
    result = clean(load_cli("run", url, "--rate", "20/s", *QUICK, "--json"))
    assert result.code == 2, result.text
    s = result.json()
    assert s["requests"] == s["errors"] == 20  # every scheduled iteration is accounted for
    assert s["errors_by_kind"] == {"refused": 20}


@pytest.mark.parametrize("model", MODELS)
def test_a_target_that_resets_every_connection(
    load_cli: Cli, reset_server: Server, model: str
) -> None:
    result = clean(
        load_cli("run", reset_server.url, *MODELS[model], "--timeout", "3s", *QUICK, "--json")
    )
    assert result.code == 2, result.text
    s = result.json()
    assert s["requests"] > 0
    assert s["errors_by_kind"] == {"reset": s["requests"]}, s["errors_by_kind"]
    if model == "open":
        assert s["requests"] == 20
    assert reset_server.stats()["accepted"] > 0


def test_a_target_that_never_answers_times_out(load_cli: Cli, silent_server: Server) -> None:
    result = clean(load_cli("run", silent_server.url, "--rate", "10/s", "--timeout", "1s", *QUICK))
    assert result.code == 2, result.text
    assert "no request got a response (timeout)" in result.err


# -- flows -----------------------------------------------------------------------------

RAISES = """
async def flow(http, ctx):
    await http.get("/")
    raise RuntimeError("boom")
"""


def test_a_flow_that_raises_is_reported_and_the_run_completes(
    load_cli: Cli, server: Server, flow_module: Callable[[str], str]
) -> None:
    result = clean(
        load_cli("run", server.url, "--rate", "20/s", "--flow", flow_module(RAISES), *QUICK)
    )
    assert result.code == 0, result.text
    assert "failed iterations: RuntimeError 20" in result.out
    assert server.count == 20


@pytest.mark.parametrize(
    ("reference", "message", "workers"),
    [
        ("nosuchmodule_x:flow", "cannot import flow module 'nosuchmodule_x'", "1"),
        ("nosuchmodule_x:flow", "cannot import flow module 'nosuchmodule_x'", "2"),
        ("no-colon", "is not module:function", "1"),
    ],
)
def test_a_bad_flow_reference_is_a_usage_error(
    load_cli: Cli, server: Server, reference: str, message: str, workers: str
) -> None:
    result = clean(
        load_cli(
            "run",
            server.url,
            "--rate",
            "10/s",
            "--flow",
            reference,
            "--duration",
            "1s",
            "--workers",
            workers,
            "--no-store",
        )
    )
    assert result.code == 2, result.text
    assert message in result.err
    assert "lost workers" not in result.text
    assert server.count == 0


# -- data files ------------------------------------------------------------------------


def scenario_config(tmp_path: Path, server: Server, data_file: str) -> None:
    (tmp_path / "redline.yaml").write_text(
        textwrap.dedent(
            f"""\
            project: shop
            load:
              scenarios:
                users:
                  target: {server.base}
                  executor: constant-arrival-rate
                  rate: 10/s
                  duration: 1s
                  data_file: {data_file}
                  requests:
                    - path: /u/{{{{data.user}}}}
            """
        ),
        encoding="utf-8",
    )


def test_a_missing_data_file_is_a_config_error_naming_it(
    load_cli: Cli, server: Server, tmp_path: Path
) -> None:
    scenario_config(tmp_path, server, "users.csv")
    result = clean(load_cli("users", "--no-store"))
    assert result.code == 5, result.text  # the config is invalid (redline's exit code 5)
    assert "users.csv" in result.text and "does not exist" in result.text
    assert server.count == 0


@pytest.mark.parametrize(("content", "workers"), [("", "1"), ("user\n", "1"), ("", "2")])
def test_an_empty_data_file_is_a_usage_error_naming_it(
    load_cli: Cli, server: Server, tmp_path: Path, content: str, workers: str
) -> None:
    (tmp_path / "users.csv").write_text(content, encoding="utf-8")
    scenario_config(tmp_path, server, "users.csv")
    result = clean(load_cli("users", "--no-store", "--workers", workers))
    assert result.code == 2, result.text
    assert "users.csv has no rows" in result.err
    assert "lost workers" not in result.text
    assert "latency" not in result.out  # no table of zeros for a run that never ran
    assert server.count == 0


def test_an_unknown_scenario_names_the_close_one(
    load_cli: Cli, server: Server, tmp_path: Path
) -> None:
    (tmp_path / "users.csv").write_text("user\nann\n", encoding="utf-8")
    scenario_config(tmp_path, server, "users.csv")
    result = clean(load_cli("userz", "--no-store"))
    assert result.code == 2
    assert "no scenario 'userz'" in result.err and "did you mean 'users'" in result.err


@pytest.mark.parametrize(
    ("content", "message", "workers"),
    [(None, "does not exist", 1), ("", "has no rows", 1), (None, "does not exist", 2)],
)
def test_the_python_api_raises_usage_error_for_a_bad_data_file(
    server: Server, tmp_path: Path, content: str | None, message: str, workers: int
) -> None:
    data = tmp_path / "rows.csv"
    if content is not None:
        data.write_text(content, encoding="utf-8")
    spec = LoadSpec(
        server.base,
        Executor("constant-arrival-rate", rate=10, duration=1.0),
        requests=(RequestSpec(path="/u/{{data.user}}"),),
        data_file=str(data),
    )
    with pytest.raises(UsageError, match=f"{data}.*{message}|{message}.*{data}"):
        run_load(spec, workers=workers)
    assert server.count == 0


# -- a rate the machine cannot reach ---------------------------------------------------


def test_an_unreachable_rate_reports_drops_and_saturation(load_cli: Cli, server: Server) -> None:
    """200,000/s from one process with 5 connections: most iterations cannot start. The
    report must say so (dropped, saturated), and every scheduled iteration must be either
    started or dropped: none silently lost."""
    result = clean(
        load_cli(
            "run",
            server.url,
            "--rate",
            "200000/s",
            "--duration",
            "2s",
            "--workers",
            "1",
            "--connections",
            "5",
            "--no-store",
            "--json",
        )
    )
    s = result.json()
    assert s["dropped"] > 0
    # It could not even start iterations on time (the 2 s schedule takes longer to get
    # through): its latencies hold its own delays, and the report must say so.
    assert s["generator_saturated"] is True, s
    assert s["iterations"] + s["dropped"] == 400_000
    assert s["requests"] == server.count
    assert server.stats()["peak_connections"] <= 5


# -- Ctrl-C ----------------------------------------------------------------------------


class Running:
    """`redline load run ...` started as a terminal starts it: in its own process group,
    so SIGINT goes to the group, workers included, as Ctrl-C does."""

    def __init__(self, cwd: Path, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("REDLINE_")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "redline", "load", "run", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

        self.early_err = ""

    def stderr_so_far(self) -> str:
        """What the process wrote to stderr until now, read without blocking."""
        assert self.proc.stderr is not None
        fd = self.proc.stderr.fileno()
        os.set_blocking(fd, False)
        with contextlib.suppress(BlockingIOError):
            self.early_err += os.read(fd, 65536).decode(errors="replace")
        return self.early_err

    def ctrl_c(self) -> float:
        os.killpg(self.proc.pid, signal.SIGINT)
        return time.monotonic()

    def finish(self, timeout: float) -> CliResult:
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            out, err = self.proc.communicate()
            pytest.fail(f"still running {timeout} s after Ctrl-C\n{out}\n{err}")
        return CliResult(self.proc.returncode, out, self.early_err + err)


def wait_for(condition: Callable[[], Any], timeout: float = 15.0) -> None:
    """Poll ``condition`` (another process's state: nothing to await) until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def workers_ignoring_sigint(pid: int) -> list[int]:
    """The worker processes of ``pid`` that have set SIGINT to be ignored: from then on
    Ctrl-C reaches only the parent, which stops them (before, it would kill them)."""
    ready = []
    for child in psutil.Process(pid).children():
        with contextlib.suppress(OSError, psutil.Error):
            status = Path(f"/proc/{child.pid}/status").read_text()
            ignored = int(status.split("SigIgn:")[1].split()[0], 16)
            if ignored & (1 << (signal.SIGINT - 1)):
                ready.append(child.pid)
    return ready


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_while_running_keeps_partial_results(
    server: Server, tmp_path: Path, workers: str
) -> None:
    run = Running(
        tmp_path, server.url, "--rate", "100/s", "--duration", "10s",
        "--workers", workers, "--no-store", "--json",
    )  # fmt: skip
    wait_for(lambda: server.count >= 100)  # a second of traffic
    pressed = run.ctrl_c()
    result = clean(run.finish(timeout=8))
    assert time.monotonic() - pressed < 5
    s = result.json()
    assert s["interrupted"] is True
    assert 100 <= s["requests"] < 1000
    assert s["requests"] == server.count  # in-flight requests finished, none lost
    assert s["errors"] == 0
    assert "stopping" in result.err


def test_ctrl_c_before_traffic_starts(server: Server, tmp_path: Path) -> None:
    """Workers wait for a common start (a few hundred ms); Ctrl-C in that window must stop
    the run, not be forgotten when the schedule begins."""
    run = Running(
        tmp_path, server.url, "--rate", "100/s", "--duration", "10s",
        "--workers", "2", "--no-store", "--json",
    )  # fmt: skip
    wait_for(lambda: len(workers_ignoring_sigint(run.proc.pid)) == 2)
    assert server.count == 0  # still before the common start
    pressed = run.ctrl_c()
    result = clean(run.finish(timeout=8))
    assert time.monotonic() - pressed < 5
    s = result.json()
    assert s["interrupted"] is True
    assert s["requests"] == server.count < 100


def test_a_second_ctrl_c_while_draining_stops_waiting(server: Server, tmp_path: Path) -> None:
    """The first Ctrl-C lets in-flight requests finish (here: 10 s each); a second one ends
    the wait at once, still without a traceback."""
    run = Running(
        tmp_path, server.base + "/slow?ms=10000", "--rate", "20/s", "--duration", "10s",
        "--workers", "1", "--no-store", "--json",
    )  # fmt: skip
    wait_for(lambda: len(server.log()) >= 20)  # a second of requests in flight
    run.ctrl_c()
    wait_for(lambda: "stopping" in run.stderr_so_far(), timeout=5)
    pressed = run.ctrl_c()
    result = clean(run.finish(timeout=15))
    assert time.monotonic() - pressed < 7  # well before the in-flight requests could end
    assert result.code == 130, result.text
    assert "aborted" in result.err or "interrupted" in result.err
