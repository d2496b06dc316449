import json
import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from crmframes.connectors.dynamics.odata_compiler import (
    build_query,
    compile_odata,
    odata_literal,
    odata_string,
)
from crmframes.errors import FilterError
from crmframes.filters import And, F, Not
from crmframes.sandbox.dynamics.odata import plan_query
from crmframes.sandbox.dynamics.schema import SCHEMA
from crmframes.schema import Field, ObjectSchema, UnknownFieldError

CONTACT = ObjectSchema(
    "contact",
    {
        "contactid": Field("contactid", "id"),
        "_parentcustomerid_value": Field("_parentcustomerid_value", "reference"),
        "lastname": Field("lastname", "string"),
        "emailaddress1": Field("emailaddress1", "string"),
        "leadsourcecode": Field("leadsourcecode", "integer", crm_type="Picklist"),
        "revenue": Field("revenue", "number"),
        "donotemail": Field("donotemail", "boolean"),
        "birthdate": Field("birthdate", "date"),
        "createdon": Field("createdon", "datetime"),
    },
    "contactid",
    case_sensitive=True,
)
GUID = "49b0be2e-d01c-ed11-b83e-000d3a572421"


def where(expr) -> str:
    return compile_odata(expr, CONTACT)


def sandbox_selects(expr, lastnames: list[str | None]) -> list[str | None]:
    """Run the compiled filter through the Dataverse sandbox's own parser and evaluator."""
    plan = plan_query(
        SCHEMA.get("contact"), SCHEMA, select="lastname", filter=where(expr), orderby=None, top=None
    )
    records = [{"lastname": name} for name in lastnames]
    return [r["lastname"] for r in plan.execute(records, None, now=datetime.now(UTC))]


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (F("revenue") > 10, "revenue gt 10"),
        (F("revenue") >= 10, "revenue ge 10"),
        (F("revenue") < 10, "revenue lt 10"),
        (F("revenue") <= 10, "revenue le 10"),
        (F("revenue") == 10, "revenue eq 10"),
        (F("revenue") != 10, "(revenue ne 10 or revenue eq null)"),
        (F("emailaddress1").is_null(), "emailaddress1 eq null"),
        (F("emailaddress1") != None, "emailaddress1 ne null"),  # noqa: E711
        (F("lastname") == "O'Neil", "lastname eq 'O''Neil'"),
        (F("lastname").contains("o'b"), "contains(lastname,'o''b')"),
        (F("lastname").startswith("Mc"), "startswith(lastname,'Mc')"),
        (F("lastname").endswith("son"), "endswith(lastname,'son')"),
        (
            F("lastname").isin(["a", "O'Neil", "a"]),
            """Microsoft.Dynamics.CRM.In(PropertyName='lastname',PropertyValues=["a","O'Neil"])""",
        ),
        (
            F("lastname").notin(["a"]),
            """(Microsoft.Dynamics.CRM.NotIn(PropertyName='lastname',PropertyValues=["a"]) or lastname eq null)""",
        ),
        (F("leadsourcecode") == 3, "leadsourcecode eq 3"),
        (
            F("leadsourcecode").isin([1, 2.0, np.int64(4), 2.5]),
            """Microsoft.Dynamics.CRM.In(PropertyName='leadsourcecode',PropertyValues=["1","2","4"])""",
        ),
        (
            F("leadsourcecode").isin([2.5]),
            "(leadsourcecode eq null and leadsourcecode ne null)",
        ),
        (F("donotemail") == True, "donotemail eq true"),  # noqa: E712
        (F("donotemail") != True, "(donotemail ne true or donotemail eq null)"),  # noqa: E712
        (F("birthdate") < date(2000, 2, 29), "birthdate lt 2000-02-29"),
        (
            F("createdon") >= datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
            "createdon ge 2024-01-02T03:04:05Z",
        ),
        (F("contactid") == GUID.upper(), f"contactid eq {GUID}"),
        (F("contactid") != GUID, f"contactid ne {GUID}"),  # the primary key is never null
        (
            F("_parentcustomerid_value").isin([f"{{{GUID}}}"]),
            f"""Microsoft.Dynamics.CRM.In(PropertyName='parentcustomerid',PropertyValues=["{GUID}"])""",
        ),
        (F("_parentcustomerid_value").is_null(), "_parentcustomerid_value eq null"),
    ],
)
def test_atoms(expr, text):
    assert where(expr) == text


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (~(F("revenue") == 1), "(revenue ne 1 or revenue eq null)"),
        (~(F("revenue") != 1), "revenue eq 1"),
        (~(F("revenue") < 1), "(revenue ge 1 or revenue eq null)"),
        (~(F("revenue") <= 1), "(revenue gt 1 or revenue eq null)"),
        (~(F("revenue") > 1), "(revenue le 1 or revenue eq null)"),
        (~(F("revenue") >= 1), "(revenue lt 1 or revenue eq null)"),
        (~F("revenue").is_null(), "revenue ne null"),
        (~F("revenue").not_null(), "revenue eq null"),
        (~F("lastname").contains("x"), "(not contains(lastname,'x') or lastname eq null)"),
        (
            ~F("lastname").isin(["a"]),
            """(Microsoft.Dynamics.CRM.NotIn(PropertyName='lastname',PropertyValues=["a"]) or lastname eq null)""",
        ),
        (
            ~F("lastname").notin(["a"]),
            """Microsoft.Dynamics.CRM.In(PropertyName='lastname',PropertyValues=["a"])""",
        ),
        (~~(F("revenue") < 1), "revenue lt 1"),
        (
            ~((F("revenue") < 1) | (F("lastname") == "x")),
            "(revenue ge 1 or revenue eq null) and (lastname ne 'x' or lastname eq null)",
        ),
        (
            ~((F("revenue") < 1) & (F("lastname") == "x")),
            "(revenue ge 1 or revenue eq null) or (lastname ne 'x' or lastname eq null)",
        ),
        (
            (F("revenue") > 1) & ((F("lastname") == "x") | F("emailaddress1").is_null()),
            "revenue gt 1 and (lastname eq 'x' or emailaddress1 eq null)",
        ),
        (
            ((F("revenue") > 1) & (F("lastname") == "x")) | ~(F("birthdate") < date(2000, 1, 1)),
            "(revenue gt 1 and lastname eq 'x') or (birthdate ge 2000-01-01 or birthdate eq null)",
        ),
    ],
)
def test_negations_are_pushed_to_the_atoms_with_their_nulls(expr, text):
    assert where(expr) == text
    assert " not (" not in text and not text.startswith("not (")


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("plain", "'plain'"),
        ("O'Neil", "'O''Neil'"),
        ("''", "''''''"),
        ('back\\slash "q"', "'back\\slash \"q\"'"),
        ("line\nbreak\ttab", "'line\nbreak\ttab'"),
        ("héllo ß 😀", "'héllo ß 😀'"),
        ("100%_[x]", "'100%_[x]'"),  # wildcards mean nothing outside contains()...
        ("", "''"),
    ],
)
def test_string_literals_double_the_quote(value, literal):
    assert odata_literal(value, CONTACT.fields["lastname"]) == literal


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        ("100%", "'100[%]'"),
        ("a_b", "'a[_]b'"),
        ("[x]", "'[[]x]'"),
        ("[%_]", "'[[][%][_]]'"),
        ("it's", "'it''s'"),
        ("^-", "'^-'"),
    ],
)
def test_like_values_bracket_escape_wildcards(value, pattern):
    assert odata_string(value, like=True) == pattern
    assert where(F("lastname").contains(value)) == f"contains(lastname,{pattern})"


