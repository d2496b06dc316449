import numpy as np
import pandas as pd
import pytest

from crmframes.dedupe import (
    NORMALIZERS,
    DedupeResult,
    KeepRule,
    deduplicate,
    find_duplicates,
    infer_normalizer,
)
from crmframes.errors import ColumnNotFoundError, ConfigError, DataError


def clusters(df, **options):
    return find_duplicates(df, **options)["clusterId"].tolist()


def as_lists(frame):
    """The frame as a dict of lists, every kind of null as None."""
    return frame.astype(object).where(frame.notna(), None).to_dict("list")


def normalised(name, values):
    return NORMALIZERS[name](pd.Series(values, dtype=object)).tolist()


# --- normalisers -------------------------------------------------------------------------------


def test_normalize_email_trims_lowercases_and_drops_non_addresses():
    values = [" John.Smith@ACME.com ", "mailto:A@b.org", "<x@y.io>", "n/a", "", None]
    assert normalised("email", values) == [
        "john.smith@acme.com",
        "a@b.org",
        "x@y.io",
        np.nan,
        np.nan,
        np.nan,
    ]


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("+1 (415) 555-0132", "415.555.0132"),
        ("1-415-555-0132", "(415) 555 0132"),
        ("+44 (0)117 704 1390", "0117 704 1390"),
        ("+33 1 26 54 72 23", "01.26.54.72.23"),
        ("0046 8 671 56 48", "08-671 56 48"),
        ("+39 06 1234 5678", "06 1234 5678"),
        ("415-555-0132 ext. 12", "4155550132"),
        ("+41\u00a031 882 82 36", "031/882 82 36"),
        ("+353 91 458 6740", "091 458 6740"),
        ("0033 (0)1 26 54 72 23", "+33 1 26 54 72 23"),
    ],
)
def test_normalize_phone_meets_across_formats(one, other):
    first, second = normalised("phone", [one, other])
    assert first == second
    assert first.isdigit() and 6 <= len(first) <= 9


def test_normalize_phone_reads_numbers_stored_as_floats():
    phones = pd.Series([4155550132.0, np.nan, 14155550132.0])  # read from a CSV with nulls
    assert NORMALIZERS["phone"](phones).tolist() == ["155550132", np.nan, "155550132"]


def test_normalize_phone_without_enough_digits_is_null():
    values = ["123", "ext. 4", "", None, "n/a", "+", "00", "+1 555 01", "1-800-FLOWERS"]
    assert normalised("phone", values) == [np.nan] * len(values)


def test_normalize_name_folds_accents_case_punctuation_and_spaces():
    values = ["  José  GARCÍA", "O'Brien-Núñez", "Łukasz Yılmaz", "STRAẞE", "Jean\u00a0Luc", "J.R."]
    assert normalised("name", values) == [
        "jose garcia",
        "obrien nunez",
        "lukasz yilmaz",
        "strasse",
        "jean luc",
        "jr",
    ]


def test_normalize_first_name_maps_nicknames_with_one_meaning():
    values = ["Bill", "WILLIAM", "Peggy", "Pepe", "Chris", "Kate", "Catherine"]
    assert normalised("first_name", values) == [
        "william",
        "william",
        "margaret",
        "jose",
        "chris",  # Christopher or Christine: left alone
        "katherine",
        "katherine",
    ]


def test_normalize_text_keeps_accents_but_folds_case_and_spaces():
    assert normalised("text", [" Rue  de la Paix ", "RUE DE LA PAIX", "Café", None, " "]) == [
        "rue de la paix",
        "rue de la paix",
        "café",
        np.nan,
        np.nan,
    ]


def test_normalize_date_reads_days_from_strings_and_timestamps():
    assert normalised("date", ["1990-05-17", "1990-05-17T23:10:00+05:00", "17/05/1990", None]) == [
        pd.Timestamp("1990-05-17"),
        pd.Timestamp("1990-05-17"),
        pd.NaT,
        pd.NaT,
    ]
    aware = pd.Series(pd.to_datetime(["2024-03-05T23:30:00"]).tz_localize("Europe/Paris"))
    assert NORMALIZERS["date"](aware).tolist() == [pd.Timestamp("2024-03-05")]


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("Email", "email"),
        ("emailaddress1", "email"),
        ("MobilePhone", "phone"),
        ("telephone1", "phone"),
        ("FirstName", "first_name"),
        ("first_name", "first_name"),
        ("LastName", "name"),
        ("fullname", "name"),
        ("Birthdate", "date"),
        ("MailingCity", "text"),
    ],
)
def test_infer_normalizer_reads_the_column_name(column, expected):
    assert infer_normalizer(column, pd.Series(["x"])) == expected


