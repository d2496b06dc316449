import threading
from dataclasses import dataclass
from datetime import date

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crmframes.errors import ColumnNotFoundError, ConfigError, DataError, StoreError
from crmframes.store import CampaignStore, MergeResult, Watermarked
from crmframes.store import sql as store_sql


@dataclass(frozen=True)
class Imported:
    """What an import result offers the store (the Watermarked protocol)."""

    frame: pd.DataFrame
    key: str = "Id"
    modified_field: str | None = "LastModifiedDate"
    watermark: tuple[str, str] | None = None


def ts(text):
    return pd.Timestamp(text, tz="UTC")


def frame(data):
    """A frame from a dict literal; *Date columns become tz-aware timestamps."""
    df = pd.DataFrame(data)
    for column in df.columns:
        if column.endswith("Date"):
            df[column] = pd.to_datetime(df[column], utc=True)
    return df


def rows(store, table="Contact", order_by="Id"):
    """The table as a dict literal, missing values as None."""
    df = store.read(table, order_by=order_by)
    return df.astype(object).where(df.notna(), None).to_dict("list")


@pytest.fixture
def contacts(store):
    store.merge(
        "Contact",
        frame(
            {
                "Id": ["003A", "003B", "003C"],
                "LastName": ["Ada", "Bob", "Cy"],
                "LastModifiedDate": ["2024-05-01T10:00:00Z"] * 3,
            }
        ),
        key="Id",
        modified="LastModifiedDate",
    )
    return store


def test_merge_creates_the_table_on_first_merge(store):
    result = store.merge(
        "Contact", frame({"Id": ["003A", "003B"], "LastName": ["Ada", "Bob"]}), key="Id"
    )
    assert result == MergeResult(table="Contact", inserted=2, created=True)
    assert result.rows == 2
    assert store.tables() == ["Contact"]
    assert rows(store) == {"Id": ["003A", "003B"], "LastName": ["Ada", "Bob"]}


def test_merge_counts_inserted_updated_and_unchanged(contacts):
    result = contacts.merge(
        "Contact",
        frame(
            {
                "Id": ["003A", "003B", "003D"],
                "LastName": ["Ada", "Bobby", "Dee"],
                "LastModifiedDate": [
                    "2024-05-01T10:00:00Z",
                    "2024-05-02T10:00:00Z",
                    "2024-05-02T10:00:00Z",
                ],
            }
        ),
        key="Id",
        modified="LastModifiedDate",
    )
    assert (result.inserted, result.updated, result.unchanged, result.skipped_older) == (1, 1, 1, 0)
    assert not result.created
    assert rows(contacts) == {
        "Id": ["003A", "003B", "003C", "003D"],
        "LastName": ["Ada", "Bobby", "Cy", "Dee"],
        "LastModifiedDate": [
            ts("2024-05-01T10:00Z"),
            ts("2024-05-02T10:00Z"),
            ts("2024-05-01T10:00Z"),
            ts("2024-05-02T10:00Z"),
        ],
    }


def test_merge_compares_nulls_as_equal(store):
    data = {"Id": ["1", "2"], "Phone": [None, "555"], "Score": [None, 1.5]}
    store.merge("Contact", frame(data), key="Id")
    result = store.merge("Contact", frame(data), key="Id")
    assert (result.unchanged, result.updated) == (2, 0)
    result = store.merge("Contact", frame({"Id": ["1", "2"], "Phone": ["444", None]}), key="Id")
    assert (result.unchanged, result.updated) == (0, 2)
    assert rows(store) == {"Id": ["1", "2"], "Phone": ["444", None], "Score": [None, 1.5]}


def test_merge_dedupes_the_batch_last_row_wins(store):
    df = frame({"Id": ["A", "B", "A", "A"], "City": ["Paris", "Oslo", "Rome", "Lima"]})
    result = store.merge("Contact", df, key="Id")
    assert (result.inserted, result.duplicates, result.rows) == (2, 2, 2)
    assert rows(store) == {"Id": ["A", "B"], "City": ["Lima", "Oslo"]}


