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


def test_empty_frames():
    empty = pd.DataFrame({"Id": pd.Series(dtype="str"), "x": pd.Series(dtype="Int64")})
    result = reconcile(empty, empty, key="Id")
    assert result.counts["matched"] == 0 and result.differences.empty
    assert list(result.differences.columns) == ["Id", "field", "left", "right"]
