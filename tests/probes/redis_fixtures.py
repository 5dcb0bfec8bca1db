"""Real Redis servers for the probe tests.

- ``redis_url``: the Redis on 127.0.0.1:6379 (or ``REDLINE_TEST_REDIS_URL``); the tests
  fail, never skip, when it is not reachable.
- ``auth_redis``: a second, real ``redis-server`` started on a free loopback port with
  ``--requirepass`` (no persistence), killed at teardown.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

__all__ = ["AuthRedis", "auth_redis_fixture", "redis_url_fixture"]

REDIS_URL = os.environ.get("REDLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PASSWORD = "probe-test-redis-password"


@dataclass(frozen=True)
class AuthRedis:
    port: int
    password: str

    def url(self, password: str | None = None, user: str = "") -> str:
        auth = f"{user}:{password}@" if password is not None else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"


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
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not on PATH: install Redis to run these tests", pytrace=False)
    workdir = tmp_path_factory.mktemp("auth-redis")
    for _ in range(5):  # the free port may be taken between probing it and the server's bind
        proc, ready = _start(binary, _free_port(), workdir)
        if ready is not None:
            break
    else:
        pytest.fail("could not start a redis-server with --requirepass on loopback", pytrace=False)
    try:
        yield ready
    finally:
        proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _start(binary: str, port: int, workdir: Path) -> tuple[subprocess.Popen[str], AuthRedis | None]:
    proc = subprocess.Popen(
        [
            binary,
            *("--port", str(port), "--bind", "127.0.0.1", "--requirepass", PASSWORD),
            *("--save", "", "--appendonly", "no", "--dir", str(workdir), "--logfile", ""),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    # The server says when it listens; its log ends (EOF) if it exits instead.
    for line in proc.stdout:
        if "Ready to accept connections" in line:
            return proc, AuthRedis(port, PASSWORD)
    proc.wait(timeout=10)
    proc.stdout.close()
    return proc, None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
