"""The store's fixtures: every store test runs on DuckDB and on a throw-away PostgreSQL.

``pg_server`` starts one cluster per test session (tests/store/pgserver.py); each test module
gets its own database and each PostgreSQL store its own schema. Without initdb/pg_ctl the
PostgreSQL variants are skipped, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from crmframes.store import CampaignStore
from tests.store.pgserver import PostgresServer, ServerUnavailable, start_server, superuser

_schemas = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One PostgreSQL cluster for the test session."""
    try:
        server = start_server()
    except ServerUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the PostgreSQL store tests: {exc}")
        pytest.skip(f"no PostgreSQL server can be started here: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pg_url(pg_server: PostgresServer, request: pytest.FixtureRequest) -> str:
    """A throw-away database for this test module; its URL."""
    import adbc_driver_postgresql.dbapi as adbc

    name = "test_" + request.module.__name__.rsplit(".", 1)[-1].lower()
    with adbc.connect(pg_server.url(), autocommit=True) as con, con.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    return pg_server.url(name)


@pytest.fixture
def pg_schema() -> str:
    """A schema name no other test of this session uses."""
    return f"store_{next(_schemas)}"


@pytest.fixture(params=["duckdb", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Which backend the test's store runs on."""
    return str(request.param)


@pytest.fixture
def open_store(backend: str, request: pytest.FixtureRequest, tmp_path):
    """Open stores on the test's backend: ``open_store(read_only=False)``, all one database.

    DuckDB stores share one file in ``tmp_path``; PostgreSQL stores one schema.
    """
    opened: list[CampaignStore] = []
    if backend == "postgres":
        url = request.getfixturevalue("pg_url")
        schema = request.getfixturevalue("pg_schema")

        def make(*, read_only: bool = False) -> CampaignStore:
            opened.append(CampaignStore(url, read_only=read_only, schema=schema))
            return opened[-1]

    else:
        path = tmp_path / "campaign.duckdb"

        def make(*, read_only: bool = False) -> CampaignStore:
            opened.append(CampaignStore(path, read_only=read_only))
            return opened[-1]

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(backend: str, request: pytest.FixtureRequest) -> Iterator[CampaignStore]:
    """An empty store: DuckDB in memory, or a fresh schema on PostgreSQL."""
    if backend == "postgres":
        url = request.getfixturevalue("pg_url")
        schema = request.getfixturevalue("pg_schema")
        with CampaignStore(url, schema=schema) as s:
            yield s
    else:
        with CampaignStore() as s:
            yield s


@pytest.fixture
def password_role(pg_server, pg_url):
    """A role the server asks a password of (scram-sha-256), named pwuser; its password."""
    hba = pg_server.folder / "data" / "pg_hba.conf"
    rule = "host all pwuser 127.0.0.1/32 scram-sha-256\n"
    hba.write_text(rule + hba.read_text())  # the first matching line wins
    superuser(
        pg_url,
        "DROP ROLE IF EXISTS pwuser",
        "CREATE ROLE pwuser LOGIN PASSWORD 'pw-from-env'",
        "GRANT CREATE ON DATABASE " + pg_url.rsplit("/", 1)[1] + " TO pwuser",
        "SELECT pg_reload_conf()",
    )
    yield "pw-from-env"
    superuser(pg_url, "DROP OWNED BY pwuser CASCADE", "DROP ROLE pwuser")
    hba.write_text(hba.read_text().replace(rule, ""))
    superuser(pg_url, "SELECT pg_reload_conf()")
