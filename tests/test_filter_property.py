"""Acceptance: a compiled filter selects on the sandbox exactly what evaluate() selects in pandas.

For random filters over a few fields of Contact and Account (text, picklist, number, boolean,
date, datetime, option set, lookups, ids), with values drawn from the sandbox's own data plus
random text holding quotes, backslashes, LIKE wildcards, brackets, unicode and case variants,
the ids the sandbox returns over HTTPS equal the ids pandas selects, on both CRMs.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmframes import Sandbox
from crmframes.connectors.dynamics.odata_compiler import compile_odata
from crmframes.connectors.salesforce.soql_compiler import build_soql
from crmframes.filters import And, Expr, F, Not, Or, evaluate, validate
from crmframes.schema import Field, FieldKind, ObjectSchema
from tests.clients import dynamics_session, salesforce_client

# field -> (schema kind, strategy family); families: text, number, option, boolean, date,
# datetime, lookup, id
SALESFORCE = {
    "Contact": {
        "Id": ("id", "id"), "LastName": ("string", "text"), "FirstName": ("string", "text"),
        "Email": ("string", "text"), "MailingCity": ("string", "text"),
        "LeadSource": ("string", "text"), "Salutation": ("string", "text"),
        "HasOptedOutOfEmail": ("boolean", "boolean"), "Birthdate": ("date", "date"),
        "CreatedDate": ("datetime", "datetime"), "LastModifiedDate": ("datetime", "datetime"),
        "AccountId": ("reference", "lookup"),
    },
    "Account": {
        "Id": ("id", "id"), "Name": ("string", "text"), "Industry": ("string", "text"),
        "NumberOfEmployees": ("integer", "number"), "AnnualRevenue": ("number", "number"),
        "ParentId": ("reference", "lookup"), "CreatedDate": ("datetime", "datetime"),
    },
}  # fmt: skip
DYNAMICS = {
    "contact": {
        "contactid": ("id", "id"), "lastname": ("string", "text"),
        "firstname": ("string", "text"), "emailaddress1": ("string", "text"),
        "address1_city": ("string", "text"), "leadsourcecode": ("integer", "option"),
        "donotemail": ("boolean", "boolean"), "birthdate": ("date", "date"),
        "createdon": ("datetime", "datetime"), "modifiedon": ("datetime", "datetime"),
        "versionnumber": ("integer", "number"),
        "_parentcustomerid_value": ("reference", "lookup"),
    },
    "account": {
        "accountid": ("id", "id"), "name": ("string", "text"),
        "numberofemployees": ("integer", "number"), "revenue": ("number", "number"),
        "industrycode": ("integer", "option"), "_parentaccountid_value": ("reference", "lookup"),
        "createdon": ("datetime", "datetime"),
    },
}  # fmt: skip
TRICKY = "'\"\\%_[]^-\n\tabcXYZ éÉßİıΣς😀 "


@dataclass
class Target:
    """One object of one sandbox: its schema, its typed data and how to query it."""

    crm: str
    schema: ObjectSchema
    families: dict[str, str]
    frame: pd.DataFrame
    query: Callable[[Expr], set[str]]
    strategies: dict[str, st.SearchStrategy[Expr]] = field(default_factory=dict)

    def expected(self, expr: Expr) -> set[str]:
        return set(self.frame.loc[evaluate(expr, self.frame), self.schema.id_field])


@pytest.fixture(scope="module")
def salesforce() -> Iterator[Sandbox]:
    with Sandbox("salesforce", data="demo", scale=0.2) as sb:
        yield sb


@pytest.fixture(scope="module")
def dynamics() -> Iterator[Sandbox]:
    with Sandbox("dynamics", data="demo", scale=0.2) as sb:
        yield sb


def typed(raw: pd.DataFrame, spec: dict[str, tuple[FieldKind, str]]) -> pd.DataFrame:
    """The sandbox's wire values as typed columns: dates, aware timestamps, numbers."""
    out = {}
    for name, (kind, _) in spec.items():
        column = raw[name]
        if kind == "date":
            out[name] = pd.Series(
                [date.fromisoformat(v) if isinstance(v, str) else None for v in column],
                dtype=object,
            )
        elif kind == "datetime":
            out[name] = pd.to_datetime(column, utc=True, format="ISO8601")
        elif kind in ("integer", "number"):
            out[name] = pd.to_numeric(column)
        else:
            out[name] = column
    return pd.DataFrame(out, index=raw.index)


