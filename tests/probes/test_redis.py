"""The redis probe against the real Redis on 127.0.0.1:6379, real redis-servers started for
the module (password-protected, on TCP and a unix socket; TLS only), and fake peers (a hung
server, a closed port). Peers answering what no Redis would: test_redis_peers.py."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis

from redline.config.schema import Check
from redline.probes.base import HealthCheckResult, run_check
from redline.probes.redis import RedisProbe, parse_condition
from redline.probes.registry import probe_for
from tests.probes.pg_fake import SilentServer, closed_port_fixture, silent_server_fixture  # noqa: F401 (fixtures)
from tests.probes.redis_fixtures import (  # noqa: F401 (fixtures)
    AuthRedis,
    TlsRedis,
    auth_redis_fixture,
    redis_url_fixture,
    tls_redis_fixture,
)

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


# --- what else the URL can say, against real servers ------------------------------------------


def test_the_probe_never_imports_redis_py(redis_url: str) -> None:
    code = (
        "import asyncio, sys\n"
        "from redline.config.schema import Check\n"
        "from redline.probes.base import run_check\n"
        f"c = Check.model_validate({{'redis': {{'url': {redis_url!r}}}}})\n"
        "r = asyncio.run(run_check('cache', c))\n"
        "print(r.outcome, 'redis' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["ok", "False"], done.stderr


def test_a_database_out_of_range_is_an_error(redis_url: str) -> None:
    result, _ = run(check(redis_url.rsplit("/", 1)[0] + "/99"))
    assert result.outcome == "error"
    assert result.reason == (
        "Redis at 127.0.0.1:6379/99 answered SELECT with an error: DB index is out of range"
    )


def test_db_from_the_query_wins_over_the_path(redis_url: str) -> None:
    result, _ = run(check(redis_url.rsplit("/", 1)[0] + "/2?db=3"))
    assert result.outcome == "ok", result.reason
    assert result.details["target"] == "127.0.0.1:6379/3"


def test_a_password_for_a_server_without_one_passes_as_with_redis_py(redis_url: str) -> None:
    # redis-py logs in as AUTH default <password>, which a nopass default user accepts.
    result, _ = run(check(redis_url.replace("redis://", f"redis://:{WRONG}@")))
    assert result.outcome == "ok", result.reason
    no_secret(result, WRONG)


def test_a_unix_socket_with_the_password_in_the_query(auth_redis: AuthRedis) -> None:
    password = quote(auth_redis.password, safe="")
    result, _ = run(check(f"unix://{auth_redis.socket}?db=1&password={password}"))
    assert result.outcome == "ok", result.reason
    assert result.details["target"] == f"{auth_redis.socket}/1"
    no_secret(result, auth_redis.password)


def test_a_unix_socket_without_the_password_is_noauth(auth_redis: AuthRedis) -> None:
    result, _ = run(check(f"unix://{auth_redis.socket}"))
    assert result.outcome == "error"
    assert result.reason.startswith("authentication required (NOAUTH)")


def test_a_missing_unix_socket_is_an_error(tmp_path: Path) -> None:
    result, _ = run(check(f"unix://{tmp_path}/none.sock"))
    assert result.outcome == "error"
    assert result.reason == (
        f"could not connect to Redis at {tmp_path}/none.sock/0: No such file or directory"
    )


@pytest.fixture(name="acl_user")
def acl_user_fixture(auth_redis: AuthRedis) -> Iterator[tuple[str, str]]:
    """An ACL user on auth_redis with a password that needs percent-encoding, PING only."""
    admin = redis.Redis(port=auth_redis.port, password=auth_redis.password)
    password = "p@ss:w/rd%20 x"
    admin.acl_setuser("probe", enabled=True, passwords=[f"+{password}"], commands=["+ping"])
    yield "probe", password
    admin.acl_deluser("probe")
    admin.close()


def test_an_acl_user_with_an_encoded_password_may_not_run_info(
    auth_redis: AuthRedis, acl_user: tuple[str, str]
) -> None:
    user, password = acl_user
    result, _ = run(check(auth_redis.url(quote(password, safe=""), user=user)))
    assert result.outcome == "error"
    assert result.reason == (
        f'user "probe" may not run INFO on 127.0.0.1:{auth_redis.port}/0: '
        "this user has no permissions to run the 'info' command"
    )
    assert set(result.phases) == {"connect", "ping", "total"}
    no_secret(result, password, quote(password, safe=""))


def test_a_select_the_user_may_not_run_is_named(
    auth_redis: AuthRedis, acl_user: tuple[str, str]
) -> None:
    user, password = acl_user
    result, _ = run(check(auth_redis.url(quote(password, safe=""), user=user)[:-1] + "1"))
    assert result.outcome == "error"
    assert result.reason.startswith(
        f'user "probe" may not run SELECT on 127.0.0.1:{auth_redis.port}/1'
    )


def test_tls_with_the_ca_in_the_url(tls_redis: TlsRedis) -> None:
    result, _ = run(check(tls_redis.url(f"ssl_ca_certs={tls_redis.ca_file}", host="localhost")))
    assert result.outcome == "ok", result.reason
    assert result.details["target"] == f"localhost:{tls_redis.port}/0"


def test_tls_without_verification(tls_redis: TlsRedis) -> None:
    result, _ = run(check(tls_redis.url("ssl_cert_reqs=none")))
    assert result.outcome == "ok", result.reason


def test_tls_with_an_untrusted_certificate_is_an_error(tls_redis: TlsRedis) -> None:
    result, _ = run(check(tls_redis.url()))
    assert result.outcome == "error"
    assert result.reason.startswith(
        f"could not connect to Redis at 127.0.0.1:{tls_redis.port}/0: TLS: "
    )
    assert result.reason.endswith("; trust its CA with ?ssl_ca_certs=/path/to/ca.pem in the URL")


def test_a_ca_file_that_does_not_exist_is_an_invalid_check(tls_redis: TlsRedis) -> None:
    result, _ = run(check(tls_redis.url("ssl_ca_certs=/no/such/ca.pem")))
    assert result.outcome == "error"
    assert result.reason == (
        "invalid Redis check: URL parameter ssl_ca_certs/ssl_ca_path cannot be loaded: "
        "No such file or directory"
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (f"redis://:{WRONG}", "the port in the URL must be a number from 1 to 65535"),
        (f"redis://u:{WRONG}@h:99999/0", "the port in the URL must be a number from 1 to 65535"),
        (f"redis://:{WRONG}@[::1/0", "the URL cannot be parsed (brackets around an IPv6 address?)"),
        (
            f"redis://h/0?passwrd={WRONG}",
            "unknown URL parameter 'passwrd' (did you mean 'password'?)",
        ),
        (f"unix://:{WRONG}@", "a unix:// URL needs the socket's path: unix:///run/redis.sock"),
    ],
)
def test_an_invalid_url_says_what_is_wrong_without_the_password(url: str, reason: str) -> None:
    result, _ = run(check(url))
    assert result.outcome == "error"
    assert result.reason == f"invalid Redis check: {reason}"
    no_secret(result, WRONG)


def test_redis_py_tuning_parameters_are_accepted(redis_url: str) -> None:
    result, _ = run(check(f"{redis_url}?socket_timeout=0.5&protocol=3&health_check_interval=2"))
    assert result.outcome == "ok", result.reason
