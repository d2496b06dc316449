from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from crmframes.connectors.salesforce.soql_compiler import build_soql, compile_soql, soql_literal
from crmframes.errors import FilterError
from crmframes.filters import And, F, Not
from crmframes.query_terms import literal_for, order_items
from crmframes.sandbox.salesforce.soql import Comparison, InList, parse_soql
from crmframes.schema import Field, ObjectSchema, UnknownFieldError

CONTACT = ObjectSchema(
    "Contact",
    {
        "Id": Field("Id", "id"),
        "AccountId": Field("AccountId", "reference"),
        "LastName": Field("LastName", "string"),
        "Email": Field("Email", "string"),
        "LeadSource": Field("LeadSource", "string", crm_type="picklist"),
        "NumberOfEmployees": Field("NumberOfEmployees", "integer"),
        "AnnualRevenue": Field("AnnualRevenue", "number"),
        "DoNotCall": Field("DoNotCall", "boolean"),
        "Birthdate": Field("Birthdate", "date"),
        "CreatedDate": Field("CreatedDate", "datetime"),
        "Description": Field("Description", "string", filterable=False, sortable=False),
    },
    "Id",
)
ID18 = "003Rs0000000001IAA"


def where(expr) -> str:
    return compile_soql(expr, CONTACT)


def parsed_value(expr):
    """What the sandbox's SOQL parser reads as the literal (one comparison, nothing else)."""
    query = parse_soql(f"SELECT Id FROM Contact WHERE {where(expr)}")
    assert isinstance(query.where, (Comparison, InList)), query.where
    return query.where


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (F("NumberOfEmployees") > 10, "NumberOfEmployees > 10"),
        (F("numberofemployees") >= 10, "NumberOfEmployees >= 10"),
        (F("NumberOfEmployees") == 10, "NumberOfEmployees = 10"),
        (F("NumberOfEmployees") != 10, "NumberOfEmployees != 10"),
        (F("NumberOfEmployees") < 10, "NumberOfEmployees < 10"),
        (F("NumberOfEmployees") <= 10, "NumberOfEmployees <= 10"),
        (F("Email").is_null(), "Email = null"),
        (F("Email") != None, "Email != null"),  # noqa: E711
        (F("LastName").isin(["a", "b", "a"]), "LastName IN ('a', 'b')"),
        (F("LastName").notin(["a"]), "LastName NOT IN ('a')"),
        (F("LastName").contains("o'b"), "LastName LIKE '%o\\'b%'"),
        (F("LastName").startswith("Mc"), "LastName LIKE 'Mc%'"),
        (F("LastName").endswith("son"), "LastName LIKE '%son'"),
        (F("LeadSource") == "Web", "LeadSource = 'Web'"),
        (F("DoNotCall") == True, "DoNotCall = true"),  # noqa: E712
        (F("DoNotCall") != False, "DoNotCall != false"),  # noqa: E712
        (F("Birthdate") < date(2000, 2, 29), "Birthdate < 2000-02-29"),
        (
            F("CreatedDate") >= datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
            "CreatedDate >= 2024-01-02T03:04:05Z",
        ),
        (F("Id") == ID18, f"Id = '{ID18}'"),
        (F("AccountId").isin(["001Rs0000000001"]), "AccountId IN ('001Rs0000000001IAA')"),
    ],
)
def test_atoms(expr, text):
    assert where(expr) == text


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (
            (F("NumberOfEmployees") > 1) & (F("LastName") == "x") & F("Email").not_null(),
            "NumberOfEmployees > 1 AND LastName = 'x' AND Email != null",
        ),
        (
            (F("NumberOfEmployees") > 1) & ((F("LastName") == "x") | F("Email").is_null()),
            "NumberOfEmployees > 1 AND (LastName = 'x' OR Email = null)",
        ),
        (
            ((F("NumberOfEmployees") > 1) & (F("LastName") == "x")) | ~(F("AnnualRevenue") < 3),
            "(NumberOfEmployees > 1 AND LastName = 'x') OR (NOT AnnualRevenue < 3)",
        ),
        (
            ~((F("LastName") == "x") | F("Email").is_null()),
            "(NOT (LastName = 'x' OR Email = null))",
        ),
        (~~(F("AnnualRevenue") < 3), "(NOT (NOT AnnualRevenue < 3))"),
        (~F("LastName").contains("x"), "(NOT LastName LIKE '%x%')"),
    ],
)
def test_logic_is_parenthesised_where_soql_needs_it(expr, text):
    assert where(expr) == text
    parse_soql(f"SELECT Id FROM Contact WHERE {text}")  # the sandbox's parser accepts it


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("plain", "'plain'"),
        ("O'Brien", "'O\\'Brien'"),
        ('say "hi"', "'say \\\"hi\\\"'"),
        ("back\\slash", "'back\\\\slash'"),
        ("\\'", "'\\\\\\''"),
        ("a\nb\rc\td\be\ff", "'a\\nb\\rc\\td\\be\\ff'"),
        ("nul\x00bell\x07del\x7f", "'nul\\u0000bell\\u0007del\\u007f'"),
        ("héllo wörld ß 😀", "'héllo wörld ß 😀'"),
        ("50%_off", "'50%_off'"),  # wildcards mean nothing outside LIKE
        ("", "''"),
    ],
)
def test_string_escapes(value, literal):
    assert soql_literal(value, CONTACT.fields["LastName"]) == literal
    if value:  # '' gets a null test too (see below)
        assert parsed_value(F("LastName") == value).value.value == value