def test_merge_dedupes_the_batch_newest_modified_wins(contacts):
    df = frame(
        {
            "Id": ["003A", "003A", "003A", "003E", "003E"],
            "LastName": ["newest", "older", "oldest", "e1", "e2"],
            "LastModifiedDate": [
                "2024-06-03T00:00:00Z",
                "2024-06-02T00:00:00Z",
                "2024-06-01T00:00:00Z",
                "2024-06-01T00:00:00Z",
                "2024-06-01T00:00:00Z",
            ],
        }
    )
    result = contacts.merge("Contact", df, key="Id", modified="LastModifiedDate")
    assert (result.updated, result.inserted, result.duplicates) == (1, 1, 3)
    assert rows(contacts)["LastName"] == ["newest", "Bob", "Cy", "e2"]


def test_merge_never_lets_an_older_row_overwrite_a_newer_one(contacts):
    df = frame(
        {
            "Id": ["003A", "003B"],
            "LastName": ["stale", "fresh"],
            "LastModifiedDate": ["2024-04-30T23:59:59Z", "2024-05-01T10:00:01Z"],
        }
    )
    result = contacts.merge("Contact", df, key="Id", modified="LastModifiedDate")
    assert (result.skipped_older, result.updated) == (1, 1)
    assert rows(contacts)["LastName"] == ["Ada", "fresh", "Cy"]


def test_a_row_without_a_modified_stamp_never_overwrites_a_stamped_one(contacts):
    df = frame({"Id": ["003A"], "LastName": ["unstamped"], "LastModifiedDate": [None]})
    result = contacts.merge("Contact", df, key="Id", modified="LastModifiedDate")
    assert (result.skipped_older, result.updated) == (1, 0)
    assert rows(contacts)["LastName"] == ["Ada", "Bob", "Cy"]


def test_merge_with_the_same_modified_stamp_rewrites_a_changed_row(contacts):
    df = frame(
        {"Id": ["003A"], "LastName": ["Ada L."], "LastModifiedDate": ["2024-05-01T10:00:00Z"]}
    )
    result = contacts.merge("Contact", df, key="Id", modified="LastModifiedDate")
    assert (result.updated, result.skipped_older) == (1, 0)


def test_merge_adds_new_columns(contacts):
    df = frame(
        {"Id": ["003A", "003Z"], "Email": ["ada@x.org", "z@x.org"], "Account.Name": ["Acme", None]}
    )
    result = contacts.merge("Contact", df, key="Id")
    assert result.columns_added == ("Email", "Account.Name")
    assert (result.updated, result.inserted) == (1, 1)
    assert rows(contacts) == {
        "Id": ["003A", "003B", "003C", "003Z"],
        "LastName": ["Ada", "Bob", "Cy", None],
        "LastModifiedDate": [ts("2024-05-01T10:00Z")] * 3 + [None],
        "Email": ["ada@x.org", None, None, "z@x.org"],
        "Account.Name": ["Acme", None, None, None],
    }


def test_merge_leaves_columns_missing_from_the_batch_untouched(store):
    store.merge(
        "Contact",
        frame({"Id": ["A", "B"], "City": ["Paris", "Oslo"], "Phone": ["1", "2"]}),
        key="Id",
    )
    result = store.merge("Contact", frame({"Id": ["A", "C"], "Phone": ["9", "3"]}), key="Id")
    assert (result.updated, result.inserted, result.columns_added) == (1, 1, ())
    assert rows(store) == {
        "Id": ["A", "B", "C"],
        "City": ["Paris", "Oslo", None],
        "Phone": ["9", "2", "3"],
    }


def test_a_newer_row_keeps_the_stored_columns_it_lacks(contacts):
    df = frame({"Id": ["003A"], "Email": ["ada@x.org"], "LastModifiedDate": ["2024-06-01T00:00Z"]})
    result = contacts.merge("Contact", df, key="Id", modified="LastModifiedDate")
    assert (result.updated, result.columns_added) == (1, ("Email",))
    assert rows(contacts) == {
        "Id": ["003A", "003B", "003C"],
        "LastName": ["Ada", "Bob", "Cy"],
        "LastModifiedDate": [ts("2024-06-01T00:00Z")] + [ts("2024-05-01T10:00Z")] * 2,
        "Email": ["ada@x.org", None, None],
    }


