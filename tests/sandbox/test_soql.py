from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmframes.sandbox.salesforce.schema import SCHEMA
from crmframes.sandbox.salesforce.soql import (
    Comparison,
    QueryPlan,
    SoqlError,
    parse_soql,
    plan_query,
)
from crmframes.sandbox.salesforce.soql_eval import relative_range

NOW = datetime(2024, 3, 13, 15, 30, tzinfo=UTC)  # a Wednesday
U1 = "005Rs0000000001IAA"
A1, A2, A3 = "001Rs0000000001IAA", "001Rs0000000002IAA", "001Rs0000000003IAA"
C1, C2, C3, C4, C5 = (f"003Rs000000000{i}IAA" for i in range(1, 6))


def record(obj: str, **values: Any) -> dict[str, Any]:
    """A full record of ``obj``: every stored field None (booleans False) unless given."""
    fields = [f for f in SCHEMA.objects[obj].fields if f.type != "address"]
    return {**{f.name: False if f.type == "boolean" else None for f in fields}, **values}


USERS = [record("User", Id=U1, FirstName="Ada", LastName="Admin", Name="Ada Admin")]
ACCOUNTS = [
    record("Account", Id=A1, Name="Acme", OwnerId=U1, Industry="Banking", NumberOfEmployees=50,
           AnnualRevenue=1500000.0, BillingStreet="1 Rue de Rivoli", BillingCity="Paris",
           BillingPostalCode="75001", BillingCountry="France"),
    record("Account", Id=A2, Name="Globex", OwnerId=U1, ParentId=A1, NumberOfEmployees=1200),
    record("Account", Id=A3, Name="Initech", OwnerId=U1, Industry="Technology", AnnualRevenue=0),
]  # fmt: skip
CONTACTS = [
    record("Contact", Id=C1, LastName="Doe", FirstName="John", AccountId=A1, Email="john@acme.com",
           Birthdate="1980-02-29", CreatedDate="2024-03-12T10:00:00.000+0000", LeadSource="Web",
           Title="CEO", Loyalty_Tier__c="Gold", MailingStreet="1 Main St", MailingCity="Paris",
           MailingPostalCode="75002", MailingCountry="France"),
    record("Contact", Id=C2, LastName="O'Brien", FirstName="Mary", AccountId=A2,
           CreatedDate="2024-03-13T09:00:00.000+0000", LeadSource="Other", Title="cto",
           Loyalty_Tier__c="Bronze"),
    record("Contact", Id=C3, LastName="smith", FirstName="Ann", Email="ann@example.com",
           Birthdate="1975-12-31", CreatedDate="2023-12-01T00:00:00.000+0000",
           HasOptedOutOfEmail=True),
    record("Contact", Id=C4, LastName="100%_off", FirstName="Zoë", AccountId=A1,
           Email="zoe@acme.com", Birthdate="2000-01-01", CreatedDate="2024-03-01T12:00:00.000+0000",
           LeadSource="Phone Inquiry", Title="back\\slash", Loyalty_Tier__c="Silver"),
    record("Contact", Id=C5, LastName="Gone", AccountId=A3, LeadSource="Web",
           CreatedDate="2024-01-05T08:00:00.000+0000", IsDeleted=True),
]  # fmt: skip
TABLES = {"User": USERS, "Account": ACCOUNTS, "Contact": CONTACTS}


class DictResolver:
    """The sandbox's resolver over the literal tables above (deleted rows are not live)."""

    def get(self, object_name: str, record_id: str) -> dict[str, Any] | None:
        return next(
            (r for r in self.scan(object_name, include_deleted=False) if r["Id"] == record_id), None
        )

    def scan(self, object_name: str, *, include_deleted: bool) -> list[dict[str, Any]]:
        return [r for r in TABLES[object_name] if include_deleted or not r["IsDeleted"]]


RESOLVER = DictResolver()


def plan(soql: str) -> QueryPlan:
    return plan_query(parse_soql(soql), SCHEMA)


def names(soql: str, *, include_deleted: bool = False) -> list[str]:
    """Run ``soql`` like the server does and return each row's LastName (Name for others)."""
    query = plan(soql)
    rows = query.execute(
        RESOLVER.scan(query.object.name, include_deleted=include_deleted), RESOLVER, now=NOW
    )
    return [row["LastName"] if query.object.name == "Contact" else row["Name"] for row in rows]


def error(soql: str) -> SoqlError:
    with pytest.raises(SoqlError) as info:
        plan(soql)
    return info.value


# --- parsing ------------------------------------------------------------------------------


