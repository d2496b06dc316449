"""The store holds what the CRM holds: stamps as instants, one writer per file, CRM id semantics."""

import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from crmframes.errors import DataError
from crmframes.store import CampaignStore

GUID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def rows(store, table="Contact", order_by="Id"):
    """The table as a dict literal, missing values as None."""
    df = store.read(table, order_by=order_by)
    return df.astype(object).where(df.notna(), None).to_dict("list")


# --- text stamps are instants ------------------------------------------------------------


def test_an_older_text_stamp_with_an_offset_never_overwrites_a_newer_one(store):
    stored = {"Id": ["003A"], "Name": ["new"], "Modified": ["2024-01-02T09:30:00Z"]}
    store.merge("Contact", pd.DataFrame(stored), key="Id", modified="Modified")
    older = {"Id": ["003A"], "Name": ["old"], "Modified": ["2024-01-02T10:00:00+01:00"]}
    result = store.merge("Contact", pd.DataFrame(older), key="Id", modified="Modified")
    assert (result.skipped_older, result.updated) == (1, 0)
    assert rows(store) == stored


def test_a_newer_text_stamp_in_another_format_overwrites(store):
    store.merge(
        "Contact",
        pd.DataFrame({"Id": ["003A"], "Name": ["a"], "Modified": ["2024-01-02T09:30:00.000+0000"]}),
        key="Id",
        modified="Modified",
    )
    newer = {"Id": ["003A"], "Name": ["b"], "Modified": ["2024-01-02T10:31:00+01:00"]}
    result = store.merge("Contact", pd.DataFrame(newer), key="Id", modified="Modified")
    assert result.updated == 1
    assert rows(store) == newer


def test_text_stamps_dedupe_the_batch_by_instant(store):
    batch = {
        "Id": ["003A", "003A"],
        "Name": ["newer", "older"],
        "Modified": ["2024-01-02T09:30:00Z", "2024-01-02T10:00:00+01:00"],
    }
    result = store.merge("Contact", pd.DataFrame(batch), key="Id", modified="Modified")
    assert result.duplicates == 1
    assert rows(store)["Name"] == ["newer"]


def test_a_text_stamp_without_an_offset_is_read_as_utc(store):
    store.merge(
        "Contact",
        pd.DataFrame({"Id": ["003A"], "Modified": ["2024-01-02 09:30:00"]}),
        key="Id",
        modified="Modified",
    )
    older = pd.DataFrame({"Id": ["003A"], "Modified": ["2024-01-02T10:00:00+01:00"]})
    assert store.merge("Contact", older, key="Id", modified="Modified").skipped_older == 1


@pytest.mark.parametrize("bad", ["yesterday", "2024-13-02T10:00:00Z", "epoch", "1704189600"])
def test_a_text_stamp_that_is_not_an_instant_is_a_data_error(store, bad):
    df = pd.DataFrame({"Id": ["003A", "003B"], "Modified": ["2024-01-02T09:30:00Z", bad]})
    with pytest.raises(DataError, match=rf"'Modified'.*{bad!r}"):
        store.merge("Contact", df, key="Id", modified="Modified")
    assert store.tables() == []


def test_an_unreadable_stored_text_stamp_is_a_data_error(store):
    df = pd.DataFrame({"Id": ["003A"], "Modified": ["sometime"]})
    store.merge("Contact", df, key="Id")  # no modified=: stored as it came
    again = pd.DataFrame({"Id": ["003A"], "Modified": ["2024-01-02T09:30:00Z"]})
    with pytest.raises(DataError, match=r"table 'Contact'.*'Modified'.*'sometime'"):
        store.merge("Contact", again, key="Id", modified="Modified")
    assert rows(store) == {"Id": ["003A"], "Modified": ["sometime"]}


# --- one writer per database file per process --------------------------------------------


