"""Both CRMs, one vocabulary: the same import tests run against each sandbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from crmframes import Clock, Sandbox
from tests.clients import dynamics_session, salesforce_client

START = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)


@dataclass
class Crm:
    """How one CRM names the things the tests touch, and how to change a record directly."""

    name: str
    sandbox: Sandbox
    contact: str
    account: str
    id: str
    modified: str
    first: str
    last: str
    email: str
    birthdate: str
    created: str
    employees: str
    account_name: str
    external: str  # the upsert key: an external id / alternate key column
    writes: str  # a fault endpoint pattern matching the batch write calls
    update: Callable[[str, dict[str, Any]], None]
    create: Callable[[dict[str, Any]], str]

    def records(self, obj: str | None = None) -> Any:
        return self.sandbox.records(obj or self.contact)


def _salesforce(sb: Sandbox) -> Crm:
    sf = salesforce_client(sb)
    return Crm(
        "salesforce",
        sb,
        "Contact",
        "Account",
        "Id",
        "LastModifiedDate",
        "FirstName",
        "LastName",
        "Email",
        "Birthdate",
        "CreatedDate",
        "NumberOfEmployees",
        "Name",
        "External_Id__c",
        "composite/sobjects",
        update=lambda record_id, values: sf.Contact.update(record_id, values),
        create=lambda values: sf.Contact.create(values)["id"],
    )


def _dynamics(sb: Sandbox) -> Crm:
    session = dynamics_session(sb)
    root = f"{sb.url}/api/data/v9.2"

    def update(record_id: str, values: dict[str, Any]) -> None:
        session.patch(
            f"{root}/contacts({record_id})", json=values, headers={"If-Match": "*"}, timeout=30
        )

    def create(values: dict[str, Any]) -> str:
        reply = session.post(f"{root}/contacts", json=values, timeout=30)
        return reply.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")

    return Crm(
        "dynamics",
        sb,
        "contact",
        "account",
        "contactid",
        "modifiedon",
        "firstname",
        "lastname",
        "emailaddress1",
        "birthdate",
        "createdon",
        "numberofemployees",
        "name",
        "crmf_externalid",
        r"\$batch|Microsoft\.Dynamics\.CRM\.\w+Multiple",
        update=update,
        create=create,
    )


MAKERS = {"salesforce": _salesforce, "dynamics": _dynamics}


@pytest.fixture(params=["salesforce", "dynamics"], scope="module")
def demo_crm(request: pytest.FixtureRequest) -> Iterator[Crm]:
    """A demo org of each CRM, shared by the read-only tests of a module."""
    with Sandbox(request.param, data="demo", scale=0.4) as sb:
        yield MAKERS[request.param](sb)


@pytest.fixture(params=["salesforce", "dynamics"])
def crm(request: pytest.FixtureRequest) -> Iterator[Crm]:
    """A fresh demo org of each CRM with a frozen clock, free to be written to."""
    with Sandbox(request.param, data="demo", scale=0.2, clock=Clock(START, frozen=True)) as sb:
        yield MAKERS[request.param](sb)