def test_merge_matches_column_names_case_insensitively(store):
    store.merge("Contact", frame({"Id": ["A"], "Email": ["a@x.org"]}), key="Id")
    result = store.merge("contact", frame({"id": ["A"], "email": ["b@x.org"]}), key="id")
    assert (result.table, result.updated, result.columns_added) == ("Contact", 1, ())
    assert rows(store) == {"Id": ["A"], "Email": ["b@x.org"]}


def test_merge_with_a_composite_key(store):
    df = frame(
        {
            "Campaign": ["C1", "C1", "C2"],
            "Contact": ["A", "B", "A"],
            "Status": ["sent", "sent", "sent"],
        }
    )
    store.merge("Member", df, key=["Campaign", "Contact"])
    again = frame(
        {
            "Campaign": ["C1", "C2", "C2"],
            "Contact": ["A", "A", "B"],
            "Status": ["opened", "sent", "sent"],
        }
    )
    result = store.merge("Member", again, key=["Campaign", "Contact"])
    assert (result.updated, result.unchanged, result.inserted) == (1, 1, 1)
    assert rows(store, "Member", order_by=["Campaign", "Contact"]) == {
        "Campaign": ["C1", "C1", "C2", "C2"],
        "Contact": ["A", "B", "A", "B"],
        "Status": ["opened", "sent", "sent", "sent"],
    }


def test_merge_quotes_every_identifier(store):
    table, column = 'odd "table"; DROP TABLE x', 'say "hi"'
    store.merge(table, frame({"Id": ["A"], column: ["x"]}), key="Id")
    store.merge(table, frame({"Id": ["A"], column: ["y"], "new.col": [1]}), key="Id")
    assert rows(store, table) == {"Id": ["A"], column: ["y"], "new.col": [1]}


def test_dtypes_round_trip(store):
    df = pd.DataFrame(
        {
            "Id": pd.array(["A", "B"], dtype="str"),
            "Name": pd.array(["Ada", None], dtype="str"),
            "Visits": pd.array([3, None], dtype="Int64"),
            "Total": [7, 8],
            "OptedOut": pd.array([True, None], dtype="boolean"),
            "Active": [True, False],
            "Score": [1.5, None],
            "CreatedDate": pd.to_datetime(["2024-05-01T10:00:00.123Z", None], utc=True),
            "Local": pd.to_datetime(["2024-05-01 10:00", "2024-05-02 11:00"]),
        }
    )
    store.merge("Contact", df, key="Id")
    back = store.read("Contact", order_by="Id")
    assert dict(back.dtypes.astype(str)) == {
        "Id": "str",
        "Name": "str",
        "Visits": "Int64",
        "Total": "int64",
        "OptedOut": "boolean",
        "Active": "bool",
        "Score": "float64",
        "CreatedDate": "datetime64[us, UTC]",
        "Local": "datetime64[us]",
    }
    pd.testing.assert_frame_equal(back, df)


def test_dtypes_of_an_import_frame_round_trip_without_nulls(store):
    df = pd.DataFrame(
        {
            "Id": ["A", "B"],
            "Employees": pd.array([10, 20], dtype="Int64"),
            "IsActive": pd.array([True, False], dtype="boolean"),
            "Revenue": pd.array([1.5, 2.5], dtype="Float64"),
            "Code": pd.array(["x", "y"], dtype="string"),
            "Birthdate": pd.array([date(1990, 1, 2), None], dtype=pd.ArrowDtype(pa.date32())),
        }
    )
    store.merge("Account", df, key="Id")
    pd.testing.assert_frame_equal(store.read("Account", order_by="Id"), df)
    selected = store.read("account", columns=["employees"])  # names are case-insensitive
    assert dict(selected.dtypes.astype(str)) == {"Employees": "Int64"}


