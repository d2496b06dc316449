from __future__ import annotations

import random
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmframes.sandbox.dynamics.odata import ODataError, QueryPlan, plan_query
from crmframes.sandbox.dynamics.schema import SCHEMA

NOW = datetime(2024, 3, 13, 15, 30, tzinfo=UTC)  # a Wednesday
A1 = "a0000000-0000-0000-0000-00000000000a"
A2 = "b0000000-0000-0000-0000-00000000000b"
# SQL Server orders uniqueidentifiers by their last group first: C5, C2, C1, C3, C4.
C1 = "10000000-0000-0000-0000-000000000002"
C2 = "20000000-0000-0000-0000-000000000001"
C3 = "30000000-0000-0000-0000-000000000003"
C4 = "00000000-0000-0000-0000-000000000004"
C5 = "ffffffff-0000-0000-0000-000000000000"


def record(entity: str, **values: Any) -> dict[str, Any]:
    """A full record of ``entity``: every property None unless given."""
    return {**dict.fromkeys(SCHEMA.entities[entity].properties), **values}


ACCOUNTS = [
    record("account", accountid=A1, name="Acme", statecode=0),
    record("account", accountid=A2, name="globex", _parentaccountid_value=A1, statecode=0),
]
CONTACTS = [
    record("contact", contactid=C1, lastname="Doe", firstname="John", fullname="John Doe",
           _parentcustomerid_value=A1, emailaddress1="john@acme.com", birthdate="1980-02-29",
           createdon="2024-03-13T09:00:00Z", statecode=0, leadsourcecode=1, donotemail=False,
           crmf_loyaltytier=100000002, jobtitle="CEO"),
    record("contact", contactid=C2, lastname="O'Neil", firstname="Mary", fullname="Mary O'Neil",
           _parentcustomerid_value=A2, createdon="2024-03-12T23:30:00Z", statecode=0,
           leadsourcecode=2, donotemail=True, crmf_loyaltytier=100000000, jobtitle="cto"),
    record("contact", contactid=C3, lastname="smith", firstname="Ann", fullname="Ann smith",
           _parentcustomerid_value=C1, emailaddress1="ann@example.com", birthdate="1975-12-31",
           createdon="2023-12-01T00:00:00Z", statecode=1, donotemail=False),
    record("contact", contactid=C4, lastname="100%_off", firstname="Zoë", fullname="Zoë 100%_off",
           _parentcustomerid_value=A1, emailaddress1="zoe@acme.com", birthdate="2000-01-01",
           createdon="2024-03-01T12:00:00Z", statecode=0, leadsourcecode=3, donotemail=False,
           crmf_loyaltytier=100000001, jobtitle="CTO"),
    record("contact", contactid=C5, lastname="[x]_y", fullname="[x]_y", birthdate="2024-03-13",
           createdon="2024-02-10T08:00:00Z", statecode=1, leadsourcecode=5, donotemail=False,
           crmf_loyaltytier=100000003),
]  # fmt: skip
TABLES = {"account": ACCOUNTS, "contact": CONTACTS}
D, N, S, H, X = "Doe", "O'Neil", "smith", "100%_off", "[x]_y"
EVERYONE = [D, N, S, H, X]


class DictResolver:
    """The sandbox's resolver over the literal tables above."""

    def get(self, entity: str, record_id: str) -> dict[str, Any] | None:
        key = SCHEMA.entities[entity].primary_id
        return next((r for r in TABLES.get(entity, []) if r[key] == record_id), None)


RESOLVER = DictResolver()


def plan(
    filter: str | None = None,
    *,
    select: str | None = None,
    orderby: str | None = None,
    top: str | None = None,
    aliases: dict[str, str] | None = None,
) -> QueryPlan:
    contact = SCHEMA.entities["contact"]
    return plan_query(
        contact, SCHEMA, select=select, filter=filter, orderby=orderby, top=top,
        aliases=aliases or {},
    )  # fmt: skip


def names(filter: str | None = None, **options: Any) -> list[str]:
    """Run the query like the Web API does and return each row's lastname."""
    return [row["lastname"] for row in plan(filter, **options).execute(CONTACTS, RESOLVER, now=NOW)]


