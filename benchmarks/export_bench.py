"""Export speed: crmframes against what users write by hand, on the sandbox, in the same run.

N new contacts (first/last name, email, phone, city, country, birthdate and an external id:
Salesforce ``External_Id__c``, Dataverse alternate key ``crmf_externalid``) are written from
a DataFrame. Every measurement gets a fresh, empty sandbox served in its own process (so no
run pays for the records of another, nor shares the client's interpreter), and every method
runs in a fresh child process. A run starts with the DataFrame in memory and ends with each
record's CRM id (or error) in hand; logging in and crmframes' describe happen before the clock.

- Salesforce baselines (simple-salesforce): ``sf.Contact.create(...)`` record by record, on a
  sample (its rate is extrapolated to N, and labelled so); ``sf.bulk2.Contact.insert(csv_file)``
  with ``get_successful_records`` / ``get_failed_records`` for every row.
  crmframes: ``export_to_crm(mode="batch")`` (sObject Collections, 200 per call) and
  ``mode="bulk"`` (one Bulk API 2.0 ingest job).
- Dataverse baselines (Microsoft's powerplatform-dataverse-client): ``records.create(table,
  dict)`` record by record on a sample (extrapolated); the client's ``$batch``
  (``client.batch.new()``, 1,000 creates per batch, the Web API's limit).
  crmframes: ``export_to_crm`` (``CreateMultiple``, several calls in flight). On the
  production profile, ``benchmarks/production_bench.py`` also times the client's
  ``records.create(table, list)`` (``CreateMultiple``).
- The journal's cost: the crmframes batch export with ``journal=False`` and with a journal
  file (fsynced before and after each call), alternated ``--repeat`` times each; the overhead
  is taken on the medians (the best times and every run are printed too). The
  "crmframes batch" / "$batch" line of the table is the median journaled run.
- Each other method runs once; the one-by-one baselines run on ``--sample`` records and their
  100k time is extrapolated (printed as such). simple-salesforce's bulk2 polls every
  ``--bulk2-wait`` s (0.5; its default, 5 s, would only slow the baseline down).

API calls are counted by the connector (``conn.api_calls``) and by the sandbox (its counter,
by family, read over the server process's stdin/stdout, so the read itself is no API call).
``crmframes sandbox serve`` cannot report its counts to another process, so the server
process here is a few lines over ``Sandbox`` doing the same thing (``gc.freeze`` included).

    python benchmarks/export_bench.py [--rows 100000] [--crm salesforce dynamics] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

SERVER = """
import gc, json, sys
from crmframes import Sandbox
with Sandbox(sys.argv[1], data="empty", daily_api_limit=10**9) as sb:
    print(json.dumps({"env": sb.env()}), flush=True)
    gc.freeze()
    for line in sys.stdin:
        if line.strip() == "calls":
            print(json.dumps(sb.api_calls()), flush=True)
"""

PRELUDE = """
import json, os, sys, time, zlib
import numpy as np
import pandas as pd
ARGS = json.loads(os.environ["EXPORT_BENCH"])
FIRST = ["Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Hugo", "Isla", "Jonas",
         "Klara", "Liam", "Maya", "Noah", "Olivia", "Paul", "Rosa", "Samuel", "Tara", "Umar",
         "Vera", "William", "Yara", "Zoe", "Mateo", "Lucia", "Kenji", "Amara", "Sven", "Ines"]
LAST = ["Smith", "Müller", "García", "Rossi", "Dubois", "Novak", "Kowalski", "Jensen", "Silva",
        "O'Brien", "Nguyen", "Tanaka", "Schmidt", "Martin", "Bernard", "Costa", "Fischer",
        "Andersson", "Wójcik", "Moreau", "Lopez", "Weber", "Ivanova", "Brown", "Yilmaz"]
PLACES = [("London", "United Kingdom"), ("Paris", "France"), ("Berlin", "Germany"),
          ("Madrid", "Spain"), ("Rome", "Italy"), ("Lisbon", "Portugal"), ("Vienna", "Austria"),
          ("Warsaw", "Poland"), ("Prague", "Czechia"), ("Dublin", "Ireland"),
          ("Amsterdam", "Netherlands"), ("Brussels", "Belgium"), ("Zürich", "Switzerland"),
          ("Stockholm", "Sweden"), ("Oslo", "Norway"), ("Copenhagen", "Denmark"),
          ("New York", "United States"), ("Toronto", "Canada"), ("Tokyo", "Japan"),
          ("São Paulo", "Brazil")]