def test_a_numpy_int_column_becomes_nullable_when_new_rows_lack_it(store):
    store.merge("Contact", frame({"Id": ["A"], "Visits": [3]}), key="Id")
    store.merge("Contact", frame({"Id": ["B"]}), key="Id")
    back = store.read("Contact", order_by="Id")
    assert str(back["Visits"].dtype) == "Int64"
    assert back["Visits"].tolist() == [3, pd.NA]


def test_timestamps_in_any_zone_are_stored_as_the_same_instant(store):
    paris = pd.to_datetime(["2024-05-01 12:00"]).as_unit("ns").tz_localize("Europe/Paris")
    store.merge("Contact", pd.DataFrame({"Id": ["A"], "SeenDate": paris}), key="Id")
    assert rows(store)["SeenDate"] == [ts("2024-05-01T10:00Z")]
    assert str(store.read("Contact")["SeenDate"].dtype) == "datetime64[us, UTC]"


def test_options_persist_across_reopening_a_file_store(tmp_path):
    path = tmp_path / "campaign.duckdb"
    with CampaignStore(path) as store:
        store.options["LASTIMPORT_prod_contacts"] = "2024/05/01 10:00:00"
        store.options.set_many({"a": "1", "b": "2"})
        del store.options["b"]
    with CampaignStore(path, read_only=True) as store:
        assert dict(store.options) == {"LASTIMPORT_prod_contacts": "2024/05/01 10:00:00", "a": "1"}
        assert len(store.options) == 2
        assert "a" in store.options and "b" not in store.options
        assert store.tables() == []
        assert "read_only=True" in repr(store)


def test_options_behave_like_a_dict(store):
    assert dict(store.options) == {}
    with pytest.raises(KeyError):
        store.options["missing"]
    with pytest.raises(KeyError):
        del store.options["missing"]
    store.options["x"] = "1"
    store.options["x"] = "2"
    assert store.options.get("x") == "2"
    assert repr(store.options) == "StoreOptions({'x': '2'})"
    with pytest.raises(TypeError, match="must be a string"):
        store.options["x"] = 3
    assert store.options["x"] == "2"


def test_watermarked_merge_writes_rows_and_option_together(store):
    imported = Imported(
        frame({"Id": ["A"], "LastModifiedDate": ["2024-05-01T10:00:00Z"]}),
        watermark=("LASTIMPORT_prod_contacts", "2024/05/02 00:00:00"),
    )
    assert isinstance(imported, Watermarked)
    result = store.merge("Contact", imported)
    assert (result.inserted, result.watermark) == (
        1,
        ("LASTIMPORT_prod_contacts", "2024/05/02 00:00:00"),
    )
    assert dict(store.options) == {"LASTIMPORT_prod_contacts": "2024/05/02 00:00:00"}
    older = Imported(frame({"Id": ["A"], "LastModifiedDate": ["2024-04-01T00:00:00Z"]}))
    assert store.merge("Contact", older).skipped_older == 1  # modified defaults to modified_field


def test_watermarked_merge_of_no_rows_still_advances_the_watermark(store):
    imported = Imported(
        frame({"Id": [], "LastModifiedDate": []}),
        watermark=("LASTIMPORT_p_c", "2024/05/02 00:00:00"),
    )
    result = store.merge("Contact", imported)
    assert (result.rows, result.watermark) == (0, ("LASTIMPORT_p_c", "2024/05/02 00:00:00"))
    assert store.tables() == []
    assert store.options["LASTIMPORT_p_c"] == "2024/05/02 00:00:00"


def test_plain_frame_merge_never_touches_an_option(contacts):
    contacts.merge("Contact", frame({"Id": ["003A"], "LastName": ["x"]}), key="Id")
    assert dict(contacts.options) == {}


