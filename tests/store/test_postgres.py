"""What only the PostgreSQL store does: schemas, roles, dropped connections, several writers."""

import multiprocessing
from dataclasses import dataclass

import pandas as pd
import pytest

from crmframes.errors import ConfigError, StoreError
from crmframes.store import CampaignStore, pg_sql
from crmframes.store.pg_session import mask_url, positional
from crmframes.store.postgres import PostgresCampaignStore
from tests.store.pgserver import as_role, superuser


@dataclass(frozen=True)
class Imported:
    frame: pd.DataFrame
    key: str = "Id"
    modified_field: str | None = "Modified"
    watermark: tuple[str, str] | None = None


def contacts(ids, name="x", modified="2024-05-01T00:00:00Z"):
    return pd.DataFrame(
        {
            "Id": list(ids),
            "Name": [f"{name}{i}" for i in ids],
            "Modified": pd.to_datetime([modified] * len(ids), utc=True),
        }
    )


@pytest.fixture
def pg(pg_url, pg_schema):
    with CampaignStore(pg_url, schema=pg_schema) as store:
        yield store


# --- arguments and the URL -----------------------------------------------------------


def test_a_postgresql_url_opens_the_postgresql_store(pg, pg_schema):
    assert isinstance(pg, CampaignStore) and isinstance(pg, PostgresCampaignStore)
    assert pg.schema == pg_schema
    assert repr(pg).endswith(f", schema={pg_schema!r})")


def test_schema_is_refused_for_a_duckdb_store():
    with pytest.raises(ConfigError, match="PostgreSQL"):
        CampaignStore(":memory:", schema="crmframes")


def test_the_password_is_masked_in_reprs_and_errors(pg_url, pg_schema):
    url = pg_url.replace("crm@", "crm:s3cret-pw@")  # trust auth: the password is not checked
    with CampaignStore(url, schema=pg_schema) as store:
        assert "s3cret" not in repr(store) and "crm:***@" in repr(store)
        with pytest.raises(StoreError) as caught:
            store.sql("SELECT * FROM nowhere")
        assert "s3cret" not in str(caught.value) and "***" in str(caught.value)
    with pytest.raises(StoreError) as refused:
        CampaignStore("postgresql://crm:s3cret-pw@127.0.0.1:1/none")
    assert "s3cret" not in str(refused.value) and "connection" in str(refused.value)


def test_mask_url_masks_a_password_parameter_too():
    assert mask_url("postgresql://h/db?password=pw&sslmode=require") == (
        "postgresql://h/db?password=***&sslmode=require"
    )
    assert mask_url("postgresql://h/db?sslmode=require&sslpassword=key-pw") == (
        "postgresql://h/db?sslmode=require&sslpassword=***"
    )


@pytest.mark.parametrize("password", ["pa/ss", "pa?ss", "pa#ss", "p/a?s#s"])
def test_mask_url_masks_a_password_a_parser_would_read_as_the_path(password):
    url = f"postgresql://crm:{password}@127.0.0.1:1/db"
    assert mask_url(url) == "postgresql://crm:***@127.0.0.1:1/db"
    with pytest.raises(StoreError) as caught:
        CampaignStore(url)  # nothing listens on port 1
    assert password not in str(caught.value)


def test_a_url_of_another_scheme_is_refused_with_its_password_masked(tmp_path):
    with pytest.raises(ConfigError, match="is not a store crmframes opens") as caught:
        CampaignStore("postgresql+psycopg://crm:S3CRET@db/campaign")
    assert "S3CRET" not in str(caught.value) and "crm:***@" in str(caught.value)
    assert not list(tmp_path.iterdir())


def test_a_schema_parameter_leaves_the_other_parameters_as_libpq_reads_them():
    from crmframes.store.postgres import _split_schema

    url = "postgresql://crm@h/db?options=-c%20statement_timeout%3D5000&schema=s1"
    assert _split_schema(url) == (
        "postgresql://crm@h/db?options=-c%20statement_timeout%3D5000",
        "s1",
    )


@pytest.mark.parametrize(
    ("statement", "params", "expected"),
    [
        ("a = ? AND b = ?", [1, 2], ("a = $1 AND b = $2", [1, 2])),
        ("a = '?' AND \"b?\" = ? -- ?", [1], ("a = '?' AND \"b?\" = $1 -- ?", [1])),
        ("a = $x OR b = $y OR c = $x", {"x": 1, "y": 2}, ("a = $1 OR b = $2 OR c = $1", [1, 2])),
    ],
)
def test_positional_numbers_placeholders_outside_quotes(statement, params, expected):
    assert positional(statement, params) == expected


