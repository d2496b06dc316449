"""How fast CampaignStore.merge upserts a batch into a large file store, against pandas.

Builds a file store of ``--rows`` contacts (10 columns: an 18-character id, 4 more VARCHAR,
DOUBLE, BIGINT, BOOLEAN and 2 TIMESTAMP WITH TIME ZONE), reopens it as a new session would,
then merges a batch of ``--batch`` contacts of which ``--overlap`` have stored keys (all
newer, so every one of them is rewritten). The baseline is what a user would otherwise
write, on the same data held in memory:
``pd.concat([existing, batch]).drop_duplicates(subset="Id", keep="last")``. Only the merge
step is timed on both sides, never the initial load; each merge round starts from a fresh
copy of the loaded file. Target (DESIGN §5): >= 5x pandas, compared on the medians.

    python benchmarks/merge_bench.py [--rows 5000000] [--batch 1000000] [--overlap 0.1] [--rounds 3]

With ``--store postgresql://...`` the same frames are merged into PostgreSQL instead, against
pandas ``to_sql(method="multi")`` + a delete of the overlapping keys and dlt's merge, and two
concurrent writers are timed against one (benchmarks/merge_bench_pg.py).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from crmframes.store import CampaignStore

EPOCH_US = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z
YEAR_US = 365 * 24 * 3600 * 1_000_000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def prefixed(prefix: str, numbers: np.ndarray, width: int = 0) -> pa.Array:
    text = pc.cast(pa.array(numbers), pa.string())
    if width:
        text = pc.utf8_lpad(text, width, "0")
    return pc.binary_join_element_wise(prefix, text, "")


def contacts(numbers: np.ndarray, rng: np.random.Generator, *, newer: bool) -> pd.DataFrame:
    """Contacts whose ids are 003 + the zero-padded numbers (18 characters, like Salesforce)."""
    n = len(numbers)
    city = prefixed("City ", rng.integers(0, 2_000, n))
    created = EPOCH_US + rng.integers(0, YEAR_US, n)
    modified = created + rng.integers(0, YEAR_US, n) + (2 * YEAR_US if newer else 0)
    table = pa.table(
        {
            "Id": prefixed("003", numbers, 15),
            "FirstName": prefixed("First", rng.integers(0, 50_000, n)),
            "LastName": prefixed("Last", rng.integers(0, 200_000, n)),
            "Email": pc.binary_join_element_wise(
                prefixed("user", rng.integers(0, 10**9, n)), "@example.org", ""
            ),
            "MailingCity": pc.if_else(
                pa.array(rng.random(n) < 0.25), pa.scalar(None, pa.string()), city
            ),
            "Score__c": pa.array(rng.random(n) * 100),
            "Visits__c": pa.array(rng.integers(0, 1_000, n)),
            "HasOptedOutOfEmail": pa.array(rng.random(n) < 0.1),
            "CreatedDate": pa.array(created, pa.timestamp("us", tz="UTC")),
            "LastModifiedDate": pa.array(modified, pa.timestamp("us", tz="UTC")),
        }
    )
    return table.to_pandas()


def time_merge(pristine: Path, scratch: Path, batch: pd.DataFrame) -> tuple[float, str, int]:
    """Merge into a fresh copy of the loaded store, reopened as a later session would."""
    path = scratch / "round.duckdb"
    shutil.copyfile(pristine, path)
    os.sync()  # so the copy's write-back does not land inside the timed merge
    with CampaignStore(path) as store:
        began = time.perf_counter()
        result = store.merge("Contact", batch, key="Id", modified="LastModifiedDate")
        seconds = time.perf_counter() - began
        counted = store.sql('SELECT count(DISTINCT "Id") AS ids FROM "Contact"')
    path.unlink()
    return seconds, str(result), int(counted["ids"][0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000, help="rows in the store")
    parser.add_argument("--batch", type=int, default=1_000_000, help="rows merged")
    parser.add_argument(
        "--overlap", type=float, default=0.1, help="share of the batch already stored"
    )
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each side")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--store", help="a postgresql:// URL: benchmark the PostgreSQL store")
    parser.add_argument(
        "--baseline-rounds", type=int, default=1, help="PostgreSQL: timed runs of the baselines"
    )
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    overlap = int(args.batch * args.overlap)
    began = time.perf_counter()
    existing = contacts(np.arange(args.rows), rng, newer=False)
    fresh = np.arange(args.rows, args.rows + args.batch - overlap)
    numbers = rng.permutation(
        np.concatenate([rng.choice(args.rows, overlap, replace=False), fresh])
    )
    batch = contacts(numbers, rng, newer=True)
    print(
        f"generated {args.rows:,} stored + {args.batch:,} incoming rows ({overlap:,} stored keys) "
        f"in {time.perf_counter() - began:.1f} s"
    )

    if args.store:
        import merge_bench_pg

        second = merge_bench_pg.disjoint_batch(
            args.rows, args.batch, args.overlap, args.rows + args.batch, args.seed + 1, contacts
        )
        merge_bench_pg.main(
            args.store,
            existing,
            batch,
            second,
            rounds=args.rounds,
            baseline_rounds=args.baseline_rounds,
        )
        return

    merge_times: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        pristine = Path(scratch) / "campaign.duckdb"
        began = time.perf_counter()
        with CampaignStore(pristine) as store:
            store.merge("Contact", existing, key="Id")
        print(
            f"initial load (not timed in the ratio): {time.perf_counter() - began:.1f} s, "
            f"file {pristine.stat().st_size / 2**20:,.0f} MiB"
        )
        for round_ in range(1, args.rounds + 1):
            seconds, result, ids = time_merge(pristine, Path(scratch), batch)
            merge_times.append(seconds)
            print(
                f"CampaignStore.merge round {round_}: {seconds:.2f} s  ({result}; {ids:,} ids stored)"
            )
    print(f"  peak RSS so far {peak_rss_mb():,.0f} MiB (both frames in memory + the store)")

    pandas_times: list[float] = []
    for round_ in range(1, args.rounds + 1):
        began = time.perf_counter()
        merged = pd.concat([existing, batch]).drop_duplicates(subset="Id", keep="last")
        pandas_times.append(time.perf_counter() - began)
        print(
            f"pandas concat + drop_duplicates round {round_}: {pandas_times[-1]:.2f} s ({len(merged):,} rows)"
        )
        del merged
    print(f"  peak RSS so far {peak_rss_mb():,.0f} MiB")

    merge_s, pandas_s = statistics.median(merge_times), statistics.median(pandas_times)
    ratio = pandas_s / merge_s
    print(
        f"\nmedian of {args.rounds}: merge {merge_s:.2f} s, pandas {pandas_s:.2f} s: merge is "
        f"{ratio:.1f}x faster (target >= 5x: {'met' if ratio >= 5 else 'NOT met'}); "
        f"best vs best {min(pandas_times) / min(merge_times):.1f}x; "
        f"first run vs first run {pandas_times[0] / merge_times[0]:.1f}x"
    )


if __name__ == "__main__":
    main()