def test_parse_soql_reads_every_clause_with_any_keyword_case() -> None:
    query = parse_soql(
        "select Id, account.name from contact where not lastname like 'a%' "
        "order by lastname desc nulls last, id asc limit 5 offset 2"
    )
    assert [f.text for f in query.fields] == ["Id", "account.name"]
    assert (query.object, query.is_count, query.limit, query.offset) == ("contact", False, 5, 2)
    assert [(o.field.text, o.descending, o.nulls_last) for o in query.order_by] == [
        ("lastname", True, True),
        ("id", False, False),
    ]


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        (r"'O\'Brien'", "O'Brien"),
        (r"'back\\slash'", "back\\slash"),
        (r"'a\nb\Nc'", "a\nb\nc"),
        (r"'\t\T\r\R\b\B\f\F'", "\t\t\r\r\b\b\f\f"),
        (r"'say \"hi\"'", 'say "hi"'),
        (r"'caf\u00e9 \u00C9'", "café É"),
        ("'Zoë ☃ 日本'", "Zoë ☃ 日本"),
        ("'100%_off'", "100%_off"),
        (r"'50\%\_'", r"50\%\_"),  # \% and \_ only mean something in LIKE
        ("''", ""),
    ],
)
def test_parse_soql_decodes_string_escapes(literal: str, expected: str) -> None:
    where = parse_soql(f"SELECT Id FROM Contact WHERE LastName = {literal}").where
    assert isinstance(where, Comparison)
    assert where.value.value == expected


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("2024-03-13T09:00:00Z", "2024-03-13T09:00:00.000+0000"),
        ("2024-03-13T10:00:00+01:00", "2024-03-13T09:00:00.000+0000"),
        ("2024-03-12T23:30:00.25-09:30", "2024-03-13T09:00:00.250+0000"),
    ],
)
def test_parse_soql_normalizes_datetime_literals_to_utc(literal: str, expected: str) -> None:
    where = parse_soql(f"SELECT Id FROM Contact WHERE CreatedDate > {literal}").where
    assert isinstance(where, Comparison)
    assert (where.value.kind, where.value.value) == ("datetime", expected)


