from __future__ import annotations

import ast
import importlib.util
import math
import unicodedata
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from itertools import pairwise
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from crmframes.sandbox import demo_org
from crmframes.sandbox.demo_org import (
    ACCOUNT_TYPES,
    BASE_COUNTS,
    DUPLICATE_VARIATIONS,
    INDUSTRIES,
    LEAD_SOURCES,
    LEAD_STATUSES,
    OPPORTUNITY_STAGES,
    OPPORTUNITY_TYPES,
    RATINGS,
    SALUTATIONS,
    DemoOrg,
    generate_demo_org,
    scaled_counts,
)

ROOT = Path(__file__).resolve().parents[2]
TABLES = ("users", "accounts", "contacts", "leads", "opportunities")
START, END = datetime(2023, 1, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)

STR, OSTR, INT, OINT, OFLOAT, BOOL, ODATE, STAMP = (  # field types; O: may be None
    str, (str, None), int, (int, None), (float, None), bool, (date, None), datetime
)  # fmt: skip
TYPES: dict[str, dict[str, Any]] = {
    "users": {
        "first_name": STR, "last_name": STR, "email": STR, "username": STR, "alias": STR,
        "is_active": BOOL, "created_at": STAMP},
    "accounts": {
        "name": STR, "account_number": STR, "type": OSTR, "industry": OSTR,
        "annual_revenue": OFLOAT, "employees": OINT, "phone": OSTR, "website": OSTR, "street": OSTR,
        "city": STR, "state": STR, "postal_code": STR, "country": STR, "description": OSTR,
        "owner": INT, "parent": OINT, "created_at": STAMP, "modified_at": STAMP},
    "contacts": {
        "external_id": STR, "salutation": OSTR, "first_name": STR, "last_name": STR, "email": OSTR,
        "phone": OSTR, "mobile_phone": OSTR, "birthdate": ODATE, "title": OSTR, "department": OSTR,
        "street": OSTR, "city": STR, "state": STR, "postal_code": STR, "country": STR,
        "lead_source": OSTR, "email_opt_out": BOOL, "do_not_call": BOOL, "account": OINT,
        "owner": INT, "created_at": STAMP, "modified_at": STAMP},
    "leads": {
        "first_name": STR, "last_name": STR, "company": STR, "title": OSTR, "email": OSTR,
        "phone": OSTR, "status": STR, "lead_source": OSTR, "industry": OSTR, "rating": OSTR,
        "annual_revenue": OFLOAT, "employees": OINT, "street": OSTR, "city": STR, "state": STR,
        "postal_code": STR, "country": STR, "is_converted": BOOL, "owner": INT, "created_at": STAMP,
        "modified_at": STAMP},
    "opportunities": {
        "name": STR, "account": INT, "amount": OFLOAT, "stage": STR, "close_date": date,
        "probability": INT, "type": OSTR, "lead_source": OSTR, "owner": INT, "created_at": STAMP,
        "modified_at": STAMP},
}  # fmt: skip


@pytest.fixture(scope="module")
def org() -> DemoOrg:
    return generate_demo_org()


def _isinstance(value: Any, expected: Any) -> bool:
    options = expected if isinstance(expected, tuple) else (expected,)
    if value is None:
        return None in options
    if isinstance(value, bool) and bool not in options:
        return False  # a bool is an int to isinstance, never to a CRM field
    return isinstance(value, tuple(t for t in options if t is not None))


def _fold(text: str) -> str:
    text = text.translate(
        str.maketrans({"ß": "ss", "ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ı": "i"})
    )
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _one_edit(a: str, b: str) -> bool:
    """One letter substituted, deleted or two neighbours transposed."""
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        swapped = len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
        return len(diff) == 1 or (swapped and a[diff[1]] == b[diff[0]])
    short, long = sorted((a, b), key=len)
    return len(long) == len(short) + 1 and any(
        long[:i] + long[i + 1 :] == short for i in range(len(long))
    )


def _digits(phone: str) -> str:
    return "".join(c for c in phone if c.isdigit())


def _clusters(org: DemoOrg) -> dict[int, list[dict[str, Any]]]:
    clusters: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for entry in org.duplicates:
        clusters[entry["cluster"]].append(entry)
    return clusters


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generate_demo", ROOT / "data" / "generate_demo.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- counts and arguments ------------------------------------------------------------------------


def test_scaled_counts_base_fraction_and_large() -> None:
    assert scaled_counts(1) == BASE_COUNTS
    assert scaled_counts(0.1) == {
        "users": 5,
        "accounts": 100,
        "contacts": 500,
        "leads": 200,
        "opportunities": 150,
    }
    assert scaled_counts(200) == {
        "users": 5, "accounts": 200_000, "contacts": 1_000_000, "leads": 400_000,
        "opportunities": 300_000,
    }  # fmt: skip
    assert scaled_counts(0.0001) == {
        "users": 5,
        "accounts": 1,
        "contacts": 1,
        "leads": 1,
        "opportunities": 1,
    }