def error(filter: str | None = None, **options: Any) -> ODataError:
    with pytest.raises(ODataError) as info:
        plan(filter, **options)
    assert info.value.status == 400
    return info.value


# --- comparisons --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("lastname eq 'doe'", [D]),
        ("lastname eq 'O''NEIL'", [N]),
        ("'doe' eq lastname", [D]),
        ("lastname ne 'DOE'", [N, S, H, X]),
        ("jobtitle eq 'cto'", [N, H]),
        ("jobtitle gt 'c'", [D, N, H]),
        ("jobtitle lt 'cto'", [D]),
        ("jobtitle ge 'CTO'", [N, H]),
        ("jobtitle le 'ceo'", [D]),
        ("'ceo' ge jobtitle", [D]),
        ("firstname eq 'ZOË'", [H]),
        ("firstname eq 'Zoe'", []),  # accents matter
        ("statecode eq 0", [D, N, H]),
        ("statecode ne 0", [S, X]),
        ("statecode gt 0", [S, X]),
        ("statecode ge 1", [S, X]),
        ("leadsourcecode lt 3", [D, N]),
        ("leadsourcecode le 2.5", [D, N]),
        ("leadsourcecode ge 1e0", [D, N, H, X]),
        ("0 lt leadsourcecode", [D, N, H, X]),
        ("leadsourcecode ne 1", [N, H, X]),
        ("leadsourcecode eq -3", []),
        ("donotemail eq true", [N]),
        ("donotemail ne true", [D, S, H, X]),
        ("donotemail", [N]),
        ("not donotemail", [D, S, H, X]),
        ("true", EVERYONE),
        ("false", []),
        ("not false", EVERYONE),
        ("birthdate lt 1980-01-01", [S]),
        ("birthdate le 1980-02-29", [D, S]),
        ("birthdate gt 1980-02-29", [H, X]),
        ("birthdate eq 2024-03-13", [X]),
        ("birthdate ne 2000-01-01", [D, S, X]),
        ("createdon gt 2024-03-12T00:00:00Z", [D, N]),
        ("createdon eq 2024-03-13T10:00:00+01:00", [D]),
        ("createdon eq 2024-03-12T18:30:00-05:00", [N]),
        ("createdon ge 2024-03-13T09:00Z", [D]),
        ("createdon lt 2024-03-01T12:00:00.5Z", [S, H, X]),
        ("createdon le 2024-03-01T12:00:00Z", [S, H, X]),
        ("createdon gt 2024-03-01T11:59:59.9Z", [D, N, H]),
        ("createdon ge 2024-03-01T12:00:00.1Z", [D, N]),
        ("createdon eq 2024-03-01T12:00:00.5Z", []),
        ("createdon ne 2024-03-01T12:00:00.5Z", EVERYONE),
        (f"contactid eq {C1}", [D]),
        (f"contactid eq {C1.upper()}", [D]),
        (f"contactid eq '{C1}'", [D]),
        (f"contactid ne '{{{C1.upper()}}}'", [N, S, H, X]),
        (f"_parentcustomerid_value eq {A1}", [D, H]),
        (f"_parentcustomerid_value ne {A1}", [N, S]),
        (f"contactid gt {C1}", [S, H]),  # SQL Server's uniqueidentifier order
        (f"contactid lt {C1}", [N, X]),
        ("emailaddress1 ne firstname", [D, S, H]),
        ("statecode lt leadsourcecode", [D, N, H, X]),
        ("lastname eq @p1", [N]),
        ("firstname eq @undefined", [X]),  # an alias without a value is null
    ],
)
def test_filter_compares_like_dataverse(where: str, expected: list[str]) -> None:
    assert names(where, aliases={"@p1": "'O''Neil'"}) == expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("firstname ne 'John'", [N, S, H]),  # null is not "not John"
        ("not (firstname eq 'John')", [N, S, H]),
        ("firstname eq null", [X]),
        ("firstname ne null", [D, N, S, H]),
        ("not (firstname eq null)", [D, N, S, H]),
        ("firstname gt null", []),
        ("not (firstname gt null)", []),
        ("jobtitle ne 'ceo' or statecode eq 1", [N, S, H, X]),
        ("not (jobtitle eq 'ceo' or firstname eq 'Mary')", [H]),
        ("not (jobtitle eq 'ceo' and firstname eq 'Mary')", [D, N, S, H]),
        ("not not (statecode eq 1)", [S, X]),
        ("statecode eq 0 and donotemail eq false", [D, H]),
        ("statecode eq 1 or donotemail", [N, S, X]),
        ("statecode eq 1 or statecode eq 0 and donotemail", [N, S, X]),
        ("(statecode eq 1 or statecode eq 0) and donotemail", [N]),
        ("not contains(firstname,'o')", [N, S]),
        ("not Microsoft.Dynamics.CRM.In(PropertyName='jobtitle',PropertyValues=[\"ceo\"])", [N, H]),
    ],
)
def test_filter_follows_three_valued_logic(where: str, expected: list[str]) -> None:
    assert names(where) == expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("parentcustomerid_account/name eq 'ACME'", [D, H]),
        ("parentcustomerid_account/name ne 'acme'", [N]),  # smith's parent is a contact
        ("parentcustomerid_account/name eq null", [S, X]),
        ("parentcustomerid_contact/lastname eq 'doe'", [S]),
        ("parentcustomerid_account/parentaccountid/name eq 'acme'", [N]),
        (f"parentcustomerid_account/accountid eq {A2}", [N]),
        ("startswith(parentcustomerid_account/name,'glo')", [N]),
    ],
)
def test_filter_follows_navigation_paths(where: str, expected: list[str]) -> None:
    assert names(where) == expected


