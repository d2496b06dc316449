"""Import speed: crmframes against what users write by hand, on the sandbox, in the same run.

For each CRM a sandbox serves the demo org in its own process (`crmframes sandbox serve`),
and each method runs in a fresh child process so its peak memory is its own:

- Salesforce baseline: simple-salesforce `query_all` + `pd.DataFrame` (what users write);
  the Bulk baseline: its `bulk2.Contact.download` read with `pd.read_csv` (`wait=0.05`, its
  sleep before each poll, where its default is 5 s; `max_records=250_000`, crmframes' page
  size, where its default is 50,000); crmframes over REST (2,000-record pages)
  and with Bulk API 2.0.
- Dataverse baseline: Microsoft's client `records.list(...)` + `to_dataframe()`;
  crmframes over the Web API (5,000-row pages).

Printed: seconds, records/s, API calls against the protocol minimum, peak memory against
the size of the final frame, and the speed-up over the baseline.

    python benchmarks/import_bench.py [--scale 200] [--crm salesforce dynamics] [--repeat 5]

scale=200 is 1,000,000 contacts: the sandbox needs about 80 s and 5 GB to start.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import textwrap
import time
from typing import Any

SF_FIELDS = [
    "FirstName",
    "LastName",
    "Email",
    "Phone",
    "AccountId",
    "MailingCity",
    "MailingCountry",
    "Birthdate",
    "HasOptedOutOfEmail",
    "CreatedDate",
    "LastModifiedDate",
    "Id",
]
DV_FIELDS = [
    "firstname",
    "lastname",
    "emailaddress1",
    "telephone1",
    "_parentcustomerid_value",
    "address1_city",
    "address1_country",
    "birthdate",
    "donotemail",
    "createdon",
    "modifiedon",
    "contactid",
]

PRELUDE = """
import json, os, resource, sys, time
import pandas as pd
def report(frame, seconds, calls, **extra):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    size = int(frame.memory_usage(deep=True).sum())
    print(json.dumps({"rows": len(frame), "seconds": seconds, "calls": calls, "peak": peak, "frame": size, **extra}))
"""

SF_LOGIN = """
            import requests
            from simple_salesforce import Salesforce
            from crmframes import SalesforceSettings
            s = SalesforceSettings.from_env()
            session = requests.Session(); session.verify, session.trust_env = s.ca_file, False
            token = session.post(s.url + "/services/oauth2/token", data={"grant_type": "client_credentials",
                "client_id": s.auth.client_id, "client_secret": s.auth.client_secret.reveal()}).json()["access_token"]
            sf = Salesforce(instance_url=s.url, session_id=token, session=session)
