"""The probe's own PostgreSQL client: the real server on 127.0.0.1:5432, fakes for logins.

The real server (trust auth, no TLS) answers queries, types, unix sockets and errors;
:class:`~tests.probes.pg_fake.FakePostgres` logs in with a password (cleartext, MD5,
SCRAM-SHA-256), over TLS with the throwaway CA, or forges its SCRAM signature.
"""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from redline.probes import _pgwire
from redline.probes._pgdsn import resolve
from tests.probes.conftest import TlsFiles
from tests.probes.pg_fake import (  # noqa: F401 (fixtures)
    FakePostgres,
    SilentServer,
    fake_postgres_fixture,
    silent_server_fixture,
)
from tests.probes.test_postgres import SERVER_URL, check, run

pytestmark = pytest.mark.postgres

SECRET = "hunter22-not-a-real-password"
StartFake = Callable[..., FakePostgres]


def query(dsn: str, sql: str) -> _pgwire.Result:
    async def go() -> _pgwire.Result:
        conn = await _pgwire.connect(resolve(dsn), "redline-test")
        try:
            return await conn.query(sql)
        finally:
            await conn.close()

    return asyncio.run(go())


def connect_error(dsn: str) -> Exception:
    async def go() -> None:
        conn = await _pgwire.connect(resolve(dsn), "redline-test")
        await conn.close()

    with pytest.raises((_pgwire.WireError, OSError)) as caught:
        asyncio.run(go())
    return caught.value


# --- the real server -------------------------------------------------------------------------


def test_values_convert_by_their_type() -> None:
    result = query(
        SERVER_URL,
        "SELECT true, false, 7::int2, 8::int4, 9::int8, 26::oid, 1.50::numeric, "
        "'NaN'::numeric, 2.5::float8, 'NaN'::float8, 'Infinity'::float8, '-Infinity'::float4, "
        "NULL, 'text', '2024-01-02'::date",
    )
    values = [result.column(i)[0] for i in range(15)]
    assert values[:7] == [True, False, 7, 8, 9, 26, Decimal("1.50")]
    assert values[7].is_nan()
    assert values[8] == 2.5
    assert math.isnan(values[9])
    assert values[10:12] == [math.inf, -math.inf]
    assert values[12:] == [None, "text", "2024-01-02"]
    types = (bool, bool, int, int, int, int, Decimal, Decimal, float)
    assert all(type(v) is t for v, t in zip(values, types, strict=False))


def test_a_statement_without_rows_has_no_columns() -> None:
    result = query(SERVER_URL, "SET search_path TO public")
    assert result.types is None
    assert result.first() is None
    assert query(SERVER_URL, "").types is None  # EmptyQueryResponse


def test_no_rows_is_not_no_columns() -> None:
    result = query(SERVER_URL, "SELECT 1 WHERE false")
    assert result.types == (23,)
    assert result.rows == []


def test_of_several_statements_the_first_with_rows_counts() -> None:
    result = query(SERVER_URL, "SET search_path TO public; SELECT 2; SELECT 3")
    assert result.first() == 2
    assert result.column(0) == [2]


def test_an_error_keeps_its_fields_and_the_session_stays_usable() -> None:
    async def go() -> tuple[_pgwire.ServerError, Any]:
        conn = await _pgwire.connect(resolve(SERVER_URL), "redline-test")
        try:
            with pytest.raises(_pgwire.ServerError) as caught:
                await conn.query("SELECT * FROM redline_no_such_table")
            return caught.value, (await conn.query("SELECT 5")).first()
        finally:
            await conn.close()

    failure, after = asyncio.run(go())
    assert failure.sqlstate == "42P01"
    assert failure.message == 'relation "redline_no_such_table" does not exist'
    assert failure.fields["S"] == "ERROR"
    assert after == 5


def test_a_fatal_error_mid_query_is_reported_not_lost() -> None:
    # The server sends FATAL 57P01, then hangs up without a ReadyForQuery.
    result, _ = run(check(SERVER_URL, query="SELECT pg_terminate_backend(pg_backend_pid())"))
    assert result.outcome == "error"
    assert result.reason == (
        "query failed: terminating connection due to administrator command (SQLSTATE 57P01)"
    )