@pytest.mark.parametrize("scale", [0, -1, -0.5, math.nan, math.inf])
def test_scaled_counts_rejects_non_positive_scale(scale: float) -> None:
    with pytest.raises(ValueError, match="scale must be a positive number"):
        scaled_counts(scale)
    with pytest.raises(ValueError, match="scale must be a positive number"):
        generate_demo_org(scale)


@pytest.mark.parametrize("scale", ["1", None, True])
def test_scaled_counts_rejects_non_numbers(scale: Any) -> None:
    with pytest.raises(TypeError, match="scale must be a number"):
        scaled_counts(scale)


@pytest.mark.parametrize(("seed", "error"), [(-1, ValueError), ("1", TypeError), (1.5, TypeError)])
def test_generate_demo_org_rejects_bad_seed(seed: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="seed must be"):
        generate_demo_org(0.01, seed=seed)


@pytest.mark.parametrize("scale", [0.001, 0.1, 0.37])
def test_generate_demo_org_counts_per_scale(scale: float) -> None:
    org = generate_demo_org(scale)
    assert {table: len(getattr(org, table)) for table in TABLES} == scaled_counts(scale)


def test_generate_demo_org_counts_at_scale_1(org: DemoOrg) -> None:
    assert {table: len(getattr(org, table)) for table in TABLES} == BASE_COUNTS
    assert sum(e["variation"] != "original" for e in org.duplicates) == 300  # 6% of 5000


# --- determinism ---------------------------------------------------------------------------------


def test_generate_demo_org_is_deterministic() -> None:
    assert generate_demo_org(0.1) == generate_demo_org(0.1)
    assert generate_demo_org(0.1, seed=7) == generate_demo_org(0.1, seed=7)


def test_generate_demo_org_differs_by_seed() -> None:
    first, other = generate_demo_org(0.1), generate_demo_org(0.1, seed=1)
    assert first.contacts != other.contacts
    assert [c["email"] for c in first.contacts] != [c["email"] for c in other.contacts]


def test_committed_snapshot_matches_the_generator(tmp_path: Path) -> None:
    script = _load_script()
    written = script.write_demo(tmp_path)
    assert sorted(p.name for p in written) == sorted(script.FILES.values())
    for path in written:
        committed = ROOT / "data" / "demo" / path.name
        assert committed.read_bytes() == path.read_bytes(), (
            f"{committed} is stale; regenerate with: python data/generate_demo.py"
        )


# --- fields --------------------------------------------------------------------------------------


@pytest.mark.parametrize("table", TABLES)
def test_records_have_the_documented_keys_and_types(org: DemoOrg, table: str) -> None:
    expected = TYPES[table]
    for row in getattr(org, table):
        assert list(row) == list(expected)
        for key, value in row.items():
            assert _isinstance(value, expected[key]), (table, key, value)


@pytest.mark.parametrize("table", TABLES)
def test_timestamps_are_utc_whole_milliseconds_in_creation_order(org: DemoOrg, table: str) -> None:
    rows = getattr(org, table)
    created = [row["created_at"] for row in rows]
    assert created == sorted(created)
    for row in rows:
        modified = row.get("modified_at", row["created_at"])
        assert row["created_at"].tzinfo is UTC and modified.tzinfo is UTC
        assert row["created_at"].microsecond % 1000 == 0 and modified.microsecond % 1000 == 0
        assert START <= row["created_at"] < END and row["created_at"] <= modified <= END


def test_references_point_at_existing_records(org: DemoOrg) -> None:
    n_users, n_accounts = len(org.users), len(org.accounts)
    for table in ("accounts", "contacts", "leads", "opportunities"):
        assert {row["owner"] for row in getattr(org, table)} <= set(range(n_users))
    for i, account in enumerate(org.accounts):
        assert account["parent"] is None or 0 <= account["parent"] < i  # an older parent: no cycles
    for row in org.contacts + org.opportunities:
        assert row["account"] is None or 0 <= row["account"] < n_accounts
        if row["account"] is not None:
            assert row["created_at"] >= org.accounts[row["account"]]["created_at"]
    assert all(o["account"] is not None for o in org.opportunities)
    assert 0.02 < sum(a["parent"] is not None for a in org.accounts) / n_accounts < 0.08
    assert 0.05 < sum(c["account"] is None for c in org.contacts) / len(org.contacts) < 0.11