# --- LIKE ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("contains(lastname,'O')", [D, N, H]),
        ("startswith(lastname,'o''n')", [N]),
        ("endswith(lastname,'FF')", [H]),
        ("contains(lastname, '%')", EVERYONE),
        ("contains(lastname,'[%]')", [H]),
        ("contains(lastname,'[_]')", [H, X]),
        ("contains(lastname,'_')", EVERYONE),
        ("contains(lastname,'%_o')", [D, H]),
        ("contains(lastname,'d%e')", [D]),
        ("startswith(lastname,'1_0%o')", [H]),
        ("endswith(lastname,'_y')", [X]),
        ("contains(lastname,'[[]x]')", [X]),
        ("startswith(lastname,'[[]')", [X]),
        ("startswith(lastname,'[a-d]')", [D]),
        ("startswith(lastname,'[sd]')", [D, S]),
        ("startswith(lastname,'[^a-z]')", [H, X]),
        ("startswith(lastname,'[z-a]')", []),  # a reversed range is empty
        ("contains(lastname,'[')", []),  # an unclosed bracket never matches
        ("not contains(lastname,'[')", EVERYONE),
        ("contains(firstname,'Ë')", [H]),
        ("contains(lastname,null)", []),
        ("contains(fullname,'john d')", [D]),
    ],
)
def test_filter_text_functions_are_sql_like(where: str, expected: list[str]) -> None:
    assert names(where) == expected


def escape(text: str) -> str:
    """What crmframes' filter compiler does to a user value inside contains()."""
    bracketed = "".join(f"[{c}]" if c in "%_[" else c for c in text)
    return bracketed.replace("'", "''")


VALUE_CHARS = st.sampled_from("aAbB%_[]^-'’ éÉßİ\n")


@settings(max_examples=200, deadline=None)
@given(value=st.text(VALUE_CHARS, max_size=5), others=st.lists(st.text(VALUE_CHARS, max_size=8)))
def test_contains_with_an_escaped_value_matches_that_substring(
    value: str, others: list[str]
) -> None:
    lastnames = [*others, f"x{value.upper()}y", value, None]
    table = [record("contact", contactid=f"{i:08d}-0000-0000-0000-000000000000", lastname=n)
             for i, n in enumerate(lastnames)]  # fmt: skip
    rows = plan(f"contains(lastname,'{escape(value)}')").execute(table, RESOLVER, now=NOW)
    expected = [n for n in lastnames if n is not None and value.lower() in n.lower()]
    assert [r["lastname"] for r in rows] == expected


