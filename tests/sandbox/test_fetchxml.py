"""FetchXML (``GET /<set>?fetchXml=``) in the Dataverse sandbox: the subset users write, refusals."""

from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from crmframes import Sandbox
from crmframes.sandbox.clock import Clock
from tests.clients import dynamics_session
from tests.sandbox.test_dynamics_client import client_for

API = "/api/data/v9.2"
NOON = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)
ACME = "a0000000-0000-0000-0000-00000000000a"
GLOBEX = "b0000000-0000-0000-0000-00000000000b"
PAGING = 'odata.include-annotations="Microsoft.Dynamics.CRM.fetchxmlpagingcookie,Microsoft.Dynamics.CRM.morerecords"'
PEOPLE = [  # lastname, firstname, jobtitle, birthdate, account, leadsourcecode
    ("Lovelace", "Ada", "Engineer", "1815-12-10", ACME, 1),
    ("Hopper", "Grace", "Admiral", "1906-12-09", GLOBEX, 2),
    ("Turing", "Alan", None, "1912-06-23", None, 1),
    ("Şahin", "Ayşe", "engineer", None, ACME, None),
    ("çelik", "Mehmet", "Analyst", "1990-01-31", None, 3),
    ("Zimmermann", "Zoë", "100%_off", "2000-01-01", GLOBEX, None),
    ("adams", None, "CTO", "1980-02-29", ACME, 2),
]
EVERYONE = [person[0] for person in PEOPLE]


@pytest.fixture(scope="module")
def org():
    # A frozen clock at noon: the relative date operators cannot straddle midnight.
    with Sandbox("dynamics", data="empty", clock=Clock(NOON, frozen=True)) as sb:
        session = dynamics_session(sb)
        base = sb.url + API
        for account_id, name, employees in ((ACME, "Acme", 500), (GLOBEX, "Globex", 50)):
            body = {"accountid": account_id, "name": name, "numberofemployees": employees}
            assert session.post(base + "/accounts", json=body, timeout=60).status_code == 204
        for last, first, job, born, account, source in PEOPLE:
            body = {"lastname": last, "firstname": first, "jobtitle": job, "birthdate": born,
                    "leadsourcecode": source}  # fmt: skip
            if account:
                body["parentcustomerid_account@odata.bind"] = f"/accounts({account})"
            assert session.post(base + "/contacts", json=body, timeout=60).status_code == 204
        yield sb


@pytest.fixture(scope="module")
def fetch(org):
    session = dynamics_session(org)

    def call(xml, *, prefer=None, set_name="contacts", status=200):
        headers = {"Prefer": prefer} if prefer else {}
        reply = session.get(
            f"{org.url}{API}/{set_name}?fetchXml={quote(xml, safe='')}", headers=headers, timeout=60
        )
        assert reply.status_code == status, reply.text
        return reply.json()

    return call


def contacts(inner, fetch_attrs=""):
    return f'<fetch {fetch_attrs}><entity name="contact">{inner}</entity></fetch>'


def lastnames(fetch, inner, fetch_attrs=""):
    xml = contacts('<attribute name="lastname" />' + inner, fetch_attrs)
    return [row["lastname"] for row in fetch(xml)["value"]]