def test_a_named_parameter_without_a_value_is_a_config_error():
    with pytest.raises(ConfigError, match=r"\$y"):
        positional("a = $y", {"x": 1})


# --- beside an existing campaign database ----------------------------------------------


def test_the_store_sits_beside_existing_tables_without_touching_them(pg_url, pg_schema):
    superuser(
        pg_url,
        'CREATE TABLE public."Contact" (id int)',
        'INSERT INTO public."Contact" VALUES (7)',
    )
    try:
        with CampaignStore(pg_url, schema=pg_schema) as store:
            store.merge("Contact", contacts(["003A"]), key="Id")
            store.options["LASTIMPORT_p_c"] = "2024/05/01 00:00:00"
            assert store.tables() == ["Contact"]
        assert superuser(pg_url, 'SELECT * FROM public."Contact"') == [(7,)]
        tables = superuser(
            pg_url,
            f"SELECT table_name FROM information_schema.tables WHERE table_schema = "
            f"'{pg_schema}' ORDER BY 1",
        )
        assert [t for (t,) in tables] == [
            "Contact",
            "_crmframes_deletion_marks",
            "_crmframes_dtypes",
            "_crmframes_options",
        ]
    finally:
        superuser(pg_url, 'DROP TABLE public."Contact"')


# --- faults ----------------------------------------------------------------------------


def test_a_failed_merge_leaves_rows_columns_and_option_unchanged(pg, monkeypatch):
    pg.merge("Contact", contacts(["003A", "003B"]), key="Id", modified="Modified")
    pg.options["LASTIMPORT_p_c"] = "2024/05/01 00:00:00"
    before = pg.read("Contact", order_by="Id")
    monkeypatch.setattr(pg_sql, "upsert", lambda *a, **k: "SELECT 1/0 AS disk_full")
    newer = contacts(["003A", "003Q"], name="new", modified="2024-06-01T00:00:00Z")
    imported = Imported(newer.assign(Email="a@x"), watermark=("LASTIMPORT_p_c", "2024/06/02"))
    with pytest.raises(StoreError, match="division by zero") as caught:
        pg.merge("Contact", imported)
    assert caught.value.__cause__ is not None
    pd.testing.assert_frame_equal(pg.read("Contact", order_by="Id"), before)  # no Email
    assert dict(pg.options) == {"LASTIMPORT_p_c": "2024/05/01 00:00:00"}
    monkeypatch.undo()
    assert pg.merge("Contact", imported).inserted == 1  # the store is still usable


def test_a_dropped_connection_mid_merge_leaves_the_table_as_before(pg_url, pg_schema, monkeypatch):
    with CampaignStore(pg_url, schema=pg_schema) as store:
        store.merge("Contact", contacts(["003A", "003B"]), key="Id", modified="Modified")
        store.options["LASTIMPORT_p_c"] = "2024/05/01 00:00:00"
        pid = int(store.sql("SELECT pg_backend_pid() AS pid")["pid"][0])
        upsert = pg_sql.upsert

        def terminated_first(*args, **kwargs):
            # the merge has copied its batch, added a column and planned: kill its backend
            superuser(pg_url, f"SELECT pg_terminate_backend({pid})")
            return upsert(*args, **kwargs)

        monkeypatch.setattr(pg_sql, "upsert", terminated_first)
        newer = contacts(["003A", "003Q"], name="new", modified="2024-06-01T00:00:00Z")
        imported = Imported(newer.assign(Email="a@x"), watermark=("LASTIMPORT_p_c", "2024/06"))
        with pytest.raises(StoreError, match="connection failed or was dropped"):
            store.merge("Contact", imported)
    monkeypatch.undo()
    with CampaignStore(pg_url, schema=pg_schema) as again:
        after = again.read("Contact", order_by="Id")
        assert after.to_dict("list") == contacts(["003A", "003B"]).to_dict("list")
        assert dict(again.options) == {"LASTIMPORT_p_c": "2024/05/01 00:00:00"}