def test_infer_normalizer_falls_back_to_the_dtype():
    assert infer_normalizer("Score", pd.Series([1, 2])) == "exact"
    assert infer_normalizer("Seen", pd.Series(pd.to_datetime(["2024-01-01"]))) == "date"


# --- find_duplicates: exact rules ------------------------------------------------------------


def test_find_duplicates_links_normalised_emails():
    df = pd.DataFrame({"Email": ["Ann@X.org", "bo@y.org", " ann@x.org", None, None]})
    found = find_duplicates(df, on="Email")
    assert as_lists(found) == {
        "Email": ["Ann@X.org", "bo@y.org", " ann@x.org", None, None],
        "clusterId": [0, None, 0, None, None],
        "matchReason": ["Email", None, "Email", None, None],
    }
    assert str(found["clusterId"].dtype) == "Int64"


def test_find_duplicates_needs_every_column_of_a_rule():
    df = pd.DataFrame(
        {
            "FirstName": ["Ann", "ANN", "Ann"],
            "LastName": ["Lee", "Lee", "Lee"],
            "Birthdate": ["1990-01-02", "1990-01-02", "1991-01-02"],
        }
    )
    assert clusters(df, on=["FirstName", "LastName", "Birthdate"]) == [0, 0, pd.NA]


def test_find_duplicates_closes_rules_transitively():
    df = pd.DataFrame(
        {
            "Email": ["a@x.org", "A@x.org", None, "d@x.org", None],
            "LastName": ["Lee", "Lee", "Lee", "Kim", "Lee"],
            "Phone": [None, "555 0100 77", "(555) 010-077", "5550100 77", None],
        }
    )
    found = find_duplicates(df, on=["Email", ["LastName", "Phone"]])
    assert found["clusterId"].tolist() == [0, 0, 0, pd.NA, pd.NA]
    assert found["matchReason"].tolist() == [
        "Email",
        "Email; LastName+Phone",
        "LastName+Phone",
        np.nan,
        np.nan,
    ]


def test_find_duplicates_numbers_clusters_by_their_first_row():
    df = pd.DataFrame({"Email": ["c@x", "a@x", "b@x", "a@x", "c@x", "b@x"]})
    assert clusters(df, on="Email") == [0, 1, 2, 1, 0, 2]