@pytest.mark.parametrize("backend", ["duckdb"])  # PostgreSQL's own: test_postgres.py
def test_failed_merge_leaves_rows_columns_and_option_unchanged(contacts, monkeypatch):
    contacts.options["LASTIMPORT_p_c"] = "2024/05/01 00:00:00"
    before = rows(contacts)
    monkeypatch.setattr(store_sql, "insert_changes", lambda *args: "SELECT error('disk full')")
    imported = Imported(
        frame(
            {
                "Id": ["003A", "003Q"],
                "LastName": ["changed", "new"],
                "Email": ["a@x", "q@x"],
                "LastModifiedDate": ["2024-06-01T00:00Z"] * 2,
            }
        ),
        watermark=("LASTIMPORT_p_c", "2024/06/02 00:00:00"),
    )
    with pytest.raises(StoreError, match="disk full") as caught:
        contacts.merge("Contact", imported)
    assert caught.value.__cause__ is not None
    assert rows(contacts) == before  # the delete and the new column were rolled back
    assert dict(contacts.options) == {"LASTIMPORT_p_c": "2024/05/01 00:00:00"}
    assert contacts.sql("SELECT count(*) AS n FROM duckdb_tables() WHERE temporary").to_dict(
        "list"
    ) == {"n": [0]}
    monkeypatch.undo()
    assert contacts.merge("Contact", imported).updated == 1  # the store is still usable


def test_type_conflict_fails_before_any_write(contacts):
    contacts.options["LASTIMPORT_p_c"] = "old"
    before = rows(contacts)
    imported = Imported(
        frame({"Id": ["003A"], "LastModifiedDate": ["2024-06-01"], "LastName": [42]}),
        watermark=("LASTIMPORT_p_c", "new"),
    )
    with pytest.raises(
        DataError, match=r"column 'LastName' is BIGINT in the batch but VARCHAR.*astype\('str'\)"
    ):
        contacts.merge("Contact", imported)
    assert rows(contacts) == before
    assert contacts.options["LASTIMPORT_p_c"] == "old"


def test_key_type_conflict_is_a_data_error(store):
    store.merge("Account", frame({"Id": ["1", "2"]}), key="Id")
    with pytest.raises(DataError, match="key column 'Id' is BIGINT in the batch but VARCHAR"):
        store.merge("Account", frame({"Id": [1, 2]}), key="Id")


def test_integers_widen_into_a_double_column(store):
    store.merge("Contact", frame({"Id": ["A"], "Score": [1.5]}), key="Id")
    assert store.merge("Contact", frame({"Id": ["B"], "Score": [2]}), key="Id").inserted == 1
    assert rows(store)["Score"] == [1.5, 2.0]


def test_dry_run_counts_and_writes_nothing(contacts):
    before = rows(contacts)
    df = frame(
        {"Id": ["003A", "003B", "003N"], "LastName": ["Ada", "B.", "New"], "Email": ["a", "b", "n"]}
    )
    imported = Imported(df, modified_field=None, watermark=("LASTIMPORT_p_c", "2024/06/02"))
    result = contacts.merge("Contact", imported, dry_run=True)
    assert (result.inserted, result.updated, result.unchanged) == (1, 2, 0)
    assert (result.columns_added, result.watermark, result.dry_run) == (("Email",), None, True)
    assert str(result).startswith("dry run: would merge 3 rows into 'Contact'")
    assert rows(contacts) == before
    assert dict(contacts.options) == {}


def test_dry_run_into_a_new_table_creates_nothing(contacts):
    result = contacts.merge("Lead", frame({"Id": ["00Q1", "00Q2"]}), key="Id", dry_run=True)
    assert (result.inserted, result.created, result.dry_run) == (2, True, True)
    assert contacts.tables() == ["Contact"]


def test_merge_result_reads_well_in_a_notebook(contacts):
    result = contacts.merge(
        "Contact",
        Imported(
            frame(
                {
                    "Id": ["003A", "003A", "003X"],
                    "Email": ["a", "b", "x"],
                    "LastModifiedDate": ["2024-06-01"] * 3,
                }
            ),
            watermark=("W", "v"),
        ),
    )
    assert str(result) == (
        "merged 2 rows into 'Contact': 1 inserted, 1 updated, 0 unchanged, 0 skipped as older, "
        "1 duplicates dropped; columns added: Email; watermark: W = v"
    )
    html = result._repr_html_()
    assert "<table>" in html and "duplicates dropped" in html and "W = v" in html