@pytest.fixture
def reader(pg_url, pg_schema):
    """A role that may read the store's schema and nothing more."""
    with CampaignStore(pg_url, schema=pg_schema) as store:
        store.merge("Contact", contacts(["003A"]), key="Id")
    superuser(
        pg_url,
        "DROP ROLE IF EXISTS reader",
        "CREATE ROLE reader LOGIN",
        f'GRANT USAGE ON SCHEMA "{pg_schema}" TO reader',
        f'GRANT SELECT ON ALL TABLES IN SCHEMA "{pg_schema}" TO reader',
    )
    yield as_role(pg_url, "reader")
    superuser(pg_url, "DROP OWNED BY reader CASCADE", "DROP ROLE reader")


def test_a_read_only_role_reads_but_a_write_says_which_privilege(reader, pg_schema):
    with CampaignStore(reader, schema=pg_schema) as store:
        assert store.read("Contact")["Id"].tolist() == ["003A"]
        assert store.merge("Contact", contacts(["003B"]), key="Id", dry_run=True).inserted == 1
        with pytest.raises(StoreError, match=r"permission denied.*GRANT.*read_only=True"):
            store.merge("Contact", contacts(["003B"]), key="Id")
        with pytest.raises(StoreError, match=r"permission denied.*_crmframes_options"):
            store.options["LASTIMPORT_p_c"] = "2024/05/01 00:00:00"
        assert store.read("Contact")["Id"].tolist() == ["003A"]
    with (
        CampaignStore(reader, schema=pg_schema, read_only=True) as store,
        pytest.raises(StoreError, match="open read-only"),
    ):
        store.merge("Contact", contacts(["003B"]), key="Id")


def test_an_unknown_schema_says_which(pg_url, reader):
    with pytest.raises(StoreError, match="schema 'nowhere' does not exist"):
        CampaignStore(pg_url, schema="nowhere", read_only=True)
    with pytest.raises(
        StoreError,
        match=r"schema 'nowhere' does not exist and role 'reader' may not create it \(permission denied for database",
    ):
        CampaignStore(reader, schema="nowhere")  # may not create it


# --- several writers -------------------------------------------------------------------


def _writer(url, schema, writer, rounds):
    """Merge overlapping batches into one table; each batch a bit newer than the last."""
    with CampaignStore(url, schema=schema) as store:
        for n in range(rounds):
            ids = [f"003{i:04d}" for i in range(n * 50, n * 50 + 400)]
            stamp = f"2024-05-01T00:{n:02d}:0{writer}Z"
            imported = Imported(
                contacts(ids, name=f"w{writer}r{n}-", modified=stamp),
                watermark=(f"LASTIMPORT_w{writer}", f"2024/05/01 00:{n:02d}:00"),
            )
            store.merge("Contact", imported)


@pytest.mark.slow
def test_two_processes_merging_one_table_lose_and_duplicate_nothing(pg_url, pg_schema):
    rounds = 6
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_writer, args=(pg_url, pg_schema, writer, rounds))
        for writer in (1, 2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    with CampaignStore(pg_url, schema=pg_schema) as store:
        stored = store.read("Contact", order_by="Id")
        assert len(stored) == stored["Id"].nunique() == (rounds - 1) * 50 + 400
        # every id holds the newest row any writer sent for it: the last round that had it,
        # from writer 2 (one second newer than writer 1 in the same round)
        last = {f"003{i:04d}": min(i // 50, rounds - 1) for i in range(len(stored))}
        expected = [f"w2r{last[i]}-{i}" for i in stored["Id"]]
        assert stored["Name"].tolist() == expected
        assert dict(store.options) == {
            "LASTIMPORT_w1": f"2024/05/01 00:{rounds - 1:02d}:00",
            "LASTIMPORT_w2": f"2024/05/01 00:{rounds - 1:02d}:00",
        }


# --- passwords -------------------------------------------------------------------------


def test_the_password_may_come_from_pgpassword(password_role, pg_url, pg_schema, monkeypatch):
    url = as_role(pg_url, "pwuser")
    monkeypatch.setenv("PGPASSWORD", password_role)  # libpq reads it: no secret in the URL
    with CampaignStore(url, schema=pg_schema) as store:
        store.merge("Contact", contacts(["003A"]), key="Id")
        assert store.tables() == ["Contact"]
    monkeypatch.delenv("PGPASSWORD")
    wrong = url.replace("pwuser@", "pwuser:wrong-s3cret@")
    with pytest.raises(StoreError, match="password authentication failed") as caught:
        CampaignStore(wrong, schema=pg_schema)
    assert "wrong-s3cret" not in str(caught.value) and "pwuser:***@" in str(caught.value)
