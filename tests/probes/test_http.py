"""The http probe against real HTTP(S) servers on loopback, including the ones that misbehave."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
from typing import Any

import pytest

from redline.config.schema import Check
from redline.probes.base import HealthCheckResult, run_check
from redline.probes.http import HttpProbe, JsonPathError, json_path_steps
from redline.probes.registry import probe_for
from tests.probes.conftest import HttpServer


def check(url: str, timeout: str = "3s", retries: int = 0, **spec: Any) -> Check:
    return Check.model_validate(
        {"name": "probe", "timeout": timeout, "retries": retries, "http": {"url": url, **spec}}
    )


def run(c: Check) -> tuple[HealthCheckResult, float]:
    start = time.perf_counter()
    result = asyncio.run(run_check("api", c))
    return result, time.perf_counter() - start


def one_line(result: HealthCheckResult) -> None:
    assert result.reason
    assert "\n" not in result.reason
    assert "Traceback" not in result.reason


# -- the happy path ------------------------------------------------------------------------


def test_registry_builds_the_http_probe(http_server: HttpServer) -> None:
    assert isinstance(probe_for(check(http_server.url()), 1.0), HttpProbe)


def test_json_endpoint_passes_every_assertion(http_server: HttpServer) -> None:
    c = check(
        http_server.url("/json"),
        status="2xx",
        contains='"status": "ok"',
        regex=r"\"version\": \"1\.\d+\.\d+\"",
        json_path={"$.status": "ok", "$.db.ok": True, "$.items[1].name": "b", "$.tags": None},
        header_equals={"x-version": "1.2.3", "Content-Type": "application/json"},
        max_latency="2s",
    )
    result, _ = run(c)
    assert result.outcome == "ok", result.reason
    assert result.attempts == 1
    assert set(result.phases) == {"dns", "connect", "first_byte", "total"}
    assert result.phases["dns"] == 0.0  # an IP address: nothing to resolve
    assert result.phases["total"] >= result.phases["connect"] + result.phases["first_byte"]
    assert result.details["status"] == 200
    assert result.details["body_truncated"] is False
    assert result.details["body_bytes"] == len(json.dumps(http_server_doc()))
    assert result.details["address"] == f"127.0.0.1:{http_server.port}"
    request = http_server.requests[-1]
    assert request.method == "GET"
    assert request.headers["connection"] == "close"
    assert request.headers["host"] == f"127.0.0.1:{http_server.port}"


def http_server_doc() -> dict[str, Any]:
    from tests.probes.conftest import JSON_DOC

    return JSON_DOC


def test_a_host_name_is_resolved_and_timed(http_server: HttpServer) -> None:
    result, _ = run(check(http_server.url("/json", host="localhost")))
    assert result.outcome == "ok", result.reason
    assert "dns" in result.phases


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ({"$.count": 3}, "ok"),
        ({"$.count": "3"}, "ok"),  # YAML "3" against JSON 3: compared as written
        ({"$.db.ok": "true"}, "ok"),
        ({"$.db.latency_ms": 3.5}, "ok"),
        ({"$.items[-1].name": "b"}, "ok"),
        ({"$['db']['ok']": True}, "ok"),
        ({"$.items": [{"name": "a"}, {"name": "b"}]}, "ok"),
        ({"$.count": True}, "fail"),
        ({"$.db.ok": 1}, "fail"),
    ],
)
def test_json_path_equality(http_server: HttpServer, path: dict[str, Any], expected: str) -> None:
    result, _ = run(check(http_server.url("/json"), json_path=path))
    assert result.outcome == expected, result.reason


def test_json_path_steps() -> None:
    assert json_path_steps("$") == ()
    assert json_path_steps("$.a.b[0].c") == ("a", "b", 0, "c")
    assert json_path_steps("$['a b'][-1]") == ("a b", -1)
    for bad in ("a.b", "$.a[", "$..a", "$.a[*]"):
        with pytest.raises(JsonPathError):
            json_path_steps(bad)


def test_chunked_body_and_interim_response(http_server: HttpServer) -> None:
    for path in ("/chunked", "/early-hints"):
        result, _ = run(check(http_server.url(path), json_path={"$.status": "ok"}))
        assert result.outcome == "ok", (path, result.reason)
        assert result.details["status"] == 200


def test_method_headers_and_body_are_sent(http_server: HttpServer) -> None:
    c = check(
        http_server.url("/echo"),
        method="post",
        headers={"Authorization": "Bearer tok-s3cr3t-value", "Content-Type": "text/plain"},
        body="ping",
        json_path={"$.method": "POST", "$.body": "ping"},
    )
    result, _ = run(c)
    assert result.outcome == "ok", result.reason
    request = http_server.requests[-1]
    assert request.headers["authorization"] == "Bearer tok-s3cr3t-value"
    assert request.headers["content-length"] == "4"
    assert request.body == b"ping"


def test_head_reads_no_body(http_server: HttpServer) -> None:
    result, _ = run(check(http_server.url("/json"), method="HEAD"))
    assert result.outcome == "ok", result.reason
    assert result.details["body_bytes"] == 0


# -- measured and wrong: fail --------------------------------------------------------------


def test_wrong_status_fails_with_the_status_and_an_excerpt(http_server: HttpServer) -> None:
    result, _ = run(check(http_server.url("/status?code=503"), status="2xx"))
    assert result.outcome == "fail"
    assert result.reason == "status 503 Service Unavailable, expected 2xx"
    assert result.details["status"] == 503
    assert result.details["body_excerpt"] == "database unavailable"


def test_status_lists_and_ranges(http_server: HttpServer) -> None:
    assert run(check(http_server.url("/status?code=503"), status=[200, "5xx"]))[0].ok
    result, _ = run(check(http_server.url("/status?code=404"), status=[200, 204, "500-502"]))
    assert result.reason == "status 404 Status, expected 200, 204, 500-502"


def test_body_contains_and_regex_mismatch(http_server: HttpServer) -> None:
    result, _ = run(check(http_server.url("/json"), contains="healthy"))
    assert result.outcome == "fail"
    assert result.reason.startswith('body does not contain \'healthy\': \'{"status": "ok"')
    one_line(result)
    result, _ = run(check(http_server.url("/json"), regex=r"version.{4}2\."))
    assert result.outcome == "fail"
    assert result.reason.startswith("body does not match /version.{4}2\\./: '{")


def test_json_path_mismatch_and_missing(http_server: HttpServer) -> None:
    result, _ = run(check(http_server.url("/json"), json_path={"$.status": "degraded"}))
    assert result.outcome == "fail"
    assert result.reason == '$.status is "ok", expected "degraded"'
    result, _ = run(check(http_server.url("/json"), json_path={"$.db.replica.lag": 0}))
    assert result.reason == "$.db.replica.lag is not in the JSON body (no $.db.replica)"
    result, _ = run(check(http_server.url("/json"), json_path={"$.items[5].name": "x"}))
    assert result.reason == "$.items[5].name is not in the JSON body (no $.items[5])"


def test_several_problems_are_all_listed(http_server: HttpServer) -> None:
    c = check(http_server.url("/json"), status=201, json_path={"$.status": "x"}, contains="nope")
    result, _ = run(c)
    assert result.outcome == "fail"
    assert result.reason == "status 200 OK, expected 201 (and 2 more)"
    assert len(result.details["problems"]) == 3


def test_invalid_json_where_json_was_expected_fails(http_server: HttpServer) -> None:
    result, _ = run(check(http_server.url("/invalid-json"), json_path={"$.status": "ok"}))
    assert result.outcome == "fail"
    assert result.reason.startswith(
        "body is not valid JSON (Expecting value), but json_path expects JSON: "
    )
    assert '{"status": ok' in result.reason
    one_line(result)


def test_unsupported_json_path_is_explained(http_server: HttpServer) -> None:
    result, _ = run(check(http_server.url("/json"), json_path={"$..status": "ok"}))
    assert result.outcome == "fail"
    assert "is not supported at '..status'" in result.reason


def test_header_equals(http_server: HttpServer) -> None:
    result, _ = run(check(http_server.url("/json"), header_equals={"X-Version": "2.0.0"}))
    assert result.outcome == "fail"
    assert result.reason == "header X-Version is '1.2.3', expected '2.0.0'"
    result, _ = run(check(http_server.url("/json"), header_equals={"X-Commit": "abc"}))
    assert result.reason == "header X-Commit is missing, expected 'abc'"


def test_slower_than_max_latency_fails(http_server: HttpServer) -> None:
    result, _ = run(check(http_server.url("/slow?ms=300"), max_latency="100ms"))
    assert result.outcome == "fail"
    assert result.reason.startswith("took ")
    assert result.reason.endswith(" ms, more than max_latency 100 ms")
    took = int(result.reason.split()[1])
    assert took >= 300


# -- redirects -----------------------------------------------------------------------------


def test_redirects_are_not_followed_unless_asked(http_server: HttpServer) -> None:
    result, _ = run(check(http_server.url("/redirect?to=/json"), status=302))
    assert result.outcome == "ok", result.reason
    assert len(http_server.requests) == 1


def test_followed_redirects_end_at_the_target(http_server: HttpServer) -> None:
    c = check(
        http_server.url("/redirect?to=/redirect%3Fcode%3D307%26to%3D/json"),
        follow_redirects=True,
        json_path={"$.status": "ok"},
    )
    result, _ = run(c)
    assert result.outcome == "ok", result.reason
    assert [r.path for r in http_server.requests] == ["/redirect", "/redirect", "/json"]
    assert result.details["redirects"][-1] == http_server.url("/json")


def test_see_other_turns_a_post_into_a_get(http_server: HttpServer) -> None:
    c = check(
        http_server.url("/redirect?code=303&to=/echo"),
        method="POST",
        body="x",
        follow_redirects=True,
        json_path={"$.method": "GET", "$.body": ""},
    )
    result, _ = run(c)
    assert result.outcome == "ok", result.reason


def test_a_redirect_loop_fails(http_server: HttpServer) -> None:
    result, _ = run(check(http_server.url("/loop"), follow_redirects=True))
    assert result.outcome == "fail"
    assert result.reason == "more than 10 redirects"


def test_credentials_do_not_follow_to_another_origin(
    http_server: HttpServer, server_loop: Any
) -> None:
    other = HttpServer(server_loop)
    c = check(
        http_server.url(f"/redirect?to={other.url('/echo')}"),
        headers={"Authorization": "Bearer abc123456"},
        follow_redirects=True,
    )
    assert run(c)[0].ok
    assert http_server.requests[0].headers["authorization"] == "Bearer abc123456"
    assert "authorization" not in other.requests[0].headers


# -- body cap ------------------------------------------------------------------------------


@pytest.mark.parametrize("chunked", ["0", "1"])
def test_a_5gb_body_is_cut_at_max_body(http_server: HttpServer, chunked: str) -> None:
    result, elapsed = run(check(http_server.url(f"/endless?chunked={chunked}"), max_body="256KiB"))
    assert result.outcome == "ok", result.reason
    assert result.details["body_truncated"] is True
    assert result.details["body_bytes"] == 256 * 1024
    # The probe hung up: the server saw the connection end, long before 5 GB.
    assert http_server.hung_up.wait(5)
    assert http_server.endless_sent < 64 * 2**20
    assert elapsed < 3 + 1.0


def test_a_truncated_body_is_said_to_be(http_server: HttpServer) -> None:
    result, _ = run(
        check(http_server.url("/big?size=50000"), max_body="1KiB", json_path={"$.status": "ok"})
    )
    assert result.outcome == "fail"
    assert result.reason == (
        "body is not complete JSON (body truncated at max_body 1024 bytes); "
        "raise max_body to check json_path"
    )
    result, _ = run(check(http_server.url("/until-close?size=5000"), max_body=4096, contains="q"))
    assert result.details["body_truncated"] is True
    assert "(body truncated at max_body 4096 bytes)" in result.reason
    result, _ = run(check(http_server.url("/until-close?size=4096"), max_body=4096))
    assert result.details["body_truncated"] is False


# -- could not measure: error --------------------------------------------------------------


def test_connection_refused(refused_port: int) -> None:
    result, _ = run(check(f"http://127.0.0.1:{refused_port}/health"))
    assert result.outcome == "error"
    assert result.reason == (
        f"connection refused by 127.0.0.1:{refused_port} "
        "(is the service running and listening on that port?)"
    )
    assert "connect" in result.phases


def test_a_name_that_does_not_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    # No query leaves the machine: the resolver answers "no such name" for .invalid.
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if str(host).endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    result, _ = run(check("http://api.example.invalid/health"))
    assert result.outcome == "error"
    assert result.reason == "DNS: cannot resolve 'api.example.invalid' (Name or service not known)"


def test_accepts_and_never_answers_ends_at_the_timeout(http_server: HttpServer) -> None:
    result, elapsed = run(check(http_server.url("/hang"), timeout="500ms"))
    assert result.outcome == "error"
    assert result.reason == (
        f"connected to 127.0.0.1:{http_server.port}, but no response within 500ms "
        "(the server accepted the request and never answered)"
    )
    assert elapsed < 0.5 + 1.0
    assert http_server.hung_up.wait(5)


def test_headers_then_a_stalled_body_ends_at_the_timeout(http_server: HttpServer) -> None:
    result, elapsed = run(check(http_server.url("/stall"), timeout="500ms"))
    assert result.outcome == "error"
    assert result.reason == (
        "status 200 arrived, then the body stalled after 10 bytes (not complete within 500ms)"
    )
    assert result.details["status"] == 200
    assert elapsed < 0.5 + 1.0
    result, _ = run(check(http_server.url("/stall-head"), timeout="300ms"))
    assert result.reason == (
        f"127.0.0.1:{http_server.port} started answering, but the headers stalled within 300ms"
    )


def test_cancelling_a_check_closes_its_connection_at_once(http_server: HttpServer) -> None:
    # run_check's timeout cancels the probe; the probe's own deadline (30s) is not reached.
    probe = HttpProbe(check(http_server.url("/hang")).http, 30.0)  # type: ignore[arg-type]

    async def cancel_soon() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(probe.check(), 0.2)

    asyncio.run(cancel_soon())
    assert http_server.hung_up.wait(5)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/reset", "connection reset by 127.0.0.1:{port} while waiting for the response"),
        ("/close", "127.0.0.1:{port} closed the connection without answering"),
        ("/garbage", "the server did not answer HTTP: 'SSH-2.0-OpenSSH_9.2\\r\\n\\r\\n'"),
    ],
)
def test_broken_servers_are_errors(http_server: HttpServer, path: str, reason: str) -> None:
    result, _ = run(check(http_server.url(path)))
    assert result.outcome == "error"
    assert result.reason == reason.format(port=http_server.port)


def test_config_mistakes_are_errors_not_crashes(http_server: HttpServer) -> None:
    result, _ = run(check("ftp://127.0.0.1/file"))
    assert result.outcome == "error"
    assert (
        result.reason
        == "unsupported URL scheme 'ftp' in ftp://127.0.0.1/file (use http:// or https://)"
    )
    result, _ = run(check(http_server.url(), headers={"X-Bad": "a\r\nInjected: 1"}))
    assert result.outcome == "error"
    assert result.reason == "header 'X-Bad' contains a line break; remove it"
    assert http_server.requests == []


# -- secrets -------------------------------------------------------------------------------


def test_no_secret_reaches_the_result(http_server: HttpServer) -> None:
    url = http_server.url("/status?code=500").replace("://", "://deploy:hunter2-pass@")
    c = check(url, headers={"X-Api-Key": "key-9f8e7d6c5b"}, status=200)
    result, _ = run(c)
    assert result.outcome == "fail"
    text = json.dumps(result.to_dict())
    assert "hunter2-pass" not in text
    assert "key-9f8e7d6c5b" not in text
    assert result.details["url"].startswith("http://deploy:***@127.0.0.1:")
    sent = http_server.requests[-1].headers["authorization"]
    assert base64.b64decode(sent.split()[1]) == b"deploy:hunter2-pass"


def test_an_unreachable_url_with_a_password_is_redacted(refused_port: int) -> None:
    result, _ = run(check(f"http://u:pw-s3cret@127.0.0.1:{refused_port}/"))
    assert result.outcome == "error"
    assert "pw-s3cret" not in json.dumps(result.to_dict())


# -- TLS -----------------------------------------------------------------------------------


def test_https_with_a_trusted_ca(https_server: HttpServer, trust_test_ca: Any) -> None:
    for host in ("127.0.0.1", "localhost"):
        result, _ = run(check(https_server.url("/json", host=host), min_cert_days=30))
        assert result.outcome == "ok", result.reason
        assert set(result.phases) == {"dns", "connect", "tls", "first_byte", "total"}
        assert result.phases["tls"] > 0
        assert result.details["cert_days_left"] in (89, 90)


def test_certificate_expiring_within_min_cert_days_fails(
    https_expiring: HttpServer, trust_test_ca: Any
) -> None:
    result, _ = run(check(https_expiring.url(), min_cert_days=14))
    assert result.outcome == "fail"
    assert result.reason.startswith("TLS certificate expires in 3 days (not after ")
    assert result.reason.endswith("), fewer than min_cert_days 14")
    assert result.details["cert_days_left"] == 3
    assert run(check(https_expiring.url(), min_cert_days=3))[0].ok


def test_untrusted_ca_is_an_error_with_a_hint(https_server: HttpServer) -> None:
    result, _ = run(check(https_server.url()))
    assert result.outcome == "error"
    assert result.reason.startswith(
        "TLS: unable to get local issuer certificate (subject CN=localhost, "
        "issuer CN=redline test CA, valid "
    )
    assert result.reason.endswith("; trust its CA with SSL_CERT_FILE, or set verify_tls: false")


def test_self_signed_certificate(https_self_signed: HttpServer, trust_test_ca: Any) -> None:
    result, _ = run(check(https_self_signed.url()))
    assert result.outcome == "error"
    assert result.reason.startswith("TLS: self-signed certificate (subject CN=localhost")
    one_line(result)
    result, _ = run(check(https_self_signed.url(), verify_tls=False, min_cert_days=7))
    assert result.outcome == "ok", result.reason
    assert result.details["cert_days_left"] in (89, 90)


def test_expired_certificate(https_expired: HttpServer, trust_test_ca: Any) -> None:
    result, _ = run(check(https_expired.url()))
    assert result.outcome == "error"
    assert result.reason.startswith("TLS: certificate has expired (subject CN=localhost")
    expired_on = https_expired_not_after()
    assert result.reason.endswith(f" to {expired_on})")
    result, _ = run(check(https_expired.url(), verify_tls=False, min_cert_days=1))
    assert result.outcome == "fail"
    assert result.details["cert_days_left"] == -1
    assert (
        result.reason == f"TLS certificate expired on {expired_on} (1 day ago); min_cert_days is 1"
    )


def https_expired_not_after() -> str:
    from datetime import UTC, datetime, timedelta

    return f"{datetime.now(UTC) - timedelta(days=1):%Y-%m-%d}"


def test_certificate_for_another_name(https_wrong_host: HttpServer, trust_test_ca: Any) -> None:
    result, _ = run(check(https_wrong_host.url()))
    assert result.outcome == "error"
    assert result.reason.startswith(
        "TLS: IP address mismatch, certificate is not valid for '127.0.0.1' (subject CN=other"
    )


def test_https_to_a_plain_http_port(http_server: HttpServer) -> None:
    result, _ = run(check(http_server.url().replace("http://", "https://")))
    assert result.outcome == "error"
    assert result.reason.startswith("TLS")
    one_line(result)


def test_plain_http_to_a_tls_port(https_server: HttpServer) -> None:
    result, _ = run(check(https_server.url().replace("https://", "http://")))
    assert result.outcome == "error"
    one_line(result)


def test_a_tls_server_that_never_answers(https_server: HttpServer, trust_test_ca: Any) -> None:
    result, elapsed = run(check(https_server.url("/hang"), timeout="500ms"))
    assert result.outcome == "error"
    assert "never answered" in result.reason
    assert elapsed < 0.5 + 1.0
    assert https_server.hung_up.wait(5)