"""

METHODS: dict[str, dict[str, str]] = {
    "salesforce": {
        "simple-salesforce query_all + DataFrame (baseline)": SF_LOGIN
        + """
            started = time.perf_counter()
            result = sf.query_all("SELECT {fields} FROM Contact")
            frame = pd.DataFrame(result["records"]).drop(columns="attributes")
            seconds = time.perf_counter() - started
            report(frame, seconds, -(-len(frame) // 2000))
        """,
        "simple-salesforce bulk2 download + pd.read_csv (Bulk baseline)": SF_LOGIN
        + """
            import tempfile
            started = time.perf_counter()
            with tempfile.TemporaryDirectory() as folder:  # its sleep before each poll (default 5 s),
                results = sf.bulk2.Contact.download(  # and pages of crmframes' size (default 50,000)
                    "SELECT {fields} FROM Contact", path=folder, wait=0.05, max_records=250_000)
                frame = pd.concat([pd.read_csv(r["file"]) for r in results], ignore_index=True)
            report(frame, time.perf_counter() - started, 2 + len(results))
        """,
        "crmframes REST": """
            from crmframes import SalesforceConnector, import_from_crm
            conn = SalesforceConnector.from_env(); conn.describe("Contact")
            before = conn.api_calls
            started = time.perf_counter()
            result = import_from_crm(conn, "Contact", fields={fields_list}, mode="rest", progress=False)
            report(result.frame, time.perf_counter() - started, conn.api_calls - before)
        """,
        "crmframes Bulk API 2.0": """
            from crmframes import SalesforceConnector, import_from_crm
            conn = SalesforceConnector.from_env(); conn.describe("Contact")
            before = conn.api_calls
            started = time.perf_counter()
            result = import_from_crm(conn, "Contact", fields={fields_list}, mode="bulk", progress=False)
            report(result.frame, time.perf_counter() - started, conn.api_calls - before)
        """,
    },
    "dynamics": {
        "powerplatform-dataverse-client list + DataFrame (baseline)": """
            import msal, requests
            from azure.core.credentials import AccessToken
            from PowerPlatform.Dataverse.client import DataverseClient
            from PowerPlatform.Dataverse.core.config import DataverseConfig
            from crmframes import DynamicsSettings
            s = DynamicsSettings.from_env()
            session = requests.Session(); session.verify, session.trust_env = s.ca_file, False
            app = msal.ConfidentialClientApplication(s.auth.client_id, client_credential=s.auth.client_secret.reveal(),
                authority=s.token_authority, instance_discovery=False, http_client=session)
            class Credential:
                def get_token(self, *scopes, **kw):
                    r = app.acquire_token_for_client(scopes=list(scopes))
                    return AccessToken(r["access_token"], int(time.time()) + 3000)
            os.environ["REQUESTS_CA_BUNDLE"] = s.ca_file
            client = DataverseClient(s.url, Credential(), DataverseConfig(http_retries=1))
            client.records.list("contact", select=["contactid"], top=1)
            started = time.perf_counter()
            frame = client.records.list("contact", select={fields_list}, page_size=5000).to_dataframe()
            report(frame, time.perf_counter() - started, -(-len(frame) // 5000))
        """,
        "crmframes Web API": """
            from crmframes import DynamicsConnector, import_from_crm
            conn = DynamicsConnector.from_env(); conn.describe("contact")
            before = conn.api_calls
            started = time.perf_counter()
            result = import_from_crm(conn, "contact", fields={fields_list}, progress=False)
            report(result.frame, time.perf_counter() - started, conn.api_calls - before)
        """,
    },
}


def run_child(code: str, env: dict[str, str]) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr[-3000:])
    return json.loads(completed.stdout.strip().splitlines()[-1])


def bench(crm: str, scale: float, repeat: int = 1) -> None:
    fields = SF_FIELDS if crm == "salesforce" else DV_FIELDS
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
                f"\n{crm}: sandbox with scale {scale:g} ready in {time.perf_counter() - started:.0f} s"
            )
            env = {k: v for k, v in os.environ.items() if not k.startswith("CRMFRAMES_")} | info[
                "env"
            ]
            runs: dict[str, list[dict[str, Any]]] = {label: [] for label in METHODS[crm]}
            for _ in range(repeat):  # the methods take turns, so a busy spell hits them all
                for label, template in METHODS[crm].items():
                    code = template.replace("{fields}", ", ".join(fields)).replace(
                        "{fields_list}", repr(fields)
                    )
                    runs[label].append(run_child(code, env))
            seconds = {
                label: statistics.median(r["seconds"] for r in rs) for label, rs in runs.items()
            }
            baseline = next(iter(seconds.values()))
            for label, rs in runs.items():
                figures = rs[0]
                rate = figures["rows"] / seconds[label]
                page = 2000 if crm == "salesforce" else 5000
                minimum = -(-figures["rows"] // page)
                print(
                    f"  {label:<62} {figures['rows']:>9,} rows {seconds[label]:7.2f} s {rate:>10,.0f} rec/s"
                    f"  x{baseline / seconds[label]:5.2f}  calls {figures['calls']} (REST minimum {minimum})"
                    f"  peak {figures['peak'] / 2**20:,.0f} MiB = {figures['peak'] / figures['frame']:.1f}x frame"
                )
            bulk2 = [label for label in seconds if "Bulk baseline" in label]
            if bulk2 and "crmframes Bulk API 2.0" in seconds:
                ratios = [
                    theirs["seconds"] / ours["seconds"]
                    for theirs, ours in zip(
                        runs[bulk2[0]], runs["crmframes Bulk API 2.0"], strict=True
                    )
                ]
                print(
                    f"  crmframes Bulk against bulk2 download + pd.read_csv: x{seconds[bulk2[0]] / seconds['crmframes Bulk API 2.0']:.2f}"
                    f" (medians of {repeat}; each round: {', '.join(f'x{r:.2f}' for r in ratios)})"
                )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale", type=float, default=200.0, help="demo scale (200 = 1,000,000 contacts)"
    )
    parser.add_argument(
        "--crm", nargs="+", default=["salesforce", "dynamics"], choices=["salesforce", "dynamics"]
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds of every method; medians are printed"
    )
    args = parser.parse_args()
    for crm in args.crm:
        bench(crm, args.scale, args.repeat)


if __name__ == "__main__":
    main()
