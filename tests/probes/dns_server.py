"""A real DNS server on loopback (UDP and TCP, one port), built on dnspython's message API.

It answers the records of a small zone, follows CNAMEs the way a recursive resolver
does, says NXDOMAIN for names it does not know, and produces on demand what a real
server only does on a bad day: SERVFAIL (``servfail.test.``), silence
(``silent.test.``) and a UDP answer too big to fit (``big.test.``: truncated over
UDP, whole over TCP).

>>> with DnsServer(ZONE) as server:                     # doctest: +SKIP
...     server.address                                  # '127.0.0.1:53127'
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

__all__ = ["ZONE", "DnsServer", "dns_server_fixture"]

# name -> record type -> rdata in zone-file text
Zone = Mapping[str, Mapping[str, Sequence[str]]]

ZONE: Zone = {
    "api.test.": {"A": ["10.0.0.1", "10.0.0.2"], "AAAA": ["2001:db8:0:0::1"]},
    "www.test.": {"CNAME": ["api.test."]},
    "test.": {
        "MX": ["10 mail.test.", "20 backup.test."],
        "TXT": ['"v=spf1 -all"', '"part one " "part two"'],
        "NS": ["ns1.test.", "ns2.test."],
    },
    "_http._tcp.test.": {"SRV": ["0 5 8080 api.test."]},
    "mail.test.": {"A": ["10.0.0.25"]},
    "text-only.test.": {"TXT": ['"hello"']},
    "big.test.": {"TXT": [f'"{"x" * 200} {i}"' for i in range(10)]},
}
SERVFAIL = dns.name.from_text("servfail.test.")
SILENT = dns.name.from_text("silent.test.")
TCP_ONLY = dns.name.from_text("big.test.")
_TTL = 60


class DnsServer:
    """Answers DNS queries for ``zone`` on 127.0.0.1 over UDP and TCP until closed."""

    def __init__(self, zone: Zone = ZONE) -> None:
        self._zone = {
            dns.name.from_text(name): {dns.rdatatype.from_text(t): list(v) for t, v in rr.items()}
            for name, rr in zone.items()
        }
        self.queries: list[tuple[str, str, str]] = []  # (transport, name, type) as received
        self._udp, self._tcp = _bind_pair()
        self.port: int = self._udp.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name="dns-server", daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> DnsServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._thread.is_alive():
            self._wake_w.send(b"x")
            self._thread.join(timeout=5)
        for sock in (self._udp, self._tcp, self._wake_r, self._wake_w):
            sock.close()

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._udp, selectors.EVENT_READ, "udp")
            selector.register(self._tcp, selectors.EVENT_READ, "accept")
            selector.register(self._wake_r, selectors.EVENT_READ, "stop")
            while True:
                for key, _ in selector.select():
                    if key.data == "stop":
                        return
                    if key.data == "udp":
                        wire, peer = self._udp.recvfrom(65535)
                        reply = self._answer(wire, "udp")
                        if reply is not None:
                            self._udp.sendto(reply, peer)
                    else:
                        conn, _ = self._tcp.accept()
                        with conn:
                            self._serve_tcp(conn)

    def _serve_tcp(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            while header := _recv_exactly(conn, 2):
                wire = _recv_exactly(conn, struct.unpack("!H", header)[0])
                reply = self._answer(wire, "tcp")
                if reply is None:
                    return
                conn.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            return

    def _answer(self, wire: bytes, transport: str) -> bytes | None:
        query = dns.message.from_wire(wire)
        question = query.question[0]
        qname, qtype = question.name, question.rdtype
        self.queries.append((transport, qname.to_text(), dns.rdatatype.to_text(qtype)))
        if qname == SILENT:
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA | dns.flags.RA
        if qname == SERVFAIL:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif qname == TCP_ONLY and transport == "udp":
            response.flags |= dns.flags.TC
        elif qname not in self._zone:
            response.set_rcode(dns.rcode.NXDOMAIN)
        else:
            response.answer.extend(self._rrsets(qname, qtype))
        return response.to_wire()

    def _rrsets(self, name: dns.name.Name, rdtype: int) -> list[dns.rrset.RRset]:
        out: list[dns.rrset.RRset] = []
        for _ in range(8):  # follow CNAME chains, as a recursive resolver would
            records = self._zone.get(name, {})
            if rdtype in records:
                out.append(dns.rrset.from_text_list(name, _TTL, "IN", rdtype, records[rdtype]))
                break
            cname = records.get(dns.rdatatype.CNAME)
            if not cname:
                break
            out.append(dns.rrset.from_text_list(name, _TTL, "IN", "CNAME", cname))
            name = dns.name.from_text(cname[0])
        return out


def _bind_pair() -> tuple[socket.socket, socket.socket]:
    """A UDP and a TCP socket on the same free loopback port."""
    for _ in range(50):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.bind(("127.0.0.1", udp.getsockname()[1]))
        except OSError:  # that TCP port is taken: try another
            udp.close()
            tcp.close()
            continue
        tcp.listen()
        return udp, tcp
    raise RuntimeError("no loopback port free for both UDP and TCP")


def _recv_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return b""
        data += chunk
    return data


@pytest.fixture(name="dns_server")
def dns_server_fixture() -> Iterator[DnsServer]:
    """A :class:`DnsServer` serving :data:`ZONE` on a free loopback port."""
    with DnsServer(ZONE) as server:
        yield server
