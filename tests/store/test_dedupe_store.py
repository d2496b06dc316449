import pandas as pd
import pytest

from crmframes.errors import ColumnNotFoundError, ConfigError, DataError, StoreError
from crmframes.store import CampaignStore


def contacts():
    return pd.DataFrame(
        {
            "Id": ["c1", "c2", "c3", "c4", "c5"],
            "Email": ["ann@x.org", "ANN@x.org ", "bo@y.org", "ann@x.org", "bo@y.org"],
            "Phone": [None, "555-0100", "555-0200", None, "555-0300"],
            "MailingStreet": [None, None, "2 Elm St", "9 Oak Ave", None],
            "MailingCity": [None, "Paris", "Lyon", "Paris", None],
            "Score": pd.array([1, None, 3, 4, 5], dtype="Int64"),
            "LastModifiedDate": pd.to_datetime(
                ["2024-01-01", "2025-06-01", "2024-02-02", "2023-01-01", "2026-01-01"], utc=True
            ),
        }
    )


@pytest.fixture
def store(store):
    store.merge("Contact", contacts(), key="Id")
    return store


def table(store):
    """The stored table as a dict literal, nulls as None."""
    df = store.read("Contact", order_by="Id")
    return df.astype(object).where(df.notna(), None).to_dict("list")


def test_dedupe_deletes_removed_rows_and_writes_filled_survivors(store):
    result = store.dedupe(
        "Contact",
        on="Email",
        key="Id",
        merge=[["MailingStreet", "MailingCity"], "Phone"],
    )
    assert result.table == "Contact" and not result.dry_run
    assert result.removed[["Id", "survivorKey"]].to_dict("list") == {
        "Id": ["c1", "c3", "c4"],
        "survivorKey": ["c2", "c5", "c2"],
    }
    stored = table(store)
    assert stored["Id"] == ["c2", "c5"]
    assert stored["MailingStreet"] == ["9 Oak Ave", "2 Elm St"]  # whole groups from donors
    assert stored["MailingCity"] == ["Paris", "Lyon"]
    assert stored["Phone"] == ["555-0100", "555-0300"]  # complete groups stay
    assert stored["Score"] == [None, 5]
    assert stored["LastModifiedDate"] == [
        pd.Timestamp("2025-06-01", tz="UTC"),
        pd.Timestamp("2026-01-01", tz="UTC"),
    ]
    assert str(store.read("Contact")["Score"].dtype) == "Int64"
    assert str(result) == (
        "deduplicated 5 rows in 'Contact': 2 clusters, 3 removed, 2 kept, 2 survivors filled"
    )


def test_dedupe_dry_run_reports_and_writes_nothing(store):
    before = table(store)
    result = store.dedupe("Contact", on="Email", key="Id", merge="Phone", dry_run=True)
    assert result.dry_run
    assert result.counts["removed"] == 3
    assert str(result).endswith("(dry run: nothing written)")
    assert table(store) == before


def test_dedupe_without_key_names_survivors_by_position(store):
    result = store.dedupe("Contact", on="Email", keep="first")
    assert result.removed["survivorKey"].tolist() == [0, 0, 2]
    assert table(store)["Id"] == ["c1", "c3"]


def test_dedupe_with_fuzzy_rules_in_the_store():
    df = pd.DataFrame(
        {
            "Id": ["a", "b", "c"],
            "FirstName": ["Bill", "William", "Anna"],
            "LastName": ["Jonse", "Jones", "Jones"],
            "Birthdate": ["1970-01-01", "1970-01-01", "1970-01-01"],
        }
    )
    with CampaignStore() as store:
        store.merge("Contact", df, key="Id")
        result = store.dedupe(
            "Contact",
            on=[["FirstName", "LastName", "Birthdate"]],
            fuzzy=["FirstName", "LastName"],
            keep="last",
            key="Id",
        )
        assert result.clusters["matchReason"].str.contains("fuzzy").all()
        assert store.read("Contact", order_by="Id")["Id"].tolist() == ["b", "c"]