def like_reference(value: str, pattern: str) -> bool:
    """SQL Server LIKE by dynamic programming, the slow obvious way."""
    tokens: list[Any] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "[":
            close = pattern.find("]", i + 1)
            if close < 0:
                return False
            body, i = pattern[i + 1 : close], close + 1
            if len(body) == 1:  # [%], [_], [[]: the character itself
                tokens.append((frozenset(body), False))
                continue
            negate = body.startswith("^")
            items, members = body[1:] if negate else body, set()
            j = 0
            while j < len(items):
                if j + 2 < len(items) and items[j + 1] == "-":
                    members |= {chr(c) for c in range(ord(items[j]), ord(items[j + 2]) + 1)}
                    j += 3
                else:
                    members.add(items[j])
                    j += 1
            tokens.append((frozenset(members), negate))
            continue
        tokens.append(char if char in "%_" else (frozenset(char), False))
        i += 1

    @cache
    def match(t: int, v: int) -> bool:
        if t == len(tokens):
            return v == len(value)
        token = tokens[t]
        if token == "%":
            return any(match(t + 1, w) for w in range(v, len(value) + 1))
        if v == len(value):
            return False
        ok = token == "_" or (value[v] in token[0]) != token[1]
        return ok and match(t + 1, v + 1)

    return match(0, 0)


@settings(max_examples=300, deadline=None)
@given(
    pattern=st.text(st.sampled_from("ab%_[]^-"), max_size=9),
    values=st.lists(st.text(st.sampled_from("ab-^[]"), max_size=7), min_size=1, max_size=6),
)
def test_like_matches_a_reference_implementation(pattern: str, values: list[str]) -> None:
    table = [record("contact", contactid=f"{i:08d}-0000-0000-0000-000000000000", lastname=v)
             for i, v in enumerate(values)]  # fmt: skip
    where = f"startswith(lastname,'{pattern.replace(chr(39), chr(39) * 2)}')"
    rows = plan(where).execute(table, RESOLVER, now=NOW)
    assert [r["lastname"] for r in rows] == [v for v in values if like_reference(v, pattern + "%")]


# --- Dataverse query functions ------------------------------------------------------------


def crm(function: str, name: str, value: str | None = None) -> str:
    parameter = "" if value is None else f",{value}"
    return f"Microsoft.Dynamics.CRM.{function}(PropertyName='{name}'{parameter})"


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (crm("In", "lastname", 'PropertyValues=["doe","SMITH"]'), [D, S]),
        (crm("NotIn", "lastname", 'PropertyValues=["doe"]'), [N, S, H, X]),
        (crm("NotIn", "firstname", 'PropertyValues=["John"]'), [N, S, H]),
        (crm("In", "statecode", 'PropertyValues=["1"]'), [S, X]),
        (crm("In", "contactid", f'PropertyValues=["{C1}","{{{C2.upper()}}}"]'), [D, N]),
        (crm("In", "parentcustomerid", f'PropertyValues=["{A1}"]'), [D, H]),  # logical name
        (crm("In", "createdon", 'PropertyValues=["2024-03-13T10:00:00+01:00"]'), [D]),
        (crm("In", "birthdate", 'PropertyValues=["2000-01-01"]'), [H]),
        (crm("In", "donotemail", 'PropertyValues=["true"]'), [N]),
        (crm("In", "lastname", 'PropertyValues=["O\'Neil","\\u005bx]_y"]'), [N, X]),
        (crm("Between", "leadsourcecode", 'PropertyValues=["2","3"]'), [N, H]),
        (crm("NotBetween", "leadsourcecode", 'PropertyValues=["2","3"]'), [D, X]),
        (
            crm("Between", "createdon", 'PropertyValues=["2024-03-01","2024-03-12T23:30:00Z"]'),
            [N, H],
        ),
        (crm("Between", "birthdate", 'PropertyValues=["1975-12-31","1980-02-29"]'), [D, S]),
        (crm("Between", "lastname", 'PropertyValues=["a","N"]'), [D]),
        (crm("On", "createdon", "PropertyValue='2024-03-13'"), [D]),
        (crm("OnOrAfter", "createdon", "PropertyValue='2024-03-12'"), [D, N]),
        (crm("OnOrBefore", "createdon", "PropertyValue=2024-03-01"), [S, H, X]),
        (crm("On", "birthdate", "PropertyValue=2024-03-13T20:00:00Z"), [X]),
        (crm("Today", "createdon"), [D]),
        (crm("Yesterday", "createdon"), [N]),
        (crm("Tomorrow", "createdon"), []),
        (crm("Today", "birthdate"), [X]),
        (crm("LastXDays", "createdon", "PropertyValue=1"), [D, N]),
        (crm("LastXDays", "createdon", "PropertyValue='12'"), [D, N, H]),
        (crm("LastXDays", "birthdate", "PropertyValue=0"), [X]),
        (crm("NextXDays", "createdon", "PropertyValue=30"), []),
        (crm("LastXHours", "createdon", "PropertyValue=7"), [D]),
        (crm("LastXHours", "createdon", "PropertyValue=16"), [D, N]),
        (crm("NextXHours", "createdon", "PropertyValue=24"), []),
        (crm("ThisWeek", "createdon"), [D, N]),
        (crm("ThisMonth", "createdon"), [D, N, H]),
        (crm("LastMonth", "createdon"), [X]),
        (crm("ThisYear", "createdon"), [D, N, H, X]),
        (crm("LastYear", "createdon"), [S]),
        (crm("ThisMonth", "birthdate"), [X]),
        (crm("Null", "jobtitle"), [S, X]),
        (crm("NotNull", "jobtitle"), [D, N, H]),
        ("not " + crm("Null", "jobtitle"), [D, N, H]),
        ("not " + crm("Today", "createdon"), [N, S, H, X]),
        ("not " + crm("Between", "leadsourcecode", 'PropertyValues=["2","3"]'), [D, X]),
        ("Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)", [N, S]),
        ("Microsoft.Dynamics.CRM.In(PropertyValues=@p2,PropertyName='lastname')", [N, S]),
    ],
)
def test_filter_evaluates_dataverse_query_functions(where: str, expected: list[str]) -> None:
    aliases = {"@p1": "'lastname'", "@p2": '["O\'Neil","smith"]'}
    assert names(where, aliases=aliases) == expected