def test_two_stores_on_one_file_never_interleave_merges(tmp_path):
    path = tmp_path / "campaign.duckdb"
    with CampaignStore(path) as first:
        first.merge("Contact", pd.DataFrame({"Id": ["seed"]}), key="Id")
    # the same file, spelled another way (relative to a symlinked folder)
    (tmp_path / "link").symlink_to(tmp_path)
    stores = [CampaignStore(path), CampaignStore(tmp_path / "link" / "campaign.duckdb")]
    keys = [f"K{i}" for i in range(2_000)]
    start = threading.Barrier(len(stores))

    def work(store):
        start.wait()
        for chunk in range(0, len(keys), 500):
            store.merge("Contact", pd.DataFrame({"Id": keys[chunk : chunk + 500]}), key="Id")

    threads = [threading.Thread(target=work, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counted = stores[0].sql('SELECT count(*) AS n, count(DISTINCT "Id") AS k FROM "Contact"')
    for store in stores:
        store.close()
    assert counted.to_dict("list") == {"n": [2_001], "k": [2_001]}


def test_stores_on_one_file_share_one_lock_and_memory_stores_do_not(tmp_path):
    path = tmp_path / "campaign.duckdb"
    with CampaignStore(path) as a, CampaignStore(str(path)) as b:
        assert a._session.lock is b._session.lock
    with CampaignStore() as a, CampaignStore(":memory:") as b:
        assert a._session.lock is not b._session.lock


def test_another_process_cannot_open_a_file_this_one_writes(tmp_path):
    path = tmp_path / "campaign.duckdb"
    child = (
        "import sys\n"
        "from crmframes.errors import StoreError\n"
        "from crmframes.store import CampaignStore\n"
        "try:\n"
        "    CampaignStore(sys.argv[1])\n"
        "except StoreError as exc:\n"
        "    print('refused:', exc)\n"
    )
    with CampaignStore(path) as store:
        store.merge("Contact", pd.DataFrame({"Id": ["003A"]}), key="Id")
        done = subprocess.run(
            [sys.executable, "-c", child, str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
            cwd=Path(__file__).parents[2],
        )
    assert done.stdout.startswith("refused: campaign store"), done.stdout + done.stderr


# --- GUID keys match in any case ----------------------------------------------------------


def test_merge_matches_guid_keys_in_any_case(store):
    store.merge("Contact", pd.DataFrame({"Id": [GUID], "Name": ["a"]}), key="Id")
    upper = pd.DataFrame({"Id": [GUID.upper()], "Name": ["b"]})
    result = store.merge("Contact", upper, key="Id")
    assert (result.inserted, result.updated) == (0, 1)
    assert rows(store) == {"Id": [GUID], "Name": ["b"]}


def test_merge_dedupes_a_batch_whose_guids_differ_in_case_only(store):
    batch = pd.DataFrame({"Id": [GUID.upper(), GUID], "Name": ["a", "b"]})
    result = store.merge("Contact", batch, key="Id")
    assert (result.inserted, result.duplicates) == (1, 1)
    assert rows(store) == {"Id": [GUID], "Name": ["b"]}


def test_merge_keeps_other_ids_case_sensitive(store):
    # Salesforce's 15-character ids differ by case alone
    batch = pd.DataFrame({"Id": ["003000000000ABC", "003000000000abc"], "Name": ["a", "b"]})
    assert store.merge("Contact", batch, key="Id").inserted == 2
    assert rows(store)["Id"] == ["003000000000ABC", "003000000000abc"]


def test_merge_matches_guids_in_a_composite_key(store):
    store.merge("Link", pd.DataFrame({"A": [GUID], "B": ["x"], "n": [1]}), key=["A", "B"])
    again = pd.DataFrame({"A": [GUID.upper()], "B": ["x"], "n": [2]})
    result = store.merge("Link", again, key=["A", "B"])
    assert (result.inserted, result.updated) == (0, 1)
    assert rows(store, "Link", order_by="A") == {"A": [GUID], "B": ["x"], "n": [2]}


# --- a record merged again is live again --------------------------------------------------


@pytest.fixture
def marked(store):
    """Three contacts, 003A and 003B deleted in the CRM (soft)."""
    store.merge(
        "Contact",
        pd.DataFrame(
            {
                "Id": ["003A", "003B", "003C"],
                "Name": ["a", "b", "c"],
                "Modified": pd.to_datetime(["2024-05-01T10:00:00Z"] * 3, utc=True),
            }
        ),
        key="Id",
        modified="Modified",
    )
    deleted = pd.DataFrame({"Id": ["003A", "003B"], "deletedDate": ["2024-05-02T00:00:00Z"] * 2})
    assert store.apply_deletions("Contact", deleted, key="Id") == 2
    return store


def marks(store, column="crmDeletedDate"):
    df = store.read("Contact", order_by="Id")
    return dict(zip(df["Id"], df[column].notna(), strict=True))


def test_a_newer_row_of_a_deleted_record_clears_its_mark(marked):
    restored = pd.DataFrame(
        {"Id": ["003A"], "Name": ["a"], "Modified": [pd.Timestamp("2024-05-03", tz="UTC")]}
    )
    result = marked.merge("Contact", restored, key="Id", modified="Modified")
    assert result.updated == 1
    assert marks(marked) == {"003A": False, "003B": True, "003C": False}


def test_an_unchanged_row_of_a_deleted_record_clears_its_mark(marked):
    same = pd.DataFrame(
        {"Id": ["003A"], "Name": ["a"], "Modified": [pd.Timestamp("2024-05-01T10:00Z")]}
    )
    result = marked.merge("Contact", same, key="Id", modified="Modified")
    assert (result.unchanged, result.updated) == (0, 1)
    assert marks(marked) == {"003A": False, "003B": True, "003C": False}
    # a live row stays unchanged
    live = same.assign(Id="003C", Name="c")
    assert marked.merge("Contact", live, key="Id", modified="Modified").unchanged == 1


def test_an_older_row_of_a_deleted_record_keeps_its_mark(marked):
    older = pd.DataFrame(
        {"Id": ["003A"], "Name": ["x"], "Modified": [pd.Timestamp("2024-04-01", tz="UTC")]}
    )
    assert marked.merge("Contact", older, key="Id", modified="Modified").skipped_older == 1
    assert marks(marked) == {"003A": True, "003B": True, "003C": False}


def test_a_batch_that_brings_the_mark_column_sets_it(marked):
    batch = pd.DataFrame(
        {
            "Id": ["003A", "003C"],
            "crmDeletedDate": pd.to_datetime(["2024-06-01", "2024-06-01"], utc=True),
        }
    )
    marked.merge("Contact", batch, key="Id")
    assert marks(marked) == {"003A": True, "003B": True, "003C": True}


def test_a_mark_column_of_another_name_is_cleared_too(store):
    store.merge("Contact", pd.DataFrame({"Id": ["003A", "003B"], "Name": ["a", "b"]}), key="Id")
    store.apply_deletions(
        "Contact", pd.DataFrame({"Id": ["003A", "003B"]}), key="Id", column="Gone"
    )
    store.merge("Contact", pd.DataFrame({"Id": ["003B"], "Name": ["B"]}), key="Id")
    assert marks(store, "Gone") == {"003A": True, "003B": False}
