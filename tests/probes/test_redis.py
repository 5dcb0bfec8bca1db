"""The redis probe against the real Redis on 127.0.0.1:6379, a real password-protected
redis-server started for the module, and fake peers (a hung server, a closed port)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import pytest
import redis

from redline.config.schema import Check
from redline.probes.base import HealthCheckResult, run_check
from redline.probes.redis import RedisProbe, parse_condition
from redline.probes.registry import probe_for
from tests.probes.pg_fake import SilentServer, closed_port_fixture, silent_server_fixture  # noqa: F401 (fixtures)
from tests.probes.redis_fixtures import AuthRedis, auth_redis_fixture, redis_url_fixture  # noqa: F401 (fixtures)

WRONG = "wrong-password-for-probe-tests"


def check(url: str, timeout: str = "3s", **spec: Any) -> Check:
    return Check.model_validate({"timeout": timeout, "redis": {"url": url, **spec}})


def run(c: Check) -> tuple[HealthCheckResult, float]:
    start = time.perf_counter()
    result = asyncio.run(run_check("cache", c))
    return result, time.perf_counter() - start


def no_secret(result: HealthCheckResult, *secrets: str) -> None:
    text = json.dumps(result.to_dict())
    for secret in secrets:
        assert secret not in text


# --- the real server -------------------------------------------------------------------------


def test_registry_builds_the_redis_probe(redis_url: str) -> None:
    assert isinstance(probe_for(check(redis_url), 1.0), RedisProbe)


def test_ping_passes_with_connect_ping_and_info_timed_apart(redis_url: str) -> None:
    result, _ = run(check(redis_url))
    assert result.outcome == "ok", result.reason
    assert set(result.phases) == {"connect", "ping", "info", "total"}
    assert all(result.phases[p] > 0 for p in ("connect", "ping", "info"))
    assert result.details["redis_version"].split(".")[0].isdigit()
    assert result.details["role"] == "master"
    assert result.details["target"] == "127.0.0.1:6379/0"


def test_info_conditions_that_hold_pass(redis_url: str) -> None:
    info = {
        "role": "master",
        "redis_mode": "== standalone",
        "loading": "0",
        "connected_clients": ">= 1",
        "uptime_in_seconds": "> 0",
        "blocked_clients": "< 100000",
        "rejected_connections": "!= -1",
    }
    result, _ = run(check(redis_url, info=info))
    assert result.outcome == "ok", result.reason
    assert set(result.details["info"]) == set(info)


def test_conditions_that_do_not_hold_fail_naming_each(redis_url: str) -> None:
    result, _ = run(
        check(redis_url, info={"role": "slave", "connected_clients": ">= 1000000", "loading": 0})
    )
    assert result.outcome == "fail"
    clients = result.details["info"]["connected_clients"]
    assert result.reason == (
        f"INFO role is 'master', expected slave; connected_clients is {clients}, expected >= 1000000"
    )


def test_a_nested_field_is_read_with_a_dot(redis_url: str) -> None:
    key = f"redline-probe-test-{uuid.uuid4().hex}"
    client = redis.Redis.from_url(redis_url)
    try:
        client.set(key, "1", ex=60)
        result, _ = run(check(redis_url, info={"db0.keys": ">= 1"}))
    finally:
        client.delete(key)
        client.close()
    assert result.outcome == "ok", result.reason


def test_a_missing_field_is_an_error(redis_url: str) -> None:
    result, _ = run(check(redis_url, info={"no_such_field": "1"}))
    assert result.outcome == "error"
    assert result.reason == "INFO has no field 'no_such_field' (see `redis-cli INFO`)"


def test_ordering_a_text_field_is_an_error(redis_url: str) -> None:
    result, _ = run(check(redis_url, info={"role": ">= 1"}))
    assert result.outcome == "error"
    assert result.reason == "INFO role is 'master', not a number: cannot check '>= 1'"


def test_an_ordering_without_a_number_is_an_error(redis_url: str) -> None:
    result, _ = run(check(redis_url, info={"connected_clients": ">= many"}))
    assert result.outcome == "error"
    assert result.reason == (
        "invalid Redis check: info condition '>= many': >= needs a number, as in '>= 1'"
    )


# --- a real server that requires a password --------------------------------------------------


def test_the_right_password_passes(auth_redis: AuthRedis) -> None:
    result, _ = run(check(auth_redis.url(auth_redis.password)))
    assert result.outcome == "ok", result.reason
    no_secret(result, auth_redis.password)


def test_no_password_is_an_authentication_required_error(auth_redis: AuthRedis) -> None:
    result, elapsed = run(check(auth_redis.url(), timeout="1s"))
    assert result.outcome == "error"
    assert result.reason == (
        f"authentication required (NOAUTH): Redis at 127.0.0.1:{auth_redis.port} asks for a "
        "password and the URL gives none"
    )
    assert elapsed < 1.0 + 1.0


@pytest.mark.parametrize("user", ["", "default"])
def test_a_wrong_password_is_an_authentication_error(auth_redis: AuthRedis, user: str) -> None:
    result, elapsed = run(check(auth_redis.url(WRONG, user=user), timeout="1s"))
    assert result.outcome == "error"
    assert result.reason == (
        f'authentication failed for user "default" at 127.0.0.1:{auth_redis.port} '
        "(wrong password, or the user is disabled)"
    )
    assert elapsed < 1.0 + 1.0
    no_secret(result, WRONG, auth_redis.password)


def test_a_wrong_password_in_the_query_string_is_an_authentication_error(
    auth_redis: AuthRedis,
) -> None:
    result, _ = run(check(f"{auth_redis.url()}?password={WRONG}", timeout="1s"))
    assert result.outcome == "error"
    assert result.reason.startswith('authentication failed for user "default"')
    no_secret(result, WRONG)


# --- peers for corners a real server cannot produce ------------------------------------------


def test_a_server_that_never_answers_times_out(silent_server: SilentServer) -> None:
    result, elapsed = run(check(f"redis://:{WRONG}@127.0.0.1:{silent_server.port}/0", "1s"))
    assert silent_server.accepted.is_set()
    assert result.outcome == "error"
    assert result.reason.startswith(f"no answer from Redis at 127.0.0.1:{silent_server.port}/0 ")
    assert result.reason.endswith(" (timeout)")
    assert elapsed < 1.0 + 1.0
    assert silent_server.hung_up()  # the probe closed its socket
    no_secret(result, WRONG)


def test_connection_refused(closed_port: int) -> None:
    result, elapsed = run(check(f"redis://:{WRONG}@127.0.0.1:{closed_port}/0", "1s"))
    assert result.outcome == "error"
    assert result.reason == (
        f"connection refused at 127.0.0.1:{closed_port} (is Redis running and listening there?)"
    )
    assert elapsed < 1.0 + 1.0
    no_secret(result, WRONG)


def test_an_unknown_host_is_an_error() -> None:
    result, elapsed = run(check(f"redis://:{WRONG}@no-such-host.invalid:6379/0"))
    assert result.outcome == "error"
    assert elapsed < 3.0 + 1.0
    assert result.reason == "could not resolve host no-such-host.invalid (DNS): check the URL"
    no_secret(result, WRONG)


def test_a_url_of_another_scheme_is_an_error() -> None:
    result, _ = run(check(f"http://user:{WRONG}@127.0.0.1:6379/0"))
    assert result.outcome == "error"
    assert result.reason.startswith("invalid Redis check: ")
    no_secret(result, WRONG)


@pytest.mark.parametrize(
    ("text", "value", "holds"),
    [
        ("master", "master", True),
        ("master", "slave", False),
        ("1", 1, True),
        ("1.0", 1, True),
        ("== 7.0.15", "7.0.15", True),
        ("!= loading", "ok", True),
        (">= 1", 1, True),
        ("> 1", 1, False),
        ("< 100", 99.5, True),
        ("<= 100", "101", False),
        (">= 1", "abc", None),
    ],
)
def test_conditions(text: str, value: object, holds: bool | None) -> None:
    assert parse_condition(text).holds(value) is holds


def test_cancelled_while_connecting_closes_the_socket(silent_server: SilentServer) -> None:
    spec = check(f"redis://127.0.0.1:{silent_server.port}/0", timeout="10s").spec

    async def cancel_mid_connect() -> None:
        task = asyncio.create_task(RedisProbe(spec, 10.0).check())
        await asyncio.to_thread(silent_server.accepted.wait, 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_mid_connect())
    assert silent_server.hung_up()
