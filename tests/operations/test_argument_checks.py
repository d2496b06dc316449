"""Issue 11's raw errors and silent accepts: each public call refuses bad arguments before any call."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from crmframes import (
    CampaignStore,
    ConfigError,
    DataError,
    F,
    FilterError,
    RequestRejectedError,
    Sandbox,
    delete_in_crm,
    export_to_crm,
    import_from_crm,
)
from crmframes.errors import ArgumentTypeError
from crmframes.schema import UnknownFieldError
from tests.clients import trusted_session


@pytest.fixture(scope="module")
def sf() -> Iterator[Sandbox]:
    with Sandbox("salesforce", data="demo") as sb:
        yield sb


@pytest.fixture(scope="module")
def dv() -> Iterator[Sandbox]:
    with Sandbox("dynamics", data="demo") as sb:
        yield sb


@pytest.fixture(scope="module")
def sf_conn(sf: Sandbox) -> Any:
    conn = sf.connector()
    conn.describe("Contact"), conn.describe("Account")
    return conn


@pytest.fixture(scope="module")
def dv_conn(dv: Sandbox) -> Any:
    conn = dv.connector()
    conn.describe("contact"), conn.describe("account")
    return conn


def _no_call(sandbox: Sandbox, call: Any, error: type[Exception], match: str) -> None:
    """``call`` raises ``error`` and the CRM saw no call."""
    before = sandbox.api_call_count()
    with pytest.raises(error, match=match):
        call()
    assert sandbox.api_call_count() == before


LAST = pd.DataFrame({"LastName": ["Lee"]})


@pytest.mark.parametrize(
    ("arguments", "error", "match"),
    [
        ({"df": pd.DataFrame([["a", "b"]], columns=["LastName", "LastName"])}, DataError, "dup"),
        ({"mapping": {"LastName": 5}}, ArgumentTypeError, r"mapping\['LastName'\]"),
        ({"mapping": {"LastName": ("LastName",)}}, ArgumentTypeError, "field, conversion"),
        ({"key": ["x"]}, ArgumentTypeError, "key must be None or a column name"),
        ({"batch_size": True}, ArgumentTypeError, "batch_size must be a whole number"),
        ({"max_retries": "x"}, ArgumentTypeError, "max_retries must be a whole number"),
        ({"dry_run": "no"}, ArgumentTypeError, "dry_run must be True or False"),
        ({"mode": "x"}, ConfigError, "mode must be one of"),
        ({"object": None}, ArgumentTypeError, "object must be an object's API name"),
        ({"timezone": "Mars/Olympus"}, ConfigError, "unknown time zone"),
        ({"df": [{"LastName": "Lee"}]}, ArgumentTypeError, "df must be a pandas DataFrame"),
    ],
)
def test_export_refuses_bad_arguments_before_any_call(sf, sf_conn, arguments, error, match):
    options = {"object": "Contact", "df": LAST, "journal": False, **arguments}
    _no_call(sf, lambda: export_to_crm(sf_conn, **options), error, match)


def test_export_journal_that_is_a_folder_is_a_config_error(sf, sf_conn, tmp_path: Path):
    _no_call(
        sf,
        lambda: export_to_crm(sf_conn, "Contact", LAST, journal=tmp_path),
        ConfigError,
        "is a folder",
    )


@pytest.mark.parametrize("write", [export_to_crm, delete_in_crm])
def test_write_sleep_that_is_not_a_function_is_refused(sf, sf_conn, write: Any):
    df = pd.DataFrame({"Id": ["003000000000001AAA"]})
    call = lambda: write(sf_conn, "Contact", df, key="Id", journal=False, sleep=5)  # noqa: E731
    _no_call(sf, call, ArgumentTypeError, "sleep must be None or a function")


def test_delete_of_a_frame_with_duplicated_columns_is_a_data_error(sf, sf_conn):
    df = pd.DataFrame([["003000000000001AAA"] * 2], columns=["Id", "Id"])
    _no_call(sf, lambda: delete_in_crm(sf_conn, "Contact", df, journal=False), DataError, "dup")


@pytest.mark.parametrize(
    ("arguments", "error", "match"),
    [
        ({"object": None}, ArgumentTypeError, "object must be"),
        ({"auto_index": 5}, ArgumentTypeError, "auto_index must be None or an AutoIndex"),
        ({"population": ["a"], "id_column": "Id"}, ArgumentTypeError, "population must be"),
        (
            {
                "population": pd.DataFrame([["003000000000001AAA"] * 2], columns=["Id", "Id"]),
                "id_column": "Id",
            },
            DataError,
            "population has duplicated column names",
        ),
        ({"mode": "x"}, ConfigError, "mode must be one of"),
        ({"limit": True}, ArgumentTypeError, "limit must be a whole number"),
        ({"fields": [5]}, ArgumentTypeError, "a field must be a name"),
        ({"order_by": [("LastName", "desc", 3)]}, ArgumentTypeError, "order_by item"),
    ],
)
def test_import_refuses_bad_arguments_before_any_call(sf, sf_conn, arguments, error, match):
    options = {"object": "Contact", **arguments}
    _no_call(sf, lambda: import_from_crm(sf_conn, **options), error, match)


@pytest.mark.parametrize(
    ("frame", "symbol", "message"),
    [
        (pd.DataFrame({"Name": ["x"], "NumberOfEmployees": [math.inf]}), "INVALID_VALUE", "finite"),
        (pd.DataFrame({"Name": ["x"], "NumberOfEmployees": [2**70]}), "INVALID_VALUE", "64-bit"),
        (
            pd.DataFrame({"Name": pd.Series(["x\ud800"], dtype=object)}),
            "INVALID_VALUE",
            "lone surrogate",
        ),
    ],
)
def test_export_of_an_unsendable_value_is_a_reject_row(sf, sf_conn, frame, symbol, message):
    before = sf.api_call_count()
    result = export_to_crm(sf_conn, "Account", frame, journal=False, progress=False)
    assert len(result.frame) == 0
    assert result.rejects["errorSymbol"].tolist() == [symbol]
    assert message in result.rejects["errorMessage"].iloc[0]
    assert sf.api_call_count() == before


def test_dynamics_export_of_a_huge_integer_is_a_reject_row(dv, dv_conn):
    frame = pd.DataFrame({"name": ["x", "y"], "numberofemployees": [2**70, 3]})
    result = export_to_crm(dv_conn, "account", frame, journal=False, dry_run=True)
    assert result.rejects["inputIndex"].tolist() == [0]
    assert "64-bit" in result.rejects["errorMessage"].iloc[0]


def test_merge_and_store_arguments_are_checked(tmp_path: Path):
    with CampaignStore() as store:
        with pytest.raises(ArgumentTypeError, match="key must be a column name"):
            store.merge("t", pd.DataFrame({"a": [1]}), key=123)
        with pytest.raises(DataError, match="lone surrogate"):
            store.merge(
                "t", pd.DataFrame({"k": ["1"], "a": pd.Series(["\ud800"], dtype=object)}), key="k"
            )
        with pytest.raises(DataError, match="64-bit"):
            store.merge(
                "t", pd.DataFrame({"k": ["1"], "a": pd.Series([2**70], dtype=object)}), key="k"
            )
        with pytest.raises(ArgumentTypeError, match="dry_run must be True or False"):
            store.merge("t", pd.DataFrame({"k": ["1"]}), key="k", dry_run="no")
        with pytest.raises(ArgumentTypeError, match="option name"):
            store.options[5] = "x"  # type: ignore[index]
        assert store.tables() == []


# --- filters and queries: the same answer on both CRMs, before any call ------------------------


def test_dynamics_filter_on_a_field_name_that_is_no_identifier_is_unknown_field(dv, dv_conn):
    _no_call(
        dv,
        lambda: import_from_crm(dv_conn, "contact", where=F("bad name") == 1),
        UnknownFieldError,
        "contact has no field 'bad name'",
    )


@pytest.mark.parametrize("make", [lambda f: f.isin([10**40]), lambda f: f == 10**40])
def test_dynamics_integer_out_of_range_is_a_filter_error(dv, dv_conn, make):
    where = make(F("numberofemployees"))
    _no_call(dv, lambda: import_from_crm(dv_conn, "account", where=where), FilterError, "range")


@pytest.mark.parametrize("make", [lambda f: f.isin([10**40]), lambda f: f == 10**40])
def test_salesforce_integer_out_of_range_is_a_filter_error(sf, sf_conn, make):
    where = make(F("NumberOfEmployees"))
    _no_call(sf, lambda: import_from_crm(sf_conn, "Account", where=where), FilterError, "range")


def test_salesforce_query_too_long_is_refused_before_the_call(sf, sf_conn):
    where = F("LastName") == "x" * 100_000
    call = lambda: import_from_crm(sf_conn, "Contact", where=where)  # noqa: E731
    _no_call(sf, call, RequestRejectedError, "the query is too long.*16,384")


def test_dynamics_query_too_long_is_refused_before_the_call(dv, dv_conn):
    where = F("lastname") == "x" * 100_000
    call = lambda: import_from_crm(dv_conn, "contact", where=where)  # noqa: E731
    _no_call(dv, call, RequestRejectedError, "the query is too long.*32,768")


def test_dynamics_token_renewal_does_not_send_the_expired_token(dv):
    session = trusted_session(dv)
    sent: list[tuple[str, str | None]] = []
    session.hooks["response"].append(
        lambda reply, **_: sent.append(
            (reply.request.url, reply.request.headers.get("Authorization"))
        )
    )
    conn = dv.connector(session=session)
    conn.describe("contact")
    dv.expire_sessions()
    import_from_crm(conn, "contact", fields=["lastname"], limit=1)
    token_requests = [header for url, header in sent if "/oauth2/" in url or "token" in url]
    assert token_requests, sent
    assert all(header is None for header in token_requests)
    assert any(header for url, header in sent if "/api/data/" in url)


@pytest.mark.parametrize(("crm", "obj"), [("sf", "Contact"), ("dv", "contact")])
def test_import_that_reads_no_page_gives_an_empty_typed_frame(request, crm, obj):
    conn = request.getfixturevalue(f"{crm}_conn")
    nothing = import_from_crm(conn, obj, limit=0)  # every field, compound ones too
    one = import_from_crm(conn, obj, limit=1)
    assert len(nothing.frame) == 0
    assert dict(nothing.frame.dtypes.astype(str)) == dict(one.frame.dtypes.astype(str))


@pytest.mark.parametrize(("crm", "obj"), [("sf", "Contact"), ("dv", "contact")])
def test_import_of_a_population_of_malformed_ids_rejects_them(request, crm, obj):
    sandbox = request.getfixturevalue(crm)
    conn = request.getfixturevalue(f"{crm}_conn")
    ids = pd.Series([["x"], 5, math.inf, "x\ud800", None, 2**70, b"zz"], dtype=object)
    before = sandbox.api_call_count()
    result = import_from_crm(conn, obj, population=pd.DataFrame({"Id": ids}), id_column="Id")
    assert result.rejects["errorSymbol"].tolist() == ["MALFORMED_ID"] * len(ids)
    assert len(result.frame) == 0
    assert sandbox.api_call_count() == before
