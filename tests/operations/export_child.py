"""Run one export in a child process, to be killed at a random point (test_export_kill.py).

Usage: python -m tests.operations.export_child CRM OBJECT FRAME.parquet JOURNAL [KEY|-] [MODE SIZE
[PARALLEL [MAPPING-JSON]]]
The connector comes from the environment (``Sandbox.env()``); the export's result is
printed as one JSON line when it finishes.
"""

from __future__ import annotations

import json
import sys

import pandas as pd

from crmframes import DynamicsConnector, SalesforceConnector, export_to_crm


def main(argv: list[str]) -> int:
    crm, object_name, frame_path, journal = argv[:4]
    key = argv[4] if len(argv) > 4 and argv[4] != "-" else None
    mode = argv[5] if len(argv) > 5 else "batch"
    size = int(argv[6]) if len(argv) > 6 else 4
    parallel = int(argv[7]) if len(argv) > 7 else None
    mapping = json.loads(argv[8]) if len(argv) > 8 else None
    connector = SalesforceConnector if crm == "salesforce" else DynamicsConnector
    conn = connector.from_env()
    df = pd.read_parquet(frame_path)
    result = export_to_crm(
        conn,
        object_name,
        df,
        key=key,
        mapping=mapping,
        journal=journal,
        batch_size=size,
        mode=mode,  # type: ignore[arg-type]
        max_parallel=parallel,
        progress=False,
    )
    print(
        json.dumps(
            {
                "ok": len(result.frame),
                "rejected": len(result.rejects),
                "resumed": result.stats.resumed,
                "unknown": result.rejects.loc[
                    result.rejects["errorSymbol"] == "OUTCOME_UNKNOWN", "inputIndex"
                ].tolist(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