@pytest.mark.parametrize(
    ("table", "key", "low", "high"),
    [
        ("contacts", "phone", 0.06, 0.14),
        ("contacts", "mobile_phone", 0.35, 0.45),
        ("contacts", "birthdate", 0.11, 0.19),
        ("contacts", "title", 0.07, 0.13),
        ("contacts", "street", 0.03, 0.08),
        ("contacts", "email", 0.02, 0.07),
        ("contacts", "salutation", 0.2, 0.35),
        ("accounts", "website", 0.05, 0.12),
        ("accounts", "annual_revenue", 0.1, 0.2),
        ("leads", "rating", 0.25, 0.35),
        ("opportunities", "amount", 0.03, 0.08),
    ],
)
def test_optional_fields_have_realistic_null_rates(
    org: DemoOrg, table: str, key: str, low: float, high: float
) -> None:
    rows = getattr(org, table)
    assert low <= sum(row[key] is None for row in rows) / len(rows) <= high


def test_picklists_use_salesforce_standard_values(org: DemoOrg) -> None:
    def values(table: str, key: str) -> set[Any]:
        return {row[key] for row in getattr(org, table)} - {None}

    assert values("accounts", "type") == set(ACCOUNT_TYPES)
    assert values("accounts", "industry") == values("leads", "industry") == set(INDUSTRIES)
    assert values("contacts", "lead_source") == set(LEAD_SOURCES)
    assert values("contacts", "salutation") == set(SALUTATIONS)
    assert values("leads", "status") == set(LEAD_STATUSES) - {
        "Closed - Converted"
    }  # none converted
    assert values("leads", "rating") == set(RATINGS)
    assert values("leads", "is_converted") == {False}
    assert values("opportunities", "stage") == set(OPPORTUNITY_STAGES)
    assert values("opportunities", "type") == set(OPPORTUNITY_TYPES)
    for opportunity in org.opportunities:
        assert opportunity["probability"] == OPPORTUNITY_STAGES[opportunity["stage"]]
        if opportunity["stage"] in ("Closed Won", "Closed Lost"):
            assert (
                opportunity["created_at"].date() <= opportunity["close_date"] <= date(2026, 10, 31)
            )


def test_people_look_real(org: DemoOrg) -> None:
    contacts = org.contacts
    assert {"José", "Zoë", "Björn", "François", "Chloé", "Łukasz"} & {
        c["first_name"] for c in contacts
    }
    last_names = {c["last_name"] for c in contacts}
    assert any("'" in name for name in last_names) and any("-" in name for name in last_names)
    assert any(not name.isascii() for name in last_names)
    assert len({c["country"] for c in contacts}) >= 10 and len({c["city"] for c in contacts}) >= 80
    births = [c["birthdate"] for c in contacts if c["birthdate"] is not None]
    assert date(1950, 1, 1) <= min(births) and max(births) <= date(2004, 12, 31)
    assert any(c["last_name"] == "Kowalska" for c in contacts if c["salutation"] in ("Ms.", "Mrs."))


