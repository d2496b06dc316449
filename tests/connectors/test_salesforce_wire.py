"""Salesforce write values (pure): JSON records, Bulk CSV cells, results read as outcomes."""

from datetime import UTC, date, datetime

import numpy as np
import pytest

from crmframes.connectors.base import WriteBatch, WriteOutcome
from crmframes.connectors.salesforce.wire import (
    bulk_outcome,
    check_batch,
    collection_outcome,
    csv_bytes,
    csv_rows,
    json_record,
    split_bulk_error,
)

MOMENT = datetime(2024, 5, 1, 14, 0, 0, 123456, tzinfo=UTC)


def test_json_record_of_an_update_carries_id_and_wire_values():
    batch = WriteBatch("Contact", "update", ())
    record = {"Id": "003x", "Title": None, "Birthdate": date(2024, 1, 2), "N": np.int64(3)}
    assert json_record(batch, record) == {
        "attributes": {"type": "Contact"},
        "id": "003x",
        "Title": None,
        "Birthdate": "2024-01-02",
        "N": 3,
    }


def test_json_record_datetimes_are_utc_with_milliseconds():
    batch = WriteBatch("Contact", "insert", ())
    record = json_record(batch, {"When": MOMENT, "Ok": True, "X": 1.5})
    assert record == {
        "attributes": {"type": "Contact"},
        "When": "2024-05-01T14:00:00.123Z",
        "Ok": True,
        "X": 1.5,
    }


def test_csv_rows_union_header_nulls_and_absent_fields():
    batch = WriteBatch(
        "Contact",
        "update",
        (
            {"Id": "1", "Title": None},
            {"Id": "2", "Email": "a@b.c", "Title": ""},
            {"Id": "3", "When": MOMENT, "N": 1e16, "Ok": False},
        ),
    )
    assert csv_rows(batch) == (
        ["Id", "Title", "Email", "When", "N", "Ok"],
        [
            ["1", "#N/A", "", "", "", ""],
            ["2", "#N/A", "a@b.c", "", "", ""],
            ["3", "", "", "2024-05-01T14:00:00.123Z", "10000000000000000", "false"],
        ],
    )


def test_csv_rows_of_a_delete_hold_only_ids():
    batch = WriteBatch("Contact", "delete", ({"Id": "1"}, {"id": "2"}))
    assert csv_rows(batch) == (["Id"], [["1"], ["2"]])


def test_csv_bytes_quote_what_needs_quoting():
    assert csv_bytes(["A", "B"], [['say "hi"', "a,b"], ["line\nbreak", "é"]]) == (
        'A,B\n"say ""hi""","a,b"\n"line\nbreak",é\n'.encode()
    )


@pytest.mark.parametrize(
    ("batch", "match"),
    [
        (WriteBatch("Contact", "merge", ()), "op must be one of"),  # type: ignore[arg-type]
        (WriteBatch("Contact; DROP", "insert", ()), "not an sObject name"),
        (WriteBatch("Contact", "upsert", ({"X": 1},), key="Ext__c"), "has no Ext__c"),
        (WriteBatch("Contact", "delete", ({"Name": "x"},)), "has no Id"),
        (WriteBatch("Contact", "insert", ({},) * 3), "the most is 2"),
    ],
)
def test_check_batch_refuses_what_cannot_be_sent(batch, match):
    with pytest.raises(ValueError, match=match):
        check_batch(batch, 2)


@pytest.mark.parametrize(
    ("result", "op", "sent", "expected"),
    [
        (
            {"id": "003A", "success": True, "errors": []},
            "insert",
            None,
            WriteOutcome(ok=True, id="003A", created=True),
        ),
        (
            {"id": "003A", "success": True, "errors": [], "created": False},
            "upsert",
            None,
            WriteOutcome(ok=True, id="003A", created=False),
        ),
        (
            {"id": "003AAAAAAAAAAAAAAA", "success": True, "errors": []},
            "delete",
            "003AAAAAAAAAAAA",
            WriteOutcome(ok=True, id="003AAAAAAAAAAAA"),
        ),
        (
            {
                "success": False,
                "errors": [
                    {"statusCode": "UNABLE_TO_LOCK_ROW", "message": "locked", "fields": []},
                    {"statusCode": "OTHER", "message": "more"},
                ],
            },
            "update",
            "003B",
            WriteOutcome(
                ok=False,
                id="003B",
                error_symbol="UNABLE_TO_LOCK_ROW",
                error_message="locked; OTHER: more",
                error_code="200",
                transient=True,
            ),
        ),
        (
            {
                "success": False,
                "errors": [
                    {
                        "statusCode": "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
                        "message": "trigger: UNABLE_TO_LOCK_ROW, unable to obtain exclusive access",
                    }
                ],
            },
            "insert",
            None,
            WriteOutcome(
                ok=False,
                error_symbol="CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
                error_message="trigger: UNABLE_TO_LOCK_ROW, unable to obtain exclusive access",
                error_code="200",
                transient=True,
            ),
        ),
        (
            {
                "success": False,
                "errors": [
                    {
                        "statusCode": "INVALID_CROSS_REFERENCE_KEY",
                        "message": "invalid cross reference id",
                        "fields": [],
                    }
                ],
            },
            "delete",
            "003C",
            WriteOutcome(
                ok=False,
                id="003C",
                error_symbol="INVALID_CROSS_REFERENCE_KEY",
                error_message="invalid cross reference id",
                error_code="200",
                missing=True,
            ),
        ),
        (
            {
                "success": False,
                "errors": [
                    {
                        "statusCode": "INVALID_CROSS_REFERENCE_KEY",
                        "message": "invalid cross reference id",
                        "fields": ["AccountId", "OwnerId"],
                    }
                ],
            },
            "update",
            "003D",
            WriteOutcome(
                ok=False,
                id="003D",
                error_symbol="INVALID_CROSS_REFERENCE_KEY",
                error_message="invalid cross reference id",
                error_code="200",
                error_fields="AccountId,OwnerId",
            ),
        ),
    ],
)
def test_collection_results_become_outcomes(result, op, sent, expected):
    assert collection_outcome(result, op, sent, "200") == expected


def test_bulk_rows_become_outcomes():
    success = ["sf__Id", "sf__Created", "LastName"]
    assert bulk_outcome("successfulResults", success, ["003A", "true", "X"], None, "insert") == (
        WriteOutcome(ok=True, id="003A", created=True)
    )
    failed = ["sf__Id", "sf__Error", "Id"]
    row = ["", "ENTITY_IS_DELETED:entity is deleted:--", "003B"]
    assert bulk_outcome("failedResults", failed, row, "003B", "delete") == WriteOutcome(
        ok=False,
        id="003B",
        error_symbol="ENTITY_IS_DELETED",
        error_message="entity is deleted",
        missing=True,
    )
    unprocessed = bulk_outcome("unprocessedrecords", ["Id"], ["003C"], "003C", "update")
    assert (unprocessed.ok, unprocessed.id, unprocessed.error_symbol, unprocessed.transient) == (
        False,
        "003C",
        "UNPROCESSED",
        True,
    )


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        (
            "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --",
            ("REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", "LastName"),
        ),
        (
            "INVALID_CROSS_REFERENCE_KEY:invalid cross reference id:--",
            ("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ""),
        ),
        ("UNKNOWN:no fields part: here", ("UNKNOWN", "no fields part: here", "")),
    ],
)
def test_bulk_error_text_is_split(text, parts):
    assert split_bulk_error(text) == parts