def test_find_duplicates_unions_a_long_chain_into_one_cluster():
    rows = np.arange(2_000)  # A links rows 2k and 2k+1, B links 2k+1 and 2k+2: one chain
    df = pd.DataFrame({"A": rows // 2, "B": (rows + 1) // 2})
    assert find_duplicates(df, on="A")["clusterId"].nunique() == 1_000
    assert clusters(df, on=["A", ["B"]]) == [0] * 2_000


def test_find_duplicates_never_matches_nulls_or_blanks():
    df = pd.DataFrame({"Email": [None, None, "", "  "], "Phone": [None, np.nan, None, "n/a"]})
    found = find_duplicates(df, on=["Email", "Phone"])
    assert found["clusterId"].isna().all()
    assert found["matchReason"].isna().all()


@pytest.mark.parametrize("name", sorted(NORMALIZERS))
def test_normalizers_take_all_null_and_empty_columns(name):
    values = normalised(name, [None, None])
    assert len(values) == 2 and all(pd.isna(v) for v in values)
    assert normalised(name, []) == []


def test_find_duplicates_with_an_all_null_rule_finds_nothing():
    df = pd.DataFrame({"FirstName": [None, None], "LastName": [np.nan, np.nan]})
    found = find_duplicates(df, on=[["FirstName", "LastName"]], fuzzy="LastName")
    assert found["clusterId"].isna().all()


def test_find_duplicates_keeps_the_index_and_leaves_the_input_alone():
    df = pd.DataFrame({"Email": ["a@x", "a@x", "b@x"]}, index=["r1", "r2", "r2"])
    found = find_duplicates(df, on="Email")
    assert found.index.tolist() == ["r1", "r2", "r2"]
    assert found["clusterId"].tolist() == [0, 0, pd.NA]
    assert list(df.columns) == ["Email"]


def test_find_duplicates_uses_given_normalizers():
    df = pd.DataFrame({"Code": ["AB-1", "ab 1", "AB1"], "Zip": ["75001", "75001 ", "75001"]})
    found = find_duplicates(
        df,
        on=[["Code", "Zip"]],
        normalizers={"Code": lambda s: s.str.replace(r"\W", "", regex=True).str.lower()},
    )
    assert found["clusterId"].tolist() == [0, 0, 0]
    assert clusters(df, on="Code", normalizers={"Code": "exact"}) == [pd.NA] * 3


def test_find_duplicates_on_an_empty_frame_returns_an_empty_frame():
    df = pd.DataFrame({"Email": pd.Series([], dtype="str")})
    found = find_duplicates(df, on="Email", fuzzy=None)
    assert list(found.columns) == ["Email", "clusterId", "matchReason"]
    assert len(found) == 0


# --- find_duplicates: fuzzy rules ------------------------------------------------------------

PEOPLE = pd.DataFrame(
    {
        "FirstName": ["John", "Jon", "Bill", "William", "Ted", "Edward", "John", "Mary"],
        "LastName": ["Smith", "Smtih", "Jones", "Jones", "Baker", "Baker", "Smith", "Smith"],
        "Birthdate": [
            "1980-01-02",
            "1980-01-02",
            "1975-06-07",
            "1975-06-07",
            "1966-03-04",
            "1966-03-04",
            "1991-09-09",
            "1980-01-02",
        ],
    }
)
NAME_RULE = [["FirstName", "LastName", "Birthdate"]]


def test_find_duplicates_fuzzy_catches_typos_and_nicknames():
    found = find_duplicates(PEOPLE, on=NAME_RULE, fuzzy=["FirstName", "LastName"])
    assert found["clusterId"].tolist() == [0, 0, 1, 1, 2, 2, pd.NA, pd.NA]
    reasons = found["matchReason"].tolist()
    assert reasons[0].startswith("FirstName+LastName+Birthdate fuzzy 0.")
    assert reasons[2] == reasons[4] == "FirstName+LastName+Birthdate"  # nicknames score 1
    assert clusters(PEOPLE, on=NAME_RULE) == [pd.NA, pd.NA, 0, 0, pd.NA, pd.NA, pd.NA, pd.NA]


def test_find_duplicates_fuzzy_threshold_decides():
    loose = clusters(PEOPLE, on=NAME_RULE, fuzzy=["FirstName", "LastName"], threshold=0.5)
    assert loose[7] == loose[0]  # Mary Smith joins John Smith at 0.5
    strict = clusters(PEOPLE, on=NAME_RULE, fuzzy=["FirstName", "LastName"], threshold=0.99)
    assert strict == [pd.NA, pd.NA, 0, 0, 1, 1, pd.NA, pd.NA]


@pytest.mark.parametrize("scorer", ["jaro_winkler", "levenshtein", "osa", "indel"])
def test_find_duplicates_fuzzy_scorers(scorer):
    df = pd.DataFrame({"Name": ["Katherine Smith", "Katherine Smiht", "Peter Jones"]})
    assert clusters(df, on="Name", fuzzy="Name", threshold=0.8, scorer=scorer)[:2] == [0, 0]


def test_find_duplicates_block_limits_what_is_compared():
    df = pd.DataFrame(
        {"Name": ["anna lee", "anna lea", "anna lee"], "Zip": ["1000", "1000", "2000"]}
    )
    assert clusters(df, on="Name", fuzzy="Name") == [0, 0, 0]
    assert clusters(df, on="Name", fuzzy="Name", block="Zip") == [0, 0, pd.NA]
    by_function = clusters(df, on="Name", fuzzy="Name", block=lambda d: d["Zip"].str[:1])
    assert by_function == [0, 0, pd.NA]
    either = clusters(df, on="Name", fuzzy="Name", block=[["Zip"], [lambda d: d["Name"]]])
    assert either == [0, 0, 0]  # the second pass pairs the two "anna lee"


def test_find_duplicates_fuzzy_rule_needs_its_exact_columns_equal():
    df = pd.DataFrame({"Name": ["Anna Lee", "Anna Lea"], "Birthdate": ["1990-01-01", None]})
    assert clusters(df, on=[["Name", "Birthdate"]], fuzzy="Name") == [pd.NA, pd.NA]


def test_find_duplicates_max_pairs_stops_a_runaway_block():
    df = pd.DataFrame({"Name": [f"a{i}" for i in range(100)]})
    with pytest.raises(DataError, match="would compare 4,950 pairs"):
        find_duplicates(df, on="Name", fuzzy="Name", max_pairs=1_000)


# --- find_duplicates: bad arguments -----------------------------------------------------------


def test_find_duplicates_names_a_missing_column_and_suggests_one():
    df = pd.DataFrame({"Email": ["a@x"], "LastName": ["Lee"]})
    with pytest.raises(
        ColumnNotFoundError, match=r"'email' is not in the frame.*did you mean 'Email'"
    ):
        find_duplicates(df, on="email")
    with pytest.raises(ColumnNotFoundError, match="Lastname"):
        find_duplicates(df, on=["Email", ["Lastname"]])
    with pytest.raises(ColumnNotFoundError, match="Zip"):
        find_duplicates(df, on="Email", normalizers={"Zip": "text"})
    with pytest.raises(ColumnNotFoundError, match="Zip"):
        find_duplicates(df, on="LastName", fuzzy="LastName", block="Zip")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"on": []}, "must name a column"),
        ({"on": ["Email", []]}, "empty rule"),
        ({"on": [["Email", "Email"]]}, "names a column twice"),
        ({"on": "Email", "fuzzy": "LastName"}, "in no on= rule"),
        ({"on": "Email", "threshold": 0}, r"threshold must be in \(0, 1\]"),
        ({"on": "Email", "threshold": 1.5}, r"threshold must be in \(0, 1\]"),
        ({"on": "Email", "scorer": "soundex"}, "unknown scorer"),
        ({"on": "Email", "max_pairs": 0}, "max_pairs must be a positive int"),
        ({"on": "Email", "normalizers": {"Email": "mail"}}, "unknown normaliser 'mail'"),
        ({"on": "Email", "block": []}, "block= must name"),
    ],
)
def test_find_duplicates_refuses_bad_arguments(options, message):
    df = pd.DataFrame({"Email": ["a@x"], "LastName": ["Lee"]})
    with pytest.raises(ConfigError, match=message):
        find_duplicates(df, **options)