SF = ["FirstName", "LastName", "Email", "Phone", "MailingCity", "MailingCountry", "Birthdate",
      "External_Id__c"]
DV = ["firstname", "lastname", "emailaddress1", "telephone1", "address1_city",
      "address1_country", "birthdate", "crmf_externalid"]

def contacts(n):
    \"\"\"n realistic new contacts, named by the CRM's fields, unique by ARGS['tag'].\"\"\"
    rng = np.random.default_rng(zlib.crc32(ARGS["tag"].encode()))
    tag = ARGS["tag"]
    first = np.array(FIRST, dtype=object)[rng.integers(0, len(FIRST), n)]
    last = np.array(LAST, dtype=object)[rng.integers(0, len(LAST), n)]
    place = rng.integers(0, len(PLACES), n)
    phone = rng.integers(0, 10**7, n)
    born = np.datetime64("1950-01-01") + rng.integers(0, 50 * 365, n).astype("timedelta64[D]")
    values = [
        first, last,
        [f"{f}.{l}.{tag}{i}@example.com".lower().replace("'", "") for i, (f, l) in enumerate(zip(first, last))],
        [f"+44 20 {p // 10**4:03d} {p % 10**4:04d}" for p in phone],
        [PLACES[k][0] for k in place], [PLACES[k][1] for k in place],
        pd.to_datetime(born),
        [f"{tag}-{i:07d}" for i in range(n)],
    ]
    names = SF if ARGS["crm"] == "salesforce" else DV
    return pd.DataFrame({name: v for name, v in zip(names, values)})

def plain(frame):
    \"\"\"The frame as JSON-ready dicts, as a user would send it (dates as YYYY-MM-DD).\"\"\"
    out = frame.copy()
    for name in ("Birthdate", "birthdate"):
        if name in out:
            out[name] = out[name].dt.strftime("%Y-%m-%d")
    return out.to_dict("records")

def report(rows, seconds, ok, calls=None, **extra):
    print(json.dumps({"rows": rows, "ok": ok, "seconds": seconds, "calls": calls, **extra}))
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

DV_LOGIN = """
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
        return AccessToken(r["access_token"], int(time.time()) + int(r["expires_in"]))
os.environ["REQUESTS_CA_BUNDLE"] = s.ca_file  # the client's own session reads it
client = DataverseClient(s.url, Credential(), DataverseConfig(http_retries=1))
client.records.list("contact", select=["contactid"], top=1)  # token and entity-set lookup
"""

CRMFRAMES = """
from crmframes import {connector}, export_to_crm
conn = {connector}.from_env()
before = conn.api_calls
conn.describe("{object}")
described = conn.api_calls - before
frame = contacts(ARGS["rows"])
journal = ARGS["journal"] or False
started = time.perf_counter()
result = export_to_crm(conn, "{object}", frame, mode=ARGS["mode"], journal=journal, progress=False)
seconds = time.perf_counter() - started
ids = result.frame["crmId"]
assert ids.notna().all() and len(ids) + len(result.rejects) == len(frame)
report(len(frame), seconds, int(result.stats.created), conn.api_calls - before - described,
       describe=described, batches=result.stats.batches, rejected=len(result.rejects))
"""

METHODS: dict[str, dict[str, str]] = {
    "salesforce": {
        "one": SF_LOGIN
        + """
frame = contacts(ARGS["rows"])
started = time.perf_counter()
ids = [sf.Contact.create(record)["id"] for record in plain(frame)]
report(len(frame), time.perf_counter() - started, len(ids))
""",
        "bulk2": SF_LOGIN
        + """
import io, tempfile
frame = contacts(ARGS["rows"])
started = time.perf_counter()
with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "contacts.csv")
    frame.to_csv(path, index=False, date_format="%Y-%m-%d")
    jobs = sf.bulk2.Contact.insert(csv_file=path, wait=ARGS["wait"])
ok = failed = 0
for job in jobs:
    done = pd.read_csv(io.StringIO(sf.bulk2.Contact.get_successful_records(job["job_id"])), dtype=str)
    bad = pd.read_csv(io.StringIO(sf.bulk2.Contact.get_failed_records(job["job_id"])), dtype=str)
    ok, failed = ok + len(done), failed + len(bad)
report(len(frame), time.perf_counter() - started, ok, None, jobs=len(jobs), failed=failed)
""",
        "crmframes": CRMFRAMES.format(connector="SalesforceConnector", object="Contact"),
    },
    "dynamics": {
        "one": DV_LOGIN
        + """
frame = contacts(ARGS["rows"])
started = time.perf_counter()
ids = [client.records.create("contact", record) for record in plain(frame)]
report(len(frame), time.perf_counter() - started, len(ids))
""",
        "batch": DV_LOGIN
        + """
frame = contacts(ARGS["rows"])
started = time.perf_counter()
records, ids, failed = plain(frame), [], 0
for start in range(0, len(records), 1000):
    batch = client.batch.new()
    for record in records[start : start + 1000]:
        batch.records.create("contact", record)
    result = batch.execute(continue_on_error=True)
    ids += [r.entity_id for r in result.responses if r.entity_id]
    failed += len(result.failed)
report(len(frame), time.perf_counter() - started, len(ids), failed=failed)
""",
        "crmframes": CRMFRAMES.format(connector="DynamicsConnector", object="contact"),
    },
}