def test_top_and_attributes_are_honoured_not_ignored(fetch):
    # Regression: fetchXml= was ignored (every row, every column, a next link).
    body = fetch(contacts('<attribute name="lastname" /><order attribute="lastname" />', 'top="3"'))
    assert [set(row) for row in body["value"]] == [{"@odata.etag", "lastname", "contactid"}] * 3
    assert [row["lastname"] for row in body["value"]] == ["adams", "çelik", "Hopper"]
    assert "@odata.nextLink" not in body


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ('<condition attribute="lastname" operator="eq" value="HOPPER" />', ["Hopper"]),
        ('<condition attribute="jobtitle" operator="ne" value="engineer" />',
         ["Hopper", "çelik", "Zimmermann", "adams"]),  # nulls are neither equal nor unequal
        ('<condition attribute="birthdate" operator="gt" value="1990-01-31" />', ["Zimmermann"]),
        ('<condition attribute="birthdate" operator="ge" value="1990-01-31" />',
         ["çelik", "Zimmermann"]),
        ('<condition attribute="birthdate" operator="lt" value="1906-12-09" />', ["Lovelace"]),
        ('<condition attribute="birthdate" operator="le" value="1906-12-09" />',
         ["Lovelace", "Hopper"]),
        ('<condition attribute="lastname" operator="like" value="%o%" />',
         ["Lovelace", "Hopper"]),
        ('<condition attribute="lastname" operator="not-like" value="%o%" />',
         ["Turing", "Şahin", "çelik", "Zimmermann", "adams"]),
        ('<condition attribute="jobtitle" operator="begins-with" value="eng" />',
         ["Lovelace", "Şahin"]),
        ('<condition attribute="lastname" operator="ends-with" value="ING" />', ["Turing"]),
        ('<condition attribute="leadsourcecode" operator="in"><value>2</value><value>3</value>'
         "</condition>", ["Hopper", "çelik", "adams"]),
        ('<condition attribute="leadsourcecode" operator="not-in"><value>1</value></condition>',
         ["Hopper", "çelik", "adams"]),
        ('<condition attribute="jobtitle" operator="null" />', ["Turing"]),
        ('<condition attribute="birthdate" operator="not-null" />',
         ["Lovelace", "Hopper", "Turing", "çelik", "Zimmermann", "adams"]),
        ('<condition attribute="birthdate" operator="on" value="1980-02-29" />', ["adams"]),
        ('<condition attribute="birthdate" operator="on-or-after" value="1990-01-31" />',
         ["çelik", "Zimmermann"]),
        ('<condition attribute="birthdate" operator="on-or-before" value="1815-12-10" />',
         ["Lovelace"]),
        ('<condition attribute="birthdate" operator="between"><value>1900-01-01</value>'
         "<value>1980-02-29</value></condition>", ["Hopper", "Turing", "adams"]),
        ('<condition attribute="birthdate" operator="not-between"><value>1900-01-01</value>'
         "<value>1980-02-29</value></condition>", ["Lovelace", "çelik", "Zimmermann"]),
        ('<condition attribute="createdon" operator="today" />', EVERYONE),
        ('<condition attribute="createdon" operator="last-x-days" value="1" />', EVERYONE),
        ('<condition attribute="createdon" operator="next-year" />', []),
        (f'<condition attribute="parentcustomerid" operator="eq" value="{{{GLOBEX.upper()}}}" />',
         ["Hopper", "Zimmermann"]),
    ],
)  # fmt: skip
def test_condition_operators(fetch, condition, expected):
    assert lastnames(fetch, f"<filter>{condition}</filter>") == expected


def test_nested_filters_combine_and_with_or(fetch):
    inner = (
        '<filter type="and">'
        '<condition attribute="birthdate" operator="not-null" />'
        '<filter type="or">'
        '<condition attribute="leadsourcecode" operator="eq" value="1" />'
        '<condition attribute="lastname" operator="begins-with" value="Z" />'
        "</filter></filter>"
    )
    assert lastnames(fetch, inner) == ["Lovelace", "Turing", "Zimmermann"]


def test_order_uses_the_accent_and_case_insensitive_collation(fetch):
    # Latin1_General_CI_AI: Şahin sorts with S and çelik with C, not after Zimmermann.
    assert lastnames(fetch, '<order attribute="lastname" />') == [
        "adams", "çelik", "Hopper", "Lovelace", "Şahin", "Turing", "Zimmermann",
    ]  # fmt: skip
    assert lastnames(fetch, '<order attribute="lastname" descending="true" />')[:2] == [
        "Zimmermann",
        "Turing",
    ]


def test_link_entity_returns_alias_dot_column_and_joins_inner_or_outer(fetch):
    inner = (
        '<attribute name="lastname" /><order attribute="lastname" />'
        '<link-entity name="account" from="accountid" to="parentcustomerid" alias="a">'
        '<attribute name="name" />'
        '<filter><condition attribute="numberofemployees" operator="gt" value="100" /></filter>'
        "</link-entity>"
    )
    rows = fetch(contacts(inner))["value"]
    assert [(r["lastname"], r["a.name"]) for r in rows] == [
        ("adams", "Acme"), ("Lovelace", "Acme"), ("Şahin", "Acme"),
    ]  # fmt: skip
    outer = (
        '<attribute name="lastname" /><order attribute="lastname" />'
        '<link-entity name="account" from="accountid" to="parentcustomerid" alias="a" '
        'link-type="outer"><attribute name="name" /></link-entity>'
    )
    rows = fetch(contacts(outer))["value"]
    assert len(rows) == len(PEOPLE)
    assert {r["lastname"]: r["a.name"] for r in rows}["Turing"] is None


def test_a_condition_may_name_a_link_alias_declared_later_and_order_by_linked_columns(fetch):
    inner = (
        '<attribute name="lastname" />'
        '<filter><condition entityname="a" attribute="name" operator="eq" value="globex" /></filter>'
        '<order attribute="lastname" descending="true" />'
        '<link-entity name="account" from="accountid" to="parentcustomerid" alias="a">'
        '<order attribute="name" /></link-entity>'
    )
    assert [r["lastname"] for r in fetch(contacts(inner))["value"]] == ["Zimmermann", "Hopper"]
    by_account = (
        '<attribute name="lastname" />'
        '<link-entity name="account" from="accountid" to="parentcustomerid" alias="a">'
        '<order attribute="name" descending="true" /></link-entity>'
    )
    names = [r["lastname"] for r in fetch(contacts(by_account))["value"]]
    assert set(names[:2]) == {"Hopper", "Zimmermann"} and len(names) == 5


