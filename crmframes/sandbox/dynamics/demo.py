"""Load the CRM-neutral demo org into a Dataverse sandbox environment, with Dataverse names and GUIDs.

Edge helper of the Dataverse sandbox (no I/O). GUIDs are ``uuid5`` of the table and row
number, so the same demo org always gets the same ids; option values come from the
schema's option sets; timestamps are written as the Web API writes them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from crmframes.sandbox.demo_org import (
    ACCOUNT_TYPES,
    INDUSTRIES,
    LEAD_SOURCES,
    LEAD_STATUSES,
    OPPORTUNITY_STAGES,
    RATINGS,
    DemoOrg,
)
from crmframes.sandbox.dynamics.org import DataverseOrg

__all__ = ["load_demo_org"]

Record = dict[str, Any]

_CUSTOMER_TYPE = dict(zip(ACCOUNT_TYPES, (8, 3, 3, 9, 5, 5, 12), strict=True))
_INDUSTRY = {name: i + 1 for i, name in enumerate(INDUSTRIES)}
_LEAD_SOURCE = {name: i + 1 for i, name in enumerate(LEAD_SOURCES)}
_LEAD_STATE = dict(zip(LEAD_STATUSES, ((0, 1), (0, 2), (1, 3), (2, 4)), strict=True))
_QUALITY = {name: i + 1 for i, name in enumerate(RATINGS)}
_STAGE_CODE = dict(zip(OPPORTUNITY_STAGES, (0, 0, 1, 1, 1, 2, 2, 3, 3, 3), strict=True))


def _stamp(moment: datetime) -> str:
    # The demo's datetimes are UTC; the Web API shows whole seconds with Z.
    return moment.isoformat(timespec="seconds")[:19] + "Z"


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _name(first: str | None, last: str | None) -> str | None:
    return " ".join(p for p in (first, last) if p) or None


def _address(row: dict[str, Any]) -> Record:
    return {
        "address1_line1": row["street"],
        "address1_city": row["city"],
        "address1_stateorprovince": row["state"],
        "address1_postalcode": row["postal_code"],
        "address1_country": row["country"],
    }


def load_demo_org(org: DataverseOrg, demo: DemoOrg) -> None:
    """Insert every demo record into ``org`` (no validation, no API calls counted)."""
    schema = org.schema
    users = [org.guid("systemuser", str(i)) for i in range(len(demo.users))]
    accounts = [org.guid("account", str(i)) for i in range(len(demo.accounts))]

    def system(row: dict[str, Any], owner: str, state: int = 0, status: int = 1) -> Record:
        return {
            "statecode": state,
            "statuscode": status,
            "createdon": _stamp(row["created_at"]),
            "modifiedon": _stamp(row.get("modified_at") or row["created_at"]),
            "_createdby_value": owner,
            "_modifiedby_value": owner,
            "_ownerid_value": owner,
            "versionnumber": org.next_version(),
        }

    blank = org.blank(schema.entities["systemuser"])
    org.table("systemuser").load(
        {
            **blank,
            "systemuserid": users[i],
            "firstname": u["first_name"],
            "lastname": u["last_name"],
            "fullname": _name(u["first_name"], u["last_name"]),
            "internalemailaddress": u["email"],
            "domainname": u["username"],
            "isdisabled": not u["is_active"],
            **{
                k: v
                for k, v in system(
                    u,
                    org.integration_user_id,
                    0 if u["is_active"] else 1,
                    1 if u["is_active"] else 2,
                ).items()
                if k != "_ownerid_value"
            },
        }
        for i, u in enumerate(demo.users)
    )

    blank = org.blank(schema.entities["account"])
    org.table("account").load(
        {
            **blank,
            "accountid": accounts[i],
            "name": a["name"],
            "accountnumber": a["account_number"],
            "customertypecode": _CUSTOMER_TYPE.get(a["type"]),
            "industrycode": _INDUSTRY.get(a["industry"]),
            "revenue": None if a["annual_revenue"] is None else float(a["annual_revenue"]),
            "numberofemployees": a["employees"],
            "telephone1": a["phone"],
            "websiteurl": a["website"],
            **_address(a),
            "description": a["description"],
            "_parentaccountid_value": None if a["parent"] is None else accounts[a["parent"]],
            "crmf_externalid": f"AC-{i + 1:07d}",
            **system(a, users[a["owner"]]),
        }
        for i, a in enumerate(demo.accounts)
    )

    blank = org.blank(schema.entities["contact"])
    org.table("contact").load(
        {
            **blank,
            "contactid": org.guid("contact", str(i)),
            "salutation": c["salutation"],
            "firstname": c["first_name"],
            "lastname": c["last_name"],
            "fullname": _name(c["first_name"], c["last_name"]),
            "jobtitle": c["title"],
            "department": c["department"],
            "emailaddress1": c["email"],
            "telephone1": c["phone"],
            "mobilephone": c["mobile_phone"],
            "birthdate": _day(c["birthdate"]),
            **_address(c),
            "_parentcustomerid_value": None if c["account"] is None else accounts[c["account"]],
            "leadsourcecode": _LEAD_SOURCE.get(c["lead_source"]),
            "donotemail": bool(c["email_opt_out"]),
            "donotphone": bool(c["do_not_call"]),
            "crmf_externalid": c["external_id"],
            **system(c, users[c["owner"]]),
        }
        for i, c in enumerate(demo.contacts)
    )

    blank = org.blank(schema.entities["lead"])
    org.table("lead").load(
        {
            **blank,
            "leadid": org.guid("lead", str(i)),
            "subject": f"{le['company']} - {le['title'] or 'enquiry'}"[:300],
            "firstname": le["first_name"],
            "lastname": le["last_name"],
            "fullname": _name(le["first_name"], le["last_name"]),
            "companyname": le["company"][:100] if le["company"] else None,
            "jobtitle": le["title"],
            "emailaddress1": le["email"],
            "telephone1": le["phone"],
            "leadsourcecode": _LEAD_SOURCE.get(le["lead_source"]),
            "industrycode": _INDUSTRY.get(le["industry"]),
            "leadqualitycode": _QUALITY.get(le["rating"]),
            "revenue": None if le["annual_revenue"] is None else float(le["annual_revenue"]),
            "numberofemployees": le["employees"],
            **_address(le),
            "crmf_externalid": f"LD-{i + 1:07d}",
            **system(le, users[le["owner"]], *_LEAD_STATE.get(le["status"], (0, 1))),
        }
        for i, le in enumerate(demo.leads)
    )

    blank = org.blank(schema.entities["opportunity"])
    org.table("opportunity").load(
        {
            **blank,
            "opportunityid": org.guid("opportunity", str(i)),
            "name": o["name"][:300],
            "_parentaccountid_value": accounts[o["account"]],
            "estimatedvalue": None if o["amount"] is None else float(o["amount"]),
            "estimatedclosedate": _day(o["close_date"]),
            "closeprobability": o["probability"],
            "stepname": o["stage"],
            "salesstagecode": _STAGE_CODE.get(o["stage"]),
            "crmf_externalid": f"OP-{i + 1:07d}",
            **system(o, users[o["owner"]], *_opportunity_state(o["stage"])),
        }
        for i, o in enumerate(demo.opportunities)
    )


def _opportunity_state(stage: str) -> tuple[int, int]:
    if stage == "Closed Won":
        return 1, 3
    if stage == "Closed Lost":
        return 2, 4
    return 0, 1
