"""Export planning (pure): mapping, keys, dtypes, wire values and pre-flight rejects."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from crmframes.errors import ColumnNotFoundError, ConfigError, DataError
from crmframes.schema import Field, ObjectSchema, UnknownFieldError
from crmframes.writes import canonical, plan_deletes, plan_writes, same_values

SCHEMA = ObjectSchema(
    "Contact",
    {
        f.name: f
        for f in (
            Field("Id", "id", createable=False, updateable=False),
            Field("LastName", "string", length=10, nullable=False, required=True),
            Field("Email", "string", length=80, external_id=True),
            Field("NumberOfKids", "integer"),
            Field("Score", "number"),
            Field("DoNotCall", "boolean"),
            Field("Birthdate", "date"),
            Field("LastSeen", "datetime"),
            Field("AccountId", "reference", references=("Account",)),
            Field("LastModifiedDate", "datetime", createable=False, updateable=False),
            Field("Formula", "string", createable=False, updateable=False),
        )
    },
    "Id",
    modified_fields=("LastModifiedDate",),
    created_field=None,
)


def norm_id(value: object) -> str | None:
    text = str(value)
    return text if len(text) == 18 and text.isalnum() else None


def plan(df: pd.DataFrame, **kw):  # type: ignore[no-untyped-def]
    return plan_writes(df, SCHEMA, normalize_id=norm_id, **kw)


def test_unmapped_frame_maps_columns_by_name_and_skips_system_columns():
    df = pd.DataFrame(
        {
            "lastname": ["Ng"],
            "Email": ["a@x.io"],
            "LastModifiedDate": [pd.Timestamp("2024-01-01", tz="UTC")],
            "errorSymbol": ["X"],
        }
    )
    p = plan(df)
    assert p.op == "insert"
    assert [t.field.name for t in p.targets] == ["LastName", "Email"]
    assert p.skipped_columns == ["LastModifiedDate"]
    assert p.records == [{"LastName": "Ng", "Email": "a@x.io"}]


def test_unknown_column_names_close_matches():
    with pytest.raises(UnknownFieldError, match="LastName"):
        plan(pd.DataFrame({"LastNam": ["x"]}))


def test_mapping_errors_are_clear():
    df = pd.DataFrame({"name": ["x"], "mail": ["m"]})
    with pytest.raises(ColumnNotFoundError, match="nope"):
        plan(df, mapping={"nope": "LastName"})
    with pytest.raises(UnknownFieldError, match="did you mean 'Email'"):
        plan(df, mapping={"mail": "Emial"})
    with pytest.raises(ConfigError, match="both map to"):
        plan(df, mapping={"name": "LastName", "mail": "lastname"})
    with pytest.raises(ConfigError, match="unknown conversion"):
        plan(df, mapping={"name": ("LastName", "weird")})
    with pytest.raises(ConfigError, match="read-only"):
        plan(df, mapping={"name": "Formula"})


def test_key_chooses_update_or_upsert_or_refuses():
    df = pd.DataFrame({"Id": ["003000000000001AAA"], "Email": ["a@x.io"], "LastName": ["A"]})
    assert plan(df, key="Id").op == "update"
    assert plan(df, key="Email").op == "upsert"
    with pytest.raises(ConfigError, match="cannot identify records"):
        plan(df, key="LastName")
    # the key column need not be mapped: it is added
    keyed = plan(df, mapping={"LastName": "LastName"}, key="Email")
    assert keyed.op == "upsert" and keyed.records == [{"LastName": "A", "Email": "a@x.io"}]
    with pytest.raises(ConfigError, match="not a mapped column"):
        plan(df, mapping={"LastName": "LastName"}, key="crmKey")


def test_key_nulls_and_malformed_ids_are_rejects_duplicates_an_error():
    df = pd.DataFrame(
        {"Id": ["003000000000001AAA", None, "bad", "  "], "LastName": ["A", "B", "C", "D"]}
    )
    p = plan(df, key="Id")
    assert p.positions == [0]
    assert [(r.position, r.symbol) for r in p.rejects] == [
        (1, "MISSING_KEY"),
        (2, "MALFORMED_ID"),
        (3, "MISSING_KEY"),
    ]
    dup = pd.DataFrame({"Email": ["a@x.io", "a@x.io"], "LastName": ["A", "B"]})
    with pytest.raises(DataError, match="duplicated"):
        plan(dup, key="Email")


def test_values_are_converted_and_bad_values_rejected_with_every_problem():
    df = pd.DataFrame(
        {
            "LastName": ["Short", "Far too long a name", "Ok"],
            "NumberOfKids": [2.0, 1.5, np.nan],
            "Score": [1, 2, 3],
            "Birthdate": ["2001-02-03", "bad", None],
        }
    )
    p = plan(df)
    assert p.positions == [0, 2]
    assert p.records[0] == {
        "LastName": "Short",
        "NumberOfKids": 2,
        "Score": 1.0,
        "Birthdate": date(2001, 2, 3),
    }
    assert p.records[1]["NumberOfKids"] is None and p.records[1]["Birthdate"] is None
    (bad,) = p.rejects
    assert bad.position == 1 and bad.symbol == "STRING_TOO_LONG"
    assert bad.fields == "LastName,NumberOfKids,Birthdate"
    assert "whole number" in bad.message and "not a date" in bad.message


@pytest.mark.parametrize("dtype", ["int64", "Int64", "object"])
def test_whole_numbers_are_sent_exactly_and_decimals_are_numbers(dtype: str):
    big = 2**53 + 1  # float64 cannot hold it
    df = pd.DataFrame(
        {
            "LastName": ["a", "b"],
            "NumberOfKids": pd.Series([big, None if dtype != "int64" else 1], dtype=dtype),
            "Score": pd.Series([big, 2], dtype=dtype),
        }
    )
    p = plan(df)
    assert p.records[0]["NumberOfKids"] == big and p.records[0]["Score"] == big
    decimals = plan(
        pd.DataFrame({"LastName": ["a"], "NumberOfKids": [Decimal("3")], "Score": [Decimal("1.5")]})
    )
    assert not decimals.rejects
    assert decimals.records[0]["NumberOfKids"] == 3 and decimals.records[0]["Score"] == 1.5


def test_skip_nulls_leaves_fields_unchanged():
    df = pd.DataFrame({"Email": ["a@x.io"], "LastName": [None], "Score": [np.nan]})
    assert plan(df, key="Email", skip_nulls=True).records == [{"Email": "a@x.io"}]
    assert plan(df, key="Email").records == [{"LastName": None, "Score": None, "Email": "a@x.io"}]


def test_datetime_conversions():
    df = pd.DataFrame(
        {
            "LastSeen": [
                pd.Timestamp("2024-03-01 10:00"),
                pd.Timestamp("2024-03-01 10:00", tz="Europe/Paris"),
            ]
        }
    )
    default = plan(df, timezone="America/New_York").records
    assert default[0]["LastSeen"] == datetime(2024, 3, 1, 15, 0, tzinfo=UTC)
    assert default[1]["LastSeen"] == datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    wall = plan(df, mapping={"LastSeen": ("LastSeen", "no_offset")}).records
    assert [r["LastSeen"] for r in wall] == [datetime(2024, 3, 1, 10, tzinfo=UTC)] * 2
    day = plan(df, mapping={"LastSeen": ("LastSeen", "date_only")}).records
    assert day[0]["LastSeen"] == datetime(2024, 3, 1, tzinfo=UTC)
    raw = plan(
        pd.DataFrame({"LastSeen": ["2024-03-01T10:00:00.000+0000"]}),
        mapping={"LastSeen": ("LastSeen", "raw")},
    ).records
    assert raw == [{"LastSeen": "2024-03-01T10:00:00.000+0000"}]


def test_wrong_dtypes_fail_before_any_call():
    with pytest.raises(DataError, match="DoNotCall"):
        plan(pd.DataFrame({"DoNotCall": [1.0, 0.0]}))
    with pytest.raises(DataError, match="timestamps"):
        plan(pd.DataFrame({"Score": pd.to_datetime(["2024-01-01"])}))
    with pytest.raises(DataError, match="decimal numbers"):
        plan(pd.DataFrame({"LastName": [1.5]}))
    # an all-null column of any dtype is fine: it nulls the field
    assert plan(pd.DataFrame({"DoNotCall": [np.nan]})).records == [{"DoNotCall": None}]


def test_row_digests_follow_content_not_position():
    df = pd.DataFrame({"Email": ["a@x.io", "b@x.io"], "LastName": ["A", "B"]})
    a = plan(df, key="Email")
    swapped = plan(df.iloc[::-1].reset_index(drop=True), key="Email")
    assert a.row_digests() == swapped.row_digests()[::-1]
    fixed = plan(df.assign(LastName=["A", "C"]), key="Email")
    assert fixed.row_digests()[0] == a.row_digests()[0]
    assert fixed.row_digests()[1] != a.row_digests()[1]
    assert a.target() == fixed.target() != plan(df).target()


def test_plan_deletes():
    df = pd.DataFrame({"Id": ["003000000000001AAA", "nope", None]})
    p = plan_deletes(df, SCHEMA, key=None, normalize_id=norm_id)
    assert p.op == "delete" and p.records == [{"Id": "003000000000001AAA"}]
    assert [r.symbol for r in p.rejects] == ["MALFORMED_ID", "MISSING_KEY"]
    with pytest.raises(ColumnNotFoundError):
        plan_deletes(df, SCHEMA, key="crmId", normalize_id=norm_id)


def test_canonical_forms():
    assert canonical(3) == canonical(3.0) == canonical(np.int64(3)) == "3"
    assert canonical(datetime(2024, 1, 2, 3, 4, 5, 600, tzinfo=UTC)) == "2024-01-02T03:04:05Z"
    assert canonical("2024-01-02T04:04:05+01:00") == "2024-01-02T03:04:05Z"
    assert canonical(date(2024, 1, 2)) == "2024-01-02"
    assert canonical(np.nan) is None and canonical(None) is None
    assert same_values({"a": 1, "b": "x"}, {"a": 1.0, "b": "x", "c": 9}, ["a", "b"])


@pytest.mark.parametrize("conversion", ["default", "date_only", "no_offset"])
def test_vectorised_columns_equal_value_by_value(conversion: str):
    from zoneinfo import ZoneInfo

    from crmframes.writes import Target, _Bad, _column_values

    zone = ZoneInfo("Europe/Paris")
    naive = pd.Series(
        pd.to_datetime(["2024-10-27 02:30", "2024-03-01 10:00", None, "2024-03-31 02:30"])
    )  # a repeated and a skipped (DST gap) wall time
    frames = {
        "LastSeen": [naive, naive.dt.tz_localize("America/New_York")],
        "Birthdate": [naive],
        "LastName": [pd.Series(["Ng", None, "x" * 11, "a"], dtype="str")],
        "NumberOfKids": [pd.Series([1.0, np.nan, 2.5, 3.0]), pd.Series([1, 2, 3, 4])],
        "Score": [pd.Series([1.5, np.inf, np.nan, 0.0])],
        "DoNotCall": [pd.Series([True, False, True, False])],
    }
    for name, columns in frames.items():
        target = Target(name, SCHEMA.fields[name], conversion)  # type: ignore[arg-type]
        for column in columns:
            fast = _column_values(column, target, zone)
            slow = _column_values(column.astype(object), target, zone)  # value by value
            shape = [type(v) if isinstance(v, _Bad) else v for v in fast]
            assert shape == [type(v) if isinstance(v, _Bad) else v for v in slow], name
