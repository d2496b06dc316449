"""Throughput on a production org: crmframes against each CRM's own client, in the same run.

The sandbox is served in its own process with the production profile
(``crmframes sandbox serve --profile production --speed N``): round trips, server time per
record, concurrency and service limits, ``x-ms-dop-hint``, Bulk API 2.0 queue and
processing time, all divided by ``--speed`` (the same for every method, so the ratios are
those of a real org; figures and sources in the README, "Production profile figures").
Every method runs in a fresh child process against a fresh sandbox.

- Dataverse export of N new contacts: Microsoft's client ``records.create("contact", list)``
  one ``CreateMultiple`` of 1,000 after another (what a user writes), and its ``$batch``
  (``client.batch.new()``, 1,000 creates each); crmframes ``export_to_crm`` (CreateMultiple,
  parallel at the ``x-ms-dop-hint``, journaled).
- Salesforce export of N new contacts: simple-salesforce ``bulk2.Contact.insert`` with its
  results; crmframes ``export_to_crm`` (``mode="auto"``: Bulk API 2.0 jobs, several at once).
- Salesforce import (Bulk API 2.0): simple-salesforce ``bulk2.Contact.download`` read with
  ``pd.read_csv``; crmframes ``import_from_crm(mode="bulk")`` (``resultPages`` in parallel).
- Dataverse import: Microsoft's client ``records.list(page_size=5000).to_dataframe()``;
  crmframes ``import_from_crm`` (pages chained by ``@odata.nextLink``, one ahead).

Printed per method: seconds (in the real org's seconds: measured × speed), records/s, API
calls (crmframes: counted by its connector; baselines: the protocol's count), peak memory,
the degree of parallelism and the throttles met (crmframes' ``result.stats``), the ratio to
the baseline, and the ideal time the profile allows (the server time of the work divided by
the recommended parallelism, plus one round trip per sequential step).

    python benchmarks/production_bench.py [--rows 10000] [--import-scale 2] [--speed 20]

The issue's sizes are 100,000-row exports and 1,000,000 / 200,000-row imports; on a shared
2-core machine the defaults are scaled down (10,000 rows, 10,000 contacts imported) and the
figures say so.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

from export_bench import DV_LOGIN, SF_LOGIN
from export_bench import PRELUDE as EXPORT_PRELUDE

from crmframes.sandbox import production_profile

PEAK = """
import resource
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
"""

CRMFRAMES_EXPORT = """
from crmframes import {connector}, export_to_crm
conn = {connector}.from_env()
conn.describe("{object}")
frame = contacts(ARGS["rows"])
before = conn.api_calls
started = time.perf_counter()
result = export_to_crm(conn, "{object}", frame, journal=ARGS["journal"], progress=False)
seconds = time.perf_counter() - started
s = result.stats
report(len(frame), seconds, int(s.created), conn.api_calls - before, peak=peak(),
       parallel=s.parallel, throttles=s.throttles, waited=s.waited, mode=s.mode,
       batches=s.batches, rejected=len(result.rejects))
"""

EXPORTS: dict[str, dict[str, str]] = {
    "dynamics": {
        "PP client records.create(list): CreateMultiple of 1,000, sequential (baseline)": DV_LOGIN
        + """
frame = contacts(ARGS["rows"])
records = plain(frame)
started = time.perf_counter()
ids = []
for start in range(0, len(records), 1000):
    ids += client.records.create("contact", records[start : start + 1000])