# --- WHERE --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("LastName = 'doe'", ["Doe"]),
        ("lastname = 'DOE'", ["Doe"]),
        ("LastName != 'Doe'", ["O'Brien", "smith", "100%_off"]),
        ("LastName <> 'DOE'", ["O'Brien", "smith", "100%_off"]),
        ("Email = null", ["O'Brien"]),
        ("Email != NULL", ["Doe", "smith", "100%_off"]),
        ("Email = ''", ["O'Brien"]),
        ("Email != ''", ["Doe", "smith", "100%_off"]),
        ("Title != 'CEO'", ["O'Brien", "smith", "100%_off"]),  # != matches nulls
        ("Title < 'd'", ["Doe", "O'Brien", "100%_off"]),  # < never matches nulls
        ("Title > 'c'", ["Doe", "O'Brien"]),
        ("Title >= 'CTO'", ["O'Brien"]),
        ("Title <= 'ceo'", ["Doe", "100%_off"]),
        ("Birthdate < 1980-01-01", ["smith"]),
        ("Birthdate <= 1980-02-29", ["Doe", "smith"]),
        ("Birthdate > 1980-02-29", ["100%_off"]),
        ("Birthdate >= 1975-12-31", ["Doe", "smith", "100%_off"]),
        ("Birthdate != 2000-01-01", ["Doe", "O'Brien", "smith"]),
        ("CreatedDate > 2024-03-12T00:00:00Z", ["Doe", "O'Brien"]),
        ("CreatedDate = 2024-03-13T10:00:00+01:00", ["O'Brien"]),
        ("CreatedDate = 2024-03-13T01:00:00-08:00", ["O'Brien"]),
        ("CreatedDate < 2024-03-01T12:00:00.5Z", ["smith", "100%_off"]),
        ("HasOptedOutOfEmail = true", ["smith"]),
        ("HasOptedOutOfEmail = FALSE", ["Doe", "O'Brien", "100%_off"]),
        ("HasOptedOutOfEmail != True", ["Doe", "O'Brien", "100%_off"]),
        ("LastName LIKE 'd%'", ["Doe"]),
        ("LastName like '%BRIEN'", ["O'Brien"]),
        ("LastName LIKE 'sm_th'", ["smith"]),
        ("LastName LIKE '%I%'", ["O'Brien", "smith"]),
        ("LastName LIKE '%'", ["Doe", "O'Brien", "smith", "100%_off"]),
        (r"LastName LIKE '100\%\_off'", ["100%_off"]),
        (r"LastName LIKE '1_0\%%'", ["100%_off"]),
        (r"LastName LIKE '1\_%'", []),
        (r"LastName LIKE 'o\'%'", ["O'Brien"]),
        (r"Title LIKE 'back\\slash'", ["100%_off"]),
        ("LastName IN ('doe', 'SMITH')", ["Doe", "smith"]),
        ("LastName NOT IN ('doe', 'SMITH')", ["O'Brien", "100%_off"]),
        ("LeadSource NOT IN ('Web')", ["O'Brien", "smith", "100%_off"]),  # NOT IN matches nulls
        ("LeadSource IN ('web', null)", ["Doe", "smith"]),
        ("LeadSource NOT IN ('Web', null)", ["O'Brien", "100%_off"]),
        ("Birthdate IN (1980-02-29, 2000-01-01)", ["Doe", "100%_off"]),
        ("NOT LastName = 'Doe'", ["O'Brien", "smith", "100%_off"]),
        ("NOT (LeadSource = 'Web' OR LeadSource = 'Other')", ["smith", "100%_off"]),
        ("(LeadSource = 'Web' OR Title = 'CTO') AND Email != null", ["Doe"]),
        ("LeadSource = 'Web' OR (Title = 'CTO' AND Email = null)", ["Doe", "O'Brien"]),
        ("LastName = 'Doe' AND Email != null AND Title = 'ceo'", ["Doe"]),
        ("FirstName = 'ZOË'", ["100%_off"]),
        (r"FirstName = '\u005Aoë'", ["100%_off"]),
        ("Loyalty_Tier__c = 'gold'", ["Doe"]),
        ("Id = '003Rs0000000001'", ["Doe"]),  # 15-character ids are accepted
        ("Id = '003Rs0000000002IAA'", ["O'Brien"]),
        ("AccountId = '001Rs0000000001IAA'", ["Doe", "100%_off"]),
        ("AccountId != '001Rs0000000001'", ["O'Brien", "smith"]),
        ("AccountId IN ('001Rs0000000002', '001Rs0000000003IAA')", ["O'Brien"]),
        ("AccountId = null", ["smith"]),
        ("Contact.LastName = 'Doe'", ["Doe"]),
        ("Account.Name = 'ACME'", ["Doe", "100%_off"]),
        ("Account.Name != 'Acme'", ["O'Brien", "smith"]),  # a null parent gives a null value
        ("Account.Owner.Name LIKE 'ada%'", ["Doe", "O'Brien", "100%_off"]),
        ("Account.Parent.Name = 'Acme'", ["O'Brien"]),
    ],
)
def test_execute_filters_contacts(where: str, expected: list[str]) -> None:
    assert names(f"SELECT Id FROM Contact WHERE {where}") == expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("NumberOfEmployees > 100", ["Globex"]),
        ("NumberOfEmployees < 100", ["Acme"]),
        ("NumberOfEmployees != 50", ["Globex", "Initech"]),
        ("NumberOfEmployees IN (50, 1200)", ["Acme", "Globex"]),
        ("AnnualRevenue >= 1000000", ["Acme"]),
        ("AnnualRevenue = 1500000.0", ["Acme"]),
        ("AnnualRevenue = 0", ["Initech"]),
        ("AnnualRevenue > -1.5", ["Acme", "Initech"]),
        ("Industry = null", ["Globex"]),
        ("Parent.Name = 'Acme'", ["Globex"]),
        ("Owner.Name = 'Ada Admin'", ["Acme", "Globex", "Initech"]),
    ],
)
def test_execute_filters_accounts(where: str, expected: list[str]) -> None:
    assert names(f"SELECT Id FROM Account WHERE {where}") == expected


def test_execute_matches_is_deleted_only_among_the_rows_given() -> None:
    assert names("SELECT Id FROM Contact WHERE IsDeleted = true") == []
    assert names("SELECT Id FROM Contact WHERE IsDeleted = true", include_deleted=True) == ["Gone"]


@pytest.mark.parametrize(
    ("obj", "where", "expected"),
    [
        ("Account", "Id IN (SELECT AccountId FROM Contact WHERE Email != null)", ["Acme"]),
        # the deleted contact of Initech is not live, so Initech has no contacts
        ("Account", "Id NOT IN (SELECT AccountId FROM Contact)", ["Initech"]),
        ("Contact", "AccountId IN (SELECT Id FROM Account WHERE Industry = 'banking')",
         ["Doe", "100%_off"]),
        ("Contact", "AccountId NOT IN (SELECT Id FROM Account WHERE Industry = 'Banking')",
         ["O'Brien", "smith"]),
        ("Contact", "AccountId IN (SELECT ParentId FROM Account) AND Title != null",
         ["Doe", "100%_off"]),
    ],
)  # fmt: skip
def test_execute_evaluates_semi_joins(obj: str, where: str, expected: list[str]) -> None:
    assert names(f"SELECT Id FROM {obj} WHERE {where}") == expected


