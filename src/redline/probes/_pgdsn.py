"""Reading a PostgreSQL DSN as libpq does, for the ``postgres`` probe's own client.

Both spellings: a URL (``postgresql://`` or ``postgres://``, percent-decoded, a unix socket
directory as ``?host=/var/run/postgresql`` or a percent-encoded host) and libpq's
``key=value`` pairs (single quotes around values with spaces, backslash escapes). What
the DSN leaves out comes from the ``PG*`` environment variables libpq reads (``PGHOST``,
``PGPORT``, ``PGUSER``, ``PGPASSWORD``, ``PGDATABASE``, ``PGSSLMODE``...), then from
``~/.pgpass``, then from libpq's defaults: the unix socket in ``/var/run/postgresql`` or
``/tmp`` when one is there (else ``localhost``), port 5432, the login name as user, the
user's name as database, ``sslmode=prefer``.

>>> params = resolve("postgresql://app:pw@db:5433/shop?sslmode=require", environ={})
>>> params.host, params.port, params.dbname, params.user, params.sslmode
('db', 5433, 'shop', 'app', 'require')

A :class:`DsnError` never quotes a value from the DSN (a malformed DSN may have put a
password where a port was expected); it may name a keyword.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

__all__ = ["DsnError", "Params", "parse_dsn", "resolve"]


# libpq keywords this client honours, with the environment variable that stands in for each.
_ENV = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "dbname": "PGDATABASE",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "passfile": "PGPASSFILE",
    "options": "PGOPTIONS",
    "application_name": "PGAPPNAME",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslpassword": "",
}
# libpq keywords accepted and not acted on: they change nothing for one short probe session,
# those in _ONLY as long as they keep one of the values named there.
_IGNORED_WORDS = (
    "client_encoding fallback_application_name keepalives keepalives_idle keepalives_interval"
    " keepalives_count tcp_user_timeout sslcompression sslsni ssl_min_protocol_version"
    " ssl_max_protocol_version krbsrvname gsslib"
)
_IGNORED = frozenset(_IGNORED_WORDS.split())
_ONLY = {
    "gssencmode": ("prefer", "disable"),  # GSSAPI encryption is never tried
    "channel_binding": ("prefer", "disable"),  # SCRAM runs without channel binding
    "target_session_attrs": ("any",),
    "load_balance_hosts": ("disable",),
    "sslnegotiation": ("postgres",),
    "sslcertmode": ("allow",),
}
# libpq keywords whose setting this client cannot honour: refused rather than ignored.
_UNSUPPORTED = frozenset(("service", "replication", "requirepeer", "sslcrl", "sslcrldir"))
_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


class DsnError(ValueError):
    """The DSN does not parse, or asks for something the probe's client cannot do."""


@dataclass(frozen=True)
class Params:
    """Where and how to connect, after the DSN, the environment and the defaults."""

    host: str  # a name, an address, or a unix socket directory (starts with "/")
    port: int
    dbname: str
    user: str
    password: str | None = field(default=None, repr=False)
    host_given: bool = True  # False: the default, which a person reads as "local socket"
    hostaddr: str | None = None
    sslmode: str = "prefer"
    sslrootcert: str | None = None
    sslcert: str | None = None
    sslkey: str | None = None
    sslpassword: str | None = field(default=None, repr=False)
    application_name: str | None = None
    options: str | None = None
    connect_timeout: float | None = None

    @property
    def unix_socket(self) -> bool:
        return self.host.startswith("/")


def resolve(dsn: str, environ: Mapping[str, str] | None = None) -> Params:
    """``dsn`` read as libpq reads it: URL or ``key=value``, then ``PG*`` variables, defaults."""
    env = os.environ if environ is None else environ
    given = parse_dsn(dsn)
    for key, value in given.items():
        if key in _UNSUPPORTED or (key in _ONLY and value not in _ONLY[key]):
            raise DsnError(f'connection option "{key}" is not supported by the probe')
        if key not in _ENV and key not in _IGNORED and key not in _ONLY:
            raise DsnError(f'invalid connection option "{key}"')
    raw = {k: given.get(k) or (env.get(var) if var else None) for k, var in _ENV.items()}
    if raw["host"] and "," in raw["host"]:
        raise DsnError("several hosts in one DSN are not supported by the probe")
    try:
        port = int(raw["port"] or 5432)
        timeout = float(raw["connect_timeout"] or 0)
    except ValueError:
        raise DsnError("the port and connect_timeout must be numbers") from None
    if not 0 < port < 65536:
        raise DsnError("the port must be between 1 and 65535")
    sslmode = raw["sslmode"] or "prefer"
    if sslmode not in _SSLMODES:
        raise DsnError(f"sslmode must be one of {', '.join(_SSLMODES)}")
    user = raw["user"] or _login()
    host = raw["host"] or raw["hostaddr"] or _default_host(port)
    params = Params(
        host=host,
        port=port,
        dbname=raw["dbname"] or user,
        user=user,
        password=raw["password"],
        host_given=bool(raw["host"] or raw["hostaddr"]),
        hostaddr=raw["hostaddr"],
        sslmode=sslmode,
        sslrootcert=raw["sslrootcert"],
        sslcert=raw["sslcert"],
        sslkey=raw["sslkey"],
        sslpassword=raw["sslpassword"],
        application_name=raw["application_name"],
        options=raw["options"],
        connect_timeout=max(timeout, 2.0) if timeout > 0 else None,  # libpq's floor
    )
    if params.password is None:
        return replace(params, password=_from_passfile(params, raw["passfile"]))
    return params


