"""How fast the sandbox serves, and how long calls take under each profile.

Each sandbox runs in its own process (`crmframes sandbox serve --json`), as a CRM would, so
the client's work does not share its interpreter.

`throughput`: query records per second over HTTPS and start-up time (local profile). The
client reads pages raw (bytes only, no JSON parsing), following `nextRecordsUrl` (Salesforce,
pages of 2,000 contacts) or `@odata.nextLink` (Dataverse, pages of 5,000 contacts).

`profiles`: per profile (local, production at `--speed`), the time of a 1,000-row Dataverse
`CreateMultiple`, a 200-record Salesforce Collections insert, a 2,000-row query page of each
CRM and a 100,000-row Bulk API 2.0 ingest job, against what the production profile's figures
predict (round trips + server time, divided by the speed); then 60 Dataverse requests sent at
once, the excess refused 429 `0x80072326`, resent after `Retry-After`, none lost.

    python benchmarks/sandbox_bench.py [--part throughput profiles] [--scale 20] [--rounds 3]
        [--crm salesforce dynamics] [--speed 5]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests

from crmframes import Sandbox
from crmframes.sandbox import production_profile

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


# --- profiles: modelled time of typical calls, and the Dataverse concurrency limit ---------------

BULK_ROWS = 100_000
BURST = 60  # Dataverse requests sent at once (the limit is 52)
BURST_ROWS = 50  # rows per CreateMultiple of the burst
POLL = 0.05  # seconds between Bulk job polls


@contextlib.contextmanager
def serve(crm: str, profile: str, speed: float) -> Iterator[dict[str, Any]]:
    """A demo sandbox in its own process; yields its --json line."""
    command = [sys.executable, "-m", "crmframes.cli", "sandbox", "serve", "--crm", crm, "--json"]
    if profile == "production":
        command += ["--profile", "production", "--speed", str(speed)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            yield json.loads(proc.stdout.readline())
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)


def _session(info: dict[str, Any]) -> requests.Session:
    session = requests.Session()
    session.trust_env, session.verify = False, info["ca_file"]
    creds = info["credentials"]
    if info["crm"] == "salesforce":
        token = session.post(
            f"{info['url']}/services/oauth2/token",
            timeout=60,
            data={
                "grant_type": "client_credentials",
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
            },
        ).json()["access_token"]
        session.headers["Authorization"] = f"Bearer {token}"
        return session
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
    session.headers.update(
        {"Authorization": f"Bearer {token}", "OData-Version": "4.0", "OData-MaxVersion": "4.0"}
    )
    return session


def _timed(call: Callable[[], requests.Response], *, repeat: int = 1) -> float:
    """Seconds one call takes: the median of ``repeat`` (this machine is shared and noisy)."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        reply = call()
        times.append(time.perf_counter() - began)
        if reply.status_code >= 300:
            raise RuntimeError(f"{reply.status_code}: {reply.text[:300]}")
    return statistics.median(times)


def salesforce_calls(info: dict[str, Any], speed: float) -> list[tuple[str, float, float]]:
    """(what, seconds measured, seconds the production figures predict)."""
    p = production_profile("salesforce", speed=speed)
    session, api = _session(info), f"{info['url']}/services/data/v59.0"
    session.get(f"{api}/limits", timeout=60)  # the connection is open before timing
    records = [
        {"attributes": {"type": "Contact"}, "LastName": f"Bench {i}", "Email": f"b{i}@example.com"}
        for i in range(200)
    ]
    collections = _timed(
        lambda: session.post(f"{api}/composite/sobjects", json={"records": records}, timeout=600),
        repeat=3,
    )
    page = _timed(
        lambda: session.get(
            f"{api}/query", params={"q": f"SELECT {SF_FIELDS} FROM Contact LIMIT 2000"}, timeout=600
        ),
        repeat=3,
    )
    csv = "LastName,FirstName,Email\n" + "".join(
        f"Bulk {i},F{i},bulk{i}@example.com\n" for i in range(BULK_ROWS)
    )
    began = time.perf_counter()
    job = session.post(
        f"{api}/jobs/ingest", json={"object": "Contact", "operation": "insert"}, timeout=600
    ).json()["id"]
    session.put(
        f"{api}/jobs/ingest/{job}/batches",
        data=csv.encode(),
        headers={"Content-Type": "text/csv"},
        timeout=600,
    ).raise_for_status()
    session.patch(f"{api}/jobs/ingest/{job}", json={"state": "UploadComplete"}, timeout=600)
    while (state := session.get(f"{api}/jobs/ingest/{job}", timeout=600).json()["state"]) not in (
        "JobComplete",
        "Failed",
    ):
        time.sleep(POLL)
    bulk = time.perf_counter() - began
    if state != "JobComplete":
        raise RuntimeError(f"the Bulk job ended {state}")
    queue, processing = p.bulk_seconds("ingest", BULK_ROWS)
    calls = 4 * p.call_seconds({}) / speed  # create, upload, close, the poll that sees it done
    return [
        (
            "Salesforce Collections insert, 200 records",
            collections,
            p.call_seconds({"create": 200}) / speed,
        ),
        ("Salesforce query page, 2,000 rows", page, p.call_seconds({"query": 2000}) / speed),
        (f"Salesforce Bulk 2.0 ingest job, {BULK_ROWS:,} rows", bulk, calls + queue + processing),
    ]