def measure(crm: str, method: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run one method in a fresh child against a fresh sandbox; its figures and the sandbox's counts."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CRMFRAMES_")}
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, crm],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=clean,
    )
    try:
        assert server.stdin is not None and server.stdout is not None
        info = json.loads(server.stdout.readline())
        env = clean | info["env"] | {"EXPORT_BENCH": json.dumps({"crm": crm, **args})}
        code = PRELUDE + textwrap.dedent(METHODS[crm][method])
        completed = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=7200
        )
        if completed.returncode != 0:
            raise RuntimeError(f"{crm} {method} failed:\n{completed.stderr[-3000:]}")
        figures: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
        server.stdin.write("calls\n")
        server.stdin.flush()
        figures["sandbox"] = json.loads(server.stdout.readline())
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=120)
    if figures["ok"] != figures["rows"] or figures.get("failed") or figures.get("rejected"):
        raise RuntimeError(f"{crm} {method}: not every row was written: {figures}")
    return figures


class Table:
    """Rows of the printed table, and the figures kept for the ratios."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.rates: dict[str, float] = {}
        print(
            f"  {'method':<60} {'records':>9} {'seconds':>9} {'records/s':>10}"
            f"  {'API calls (conn / sandbox by family)':<44} protocol minimum"
        )

    def line(self, label: str, f: dict[str, Any], minimum: str, *, sample: bool = False) -> float:
        """Print one method's figures; return its records/s."""
        rate = f["rows"] / f["seconds"]
        self.rates[label] = rate
        conn = "-" if f.get("calls") is None or sample else f"{f['calls']:,}"
        families = ", ".join(f"{k} {v:,}" for k, v in f["sandbox"].items())
        print(
            f"  {label:<60} {f['rows']:>9,} {f['seconds']:>9.2f} {rate:>10,.0f}"
            f"  {conn + ' / ' + families:<44} {minimum}"
        )
        if sample:
            print(
                f"  {'':<60} {self.rows:>9,} {self.rows / rate:>9.0f}"
                f" {'':>10}  ^ EXTRAPOLATED from the {f['rows']:,}-record sample:"
                f" {self.rows:,} calls"
            )
        return rate


def journal_runs(crm: str, rows: int, repeat: int, folder: Path) -> dict[str, list[dict[str, Any]]]:
    """The crmframes batch export alternately without and with a journal, fresh data each time."""
    runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
    for r in range(repeat):
        for kind in ("off", "on") if r % 2 == 0 else ("on", "off"):
            tag = f"J{kind}{r}"
            path = str(folder / f"{crm}-{tag}.jsonl") if kind == "on" else None
            runs[kind].append(
                measure(
                    crm, "crmframes", {"rows": rows, "tag": tag, "mode": "batch", "journal": path}
                )
            )
    return runs


def fsync_latency(folder: Path, count: int = 300) -> str:
    """The disk under the journals: append 4 KB and fsync, ``count`` times (idle, no export)."""
    times = []
    path = folder / "fsync-probe.bin"
    with open(path, "ab") as file:
        for _ in range(count):
            file.write(b"x" * 4096)
            file.flush()
            started = time.perf_counter()
            os.fsync(file.fileno())
            times.append(time.perf_counter() - started)
    path.unlink()
    times.sort()
    return (
        f"fsync on {folder} (idle probe, {count} appends): median {1000 * times[count // 2]:.2f} ms,"
        f" p99 {1000 * times[int(count * 0.99)]:.2f} ms, max {1000 * times[-1]:.1f} ms"
    )