def schema_of(
    name: str, spec: dict[str, tuple[FieldKind, str]], *, dataverse: bool
) -> ObjectSchema:
    fields = {n: Field(n, kind) for n, (kind, _) in spec.items()}
    id_field = next(n for n, (kind, _) in spec.items() if kind == "id")
    return ObjectSchema(name, fields, id_field, case_sensitive=dataverse)


@pytest.fixture(scope="module", params=["Contact", "Account"])
def salesforce_target(request: pytest.FixtureRequest, salesforce: Sandbox) -> Target:
    name: str = request.param
    spec = SALESFORCE[name]
    schema = schema_of(name, spec, dataverse=False)
    client = salesforce_client(salesforce)

    def query(expr: Expr) -> set[str]:
        soql = build_soql(name, ["Id"], where=expr, schema=schema)
        return {r["Id"] for r in client.query_all(soql)["records"]}

    frame = typed(salesforce.records(name), spec)
    return Target("salesforce", schema, {n: f for n, (_, f) in spec.items()}, frame, query)


@pytest.fixture(scope="module", params=["contact", "account"])
def dynamics_target(request: pytest.FixtureRequest, dynamics: Sandbox) -> Target:
    name: str = request.param
    spec = DYNAMICS[name]
    schema = schema_of(name, spec, dataverse=True)
    session = dynamics_session(dynamics)

    def query(expr: Expr) -> set[str]:
        text = urllib.parse.quote(compile_odata(expr, schema), safe="")
        url: str | None = (
            f"{dynamics.url}/api/data/v9.2/{name}s?$select={schema.id_field}&$filter={text}"
        )
        ids: set[str] = set()
        while url:
            reply = session.get(url, timeout=60)
            assert reply.status_code == 200, reply.text
            body = reply.json()
            ids |= {row[schema.id_field] for row in body["value"]}
            url = body.get("@odata.nextLink")
        return ids

    frame = typed(dynamics.records(name), spec)
    return Target("dynamics", schema, {n: f for n, (_, f) in spec.items()}, frame, query)


# --- strategies ---------------------------------------------------------------------------


def pick(values: list[Any]) -> st.SearchStrategy[Any]:
    """One of ``values`` (without sampled_from's repr of the whole list)."""
    return st.integers(0, len(values) - 1).map(lambda i: values[i])