def test_read_selects_columns_rows_and_order(contacts):
    df = contacts.read(
        "contact",
        columns=["LastName"],
        where='"Id" <> ?',
        params=["003B"],
        order_by=[("Id", "desc")],
    )
    assert df.to_dict("list") == {"LastName": ["Cy", "Ada"]}


def test_sql_runs_a_query_with_parameters(contacts):
    df = contacts.sql(
        'SELECT "Id", length("LastName") AS n FROM "Contact" WHERE "Id" >= $first ORDER BY 1',
        {"first": "003B"},
    )
    assert df.to_dict("list") == {"Id": ["003B", "003C"], "n": [3, 2]}


def test_to_parquet_writes_the_table(contacts, tmp_path):
    path = contacts.to_parquet("Contact", tmp_path / "contacts.parquet")
    table = pq.read_table(path).sort_by("Id")
    assert table.column("LastName").to_pylist() == ["Ada", "Bob", "Cy"]
    assert str(table.schema.field("LastModifiedDate").type) == "timestamp[us, tz=UTC]"


def test_concurrent_merges_from_threads_are_serialised(store):
    def work(n):
        store.merge(
            "Contact", frame({"Id": [f"{n}-{i}" for i in range(50)], "n": [n] * 50}), key="Id"
        )

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.sql('SELECT count(*) AS n FROM "Contact"').to_dict("list") == {"n": [300]}


# --- bad input ----------------------------------------------------------------------------


def test_read_of_an_unknown_table_lists_the_tables(contacts):
    with pytest.raises(StoreError, match=r"no table 'Lead'.*tables: 'Contact'"):
        contacts.read("Lead")
    with pytest.raises(StoreError, match="no table"):
        contacts.to_parquet("Lead", "x.parquet")


def test_read_of_an_unknown_column(contacts):
    with pytest.raises(
        ColumnNotFoundError, match="column 'Email' is not in table 'Contact'; columns are: 'Id'"
    ):
        contacts.read("Contact", columns=["Email"])
    with pytest.raises(ColumnNotFoundError):
        contacts.read("Contact", order_by="Email")
    with pytest.raises(ConfigError, match="'asc' or 'desc'"):
        contacts.read("Contact", order_by=[("Id", "up")])


def test_merge_without_the_key_column(store):
    with pytest.raises(
        ColumnNotFoundError, match="column 'Id' is not in the frame; columns are: 'id'"
    ) as caught:
        store.merge("Contact", frame({"id": ["A"]}), key="Id")
    assert isinstance(caught.value, KeyError)
    with pytest.raises(ColumnNotFoundError, match="'SystemModstamp'"):
        store.merge("Contact", frame({"Id": ["A"]}), key="Id", modified="SystemModstamp")
    with pytest.raises(ConfigError, match="merge needs key="):
        store.merge("Contact", frame({"Id": ["A"]}))
    assert store.tables() == []


def test_merge_with_null_keys_names_how_many(store):
    with pytest.raises(DataError, match=r"2 rows have a null key \(Id\)"):
        store.merge("Contact", frame({"Id": ["A", None, None]}), key="Id")
    assert store.tables() == []


def test_merge_refuses_a_rowid_column_in_the_batch_or_the_table(store):
    """A user column named rowid would hide DuckDB's row ids, which the merge deletes by."""
    with pytest.raises(DataError, match="column named 'RowId'"):
        store.merge("Contact", frame({"Id": ["a", "b"], "RowId": [7, 7]}), key="Id")
    assert store.tables() == []
    store.sql("""CREATE TABLE "Odd" AS SELECT 'a' AS "Id", 7 AS rowid""")
    with pytest.raises(DataError, match="table 'Odd' has a column named 'rowid'"):
        store.merge("Odd", frame({"Id": ["a"]}), key="Id")


def test_merge_of_an_empty_frame_creates_nothing(store):
    result = store.merge("Contact", frame({"Id": []}), key="Id")
    assert result == MergeResult(table="Contact")
    assert store.tables() == []