def test_in_and_or_chains_handle_hundreds_of_ids() -> None:
    rng = random.Random(7)
    ids = [
        f"{rng.getrandbits(32):08x}-0000-4000-8000-{rng.getrandbits(48):012x}" for _ in range(500)
    ]
    listed = ",".join(f'"{g}"' for g in [*ids, C3])
    assert names(crm("In", "contactid", f"PropertyValues=[{listed}]")) == [S]
    ored = " or ".join(f"contactid eq {g}" for g in [*ids[:300], C1, C3])
    assert names(ored) == [D, S]
    assert names(f"not ({ored})") == [N, H, X]
    anded = " and ".join(f"firstname ne '{name}'" for name in ["John", "Ann", *ids])
    assert names(anded) == [N, H]


# --- $orderby, $top, $count ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("orderby", "expected"),
    [
        ("lastname", [H, X, D, N, S]),
        ("lastname asc", [H, X, D, N, S]),
        ("lastname desc", [S, N, D, X, H]),
        ("firstname", [X, S, D, N, H]),  # nulls first ascending
        ("firstname desc", [H, N, D, S, X]),  # and last descending
        ("statecode desc,lastname", [X, S, H, D, N]),
        ("jobtitle, lastname desc", [S, X, D, N, H]),
        ("jobtitle", [S, X, D, N, H]),  # stable: ties keep their order
        ("crmf_loyaltytier", [S, N, D, X, H]),  # choices order by label
        ("leadsourcecode desc", [D, N, H, X, S]),
        ("_parentcustomerid_value", [X, D, H, N, S]),  # lookups by the related name
        ("parentcustomerid_account/name desc", [N, D, H, S, X]),
        ("contactid", [X, N, D, S, H]),  # SQL Server's uniqueidentifier order
        ("contactid desc", [H, S, D, N, X]),
        ("createdon", [S, X, H, N, D]),
    ],
)
def test_orderby_sorts_like_sql_server(orderby: str, expected: list[str]) -> None:
    assert names(orderby=orderby) == expected


def test_orderby_keeps_input_order_without_orderby_and_returns_the_same_dicts() -> None:
    rows = plan("statecode eq 0").execute(iter(CONTACTS), RESOLVER, now=NOW)
    assert [row["lastname"] for row in rows] == [D, N, H]
    assert rows[0] is CONTACTS[0]