def case_variants(text: str) -> st.SearchStrategy[str]:
    pieces = [text, text.upper(), text.lower(), text.swapcase(), text[: len(text) // 2]]
    return st.sampled_from(pieces)


def text_values(column: pd.Series) -> st.SearchStrategy[str]:
    seen = sorted(set(column.dropna()))
    random = st.text(alphabet=TRICKY, max_size=6)
    if not seen:
        return random
    from_data = pick(seen).flatmap(case_variants)
    pieces = pick(seen).flatmap(lambda v: st.integers(0, len(v)).map(lambda i: v[i:]))
    return st.one_of(from_data, from_data, pieces, random)


def number_values(column: pd.Series) -> st.SearchStrategy[Any]:
    seen = sorted(set(column.dropna().tolist()))
    near = pick(seen).flatmap(lambda v: st.sampled_from([v, v - 1, v + 1, v + 0.5, int(v)]))
    return st.one_of(
        near, near, st.integers(-5, 100_000), near.map(lambda v: Decimal(repr(float(v))))
    )


def date_values(column: pd.Series) -> st.SearchStrategy[date]:
    seen = sorted(set(column.dropna()))
    near = st.tuples(pick(seen), st.integers(-2, 2))
    return st.one_of(near.map(lambda p: p[0] + timedelta(days=p[1])), st.dates())


def datetime_values(column: pd.Series, *, fractions: bool) -> st.SearchStrategy[datetime]:
    seen = [t.to_pydatetime() for t in sorted(set(column.dropna()))]
    steps = [-1.5, -1, -0.5, 0, 0.5, 1, 1.5] if fractions else [-1, 0, 1]
    near = st.tuples(pick(seen), st.sampled_from(steps)).map(
        lambda p: p[0].replace(microsecond=0) + timedelta(seconds=p[1])
    )
    if not fractions:  # SOQL literals are whole seconds (the compiler refuses fractions)
        return near.map(lambda v: v.replace(microsecond=0))
    return near


def ids(column: pd.Series, *, crm: str) -> st.SearchStrategy[str]:
    seen = sorted(set(column.dropna()))
    values = pick(seen)
    return values.map(str.upper) | values if crm == "dynamics" else values


def atoms(target: Target, name: str) -> st.SearchStrategy[Expr]:
    family, column, f = target.families[name], target.frame[name], F(name)
    nulls = st.sampled_from([f.is_null(), f.not_null(), f == None, f != None])  # noqa: E711
    if family == "boolean":
        return st.one_of(nulls, st.sampled_from([f == True, f != True, f == False, f != False]))  # noqa: E712
    if family in ("lookup", "id"):
        values = ids(column, crm=target.crm)
        equality = st.tuples(st.sampled_from(["==", "!="]), values).map(lambda p: compare(f, *p))
        members = st.lists(values, min_size=1, max_size=3)
        sets = st.one_of(members.map(f.isin), members.map(f.notin))
        return st.one_of(nulls, equality, sets) if family == "lookup" else st.one_of(equality, sets)
    if family == "text":
        values: st.SearchStrategy[Any] = text_values(column)
    elif family in ("number", "option"):
        values = number_values(column)
        if family == "option":  # Dataverse refuses a fraction in In(); keep whole numbers
            values = st.one_of(
                st.sampled_from(sorted(set(column.dropna().astype(int)))), st.integers(0, 9)
            )
    elif family == "date":
        values = date_values(column)
    else:
        values = datetime_values(column, fractions=target.crm == "dynamics")
    ops = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
    comparisons = st.tuples(ops, values).map(lambda p: compare(f, *p))
    members = st.lists(values, min_size=1, max_size=4)
    choices = [nulls, comparisons, comparisons, members.map(f.isin), members.map(f.notin)]
    if family == "text":
        functions = st.sampled_from([f.contains, f.startswith, f.endswith])
        choices.append(st.tuples(functions, values).map(lambda p: p[0](p[1])))
        choices.append(st.tuples(functions, values).map(lambda p: p[0](p[1])))
    return st.one_of(choices)


def compare(f: F, op: str, value: Any) -> Expr:
    return {
        "==": f.__eq__, "!=": f.__ne__, "<": f.__lt__, "<=": f.__le__, ">": f.__gt__, ">=": f.__ge__,
    }[op](value)  # fmt: skip


def filters(target: Target) -> st.SearchStrategy[Expr]:
    key = "filters"
    if key not in target.strategies:
        leaves = st.one_of([atoms(target, name) for name in target.families])

        def extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
            positive = children.filter(lambda e: not isinstance(e, Not))  # no AND NOT
            return st.one_of(
                st.lists(positive, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
                st.lists(children, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
                children.map(Not),
            )

        target.strategies[key] = st.recursive(leaves, extend, max_leaves=5)
    return target.strategies[key]


# --- the property -------------------------------------------------------------------------

PROPERTY = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@PROPERTY
@given(data=st.data())
def test_salesforce_selects_what_pandas_selects(
    salesforce_target: Target, data: st.DataObject
) -> None:
    expr = validate(data.draw(filters(salesforce_target), label="filter"))
    assert salesforce_target.query(expr) == salesforce_target.expected(expr)


@PROPERTY
@given(data=st.data())
def test_dynamics_selects_what_pandas_selects(dynamics_target: Target, data: st.DataObject) -> None:
    expr = validate(data.draw(filters(dynamics_target), label="filter"))
    assert dynamics_target.query(expr) == dynamics_target.expected(expr)
