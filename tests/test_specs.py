"""Specs and jobs: normalisation, YAML round trips, and one-line errors that name the place."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmframes import F
from crmframes.connectors.dynamics.settings import DynamicsAccount
from crmframes.connectors.salesforce.settings import SalesforceAccount
from crmframes.errors import ConfigError, FilterError
from crmframes.filters import And, Compare, IsIn, IsNull, Not, Or, StrMatch, validate
from crmframes.specs import (
    AutoIndexSpec,
    DedupeSpec,
    DeletedSpec,
    DeleteSpec,
    ExportSpec,
    ImportSpec,
    Job,
    MergeSpec,
    ReconcileSpec,
    ReconcileTables,
    RejectsSpec,
    RetrySpec,
    SandboxAccount,
    SecretRef,
    Source,
    WriteBack,
    parse_accounts,
)
from crmframes.specs.document import parse_yaml

JOB = """\
name: sync
account: production
store: campaign.duckdb
steps:
  - import:
      object: contact
      fields: [firstname, lastname]
      auto_index: {activity: import_contacts}
  - export:
      object: contact
      source: contact
      key: contactid
"""


def job_error(old: str, new: str) -> str:
    text = JOB.replace(old, new)
    assert text != JOB
    with pytest.raises(ConfigError) as info:
        Job.from_yaml(text, source="job.yaml")
    return str(info.value)


# --- normalisation --------------------------------------------------------------------------


def test_import_spec_normalises_fields_order_and_filter():
    spec = ImportSpec(
        object="Contact",
        fields=["LastName", ("Birthdate", "date_only"), {"CreatedDate": "raw"}],
        order_by=["LastName", ("CreatedDate", "DESC"), {"Id": "asc"}],
        where={"field": "NumberOfEmployees", "op": ">", "value": 10},
    )
    assert spec.fields == {"LastName": "default", "Birthdate": "date_only", "CreatedDate": "raw"}
    assert spec.order_by == [("LastName", "asc"), ("CreatedDate", "desc"), ("Id", "asc")]
    assert spec.where == (F("NumberOfEmployees") > 10)
    assert spec.target == "Contact"
    assert spec.to_dict() == {
        "object": "Contact",
        "fields": {"LastName": "default", "Birthdate": "date_only", "CreatedDate": "raw"},
        "where": {"field": "NumberOfEmployees", "op": ">", "value": 10},
        "order_by": ["LastName", {"CreatedDate": "desc"}, "Id"],
    }


def test_import_spec_accepts_a_filter_built_with_f():
    spec = ImportSpec(object="contact", where=(F("a") > 1) & F("b").not_null(), order_by="a")
    assert spec.to_dict()["where"] == {
        "and": [{"field": "a", "op": ">", "value": 1}, {"field": "b", "op": "not_null"}]
    }
    assert spec.order_by == [("a", "asc")]


def test_source_short_form_is_a_table():
    assert ExportSpec.from_dict({"object": "Contact", "source": "fixes"}).source == Source(
        table="fixes"
    )


def test_export_mapping_pairs_with_the_default_conversion_become_names():
    spec = ExportSpec.from_dict(
        {
            "object": "Contact",
            "source": "fixes",
            "mapping": {"mail": ["Email", "default"], "born": ["Birthdate", "date_only"]},
        }
    )
    assert spec.mapping == {"mail": "Email", "born": ("Birthdate", "date_only")}
    assert spec.to_dict()["mapping"] == {"mail": "Email", "born": ["Birthdate", "date_only"]}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", timedelta(days=7)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("90m", timedelta(minutes=90)),
        ("2w", timedelta(weeks=2)),
        ("P7D", timedelta(days=7)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
    ],
)
def test_deleted_lookback_reads_durations(text, expected):
    spec = DeletedSpec(object="contact", lookback=text)
    assert spec.lookback == expected
    assert DeletedSpec.from_yaml(spec.to_yaml()) == spec


def test_deleted_dates_read_from_yaml_text_and_values():
    spec = DeletedSpec.from_yaml(
        "object: Contact\nstart: 2024-01-31\nend: '2024-02-01T10:00:00+01:00'\n"
    )
    assert spec.start == date(2024, 1, 31)
    assert spec.end == datetime.fromisoformat("2024-02-01T10:00:00+01:00")
    assert spec.to_dict() == {
        "object": "Contact",
        "start": "2024-01-31",
        "end": "2024-02-01T10:00:00+01:00",
    }


def test_dedupe_spec_reads_keep_rules_in_yaml_and_python_forms():
    spec = DedupeSpec.from_yaml(
        "table: contact\n"
        "on: [emailaddress1, [firstname, lastname]]\n"
        "keep: [{priority: {leadsourcecode: [1, 2]}}, {max: modifiedon}, complete]\n"
    )
    assert spec.on == ["emailaddress1", ["firstname", "lastname"]]  # 'on' is no boolean here
    assert spec.keep == [("priority", "leadsourcecode", (1, 2)), ("max", "modifiedon"), "complete"]
    assert DedupeSpec(table="t", on="e", keep=("max", "m")).to_dict()["keep"] == {"max": "m"}
    assert DedupeSpec(table="t", on="e", keep=["first"]).keep == "first"


@pytest.mark.parametrize(
    ("keep", "message"),
    [
        ("max", "keep rule 'max' needs a column: write {max: column}"),
        ("{maxx: modifiedon}", "unknown keep method 'maxx' (did you mean 'max'?)"),
        ("[recnt]", "unknown keep method 'recnt' (did you mean 'recent'?)"),
        ("{priority: [a]}", "write a priority rule as {priority: {column: [best, next, ...]}}"),
        ("[]", "keep is a rule or a non-empty list of rules"),
    ],
)
def test_dedupe_spec_refuses_bad_keep_rules(keep, message):
    with pytest.raises(ConfigError) as info:
        DedupeSpec.from_yaml(f"table: t\non: e\nkeep: {keep}\n", source="j.yaml")
    assert str(info.value) == f"j.yaml:3: keep: {message}"


def test_yaml_booleans_are_only_true_and_false():
    assert parse_yaml("a: on\nb: no\nc: true\nd: False\n").data == {
        "a": "on",
        "b": "no",
        "c": True,
        "d": False,
    }


def test_auto_index_spec_names_its_option_as_auto_index_does():
    assert AutoIndexSpec(activity="imp", instance="prod").option_name == "LASTIMPORT_prod_imp"


# --- round trips ----------------------------------------------------------------------------

SPECS = [
    ImportSpec(object="contact"),
    ImportSpec(
        object="Contact",
        fields={"LastName": "default", "Birthdate": "date_only"},
        where=(F("CreatedDate") >= datetime(2024, 1, 1, tzinfo=UTC))
        & F("AnnualRevenue").isin([Decimal("1.10"), 2])
        & (F("Birthdate") < date(2000, 1, 1)),
        order_by=[("LastName", "asc"), ("CreatedDate", "desc")],
        auto_index=AutoIndexSpec(activity="imp", instance="prod", fields=["SystemModstamp"]),
        population=Source(query="SELECT crmId FROM wanted"),
        id_column="crmId",
        timezone="Europe/Paris",
        mode="bulk",
        strict=False,
        table="contacts",
    ),
    ImportSpec(object="contact", limit=0),
    ExportSpec(
        object="Contact",
        source=Source(table="fixes", columns=["Id", "Phone"], where='"Phone" IS NOT NULL'),
        mapping={"Phone": "Phone", "born": ("Birthdate", "date_only")},
        key="Id",
        journal=False,
        batch_size=200,
        mode="batch",
        dry_run=True,
        only_changed=True,
        skip_nulls=True,
        on_error="raise",
        max_retries=0,
        write_back=WriteBack(key="Id", column="sfId"),
    ),
    ExportSpec(
        object="contact",
        source=Source(table="changes"),
        key="contactid",
        rejects=RejectsSpec(table="contact_rejects"),
        retry=RetrySpec(times=3, wait=timedelta(minutes=5)),
    ),
    ImportSpec(object="contact", rejects={"table": "r"}, retry={"times": 1, "wait": "1h30m"}),
    DeleteSpec(object="contact", source=Source(table="gone"), rejects="r", retry={"times": 2}),
    DeletedSpec(object="contact", lookback=timedelta(days=1), retry={"times": 4, "wait": "30s"}),
    DeleteSpec(object="contact", source=Source(file="gone.csv"), journal="j.jsonl", mode="bulk"),
    DeletedSpec(
        object="contact",
        lookback=timedelta(days=1, hours=2),
        auto_index=AutoIndexSpec(activity="deleted"),
        table="contact",
        apply="hard",
        key="contactid",
    ),
    DeletedSpec(object="Contact", start=datetime(2024, 5, 1, 8, 30), end=date(2024, 5, 2)),
    DedupeSpec(table="contact", on="emailaddress1"),
    DedupeSpec(
        table="contact",
        on=["emailaddress1", ["lastname", "firstname"]],
        keep=[("priority", "leadsourcecode", [1, 2]), {"max": "modifiedon"}, "complete"],
        key="contactid",
        merge=[["address1_city", "address1_postalcode"], "telephone1"],
        fuzzy=["lastname"],
        block=["address1_postalcode"],
        normalizers={"telephone1": "phone"},
        threshold=0.85,
        scorer="osa",
        max_pairs=1000,
        removed_table="contact_duplicates",
        dry_run=True,
    ),
    ReconcileSpec(
        object="contact",
        source=Source(table="contact", columns=["contactid", "telephone1"]),
        key="contactid",
        fields=["telephone1"],
        where=F("statecode") == 0,
        columns=["telephone1"],
        save=ReconcileTables(differences="diffs", only_store="gone", only_crm="new"),
        rejects=RejectsSpec(table="crm_rejects"),
        retry=RetrySpec(times=2),
    ),
    MergeSpec(table="contact", source=Source(table="staging"), key=["a", "b"], modified="m"),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: type(s).__name__)
def test_spec_round_trips_through_yaml(spec):
    text = spec.to_yaml()
    assert type(spec).from_yaml(text) == spec
    assert type(spec).from_dict(spec.to_dict()) == spec


def test_job_round_trips_through_yaml():
    job = Job(
        name="sync",
        account=SandboxAccount(crm="salesforce", scale=0.5),
        store="campaign.duckdb",
        steps=SPECS,
    )
    again = Job.from_yaml(job.to_yaml())
    assert again == job
    assert again.to_dict()["account"] == {"sandbox": {"crm": "salesforce", "scale": 0.5}}
    named = Job(name="sync", account="production", steps=[SPECS[0]])
    assert Job.from_dict(named.to_dict()) == named


LITERALS = st.one_of(
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.text(max_size=12),
    st.dates(),
    st.datetimes(timezones=st.just(UTC)),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
)
FIELDS = st.sampled_from(["a", "b", "LastName", "_parent_value"])
# built from the node classes: F() checks as you write, validate() sorts the trees out
ATOMS = st.one_of(
    st.builds(Compare, FIELDS, st.sampled_from(["==", "!=", "<", ">="]), LITERALS),
    st.builds(lambda f, vs: IsIn(f, tuple(vs)), FIELDS, st.lists(LITERALS, min_size=1, max_size=3)),
    st.builds(IsNull, FIELDS),
    st.builds(lambda f, t: StrMatch(f, "contains", t), FIELDS, st.text(min_size=1, max_size=8)),
)
FILTERS = st.recursive(
    ATOMS,
    lambda inner: st.one_of(
        st.builds(lambda xs: And(tuple(xs)), st.lists(inner, min_size=2, max_size=3)),
        st.builds(lambda xs: Or(tuple(xs)), st.lists(inner, min_size=2, max_size=3)),
        st.builds(Not, inner),
    ),
    max_leaves=5,
)


def _valid(expr):
    try:
        validate(expr)
    except FilterError:
        return False
    return True


# Names hold any text but control characters (refused: test_names_refuse_control_characters).
NAME_TEXT = st.characters(blacklist_categories=("Cc", "Cs"))


@settings(max_examples=60, deadline=None)
@given(
    where=st.one_of(st.none(), FILTERS.filter(_valid)),
    fields=st.dictionaries(
        st.text(NAME_TEXT, min_size=1, max_size=8),
        st.sampled_from(["default", "date_only", "no_offset", "raw"]),
        max_size=4,
    ),
    order=st.lists(
        st.tuples(st.text(NAME_TEXT, min_size=1, max_size=6), st.sampled_from(["asc", "desc"]))
    ),
    lookback=st.integers(1, 10**7).map(lambda s: timedelta(seconds=s)),
)
def test_specs_round_trip_any_filter_fields_order_and_window(where, fields, order, lookback):
    spec = ImportSpec(object="o", fields=fields or None, where=where, order_by=order or None)
    assert ImportSpec.from_yaml(spec.to_yaml()) == spec
    deleted = DeletedSpec(object="o", lookback=lookback)
    assert DeletedSpec.from_yaml(deleted.to_yaml()) == deleted


# --- errors naming the place ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "key: contactid",
            "mapings: {a: b}",
            "job.yaml:12: steps[1].export.mapings: unknown key 'mapings' (did you mean 'mapping'?)",
        ),
        (
            "key: contactid",
            "batch_size: ten",
            "job.yaml:12: steps[1].export.batch_size: should be a valid integer, not 'ten'",
        ),
        (
            "key: contactid",
            "dry_run: 1",
            "job.yaml:12: steps[1].export.dry_run: should be a valid boolean, not 1",
        ),
        (
            "key: contactid",
            "mode: fast",
            "job.yaml:12: steps[1].export.mode: should be 'auto', 'batch' or 'bulk', not 'fast'",
        ),
        (
            "key: contactid",
            "journal: 5",
            "job.yaml:12: steps[1].export.journal: should be a valid string or should be False, not 5",
        ),
        (
            "key: contactid",
            "mapping: {a: [b, nope]}",
            "job.yaml:12: steps[1].export.mapping.a[1]: should be 'default', 'date_only', "
            "'no_offset' or 'raw', not 'nope'",
        ),
        (
            "      source: contact\n",
            "",
            "job.yaml:9: steps[1].export: missing required key 'source'",
        ),
        (
            "source: contact",
            "source: {table: a, query: b}",
            "job.yaml:11: steps[1].export.source: a source is exactly one of table, query or "
            "file, not table and query",
        ),
        (
            "- export:",
            "- exprot:",
            "job.yaml:9: steps[1].exprot: unknown step 'exprot' (did you mean 'export'?); "
            "steps are import, export, delete, deleted, dedupe, merge, reconcile",
        ),
        (
            "fields: [firstname, lastname]",
            "fields: [firstname, firstname]",
            "job.yaml:7: steps[0].import.fields: field 'firstname' is listed twice",
        ),
        (
            "fields: [firstname, lastname]",
            "fields: {birthdate: dateonly}",
            "job.yaml:7: steps[0].import.fields.birthdate: should be 'default', 'date_only', "
            "'no_offset' or 'raw', not 'dateonly'",
        ),
        (
            "fields: [firstname, lastname]",
            'where: [{field: a, op: ">", value: 1}, and, {field: b, op: is_null}, or, '
            "{field: c, op: is_null}]",
            "job.yaml:7: steps[0].import.where: the rows of one level mix 'and' and 'or'; group "
            "them in a nested list or dict (rule: one-operator-per-level)",
        ),
        (
            "fields: [firstname, lastname]",
            "timezone: Europe/Pari",
            "job.yaml:7: steps[0].import.timezone: unknown time zone 'Europe/Pari'; use an IANA "
            "name such as 'Europe/Paris'",
        ),
        (
            "auto_index: {activity: import_contacts}",
            "auto_index: {activity: import contacts}",
            "job.yaml:8: steps[0].import.auto_index.activity: 'import contacts' may only hold "
            "letters, digits, '_', '.' and '-'",
        ),
        ("store: campaign.duckdb", "stor: x", "job.yaml:3: stor: unknown key 'stor' (did you mean 'store'?)"),
        ("store: campaign.duckdb", "store: a\nstore: b", "job.yaml:4: store: key 'store' is written twice"),
        ("name: sync\n", "", "job.yaml:1: missing required key 'name'"),
        ("  - export:\n", "  - export: [\n", "job.yaml:11:13: broken YAML: expected ',' or ']', but got ':'"),
        ("account: production", "account: 5", "job.yaml:2: account: should be an account name or an account mapping"),
        ("key: contactid", "retry: {times: 0}",
         "job.yaml:12: steps[1].export.retry.times: should be greater than 0, not 0"),
        ("key: contactid", "retry: {times: 3, wait: 5x}",
         "job.yaml:12: steps[1].export.retry.wait: '5x' is not a duration: write e.g. 7d, 12h, "
         "1d12h, 30m (or ISO 8601: P7D)"),
        ("key: contactid", "retry: {tims: 3}",
         "job.yaml:12: steps[1].export.retry.tims: unknown key 'tims' (did you mean 'times'?)"),
        ("key: contactid", "retry: {times: 1000}",
         "job.yaml:12: steps[1].export.retry.times: should be less than or equal to 100, not 1000"),
        ("key: contactid", "rejects: {table: __crmframes_x}",
         "job.yaml:12: steps[1].export.rejects.table: table name '__crmframes_x' is reserved for "
         "crmframes' own tables; choose another"),
        ("key: contactid", "rejects: {}", "job.yaml:12: steps[1].export.rejects: missing required key 'table'"),
        ("fields: [firstname, lastname]", "fields: [first\x00name]",
         "job.yaml:7: steps[0].import.fields[0]: control character U+0000 at column 21 is not allowed "
         "in YAML; delete it (it often comes from copying text out of another program)"),
        ("fields: [firstname, lastname]", 'fields: ["a\\tb", "c\\x07"]',
         "job.yaml:7: steps[0].import.fields.c\\x07: holds the control character U+0007 at position 2; "
         "delete it"),
        (
            "account: production",
            "account: {sandbox: {crm: dynamic}}",
            "job.yaml:2: account.sandbox.crm: should be 'salesforce' or 'dynamics', not 'dynamic'",
        ),
    ],
)  # fmt: skip
def test_job_errors_name_file_line_and_path(old, new, message):
    assert job_error(old, new) == message


def test_a_filter_breaking_a_rule_is_refused_where_it_is_written():
    message = job_error(
        "fields: [firstname, lastname]",
        "where: {and: [{field: a, op: '>', value: 1}, {not: {field: b, op: is_null}}]}",
    )
    assert message.startswith("job.yaml:7: steps[0].import.where: ")
    assert message.endswith("(rule: no-and-not)")
    strict = job_error(
        "fields: [firstname, lastname]", "where: {field: a, op: '==', value: x}\n      strict: true"
    )
    assert strict.startswith("job.yaml:7: steps[0].import.where: ")
    assert strict.endswith("(rule: numbers-and-null-only)")


def test_job_errors_are_one_line():
    for old, new in [("- export:", "- exprot:"), ("  - export:\n", "  - export: [\n")]:
        assert "\n" not in job_error(old, new)


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just text\n"])
def test_a_job_that_is_not_a_mapping_is_refused(text):
    with pytest.raises(ConfigError, match=r"^job.yaml:1: a job is a mapping"):
        Job.from_yaml(text, source="job.yaml")


def test_deleted_needs_a_start_or_a_lookback():
    with pytest.raises(ConfigError, match=r"give the window's start"):
        DeletedSpec.from_dict({"object": "contact"})
    with pytest.raises(ConfigError, match=r"lookback: give start or lookback, not both"):
        DeletedSpec.from_dict({"object": "c", "start": "2024-01-01", "lookback": "1d"})


def test_export_checks_options_that_go_together():
    with pytest.raises(ConfigError, match=r"only_changed: only_changed needs key"):
        ExportSpec.from_dict({"object": "c", "source": "t", "only_changed": True})
    with pytest.raises(ConfigError, match=r"write_back: write_back needs a source table"):
        ExportSpec.from_dict({"object": "c", "source": {"query": "q"}, "write_back": {"key": "k"}})
    with pytest.raises(ConfigError, match=r"population and id_column go together: add id_column"):
        ImportSpec.from_dict({"object": "c", "population": "ids"})


def test_specs_refuse_coercions_a_lax_parser_would_make():
    for data in [{"limit": "10"}, {"limit": 1.0}, {"strict": "yes"}, {"object": 5}]:
        with pytest.raises(ConfigError):
            ImportSpec.from_dict({"object": "c"} | data)


def test_job_refuses_steps_that_are_not_specs():
    with pytest.raises(TypeError, match=r"steps\[0\] is not a spec"):
        Job(name="j", account="a", steps=[{"import": {"object": "c"}}])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"at least one step"):
        Job(name="j", account="a", steps=[])


def test_parse_yaml_keeps_the_line_of_every_key_and_item():
    doc = parse_yaml("a:\n  b:\n    - x\n    - y: 1\n", "f.yaml")
    assert doc.lines[("a",)] == 1
    assert doc.lines[("a", "b", 1)] == 4
    assert doc.place(("a", "b", 1, "y", "missing")) == "f.yaml:4: a.b[1].y.missing"


# --- accounts -------------------------------------------------------------------------------

ACCOUNTS = """\
production:
  crm: salesforce
  url: https://acme.my.salesforce.com/
  api_version: 60.0
  auth:
    flow: client_credentials
    client_id: 3MVG9
    client_secret: {env: ACME_SECRET}