# --- relative date literals ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "start", "end"),
    [
        ("YESTERDAY", date(2024, 3, 12), date(2024, 3, 13)),
        ("TODAY", date(2024, 3, 13), date(2024, 3, 14)),
        ("TOMORROW", date(2024, 3, 14), date(2024, 3, 15)),
        ("LAST_WEEK", date(2024, 3, 3), date(2024, 3, 10)),
        ("THIS_WEEK", date(2024, 3, 10), date(2024, 3, 17)),
        ("NEXT_WEEK", date(2024, 3, 17), date(2024, 3, 24)),
        ("LAST_MONTH", date(2024, 2, 1), date(2024, 3, 1)),
        ("THIS_MONTH", date(2024, 3, 1), date(2024, 4, 1)),
        ("NEXT_MONTH", date(2024, 4, 1), date(2024, 5, 1)),
        ("LAST_90_DAYS", date(2023, 12, 14), date(2024, 3, 14)),
        ("NEXT_90_DAYS", date(2024, 3, 14), date(2024, 6, 12)),
        ("THIS_QUARTER", date(2024, 1, 1), date(2024, 4, 1)),
        ("LAST_QUARTER", date(2023, 10, 1), date(2024, 1, 1)),
        ("NEXT_QUARTER", date(2024, 4, 1), date(2024, 7, 1)),
        ("THIS_YEAR", date(2024, 1, 1), date(2025, 1, 1)),
        ("LAST_YEAR", date(2023, 1, 1), date(2024, 1, 1)),
        ("NEXT_YEAR", date(2025, 1, 1), date(2026, 1, 1)),
        ("LAST_N_DAYS:1", date(2024, 3, 12), date(2024, 3, 14)),  # yesterday and today
        ("NEXT_N_DAYS:2", date(2024, 3, 14), date(2024, 3, 16)),
        ("N_DAYS_AGO:3", date(2024, 3, 10), date(2024, 3, 11)),
        ("LAST_N_WEEKS:2", date(2024, 2, 25), date(2024, 3, 10)),
        ("NEXT_N_WEEKS:1", date(2024, 3, 17), date(2024, 3, 24)),
        ("LAST_N_MONTHS:2", date(2024, 1, 1), date(2024, 3, 1)),
        ("NEXT_N_MONTHS:1", date(2024, 4, 1), date(2024, 5, 1)),
        ("LAST_N_YEARS:2", date(2022, 1, 1), date(2024, 1, 1)),
        ("NEXT_N_YEARS:1", date(2025, 1, 1), date(2026, 1, 1)),
        ("last_n_days:0", date(2024, 3, 13), date(2024, 3, 14)),
    ],
)
def test_relative_range_covers_the_documented_days(literal: str, start: date, end: date) -> None:
    where = parse_soql(f"SELECT Id FROM Contact WHERE CreatedDate = {literal}").where
    assert isinstance(where, Comparison)
    assert where.value.kind == "relative"
    assert relative_range(*where.value.value, NOW) == (start, end)


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("CreatedDate = TODAY", ["O'Brien"]),
        ("CreatedDate = yesterday", ["Doe"]),
        ("CreatedDate = THIS_WEEK", ["Doe", "O'Brien"]),
        ("CreatedDate < THIS_WEEK", ["smith", "100%_off"]),
        ("CreatedDate > LAST_MONTH", ["Doe", "O'Brien", "100%_off"]),
        ("CreatedDate <= LAST_MONTH", ["smith"]),
        ("CreatedDate >= THIS_MONTH", ["Doe", "O'Brien", "100%_off"]),
        ("CreatedDate = LAST_N_DAYS:1", ["Doe", "O'Brien"]),
        ("CreatedDate = LAST_QUARTER", ["smith"]),
        ("CreatedDate != THIS_YEAR", ["smith"]),
        ("CreatedDate = N_DAYS_AGO:12", ["100%_off"]),
        ("Birthdate < LAST_N_YEARS:30", ["Doe", "smith"]),
        ("Birthdate = THIS_YEAR", []),
        ("Birthdate != TODAY", ["Doe", "O'Brien", "smith", "100%_off"]),
    ],
)
def test_execute_compares_relative_dates_with_now(where: str, expected: list[str]) -> None:
    assert names(f"SELECT Id FROM Contact WHERE {where}") == expected