def test_merge_into_a_table_without_the_key_column(contacts):
    with pytest.raises(DataError, match="table 'Contact' has no key column 'Email'"):
        contacts.merge("Contact", frame({"Email": ["a@x"]}), key="Email")


@pytest.mark.parametrize(
    ("df", "message"),
    [
        (pd.DataFrame({"Id": ["A"], "email": ["a"], "Email": ["b"]}), "collide"),
        (pd.DataFrame({"Id": ["A"], 3: ["a"]}), "must be strings"),
        (pd.DataFrame({"Id": ["A", "B"], "Mixed": ["a", 1]}), "cannot be stored"),
        (pd.DataFrame({"Id": ["A"], "__crmframes_seq": [1]}), "reserved prefix"),
    ],
)
def test_merge_of_a_frame_that_cannot_be_stored(store, df, message):
    with pytest.raises(DataError, match=message):
        store.merge("Contact", df, key="Id")
    assert store.tables() == []


def test_merge_rejects_bad_arguments(store):
    with pytest.raises(TypeError, match="DataFrame or an import result"):
        store.merge("Contact", [{"Id": "A"}], key="Id")
    with pytest.raises(ConfigError, match="reserved"):
        store.merge("_crmframes_options", frame({"Id": ["A"]}), key="Id")
    with pytest.raises(TypeError, match="must be a string"):
        store.merge(
            "Contact",
            Imported(frame({"Id": ["A"], "LastModifiedDate": ["2024"]}), watermark=("W", 1)),
        )


def test_a_read_only_store_can_preview_but_not_write(tmp_path):
    path = tmp_path / "c.duckdb"
    with CampaignStore(path) as store:
        store.merge("Contact", frame({"Id": ["A"]}), key="Id")
    with CampaignStore(path, read_only=True) as store:
        with pytest.raises(StoreError, match=r"cannot merge into 'Contact': .* is open read-only"):
            store.merge("Contact", frame({"Id": ["B"]}), key="Id")
        with pytest.raises(StoreError, match="read-only"):
            store.options["x"] = "1"
        assert (
            store.merge("Contact", frame({"Id": ["A", "B"]}), key="Id", dry_run=True).inserted == 1
        )
        assert rows(store) == {"Id": ["A"]}


def test_opening_and_using_a_closed_store(tmp_path):
    with pytest.raises(StoreError, match="in-memory database in read-only mode"):
        CampaignStore(":memory:", read_only=True)
    store = CampaignStore(tmp_path / "c.duckdb")
    store.close()
    store.close()
    assert repr(store).endswith("(closed)")
    with pytest.raises(StoreError, match="is closed"):
        store.tables()


def test_sql_errors_are_store_errors(store):
    with pytest.raises(StoreError, match="nope") as caught:
        store.sql("SELECT * FROM nope")
    assert caught.value.__cause__ is not None


def test_apply_deletions_matches_guids_in_any_case_and_other_ids_exactly(store):
    guid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    store.merge(
        "C",
        frame({"Id": ["003000000000ABC", "003000000000abc", guid, "003000000000XYZ"]}),
        key="Id",
    )
    store.sql('ALTER TABLE "C" ADD COLUMN "CRMDELETEDDATE" TIMESTAMPTZ')  # another case
    deleted = frame(
        {
            "Id": ["003000000000ABC", guid.upper(), "003000000000ABC"],  # an id twice
            "deletedDate": ["2026-01-02T00:00:00Z", None, "2026-01-03T00:00:00Z"],
        }
    )
    assert store.apply_deletions("C", deleted, key="Id") == 2
    marked = store.read("C", where='"CRMDELETEDDATE" IS NOT NULL', order_by=["Id"])
    assert marked["Id"].tolist() == ["003000000000ABC", guid]
    assert str(marked["CRMDELETEDDATE"][0]) == "2026-01-03 00:00:00+00:00"
    assert store.apply_deletions("C", deleted, key="Id", mode="hard") == 2
    assert sorted(store.read("C")["Id"]) == ["003000000000XYZ", "003000000000abc"]
