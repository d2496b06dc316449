"""How fast the sandbox serves: query records per second over HTTPS, and start-up time.

Each sandbox runs in its own process (`crmframes sandbox serve --json`), as a CRM would, so
the client's work does not share its interpreter. The client reads pages raw (bytes only,
no JSON parsing), following `nextRecordsUrl` (Salesforce, pages of 2,000 contacts) or
`@odata.nextLink` (Dataverse, pages of 5,000 contacts).

    python benchmarks/sandbox_bench.py [--scale 20] [--rounds 3] [--crm salesforce dynamics]
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import requests

from crmframes import Sandbox

SF_FIELDS = (
    "Id, FirstName, LastName, Email, Phone, AccountId, MailingCity, MailingCountry, Birthdate, "
    "HasOptedOutOfEmail, CreatedDate, LastModifiedDate"
)
DV_COLUMNS = (
    "contactid,firstname,lastname,emailaddress1,telephone1,_parentcustomerid_value,address1_city,"
    "address1_country,birthdate,donotemail,createdon,modifiedon"
)
SF_NEXT = re.compile(rb'"nextRecordsUrl":"([^"]+)"')
DV_NEXT = re.compile(rb'"@odata.nextLink":"([^"]+)"')
TARGET = 300_000


def startup_seconds(crm: str) -> float:
    started = time.perf_counter()
    with Sandbox(crm, data="demo"):  # type: ignore[arg-type]
        return time.perf_counter() - started


def salesforce_reader(
    session: requests.Session, info: dict[str, Any]
) -> Callable[[], tuple[int, int]]:
    creds = info["credentials"]
    token = session.post(
        f"{info['url']}/services/oauth2/token",
        timeout=60,
        data={
            "grant_type": "client_credentials",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
        },
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    def read() -> tuple[int, int]:
        first = session.get(
            f"{info['url']}/services/data/v59.0/query/",
            headers=headers,
            timeout=600,
            params={"q": f"SELECT {SF_FIELDS} FROM Contact"},
        )
        first.raise_for_status()
        total = json.loads(first.content)["totalSize"]
        pages, body = 1, first.content
        while (match := SF_NEXT.search(body[:400])) is not None:
            reply = session.get(info["url"] + match.group(1).decode(), headers=headers, timeout=600)
            reply.raise_for_status()
            body, pages = reply.content, pages + 1
        return total, pages

    return read


def dynamics_reader(
    session: requests.Session, info: dict[str, Any]
) -> Callable[[], tuple[int, int]]:
    creds = info["credentials"]
    token = session.post(
        f"{info['url']}/{creds['tenant_id']}/oauth2/v2.0/token",
        timeout=60,
        data={
            "grant_type": "client_credentials",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "scope": f"{info['url']}/.default",
        },
    ).json()["access_token"]
    headers = {
        "Authorization": f"Bearer {token}",
        "Prefer": "odata.maxpagesize=5000",
        "Accept": "application/json",
        "OData-Version": "4.0",
        "OData-MaxVersion": "4.0",
    }

    def read() -> tuple[int, int]:
        url: str | None = f"{info['url']}/api/data/v9.2/contacts?$select={DV_COLUMNS}"
        rows = pages = 0
        while url is not None:
            reply = session.get(url, headers=headers, timeout=600)
            reply.raise_for_status()
            body = reply.content
            rows += body.count(b'"@odata.etag"')
            pages += 1
            match = DV_NEXT.search(body[-2048:])
            url = match.group(1).decode() if match else None
        return rows, pages

    return read


def bench(crm: str, scale: float, rounds: int) -> float:
    print(
        f"\n{crm}: start-up of a default sandbox (demo org, scale 1): {startup_seconds(crm):.2f} s "
        "(target < 2 s)"
    )
    started = time.perf_counter()
    command = [
        sys.executable,
        "-m",
        "crmframes.cli",
        "sandbox",
        "serve",
        "--crm",
        crm,
        "--json",
        "--scale",
        str(scale),
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            info = json.loads(proc.stdout.readline())
            print(
                f"{crm}: start-up at scale {scale:g} in its own process: {time.perf_counter() - started:.1f} s"
            )
            session = requests.Session()
            session.trust_env, session.verify = False, info["ca_file"]
            read = (salesforce_reader if crm == "salesforce" else dynamics_reader)(session, info)
            best = 0.0
            for round_ in range(1, rounds + 1):
                began = time.perf_counter()
                total, pages = read()
                seconds = time.perf_counter() - began
                best = max(best, total / seconds)
                print(
                    f"{crm}: round {round_}: {total:,} records in {pages} pages, {seconds:.2f} s: "
                    f"{total / seconds:,.0f} records/s"
                )
            print(f"{crm}: best {best:,.0f} records/s = {best / TARGET:.2f}x the 300,000/s target")
            return best
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale", type=float, default=20.0, help="demo scale (20 = 100,000 contacts)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--crm", nargs="+", default=["salesforce", "dynamics"], choices=["salesforce", "dynamics"]
    )
    args = parser.parse_args()
    for crm in args.crm:
        bench(crm, args.scale, args.rounds)


if __name__ == "__main__":
    main()
