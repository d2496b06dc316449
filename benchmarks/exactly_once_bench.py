"""Exactly once, counted: faults and SIGKILLs against a sandbox with org automation on.

For each CRM and write path — an insert mapping an external id, an insert without one, an
upsert on the external id — ROWS new contacts are exported with org automation on (text
trimmed, defaults filled, a flow / plug-in formatting phones) while the sandbox:

- ``drop``: closes the connection of one write call before processing it (nothing written);
- ``drop_after``: processes one write call, then closes the connection (the answer is lost);
- ``sigkill``: the export runs in a child process that is SIGKILLed KILLS times at random
  points (every write call is slowed down a little so kills land inside calls), each time
  resumed with the same journal, then run to the end.

Then a second run with the same journal, and the sandbox's own records are counted: rows
sent, records in the CRM, duplicates (rows in the CRM more than once), lost (rows neither in
the CRM nor in the rejects), and ``OUTCOME_UNKNOWN`` rejects (rows a lookup could not settle
without guessing; in the CRM at most once).

    python benchmarks/exactly_once_bench.py [--rows 200] [--kills 10] [--crm salesforce dynamics]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from crmframes import Clock, DynamicsConnector, SalesforceConnector, Sandbox, export_to_crm

NAMES = {
    "salesforce": ("Contact", "LastName", "Phone", "External_Id__c", "composite/sobjects"),
    "dynamics": ("contact", "lastname", "telephone1", "crmf_externalid", r"\$batch"),
}
PATHS = ("insert", "insert-no-external-id", "upsert")
DELAY = 0.04


def frame(crm: str, path: str, rows: int) -> pd.DataFrame:
    _, last, phone, external, _ = NAMES[crm]
    tag = {"insert": "I", "insert-no-external-id": "N", "upsert": "U"}[path]
    df = pd.DataFrame(
        {
            last: [f" {tag}row{i} " for i in range(rows)],  # trimmed by the org
            phone: [f"415555{i:04d}" for i in range(rows)],  # formatted by the flow / plug-in
            external: [f"{tag}-{i}" for i in range(rows)],
        }
    )
    return df.drop(columns=[external]) if path == "insert-no-external-id" else df


def export(conn: object, crm: str, path: str, df: pd.DataFrame, journal: str) -> dict[str, object]:
    obj, _, _, external, _ = NAMES[crm]
    result = export_to_crm(
        conn,  # type: ignore[arg-type]
        obj,
        df,
        key=external if path == "upsert" else None,
        journal=journal,
        batch_size=10,
        progress=False,
    )
    rejects = result.rejects
    return {
        "unknown": rejects.loc[rejects["errorSymbol"] == "OUTCOME_UNKNOWN", "inputIndex"].tolist(),
        "rejected": rejects["inputIndex"].tolist(),
    }


def child(argv: list[str]) -> int:
    crm, path, frame_path, journal = argv
    connector = SalesforceConnector if crm == "salesforce" else DynamicsConnector
    outcome = export(connector.from_env(), crm, path, pd.read_parquet(frame_path), journal)
    print(json.dumps(outcome))
    return 0


def writes(sb: Sandbox) -> int:
    calls = sb.api_calls()
    return sum(calls.get(family, 0) for family in ("composite", "bulk2", "batch"))


def killed_runs(sb: Sandbox, args: list[str], kills: int, rng: random.Random) -> dict[str, object]:
    env = {**os.environ, **sb.env()}
    command = [sys.executable, __file__, "--child", *args]
    for _ in range(kills):
        before = writes(sb)
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wanted = rng.randint(1, 3)
        while proc.poll() is None and writes(sb) - before < wanted:
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 2 * DELAY))
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    done = subprocess.run(command, env=env, capture_output=True, check=True, text=True)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def measure(crm: str, path: str, fault: str, rows: int, kills: int) -> dict[str, object]:
    obj, last, _, _, endpoint = NAMES[crm]
    df = frame(crm, path, rows)
    with (
        tempfile.TemporaryDirectory() as folder,
        Sandbox(crm, data="empty", clock=Clock(), automation=True) as sb,
    ):
        journal = str(Path(folder) / "export.jsonl")
        if fault == "sigkill":
            frame_path = Path(folder) / "frame.parquet"
            df.to_parquet(frame_path)
            sb.faults.add("slow", endpoint, every=1, delay=DELAY)
            killed_runs(sb, [crm, path, str(frame_path), journal], kills, random.Random(crm + path))
        else:
            sb.faults.add(fault, endpoint, times=1)
            export(sb.connector(), crm, path, df, journal)
        final = export(sb.connector(), crm, path, df, journal)  # the same journal: settles all
        counts = sb.records(obj)[last].value_counts()
    stored = [counts.get(name.strip(), 0) for name in df[last]]
    rejected = set(final["rejected"])  # type: ignore[arg-type]
    return {
        "crm": crm,
        "path": path,
        "fault": fault if fault != "sigkill" else f"sigkill x{kills}",
        "rows": rows,
        "records": sum(stored),
        "duplicates": sum(n - 1 for n in stored if n > 1),
        "lost": sum(1 for i, n in enumerate(stored) if n == 0 and i not in rejected),
        "unknown": len(final["unknown"]),  # type: ignore[arg-type]
    }


def main() -> int:
    if sys.argv[1:2] == ["--child"]:
        return child(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--crm", nargs="+", default=["salesforce", "dynamics"])
    options = parser.parse_args()
    lines = [
        measure(crm, path, fault, options.rows, options.kills)
        for crm in options.crm
        for path in PATHS
        for fault in ("drop", "drop_after", "sigkill")
    ]
    print(pd.DataFrame(lines).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
