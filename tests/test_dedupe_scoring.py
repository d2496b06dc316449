import random
import warnings

import numpy as np
import pandas as pd
import pytest

from crmframes.dedupe import (
    NORMALIZERS,
    UnreadableValuesWarning,
    deduplicate,
    evaluate_clusters,
    explain_pair,
    find_duplicates,
)
from crmframes.dedupe.matching import _Normalised, plan_matching
from crmframes.dedupe.scoring import candidate_pairs
from crmframes.errors import ConfigError, DataError

GIVEN = ["james", "olivia", "jack", "mia", "noah", "chloe", "lachlan", "emily", "thomas", "ruby"]
GIVEN += ["william", "grace", "ethan", "sophie", "joshua", "ella", "liam", "zoe", "samuel", "ava"]
SURNAMES = ["smith", "jones", "williams", "brown", "wilson", "taylor", "nguyen", "johnson"]
SURNAMES += ["martin", "white", "anderson", "walker", "thompson", "harris", "ryan", "lee"]
SURNAMES += ["clarke", "kelly", "king", "baker", "mitchell", "campbell", "young", "stewart"]
STREETS = ["florey drive", "giblin street", "tullaroop street", "goldfinch circuit"]
STREETS += ["mcdonald place", "ross smith crescent", "banjine street", "kitchener street"]
SUBURBS = ["canterbury", "bittern", "killarney", "coolaroo", "st james", "toowoomba"]
STATES = ["nsw", "vic", "qld", "wa", "sa"]
PERSON = ["given_name", "surname", "street_number", "address_1", "suburb", "postcode"]
PERSON += ["state", "date_of_birth", "soc_sec_id"]


def days(series):
    return [None if pd.isna(d) else d.date().isoformat() for d in series]


def typo(rng, text):
    """One keyboard slip: a letter dropped, doubled, swapped with the next or replaced."""
    if len(text) < 3:
        return text + "x"
    i = rng.randrange(len(text) - 1)
    kind = rng.choice(["drop", "double", "swap", "replace"])
    if kind == "drop":
        return text[:i] + text[i + 1 :]
    if kind == "double":
        return text[:i] + text[i] + text[i:]
    if kind == "swap":
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + rng.choice("aeiounrst") + text[i + 1 :]


def febrl_like(originals=400, duplicates=150, seed=7):
    """People in FEBRL's shape (dates as YYYYMMDD, ids as text); duplicates carry typos,
    blanks and swapped names in up to three fields. Returns the frame and true pairs."""
    rng = random.Random(seed)
    rows = []
    for k in range(originals):
        rows.append(
            {
                "rec_id": f"rec-{k}-org",
                "given_name": rng.choice(GIVEN),
                "surname": rng.choice(SURNAMES),
                "street_number": str(rng.randint(1, 200)),
                "address_1": rng.choice(STREETS),
                "suburb": rng.choice(SUBURBS),
                "postcode": str(rng.randint(2000, 2060)),
                "state": rng.choice(STATES),
                "date_of_birth": f"{rng.randint(1930, 2005)}{rng.randint(1, 12):02d}"
                f"{rng.randint(1, 28):02d}",
                "soc_sec_id": str(rng.randint(1_000_000, 9_999_999)),
            }
        )
    pairs = []
    for k in rng.sample(range(originals), duplicates):
        dup = dict(rows[k], rec_id=f"rec-{k}-dup-0")
        for field in rng.sample(PERSON, rng.randint(1, 3)):
            change = rng.choice(["typo", "typo", "blank", "swap"])
            if change == "blank":
                dup[field] = None
            elif change == "swap" and field in ("given_name", "surname"):
                dup["given_name"], dup["surname"] = dup["surname"], dup["given_name"]
            else:
                dup[field] = typo(rng, dup[field])
        rows.append(dup)
        pairs.append((f"rec-{k}-org", f"rec-{k}-dup-0"))
    order = rng.sample(range(len(rows)), len(rows))
    df = pd.DataFrame([rows[i] for i in order]).set_index("rec_id")
    return df, pairs


# --- dates and unreadable values ---------------------------------------------------------------