def test_orderby_sorts_many_rows_stably() -> None:
    rng = random.Random(3)
    table = [record("contact", contactid=f"{i:08x}-0000-0000-0000-{rng.getrandbits(48):012x}",
                    lastname=rng.choice(["a", "B", "c", None]), statecode=rng.choice([0, 1]))
             for i in range(6000)]  # fmt: skip
    rows = plan(orderby="lastname desc,statecode").execute(table, RESOLVER, now=NOW)
    key = {"a": 0, "b": 1, "c": 2}
    expected = sorted(table, key=lambda r: (r["lastname"] is None, -key.get(str(r["lastname"]).lower(), 0), r["statecode"]))  # fmt: skip
    assert rows == expected


@pytest.mark.parametrize(
    ("top", "orderby", "expected"),
    [("2", "lastname", [H, X]), ("2", None, [D, N]), ("0", None, []), ("9", None, EVERYONE)],
)
def test_top_cuts_after_ordering(top: str, orderby: str | None, expected: list[str]) -> None:
    assert names(top=top, orderby=orderby) == expected


def test_count_ignores_top() -> None:
    query = plan("statecode eq 0", top="1")
    assert query.count(CONTACTS, RESOLVER, now=NOW) == 3
    assert plan(top="1").count(iter(CONTACTS), RESOLVER, now=NOW) == 5


# --- $select and projection ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("select", "columns"),
    [
        ("lastname,firstname", ["lastname", "firstname", "contactid"]),
        ("contactid, lastname", ["contactid", "lastname"]),
        ("lastname,lastname", ["lastname", "contactid"]),
        ("_parentcustomerid_value", ["_parentcustomerid_value", "contactid"]),
        (None, SCHEMA.entities["contact"].properties),
        ("*", SCHEMA.entities["contact"].properties),
    ],
)
def test_select_lists_columns_with_the_primary_id(select: str | None, columns: list[str]) -> None:
    assert plan(select=select).columns == columns


def test_project_many_builds_wire_rows_in_select_order() -> None:
    def etag(row: dict[str, Any]) -> str:
        return f'W/"{row["statecode"]}"'

    query = plan(select="lastname,birthdate")
    assert query.project_many(CONTACTS[:2], etag) == [
        {"@odata.etag": 'W/"0"', "lastname": "Doe", "birthdate": "1980-02-29", "contactid": C1},
        {"@odata.etag": 'W/"0"', "lastname": "O'Neil", "birthdate": None, "contactid": C2},
    ]
    assert list(query.project_many(CONTACTS[:1])[0]) == ["lastname", "birthdate", "contactid"]
    assert query.project_many([{"lastname": "x"}]) == [
        {"lastname": "x", "birthdate": None, "contactid": None}
    ]


# --- errors -------------------------------------------------------------------------------

