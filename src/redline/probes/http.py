"""The ``http`` probe: one HTTP/1.1 request over asyncio streams, judged against the check.

>>> probe = HttpProbe(HttpCheck(url="https://api.example.com/health", json_path={"$.ok": True}), 10)
>>> m = await probe.check()                                     # doctest: +SKIP
>>> m.outcome, sorted(m.phases)                                 # doctest: +SKIP
('ok', ['connect', 'dns', 'first_byte', 'tls', 'total'])

Every check opens a fresh connection (``Connection: close``), so each phase is measured:
``dns`` (0 for an IP address), ``connect``, ``tls``, ``first_byte`` (request sent to the
first response byte) and ``total``; the phases are disjoint and summed over redirects.

Why not httpx: on loopback (2 cores, one server in another process, a fresh connection per
check), httpx with a shared client spent 0.8-1.3 ms of CPU per check, the whole per-check
budget, against 0.24-0.36 ms for ``run_check`` with this module, JSON path and latency
checks included. Over TLS the handshake dominates (1.2-1.5 ms against httpx's 1.9-2.5 ms).
It reads at most ``max_body`` bytes and aborts the connection there, so a
5 GB body costs 1 MB; a cancelled check aborts its socket at once.

TLS trust is the process's OpenSSL default store; ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``
replace its file / directory (on Debian the directory still holds the system CAs), which
is how a private CA is trusted. The context is built once per process and setting.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import os
import re
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import SplitResult, unquote, urljoin, urlsplit

from redline.probes.base import Measurement, error, fail, ok, with_phases
from redline.probes.tcp import (
    Connection,
    ConnectionFailed,
    Progress,
    excerpt,
    open_connection,
    probe_budget,
    stalled_reason,
    within,
)
from redline.redact import REDACTOR, redact_url

if TYPE_CHECKING:
    from redline.config.schema import HttpCheck

__all__ = ["HttpProbe", "JsonPathError", "json_path_steps", "tls_context"]

_MAX_REDIRECTS = 10
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HEAD_LIMIT = 64 * 1024
_READ = 64 * 1024
_STATUS_LINE = re.compile(r"HTTP/(\d\.\d) (\d{3})(?: (.*))?")
_USER_AGENT = "redline-probe"


class _HttpError(Exception):
    """The exchange could not complete; the message is the one-line reason."""


# ---------------------------------------------------------------------------------------
# TLS


@functools.cache
def _context(verify: bool, cafile: str | None, capath: str | None) -> ssl.SSLContext:
    # cafile/capath are only the cache key: OpenSSL reads SSL_CERT_FILE/DIR itself.
    ctx = ssl.create_default_context()
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def tls_context(verify: bool) -> ssl.SSLContext:
    """The process's client context for ``verify``, rebuilt when SSL_CERT_FILE/DIR change."""
    return _context(verify, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


def _not_after(ssl_object: ssl.SSLObject | None) -> datetime | None:
    if ssl_object is None:
        return None
    peer = ssl_object.getpeercert()
    if peer and isinstance(peer.get("notAfter"), str):
        return datetime.fromtimestamp(ssl.cert_time_to_seconds(str(peer["notAfter"])), UTC)
    der = ssl_object.getpeercert(binary_form=True)  # unverified: the dict form is empty
    if not der:
        return None
    from cryptography import x509

    return x509.load_der_x509_certificate(der).not_valid_after_utc


async def _describe_certificate(ip: str, port: int, host: str) -> str:
    """Dates and names of the certificate a server presents, read without verifying it."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    _, writer = await asyncio.open_connection(ip, port)
    try:
        await writer.start_tls(tls_context(False), server_hostname=host)
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
    finally:
        writer.transport.abort()
    if not der:
        return ""
    cert = x509.load_der_x509_certificate(der)

    def cn(name: x509.Name) -> str:
        attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
        return f"CN={attrs[0].value!s}" if attrs else name.rfc4514_string() or "no name"

    return (
        f"subject {cn(cert.subject)}, issuer {cn(cert.issuer)}, "
        f"valid {cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d}"
    )


def _verify_reason(exc: ssl.SSLCertVerificationError, described: str) -> str:
    message = (exc.verify_message or exc.reason or str(exc)).rstrip(".")
    facts = f" ({described})" if described else ""
    hint = ""
    if exc.verify_code in (18, 19, 20, 21):  # self-signed, or an issuer we do not trust
        hint = "; trust its CA with SSL_CERT_FILE, or set verify_tls: false"
    return f"TLS: {message}{facts}{hint}"


# ---------------------------------------------------------------------------------------
# JSON path: the subset `$.a.b[0].c`, `$['a b']`, `$.items[-1]`

_STEP = re.compile(r"\.([A-Za-z_$][\w$-]*)|\[(-?\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


class JsonPathError(ValueError):
    """A json_path the probe does not understand."""


@functools.cache
def json_path_steps(path: str) -> tuple[str | int, ...]:
    """``$.a.b[0]`` -> ``('a', 'b', 0)``; :class:`JsonPathError` for anything else."""
    if not path.startswith("$"):
        raise JsonPathError(f"json_path '{path}' must start with '$' (like $.a.b[0].c)")
    steps: list[str | int] = []
    pos = 1
    while pos < len(path):
        match = _STEP.match(path, pos)
        if match is None:
            raise JsonPathError(
                f"json_path '{path}' is not supported at '{path[pos:]}': "
                "write it like $.a.b[0].c or $['a key']"
            )
        name, index, quoted, dquoted = match.groups()
        steps.append(int(index) if index is not None else name or quoted or dquoted or "")
        pos = match.end()
    return tuple(steps)


def _lookup(doc: Any, steps: tuple[str | int, ...]) -> tuple[bool, Any, int]:
    for i, step in enumerate(steps):
        if isinstance(step, int):
            if not isinstance(doc, list) or not -len(doc) <= step < len(doc):
                return False, None, i
            doc = doc[step]
        else:
            if not isinstance(doc, dict) or step not in doc:
                return False, None, i
            doc = doc[step]
    return True, doc, len(steps)


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _same(actual: Any, expected: Any) -> bool:
    if type(actual) is type(expected) or (
        isinstance(actual, (int, float))
        and isinstance(expected, (int, float))
        and not isinstance(actual, bool)
        and not isinstance(expected, bool)
    ):
        return bool(actual == expected)
    # YAML `"3"` against JSON 3, or `true` against "true": compare as written.
    return _as_text(actual) == _as_text(expected)


def _show(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return REDACTOR.scrub(text if len(text) <= limit else text[:limit] + "...")


# ---------------------------------------------------------------------------------------
# One exchange


@dataclass
class _Response:
    status: int
    phrase: str
    version: str
    headers: dict[str, str]
    body: bytes = b""
    truncated: bool = False
    address: str = ""
    not_after: datetime | None = None

    def body_text(self) -> str:
        charset = "utf-8"
        ctype = self.headers.get("content-type", "")
        if (m := re.search(r"charset=\"?([\w.:-]+)", ctype)) is not None:
            charset = m.group(1)
        try:
            return self.body.decode(charset, "replace")
        except LookupError:
            return self.body.decode("utf-8", "replace")


@dataclass
class _Attempt:
    progress: Progress = field(default_factory=Progress)
    body_bytes: int = 0
    status: int | None = None
    address: str = ""


def _parse_head(head: bytes) -> tuple[str, int, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    match = _STATUS_LINE.fullmatch(lines[0])
    if match is None:
        raise _HttpError(f"the server did not answer HTTP: '{excerpt(head)}'")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise _HttpError(f"malformed response header line: '{excerpt(line.encode())}'")
        key = name.strip().lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return match.group(1), int(match.group(2)), match.group(3) or "", headers


async def _read_head(conn: Connection, attempt: _Attempt, sent: float) -> bytes:
    reader = conn.reader
    first = await reader.read(1)
    if not first:
        raise _HttpError(f"{conn.address} closed the connection without answering")
    attempt.progress.add("first_byte", time.perf_counter() - sent)
    attempt.progress.stage = "head"
    try:
        return first + await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise _HttpError(f"response headers are larger than {_HEAD_LIMIT // 1024} KiB") from None
    except asyncio.IncompleteReadError:
        raise _HttpError(f"{conn.address} closed the connection inside the headers") from None


async def _read_body(
    reader: asyncio.StreamReader, response: _Response, method: str, cap: int, attempt: _Attempt
) -> None:
    headers = response.headers
    if method == "HEAD" or response.status in (204, 304) or response.status < 200:
        return
    body = bytearray()
    attempt.progress.stage = "body"
    if "chunked" in headers.get("transfer-encoding", "").lower():
        await _read_chunked(reader, body, cap, attempt)
    elif (length := headers.get("content-length")) is not None:
        if not length.isdigit():
            raise _HttpError(f"invalid Content-Length '{excerpt(length.encode())}'")
        expected = int(length)
        want = min(expected, cap)
        while len(body) < want:
            chunk = await reader.read(min(_READ, want - len(body)))
            if not chunk:
                raise _HttpError(
                    f"the server closed the connection after {len(body)} of {expected} body bytes"
                )
            body += chunk
            attempt.body_bytes = len(body)
        response.truncated = expected > cap
    else:  # delimited by the end of the connection
        while len(body) <= cap:
            chunk = await reader.read(min(_READ, cap + 1 - len(body)))
            if not chunk:
                break
            body += chunk
            attempt.body_bytes = len(body)
    if len(body) > cap:
        response.truncated = True
        del body[cap:]
    response.body = bytes(body)


async def _read_chunked(
    reader: asyncio.StreamReader, body: bytearray, cap: int, attempt: _Attempt
) -> None:
    closed = _HttpError("the server closed the connection inside a chunked body after {} bytes")
    try:
        while True:
            size_text = (await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip()
            try:
                remaining = int(size_text, 16)
            except ValueError:
                raise _HttpError(f"invalid chunk size '{excerpt(size_text)}'") from None
            if remaining == 0:
                return  # trailers are of no interest: the connection is closed next
            while remaining:
                if len(body) > cap:
                    return
                chunk = await reader.read(min(_READ, remaining, cap + 1 - len(body)))
                if not chunk:
                    raise _HttpError(str(closed).format(len(body)))
                body += chunk
                remaining -= len(chunk)
                attempt.body_bytes = len(body)
            await reader.readexactly(2)
    except asyncio.IncompleteReadError:
        raise _HttpError(str(closed).format(len(body))) from None
    except asyncio.LimitOverrunError:
        raise _HttpError("malformed chunked body (a chunk-size line is too long)") from None


# ---------------------------------------------------------------------------------------
# The probe


@dataclass(frozen=True)
class _Request:
    url: SplitResult
    method: str
    headers: dict[str, str]
    body: bytes | None


class HttpProbe:
    """Sends the check's request and judges the response: status, body, headers, latency, TLS."""

    protocol: ClassVar[str] = "http"

    def __init__(self, spec: HttpCheck, timeout: float) -> None:
        self.spec = spec
        self.timeout = timeout
        self._regex = re.compile(spec.regex) if spec.regex else None

    async def check(self) -> Measurement:
        spec = self.spec
        attempt = _Attempt()
        start = time.perf_counter()
        deadline = asyncio.timeout(probe_budget(self.timeout))
        redirects: list[str] = []
        try:
            request = self._first_request()
            async with deadline:
                response = await self._exchange(request, attempt)
                while spec.follow_redirects and response.status in _REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        break
                    if len(redirects) == _MAX_REDIRECTS:
                        return self._done(
                            fail(f"more than {_MAX_REDIRECTS} redirects", redirects=redirects),
                            attempt,
                            start,
                        )
                    request = _redirected(request, response.status, location)
                    redirects.append(redact_url(request.url.geturl()))
                    not_after = response.not_after
                    response = await self._exchange(request, attempt)
                    if not_after and (not response.not_after or not_after < response.not_after):
                        response.not_after = not_after
        except _HttpError as exc:
            return self._done(error(str(exc), **self._so_far(attempt)), attempt, start)
        except ConnectionFailed as exc:
            return self._done(error(str(exc), **self._so_far(attempt)), attempt, start)
        except ssl.SSLError as exc:
            return self._done(
                error(
                    f"TLS error from {attempt.address} while "
                    f"{_STAGES.get(attempt.progress.stage, 'talking to it')}: {exc.reason or exc}",
                    **self._so_far(attempt),
                ),
                attempt,
                start,
            )
        except ConnectionError as exc:
            what = "reset" if isinstance(exc, ConnectionResetError) else "closed"
            return self._done(
                error(
                    f"connection {what} by {attempt.address or 'the server'} "
                    f"while {_STAGES.get(attempt.progress.stage, 'talking to it')}",
                    **self._so_far(attempt),
                ),
                attempt,
                start,
            )
        except TimeoutError:
            if not deadline.expired():
                raise
            return self._done(
                error(self._stalled(attempt), **self._so_far(attempt)), attempt, start
            )
        total = time.perf_counter() - start
        measurement = self._judge(response, total)
        if redirects:
            measurement = _add_details(measurement, redirects=redirects)
        return self._done(measurement, attempt, start, total)

    # -- request ----------------------------------------------------------------------

    def _first_request(self) -> _Request:
        spec = self.spec
        url = urlsplit(spec.url)
        headers = dict(spec.headers)
        for name, value in headers.items():
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
                raise _HttpError(f"header '{name}' contains a line break; remove it")
        has_auth = any(k.lower() == "authorization" for k in headers)
        if (url.password is not None or url.username) and not has_auth:
            user = unquote(url.username or "")
            password = unquote(url.password or "")
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        body = spec.body.encode() if spec.body is not None else None
        return _Request(url, spec.method.upper(), headers, body)

    async def _exchange(self, request: _Request, attempt: _Attempt) -> _Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise _HttpError(
                f"unsupported URL scheme '{url.scheme}' in {redact_url(url.geturl())} "
                "(use http:// or https://)"
            )
        host = url.hostname
        if not host:
            raise _HttpError(f"no host in URL {redact_url(url.geturl())}")
        try:
            port = url.port or (443 if url.scheme == "https" else 80)
        except ValueError:
            raise _HttpError(f"invalid port in URL {redact_url(url.geturl())}") from None
        progress = attempt.progress
        attempt.status = None
        conn = await open_connection(host, port, progress, limit=_HEAD_LIMIT)
        attempt.address = conn.address
        try:
            not_after = None
            if url.scheme == "https":
                not_after = await self._start_tls(conn, host, port, progress)
            progress.stage = "send"
            conn.writer.write(_encode(request, host, port))
            await conn.writer.drain()
            sent = time.perf_counter()
            progress.stage = "wait"
            while True:
                version, status, phrase, headers = _parse_head(
                    await _read_head(conn, attempt, sent)
                )
                if status >= 200 or status == 101:
                    break  # 1xx interim responses (103 Early Hints...) come before the real one
            attempt.status = status
            response = _Response(status, phrase, version, headers, address=conn.address)
            response.not_after = not_after
            await _read_body(conn.reader, response, request.method, self.spec.max_body, attempt)
            progress.stage = "done"
            return response
        finally:
            conn.abort()

    async def _start_tls(
        self, conn: Connection, host: str, port: int, progress: Progress
    ) -> datetime | None:
        progress.stage = "tls"
        begin = time.perf_counter()
        try:
            await conn.writer.start_tls(tls_context(self.spec.verify_tls), server_hostname=host)
        except ssl.SSLCertVerificationError as exc:
            progress.add("tls", time.perf_counter() - begin)
            ip = conn.address.rsplit(":", 1)[0].strip("[]")
            try:
                described = await _describe_certificate(ip, port, host)
            except (OSError, EOFError, ValueError):  # best effort: the reason stands without it
                described = ""
            raise _HttpError(_verify_reason(exc, described)) from None
        except ssl.SSLError as exc:
            raise _HttpError(
                f"TLS handshake with {conn.address} failed: {exc.reason or exc}"
            ) from None
        except (ConnectionResetError, asyncio.IncompleteReadError):
            raise _HttpError(
                f"{conn.address} closed the connection during the TLS handshake "
                "(is it serving plain HTTP? try http://)"
            ) from None
        progress.add("tls", time.perf_counter() - begin)
        return _not_after(conn.writer.get_extra_info("ssl_object"))

    # -- verdict ----------------------------------------------------------------------

    def _judge(self, response: _Response, total: float) -> Measurement:
        spec = self.spec
        facts: dict[str, Any] = {
            "status": response.status,
            "url": redact_url(spec.url),
            "address": response.address,
            "http_version": response.version,
            "body_bytes": len(response.body),
            "body_truncated": response.truncated,
        }
        problems: list[str] = []
        if not any(lo <= response.status <= hi for lo, hi in spec.status):
            phrase = f" {response.phrase}" if response.phrase else ""
            problems.append(f"status {response.status}{phrase}, expected {_ranges(spec.status)}")
        for name, expected in spec.header_equals.items():
            actual = response.headers.get(name.lower())
            if actual is None:
                problems.append(f"header {name} is missing, expected {expected!r}")
            elif actual != expected:
                shown = REDACTOR.scrub(actual[:60])
                problems.append(f"header {name} is {shown!r}, expected {expected!r}")
        if spec.contains is not None or self._regex is not None or spec.json_path:
            problems.extend(self._judge_body(response))
        if spec.max_latency is not None and total > spec.max_latency:
            problems.append(
                f"took {total * 1000:.0f} ms, "
                f"more than max_latency {spec.max_latency * 1000:.0f} ms"
            )
        if response.not_after is not None:
            days_left = (response.not_after - datetime.now(UTC)).total_seconds() / 86400
            facts["cert_days_left"] = int(days_left)
            facts["cert_not_after"] = f"{response.not_after:%Y-%m-%d}"
            if spec.min_cert_days is not None and days_left < spec.min_cert_days:
                problems.append(_cert_problem(response.not_after, days_left, spec.min_cert_days))
        if not problems:
            return ok(**facts)
        reason = problems[0]
        if len(problems) > 1:
            reason += f" (and {len(problems) - 1} more)"
            facts["problems"] = problems
        if response.body and not (200 <= response.status < 300):
            facts["body_excerpt"] = excerpt(response.body, 200)
        return fail(reason, **facts)

    def _judge_body(self, response: _Response) -> list[str]:
        spec = self.spec
        problems: list[str] = []
        cut = f" (body truncated at max_body {spec.max_body} bytes)" if response.truncated else ""
        text = response.body_text()
        if spec.contains is not None and spec.contains not in text:
            problems.append(
                f"body does not contain {spec.contains!r}{cut}: '{excerpt(response.body)}'"
            )
        if self._regex is not None and self._regex.search(text) is None:
            problems.append(
                f"body does not match /{self._regex.pattern}/{cut}: '{excerpt(response.body)}'"
            )
        if spec.json_path:
            problems.extend(self._judge_json(text, cut, response.body))
        return problems

    def _judge_json(self, text: str, cut: str, raw: bytes) -> list[str]:
        try:
            doc = json.loads(text)
        except ValueError as exc:
            if cut:
                return [f"body is not complete JSON{cut}; raise max_body to check json_path"]
            where = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            return [
                f"body is not valid JSON ({where}), but json_path expects JSON: '{excerpt(raw)}'"
            ]
        problems = []
        for path, expected in self.spec.json_path.items():
            try:
                steps = json_path_steps(path)
            except JsonPathError as exc:
                problems.append(str(exc))
                continue
            found, actual, depth = _lookup(doc, steps)
            if not found:
                problems.append(
                    f"{path} is not in the JSON body (no {_path_text(steps[: depth + 1])})"
                )
            elif not _same(actual, expected):
                problems.append(f"{path} is {_show(actual)}, expected {_show(expected)}")
        return problems

    # -- reporting --------------------------------------------------------------------

    def _stalled(self, attempt: _Attempt) -> str:
        progress = attempt.progress
        limit = within(self.timeout)
        if progress.stage in ("send", "wait"):
            return (
                f"connected to {attempt.address}, but no response {limit} "
                "(the server accepted the request and never answered)"
            )
        if progress.stage == "head":
            return f"{attempt.address} started answering, but the headers stalled {limit}"
        if progress.stage == "body":
            return (
                f"status {attempt.status} arrived, then the body stalled after "
                f"{attempt.body_bytes} bytes (not complete {limit})"
            )
        url = urlsplit(self.spec.url)
        return stalled_reason(progress, url.hostname or "", url.port or 0, self.timeout)

    def _so_far(self, attempt: _Attempt) -> dict[str, Any]:
        facts: dict[str, Any] = {"url": redact_url(self.spec.url)}
        if attempt.address:
            facts["address"] = attempt.address
        if attempt.status is not None:
            facts["status"] = attempt.status
        return facts

    def _done(
        self, measurement: Measurement, attempt: _Attempt, start: float, total: float | None = None
    ) -> Measurement:
        total = time.perf_counter() - start if total is None else total
        return with_phases(measurement, **attempt.progress.phases, total=total)


_STAGES = {
    "dns": "resolving its name",
    "connect": "connecting",
    "tls": "in the TLS handshake",
    "send": "sending the request",
    "wait": "waiting for the response",
    "head": "reading the headers",
    "body": "reading the body",
}


def _encode(request: _Request, host: str, port: int) -> bytes:
    url = request.url
    target = (url.path or "/") + (f"?{url.query}" if url.query else "")
    default_port = 443 if url.scheme == "https" else 80
    name = f"[{host}]" if ":" in host else host
    authority = name if port == default_port else f"{name}:{port}"
    given = {k.lower() for k in request.headers}
    lines = [f"{request.method} {target} HTTP/1.1"]
    defaults = {
        "host": authority,
        "user-agent": _USER_AGENT,
        "accept": "*/*",
        "accept-encoding": "identity",
        "connection": "close",
    }
    lines += [f"{k.title()}: {v}" for k, v in defaults.items() if k not in given]
    lines += [f"{k}: {v}" for k, v in request.headers.items()]
    body = request.body
    if body is not None or request.method in ("POST", "PUT", "PATCH"):
        body = body or b""
        if "content-length" not in given:
            lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    return head + body if body else head


def _redirected(request: _Request, status: int, location: str) -> _Request:
    target = urlsplit(urljoin(request.url.geturl(), location))
    method, body = request.method, request.body
    if status == 303 or (status in (301, 302) and method == "POST"):
        method, body = ("HEAD" if method == "HEAD" else "GET"), None
    headers = request.headers
    if (target.scheme, target.hostname, target.port) != (
        request.url.scheme,
        request.url.hostname,
        request.url.port,
    ):
        # Credentials never follow a redirect to another origin.
        headers = {k: v for k, v in headers.items() if k.lower() not in ("authorization", "cookie")}
    if body is None:
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    return _Request(target, method, headers, body)


def _cert_problem(not_after: datetime, days_left: float, min_days: int) -> str:
    def days(n: int) -> str:
        return f"{n} day" if n == 1 else f"{n} days"

    if days_left < 0:
        ago = days(-int(days_left)) + " ago" if int(days_left) else "today"
        return (
            f"TLS certificate expired on {not_after:%Y-%m-%d} ({ago}); min_cert_days is {min_days}"
        )
    return (
        f"TLS certificate expires in {days(int(days_left))} (not after {not_after:%Y-%m-%d}), "
        f"fewer than min_cert_days {min_days}"
    )


def _ranges(ranges: list[tuple[int, int]]) -> str:
    parts = []
    for lo, hi in ranges:
        if lo == hi:
            parts.append(str(lo))
        elif lo % 100 == 0 and hi == lo + 99:
            parts.append(f"{lo // 100}xx")
        else:
            parts.append(f"{lo}-{hi}")
    return ", ".join(parts)


def _path_text(steps: tuple[str | int, ...]) -> str:
    return "$" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in steps)


def _add_details(measurement: Measurement, **details: Any) -> Measurement:
    from dataclasses import replace

    return replace(measurement, details={**measurement.details, **details})
