"""Real Redis servers for the probe tests.

- ``redis_url``: the Redis on 127.0.0.1:6379 (or ``REDLINE_TEST_REDIS_URL``); the tests
  fail, never skip, when it is not reachable.
- ``auth_redis``: a second, real ``redis-server`` started on a free loopback port (and a
  unix socket) with ``--requirepass`` (no persistence), killed at teardown.
- ``tls_redis``: a real ``redis-server`` speaking only TLS, with a certificate for
  127.0.0.1 and localhost from the throwaway CA (``test_ca`` in conftest).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

__all__ = ["AuthRedis", "TlsRedis", "auth_redis_fixture", "redis_url_fixture", "tls_redis_fixture"]

REDIS_URL = os.environ.get("REDLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PASSWORD = "probe-test-redis-password"


@dataclass(frozen=True)
class AuthRedis:
    port: int
    password: str
    socket: Path

    def url(self, password: str | None = None, user: str = "") -> str:
        auth = f"{user}:{password}@" if password is not None else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"


@dataclass(frozen=True)
class TlsRedis:
    port: int
    ca_file: Path

    def url(self, query: str = "", host: str = "127.0.0.1") -> str:
        return f"rediss://{host}:{self.port}/0" + (f"?{query}" if query else "")


@pytest.fixture(name="redis_url", scope="session")
def redis_url_fixture() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis is not reachable at {REDIS_URL} ({exc}). The redis probe tests run against "
            "a real server: start one on 127.0.0.1:6379, or set REDLINE_TEST_REDIS_URL.",
            pytrace=False,
        )
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture(name="auth_redis", scope="module")
def auth_redis_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRedis]:
    workdir = tmp_path_factory.mktemp("auth-redis")
    sock = workdir / "redis.sock"
    args = ("--requirepass", PASSWORD, "--unixsocket", str(sock))
    with _redis_server(workdir, "--port", args) as port:
        yield AuthRedis(port, PASSWORD, sock)


@pytest.fixture(name="tls_redis", scope="module")
def tls_redis_fixture(tmp_path_factory: pytest.TempPathFactory, test_ca: Any) -> Iterator[TlsRedis]:
    workdir = tmp_path_factory.mktemp("tls-redis")
    cert, key = test_ca.ca.issue(["127.0.0.1", "localhost"]).write(workdir, "redis")
    args = ("--port", "0", "--tls-cert-file", str(cert), "--tls-key-file", str(key))
    args += ("--tls-ca-cert-file", str(test_ca.ca_file), "--tls-auth-clients", "no")
    with _redis_server(workdir, "--tls-port", args) as port:
        yield TlsRedis(port, test_ca.ca_file)


@contextmanager
def _redis_server(workdir: Path, port_flag: str, args: tuple[str, ...]) -> Iterator[int]:
    """A redis-server on a free loopback port given by ``port_flag``, killed on exit."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not on PATH: install Redis to run these tests", pytrace=False)
    for _ in range(5):  # the free port may be taken between probing it and the server's bind
        port = _free_port()
        proc = _start([binary, port_flag, str(port), *args], workdir)
        if proc is not None:
            break
    else:
        pytest.fail(f"could not start a redis-server with {args} on loopback", pytrace=False)
    try:
        yield port
    finally:
        proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _start(command: list[str], workdir: Path) -> subprocess.Popen[str] | None:
    proc = subprocess.Popen(
        [
            *command,
            *("--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
            *("--dir", str(workdir), "--logfile", ""),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    # The server says when it listens; its log ends (EOF) if it exits instead.
    for line in proc.stdout:
        if "Ready to accept connections" in line:
            return proc
    proc.wait(timeout=10)
    proc.stdout.close()
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
