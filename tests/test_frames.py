import pandas as pd
import pyarrow as pa
import pytest

from crmframes.frames import REJECT_COLUMNS, convert_page, records_to_table, reject_frame, to_pandas
from crmframes.schema import Field

FIELDS = [
    Field("Id", "id"),
    Field("When", "datetime"),
    Field("Day", "date"),
    Field("N", "integer"),
    Field("X", "number"),
    Field("B", "boolean"),
    Field("Account.Name", "string"),
]


def page(*records):
    return records_to_table(list(records), FIELDS)


def test_records_become_wire_columns_and_parents_come_flat():
    table = page(
        {
            "Id": "a",
            "When": "2024-05-01T10:00:00.000+0000",
            "Day": "2024-05-01",
            "N": 3,
            "X": 1.5,
            "B": True,
            "Account": {"attributes": {}, "Name": "Acme"},
        },
        {"Id": "b", "When": None, "Day": None, "N": None, "X": None, "B": None, "Account": None},
    )
    assert table.column_names == [f.name for f in FIELDS]
    assert table.column("N").type == pa.int64() and table.column("B").type == pa.bool_()
    assert table.column("Account.Name").to_pylist() == ["Acme", None]


@pytest.mark.parametrize(
    ("conversion", "expected"),
    [
        ("default", pd.Timestamp("2024-05-01 12:00:00+02:00")),
        ("no_offset", pd.Timestamp("2024-05-01 10:00:00")),
        ("raw", "2024-05-01T10:00:00.000+0000"),
    ],
)
def test_datetime_conversions(conversion, expected):
    converted = convert_page(
        page({"Id": "a", "When": "2024-05-01T10:00:00.000+0000"}),
        FIELDS,
        {"When": conversion},
        timezone="Europe/Paris",
    )
    assert to_pandas(converted.table)["When"].iloc[0] == expected


def test_date_only_takes_the_day_in_the_configured_zone():
    converted = convert_page(
        page({"Id": "a", "When": "2024-05-01T23:30:00Z"}),
        FIELDS,
        {"When": "date_only"},
        timezone="Asia/Tokyo",
    )
    assert str(to_pandas(converted.table)["When"].iloc[0]) == "2024-05-02"


def test_values_that_do_not_convert_become_rejects_and_nothing_is_lost():
    table = page(
        {"Id": "a", "When": "2024-05-01T10:00:00Z", "N": 1},
        {"Id": "b", "When": "yesterday", "N": 2},
        {"Id": "c", "Day": "2024-02-30", "N": "many"},
    )
    converted = convert_page(table, FIELDS, {}, first_index=10)
    assert to_pandas(converted.table)["Id"].tolist() == ["a"]
    rejects = converted.rejects
    assert rejects["Id"].tolist() == ["b", "c"]
    assert rejects["inputIndex"].tolist() == [11, 12]
    assert rejects["errorSymbol"].tolist() == ["INVALID_VALUE"] * 2
    assert rejects["errorFields"].tolist() == ["When", "Day,N"]
    assert len(converted.table) + len(rejects) == len(table)


def test_bulk_csv_text_booleans_and_numbers_convert():
    table = pa.table(
        {
            f.name: pa.array(values, pa.string())
            for f, values in zip(
                FIELDS,
                [
                    ["a", "b"],
                    [None, None],
                    ["2024-05-01T00:00:00.000Z", None],
                    ["7", None],
                    ["2.5", None],
                    ["true", "false"],
                    [None, None],
                ],
                strict=True,
            )
        }
    )
    frame = to_pandas(convert_page(table, FIELDS, {}).table)
    assert frame["B"].tolist() == [True, False]
    assert frame["N"].dtype == "Int64" and frame["N"].tolist()[0] == 7
    assert str(frame["Day"].iloc[0]) == "2024-05-01"


def test_an_empty_reject_frame_still_has_every_column():
    frame = reject_frame(
        [], symbols=[], messages=[], codes=[], fields=[], indexes=[], columns=["Id"]
    )
    assert list(frame.columns) == ["Id", *REJECT_COLUMNS] and frame.empty


def test_json_page_reads_what_records_to_table_reads():
    import orjson
    import pyarrow as pa

    from crmframes.frames import json_page, records_to_table

    fields = [
        Field("Id", "id"),
        Field("NumberOfEmployees", "integer"),
        Field("Score", "number"),
        Field("Active", "boolean"),
        Field("Account.Name", "string"),
        Field("Account.Owner.Alias", "string"),
    ]
    records = [
        {
            "attributes": {"type": "Contact"},
            "Id": "003A",
            "NumberOfEmployees": 12,
            "Score": 1.5,
            "Active": True,
            "Account": {"attributes": {}, "Name": "Acme", "Owner": {"Alias": "zz"}},
        },
        {"Id": "003B", "NumberOfEmployees": None, "Score": 2, "Active": None, "Account": None},
        {
            "Id": "003C",
            "NumberOfEmployees": 3,
            "Score": None,
            "Active": False,
            "Account": {"Name": 'Ünïcode "q"', "Owner": None},
        },
    ]
    raw = orjson.dumps({"totalSize": 3, "done": True, "records": records})
    fast = json_page(raw, "records", fields, {"totalSize": pa.int64()})
    assert fast is not None
    assert fast[1] == {"totalSize": 3}
    assert fast[0].equals(records_to_table(records, fields))
    # a value of another JSON type: the general path (which makes it text to reject)
    bad = orjson.dumps({"records": [{**records[0], "NumberOfEmployees": "twelve"}]})
    assert json_page(bad, "records", fields) is None
    empty = json_page(orjson.dumps({"value": []}), "value", fields)
    assert empty is not None and empty[0].num_rows == 0


def test_a_value_of_another_json_type_is_a_reject_not_a_silent_change():
    """Arrow alone would truncate 5.7 into an integer field and read true as 1.0."""
    fields = [Field("i", "integer"), Field("n", "number"), Field("s", "string")]
    records = [
        {"i": 5.7, "n": 1.5, "s": "a"},
        {"i": 3.0, "n": True, "s": "b"},
        {"i": 7, "n": 2, "s": "c"},
    ]
    converted = convert_page(records_to_table(records, fields), fields, {})
    assert converted.table.to_pylist() == [{"i": 7, "n": 2.0, "s": "c"}]
    rejects = converted.rejects
    assert rejects["inputIndex"].tolist() == [0, 1]
    assert rejects["errorFields"].tolist() == ["i", "n"]
    assert rejects["i"].tolist() == ["5.7", "3"]  # the wire values, as text