dataverse:
  crm: dynamics
  url: https://acme.crm4.dynamics.com
  tenant_id: acme.onmicrosoft.com
  auth:
    flow: password
    client_id: app
    username: sync@acme.com
    password: {keyring: "crmframes:sync@acme.com"}
offline:
  sandbox: {crm: dynamics, data: demo, scale: 1, simulate: {contact: {updates: 3}}}
"""


def test_accounts_file_parses_each_kind():
    accounts = parse_accounts(ACCOUNTS, "accounts.yaml").accounts
    production = accounts["production"]
    assert isinstance(production, SalesforceAccount)
    assert production.url == "https://acme.my.salesforce.com"
    assert production.api_version == "60.0"
    assert production.auth.client_secret == SecretRef(env="ACME_SECRET")
    assert isinstance(accounts["dataverse"], DynamicsAccount)
    assert accounts["dataverse"].auth.password == SecretRef(keyring="crmframes:sync@acme.com")
    offline = accounts["offline"]
    assert isinstance(offline, SandboxAccount) and offline.simulate is not None
    assert offline.simulate["contact"].updates == 3


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "client_secret: {env: ACME_SECRET}",
            "client_secret: hunter2-literal",
            "accounts.yaml:8: production.auth.client_secret: a secret cannot be written in the "
            "file: write {env: VARIABLE}, {keyring: 'service:username'} or {file: path}",
        ),
        (
            "client_secret: {env: ACME_SECRET}",
            "client_secret: {env: A, keyring: 'b:c'}",
            "accounts.yaml:8: production.auth.client_secret: a secret reference is exactly one "
            "of env, keyring or file",
        ),
        (
            "    username: sync@acme.com\n",
            "",
            "accounts.yaml:13: dataverse.auth: flow 'password' needs username",
        ),
        (
            "flow: client_credentials",
            "flow: device_code",
            "accounts.yaml:8: production.auth.client_secret: client_secret is not used by flow "
            "'device_code'",
        ),
        (
            "flow: password",
            "flow: jwt\n    private_key: {file: k.pem}",
            "accounts.yaml:18: dataverse.auth.password: password is not used by flow 'jwt'",
        ),
        (
            "url: https://acme.crm4.dynamics.com",
            "url: http://acme.crm4.dynamics.com",
            "accounts.yaml:11: dataverse.url: should start with https:// (got "
            "'http://acme.crm4.dynamics.com'); CRMs only speak HTTPS",
        ),
        (
            "crm: salesforce",
            "crm: salesfroce",
            "accounts.yaml:2: production.crm: should be 'salesforce' or 'dynamics', not "
            "'salesfroce' (did you mean 'salesforce'?)",
        ),
        (
            "  tenant_id: acme.onmicrosoft.com\n",
            "",
            "accounts.yaml:9: dataverse: missing required key 'tenant_id'",
        ),
    ],
)
def test_account_errors_name_the_place(old, new, message):
    text = ACCOUNTS.replace(old, new)
    assert text != ACCOUNTS
    with pytest.raises(ConfigError) as info:
        parse_accounts(text, "accounts.yaml")
    assert str(info.value) == message


def test_accounts_refuse_a_flow_their_crm_lacks():
    jwt = {"flow": "jwt", "client_id": "a", "username": "u", "private_key": {"file": "k.pem"}}
    with pytest.raises(ConfigError, match=r"auth: jwt is a Salesforce flow"):
        DynamicsAccount.from_dict(
            {"crm": "dynamics", "url": "https://x", "tenant_id": "t", "auth": jwt}
        )
    with pytest.raises(ConfigError, match=r"auth: Salesforce has no device_code flow"):
        SalesforceAccount.from_dict(
            {
                "crm": "salesforce",
                "url": "https://x",
                "auth": {"flow": "device_code", "client_id": "a"},
            }
        )


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("{env: ACME_SECRET}", "s3cr3t-value"),
        ("{env: ACME_SECRET}", "12345678"),
        ("{env: ACME_SECRET}", "[s3cr3t, x]"),
        ("{env: ACME_SECRET}", "{value: s3cr3t}"),
        ("client_id: 3MVG9", "client_id: 12345678"),
    ],
)
def test_values_under_auth_are_never_repeated(old, new):
    with pytest.raises(ConfigError) as info:
        parse_accounts(ACCOUNTS.replace(old, new), "accounts.yaml")
    assert "s3cr3t" not in str(info.value)
    assert "12345678" not in str(info.value)