def bench(crm: str, rows: int, sample: int, repeat: int, wait: float, folder: Path) -> None:
    print(f"\n{crm}: {rows:,} new contacts per export (a fresh empty sandbox per run)")
    table = Table(rows)
    one = measure(crm, "one", {"rows": sample, "tag": "ONE"})
    runs = journal_runs(crm, rows, repeat, folder)
    journaled = sorted(runs["on"], key=lambda f: f["seconds"])
    median_on = journaled[len(journaled) // 2]  # the run printed as "crmframes batch"
    describe = median_on["describe"]
    if crm == "salesforce":
        label_one = "simple-salesforce Contact.create one by one (baseline, sample)"
        table.line(label_one, one, f"{sample:,} (1 per record)", sample=True)
        bulk2 = measure(crm, "bulk2", {"rows": rows, "tag": "BULK2", "wait": wait})
        label_bulk2 = f"simple-salesforce bulk2 insert + results (baseline, wait={wait:g})"
        table.line(label_bulk2, bulk2, "≈7 per job")
        bulk = measure(
            crm,
            "crmframes",
            {"rows": rows, "tag": "BULK", "mode": "bulk", "journal": str(folder / "sf-bulk.jsonl")},
        )
        table.line(
            "crmframes mode='batch' (sObject Collections, journal)",
            median_on,
            f"{-(-rows // 200):,} (⌈N/200⌉)",
        )
        table.line("crmframes mode='bulk' (Bulk API 2.0, journal)", bulk, "≈7 (one job)")
        ours = {
            "crmframes batch": "crmframes mode='batch' (sObject Collections, journal)",
            "crmframes bulk": "crmframes mode='bulk' (Bulk API 2.0, journal)",
        }
        theirs = {"one by one (extrapolated)": label_one, "bulk2": label_bulk2}
    else:
        label_one = "PP client records.create one by one (baseline, sample)"
        table.line(label_one, one, f"{sample:,} (1 per record)", sample=True)
        batch = measure(crm, "batch", {"rows": rows, "tag": "PPBATCH"})
        label_batch = "PP client batch.new(): 1,000 creates per $batch (baseline)"
        table.line(label_batch, batch, f"{-(-rows // 1000):,} (⌈N/1000⌉)")
        label_ours = "crmframes CreateMultiple, in parallel (journal)"
        table.line(label_ours, median_on, f"{-(-rows // 1000):,} (⌈N/1000⌉)")
        ours = {"crmframes CreateMultiple": label_ours}
        theirs = {"one by one (extrapolated)": label_one, "PP $batch": label_batch}
    print(
        f"  crmframes describe: {describe} call(s) per export, before the clock and not in the counts above"
    )
    for name, label in ours.items():
        ratios = ", ".join(
            f"x{table.rates[label] / table.rates[t]:,.1f} over {n}" for n, t in theirs.items()
        )
        print(f"  speed-up of {name}: {ratios}")
    off = [f["seconds"] for f in runs["off"]]
    on = [f["seconds"] for f in runs["on"]]
    mid_off, mid_on = statistics.median(off), statistics.median(on)
    print(
        f"  journal overhead ({repeat} alternated runs each, batch mode, {median_on['batches']} calls"
        f" → {2 * median_on['batches']} fsyncs): journal=False median {mid_off:.2f} s"
        f" (best {min(off):.2f}), journal file median {mid_on:.2f} s (best {min(on):.2f});"
        f" overhead {100 * (mid_on / mid_off - 1):+.1f}% on medians, {100 * (min(on) / min(off) - 1):+.1f}% on bests"
        f" (target < 10%)"
    )
    print(f"    {fsync_latency(folder)}")
    print(
        f"    runs without: {', '.join(f'{s:.2f}' for s in off)} s; with: {', '.join(f'{s:.2f}' for s in on)} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="contacts per export")
    parser.add_argument(
        "--crm", nargs="+", default=["salesforce", "dynamics"], choices=["salesforce", "dynamics"]
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: 5,000 rows")
    parser.add_argument(
        "--sample", type=int, default=2_000, help="records created one by one (extrapolated)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs with and without the journal")
    parser.add_argument(
        "--bulk2-wait",
        type=float,
        default=0.5,
        help="simple-salesforce's poll interval for its bulk2 job (its default is 5 s)",
    )
    parser.add_argument(
        "--journal-dir",
        type=Path,
        default=None,
        help="where the journals go (default: a temporary folder, on the disk of /tmp)",
    )
    args = parser.parse_args()
    rows = 5_000 if args.quick else args.rows
    sample = min(args.sample, rows, 500 if args.quick else args.sample)
    with tempfile.TemporaryDirectory(prefix="export-bench-", dir=args.journal_dir) as folder:
        for crm in args.crm:
            bench(crm, rows, sample, args.repeat, args.bulk2_wait, Path(folder))


if __name__ == "__main__":
    main()
