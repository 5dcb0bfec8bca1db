"""Fixtures for the load engine: real servers in their own processes, flow modules, the CLI."""

from __future__ import annotations

import os
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import CliResult, run_cli
from tests.load.servers import Server, closed_port


def _server(mode: str) -> Iterator[Server]:
    server = Server(mode)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def shared_server() -> Iterator[Server]:
    yield from _server("http")


@pytest.fixture
def server(shared_server: Server) -> Server:
    """A keep-alive HTTP/1.1 server in its own process, its counts zeroed for this test
    (one process serves every test: starting one costs ~0.3 s)."""
    shared_server.reset()
    return shared_server


@pytest.fixture
def own_server() -> Iterator[Server]:
    """A server process of this test's own (to freeze it, say)."""
    yield from _server("http")


@pytest.fixture
def reset_server() -> Iterator[Server]:
    """A server that resets every connection it accepts."""
    yield from _server("reset")


@pytest.fixture
def silent_server() -> Iterator[Server]:
    """A server that accepts connections and never answers."""
    yield from _server("silent")


@pytest.fixture
def dead_port() -> int:
    """A loopback port nothing listens on."""
    return closed_port()


@pytest.fixture
def flow_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., str]]:
    """Write a flow module into tmp_path (on sys.path) and return its ``module:flow``.

    Module names are unique, so a test never sees a module another test imported.
    """
    folder = tmp_path / "flows"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    names: list[str] = []

    def write(source: str, function: str = "flow") -> str:
        name = f"redline_test_flow_{uuid.uuid4().hex[:12]}"
        (folder / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        names.append(name)
        return f"{name}:{function}"

    yield write
    for name in names:
        sys.modules.pop(name, None)


@pytest.fixture
def load_cli(tmp_path: Path) -> Callable[..., CliResult]:
    """Run ``python -m redline load ARGS`` in tmp_path as a user would (flows importable
    from tmp_path/flows)."""

    def run(*args: str, timeout: float = 60) -> CliResult:
        paths = [str(tmp_path / "flows"), os.environ.get("PYTHONPATH", "")]
        env = {"PYTHONPATH": os.pathsep.join(p for p in paths if p)}
        return run_cli("load", *args, cwd=tmp_path, env=env, timeout=timeout)

    return run