def test_amounts_and_sizes_are_skewed(org: DemoOrg) -> None:
    amounts = sorted(o["amount"] for o in org.opportunities if o["amount"] is not None)
    assert amounts[0] >= 1_000 and amounts[-1] < 10_000_000
    assert amounts[len(amounts) // 2] < sum(amounts) / len(amounts)  # median below the mean
    employees = sorted(a["employees"] for a in org.accounts if a["employees"] is not None)
    assert employees[len(employees) // 2] < sum(employees) / len(employees)


def test_external_ids_and_emails_of_different_people_are_unique(org: DemoOrg) -> None:
    ids = [c["external_id"] for c in org.contacts]
    assert ids == [f"CT-{i + 1:07d}" for i in range(len(ids))]
    copies = {e["contact"] for e in org.duplicates if e["variation"] != "original"}
    people = [c for i, c in enumerate(org.contacts) if i not in copies] + org.leads
    emails = [p["email"] for p in people if p["email"] is not None]
    assert len(emails) == len(set(emails))
    assert all(e == e.strip().lower() and e.count("@") == 1 and " " not in e for e in emails)


# --- planted duplicates --------------------------------------------------------------------------


def test_duplicates_ground_truth_refers_to_valid_disjoint_clusters(org: DemoOrg) -> None:
    clusters = _clusters(org)
    members = [e["contact"] for e in org.duplicates]
    assert len(members) == len(set(members))  # no contact in two clusters
    assert sorted(clusters) == list(range(len(clusters)))
    for entries in clusters.values():
        assert 2 <= len(entries) <= 4
        assert [e["variation"] for e in entries].count("original") == 1
        for entry in entries:
            assert org.contacts[entry["contact"]]["external_id"] == entry["external_id"]


def test_duplicates_are_later_not_adjacent_and_keep_the_account(org: DemoOrg) -> None:
    for entries in _clusters(org).values():
        original = next(e["contact"] for e in entries if e["variation"] == "original")
        indexes = sorted(e["contact"] for e in entries)
        assert indexes[0] == original
        assert all(b - a > 1 for a, b in pairwise(indexes))
        first = org.contacts[original]
        for i in indexes[1:]:
            copy = org.contacts[i]
            assert copy["created_at"] > first["created_at"]
            assert (copy["account"], copy["city"], copy["postal_code"]) == (
                first["account"], first["city"], first["postal_code"]
            )  # fmt: skip


def test_duplicates_cover_every_variation(org: DemoOrg) -> None:
    kinds = Counter(
        k for e in org.duplicates if e["variation"] != "original" for k in e["variation"].split("+")
    )
    assert set(kinds) == set(DUPLICATE_VARIATIONS)
    assert min(kinds.values()) >= 15
    assert any("+" in e["variation"] for e in org.duplicates)


def test_each_single_variation_is_what_its_label_says(org: DemoOrg) -> None:
    originals = {
        e["cluster"]: org.contacts[e["contact"]]
        for e in org.duplicates
        if e["variation"] == "original"
    }
    seen = set()
    for entry in org.duplicates:
        kind, copy, first = (
            entry["variation"],
            org.contacts[entry["contact"]],
            originals[entry["cluster"]],
        )
        names = (copy["first_name"], copy["last_name"]), (first["first_name"], first["last_name"])
        if kind == "original" or "+" in kind:
            continue
        seen.add(kind)
        if kind == "case":
            assert names[0] != names[1] and [n.casefold() for n in names[0]] == [
                n.casefold() for n in names[1]
            ]
        elif kind == "whitespace":
            assert (*names[0], copy["email"]) != (*names[1], first["email"])
            squash = [" ".join(str(v).split()) for v in (*names[0], copy["email"])]
            assert squash == [" ".join(str(v).split()) for v in (*names[1], first["email"])]
        elif kind == "accent":
            assert names[0] != names[1] and [_fold(n) for n in names[0]] == [
                _fold(n) for n in names[1]
            ]
        elif kind == "typo":
            same = [a == b for a, b in zip(*names, strict=True)]
            assert sum(same) == 1 and all(
                _one_edit(a, b) for a, b in zip(*names, strict=True) if a != b
            )
        elif kind == "nickname":
            assert names[0][1] == names[1][1] and names[0][0] != names[1][0]
            assert len(names[0][0]) <= len(names[1][0]) and copy["email"] == first["email"]
        elif kind == "missing":
            keys = ("email", "phone", "birthdate")
            lost = [k for k in keys if copy[k] is None and first[k] is not None]
            assert len(lost) == 1 and all(copy[k] == first[k] for k in keys if k not in lost)
        elif kind == "phone_format":
            key = "phone" if first["phone"] is not None else "mobile_phone"
            assert copy[key] != first[key] and _digits(copy[key]) == _digits(first[key])
        if kind != "missing":
            assert copy["birthdate"] == first["birthdate"]
    assert seen == set(DUPLICATE_VARIATIONS)


def test_common_names_are_shared_by_different_people(org: DemoOrg) -> None:
    in_clusters = {e["contact"] for e in org.duplicates}
    strangers = Counter(
        (c["first_name"], c["last_name"])
        for i, c in enumerate(org.contacts)
        if i not in in_clusters
    )
    shared = [name for name, count in strangers.items() if count >= 3]
    assert ("John", "Smith") in shared and len(shared) >= 10
    smiths = [c for c in org.contacts if (c["first_name"], c["last_name"]) == ("John", "Smith")]
    assert len({c["email"] for c in smiths if c["email"]}) == sum(1 for c in smiths if c["email"])
    assert len({(c["birthdate"], c["city"]) for c in smiths}) > 1


def test_small_orgs_have_no_or_few_duplicates() -> None:
    assert generate_demo_org(0.001).duplicates == []
    small = generate_demo_org(0.01)  # 50 contacts: 3 duplicates
    assert sum(e["variation"] != "original" for e in small.duplicates) == 3


# --- purity --------------------------------------------------------------------------------------


def test_demo_org_imports_only_the_stdlib_and_numpy() -> None:
    imported = set()
    for path in Path(demo_org.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported |= {
            (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
    imported.discard("crmframes")
    allowed = {"__future__", "bisect", "collections", "contextlib", "dataclasses", "datetime", "gc",
               "math", "random", "typing", "unicodedata", "numpy"}  # fmt: skip
    assert imported <= allowed