@pytest.mark.parametrize(
    "value",
    ["100%", "a_b", "[x]", "[%_]", "it's", "[^a]", "%", "_", "]"],
)
def test_like_escapes_match_literally_in_the_sandbox(value):
    names = [f"x{value}y", "xay", "x%y", "x_y", "x[y", None, "xzzy"]
    expected = [n for n in names if n is not None and value.lower() in n.lower()]
    assert sandbox_selects(F("lastname").contains(value), names) == expected


@pytest.mark.parametrize(
    "attack",
    [
        "') or (1 eq 1",
        "' or lastname ne '",
        "x'' or ''1'' eq ''1",
        "\\') or true or ('",
        '"]) or (1 eq 1',
    ],
)
def test_injection_attempts_stay_one_literal(attack):
    names = [attack, "other", None]
    assert sandbox_selects(F("lastname") == attack, names) == [attack]
    assert sandbox_selects(F("lastname").isin([attack, "zz"]), names) == [attack]
    assert sandbox_selects(F("lastname").notin([attack]), names) == ["other", None]
    assert sandbox_selects(F("lastname").contains(attack), names) == [attack]


def test_in_values_are_json_strings():
    text = where(F("lastname").isin(['say "hi"', "back\\slash", "O'Neil", "é\n"]))
    array = re.search(r"PropertyValues=(\[.*\])\)$", text, re.DOTALL)
    assert array is not None
    assert json.loads(array[1]) == ['say "hi"', "back\\slash", "O'Neil", "é\n"]