def test_paging_with_count_page_and_the_cookie_annotations(fetch):
    xml = contacts('<attribute name="lastname" /><order attribute="lastname" />', 'count="3"')
    first = fetch(xml, prefer=PAGING)
    assert [r["lastname"] for r in first["value"]] == ["adams", "çelik", "Hopper"]
    assert first["@Microsoft.Dynamics.CRM.morerecords"] is True
    cookie = first["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"]
    assert cookie.startswith(
        '<cookie pagenumber="2" pagingcookie="%253ccookie%2520page%253d%25221%2522'
    )
    third = fetch(
        contacts(
            '<attribute name="lastname" /><order attribute="lastname" />', 'count="3" page="3"'
        ),
        prefer=PAGING,
    )
    assert [r["lastname"] for r in third["value"]] == ["Zimmermann"]
    assert third["@Microsoft.Dynamics.CRM.morerecords"] is False
    assert "@Microsoft.Dynamics.CRM.fetchxmlpagingcookie" not in third
    plain = fetch(xml)  # no Prefer: no paging annotations (Dataverse returns them on request)
    assert "@Microsoft.Dynamics.CRM.morerecords" not in plain and len(plain["value"]) == 3


def test_all_attributes_and_distinct(fetch):
    row = fetch(contacts('<all-attributes /><filter><condition attribute="lastname" operator="eq" '
                         'value="Turing" /></filter>'))["value"][0]  # fmt: skip
    assert row["lastname"] == "Turing" and "_parentcustomerid_value" in row and "fullname" in row
    titles = fetch(
        contacts('<attribute name="leadsourcecode" /><order attribute="leadsourcecode" />',
                 'distinct="true"')
    )["value"]  # fmt: skip
    assert sorted(r["leadsourcecode"] for r in titles if r["leadsourcecode"] is not None) == [
        1,
        2,
        3,
    ]
    assert all(set(r) == {"leadsourcecode"} for r in titles)


@pytest.mark.parametrize(
    ("xml", "code", "words"),
    [
        ('<fetch aggregate="true"><entity name="contact"><attribute name="lastname" '
         'alias="n" aggregate="count" /></entity></fetch>', "0x80040203", "not supported by the crmframes sandbox"),
        (contacts('<filter><condition attribute="lastname" operator="under" value="x" /></filter>'),
         "0x80040203", "not supported by the crmframes sandbox"),
        (contacts('<link-entity name="account" from="accountid" to="parentcustomerid">'
                  '<link-entity name="contact" from="contactid" to="primarycontactid" />'
                  "</link-entity>"), "0x80040203", "not supported by the crmframes sandbox"),
        (contacts('<link-entity name="opportunity" from="parentcontactid" to="contactid" />'),
         "0x80040203", "not supported by the crmframes sandbox"),
        (contacts('<attribute name="nosuch" />'), "0x80041103", "doesn't contain attribute"),
        ('<fetch><entity name="account" /></fetch>', "0x80040203", "does not match"),
        (contacts("", 'top="2" count="2"'), "0x80040203", "'top'"),
        ("<fetch><entity name='contact'>", "0x80040203", "not well-formed"),
        ('<!DOCTYPE x [<!ENTITY a "aaaa">]><fetch><entity name="contact" /></fetch>', "0x80040203",
         "not supported by the crmframes sandbox"),
        (contacts('<filter><condition attribute="birthdate" operator="eq" value="soon" /></filter>'),
         "0x80040203", "not a valid"),
    ],
)  # fmt: skip
def test_what_the_sandbox_does_not_run_is_refused_in_dataverses_shape(fetch, xml, code, words):
    error = fetch(xml, status=400)["error"]
    assert error["code"] == code and words in error["message"]


def test_microsoft_client_fetchxml_pages_through_every_row(org, monkeypatch):
    xml = contacts('<attribute name="lastname" /><order attribute="lastname" />', 'count="2"')
    with client_for(org, monkeypatch) as client:
        pages = list(client.query.fetchxml(xml).execute_pages())
    assert [len(page) for page in pages] == [2, 2, 2, 1]
    names = [record["lastname"] for page in pages for record in page]
    assert names == ["adams", "çelik", "Hopper", "Lovelace", "Şahin", "Turing", "Zimmermann"]


@pytest.mark.parametrize("param", ["fetchxml", "savedQuery", "sql"])
def test_other_query_parameters_are_refused_not_ignored(org, param):
    session = dynamics_session(org)
    reply = session.get(f"{org.url}{API}/contacts?{param}=x", timeout=60)
    assert reply.status_code == 400
    assert "not supported by the crmframes sandbox" in reply.json()["error"]["message"]
