"""Reading a DSN as libpq does: both spellings, quoting, the PG* variables, the defaults."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

import pytest

from redline.probes._pgdsn import DsnError, parse_dsn, resolve

SECRET = "hunter22-not-a-real-password"


def test_a_url_gives_every_part() -> None:
    params = resolve(
        "postgresql://app:pw@db.example:5433/shop"
        "?sslmode=verify-full&application_name=api&connect_timeout=7&sslrootcert=/ca.pem",
        environ={},
    )
    assert (params.host, params.port) == ("db.example", 5433)
    assert (params.dbname, params.user) == ("shop", "app")
    assert params.password == "pw"
    assert params.sslmode == "verify-full"
    assert params.application_name == "api"
    assert params.connect_timeout == 7.0
    assert params.sslrootcert == "/ca.pem"
    assert params.host_given


def test_postgres_scheme_and_percent_decoding() -> None:
    params = resolve("postgres://us%40er:p%40ss%3Aw%2Fo%25rd@db/my%20db", environ={})
    assert (params.user, params.password, params.dbname) == ("us@er", "p@ss:w/o%rd", "my db")


def test_an_at_sign_left_in_the_password_still_parses() -> None:
    params = resolve("postgresql://app:p@ss@db/shop", environ={})
    assert (params.user, params.password, params.host) == ("app", "p@ss", "db")


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql:///shop?host=/var/run/postgresql",
        "postgresql://%2Fvar%2Frun%2Fpostgresql/shop",
        "host=/var/run/postgresql dbname=shop",
    ],
)
def test_a_unix_socket_directory_as_host(dsn: str) -> None:
    params = resolve(dsn, environ={"PGUSER": "app"})
    assert params.host == "/var/run/postgresql"
    assert params.unix_socket
    assert params.dbname == "shop"


def test_hostaddr_alone_is_where_to_connect() -> None:
    params = resolve("hostaddr=10.0.0.5 port=5433", environ={})
    assert (params.host, params.hostaddr, params.unix_socket) == ("10.0.0.5", "10.0.0.5", False)


def test_an_ipv6_host_in_brackets() -> None:
    params = resolve("postgresql://app@[::1]:5433/shop", environ={})
    assert (params.host, params.port) == ("::1", 5433)


def test_query_parameters_override_the_authority_and_ssl_true_means_require() -> None:
    params = resolve("postgresql://app@db:1/shop?port=5434&user=other&ssl=true", environ={})
    assert (params.port, params.user, params.sslmode) == (5434, "other", "require")


def test_keywords_follow_libpq_quoting() -> None:
    given = parse_dsn(
        r"host = db  port=5433 dbname='my shop' user=app password='it\'s a \\ secret'"
        r" application_name=a\ b options=''"
    )
    assert given == {
        "host": "db",
        "port": "5433",
        "dbname": "my shop",
        "user": "app",
        "password": "it's a \\ secret",
        "application_name": "a b",
        "options": "",
    }


def test_the_environment_fills_what_the_dsn_leaves_out() -> None:
    environ = {
        "PGHOST": "envhost",
        "PGPORT": "6543",
        "PGUSER": "envuser",
        "PGPASSWORD": SECRET,
        "PGDATABASE": "envdb",
        "PGSSLMODE": "require",
    }
    params = resolve("", environ=environ)
    assert (params.host, params.port, params.user, params.dbname) == (
        "envhost",
        6543,
        "envuser",
        "envdb",
    )
    assert (params.password, params.sslmode) == (SECRET, "require")
    assert resolve("host=dsnhost user=dsnuser", environ=environ).host == "dsnhost"


def test_defaults_are_libpqs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.pgpass
    params = resolve("", environ={"PGPORT": "1"})  # no server has a socket for port 1
    assert (params.host, params.port, params.sslmode) == ("localhost", 1, "prefer")
    assert params.user == getpass.getuser()
    assert params.dbname == params.user
    assert params.password is None
    assert not params.host_given


def test_the_default_host_is_a_unix_socket_when_one_is_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The fixed directories libpq looks in cannot be made in a test: pretend one socket exists.
    monkeypatch.setattr(os.path, "exists", lambda path: path == "/tmp/.s.PGSQL.5432")
    params = resolve("dbname=shop", environ={})
    assert params.host == "/tmp"
    assert params.unix_socket
    assert not params.host_given


def test_a_passfile_gives_the_password(tmp_path: Path) -> None:
    passfile = tmp_path / "pgpass"
    passfile.write_text(
        "# comment\n"
        "other:*:*:*:nope\n"
        f"db:5432:shop:app:{SECRET}\n"
        "*:*:*:app:fallback\n"
        "db\\:x:*:*:*:with\\:colon\n"
    )
    passfile.chmod(0o600)
    assert resolve(f"host=db dbname=shop user=app passfile={passfile}").password == SECRET
    assert resolve(f"host=db dbname=other user=app passfile={passfile}").password == "fallback"
    assert resolve(f"host=db:x user=bob passfile={passfile}").password == "with:colon"
    environ = {"PGPASSFILE": str(passfile)}
    assert resolve("host=db dbname=shop user=app", environ=environ).password == SECRET
    passfile.chmod(0o644)  # others may read it: libpq ignores it
    assert resolve(f"host=db dbname=shop user=app passfile={passfile}").password is None


@pytest.mark.parametrize(
    ("dsn", "message"),
    [
        (f"postgresql://app:{SECRET}@db/shop?bogus=1", 'invalid connection option "bogus"'),
        (f"host=db password={SECRET} bogus=1", 'invalid connection option "bogus"'),
        (f"host=db password='{SECRET}", "unterminated quoted string"),
        (f"host=db {SECRET}", 'lacks "="'),
        (f"postgresql://app:{SECRET}@db/shop?{SECRET}", 'lacks "="'),
        (f"postgresql://app:{SECRET}@db:{SECRET}/shop", "port"),
        (f"postgresql://app:{SECRET}%zz@db/shop", "percent-encoding"),
        (f"postgresql://app:{SECRET}%00@db/shop", "%00"),
        (f"host=db password={SECRET} sslmode=sometimes", "sslmode must be one of"),
        (f"host=db password={SECRET} service=prod", '"service" is not supported'),
        (f"host=db password={SECRET} channel_binding=require", '"channel_binding"'),
        (f"host=a,b password={SECRET}", "several hosts"),
        (f"postgresql://app:{SECRET}@[::1/shop", "IPv6"),
    ],
)
def test_an_invalid_dsn_says_why_without_its_values(dsn: str, message: str) -> None:
    with pytest.raises(DsnError, match=None) as caught:
        resolve(dsn, environ={})
    assert message in str(caught.value)
    assert SECRET not in str(caught.value)


def test_harmless_libpq_options_are_accepted() -> None:
    params = resolve(
        "host=db keepalives=1 gssencmode=disable channel_binding=prefer target_session_attrs=any "
        "client_encoding=UTF8 sslsni=1",
        environ={},
    )
    assert params.host == "db"