def test_normalize_date_reads_iso_basic_dates():
    values = ["19900517", "19900517T231000Z", 19900517, "1990-05-17T10:00", "19901317"]
    assert days(NORMALIZERS["date"](pd.Series(values, dtype=object))) == [
        "1990-05-17",
        "1990-05-17",
        "1990-05-17",
        "1990-05-17",
        None,  # month 13
    ]


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("date_dmy", ["17/05/1990", "17.5.1990", "17-05-1990", "1990-05-17", "31/02/1990"]),
        ("date_mdy", ["05/17/1990", "5.17.1990", "05-17-1990", "19900517", "02/31/1990"]),
    ],
)
def test_declared_day_month_order_reads_dates(name, values):
    assert days(NORMALIZERS[name](pd.Series(values))) == ["1990-05-17"] * 4 + [None]


def test_find_duplicates_matches_a_birthdate_written_yyyymmdd():
    df = pd.DataFrame(
        {"LastName": ["Lee", "Lee", "Lee"], "Birthdate": ["19900102", "1990-01-02", "19910102"]}
    )
    found = find_duplicates(df, on=[["LastName", "Birthdate"]])
    assert found["clusterId"].tolist() == [0, 0, pd.NA]
    assert found.attrs["unreadable"] == {"Birthdate": 0, "LastName": 0}


def test_find_duplicates_asks_the_order_of_day_month_dates():
    df = pd.DataFrame({"Name": ["Ann", "Ann"], "Birthdate": ["17/05/1990", "17/05/1990"]})
    with pytest.raises(ConfigError, match=r"day-first.*'Birthdate': 'date_dmy'"):
        find_duplicates(df, on=[["Name", "Birthdate"]])
    ambiguous = df.assign(Birthdate=["03/04/1990", "03/04/1990"])
    with pytest.raises(ConfigError, match="may be 3 April or March 4"):
        find_duplicates(ambiguous, on=[["Name", "Birthdate"]])
    read = find_duplicates(df, on=[["Name", "Birthdate"]], normalizers={"Birthdate": "date_dmy"})
    assert read["clusterId"].tolist() == [0, 0]