def test_find_duplicates_refuses_what_is_not_a_frame_or_a_name():
    with pytest.raises(TypeError, match="DataFrame"):
        find_duplicates([{"Email": "a@x"}], on="Email")
    with pytest.raises(TypeError, match="column name"):
        find_duplicates(pd.DataFrame({"Email": ["a"]}), on="Email", fuzzy=3)


def test_find_duplicates_checks_a_normalizer_result():
    df = pd.DataFrame({"Email": ["a@x", "b@x"]})
    with pytest.raises(DataError, match="must return a Series of 2 values"):
        find_duplicates(df, on="Email", normalizers={"Email": lambda s: s.head(1)})


# --- deduplicate ------------------------------------------------------------------------------

CONTACTS = pd.DataFrame(
    {
        "Id": ["c1", "c2", "c3", "c4", "c5"],
        "Email": ["ann@x.org", "ANN@x.org", "bo@y.org", "ann@x.org ", "cy@z.org"],
        "LeadSource": ["Web", "Partner", None, "Phone", "Web"],
        "Phone": [None, "555-0100", "555-0200", "555-0300", None],
        "Street": ["1 Main St", None, "2 Elm St", "9 Oak Ave", None],
        "City": [None, None, "Lyon", "Paris", None],
        "Revenue": [10, 30, 5, 20, 1],
        "LastModifiedDate": [
            "2024-01-01T00:00:00Z",
            "2025-06-01T00:00:00Z",
            "2024-02-02T00:00:00Z",
            "2023-01-01T10:00:00+02:00",
            "2024-03-03T00:00:00Z",
        ],
    }
)


def kept(result: DedupeResult) -> list[str]:
    return result.survivors["Id"].tolist()


def test_deduplicate_keeps_the_most_recent_by_default():
    result = deduplicate(CONTACTS, on="Email", key="Id")
    assert kept(result) == ["c2", "c3", "c5"]
    assert result.removed[["Id", "survivorKey"]].to_dict("list") == {
        "Id": ["c1", "c4"],
        "survivorKey": ["c2", "c2"],
    }
    assert result.counts == {"rows": 5, "clusters": 1, "survivors": 3, "removed": 2, "filled": 0}
    assert str(result) == ("deduplicated 5 rows: 1 clusters, 2 removed, 3 kept, 0 survivors filled")
    assert repr(result).startswith("<DedupeResult: deduplicated 5 rows")