# --- ORDER BY, LIMIT, OFFSET, COUNT() -------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("Email", ["O'Brien", "smith", "Doe", "100%_off"]),  # nulls first by default
        ("Email DESC", ["O'Brien", "100%_off", "Doe", "smith"]),  # ... also when descending
        ("Email DESC NULLS LAST", ["100%_off", "Doe", "smith", "O'Brien"]),
        ("Email ASC NULLS LAST", ["smith", "Doe", "100%_off", "O'Brien"]),
        ("Email NULLS FIRST", ["O'Brien", "smith", "Doe", "100%_off"]),
        ("Title", ["smith", "100%_off", "Doe", "O'Brien"]),  # case-insensitive: back < CEO < cto
        # picklists sort in their defined order: Web, Phone Inquiry, ..., Other
        ("LeadSource", ["smith", "Doe", "100%_off", "O'Brien"]),
        ("Birthdate DESC", ["O'Brien", "100%_off", "Doe", "smith"]),
        ("HasOptedOutOfEmail", ["Doe", "O'Brien", "100%_off", "smith"]),  # stable
        ("Account.Name", ["smith", "Doe", "100%_off", "O'Brien"]),
        ("Account.Name DESC NULLS LAST, LastName", ["O'Brien", "100%_off", "Doe", "smith"]),
        (
            "HasOptedOutOfEmail DESC, Account.Name NULLS LAST, LastName DESC",
            ["smith", "Doe", "100%_off", "O'Brien"],
        ),
        ("lastname asc", ["100%_off", "Doe", "O'Brien", "smith"]),
    ],
)
def test_execute_orders_rows(order: str, expected: list[str]) -> None:
    assert names(f"SELECT Id FROM Contact ORDER BY {order}") == expected


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ("ORDER BY LastName LIMIT 2", ["100%_off", "Doe"]),
        ("ORDER BY LastName LIMIT 2 OFFSET 1", ["Doe", "O'Brien"]),
        ("ORDER BY LastName OFFSET 3", ["smith"]),
        ("ORDER BY LastName OFFSET 2000", []),
        ("LIMIT 1", ["Doe"]),
        ("LIMIT 0", []),
        ("WHERE Email != null LIMIT 5 OFFSET 1", ["smith", "100%_off"]),
    ],
)
def test_execute_applies_limit_and_offset(window: str, expected: list[str]) -> None:
    assert names(f"SELECT Id FROM Contact {window}") == expected


def test_count_ignores_limit_and_offset() -> None:
    query = plan("SELECT COUNT() FROM Contact WHERE Email != null LIMIT 1 OFFSET 1")
    assert (query.is_count, query.columns) == (True, [])
    assert query.count(RESOLVER.scan("Contact", include_deleted=False), RESOLVER, now=NOW) == 3
    assert plan("select count() from account").count(iter(ACCOUNTS), RESOLVER, now=NOW) == 3


def test_execute_returns_the_source_records() -> None:
    rows = plan("SELECT LastName FROM Contact WHERE LastName = 'doe'").execute(
        CONTACTS, RESOLVER, now=NOW
    )
    assert rows[0] is CONTACTS[0]


# --- projection ---------------------------------------------------------------------------

ACME_ATTRIBUTES = {"type": "Account", "url": f"/services/data/v59.0/sobjects/Account/{A1}"}
SELECT_WITH_PARENTS = (
    "select id, lastname, account.name, ACCOUNT.owner.name, Account.BillingAddress, "
    "MailingAddress, accountid from contact"
)


def test_plan_query_lists_canonical_columns() -> None:
    assert plan(SELECT_WITH_PARENTS).columns == [
        "Id", "LastName", "Account.Name", "Account.Owner.Name", "Account.BillingAddress",
        "MailingAddress", "AccountId",
    ]  # fmt: skip


def test_project_nests_parents_and_builds_addresses() -> None:
    projected = plan(SELECT_WITH_PARENTS).project(CONTACTS[0], RESOLVER, "59.0")
    assert projected == {
        "attributes": {"type": "Contact", "url": f"/services/data/v59.0/sobjects/Contact/{C1}"},
        "Id": C1,
        "LastName": "Doe",
        "Account": {
            "attributes": ACME_ATTRIBUTES,
            "Name": "Acme",
            "Owner": {
                "attributes": {"type": "User", "url": f"/services/data/v59.0/sobjects/User/{U1}"},
                "Name": "Ada Admin",
            },
            "BillingAddress": {
                "city": "Paris", "country": "France", "geocodeAccuracy": None, "latitude": None,
                "longitude": None, "postalCode": "75001", "state": None,
                "street": "1 Rue de Rivoli",
            },
        },
        "MailingAddress": {
            "city": "Paris", "country": "France", "geocodeAccuracy": None, "latitude": None,
            "longitude": None, "postalCode": "75002", "state": None, "street": "1 Main St",
        },
        "AccountId": A1,
    }  # fmt: skip
    assert list(projected) == [
        "attributes",
        "Id",
        "LastName",
        "Account",
        "MailingAddress",
        "AccountId",
    ]
    assert list(projected["Account"]) == ["attributes", "Name", "Owner", "BillingAddress"]


