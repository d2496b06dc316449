"""The PostgreSQL half of merge_bench.py: CampaignStore.merge against hand-written pandas and dlt.

Run through ``python benchmarks/merge_bench.py --store postgresql://...``. The stored table is
loaded once (not timed) into schema ``bench_pristine``; every timed round starts from a fresh
copy of it in schema ``bench_round`` (``CREATE TABLE ... AS`` + the unique key index, then
``ANALYZE``), so each side merges into the same table. Sides, all on the same frames:

- ``CampaignStore.merge``: binary COPY into a temp table, dedupe, plan, INSERT ... ON CONFLICT;
- pandas, as users write it by hand: ``DELETE`` the batch's keys, then
  ``batch.to_sql(method="multi", chunksize=1000)`` over SQLAlchemy + psycopg 3 (no dedupe,
  no older-row check: less work than the merge does);
- dlt's ``merge`` write disposition into PostgreSQL (``primary_key="Id"``; Arrow items,
  loaded as CSV with COPY), when ``dlt[postgres]`` is installed;
- two writers at once: two processes merge two batches (disjoint new keys, each 10% stored)
  into one table, against one process merging both batches one after the other.

Needs ``pip install 'crmframes[postgres]' 'dlt[postgres]' sqlalchemy 'psycopg[binary]'``
(the benchmark's baselines only).
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from crmframes.store import CampaignStore

PRISTINE, ROUND = "bench_pristine", "bench_round"


def run_sql(url: str, *statements: str) -> None:
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(url, autocommit=True) as con, con.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def fresh_copy(url: str, schema: str = ROUND, table: str = "Contact") -> None:
    """A copy of the pristine table (and its key index) in ``schema``, analysed."""
    run_sql(
        url,
        f"DROP SCHEMA IF EXISTS {schema} CASCADE",
        f"CREATE SCHEMA {schema}",
        f'CREATE TABLE {schema}."{table}" AS SELECT * FROM {PRISTINE}."Contact"',
        f'CREATE UNIQUE INDEX ON {schema}."{table}" ("Id")',
        f'ANALYZE {schema}."{table}"',
        "CHECKPOINT",
    )


def count_ids(url: str, schema: str, table: str = "Contact", *, key: str = "Id") -> int:
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(url) as con, con.cursor() as cursor:
        cursor.execute(f'SELECT count(DISTINCT "{key}") FROM {schema}."{table}"')
        return int(cursor.fetchone()[0])


def time_store(url: str, batch: pd.DataFrame) -> tuple[float, str]:
    fresh_copy(url)
    with CampaignStore(url, schema=ROUND) as store:
        began = time.perf_counter()
        result = store.merge("Contact", batch, key="Id", modified="LastModifiedDate")
        return time.perf_counter() - began, str(result)


def time_pandas(url: str, batch: pd.DataFrame) -> tuple[float, str]:
    import sqlalchemy as sa

    fresh_copy(url)
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        began = time.perf_counter()
        with engine.begin() as con:
            con.execute(
                sa.text(f'DELETE FROM {ROUND}."Contact" WHERE "Id" = ANY(:ids)'),
                {"ids": batch["Id"].tolist()},
            )
            batch.to_sql(
                "Contact",
                con,
                schema=ROUND,
                if_exists="append",
                index=False,
                method="multi",
                chunksize=1000,
            )
        seconds = time.perf_counter() - began
    finally:
        engine.dispose()
    return seconds, f"{count_ids(url, ROUND):,} ids stored"


def time_dlt(url: str, batch: pd.DataFrame) -> tuple[float, str]:
    import os
    import tempfile

    import dlt
    import pyarrow as pa

    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")  # no network calls
    user = urlsplit(url).username
    if urlsplit(url).password is None and user:  # dlt insists on one (trust auth ignores it)
        url = url.replace(f"//{user}@", f"//{user}:unused@", 1)
    run_sql(url, "DROP SCHEMA IF EXISTS bench_dlt CASCADE")
    with tempfile.TemporaryDirectory() as state:
        pipeline = dlt.pipeline(
            pipeline_name="crmframes_bench",
            destination=dlt.destinations.postgres(url),
            dataset_name="bench_dlt",
            pipelines_dir=state,
        )

        def contact(table: pa.Table):  # type: ignore[no-untyped-def]
            return dlt.resource(table, name="contact", write_disposition="merge", primary_key="Id")

        stored = fetch_arrow(url, f'SELECT * FROM {PRISTINE}."Contact"')
        pipeline.run(contact(stored), loader_file_format="csv")  # the stored table: not timed
        del stored
        began = time.perf_counter()
        pipeline.run(
            contact(pa.Table.from_pandas(batch, preserve_index=False)), loader_file_format="csv"
        )
        seconds = time.perf_counter() - began
    ids = count_ids(url, "bench_dlt", "contact", key="id")  # dlt's snake_case names
    run_sql(url, "DROP SCHEMA IF EXISTS bench_dlt CASCADE")
    return seconds, f"{ids:,} ids stored"


def fetch_arrow(url: str, query: str):  # type: ignore[no-untyped-def]
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(url) as con, con.cursor() as cursor:
        cursor.execute(query)
        return cursor.fetch_arrow_table()


def _writer(url: str, batch: pd.DataFrame, ready, go) -> None:  # type: ignore[no-untyped-def]
    with CampaignStore(url, schema=ROUND) as store:
        ready.set()
        go.wait()
        store.merge("Contact", batch, key="Id", modified="LastModifiedDate")


def time_writers(url: str, batches: list[pd.DataFrame]) -> tuple[float, float]:
    """Wall time of one writer merging the batches in turn, and of one writer per batch."""
    fresh_copy(url)
    with CampaignStore(url, schema=ROUND) as store:
        began = time.perf_counter()
        for batch in batches:
            store.merge("Contact", batch, key="Id", modified="LastModifiedDate")
        one = time.perf_counter() - began
    fresh_copy(url)
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    readies = [context.Event() for _ in batches]
    workers = [
        context.Process(target=_writer, args=(url, batch, ready, go))
        for batch, ready in zip(batches, readies, strict=True)
    ]
    for worker in workers:
        worker.start()
    for ready in readies:
        ready.wait()
    began = time.perf_counter()
    go.set()
    for worker in workers:
        worker.join()
    several = time.perf_counter() - began
    return one, several


def median_of(rounds: int, name: str, timed: Callable[[], tuple[float, str]]) -> float | None:
    times = []
    for round_ in range(1, rounds + 1):
        try:
            seconds, note = timed()
        except ImportError as exc:
            print(f"{name}: skipped ({exc}; see the module docstring)")
            return None
        times.append(seconds)
        print(f"{name} round {round_}: {seconds:.2f} s ({note})")
    return statistics.median(times)


def main(
    url: str,
    existing: pd.DataFrame,
    batch: pd.DataFrame,
    second: pd.DataFrame,
    *,
    rounds: int,
    baseline_rounds: int,
) -> None:
    began = time.perf_counter()
    run_sql(url, f"DROP SCHEMA IF EXISTS {PRISTINE} CASCADE")
    with CampaignStore(url, schema=PRISTINE) as store:
        store.merge("Contact", existing, key="Id")
    print(
        f"initial load into PostgreSQL (not timed in the ratios): {time.perf_counter() - began:.1f} s"
    )

    merge_s = median_of(rounds, "CampaignStore.merge", lambda: time_store(url, batch))
    pandas_s = median_of(
        baseline_rounds, "pandas DELETE + to_sql(multi)", lambda: time_pandas(url, batch)
    )
    dlt_s = median_of(baseline_rounds, "dlt merge", lambda: time_dlt(url, batch))
    one, several = time_writers(url, [batch, second])
    print(
        f"two batches of {len(batch):,}: one writer after the other {one:.2f} s, "
        f"two writers at once {several:.2f} s ({one / several:.2f}x)"
    )
    assert merge_s is not None
    for name, seconds in (("pandas DELETE + to_sql(multi)", pandas_s), ("dlt merge", dlt_s)):
        if seconds is not None:
            print(
                f"median: merge {merge_s:.2f} s vs {name} {seconds:.2f} s: {seconds / merge_s:.1f}x"
            )
    run_sql(
        url, f"DROP SCHEMA IF EXISTS {PRISTINE} CASCADE", f"DROP SCHEMA IF EXISTS {ROUND} CASCADE"
    )


def disjoint_batch(
    rows: int, size: int, overlap: float, offset: int, seed: int, make: Callable[..., pd.DataFrame]
) -> pd.DataFrame:
    """Another batch: new keys after ``offset``, ``overlap`` of it stored keys."""
    rng = np.random.default_rng(seed)
    stored = int(size * overlap)
    numbers = np.concatenate(
        [rng.choice(rows, stored, replace=False), np.arange(offset, offset + size - stored)]
    )
    return make(rng.permutation(numbers), rng, newer=True)
