"""The argument checks: one pure module, and the pure public functions that call it first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmframes import (
    ConfigError,
    CrmframesError,
    DataError,
    deduplicate,
    find_duplicates,
    reconcile,
)
from crmframes.arguments import (
    check_bool,
    check_frame,
    check_int,
    check_journal,
    check_literal,
    check_names,
    check_number,
    check_order_by,
    check_rules,
    check_str,
    check_time_zone,
)
from crmframes.errors import ArgumentTypeError

DUPLICATED = pd.DataFrame([["a@x", "b@x"]], columns=["Email", "Email"])


def test_argument_type_error_is_a_config_error_and_a_type_error():
    assert issubclass(ArgumentTypeError, ConfigError)
    assert issubclass(ArgumentTypeError, TypeError)
    assert issubclass(ArgumentTypeError, CrmframesError)


@pytest.mark.parametrize("value", [True, np.bool_(False)])
def test_check_bool_takes_booleans(value):
    assert check_bool("dry_run", value) is bool(value)


@pytest.mark.parametrize("value", ["no", 0, None, 1.0])
def test_check_bool_refuses_anything_else(value):
    with pytest.raises(ArgumentTypeError, match="dry_run must be True or False"):
        check_bool("dry_run", value)


def test_check_int_refuses_bools_floats_and_text():
    assert check_int("limit", np.int64(3), min=0) == 3
    for value in (True, 2.0, "3", None):
        with pytest.raises(ArgumentTypeError, match="limit must be a whole number"):
            check_int("limit", value)
    with pytest.raises(ConfigError, match="batch_size must be at least 1 and at most 200, not 0"):
        check_int("batch_size", 0, min=1, max=200)


def test_check_number_refuses_non_finite_and_huge():
    assert check_number("rtol", 1) == 1.0
    for value in (float("nan"), float("inf"), 10**400):
        with pytest.raises(ConfigError, match="finite"):
            check_number("rtol", value)
    with pytest.raises(ArgumentTypeError):
        check_number("rtol", True)


def test_check_literal_lists_the_choices():
    with pytest.raises(ConfigError, match="mode must be one of 'auto', 'rest', 'bulk', not 'x'"):
        check_literal("mode", "x", ("auto", "rest", "bulk"))
    with pytest.raises(ConfigError):
        check_literal("mode", ["auto"], ("auto",))


def test_check_str_refuses_blank_nul_and_surrogates():
    assert check_str("object", "Contact") == "Contact"
    for value in ("", "  ", "Con\x00tact", "Con\ud800tact"):
        with pytest.raises(ConfigError, match="object"):
            check_str("object", value)
    with pytest.raises(ArgumentTypeError, match="object must be a non-empty string, not NoneType"):
        check_str("object", None)


def test_check_names_normalises_and_refuses_shapes():
    assert check_names("key", ("Id", "Email")) == ["Id", "Email"]
    with pytest.raises(ArgumentTypeError, match="key must be a column name or a list"):
        check_names("key", 123)
    with pytest.raises(ConfigError, match="at least one"):
        check_names("key", [])
    with pytest.raises(ConfigError, match="twice"):
        check_names("key", ["Id", "Id"])
    with pytest.raises(ArgumentTypeError, match=r"key\[1\]"):
        check_names("key", ["Id", 5])


def test_check_frame_refuses_what_df_column_access_cannot_take():
    with pytest.raises(DataError, match=r"duplicated column names \['Email'\]"):
        check_frame(DUPLICATED)
    with pytest.raises(DataError, match="MultiIndex"):
        check_frame(pd.DataFrame([[1]], columns=pd.MultiIndex.from_tuples([("a", "b")])))
    with pytest.raises(DataError, match="must be strings"):
        check_frame(pd.DataFrame({0: [1]}))
    with pytest.raises(ArgumentTypeError, match="df must be a pandas DataFrame, not dict"):
        check_frame({"a": [1]})


def test_check_journal_takes_none_false_paths_and_stores(tmp_path):
    assert check_journal(None) is None
    assert check_journal(False) is False
    assert check_journal(tmp_path / "j.jsonl") == tmp_path / "j.jsonl"
    with pytest.raises(ConfigError, match="is a folder"):
        check_journal(tmp_path)
    with pytest.raises(ArgumentTypeError, match="journal must be None"):
        check_journal(True)


def test_check_time_zone_and_order_by_and_rules():
    assert check_time_zone("timezone", "Europe/Paris") == "Europe/Paris"
    with pytest.raises(ConfigError, match="unknown time zone"):
        check_time_zone("timezone", "Mars/Olympus")
    check_order_by("order_by", ["a", ("b", "desc")])
    with pytest.raises(ConfigError, match="'asc' or 'desc'"):
        check_order_by("order_by", [("b", "up")])
    with pytest.raises(ArgumentTypeError, match="order_by"):
        check_order_by("order_by", 5)
    check_rules("on", ["Email", ["FirstName", "LastName"]])
    with pytest.raises(ArgumentTypeError, match=r"on\[0\]"):
        check_rules("on", [5])


# --- issue 11: pure public functions ---------------------------------------------------------


def test_deduplicate_of_a_frame_with_duplicated_columns_is_a_data_error():
    with pytest.raises(DataError, match="duplicated column names"):
        deduplicate(DUPLICATED, on="Email", keep="first")


def test_find_duplicates_of_a_frame_with_duplicated_columns_is_a_data_error():
    with pytest.raises(DataError, match="duplicated column names"):
        find_duplicates(DUPLICATED, on="Email")


def test_find_duplicates_with_rules_of_numbers_is_an_argument_error():
    df = pd.DataFrame({"Email": ["a@x"]})
    with pytest.raises(ArgumentTypeError, match=r"on\[0\]"):
        find_duplicates(df, on=[5])


def test_reconcile_with_a_number_as_key_is_an_argument_error():
    df = pd.DataFrame({"Id": ["1"]})
    with pytest.raises(ArgumentTypeError, match="key must be a column name"):
        reconcile(df, df, key=5)


def test_reconcile_of_frames_with_duplicated_columns_is_a_data_error():
    df = pd.DataFrame([["1", "2"]], columns=["Id", "Id"])
    with pytest.raises(DataError, match="left has duplicated column names"):
        reconcile(df, df, key="Id")


def test_check_stored_values_refuses_what_arrow_cannot_hold():
    from crmframes.arguments import check_stored_values

    check_stored_values(pd.DataFrame({"a": pd.Series([1, "x", [2**62]], dtype=object)}))
    for values in (["\ud800"], [[2**64]], [{"k": 2**70}]):
        with pytest.raises(DataError, match=r"df\['a'\] row 0"):
            check_stored_values(pd.DataFrame({"a": pd.Series(values, dtype=object)}))
    with pytest.raises(DataError, match="sparse"):
        check_stored_values(pd.DataFrame({"a": pd.arrays.SparseArray([1])}))