@pytest.mark.parametrize(
    ("function", "value", "pattern"),
    [
        ("contains", "50%_off", "'%50\\%\\_off%'"),
        ("startswith", "a\\%", "'a\\\\\\%%'"),
        ("endswith", "it's", "'%it\\'s'"),
        ("contains", "", "'%%'"),
        ("contains", "[x]", "'%[x]%'"),
    ],
)
def test_like_values_escape_wildcards(function, value, pattern):
    assert where(getattr(F("LastName"), function)(value)) == f"LastName LIKE {pattern}"


@pytest.mark.parametrize(
    "attack",
    [
        "' OR Id != null OR Name = '",
        "x' OR LastName != 'y",
        "\\' OR Id != null OR Name = \\'",
        "') OR (Id != null",
        "x'\n OR Id != null --",
    ],
)
def test_injection_attempts_stay_one_literal(attack):
    comparison = parsed_value(F("LastName") == attack)
    assert comparison.value.value == attack
    members = parsed_value(F("LastName").isin([attack, "b"]))
    assert [v.value for v in members.values] == [attack, "b"]
    like = parsed_value(F("LastName").contains(attack))
    assert like.op == "LIKE"


def test_empty_string_matches_no_null_although_salesforce_stores_it_as_null():
    assert where(F("LastName") == "") == "(LastName = '' AND LastName != null)"
    assert where(F("LastName") != "") == "(LastName != '' OR LastName = null)"
    assert where(F("LastName").isin(["", "a"])) == "(LastName IN ('', 'a') AND LastName != null)"
    assert where(F("LastName").notin([""])) == "(LastName NOT IN ('') OR LastName = null)"
    assert where(F("LastName") > "") == "LastName > ''"


@pytest.mark.parametrize(
    ("value", "kind", "literal"),
    [
        (3, "integer", "3"),
        (np.int64(3), "integer", "3"),
        (-2.5, "number", "-2.5"),
        (1e16, "number", "10000000000000000"),
        (1.5e-7, "number", "0.00000015"),
        (-0.0, "number", "0"),
        (Decimal("1.10"), "number", "1.10"),
        (Decimal("1E+3"), "number", "1000"),
        (np.float32(0.5), "number", "0.5"),
        (True, "boolean", "true"),
        (np.bool_(False), "boolean", "false"),
        (date(1, 1, 1), "date", "0001-01-01"),
        (pd.Timestamp("2024-02-29"), "datetime", "2024-02-29T00:00:00Z"),
        (datetime(2024, 1, 1, 10), "datetime", "2024-01-01T10:00:00Z"),
        (
            datetime(2024, 1, 1, 1, tzinfo=timezone(timedelta(hours=2))),
            "datetime",
            "2023-12-31T23:00:00Z",
        ),
        (np.datetime64("2024-01-01T10:00:00"), "datetime", "2024-01-01T10:00:00Z"),
        ("003Rs0000000001", "id", f"'{ID18}'"),
        (ID18, "reference", f"'{ID18}'"),
    ],
)
def test_literals_of_every_type(value, kind, literal):
    assert soql_literal(value, Field("X", kind)) == literal


@pytest.mark.parametrize(
    ("value", "kind", "message"),
    [
        ("10", "integer", "give a number"),
        (True, "number", "give a number"),
        (1, "string", "give a str"),
        (1, "boolean", "give a bool"),
        (datetime(2024, 1, 1, tzinfo=UTC), "date", "give a datetime.date"),
        (date(2024, 1, 1), "datetime", "give an aware datetime"),
        ("2024-01-01", "date", "give a datetime.date"),
        (datetime(2024, 1, 1, 10, 0, 0, 500000, tzinfo=UTC), "datetime", "fraction of a second"),
        ("003Rs0000000001IAB", "id", "not a Salesforce record id"),
        ("003rs0000000001IAA", "id", "not a Salesforce record id"),
        ("' OR Id != null", "reference", "not a Salesforce record id"),
        ("003Rs00000000", "id", "not a Salesforce record id"),
        (object(), "string", "not a filter literal"),
        (float("nan"), "number", "not a number"),
    ],
)
def test_literal_type_mismatches(value, kind, message):
    with pytest.raises(FilterError, match=message) as excinfo:
        soql_literal(value, Field("X", kind))
    assert excinfo.value.rule == "literal-type"