def test_dedupe_is_one_transaction(store):
    # A row that another table references cannot be deleted: the DELETE fails after the
    # survivors were updated, and the update must be rolled back with it.
    store.sql('CREATE TABLE "Keyed" ("Id" VARCHAR PRIMARY KEY, "Email" VARCHAR, "Phone" VARCHAR)')
    store.sql("INSERT INTO \"Keyed\" VALUES ('k1', 'a@x', NULL), ('k2', 'A@x', '555')")
    store.sql('CREATE TABLE "Child" ("Parent" VARCHAR REFERENCES "Keyed" ("Id"))')
    store.sql("INSERT INTO \"Child\" VALUES ('k2')")
    with pytest.raises(StoreError, match="foreign key"):
        store.dedupe("Keyed", on="Email", keep="first", key="Id", merge="Phone")
    keyed = store.sql('SELECT * FROM "Keyed" ORDER BY "Id"')
    assert keyed.astype(object).where(keyed.notna(), None).to_dict("list") == {
        "Id": ["k1", "k2"],
        "Email": ["a@x", "A@x"],
        "Phone": [None, "555"],
    }


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"on": "Emial"}, ColumnNotFoundError, "did you mean 'Email'"),
        ({"on": "Email", "keep": ("max", "Scroe")}, ColumnNotFoundError, "did you mean 'Score'"),
        ({"on": "Email", "keep": "newest"}, ConfigError, "unknown keep method"),
        ({"on": "Email", "merge": ["Phone", ["Id"]], "key": "Id"}, ConfigError, "merge group"),
    ],
)
def test_dedupe_refuses_bad_arguments_and_changes_nothing(store, options, error, message):
    before = table(store)
    with pytest.raises(error, match=message):
        store.dedupe("Contact", **options)
    assert table(store) == before


def test_dedupe_needs_an_existing_table_and_a_writable_store(store, tmp_path):
    with pytest.raises(StoreError, match="no table 'Lead'"):
        store.dedupe("Lead", on="Email")
    path = tmp_path / "campaign.duckdb"
    with CampaignStore(path) as writable:
        writable.merge("Contact", contacts(), key="Id")
    with CampaignStore(path, read_only=True) as read_only:
        with pytest.raises(StoreError, match="read-only"):
            read_only.dedupe("Contact", on="Email")
        assert read_only.dedupe("Contact", on="Email", dry_run=True).counts["removed"] == 3


def test_dedupe_refuses_a_table_with_a_rowid_column(store):
    store.sql("""CREATE TABLE "Odd" AS SELECT 'a' AS "Id", 1 AS rowid""")
    with pytest.raises(DataError, match="column named 'rowid'"):
        store.dedupe("Odd", on="Id")


def test_dedupe_applies_reviewed_clusters(store):
    from crmframes.dedupe import find_duplicates

    found = find_duplicates(store.read("Contact"), on="Email")
    reviewed = found.copy()
    # the reviewer splits c4 off Ann's cluster: a different Ann at the same address
    reviewed.loc[reviewed["Id"] == "c4", "clusterId"] = pd.NA
    result = store.dedupe("Contact", clusters=reviewed, key="Id", keep="recent")
    assert sorted(result.removed["Id"]) == ["c1", "c3"]
    assert sorted(table(store)["Id"]) == ["c2", "c4", "c5"]


def test_dedupe_clusters_are_checked_before_anything_is_written(store):
    found = pd.DataFrame({"Id": ["c1", "c1"], "clusterId": [0, 1]})
    with pytest.raises(ConfigError, match=r"on= .* or clusters="):
        store.dedupe("Contact", on="Email", clusters=found, key="Id")
    with pytest.raises(ConfigError, match="needs key="):
        store.dedupe("Contact", clusters=found)
    with pytest.raises(ConfigError, match="more than once"):
        store.dedupe("Contact", clusters=found, key="Id")
    with pytest.raises(ColumnNotFoundError):
        store.dedupe("Contact", clusters=found.rename(columns={"clusterId": "cluster"}), key="Id")
    elsewhere = pd.DataFrame({"Id": ["x1", "x2"], "clusterId": [0, 0]})  # e.g. a wrong key dtype
    with pytest.raises(DataError, match="none of the 2 reviewed keys is in table 'Contact'"):
        store.dedupe("Contact", clusters=elsewhere, key="Id")
    assert sorted(table(store)["Id"]) == ["c1", "c2", "c3", "c4", "c5"]