def test_project_gives_null_for_a_null_lookup_and_an_empty_address() -> None:
    projected = plan(SELECT_WITH_PARENTS).project(CONTACTS[2], RESOLVER, "59.0")
    assert projected["Account"] is None
    assert projected["MailingAddress"] is None
    nested = plan("SELECT Account.Parent.Name FROM Contact").project(CONTACTS[0], RESOLVER, "59.0")
    assert nested["Account"] == {"attributes": ACME_ATTRIBUTES, "Parent": None}


def test_project_uses_the_record_id_and_version_even_when_id_is_not_selected() -> None:
    assert plan("SELECT LastName FROM Contact").project(CONTACTS[1], RESOLVER, "60.0") == {
        "attributes": {"type": "Contact", "url": f"/services/data/v60.0/sobjects/Contact/{C2}"},
        "LastName": "O'Brien",
    }


def test_project_flat_flattens_parents_in_column_order() -> None:
    query = plan(SELECT_WITH_PARENTS)
    doe = query.project_flat(CONTACTS[0], RESOLVER)
    assert doe[:4] == [C1, "Doe", "Acme", "Ada Admin"]
    assert (doe[4]["street"], doe[5]["street"], doe[6]) == ("1 Rue de Rivoli", "1 Main St", A1)
    assert query.project_flat(CONTACTS[2], RESOLVER) == [C3, "smith", None, None, None, None, None]


# --- errors -------------------------------------------------------------------------------

NO_SUCH_COLUMN = (
    "No such column '{}' on entity '{}'. If you are attempting to use a custom field, be sure to "
    "append the '__c' after the custom field name. Please reference your WSDL or the describe call "
    "for the appropriate names."
)
BAD_RELATIONSHIP = (
    "Didn't understand relationship '{}' in field path. If you are attempting to use a custom "
    "relationship, be sure to append the '__r' after the custom relationship name. Please "
    "reference your WSDL or the describe call for the appropriate names."
)
BAD_TYPE = (
    "sObject type '{}' is not supported. If you are attempting to use a custom object, be sure to "
    "append the '__c' after the entity name. Please reference your WSDL or the describe call for "
    "the appropriate names."
)


def test_soql_error_message_points_at_the_token_like_salesforce() -> None:
    err = error("SELECT Id FRM Contact")
    assert (err.code, err.message) == (
        "MALFORMED_QUERY",
        "\nSELECT Id FRM Contact\n          ^\nERROR at Row:1:Column:11\nunexpected token: FRM",
    )


def test_soql_error_counts_rows_and_columns_on_multi_line_queries() -> None:
    err = error("SELECT Id,\n       Nme\nFROM Contact")
    assert err.code == "INVALID_FIELD"
    assert err.message == (
        "\n       Nme\n       ^\nERROR at Row:2:Column:8\n"
        + NO_SUCH_COLUMN.format("Nme", "Contact")
    )


def test_soql_error_for_an_unknown_object_says_invalid_type() -> None:
    err = error("SELECT Id FROM Foo")
    assert (err.code, err.message) == (
        "INVALID_TYPE",
        "\nSELECT Id FROM Foo\n               ^\nERROR at Row:1:Column:16\n"
        + BAD_TYPE.format("Foo"),
    )


def test_soql_error_for_a_large_offset_is_number_outside_valid_range() -> None:
    err = error("SELECT Id FROM Contact ORDER BY Id OFFSET 2001")
    assert (err.code, err.message) == (
        "NUMBER_OUTSIDE_VALID_RANGE",
        "Maximum SOQL offset allowed is 2000",
    )


