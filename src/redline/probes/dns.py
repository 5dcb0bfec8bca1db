"""The ``dns`` probe: look a name up and compare the answers with the expected set.

>>> probe = DnsProbe(DnsCheck(name="api.example.com", expect=["10.0.0.5"]), 5.0)  # doctest: +SKIP
>>> (await probe.check()).outcome                                                 # doctest: +SKIP
'ok'

How outcomes read:

- ``ok``: the server answered and, when ``expect`` is set, the answers equal it as a set.
- ``fail``: the server answered and the answer is wrong: answers missing or unexpected,
  the name does not exist (NXDOMAIN is a measured answer), or it has no records of the type.
- ``error``: no usable answer: timeout, SERVFAIL or REFUSED, nothing listening on the
  server's port, no resolver configured, a server name that does not resolve.

Answers are compared normalized: addresses in canonical form (``2001:db8::1``), names in
lower case without the final dot, TXT strings joined, MX as ``PREF HOST`` and SRV as
``PRIORITY WEIGHT PORT TARGET``. An MX or SRV ``expect`` that lists only host names
compares host names only, ignoring preferences, weights and ports.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from typing import TYPE_CHECKING, Any, ClassVar

from redline.probes.base import Measurement, error, fail, inner_deadline, ok, with_phases

if TYPE_CHECKING:
    import dns.asyncresolver
    import dns.resolver

    from redline.config.schema import DnsCheck

__all__ = ["DnsProbe", "normalize_answer", "parse_server"]

_DEFAULT_PORT = 53


class DnsProbe:
    """Resolves ``spec.name`` as ``spec.type`` through ``spec.server`` or the system resolver."""

    protocol: ClassVar[str] = "dns"

    def __init__(self, spec: DnsCheck, timeout: float) -> None:
        self.spec = spec
        self.timeout = timeout

    async def check(self) -> Measurement:
        loop = asyncio.get_running_loop()
        # The deadline starts before the lazy import, as run_check's timeout does.
        deadline = inner_deadline(self.timeout)
        import dns.exception
        import dns.resolver

        spec = self.spec
        where = f"DNS server {spec.server}" if spec.server else "the system resolver"
        start = time.perf_counter()
        try:
            # dnspython checks its lifetime only between tries: enforce the deadline here.
            async with asyncio.timeout_at(deadline):
                resolver = await self._resolver(max(deadline - loop.time(), 0.001))
                answer = await resolver.resolve(
                    spec.name,
                    spec.type,
                    lifetime=resolver.lifetime,
                    raise_on_no_answer=False,
                    search=False,
                )
        except _BadServer as exc:
            return error(str(exc))
        except dns.resolver.NoResolverConfiguration:
            return error("no DNS resolver configured on this host (set `server:` on the check)")
        except dns.resolver.NXDOMAIN:
            elapsed = time.perf_counter() - start
            return with_phases(
                fail(f"{spec.name} does not exist (NXDOMAIN from {where})", rcode="NXDOMAIN"),
                resolve=elapsed,
            )
        except (TimeoutError, dns.resolver.LifetimeTimeout):
            return error(f"no answer from {where} within {_seconds(self.timeout)} (timeout)")
        except dns.resolver.NoNameservers as exc:
            return error(_no_nameservers_reason(exc, where, spec.name))
        except dns.resolver.YXDOMAIN:
            return error(f"{where} answered YXDOMAIN for {spec.name} (name too long after DNAME)")
        except dns.exception.DNSException as exc:
            return error(f"could not look up {spec.name}: {_first_line(exc)}")
        elapsed = time.perf_counter() - start
        return with_phases(self._judge(answer, where), resolve=elapsed)

    async def _resolver(self, lifetime: float) -> dns.asyncresolver.Resolver:
        import dns.asyncresolver

        if not self.spec.server:
            resolver = dns.asyncresolver.Resolver()
        else:
            host, port = parse_server(self.spec.server)
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = [await _address_of(host)]
            resolver.port = port
        resolver.timeout = lifetime  # one server, one try: the lifetime is the whole budget
        resolver.lifetime = lifetime
        return resolver

    def _judge(self, answer: dns.resolver.Answer, where: str) -> Measurement:
        spec = self.spec
        got = sorted({normalize_answer(spec.type, rdata) for rdata in answer.rrset or ()})
        details: dict[str, Any] = {"type": spec.type, "answers": got}
        if answer.rrset is not None:
            details["ttl"] = answer.rrset.ttl
        if answer.canonical_name != answer.qname:
            details["canonical_name"] = _name_text(answer.canonical_name)
        if not got:
            return fail(f"{spec.name} has no {spec.type} records at {where}", **details)
        if not spec.expect:
            return ok(**details)
        expected = {_normalize_expected(spec.type, value) for value in spec.expect}
        if spec.type in ("MX", "SRV") and all(" " not in value for value in expected):
            got = sorted({value.rsplit(" ", 1)[-1] for value in got})
        missing = sorted(expected - set(got))
        unexpected = sorted(set(got) - expected)
        if not missing and not unexpected:
            return ok(**details)
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected)}")
        return fail(
            f"{spec.name} {spec.type}: {'; '.join(parts)}",
            **details,
            missing=missing,
            unexpected=unexpected,
        )


class _BadServer(ValueError):
    """The check's ``server`` cannot be used; the message says why."""