def test_connects_over_the_unix_socket() -> None:
    with psycopg.connect(SERVER_URL, autocommit=True) as admin:
        row = admin.execute("SHOW unix_socket_directories").fetchone()
        port = admin.execute("SHOW port").fetchone()
    assert row is not None and port is not None
    directory = row[0].split(",")[0].strip()
    database = SERVER_URL.rsplit("/", 1)[1]
    dsn = f"postgresql://postgres@/{database}?host={directory}&port={port[0]}"
    result = query(dsn, "SELECT ssl IS NOT TRUE FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    assert result.first() is True
    outcome, _ = run(check(dsn, query="SELECT 1", expect=1))
    assert outcome.details["target"] == f"{directory}:{port[0]}/{database}"


def test_sslmode_require_on_a_server_without_tls_is_an_error() -> None:
    exc = connect_error(f"{SERVER_URL}?sslmode=require")
    assert str(exc) == "server does not support SSL, but SSL was required"


def test_the_application_name_applies_unless_the_dsn_sets_one() -> None:
    sql = "SELECT current_setting('application_name')"
    assert query(SERVER_URL, sql).first() == "redline-test"
    assert query(f"{SERVER_URL}?application_name=mine", sql).first() == "mine"


def test_a_validate_run_never_imports_psycopg(tmp_path: Path) -> None:
    config = tmp_path / "redline.yaml"
    config.write_text(
        "project: p\nservices:\n  db:\n    checks:\n"
        f'      - postgres: {{dsn: "{SERVER_URL}", query: "SELECT 1", expect: 1}}\n'
    )
    code = (
        "import sys\n"
        "from redline.cli import main\n"
        "try:\n"
        f"    main(['validate', '--no-store', '--json', '-c', {str(config)!r}])\n"
        "except SystemExit as exc:\n"
        "    print('exit', exc.code)\n"
        "print(sorted(m for m in sys.modules if m.partition('.')[0] == 'psycopg'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = out.stdout.strip().splitlines()
    assert lines[-2:] == ["exit 0", "[]"], out.stdout + out.stderr
    timing = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import redline.probes.postgres"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "psycopg" not in timing.stderr


def test_connect_timeout_bounds_the_login(silent_server: SilentServer) -> None:
    port = silent_server.port
    dsn = f"postgresql://app:{SECRET}@127.0.0.1:{port}/shop?connect_timeout=1"  # 2s: libpq's floor
    result, elapsed = run(check(dsn, timeout="10s"))
    assert result.outcome == "error"
    assert (
        result.reason
        == f"no answer from PostgreSQL at 127.0.0.1:{port}/shop while connecting (timeout)"
    )
    assert 2.0 <= elapsed < 2.0 + 1.0
    assert silent_server.hung_up()


# --- logins and TLS against fakes ------------------------------------------------------------


@pytest.mark.parametrize("auth", ["cleartext", "md5", "scram"])
def test_a_password_login_runs_the_query(fake_postgres: StartFake, auth: str) -> None:
    fake = fake_postgres(auth=auth, password=SECRET, row=[(25, "primary")])
    dsn = f"postgresql://app:{SECRET}@127.0.0.1:{fake.port}/shop?sslmode=disable"
    result, _ = run(check(dsn, query="SELECT role", expect="primary"))
    assert result.outcome == "ok", result.reason
    assert result.details["server_version"] == "15.0 (fake)"
    assert fake.startups[0]["user"] == "app"
    assert fake.startups[0]["database"] == "shop"
    assert fake.startups[0]["application_name"] == "redline"
    assert fake.served.wait(5)
    assert fake.received == [b"Q", b"X"]  # one query, then Terminate


def test_a_non_ascii_scram_password_is_normalized(fake_postgres: StartFake) -> None:
    # U+00A0 (no-break space) maps to a space and U+00AD (soft hyphen) to nothing (RFC 4013)
    fake = fake_postgres(auth="scram", password="pass word é")
    dsn = f"host=127.0.0.1 port={fake.port} user=app password='pass\u00a0wo\u00adrd é' sslmode=disable"
    result, _ = run(check(dsn))
    assert result.outcome == "ok", result.reason


@pytest.mark.parametrize("auth", ["cleartext", "md5", "scram"])
def test_a_wrong_password_is_an_authentication_error(fake_postgres: StartFake, auth: str) -> None:
    fake = fake_postgres(auth=auth, password="right")
    result, _ = run(check(f"postgresql://app:{SECRET}@127.0.0.1:{fake.port}/shop?sslmode=disable"))
    assert result.outcome == "error"
    assert (
        result.reason
        == f'authentication failed for user "app" at 127.0.0.1:{fake.port} (wrong password?)'
    )


@pytest.mark.parametrize("auth", ["md5", "scram"])
def test_a_missing_password_says_so(fake_postgres: StartFake, auth: str) -> None:
    fake = fake_postgres(auth=auth, password="right")
    result, _ = run(check(f"postgresql://app@127.0.0.1:{fake.port}/shop?sslmode=disable"))
    assert result.outcome == "error"
    assert result.reason.startswith('authentication required: the server asks user "app"')


def test_a_forged_scram_signature_is_an_error(fake_postgres: StartFake) -> None:
    fake = fake_postgres(auth="scram", password=SECRET, forge_signature=True)
    result, _ = run(check(f"postgresql://app:{SECRET}@127.0.0.1:{fake.port}/shop?sslmode=disable"))
    assert result.outcome == "error"
    assert "SCRAM signature is wrong" in result.reason
    assert fake.served.wait(5)
    assert fake.received == []  # the probe sent no query to an impostor


def test_a_host_name_and_ipv6(fake_postgres: StartFake) -> None:
    fake = fake_postgres(host="::1")
    result, _ = run(check(f"postgresql://app@[::1]:{fake.port}/shop"))
    assert result.outcome == "ok", result.reason
    v4 = fake_postgres()
    result, _ = run(check(f"postgresql://app@localhost:{v4.port}/shop"))  # resolved, any family
    assert result.outcome == "ok", result.reason


@pytest.fixture
def tls_fake(fake_postgres: StartFake, test_ca: TlsFiles, tmp_path: Path) -> FakePostgres:
    context = test_ca.ca.issue(["localhost", "127.0.0.1"]).server_context(tmp_path)
    return fake_postgres(auth="scram", password=SECRET, tls=context)


@pytest.mark.parametrize("sslmode", ["prefer", "require", "verify-ca", "verify-full"])
def test_tls_as_sslmode_says(tls_fake: FakePostgres, test_ca: TlsFiles, sslmode: str) -> None:
    dsn = (
        f"postgresql://app:{SECRET}@localhost:{tls_fake.port}/shop"
        f"?sslmode={sslmode}&sslrootcert={test_ca.ca_file}"
    )
    result, _ = run(check(dsn))
    assert result.outcome == "ok", result.reason
    assert tls_fake.encrypted == [True]


def test_sslmode_disable_skips_tls(tls_fake: FakePostgres) -> None:
    result, _ = run(
        check(f"postgresql://app:{SECRET}@127.0.0.1:{tls_fake.port}/shop?sslmode=disable")
    )
    assert result.outcome == "ok", result.reason
    assert tls_fake.encrypted == [False]


def test_verify_full_checks_the_host_name(tls_fake: FakePostgres, test_ca: TlsFiles) -> None:
    dsn = (
        f"host=127.0.0.2 hostaddr=127.0.0.1 port={tls_fake.port} user=app password={SECRET} "
        f"sslmode=verify-full sslrootcert={test_ca.ca_file}"
    )
    result, _ = run(check(dsn))
    assert result.outcome == "error"
    assert "certificate verify failed" in result.reason
    assert "127.0.0.2" in result.reason


def test_verify_ca_rejects_a_server_the_root_does_not_vouch_for(
    tls_fake: FakePostgres, tmp_path: Path
) -> None:
    other = tmp_path / "other-ca.pem"
    from tests.probes.certs import ThrowawayCA

    other.write_bytes(ThrowawayCA("another CA").cert_pem)
    dsn = f"postgresql://app:{SECRET}@127.0.0.1:{tls_fake.port}/shop?sslmode=verify-ca&sslrootcert={other}"
    result, _ = run(check(dsn))
    assert result.outcome == "error"
    assert result.reason.startswith(
        f"could not connect to 127.0.0.1:{tls_fake.port}/shop: certificate verify failed"
    )


def test_verify_ca_needs_a_root_certificate(
    tls_fake: FakePostgres, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, test_ca: TlsFiles
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.postgresql/root.crt
    dsn = f"postgresql://app:{SECRET}@127.0.0.1:{tls_fake.port}/shop?sslmode=verify-ca"
    result, _ = run(check(dsn))
    assert result.outcome == "error"
    assert "root.crt" in result.reason and "sslrootcert" in result.reason
    monkeypatch.setenv("SSL_CERT_FILE", str(test_ca.ca_file))  # the system's CAs
    result, _ = run(check(f"{dsn}&sslrootcert=system"))
    assert result.outcome == "ok", result.reason