@pytest.mark.parametrize(
    ("keep", "survivor"),
    [
        ("recent", "c2"),
        (("recent", "Revenue"), "c2"),
        ("first", "c1"),
        ("last", "c4"),
        ("complete", "c4"),
        (("min", "Revenue"), "c1"),
        (("max", "Revenue"), "c2"),
        (("min", "LastModifiedDate"), "c4"),
        (("priority", "LeadSource", ["Phone", "Web"]), "c4"),
        (("priority", "LeadSource", ["Web"]), "c1"),
        (("notnull", "Street"), "c1"),
        ([("notnull", "Street"), ("max", "Revenue")], "c4"),
        ([("priority", "LeadSource", ["Fax"]), "first"], "c1"),
        (KeepRule("max", "Revenue"), "c2"),
    ],
)
def test_deduplicate_keep_rules(keep, survivor):
    result = deduplicate(CONTACTS, on="Email", key="Id", keep=keep)
    assert kept(result) == sorted([survivor, "c3", "c5"])
    assert set(result.removed["survivorKey"]) == {survivor}


def test_deduplicate_clusters_frame_lists_members_in_keep_order():
    result = deduplicate(CONTACTS, on="Email", key="Id", keep=("max", "Revenue"))
    assert result.clusters[["Id", "clusterId", "isSurvivor"]].to_dict("list") == {
        "Id": ["c2", "c4", "c1"],
        "clusterId": [0, 0, 0],
        "isSurvivor": [True, False, False],
    }
    assert result.clusters["matchReason"].tolist() == ["Email"] * 3


def test_deduplicate_without_key_names_survivors_by_index_label():
    df = CONTACTS.set_index("Id")
    result = deduplicate(df, on="Email", keep="first")
    assert result.removed["survivorKey"].tolist() == ["c1", "c1"]
    assert result.survivors.index.tolist() == ["c1", "c3", "c5"]


def test_deduplicate_merge_takes_a_group_whole_from_the_best_complete_row():
    result = deduplicate(
        CONTACTS, on="Email", key="Id", keep="recent", merge=[["Street", "City"], "Phone"]
    )
    survivor = result.survivors.set_index("Id").loc["c2"]
    # c2 (kept) has no address; c1 has a street but no city, c4 a whole one: c4's wins
    assert (survivor["Street"], survivor["City"], survivor["Phone"]) == (
        "9 Oak Ave",
        "Paris",
        "555-0100",
    )
    assert result.filled.to_dict("list") == {
        "survivorKey": ["c2", "c2"],
        "field": ["Street", "City"],
        "old": [None, None],
        "new": ["9 Oak Ave", "Paris"],
        "donorKey": ["c4", "c4"],
    }
    assert result.counts["filled"] == 1
    assert pd.isna(CONTACTS.loc[1, "Street"])  # the input frame is left alone


def test_deduplicate_merge_replaces_a_partial_group_and_keeps_a_complete_one():
    df = pd.DataFrame(
        {
            "Id": ["a", "b", "c"],
            "Email": ["x@y", "x@y", "x@y"],
            "Street": ["1 Main", "2 Elm", None],
            "Zip": [None, "75001", "10001"],
            "Phone": ["1", None, "3"],
        }
    )
    result = deduplicate(
        df, on="Email", key="Id", keep="first", merge=[["Street", "Zip"], ["Phone"]]
    )
    assert result.survivors.to_dict("list") == {
        "Id": ["a"],
        "Email": ["x@y"],
        "Street": ["2 Elm"],
        "Zip": ["75001"],
        "Phone": ["1"],
    }
    assert result.filled["field"].tolist() == ["Street", "Zip"]
    assert as_lists(result.filled[["old"]]) == {"old": ["1 Main", None]}


def test_deduplicate_merge_leaves_a_group_nobody_has_whole():
    df = pd.DataFrame({"Email": ["x@y", "x@y"], "Street": [None, "2 Elm"], "Zip": [None, None]})
    result = deduplicate(df, on="Email", keep="first", merge=["Street", "Zip"])
    assert as_lists(result.survivors[["Street", "Zip"]]) == {"Street": [None], "Zip": [None]}
    assert len(result.filled) == 0