def test_find_duplicates_counts_unreadable_values_and_warns_when_most_are():
    df = pd.DataFrame({"Email": ["a@x.org", "a@x.org", "a at x", "n/a", None]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one unreadable value in four: counted, no warning
        found = find_duplicates(df, on="Email")
    assert found.attrs["unreadable"] == {"Email": 1}
    mostly = pd.DataFrame({"Phone": ["12", "34", "555 0100 77", "n/a"]})
    with pytest.warns(UnreadableValuesWarning, match=r"'Phone': 2 of 3 values could not be"):
        find_duplicates(mostly, on="Phone")


def test_find_duplicates_warns_when_a_date_column_is_emptied():
    df = pd.DataFrame({"Name": ["Ann", "Ann"], "Birthdate": ["May 17 1990", "1990 May 17"]})
    with pytest.warns(UnreadableValuesWarning, match="'Birthdate': 2 of 2 values"):
        find_duplicates(df, on=["Name", "Birthdate"])


# --- scoring ----------------------------------------------------------------------------------


def test_find_duplicates_scores_person_columns_well_with_no_recipe():
    df, pairs = febrl_like()
    scores = evaluate_clusters(find_duplicates(df, on=PERSON), pairs)
    assert scores.f1 >= 0.95, str(scores)
    assert scores.precision >= 0.97, str(scores)


def test_a_typo_in_a_blocking_field_does_not_hide_a_pair():
    df, _ = febrl_like(originals=300, duplicates=0, seed=4)
    person = df.iloc[0].to_dict()
    slips = {"given_name": "x" + person["given_name"][1:], "surname": person["surname"][1:]}
    slips["soc_sec_id"] = person["soc_sec_id"][::-1]  # every first letter differs
    df = pd.concat([df, pd.DataFrame([{**person, **slips}], index=["rec-0-dup"])])
    found = find_duplicates(df, on=PERSON)
    assert found["clusterId"].iloc[0] == found["clusterId"].iloc[-1]
    assert found["clusterId"].count() == 2
    assert (
        found["matchReason"]
        .iloc[-1]
        .endswith(
            ": given_name~, surname~, street_number=, address_1=, suburb=, postcode=, state=, "
            "date_of_birth=, soc_sec_id!="
        )
    )


def test_rows_sharing_an_address_are_not_one_person():
    rng = random.Random(3)
    people = [
        {
            "first": rng.choice(GIVEN),
            "last": rng.choice(SURNAMES),
            "street": f"{k} {rng.choice(STREETS)}",
            "postcode": str(2000 + k % 40),
            "city": SUBURBS[k % len(SUBURBS)],
            "phone": f"04{rng.randint(10_000_000, 99_999_999)}",
        }
        for k in range(300)
    ]
    colleague = dict(people[0], first="zoe", last="nguyen", phone="0499999999")
    df = pd.DataFrame([*people, colleague])
    assert df.loc[0, "first"] != "zoe"
    found = find_duplicates(df, on=["first", "last", "street", "postcode", "city", "phone"])
    assert found["clusterId"].isna().all()


def test_rules_stay_available_for_a_flat_list():
    df, pairs = febrl_like(originals=200, duplicates=40, seed=9)
    rules = find_duplicates(df, on=PERSON, method="rules")
    assert rules["clusterId"].isna().all()  # every duplicate differs somewhere
    assert evaluate_clusters(find_duplicates(df, on=PERSON), pairs).recall >= 0.9
    with pytest.raises(ConfigError, match="takes one flat list"):
        find_duplicates(df, on=["state", ["given_name", "surname"]], method="score")
    with pytest.raises(ConfigError, match="unknown method"):
        find_duplicates(df, on=["state"], method="fellegi")


def test_the_threshold_trades_recall_for_precision():
    df, pairs = febrl_like(originals=200, duplicates=80, seed=11)
    loose = evaluate_clusters(find_duplicates(df, on=PERSON, threshold=0.01), pairs)
    strict = evaluate_clusters(find_duplicates(df, on=PERSON, threshold=0.999999), pairs)
    assert loose.recall >= strict.recall
    assert strict.precision >= loose.precision
    assert loose.found_pairs > strict.found_pairs


def test_automatic_blocks_leave_out_keys_shared_by_many_rows():
    n = 2_000
    df = pd.DataFrame(
        {"State": ["nsw"] * n, "Id": [str(i // 2) for i in range(n)], "Name": ["x"] * n}
    )
    plan = plan_matching(
        df,
        on=["State", "Id", "Name"],
        fuzzy=None,
        block=None,
        normalizers=None,
        threshold=0.9,
        scorer="jaro_winkler",
        max_pairs=10**9,
    )
    left, right = candidate_pairs(_Normalised(df, plan.normalizers), plan, None)
    assert (
        left.size == right.size == n // 2
    )  # the equal ids only: one shared state would be 2 million
    assert find_duplicates(df, on=["State", "Id", "Name"])["clusterId"].nunique() == n // 2


# --- explain and evaluate ---------------------------------------------------------------------


def test_explain_pair_shows_each_field_and_the_verdict():
    df, pairs = febrl_like(originals=200, duplicates=50, seed=5)
    explained = explain_pair(df, *pairs[0], on=PERSON)
    assert list(explained.fields.index) == PERSON
    assert list(explained.fields.columns) == ["left", "right", "level", "weight"]
    assert set(explained.fields["level"]) <= {"equal", "similar", "different", "missing"}
    total = explained.fields["weight"].sum() + explained.prior
    assert explained.weight == pytest.approx(total, abs=0.05)
    assert explained.probability == pytest.approx(1 / (1 + 2**-explained.weight))
    assert str(explained).startswith("match probability ")
    strangers = [i for i in df.index if i.split("-")[1] != pairs[0][0].split("-")[1]][:2]
    assert explain_pair(df, *strangers, on=PERSON).probability < 0.5
    with pytest.raises(DataError, match="'nobody' is not an index label"):
        explain_pair(df, "nobody", pairs[0][0], on=PERSON)


def test_evaluate_clusters_counts_pairs():
    found = pd.DataFrame({"clusterId": [0, 0, 0, None, 1, 1]}, dtype="Int64")
    scores = evaluate_clusters(found, truth=["a", "a", None, None, "b", "b"])
    assert (scores.found_pairs, scores.true_pairs, scores.correct_pairs) == (4, 2, 2)
    assert (scores.precision, scores.recall) == (0.5, 1.0)
    assert scores.f1 == pytest.approx(2 / 3)
    by_pairs = evaluate_clusters(found, truth=[(0, 1), (4, 5)])
    assert by_pairs == scores
    assert evaluate_clusters(found.assign(t=[1, 1, 2, 2, 3, 3]), truth="t").recall == 2 / 3
    assert str(scores).startswith("precision 0.500, recall 1.000, F1 0.667")


def test_evaluate_clusters_refuses_what_it_cannot_line_up():
    found = pd.DataFrame({"clusterId": [0, 0]}, dtype="Int64")
    with pytest.raises(DataError, match="3 labels for 2 rows"):
        evaluate_clusters(found, truth=[1, 1, 1])
    with pytest.raises(DataError, match="not in found's index"):
        evaluate_clusters(found, truth=[(0, 9)])
    with pytest.raises(ConfigError, match="no clusterId column"):
        evaluate_clusters(pd.DataFrame({"x": [1]}), truth=[1])
    with pytest.raises(ConfigError, match="names no column"):
        evaluate_clusters(found, truth="truth")


def test_scoring_is_the_same_on_every_run():
    df, _ = febrl_like(originals=150, duplicates=40, seed=2)
    first = find_duplicates(df, on=PERSON)
    again = find_duplicates(df, on=PERSON)
    assert first["matchReason"].equals(again["matchReason"])
    assert np.array_equal(first["clusterId"].isna(), again["clusterId"].isna())


def test_deduplicate_scores_a_flat_list_too():
    df, pairs = febrl_like(originals=200, duplicates=30, seed=13)
    result = deduplicate(df, on=PERSON, keep="first")
    assert len(result.removed) == pytest.approx(30, abs=2)
    assert set(result.removed.index) <= {row for pair in pairs for row in pair}
    assert len(deduplicate(df, on=PERSON, keep="first", method="rules").removed) == 0


def test_swapped_first_and_last_names_still_match():
    df, _ = febrl_like(originals=300, duplicates=0, seed=6)
    person = df.iloc[0].to_dict()
    swapped = {**person, "given_name": person["surname"], "surname": person["given_name"]}
    swapped["street_number"] = swapped["soc_sec_id"] = None
    df = pd.concat([df, pd.DataFrame([swapped], index=["rec-0-dup"])])
    explained = explain_pair(df, df.index[0], "rec-0-dup", on=PERSON)
    assert explained.fields["level"].tolist()[:2] == ["similar", "similar"]
    assert explained.probability >= 0.9


@pytest.mark.parametrize("rows", [0, 1])
def test_scoring_an_empty_or_one_row_frame_finds_nothing(rows):
    df = pd.DataFrame({"First": ["Ann"] * rows, "Last": ["Lee"] * rows}, dtype="str")
    found = find_duplicates(df, on=["First", "Last"])
    assert len(found) == rows
    assert found["clusterId"].isna().all()


def test_a_rule_of_fuzzy_columns_only_blocks_on_their_values_not_their_initials():
    df, pairs = febrl_like(originals=400, duplicates=100, seed=8)
    rule = ["given_name", "surname", "date_of_birth", "postcode"]
    plan = plan_matching(
        df,
        on=[rule],
        fuzzy=rule,
        block=None,
        normalizers={"date_of_birth": "text"},
        threshold=0.9,
        scorer="jaro_winkler",
        max_pairs=10**9,
    )
    from crmframes.dedupe.matching import _pass_keys

    keys = _pass_keys(df, _Normalised(df, plan.normalizers), plan.groups[0], plan)
    assert len(keys) == 4 + 6  # each column's value, each two columns' values
    options = {"on": [rule], "fuzzy": rule, "normalizers": {"date_of_birth": "text"}}
    found = find_duplicates(df, **options)
    initials = [[lambda d, c=c: d[c].str[:1]] for c in rule]  # the default before
    before = find_duplicates(df, **options, block=initials)
    now, then = evaluate_clusters(found, pairs), evaluate_clusters(before, pairs)
    assert now.recall >= then.recall - 0.02  # a pair with every value mistyped may go
    assert now.precision >= then.precision