@pytest.mark.parametrize(
    ("soql", "detail"),
    [
        ("SELECT Id FROM", "unexpected token: <EOF>"),
        ("SELECT FROM Contact", "unexpected token: FROM"),
        (
            "SELECT Id FROM Contact WHERE LastName = 'a' AND Email = null OR Title = 'x'",
            "unexpected token: OR",
        ),
        (
            "SELECT Id FROM Contact WHERE LastName = 'a' OR Email = null AND Title = 'x'",
            "unexpected token: AND",
        ),
        ("SELECT Id FROM Contact WHERE (LastName = 'a' OR Email = null", "unexpected token: <EOF>"),
        ("SELECT Id, LastName, id FROM Contact", "duplicate field selected: Id"),
        ("SELECT Account.Name, account.NAME FROM Contact", "duplicate field selected: Name"),
        (
            r"SELECT Id FROM Contact WHERE LastName = 'a\zb'",
            r"Invalid string literal 'a\zb'. Illegal character sequence '\z' in string literal.",
        ),
        (
            r"SELECT Id FROM Contact WHERE LastName = '\u12'",
            r"Invalid string literal '\u12'. Illegal character sequence '\u' in string literal.",
        ),
        (
            "SELECT Id FROM Contact WHERE LastName = 'Doe",
            "mismatched character '<EOF>' expecting '''",
        ),
        ('SELECT Id FROM Contact WHERE LastName = "Doe"', 'unexpected token: "Doe"'),
        ("SELECT Id FROM Contact WHERE LastName = Doe", "unexpected token: Doe"),
        ("SELECT Id FROM Contact WHERE LastName INCLUDES ('a')", "unexpected token: INCLUDES"),
        ("SELECT Id, COUNT() FROM Contact", "Field must be grouped or aggregated: Id"),
        ("SELECT Id FROM Contact LIMIT -1", "unexpected token: -1"),
        ("SELECT Id FROM Contact LIMIT 1.5", "unexpected token: 1.5"),
        ("SELECT Id FROM Contact OFFSET 1 LIMIT 1", "unexpected token: LIMIT"),
        ("SELECT Id FROM Contact ORDER BY LastName NULLS MIDDLE", "unexpected token: MIDDLE"),
        ("SELECT Id FROM Contact WHERE CreatedDate = LAST_N_DAYS", "unexpected token: <EOF>"),
        ("SELECT Id FROM Contact WHERE CreatedDate = LAST_N_DAYS:x", "unexpected token: x"),
        ("SELECT Id FROM Contact WHERE Birthdate = 2024-02-30", "invalid date: 2024-02-30"),
        ("SELECT Id FROM Contact WHERE Birthdate = 2024-01-01x", "unexpected token: 2024-01-01x"),
        (
            "SELECT Account.Parent.Parent.Parent.Parent.Parent.Name FROM Contact",
            "A field path may follow at most 5 parent relationships",
        ),
        (
            "SELECT Id FROM Account WHERE Id IN (SELECT AccountId, Id FROM Contact)",
            "semi join sub-selects can select one field only",
        ),
        (
            "SELECT Id FROM Contact WHERE Email IN (SELECT Email FROM Lead)",
            "semi join left operand 'Email' must be an Id or reference field",
        ),
        (
            "SELECT Id FROM Account WHERE Id IN (SELECT Id FROM Contact WHERE AccountId IN "
            "(SELECT Id FROM Account))",
            "Nested semi join sub-selects are not supported",
        ),
    ],
)
def test_plan_query_rejects_malformed_queries(soql: str, detail: str) -> None:
    err = error(soql)
    assert err.code == "MALFORMED_QUERY"
    assert "\nERROR at Row:1:Column:" in err.message
    assert err.message.endswith("\n" + detail)


@pytest.mark.parametrize(
    ("soql", "code", "detail"),
    [
        ("SELECT Id, Nme FROM Contact", "INVALID_FIELD", NO_SUCH_COLUMN.format("Nme", "Contact")),
        (
            "SELECT Account.Nme FROM Contact",
            "INVALID_FIELD",
            NO_SUCH_COLUMN.format("Nme", "Account"),
        ),
        (
            "SELECT Account FROM Contact",
            "INVALID_FIELD",
            NO_SUCH_COLUMN.format("Account", "Contact"),
        ),
        (
            "SELECT Id FROM Contact ORDER BY Nme",
            "INVALID_FIELD",
            NO_SUCH_COLUMN.format("Nme", "Contact"),
        ),
        (
            "SELECT Acount.Name FROM Contact",
            "INVALID_FIELD",
            BAD_RELATIONSHIP.format("Acount"),
        ),
        (
            "SELECT Id FROM Contact WHERE Description = 'x'",
            "INVALID_FIELD",
            "field 'Description' can not be filtered in a query call",
        ),
        (
            "SELECT Id FROM Contact WHERE MailingAddress = null",
            "INVALID_FIELD",
            "field 'MailingAddress' can not be filtered in a query call",
        ),
        (
            "SELECT Id FROM Contact ORDER BY MailingAddress",
            "INVALID_FIELD",
            "field 'MailingAddress' can not be sorted in a query call",
        ),
        (
            "SELECT Id FROM Contact WHERE Id IN (SELECT AccountId FROM Foo)",
            "INVALID_TYPE",
            BAD_TYPE.format("Foo"),
        ),
    ],
)
def test_plan_query_rejects_unknown_names(soql: str, code: str, detail: str) -> None:
    err = error(soql)
    assert err.code == code
    assert err.message.endswith("\n" + detail)