def test_deduplicate_keeps_dtypes_when_filling():
    df = pd.DataFrame(
        {
            "Email": ["x@y", "x@y"],
            "Score": pd.array([pd.NA, 7], dtype="Int64"),
            "Seen": pd.to_datetime([None, "2024-01-01"], utc=True),
        }
    )
    result = deduplicate(df, on="Email", keep="first", merge=[["Score"], ["Seen"]])
    assert result.survivors["Score"].tolist() == [7]
    assert str(result.survivors["Score"].dtype) == "Int64"
    assert result.survivors["Seen"].tolist() == [pd.Timestamp("2024-01-01", tz="UTC")]


def test_deduplicate_reuses_reviewed_clusters():
    found = find_duplicates(CONTACTS, on="Email")
    found.loc[3, "clusterId"] = pd.NA  # a reviewer decided c4 is someone else
    result = deduplicate(found, on=None, key="Id", keep="first")
    assert kept(result) == ["c1", "c3", "c4", "c5"]
    assert result.removed["Id"].tolist() == ["c2"]


def test_deduplicate_fuzzy_options_reach_the_matcher():
    result = deduplicate(PEOPLE, on=NAME_RULE, fuzzy=["FirstName", "LastName"], keep="first")
    assert result.survivors.index.tolist() == [0, 2, 4, 6, 7]


def test_deduplicate_empty_frame_gives_empty_results():
    df = CONTACTS.iloc[0:0]
    result = deduplicate(df, on="Email", key="Id", merge=["Phone"])
    assert len(result.survivors) == len(result.removed) == len(result.clusters) == 0
    assert "survivorKey" in result.removed.columns
    assert result.counts["rows"] == 0


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"keep": ("max", "Revenu")}, ColumnNotFoundError, "did you mean 'Revenue'"),
        ({"keep": "recent", "modified": "Modified"}, ColumnNotFoundError, "Modified"),
        ({"key": "ID"}, ColumnNotFoundError, "did you mean 'Id'"),
        ({"merge": [["Street", "Town"]]}, ColumnNotFoundError, "Town"),
        ({"keep": "newest"}, ConfigError, "unknown keep method 'newest'"),
        ({"keep": "max"}, ConfigError, "needs a column"),
        ({"keep": ("priority", "LeadSource", [])}, ConfigError, "non-empty list"),
        ({"keep": ("priority", "LeadSource", "Web")}, ConfigError, "must be a list"),
        ({"keep": []}, ConfigError, "empty list"),
        ({"keep": 3}, ConfigError, "a keep rule is"),
        ({"merge": [[]]}, ConfigError, "non-empty list"),
        ({"merge": ["Phone", ["Id"]]}, ConfigError, "cannot be in a merge group"),
        ({"on": None}, ConfigError, "needs on="),
    ],
)
def test_deduplicate_refuses_bad_arguments_before_any_work(options, error, message):
    arguments = {"on": "Email", "key": "Id", **options}
    with pytest.raises(error, match=message):
        deduplicate(CONTACTS, **arguments)


def test_deduplicate_recent_needs_a_modified_column():
    df = CONTACTS.drop(columns="LastModifiedDate")
    with pytest.raises(ConfigError, match="keep='recent' needs the last-modified column"):
        deduplicate(df, on="Email")


def test_deduplicate_recent_refuses_unreadable_timestamps():
    df = CONTACTS.assign(LastModifiedDate=["yesterday"] * 5)
    with pytest.raises(DataError, match="reads 'LastModifiedDate' as timestamps"):
        deduplicate(df, on="Email")


def test_cluster_counts_and_cluster_of_read_a_result():
    from crmframes.dedupe import cluster_counts, cluster_of

    df = pd.DataFrame(
        {
            "ref": ["a", "b", "c", "d"],
            "email": ["x@y.org", "X@y.org ", "z@y.org", None],
        }
    )
    found = find_duplicates(df, on="email")
    assert str(cluster_counts(found)) == "1 clusters of 2 rows"
    assert cluster_counts(found).total == 4
    assert cluster_of(found, ref="b")["ref"].tolist() == ["a", "b"]
    assert cluster_of(found, ref="d")["ref"].tolist() == ["d"]  # no duplicate: itself
    with pytest.raises(DataError, match="no row has ref = 'q'"):
        cluster_of(found, ref="q")
    with pytest.raises(ConfigError, match="one column=value"):
        cluster_of(found, ref="a", email="x@y.org")
    with pytest.raises(ConfigError, match="no clusterId"):
        cluster_counts(df)
