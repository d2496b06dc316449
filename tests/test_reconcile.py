"""reconcile: rows on one side only, field-level differences after the import conversions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmframes.errors import ColumnNotFoundError, DataError
from crmframes.reconcile import reconcile


def test_sides_and_differences_in_a_long_frame():
    left = pd.DataFrame({"Id": ["a", "b", "c"], "City": ["Paris", "Lyon", "Metz"], "N": [1, 2, 3]})
    right = pd.DataFrame(
        {"Id": ["b", "c", "d"], "City": ["Lyon", "Nancy", "Nice"], "N": [2.0, 4.0, 5.0]}
    )
    result = reconcile(left, right, key="Id")
    assert result.only_left["Id"].tolist() == ["a"]
    assert result.only_right["Id"].tolist() == ["d"]
    assert result.differences.to_dict("records") == [
        {"Id": "c", "field": "City", "left": "Metz", "right": "Nancy"},
        {"Id": "c", "field": "N", "left": 3, "right": 4.0},
    ]
    assert result.counts == {
        "left": 3,
        "right": 3,
        "matched": 2,
        "only_left": 1,
        "only_right": 1,
        "identical": 1,
        "different": 1,
    }
    assert result.summary.to_dict("records") == [
        {"field": "City", "different": 1},
        {"field": "N", "different": 1},
    ]


def test_representation_is_not_a_difference():
    left = pd.DataFrame(
        {
            "Id": ["a", "b", "c"],
            "When": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:00", None]).tz_localize(
                "Europe/Paris"
            ),
            "Flag": [True, False, None],
            "Score": [0.1 + 0.2, 1.0, np.nan],
            "Note": ["", None, "x"],
        }
    )
    right = pd.DataFrame(
        {
            "Id": ["a", "b", "c"],
            "When": ["2024-01-01T09:00:00.000+0000", "2024-01-01T09:00:00Z", None],
            "Flag": ["true", "false", None],
            "Score": [0.3, 1, None],
            "Note": [None, "", "x"],
        }
    )
    result = reconcile(left, right, key="Id")
    assert result.differences.empty, result.differences
    assert result.counts["identical"] == 3
    strict = reconcile(left, right, key="Id", columns=["Note"], empty_is_null=False)
    assert sorted(strict.differences["Id"]) == ["a", "b"]


def test_naive_timestamps_are_read_in_the_given_zone():
    left = pd.DataFrame({"Id": [1], "T": pd.to_datetime(["2024-06-01 12:00"])})
    right = pd.DataFrame({"Id": [1], "T": pd.to_datetime(["2024-06-01 10:00"]).tz_localize("UTC")})
    assert reconcile(left, right, key="Id", timezone="Europe/Paris").differences.empty
    assert len(reconcile(left, right, key="Id").differences) == 1


def test_wall_times_a_dst_change_skips_or_repeats_are_compared_not_a_crash():
    right = pd.DataFrame({"Id": [1, 2], "T": pd.to_datetime(["2026-10-25 00:30Z"] * 2)})
    for naive in ["2026-10-25 02:30", "2026-03-29 02:30"]:  # repeated, skipped in Paris
        left = pd.DataFrame({"Id": [1, 2], "T": [pd.Timestamp(naive), naive]})
        left["T"] = left["T"].astype("object")
        typed = left.assign(T=pd.to_datetime(left["T"]))
        for frame in (left, typed):
            result = reconcile(frame, right, key="Id", timezone="Europe/Paris")
            assert result.counts["different"] == 2  # no single instant: read as text


def test_whole_numbers_are_compared_exactly():
    left = pd.DataFrame({"Id": [1, 2, 3], "n": [10**9, 2**53, 4155550132]})
    right = pd.DataFrame({"Id": [1, 2, 3], "n": [10**9 + 1, 2**53 + 1, 4155550132]})
    result = reconcile(left, right, key="Id")
    assert result.differences["Id"].tolist() == [1, 2]
    assert reconcile(left, right.astype({"n": "Int64"}), key="Id").counts["different"] == 2


def test_composite_keys_and_chosen_columns():
    left = pd.DataFrame({"a": [1, 1], "b": ["x", "y"], "v": [1, 2], "w": [5, 5]})
    right = pd.DataFrame({"a": [1, 1], "b": ["x", "y"], "v": [1, 3], "w": [6, 6]})
    result = reconcile(left, right, key=["a", "b"], columns=["v"])
    assert result.differences[["a", "b", "field"]].to_dict("records") == [
        {"a": 1, "b": "y", "field": "v"}
    ]


def test_bad_input_is_a_clear_error():
    frame = pd.DataFrame({"Id": ["a", "a"], "x": [1, 2]})
    with pytest.raises(DataError, match="duplicated keys"):
        reconcile(frame, frame.iloc[:1], key="Id")
    with pytest.raises(DataError, match="empty key"):
        reconcile(pd.DataFrame({"Id": [None], "x": [1]}), frame.iloc[:1], key="Id")
    with pytest.raises(ColumnNotFoundError, match="Id"):
        reconcile(frame.iloc[:1], frame.iloc[:1].rename(columns={"Id": "id"}), key="Id")
    with pytest.raises(ColumnNotFoundError):
        reconcile(frame.iloc[:1], frame.iloc[:1], key="Id", columns=["nope"])
    with pytest.raises(DataError, match="keys cannot be matched"):
        reconcile(frame.iloc[:1], pd.DataFrame({"Id": [1], "x": [1]}), key="Id")


def test_empty_frames():
    empty = pd.DataFrame({"Id": pd.Series(dtype="str"), "x": pd.Series(dtype="Int64")})
    result = reconcile(empty, empty, key="Id")
    assert result.counts["matched"] == 0 and result.differences.empty
    assert list(result.differences.columns) == ["Id", "field", "left", "right"]