def criterion(field: str, kind: str, quoted: bool) -> str:
    should = "should" if quoted else "should not"
    return (
        f"value of filter criterion for field '{field}' must be of type {kind} "
        f"and {should} be enclosed in quotes"
    )


@pytest.mark.parametrize(
    ("soql", "detail"),
    [
        ("SELECT Id FROM Contact WHERE Id = 'xyz'", "invalid ID field: xyz"),
        (
            "SELECT Id FROM Contact WHERE AccountId IN ('001Rs0000000001IAA', 'bad')",
            "invalid ID field: bad",
        ),
        (
            "SELECT Id FROM Contact WHERE Birthdate = '2020-01-01'",
            criterion("Birthdate", "date", False),
        ),
        (
            "SELECT Id FROM Contact WHERE Birthdate > 2020-01-01T00:00:00Z",
            criterion("Birthdate", "date", False),
        ),
        (
            "SELECT Id FROM Contact WHERE CreatedDate > 2020-01-01",
            criterion("CreatedDate", "dateTime", False),
        ),
        ("SELECT Id FROM Contact WHERE LastName = 5", criterion("LastName", "string", True)),
        ("SELECT Id FROM Contact WHERE LastName = TODAY", criterion("LastName", "string", True)),
        (
            "SELECT Id FROM Contact WHERE HasOptedOutOfEmail = 'true'",
            criterion("HasOptedOutOfEmail", "boolean", False),
        ),
        ("SELECT Id FROM Contact WHERE AccountId = 5", criterion("AccountId", "id", True)),
        (
            "SELECT Id FROM Account WHERE NumberOfEmployees = '5'",
            criterion("NumberOfEmployees", "integer", False),
        ),
        (
            "SELECT Id FROM Account WHERE AnnualRevenue = true",
            criterion("AnnualRevenue", "double", False),
        ),
        ("SELECT Id FROM Contact WHERE LastName LIKE 5", criterion("LastName", "string", True)),
        ("SELECT Id FROM Contact WHERE Id LIKE '003%'", "invalid operator on id field"),
        (
            "SELECT Id FROM Account WHERE NumberOfEmployees LIKE '5'",
            "invalid operator on integer field",
        ),
        (
            "SELECT Id FROM Contact WHERE HasOptedOutOfEmail > false",
            "invalid operator on boolean field",
        ),
    ],
)
def test_plan_query_type_checks_filter_values(soql: str, detail: str) -> None:
    err = error(soql)
    assert err.code == "INVALID_QUERY_FILTER_OPERATOR"
    assert "\nERROR at Row:1:Column:" in err.message
    assert err.message.endswith("\n" + detail)


# --- quoting round trip -------------------------------------------------------------------

TRICKY = st.text(st.one_of(st.sampled_from("'\"\\%_\n\r\t\b\f é☃"), st.characters()), max_size=30)


def soql_quote(value: str) -> str:
    """Escape a value for a SOQL string literal: backslash first, then quotes and controls."""
    out = value.replace("\\", "\\\\")
    for raw, escaped in (("'", "\\'"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"),
                         ("\b", "\\b"), ("\f", "\\f")):  # fmt: skip
        out = out.replace(raw, escaped)
    return out


def like_quote(value: str) -> str:
    return soql_quote(value).replace("%", "\\%").replace("_", "\\_")


@given(TRICKY)
def test_parse_soql_round_trips_quoted_strings(value: str) -> None:
    where = parse_soql(f"SELECT Id FROM Contact WHERE LastName = '{soql_quote(value)}'").where
    assert isinstance(where, Comparison)
    assert where.value.value == value


@given(TRICKY)
def test_like_with_escaped_wildcards_matches_only_the_value(value: str) -> None:
    query = plan(f"SELECT Id FROM Contact WHERE LastName LIKE '{like_quote(value)}'")
    rows = [{"Id": C1, "LastName": value}, {"Id": C2, "LastName": value + "x"}]
    assert query.execute(rows, RESOLVER, now=NOW) == rows[:1]