NOT_FOUND = "Could not find a property named '{}' on type 'Microsoft.Dynamics.CRM.{}'."
INCOMPATIBLE = (
    "A binary operator with incompatible types was detected. Found operand types '{}' and '{}' "
    "for operator kind '{}'."
)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"filter": "lastname eq 'O'Bryan'"},
         "There is an unterminated literal at position 21 in 'lastname eq 'O'Bryan''."),
        ({"filter": "foo eq 1"}, NOT_FOUND.format("foo", "contact")),
        ({"filter": "FirstName eq 'x'"}, NOT_FOUND.format("FirstName", "contact")),
        ({"orderby": "foo desc"}, NOT_FOUND.format("foo", "contact")),
        ({"filter": "parentcustomerid_account/foo eq 1"}, NOT_FOUND.format("foo", "account")),
        ({"filter": "statecode eq 'x'"}, INCOMPATIBLE.format("Edm.Int32", "Edm.String", "Equal")),
        ({"filter": "'x' lt statecode"},
         INCOMPATIBLE.format("Edm.String", "Edm.Int32", "LessThan")),
        ({"filter": "createdon ge 2024-01-01"},
         INCOMPATIBLE.format("Edm.DateTimeOffset", "Edm.Date", "GreaterThanOrEqual")),
        ({"filter": "birthdate eq 2024-01-01T00:00:00Z"},
         INCOMPATIBLE.format("Edm.Date", "Edm.DateTimeOffset", "Equal")),
        ({"filter": "lastname ne 1"}, INCOMPATIBLE.format("Edm.String", "Edm.Int32", "NotEqual")),
        ({"filter": "donotemail eq 1"}, INCOMPATIBLE.format("Edm.Boolean", "Edm.Int32", "Equal")),
        ({"filter": "lastname eq statecode"},
         INCOMPATIBLE.format("Edm.String", "Edm.Int32", "Equal")),
        ({"filter": "contactid eq 'nope'"},
         "Guid should contain 32 digits with 4 dashes (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)."),
        ({"filter": "foo(lastname)"},
         "An unknown function with name 'foo' was found. This may also be a function import or "
         "a key lookup on a navigation property, which is not allowed."),
        ({"filter": "contains(statecode,'1')"},
         "No function signature for the function with name 'contains' matches the specified "
         "arguments. The function signatures considered are: contains(Edm.String "
         "Nullable=true, Edm.String Nullable=true)."),
        ({"filter": "lastname eq"}, "Expression expected at position 11 in 'lastname eq'."),
        ({"filter": "lastname eq 'x' x"}, "Syntax error at position 16 in 'lastname eq 'x' x'."),
        ({"filter": "(lastname eq 'x'"},
         "')' or operator expected at position 16 in '(lastname eq 'x''."),
        ({"filter": "contains(lastname 'x')"},
         "')' or ',' expected at position 18 in 'contains(lastname 'x')'."),
        ({"filter": "statecode eq 1 & 2"},
         "Syntax error: character '&' is not valid at position 15 in 'statecode eq 1 & 2'."),
        ({"filter": "birthdate eq 2024-02-30"},
         "Unrecognized 'Edm.Date' literal '2024-02-30' at '13' in 'birthdate eq 2024-02-30'."),
        ({"filter": "createdon eq 2024-01-01T00:00:00"},
         "Unrecognized 'Edm.DateTimeOffset' literal '2024-01-01T00:00:00' at '13' in "
         "'createdon eq 2024-01-01T00:00:00'."),
        ({"filter": "lastname"}, "The $filter expression must evaluate to a single boolean value."),
        ({"filter": "not lastname"},
         "A unary operator with an incompatible type was detected. Found operand type "
         "'Edm.String' for operator kind 'Not'."),
        ({"filter": "not lastname eq 'x'"},  # not binds tighter than eq, as in OData
         "A unary operator with an incompatible type was detected. Found operand type "
         "'Edm.String' for operator kind 'Not'."),
        ({"filter": "lastname and donotemail"},
         INCOMPATIBLE.format("Edm.String", "Edm.Boolean", "And")),
        ({"filter": "(" * 150 + "donotemail" + ")" * 150}, "Recursion depth exceeded allowed limit."),
        ({"top": "-1"}, "Invalid value '-1' for $top query option found. The $top query option "
                        "requires a non-negative integer value."),
        ({"top": "1.5"}, "Invalid value '1.5' for $top query option found. The $top query "
                         "option requires a non-negative integer value."),
        ({"select": "lastname,,firstname"}, "Syntax error at position 9 in 'lastname,,firstname'."),
        ({"orderby": "lastname sideways"}, "Syntax error at position 0 in 'lastname sideways'."),
    ],
)  # fmt: skip
def test_plan_query_rejects_what_dataverse_rejects(options: dict[str, str], message: str) -> None:
    failure = error(**options)
    assert (failure.code, failure.message) == ("0x80060888", message)