def test_literal_for_returns_the_checked_value():
    assert literal_for(np.int64(2), Field("X", "integer")) == 2


def test_a_datetime_fraction_is_refused_not_rounded():
    # Salesforce stores milliseconds: `> 10:00:00.5` cannot become `>= 10:00:01` (it would
    # miss 10:00:00.6) nor `> 10:00:00` (it would take 10:00:00.2).
    with pytest.raises(FilterError) as excinfo:
        where(F("CreatedDate") > datetime(2024, 1, 1, 10, 0, 0, 500000, tzinfo=UTC))
    assert excinfo.value.rule == "literal-type"
    assert "replace(microsecond=0)" in str(excinfo.value)


@pytest.mark.parametrize(
    ("expr", "rule"),
    [
        (F("Id") > ID18, "operator-type"),
        (F("AccountId") <= ID18, "operator-type"),
        (F("DoNotCall") < 1, "operator-type"),
        (F("DoNotCall") == 1, "literal-type"),
        (F("NumberOfEmployees").contains("1"), "operator-type"),
        (F("Id").startswith("003"), "operator-type"),
        (F("Description") == "x", "not-filterable"),
        (F("LastName") == 3, "literal-type"),
        (
            F("Birthdate").isin([date(2024, 1, 1), date(2024, 1, 2)]) | (F("Birthdate") == "x"),
            "literal-type",
        ),
        (And((F("LastName") == "x", Not(F("Email").is_null()))), "no-and-not"),
    ],
)
def test_rules_checked_against_the_schema(expr, rule):
    with pytest.raises(FilterError) as excinfo:
        where(expr)
    assert excinfo.value.rule == rule


def test_unknown_fields_name_close_matches():
    with pytest.raises(UnknownFieldError, match="LastName"):
        where(F("LastNme") == "x")


# --- build_soql ------------------------------------------------------------------------------


def test_build_soql_whole_query():
    query = build_soql(
        "Contact",
        ["id", "LastName", "lastname", "Account.Name"],
        where=(F("NumberOfEmployees") > 10) | F("Email").is_null(),
        order_by=["lastname", ("CreatedDate", "desc"), ("Id", False)],
        limit=50,
        schema=CONTACT,
    )
    assert query == (
        "SELECT Id, LastName, Account.Name FROM Contact"
        " WHERE NumberOfEmployees > 10 OR Email = null"
        " ORDER BY LastName ASC NULLS LAST, CreatedDate DESC NULLS LAST, Id ASC NULLS LAST"
        " LIMIT 50"
    )
    parsed = parse_soql(query)
    assert [item.nulls_last for item in parsed.order_by] == [True, True, True]


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({}, "SELECT Id FROM Contact"),
        ({"order_by": "LastName"}, "SELECT Id FROM Contact ORDER BY LastName ASC NULLS LAST"),
        ({"limit": 0}, "SELECT Id FROM Contact LIMIT 0"),
    ],
)
def test_build_soql_without_schema(kwargs, text):
    assert build_soql("Contact", "Id", **kwargs) == text


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("Contact; DELETE", ["Id"]), {}, "not an sObject name"),
        (("Contact", []), {}, "at least one field"),
        (("Contact", ["Id, Name"]), {}, "not a field name"),
        (("Contact", ["Id"]), {"limit": -1}, "non-negative"),
        (("Contact", ["Id"]), {"limit": True}, "non-negative"),
        (("Contact", ["Id"]), {"where": F("LastName") == "x"}, "needs schema"),
        (("Account", ["Id"]), {"schema": CONTACT}, "describes 'Contact'"),
        (("Contact", ["Id"]), {"schema": CONTACT, "order_by": ["Description"]}, "cannot be sorted"),
        (("Contact", ["Id"]), {"order_by": [("LastName", "up")]}, "'asc' or 'desc'"),
        (("Contact", ["Id"]), {"order_by": [("LastName",)]}, "a field or a"),
    ],
)
def test_build_soql_refuses_bad_arguments(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_soql(*args, **kwargs)


def test_build_soql_checks_names_against_the_schema():
    with pytest.raises(UnknownFieldError):
        build_soql("Contact", ["Nope"], schema=CONTACT)


def test_order_items_shapes():
    assert order_items(None) == []
    assert order_items("a") == [("a", False)]
    assert order_items(["a", ("b", "DESC"), ("c", True), ("d", "asc")]) == [
        ("a", False),
        ("b", True),
        ("c", True),
        ("d", False),
    ]
