"""How fast the sandbox serves: query records per second over HTTPS, and start-up time.

The sandbox runs in its own process (`crmframes sandbox serve --json`), as a CRM would, so
the client's work does not share its interpreter. The client reads pages of 2,000 contacts
raw (bytes only, no JSON parsing), following `nextRecordsUrl`.

    python benchmarks/sandbox_bench.py [--scale 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import time

import requests

from crmframes import Sandbox

FIELDS = (
    "Id, FirstName, LastName, Email, Phone, AccountId, MailingCity, MailingCountry, Birthdate, "
    "HasOptedOutOfEmail, CreatedDate, LastModifiedDate"
)
NEXT = re.compile(rb'"nextRecordsUrl":"([^"]+)"')
TARGET = 300_000


def startup_seconds() -> float:
    started = time.perf_counter()
    with Sandbox("salesforce", data="demo"):
        return time.perf_counter() - started


def read_all(session: requests.Session, base: str, token: str) -> tuple[int, int, float, float]:
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    first = session.get(
        f"{base}/services/data/v59.0/query/",
        params={"q": f"SELECT {FIELDS} FROM Contact"},
        headers=headers,
        timeout=600,
    )
    first.raise_for_status()
    first_page = time.perf_counter() - started
    total = json.loads(first.content)["totalSize"]
    pages, body = 1, first.content
    while (match := NEXT.search(body[:400])) is not None:
        reply = session.get(base + match.group(1).decode(), headers=headers, timeout=600)
        reply.raise_for_status()
        body = reply.content
        pages += 1
    return total, pages, time.perf_counter() - started, first_page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale", type=float, default=20.0, help="demo scale (20 = 100,000 contacts)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    print(
        f"start-up of a default sandbox (demo org, scale 1): {startup_seconds():.2f} s (target < 2 s)"
    )

    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crmframes.cli",
            "sandbox",
            "serve",
            "--json",
            "--scale",
            str(args.scale),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        print(
            f"start-up at scale {args.scale:g} in its own process: {time.perf_counter() - started:.1f} s"
        )
        session = requests.Session()
        session.trust_env, session.verify = False, info["ca_file"]
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
        best = 0.0
        for round_ in range(1, args.rounds + 1):
            total, pages, seconds, first = read_all(session, info["url"], token)
            rate = total / seconds
            best = max(best, rate)
            print(
                f"round {round_}: {total:,} records in {pages} pages, {seconds:.2f} s "
                f"(first page after {first * 1000:.0f} ms): {rate:,.0f} records/s"
            )
        print(f"best: {best:,.0f} records/s = {best / TARGET:.2f}x the 300,000/s target")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


if __name__ == "__main__":
    main()