@pytest.mark.parametrize(
    ("where", "code", "start"),
    [
        (crm("In", "nope", 'PropertyValues=["x"]'), "0x80041103",
         "'contact' entity doesn't contain attribute with Name = 'nope'"),
        (crm("In", "statecode", 'PropertyValues=["x"]'), "0x80040203", "The value 'x' of"),
        (crm("In", "lastname", "PropertyValues=[]"), "0x80060888", "The PropertyValues of"),
        (crm("In", "lastname"), "0x80060888", "The function 'Microsoft.Dynamics.CRM.In' takes"),
        (crm("Between", "statecode", 'PropertyValues=["1","2","3"]'), "0x80040203",
         "The function 'Microsoft.Dynamics.CRM.Between' is not valid"),
        (crm("Today", "lastname"), "0x80040203", "The function 'Microsoft.Dynamics.CRM.Today'"),
        (crm("LastXDays", "createdon", "PropertyValue=-1"), "0x80040203", "The PropertyValue"),
        (crm("On", "createdon", "PropertyValue='soon'"), "0x80040203", "The PropertyValue"),
        (crm("Under", "contactid", f"PropertyValue='{C1}'"), "0x80060888",
         "The function 'Microsoft.Dynamics.CRM.Under' is not supported by the crmframes sandbox"),
        ("1 eq 1", "0x80060888", "Only a property"),
        ("parentcustomerid_account eq null", "0x80060888",
         "The navigation property 'parentcustomerid_account'"),
        ("lastname eq @p1", "0x80060888", "Syntax error at position 0 in 'lastname'."),
    ],
)  # fmt: skip
def test_query_functions_reject_bad_arguments(where: str, code: str, start: str) -> None:
    failure = error(where, aliases={"@p1": "lastname"})
    assert failure.code == code
    assert failure.message.startswith(start)


TOKENS = [
    "lastname", "firstname", "statecode", "createdon", "birthdate", "contactid", "donotemail",
    "_parentcustomerid_value", "parentcustomerid_account/name", "parentcustomerid_contact/",
    "eq", "ne", "gt", "ge", "lt", "le", "and", "or", "not", "(", ")", ",", "'", "''", "'x'",
    "'[%]'", "null", "true", "false", "1", "-2.5", "1e400", "99999999999999999999",
    "2024-01-01", "2024-13-01", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00.5+01:00", C1,
    "contains(", "startswith(", "endswith(", "@p1", "@p2", "@nope", "Microsoft.Dynamics.CRM.In(",
    "Microsoft.Dynamics.CRM.LastXDays(", "Microsoft.Dynamics.CRM.Between(", "PropertyName=",
    "PropertyValues=", "PropertyValue=", "[", "]", '"x"', '"2024-01-01"', '"1"', "'lastname'",
    "'createdon'", "99999999999", "=", "/",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    text=st.one_of(
        st.text(max_size=40),
        st.lists(st.sampled_from(TOKENS), max_size=14).map(" ".join),
        st.lists(st.sampled_from(TOKENS), max_size=14).map("".join),
    ),
    alias=st.sampled_from(["'lastname'", '["1","2"]', "5", "[", "'", "lastname"]),
)
def test_plan_query_raises_only_odata_error_for_any_text(text: str, alias: str) -> None:
    for options in ({"filter": text}, {"select": text}, {"orderby": text}, {"top": text}):
        try:
            query = plan(**options, aliases={"@p1": alias, "@p2": '["x","2024-01-01"]'})
        except ODataError:
            continue
        query.execute(CONTACTS, RESOLVER, now=NOW)
        query.project_many(CONTACTS)


def test_orderby_text_ignores_accents_and_case_like_latin1_general_ci_ai() -> None:
    # Dataverse's default collation is accent- and case-insensitive: Ş sorts with S, Ç with C.
    people = [record("contact", contactid=f"{i:08d}-0000-0000-0000-000000000000", lastname=name)
              for i, name in enumerate(["Zimmermann", "Şahin", "çelik", "Öztürk", "adams", "Sanz"])]  # fmt: skip
    ordered = plan(orderby="lastname").execute(people, RESOLVER, now=NOW)
    assert [r["lastname"] for r in ordered] == [
        "adams",
        "çelik",
        "Öztürk",
        "Şahin",
        "Sanz",
        "Zimmermann",
    ]


@pytest.mark.parametrize("name", ["foo", "parentcustomerid", "LastName"])
def test_select_of_an_unknown_property_has_code_0x0(name: str) -> None:
    # Dataverse answers code 0x0 here (troubleshoot "Web API client errors"), not 0x80060888.
    failure = error(select=f"lastname,{name}")
    assert (failure.code, failure.message) == ("0x0", NOT_FOUND.format(name, "contact"))