report(len(frame), time.perf_counter() - started, len(ids), -(-len(records) // 1000), peak=peak())
""",
        "PP client batch.new(): 1,000 creates per $batch, sequential": DV_LOGIN
        + """
frame = contacts(ARGS["rows"])
records = plain(frame)
started = time.perf_counter()
ids = []
for start in range(0, len(records), 1000):
    batch = client.batch.new()
    for record in records[start : start + 1000]:
        batch.records.create("contact", record)
    result = batch.execute(continue_on_error=True)
    ids += [r.entity_id for r in result.responses if r.entity_id]
report(len(frame), time.perf_counter() - started, len(ids), -(-len(records) // 1000), peak=peak())
""",
        "crmframes export_to_crm (CreateMultiple, parallel, journal)": CRMFRAMES_EXPORT.format(
            connector="DynamicsConnector", object="contact"
        ),
    },
    "salesforce": {
        "simple-salesforce bulk2 insert + results (baseline)": SF_LOGIN
        + """
import io, tempfile
frame = contacts(ARGS["rows"])
started = time.perf_counter()
with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "contacts.csv")
    frame.to_csv(path, index=False, date_format="%Y-%m-%d")
    jobs = sf.bulk2.Contact.insert(csv_file=path, wait=ARGS["wait"])
ok = 0
for job in jobs:
    done = pd.read_csv(io.StringIO(sf.bulk2.Contact.get_successful_records(job["job_id"])), dtype=str)
    ok += len(done)
report(len(frame), time.perf_counter() - started, ok, None, peak=peak(), jobs=len(jobs))
""",
        "crmframes export_to_crm (auto: Bulk API 2.0 jobs in parallel, journal)": (
            CRMFRAMES_EXPORT.format(connector="SalesforceConnector", object="Contact")
        ),
    },
}

IMPORTS: dict[str, dict[str, str]] = {
    "salesforce": {
        "simple-salesforce bulk2 download + pd.read_csv (baseline)": SF_LOGIN
        + """
import glob, tempfile
started = time.perf_counter()
with tempfile.TemporaryDirectory() as folder:
    results = sf.bulk2.Contact.download(
        "SELECT Id, FirstName, LastName, Email, MailingCity, Birthdate, LastModifiedDate FROM Contact",
        path=folder, wait=ARGS["wait"])
    frame = pd.concat([pd.read_csv(r["file"]) for r in results], ignore_index=True)
report(len(frame), time.perf_counter() - started, len(frame), None, peak=peak())
""",
        "crmframes import_from_crm(mode='bulk') (resultPages in parallel)": """
from crmframes import SalesforceConnector, import_from_crm
conn = SalesforceConnector.from_env(); conn.describe("Contact")
before = conn.api_calls
started = time.perf_counter()
result = import_from_crm(conn, "Contact", fields=["FirstName", "LastName", "Email", "MailingCity",
    "Birthdate"], mode="bulk", progress=False)
report(len(result.frame), time.perf_counter() - started, len(result.frame), conn.api_calls - before,
       peak=peak())
""",
    },
    "dynamics": {
        "PP client records.list(page_size=5000).to_dataframe() (baseline)": DV_LOGIN
        + """
started = time.perf_counter()
frame = client.records.list("contact", select=["contactid", "firstname", "lastname",
    "emailaddress1", "address1_city", "birthdate", "modifiedon"], page_size=5000).to_dataframe()
report(len(frame), time.perf_counter() - started, len(frame), -(-len(frame) // 5000), peak=peak())
""",
        "crmframes import_from_crm (Web API, parallel id ranges)": """
from crmframes import DynamicsConnector, import_from_crm
conn = DynamicsConnector.from_env(); conn.describe("contact")
before = conn.api_calls
started = time.perf_counter()
result = import_from_crm(conn, "contact", fields=["firstname", "lastname", "emailaddress1",
    "address1_city", "birthdate"], progress=False)
report(len(result.frame), time.perf_counter() - started, len(result.frame),
       conn.api_calls - before, peak=peak())
""",
    },
}


def serve(
    crm: str, speed: float, scale: float | None
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Start ``crmframes sandbox serve`` with the production profile; return it and its env."""
    command = [sys.executable, "-m", "crmframes.cli", "sandbox", "serve", "--crm", crm, "--json"]
    command += ["--profile", "production", "--speed", str(speed)]
    command += ["--empty"] if scale is None else ["--scale", str(scale)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    info = json.loads(proc.stdout.readline())
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CRMFRAMES_")}
    return proc, clean | info["env"]


def run(
    crm: str, code: str, args: dict[str, Any], speed: float, scale: float | None
) -> dict[str, Any]:
    """One method in a fresh child against a fresh production-profile sandbox."""
    proc, env = serve(crm, speed, scale)
    try:
        env["EXPORT_BENCH"] = json.dumps({"crm": crm, **args})
        source = EXPORT_PRELUDE + PEAK + textwrap.dedent(code)
        completed = subprocess.run(
            [sys.executable, "-c", source], env=env, capture_output=True, text=True, timeout=7200
        )
        if completed.returncode != 0:
            raise RuntimeError(f"{crm} failed:\n{completed.stderr[-3000:]}")
        figures: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    if figures["ok"] != figures["rows"] and "import" not in args:
        raise RuntimeError(f"{crm}: not every row was written: {figures}")
    return figures


def ideal(crm: str, kind: str, rows: int) -> tuple[float, str]:
    """The least time the profile allows (real org's seconds), and how it was counted."""
    p = production_profile(crm)
    if crm == "dynamics" and kind == "export":
        dop = p.dop_hint or 1
        waves = math.ceil(rows / (1000 * dop))  # crmframes' batch_share
        size = min(1000, max(250, math.ceil(rows / (waves * dop))))
        calls = math.ceil(rows / size)
        waves = math.ceil(calls / dop)
        time_ = waves * (p.round_trip + p.request_overhead + size * p.create)
        return time_, f"{calls} CreateMultiple of {size:,}, {dop} at once (x-ms-dop-hint)"
    if crm == "salesforce" and kind == "export":
        jobs = 4
        per_job = p.bulk_queue + p.bulk_ingest_row * rows / jobs + 7 * p.round_trip
        return per_job, f"{jobs} Bulk ingest jobs at once: queue + rows/{jobs} × ingest time"
    if crm == "salesforce":
        pages = max(1, math.ceil(rows / 100_000))
        time_ = p.bulk_queue + p.bulk_query_row * rows + (3 + math.ceil(pages / 4)) * p.round_trip
        return time_, "one query job: queue + rows × query time, pages 4 at once"
    dop = p.dop_hint or 1
    pages = max(1, math.ceil(rows / (5000 * dop)))  # per chain
    time_ = pages * (p.round_trip + p.request_overhead) + rows / dop * p.query_row
    return time_, f"{dop} chains of nextLink pages at once (x-ms-dop-hint), rows/{dop} each"


def table(title: str, crm: str, kind: str, methods: dict[str, str], args: dict[str, Any],
          speed: float, scale: float | None) -> None:  # fmt: skip
    print(f"\n{title}")
    print(
        f"  {'method':<74} {'rows':>8} {'org s':>8} {'rec/s':>8} {'calls':>6} {'peak MiB':>8}"
        f" {'x base':>6}  parallel / throttles"
    )
    base = None
    rows = args.get("rows", 0)
    for label, code in methods.items():
        f = run(crm, code, args, speed, scale)
        org_seconds = f["seconds"] * speed
        base = base or org_seconds
        rows = f["rows"]
        calls = "-" if f.get("calls") is None else f"{f['calls']:,}"
        extra = ""
        if "parallel" in f:
            extra = f"{f['parallel']} / {f['throttles']} ({f['waited'] * speed:.1f} org s waited)"
        print(
            f"  {label:<74} {rows:>8,} {org_seconds:>8.1f} {rows / org_seconds:>8,.0f} {calls:>6}"
            f" {f['peak'] / 2**20:>8,.0f} {base / org_seconds:>6.2f}  {extra}"
        )
        last = org_seconds
    best, how = ideal(crm, kind, rows)
    print(
        f"  ideal the profile allows: {best:.1f} org s ({how}); crmframes at x{last / best:.2f} of it"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="contacts per export")
    parser.add_argument(
        "--import-scale", type=float, default=2.0, help="demo scale of the imports (1 = 5,000)"
    )
    parser.add_argument("--speed", type=float, default=20.0, help="the profile's speed factor")
    parser.add_argument(
        "--crm", nargs="+", default=["dynamics", "salesforce"], choices=["salesforce", "dynamics"]
    )
    parser.add_argument("--only", choices=["export", "import"], default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    for crm in args.crm:
        if args.only != "import":
            export_args = {"rows": args.rows, "tag": "P", "journal": None, "wait": 0.5 / args.speed}
            table(
                f"{crm} export of {args.rows:,} new contacts (production profile, speed {args.speed:g})",
                crm, "export", EXPORTS[crm], export_args, args.speed, None,
            )  # fmt: skip
        if args.only != "export":
            import_args = {"import": True, "tag": "I", "wait": 0.5 / args.speed}
            table(
                f"{crm} import of the demo contacts at scale {args.import_scale:g}"
                f" (production profile, speed {args.speed:g})",
                crm, "import", IMPORTS[crm], import_args, args.speed, args.import_scale,
            )  # fmt: skip
    print(f"\n(the whole run took {time.perf_counter() - started:.0f} s of this machine's time)")


if __name__ == "__main__":
    main()
