"""The dns probe against a real DNS server on loopback (UDP and TCP)."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest

from redline.config.schema import Check
from redline.probes.base import HealthCheckResult, run_check
from redline.probes.dns import DnsProbe, parse_server
from redline.probes.registry import probe_for
from tests.probes.dns_server import DnsServer, dns_server_fixture  # noqa: F401 (fixture)


def check(server: DnsServer | str | None, name: str, timeout: str = "2s", **spec: Any) -> Check:
    address = server.address if isinstance(server, DnsServer) else server
    return Check.model_validate(
        {"timeout": timeout, "dns": {"name": name, "server": address, **spec}}
    )


def run(c: Check) -> tuple[HealthCheckResult, float]:
    start = time.perf_counter()
    result = asyncio.run(run_check("edge", c))
    return result, time.perf_counter() - start


def test_registry_builds_the_dns_probe(dns_server: DnsServer) -> None:
    c = check(dns_server, "api.test")
    assert isinstance(probe_for(c, 1.0), DnsProbe)


def test_expected_addresses_in_any_order_pass(dns_server: DnsServer) -> None:
    result, _ = run(check(dns_server, "api.test", expect=["10.0.0.2", "10.0.0.1"]))
    assert result.outcome == "ok", result.reason
    assert result.details["answers"] == ["10.0.0.1", "10.0.0.2"]
    assert result.details["ttl"] == 60
    assert result.phases["resolve"] > 0
    assert dns_server.queries == [("udp", "api.test.", "A")]


def test_wrong_answers_fail_naming_missing_and_unexpected(dns_server: DnsServer) -> None:
    result, _ = run(check(dns_server, "api.test", expect=["10.0.0.1", "10.0.0.9"]))
    assert result.outcome == "fail"
    assert result.reason == "api.test A: missing 10.0.0.9; unexpected 10.0.0.2"
    assert result.details["missing"] == ["10.0.0.9"]
    assert result.details["unexpected"] == ["10.0.0.2"]


def test_any_answer_passes_without_expect(dns_server: DnsServer) -> None:
    result, _ = run(check(dns_server, "mail.test"))
    assert result.outcome == "ok"
    assert result.details["answers"] == ["10.0.0.25"]


def test_ipv6_answers_compare_in_canonical_form(dns_server: DnsServer) -> None:
    result, _ = run(check(dns_server, "api.test", type="AAAA", expect=["2001:DB8:0::1"]))
    assert result.outcome == "ok", result.reason
    assert result.details["answers"] == ["2001:db8::1"]


def test_a_lookup_follows_a_cname(dns_server: DnsServer) -> None:
    result, _ = run(check(dns_server, "www.test", expect=["10.0.0.1", "10.0.0.2"]))
    assert result.outcome == "ok", result.reason
    assert result.details["canonical_name"] == "api.test"


@pytest.mark.parametrize(
    ("name", "rdtype", "expect", "answers"),
    [
        ("WWW.test.", "CNAME", ["API.test."], ["api.test"]),
        ("test", "NS", ["ns1.test", "ns2.test."], ["ns1.test", "ns2.test"]),
        (
            "test",
            "MX",
            ["10 mail.test", "020 backup.test."],
            ["10 mail.test", "20 backup.test"],
        ),
        ("test", "MX", ["mail.test", "backup.test"], ["10 mail.test", "20 backup.test"]),
        ("_http._tcp.test", "SRV", ["0 5 8080 api.test."], ["0 5 8080 api.test"]),
        ("_http._tcp.test", "SRV", ["api.test"], ["0 5 8080 api.test"]),
        (
            "test",
            "TXT",
            ["v=spf1 -all", "part one part two"],
            ["part one part two", "v=spf1 -all"],
        ),
    ],
    ids=["cname", "ns", "mx", "mx-hosts-only", "srv", "srv-target-only", "txt"],
)
def test_record_types(
    dns_server: DnsServer, name: str, rdtype: str, expect: list[str], answers: list[str]
) -> None:
    result, _ = run(check(dns_server, name, type=rdtype, expect=expect))
    assert result.outcome == "ok", result.reason
    assert result.details["answers"] == answers


def test_mx_preference_counts_when_written(dns_server: DnsServer) -> None:
    result, _ = run(check(dns_server, "test", type="MX", expect=["5 mail.test", "20 backup.test"]))
    assert result.outcome == "fail"
    assert result.reason == "test MX: missing 5 mail.test; unexpected 10 mail.test"


def test_nxdomain_is_a_measured_failure(dns_server: DnsServer) -> None:
    result, elapsed = run(check(dns_server, "nope.test", timeout="1s"))
    assert result.outcome == "fail"
    assert (
        result.reason == f"nope.test does not exist (NXDOMAIN from DNS server {dns_server.address})"
    )
    assert result.details["rcode"] == "NXDOMAIN"
    assert elapsed < 1.0 + 1.0


def test_no_records_of_the_type_fail(dns_server: DnsServer) -> None:
    result, _ = run(check(dns_server, "text-only.test", type="AAAA"))
    assert result.outcome == "fail"
    assert result.reason == f"text-only.test has no AAAA records at DNS server {dns_server.address}"


def test_servfail_is_an_error_reported_at_once(dns_server: DnsServer) -> None:
    result, elapsed = run(check(dns_server, "servfail.test", timeout="1s"))
    assert result.outcome == "error"
    assert result.reason.startswith(
        f"DNS server {dns_server.address} answered SERVFAIL for servfail.test ("
    )
    assert elapsed < 1.0 + 1.0


def test_a_silent_server_times_out_with_a_reason(dns_server: DnsServer) -> None:
    result, elapsed = run(check(dns_server, "silent.test", timeout="1s"))
    assert result.outcome == "error"
    assert result.reason == f"no answer from DNS server {dns_server.address} within 1s (timeout)"
    assert elapsed < 1.0 + 1.0


def test_a_truncated_udp_answer_is_retried_over_tcp(dns_server: DnsServer) -> None:
    result, _ = run(check(dns_server, "big.test", type="TXT"))
    assert result.outcome == "ok", result.reason
    assert len(result.details["answers"]) == 10
    assert [t for t, _, _ in dns_server.queries] == ["udp", "tcp"]


def test_nothing_listening_is_a_timeout(closed_udp_port: int) -> None:
    # Over UDP a closed port looks like a silent server (dnspython ignores ICMP refusals).
    result, elapsed = run(check(f"127.0.0.1:{closed_udp_port}", "api.test", timeout="1s"))
    assert result.outcome == "error"
    assert (
        result.reason
        == f"no answer from DNS server 127.0.0.1:{closed_udp_port} within 1s (timeout)"
    )
    assert elapsed < 1.0 + 1.0


def test_a_server_given_by_host_name_is_looked_up_first(dns_server: DnsServer) -> None:
    result, _ = run(check(f"localhost:{dns_server.port}", "mail.test", expect=["10.0.0.25"]))
    assert result.outcome == "ok", result.reason


@pytest.mark.parametrize(
    ("server", "reason"),
    [
        ("127.0.0.1:99999", "DNS server '127.0.0.1:99999': port must be a number from 1 to 65535"),
        (":53", "DNS server ':53' has no host"),
        ("no-such-host.invalid", "could not resolve the DNS server's name no-such-host.invalid"),
    ],
)
def test_an_unusable_server_is_an_error(server: str, reason: str) -> None:
    result, elapsed = run(check(server, "api.test", timeout="2s"))
    assert result.outcome == "error"
    assert elapsed < 2.0 + 1.0
    assert result.reason.startswith(reason)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("10.0.0.53", ("10.0.0.53", 53)),
        ("10.0.0.53:5353", ("10.0.0.53", 5353)),
        ("ns1.example.com:53", ("ns1.example.com", 53)),
        ("::1", ("::1", 53)),
        ("[::1]:5353", ("::1", 5353)),
        ("[2001:db8::1]", ("2001:db8::1", 53)),
    ],
)
def test_parse_server(text: str, parsed: tuple[str, int]) -> None:
    assert parse_server(text) == parsed


@pytest.fixture
def closed_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