@pytest.mark.parametrize(
    ("value", "kind", "literal"),
    [
        (3, "integer", "3"),
        (np.int64(3), "integer", "3"),
        (-2.5, "number", "-2.5"),
        (1e16, "number", "10000000000000000"),
        (-0.0, "number", "0"),
        (Decimal("1.10"), "number", "1.10"),
        (True, "boolean", "true"),
        (date(2024, 2, 29), "date", "2024-02-29"),
        (datetime(2024, 1, 1, 10), "datetime", "2024-01-01T10:00:00Z"),
        (datetime(2024, 1, 1, 10, 0, 0, 500000), "datetime", "2024-01-01T10:00:00.5Z"),
        (pd.Timestamp("2024-01-01 10:00:00.000123"), "datetime", "2024-01-01T10:00:00.000123Z"),
        (
            datetime(2024, 1, 1, 1, tzinfo=timezone(timedelta(hours=2))),
            "datetime",
            "2023-12-31T23:00:00Z",
        ),
        (GUID.upper(), "id", GUID),
        (f"{{{GUID}}}", "reference", GUID),
    ],
)
def test_literals_of_every_type(value, kind, literal):
    assert odata_literal(value, Field("x", kind)) == literal


@pytest.mark.parametrize(
    ("value", "kind", "message"),
    [
        ("10", "integer", "give a number"),
        (True, "integer", "give a number"),
        (1, "string", "give a str"),
        (date(2024, 1, 1), "datetime", "aware datetime"),
        (datetime(2024, 1, 1, tzinfo=UTC), "date", "datetime.date"),
        ("not-a-guid", "id", "not a GUID"),
        (f"{GUID}) or (1 eq 1", "reference", "not a GUID"),
        (3, "reference", "record id"),
        (float("inf"), "number", "not a number"),
    ],
)
def test_literal_type_mismatches(value, kind, message):
    with pytest.raises(FilterError, match=re.escape(message)) as excinfo:
        odata_literal(value, Field("x", kind))
    assert excinfo.value.rule == "literal-type"


@pytest.mark.parametrize(
    ("expr", "rule"),
    [
        (F("contactid") > GUID, "operator-type"),
        (F("donotemail") < 1, "operator-type"),
        (F("revenue").contains("1"), "operator-type"),
        (F("_parentcustomerid_value").endswith("1"), "operator-type"),
        (F("contactid").isin(["nope"]), "literal-type"),
        (F("leadsourcecode") == "Web", "literal-type"),
        (And((F("lastname") == "x", Not(F("revenue").is_null()))), "no-and-not"),
    ],
)
def test_rules_checked_against_the_schema(expr, rule):
    with pytest.raises(FilterError) as excinfo:
        where(expr)
    assert excinfo.value.rule == rule


def test_names_are_exact_case_on_dataverse():
    with pytest.raises(UnknownFieldError, match="lastname"):
        where(F("LastName") == "x")


# --- build_query -----------------------------------------------------------------------------


def test_build_query_options():
    options = build_query(
        CONTACT,
        ["lastname", "emailaddress1", "lastname"],
        where=(F("revenue") > 10) | F("emailaddress1").is_null(),
        order_by=["lastname", ("createdon", "desc")],
        top=50,
    )
    assert options == {
        "$select": "lastname,emailaddress1",
        "$filter": "revenue gt 10 or emailaddress1 eq null",
        "$orderby": "lastname asc,createdon desc,contactid asc",
        "$top": "50",
    }


def test_build_query_keeps_an_explicit_primary_key_order():
    options = build_query(CONTACT, "lastname", order_by=[("contactid", True)])
    assert options == {"$select": "lastname", "$orderby": "contactid desc"}


@pytest.mark.parametrize(
    ("fields", "kwargs", "error"),
    [
        ([], {}, ValueError),
        (["last name"], {}, ValueError),
        (["lastname"], {"top": -1}, ValueError),
        (["lastname"], {"order_by": [("lastname", "sideways")]}, ValueError),
        (["nope"], {}, UnknownFieldError),
        (["lastname"], {"order_by": ["LastName"]}, UnknownFieldError),
    ],
)
def test_build_query_refuses_bad_arguments(fields, kwargs, error):
    with pytest.raises(error):
        build_query(CONTACT, fields, **kwargs)