def dynamics_calls(info: dict[str, Any], speed: float) -> list[tuple[str, float, float]]:
    """(what, seconds measured, seconds the production figures predict)."""
    p = production_profile("dynamics", speed=speed)
    session, api = _session(info), f"{info['url']}/api/data/v9.2"
    session.get(f"{api}/", timeout=60)
    targets = [
        {"@odata.type": "Microsoft.Dynamics.CRM.contact", "lastname": f"Bench {i}"}
        for i in range(1000)
    ]
    create = _timed(
        lambda: session.post(
            f"{api}/contacts/Microsoft.Dynamics.CRM.CreateMultiple",
            json={"Targets": targets},
            timeout=600,
        )
    )
    page = _timed(
        lambda: session.get(
            f"{api}/contacts?$select={DV_COLUMNS}",
            headers={"Prefer": "odata.maxpagesize=2000"},
            timeout=600,
        ),
        repeat=3,
    )
    return [
        ("Dataverse CreateMultiple, 1,000 rows", create, p.call_seconds({"create": 1000}) / speed),
        ("Dataverse query page, 2,000 rows", page, p.call_seconds({"query": 2000}) / speed),
    ]


def dynamics_burst(info: dict[str, Any]) -> str:
    """Send BURST CreateMultiple requests at once; resend the refused ones after Retry-After."""
    sessions = [_session(info) for _ in range(BURST)]
    api = f"{info['url']}/api/data/v9.2"
    for session in sessions:
        session.get(f"{api}/", timeout=60)
    start = threading.Barrier(BURST)
    first: list[tuple[int, str]] = []
    resent: list[int] = []
    lock = threading.Lock()

    def send(number: int, session: requests.Session) -> None:
        targets = [
            {"@odata.type": "Microsoft.Dynamics.CRM.contact", "lastname": f"Burst {number}-{i}"}
            for i in range(BURST_ROWS)
        ]
        url = f"{api}/contacts/Microsoft.Dynamics.CRM.CreateMultiple"
        start.wait()
        reply = session.post(url, json={"Targets": targets}, timeout=600)
        code = reply.json()["error"]["code"] if reply.status_code == 429 else ""
        with lock:
            first.append((reply.status_code, code))
        tries = 0
        while reply.status_code == 429:
            time.sleep(float(reply.headers.get("Retry-After", "1")))
            reply, tries = session.post(url, json={"Targets": targets}, timeout=600), tries + 1
        if reply.status_code != 200:
            raise RuntimeError(f"{reply.status_code}: {reply.text[:300]}")
        with lock:
            resent.append(tries)

    threads = [threading.Thread(target=send, args=(n, s)) for n, s in enumerate(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    count = (
        sessions[0]
        .get(
            f"{api}/contacts?$select=contactid&$filter=startswith(lastname,'Burst ')&$count=true",
            headers={"Prefer": "odata.maxpagesize=1"},
            timeout=600,
        )
        .json()["@odata.count"]
    )
    served = sum(1 for status, _ in first if status == 200)
    refused = collections.Counter(code for status, code in first if status == 429)
    expected = BURST * BURST_ROWS
    return (
        f"{BURST} CreateMultiple of {BURST_ROWS} sent at once: {served} served, refused "
        f"{dict(refused) or 'none'}; every refused one resent after Retry-After and served "
        f"({sum(resent)} resends); contacts written {count:,} of {expected:,}: "
        + ("none lost, none doubled" if count == expected else "MISMATCH")
    )


def bench_profiles(crms: list[str], speed: float) -> None:
    print(f"\nProfiles: production at speed={speed:g} (times are real seconds of this run)")
    print(f"{'call':<44} {'local':>8} {'production':>11} {'predicted':>10} {'off by':>8}")
    for crm in crms:
        measured: dict[str, list[tuple[str, float, float]]] = {}
        for profile in ("local", "production"):
            with serve(crm, profile, speed) as info:
                calls = salesforce_calls if crm == "salesforce" else dynamics_calls
                measured[profile] = calls(info, speed)
                if crm == "dynamics" and profile == "production":
                    burst = dynamics_burst(info)
        for (what, local, _), (_, prod, predicted) in zip(
            measured["local"], measured["production"], strict=True
        ):
            off = prod / predicted - 1
            verdict = "ok" if abs(off) <= 0.10 else "OUT"
            print(
                f"{what:<44} {local:>7.3f}s {prod:>10.3f}s {predicted:>9.3f}s {off:>+7.1%} {verdict}"
            )
        if crm == "dynamics":
            print(f"Dataverse concurrency (production): {burst}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--part", nargs="+", default=["throughput", "profiles"], choices=["throughput", "profiles"]
    )
    parser.add_argument(
        "--scale", type=float, default=20.0, help="demo scale (20 = 100,000 contacts)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--crm", nargs="+", default=["salesforce", "dynamics"], choices=["salesforce", "dynamics"]
    )
    parser.add_argument(
        "--speed", type=float, default=5.0, help="production profile speed= (5: 5x faster)"
    )
    args = parser.parse_args()
    if "throughput" in args.part:
        for crm in args.crm:
            bench(crm, args.scale, args.rounds)
    if "profiles" in args.part:
        bench_profiles(args.crm, args.speed)


if __name__ == "__main__":
    main()
