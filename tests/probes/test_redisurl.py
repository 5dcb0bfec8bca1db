"""``redline.probes._redisurl``: Redis URLs read as redis-py reads them, passwords kept out."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
from redis.connection import parse_url as redis_py_parse_url

from redline.probes._redisurl import Endpoint, parse_url

SECRET = "s3cret-for-url-tests"


@pytest.mark.parametrize(
    "url",
    [
        "redis://cache",
        "redis://cache:6380",
        "redis://cache:6380/2",
        "redis://cache/1/2",  # redis-py joins the path's digits: db 12
        "redis://cache/notanumber",
        "redis://cache:0/0",
        f"redis://:{SECRET}@cache/0",
        f"redis://alice:{SECRET}@cache/0",
        "redis://alice@cache/0",
        "redis://al%69ce:p%40ss%3Aw%2Frd@cache/0",
        "redis://cache/3?db=4",
        f"redis://cache/0?username=bob&password={SECRET}",
        f"redis://alice:{SECRET}@cache/0?username=bob&password=other",
        "redis://[::1]:6380/0",
        "redis://CACHE.example.com/0",
        "rediss://cache:6380/0",
        f"unix:///run/redis%20x.sock?db=3&password={SECRET}",
    ],
)
def test_parses_as_redis_py_does(url: str) -> None:
    theirs: dict[str, Any] = redis_py_parse_url(url)
    ours = parse_url(url)
    assert ours.db == theirs.get("db", 0)
    assert ours.username == theirs.get("username")
    assert ours.password == theirs.get("password")
    if url.startswith("unix:"):
        assert ours.socket_path == theirs["path"]
    else:
        assert (ours.host, ours.port) == (theirs.get("host", "localhost"), theirs.get("port", 6379))
    assert (ours.tls is not None) == url.startswith("rediss:")


def test_an_endpoint_reads_as_its_target_and_hides_its_passwords() -> None:
    endpoint = parse_url(f"rediss://u:{SECRET}@[::1]:6380/4?ssl_password={SECRET}x")
    assert str(endpoint) == "[::1]:6380/4"
    assert endpoint.secrets == (SECRET, f"{SECRET}x")
    assert SECRET not in repr(endpoint)
    assert str(parse_url("unix:///run/redis.sock?db=2")) == "/run/redis.sock/2"


def test_tls_options_as_redis_py_builds_them() -> None:
    default = parse_url("rediss://cache/0").tls
    assert default is not None
    ctx = default.context()
    assert (ctx.verify_mode, ctx.check_hostname) == (ssl.CERT_REQUIRED, True)
    relaxed = parse_url("rediss://cache/0?ssl_cert_reqs=none&ssl_min_version=772").tls
    assert relaxed is not None
    ctx = relaxed.context()
    assert (ctx.verify_mode, ctx.check_hostname) == (ssl.CERT_NONE, False)
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_3
    no_names = parse_url("rediss://cache/0?ssl_check_hostname=false").tls
    assert no_names is not None
    assert no_names.context().check_hostname is False


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"http://u:{SECRET}@cache/0", "the URL must start with redis://, rediss:// or unix://"),
        (f"redis://:{SECRET}", "the port in the URL must be a number from 1 to 65535"),
        (f"redis://u:{SECRET}@cache:7a/0", "the port in the URL must be a number from 1 to 65535"),
        (f"redis://[::1:{SECRET}@x", "the URL cannot be parsed (brackets around an IPv6 address?)"),
        ("redis://cache/0?db=one", "URL parameter 'db' must be a whole number"),
        ("redis://cache/0?dbb=1", "unknown URL parameter 'dbb' (did you mean 'db'?)"),
        (
            "redis://cache/0?ssl_cert_reqs=none",
            "URL parameter 'ssl_cert_reqs' applies to rediss:// URLs only",
        ),
        (
            "rediss://cache/0?ssl_min_version=3",
            "URL parameter 'ssl_min_version' is not a TLS version number",
        ),
        ("unix://", "a unix:// URL needs the socket's path: unix:///run/redis.sock"),
    ],
)
def test_errors_say_what_is_wrong_and_never_quote_the_url(url: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_url(url)
    assert str(caught.value) == message
    # no chained exception (urllib's message quotes the URL) rides along
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_a_key_file_that_does_not_load_names_its_parameter(tmp_path: Path) -> None:
    bad = tmp_path / "client.pem"
    bad.write_text("not a certificate")
    tls = parse_url(f"rediss://cache/0?ssl_certfile={bad}").tls
    assert tls is not None
    with pytest.raises(
        ValueError, match="^URL parameter ssl_certfile/ssl_keyfile cannot be loaded: "
    ):
        tls.context()


def test_endpoint_defaults() -> None:
    assert parse_url("redis://") == Endpoint()
