"""Load the CRM-neutral demo org into a Salesforce sandbox org, with Salesforce names and ids.

Edge helper of the Salesforce sandbox (no I/O). Ids are issued in list order by each
object's counter, so the same demo org always gets the same ids; timestamps and dates are
written in Salesforce's wire formats.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from crmframes.sandbox.demo_org import OPPORTUNITY_STAGES as STAGES
from crmframes.sandbox.demo_org import DemoOrg
from crmframes.sandbox.salesforce.org import SalesforceOrg

__all__ = ["load_demo_org"]

Record = dict[str, Any]


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _wire(moment: datetime) -> str:
    # The demo's datetimes are UTC with whole milliseconds: isoformat is ~5x faster than
    # format_datetime, which matters for the 3.8 million stamps of scale=200.
    return moment.isoformat(timespec="milliseconds")[:23] + "+0000"


def _name(first: str | None, last: str | None) -> str:
    return " ".join(p for p in (first, last) if p)


def load_demo_org(org: SalesforceOrg, demo: DemoOrg) -> None:
    """Insert every demo record into ``org`` (no validation, no API calls counted)."""
    schema = org.schema
    integration = org.integration_user_id
    users = org.reserve_ids("User", len(demo.users))
    accounts = org.reserve_ids("Account", len(demo.accounts))
    contacts = org.reserve_ids("Contact", len(demo.contacts))
    leads = org.reserve_ids("Lead", len(demo.leads))
    opportunities = org.reserve_ids("Opportunity", len(demo.opportunities))

    def stamps(row: dict[str, Any], owner: str | None) -> Record:
        created = _wire(row["created_at"])
        modified = _wire(row.get("modified_at") or row["created_at"])
        user = owner or integration
        return {
            "IsDeleted": False,
            "CreatedDate": created,
            "CreatedById": user,
            "LastModifiedDate": modified,
            "LastModifiedById": user,
            "SystemModstamp": modified,
        }

    blank_user = org.blank(schema.objects["User"])
    org.table("User").load(
        {
            **blank_user,
            "Id": users[i],
            "Username": u["username"],
            "FirstName": u["first_name"],
            "LastName": u["last_name"],
            "Name": _name(u["first_name"], u["last_name"]),
            "Alias": u["alias"],
            "Email": u["email"],
            "IsActive": u["is_active"],
            **stamps(u, integration),
        }
        for i, u in enumerate(demo.users)
    )

    blank_account = org.blank(schema.objects["Account"])
    org.table("Account").load(
        {
            **blank_account,
            "Id": accounts[i],
            "Name": a["name"],
            "AccountNumber": a["account_number"],
            "Type": a["type"],
            "Industry": a["industry"],
            "AnnualRevenue": _float(a["annual_revenue"]),
            "NumberOfEmployees": a["employees"],
            "Phone": a["phone"],
            "Website": a["website"],
            "BillingStreet": a["street"],
            "BillingCity": a["city"],
            "BillingState": a["state"],
            "BillingPostalCode": a["postal_code"],
            "BillingCountry": a["country"],
            "Description": a["description"],
            "ParentId": None if a["parent"] is None else accounts[a["parent"]],
            "External_Id__c": f"AC-{i + 1:07d}",
            "OwnerId": users[a["owner"]],
            **stamps(a, users[a["owner"]]),
        }
        for i, a in enumerate(demo.accounts)
    )

    blank_contact = org.blank(schema.objects["Contact"])
    org.table("Contact").load(
        {
            **blank_contact,
            "Id": contacts[i],
            "AccountId": None if c["account"] is None else accounts[c["account"]],
            "Salutation": c["salutation"],
            "FirstName": c["first_name"],
            "LastName": c["last_name"],
            "Name": _name(c["first_name"], c["last_name"]),
            "Title": c["title"],
            "Department": c["department"],
            "Email": c["email"],
            "Phone": c["phone"],
            "MobilePhone": c["mobile_phone"],
            "Birthdate": _day(c["birthdate"]),
            "MailingStreet": c["street"],
            "MailingCity": c["city"],
            "MailingState": c["state"],
            "MailingPostalCode": c["postal_code"],
            "MailingCountry": c["country"],
            "LeadSource": c["lead_source"],
            "HasOptedOutOfEmail": bool(c["email_opt_out"]),
            "DoNotCall": bool(c["do_not_call"]),
            "External_Id__c": c["external_id"],
            "OwnerId": users[c["owner"]],
            **stamps(c, users[c["owner"]]),
        }
        for i, c in enumerate(demo.contacts)
    )

    blank_lead = org.blank(schema.objects["Lead"])
    org.table("Lead").load(
        {
            **blank_lead,
            "Id": leads[i],
            "FirstName": le["first_name"],
            "LastName": le["last_name"],
            "Name": _name(le["first_name"], le["last_name"]),
            "Company": le["company"],
            "Title": le["title"],
            "Email": le["email"],
            "Phone": le["phone"],
            "Status": le["status"],
            "LeadSource": le["lead_source"],
            "Industry": le["industry"],
            "Rating": le["rating"],
            "AnnualRevenue": _float(le["annual_revenue"]),
            "NumberOfEmployees": le["employees"],
            "Street": le["street"],
            "City": le["city"],
            "State": le["state"],
            "PostalCode": le["postal_code"],
            "Country": le["country"],
            "IsConverted": bool(le["is_converted"]),
            "External_Id__c": f"LD-{i + 1:07d}",
            "OwnerId": users[le["owner"]],
            **stamps(le, users[le["owner"]]),
        }
        for i, le in enumerate(demo.leads)
    )

    blank_opportunity = org.blank(schema.objects["Opportunity"])
    org.table("Opportunity").load(
        {
            **blank_opportunity,
            "Id": opportunities[i],
            "AccountId": accounts[o["account"]],
            "Name": o["name"],
            "Amount": _float(o["amount"]),
            "StageName": o["stage"],
            "CloseDate": _day(o["close_date"]),
            "Probability": _float(
                o["probability"] if o["probability"] is not None else STAGES.get(o["stage"])
            ),
            "Type": o["type"],
            "LeadSource": o["lead_source"],
            "IsClosed": o["stage"] in ("Closed Won", "Closed Lost"),
            "IsWon": o["stage"] == "Closed Won",
            "External_Id__c": f"OP-{i + 1:07d}",
            "OwnerId": users[o["owner"]],
            **stamps(o, users[o["owner"]]),
        }
        for i, o in enumerate(demo.opportunities)
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
