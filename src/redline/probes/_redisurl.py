"""Where a Redis URL points and how to log in, read as redis-py's ``from_url`` reads it.

>>> endpoint = parse_url("redis://:s3cret@cache:6379/2")
>>> str(endpoint), endpoint.db, endpoint.password is not None, "s3cret" in repr(endpoint)
('cache:6379/2', 2, True, False)

The forms: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` (TLS, tuned by
``ssl_cert_reqs``, ``ssl_ca_certs``... in the query) and ``unix:///path?db=N&password=...``.
Parts are percent-decoded; ``?db=`` wins over the path; userinfo wins over ``?username=``
and ``?password=``. redis-py's pool and socket tuning parameters are accepted and ignored
(a probe makes one attempt under its own deadline); any other parameter is an error.
Errors never quote the URL, so a password cannot leak through them; ``repr()`` of an
:class:`Endpoint` leaves the passwords out.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["Endpoint", "TlsOptions", "parse_url"]

_TLS_PARAMS = frozenset(
    {"ssl_cert_reqs", "ssl_ca_certs", "ssl_ca_path", "ssl_certfile", "ssl_keyfile"}
    | {"ssl_password", "ssl_check_hostname", "ssl_min_version", "ssl_ciphers"}
)
# redis-py pool and socket tuning: meaningless for one probe attempt under its own deadline.
_IGNORED_PARAMS = frozenset(
    {"socket_timeout", "socket_connect_timeout", "socket_keepalive", "socket_read_size"}
    | {"retry_on_timeout", "max_connections", "health_check_interval", "timeout"}
    | {"protocol", "client_name", "decode_responses"}
)
_PARAMS = _TLS_PARAMS | _IGNORED_PARAMS | {"db", "username", "password"}
_CERT_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


@dataclass(frozen=True)
class TlsOptions:
    """A ``rediss://`` URL's TLS settings, with redis-py's names and defaults."""

    cert_reqs: str = "required"
    ca_certs: str | None = None
    ca_path: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    password: str | None = field(default=None, repr=False)
    check_hostname: bool = True
    min_version: int | None = None
    ciphers: str | None = None

    def context(self) -> ssl.SSLContext:
        """A client context as redis-py builds it (SSL_CERT_FILE is honoured as usual).

        Raises ValueError naming the URL parameter whose file or value does not load.
        """
        ctx = ssl.create_default_context()
        verify = _CERT_REQS[self.cert_reqs]
        ctx.check_hostname = self.check_hostname and verify != ssl.CERT_NONE
        ctx.verify_mode = verify
        if self.min_version is not None:
            ctx.minimum_version = ssl.TLSVersion(self.min_version)
        step = "ssl_certfile/ssl_keyfile"
        try:
            if self.certfile or self.keyfile:
                ctx.load_cert_chain(self.certfile or "", self.keyfile, self.password)
            step = "ssl_ca_certs/ssl_ca_path"
            if self.ca_certs or self.ca_path:
                ctx.load_verify_locations(cafile=self.ca_certs, capath=self.ca_path)
            step = "ssl_ciphers"
            if self.ciphers is not None:
                ctx.set_ciphers(self.ciphers)
        except OSError as exc:  # ssl.SSLError included
            why = exc.strerror or getattr(exc, "reason", None) or type(exc).__name__
            raise ValueError(f"URL parameter {step} cannot be loaded: {why}") from None
        return ctx


@dataclass(frozen=True)
class Endpoint:
    """Where a Redis URL points and how to log in; ``str()`` is ``host:port/db``."""

    host: str = "localhost"
    port: int = 6379
    socket_path: str | None = None
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: TlsOptions | None = None

    @property
    def address(self) -> str:
        if self.socket_path is not None:
            return self.socket_path
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def secrets(self) -> tuple[str, ...]:
        found = (self.password, self.tls.password if self.tls else None)
        return tuple(s for s in found if s)

    def __str__(self) -> str:
        return f"{self.address}/{self.db}"


def parse_url(url: str) -> Endpoint:
    """``url`` as redis-py's ``from_url`` reads it.

    Raises ValueError saying what is wrong; the message never quotes the URL.
    """
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        why = " (brackets around an IPv6 address?)" if "IPv6" in str(exc) else ""
        raise ValueError(f"the URL cannot be parsed{why}") from None
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ValueError("the URL must start with redis://, rediss:// or unix://")
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    for name in query:
        if name not in _PARAMS:
            from redline.config.diagnostics import closest

            hint = closest(name, _PARAMS)
            raise ValueError(
                f"unknown URL parameter {name!r}" + (f" (did you mean {hint!r}?)" if hint else "")
            )
        if name in _TLS_PARAMS and parts.scheme != "rediss":
            raise ValueError(f"URL parameter {name!r} applies to rediss:// URLs only")
    # Credentials in the URL's userinfo win over ?username= and ?password=.
    username = unquote(parts.username) if parts.username else query.get("username")
    password = unquote(parts.password) if parts.password else query.get("password")
    db = _integer(query, "db")
    if parts.scheme == "unix":
        if not parts.path:
            raise ValueError("a unix:// URL needs the socket's path: unix:///run/redis.sock")
        return Endpoint(
            socket_path=unquote(parts.path), db=db or 0, username=username, password=password
        )
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the port in the URL must be a number from 1 to 65535") from None
    if db is None and parts.path:
        try:  # redis-py's reading of the path: "/1" is db 1; a path that is no number is db 0
            db = int(unquote(parts.path).replace("/", ""))
        except ValueError:
            db = 0
    return Endpoint(
        host=unquote(parts.hostname) if parts.hostname else "localhost",
        port=port or 6379,
        db=db or 0,
        username=username,
        password=password,
        tls=_tls_options(query) if parts.scheme == "rediss" else None,
    )


def _integer(query: dict[str, str], name: str) -> int | None:
    if name not in query:
        return None
    try:
        return int(query[name])
    except ValueError:
        raise ValueError(f"URL parameter {name!r} must be a whole number") from None


def _tls_options(query: dict[str, str]) -> TlsOptions:
    cert_reqs = query.get("ssl_cert_reqs", "required")
    if cert_reqs not in _CERT_REQS:
        raise ValueError("URL parameter 'ssl_cert_reqs' must be none, optional or required")
    check = query.get("ssl_check_hostname")
    version = _integer(query, "ssl_min_version")
    if version is not None and version not in set(ssl.TLSVersion):
        raise ValueError("URL parameter 'ssl_min_version' is not a TLS version number")
    return TlsOptions(
        cert_reqs=cert_reqs,
        ca_certs=query.get("ssl_ca_certs"),
        ca_path=query.get("ssl_ca_path"),
        certfile=query.get("ssl_certfile"),
        keyfile=query.get("ssl_keyfile"),
        password=query.get("ssl_password"),
        check_hostname=check is None or check.upper() not in ("0", "F", "FALSE", "N", "NO"),
        min_version=version,
        ciphers=query.get("ssl_ciphers"),
    )