def parse_server(server: str) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address -> (host, port).

    >>> parse_server("127.0.0.1:5353")
    ('127.0.0.1', 5353)

    Raises ValueError, saying what is wrong, for an empty host or a bad port.
    """
    text = server.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:  # a host name, an IPv4 address or a bare IPv6 address
        host, port_text = text, ""
    if not host:
        raise _BadServer(f"DNS server '{server}' has no host")
    if not port_text:
        return host, _DEFAULT_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise _BadServer(f"DNS server '{server}': port must be a number from 1 to 65535")
    return host, int(port_text)


async def _address_of(host: str) -> str:
    """``host`` as an IP address; a server named by host name is looked up once first."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError as exc:
        raise _BadServer(f"could not resolve the DNS server's name {host}: {exc}") from None
    return str(infos[0][4][0])


def normalize_answer(rdtype: str, rdata: Any) -> str:
    """One answer record as the text ``expect`` entries are compared with."""
    if rdtype in ("A", "AAAA"):
        return str(ipaddress.ip_address(rdata.address))
    if rdtype in ("CNAME", "NS"):
        return _name_text(rdata.target)
    if rdtype == "MX":
        return f"{rdata.preference} {_name_text(rdata.exchange)}"
    if rdtype == "SRV":
        return f"{rdata.priority} {rdata.weight} {rdata.port} {_name_text(rdata.target)}"
    if rdtype == "TXT":
        return b"".join(rdata.strings).decode("utf-8", "replace")
    return str(rdata.to_text())


def _normalize_expected(rdtype: str, value: str) -> str:
    text = value.strip()
    if rdtype in ("A", "AAAA"):
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            return text
    if rdtype in ("CNAME", "NS"):
        return text.lower().rstrip(".")
    if rdtype in ("MX", "SRV"):
        *numbers, host = text.split()
        return " ".join([*(n.lstrip("0") or "0" for n in numbers), host.lower().rstrip(".")])
    return value


def _name_text(name: Any) -> str:
    return str(name.to_text(omit_final_dot=True)).lower()


def _no_nameservers_reason(exc: Exception, where: str, name: str) -> str:
    errors = getattr(exc, "kwargs", {}).get("errors") or []
    for _server, tcp, _port, problem, _response in errors:
        if isinstance(problem, str):  # an rcode such as SERVFAIL or REFUSED
            hint = {
                "SERVFAIL": "the server could not resolve it; check its upstream or zone",
                "REFUSED": "the server refuses to answer this client or zone",
            }.get(problem, "the server could not answer")
            return f"{where} answered {problem} for {name} ({hint})"
        if isinstance(problem, ConnectionRefusedError):
            transport = "TCP" if tcp else "UDP"
            return f"{where} refused the query on {transport} (is a DNS server listening there?)"
        if isinstance(problem, OSError):
            return f"{where} could not be reached: {problem.strerror or problem}"
    return f"{where} gave no usable answer for {name}: {_first_line(exc)}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _seconds(value: float) -> str:
    from redline.units import format_duration

    return format_duration(value)
