"""Write the sandbox's demo org as CSV files: the snapshot committed in ``data/demo/``.

Edge: generates with :mod:`crmframes.sandbox.demo_org`, writes files with pandas.

Usage::

    python data/generate_demo.py                      # scale 1 into data/demo/
    python data/generate_demo.py --scale 0.1 --out /tmp/demo

Timestamps are written as ``2024-03-05T14:22:31.123Z`` (UTC), dates as ``2024-03-05``,
nulls as empty fields; ``owner``, ``account``, ``parent`` and ``contact`` are 0-based row
numbers in the other files.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

try:
    from crmframes.sandbox.demo_org import SEED, generate_demo_org
except ModuleNotFoundError:  # run from a checkout where the package is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from crmframes.sandbox.demo_org import SEED, generate_demo_org

__all__ = ["FILES", "main", "write_demo"]

FILES = {  # DemoOrg attribute: file name
    "users": "users.csv",
    "accounts": "accounts.csv",
    "contacts": "contacts.csv",
    "leads": "leads.csv",
    "opportunities": "opportunities.csv",
    "duplicates": "contact_duplicates.csv",
}
DEFAULT_OUT = Path(__file__).resolve().parent / "demo"


def write_demo(
    out: Path | str = DEFAULT_OUT, *, scale: float = 1.0, seed: int = SEED
) -> dict[Path, int]:
    """Generate the demo org and write one CSV per table into ``out``.

    Args:
        out: the folder to write into (created if missing; files in it are overwritten).
        scale: multiplier of the record counts (1 is the committed snapshot).
        seed: the generator's seed.

    Returns:
        The number of records written to each path, in :data:`FILES` order.
    """
    org = generate_demo_org(scale, seed=seed)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for table, filename in FILES.items():
        path = folder / filename
        frame = _frame(getattr(org, table))
        # "\n" explicitly: pandas would use os.linesep, and the snapshot must be byte-stable
        frame.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")
        written[path] = len(frame)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, write the files and print one line per file; return 0."""
    parser = argparse.ArgumentParser(description="Write the sandbox's demo org as CSV files.")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply record counts (default 1)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder (default data/demo)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"random seed (default {SEED})")
    args = parser.parse_args(argv)
    for path, records in write_demo(args.out, scale=args.scale, seed=args.seed).items():
        print(f"wrote {records:>9,} records to {path}")
    return 0


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Put records in a frame with CSV-ready columns (ISO dates, integers that may be null)."""
    columns: dict[str, Any] = {}
    for key in rows[0] if rows else ():
        values = [row[key] for row in rows]
        kinds = {type(v) for v in values if v is not None}
        if kinds == {datetime}:
            columns[key] = [_timestamp(v) for v in values]
        elif kinds == {date}:
            columns[key] = [None if v is None else v.isoformat() for v in values]
        elif kinds == {int}:
            columns[key] = pd.array(values, dtype="Int64")  # not floats with a ".0"
        else:
            columns[key] = values
    return pd.DataFrame(columns)


def _timestamp(value: datetime | None) -> str | None:
    """Write a UTC datetime as Salesforce does: ``2024-03-05T14:22:31.123Z``."""
    return None if value is None else value.isoformat(timespec="milliseconds")[:-6] + "Z"


if __name__ == "__main__":
    raise SystemExit(main())