def parse_dsn(dsn: str) -> dict[str, str]:
    """The parameters a DSN spells out, without defaults; DsnError when it does not parse."""
    if dsn.startswith(("postgresql://", "postgres://")):
        return _parse_url(dsn)
    return _parse_keywords(dsn)


def _parse_url(dsn: str) -> dict[str, str]:
    body = dsn.partition("://")[2]
    end = min((i for i in (body.find("/"), body.find("?")) if i >= 0), default=len(body))
    netloc, rest = body[:end], body[end:]
    path, _, query = rest.partition("?")
    params: dict[str, str] = {}
    if "@" in netloc:
        userinfo, _, netloc = netloc.rpartition("@")
        user, colon, password = userinfo.partition(":")
        if user:
            params["user"] = _unquote(user)
        if colon:
            params["password"] = _unquote(password)
    if netloc.startswith("["):
        host, bracket, port = netloc[1:].partition("]")
        if not bracket or (port and not port.startswith(":")):
            raise DsnError("an IPv6 host must be written [address] or [address]:port")
        port = port[1:]
    else:
        host, _, port = netloc.partition(":")
    if host:
        params["host"] = _unquote(host)
    if port:
        params["port"] = _unquote(port)
    if path.lstrip("/"):
        params["dbname"] = _unquote(path[1:])
    for item in filter(None, query.split("&")):
        key, equals, value = item.partition("=")
        if not equals:
            raise DsnError('a query parameter of the URL lacks "=" (write key=value)')
        key, value = _unquote(key), _unquote(value)
        if key == "ssl" and value == "true":  # as libpq: the JDBC spelling
            key, value = "sslmode", "require"
        params[key] = value
    return params


def _parse_keywords(dsn: str) -> dict[str, str]:
    params: dict[str, str] = {}
    i, n = 0, len(dsn)
    while True:
        while i < n and dsn[i].isspace():
            i += 1
        if i == n:
            return params
        start = i
        while i < n and not dsn[i].isspace() and dsn[i] != "=":
            i += 1
        key = dsn[start:i]
        while i < n and dsn[i].isspace():
            i += 1
        if i == n or dsn[i] != "=":
            raise DsnError(
                'a word of the DSN lacks "=" (write key=value, quote values with spaces)'
            )
        i += 1
        while i < n and dsn[i].isspace():
            i += 1
        quoted = i < n and dsn[i] == "'"
        i += quoted
        value: list[str] = []
        while i < n and (dsn[i] != "'" if quoted else not dsn[i].isspace()):
            i += dsn[i] == "\\" and i + 1 < n  # a backslash keeps the next character as is
            value.append(dsn[i])
            i += 1
        if quoted:
            if i == n:
                raise DsnError("unterminated quoted string in the DSN")
            i += 1
        params[key] = "".join(value)


def _unquote(text: str) -> str:
    from urllib.parse import unquote_to_bytes

    parts = text.split("%")
    if any(len(p) < 2 or not all(c in "0123456789abcdefABCDEF" for c in p[:2]) for p in parts[1:]):
        raise DsnError("invalid percent-encoding in the DSN (write % as %25)")
    data = unquote_to_bytes(text)
    if b"\0" in data:
        raise DsnError("the DSN may not contain %00")
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise DsnError("a percent-encoded part of the DSN is not UTF-8") from None


def _default_host(port: int) -> str:
    # libpq's socket directories (Debian's, then the upstream default); only looked at
    for directory in ("/var/run/postgresql", "/tmp"):  # noqa: S108
        if os.path.exists(f"{directory}/.s.PGSQL.{port}"):
            return directory
    return "localhost"


def _from_passfile(params: Params, passfile: str | None) -> str | None:
    """The password ``~/.pgpass`` (or ``passfile``) holds for this target, as libpq reads it."""
    path = passfile or os.path.join(os.path.expanduser("~"), ".pgpass")
    try:
        if os.stat(path).st_mode & 0o077:  # libpq ignores a file others may read
            return None
        with open(path, encoding="utf-8") as file:
            lines = file.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    host = "localhost" if params.unix_socket else params.host
    wanted = (host, str(params.port), params.dbname, params.user)
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        fields, current, escaped = [], "", False
        for char in line:
            if escaped or char not in "\\:":
                current, escaped = current + char, False
            elif char == "\\":
                escaped = True
            else:
                fields.append(current)
                current = ""
        fields.append(current)
        if len(fields) >= 5 and all(f in ("*", w) for f, w in zip(fields, wanted, strict=False)):
            return ":".join(fields[4:])
    return None


def _login() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"
