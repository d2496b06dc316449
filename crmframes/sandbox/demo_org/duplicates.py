"""Planting duplicate contacts in the demo org, and the ground truth that records them.

Pure: stdlib and numpy only. A duplicate is the same person entered again with one or two
variations (case, whitespace, accent, typo, nickname, missing field, phone format).
"""

from __future__ import annotations

import bisect
import random
from typing import Any, Final

from crmframes.sandbox.demo_org.reference import (
    _ACCENTED,
    _DAY_MS,
    _FOLDED,
    _KEYBOARD,
    _MS_CREATED_END,
    _NICKNAMES,
    DUPLICATE_VARIATIONS,
    LEAD_SOURCES,
)

__all__: list[str] = []

# --- planted duplicates ------------------------------------------------------------------------

_Row = dict[str, Any]
_Cluster = list[tuple[int, str]]  # (row in base-then-duplicates order, variation label)
_FIT_KEYS: Final = ("first_name", "last_name", "email", "phone", "mobile_phone", "birthdate")


def _plant_duplicates(
    rnd: random.Random, base: dict[str, list[Any]], created: list[int], n_dup: int
) -> tuple[dict[str, list[Any]], list[int], list[_Cluster]]:
    """Add ``n_dup`` duplicates of chosen base contacts (whose rows are in creation order).

    Each duplicate is created after at least one other base contact that comes after its
    original (or its previous duplicate), so once every row is sorted by creation time no
    two members of a cluster are adjacent, and each duplicate is strictly later.
    """
    b = len(created)
    dups: dict[str, list[Any]] = {key: [] for key in base}
    times: list[int] = []
    clusters: list[_Cluster] = []
    firsts, lasts = base["first_name"], base["last_name"]
    pools = {  # originals that the rarer variations need
        "nickname": [i for i, f in enumerate(firsts) if f in _NICKNAMES],
        "accent": [
            i for i, (f, s) in enumerate(zip(firsts, lasts, strict=True)) if {f, s} & _ACCENTED
        ],
    }
    used: set[int] = set()
    while len(times) < n_dup:
        r = rnd.random()
        size = min(1 if r < 0.7 else 2 if r < 0.92 else 3, n_dup - len(times))
        kinds = []
        for g in range(len(times), len(times) + size):  # the first ones cover every variation
            chosen = {DUPLICATE_VARIATIONS[g] if g < 7 else rnd.choice(DUPLICATE_VARIATIONS)}
            if rnd.random() < 0.35:
                chosen.add(rnd.choice(DUPLICATE_VARIATIONS))
            kinds.append(tuple(k for k in DUPLICATE_VARIATIONS if k in chosen))
        needs = {k for ks in kinds for k in ks}
        pool = next((pools[k] for k in pools if k in needs), None)
        original = -1
        for _ in range(200):
            cand = rnd.choice(pool) if pool else rnd.randrange(b)
            if cand not in used and cand < b - size:
                row = {key: base[key][cand] for key in _FIT_KEYS}
                if all(_fits(ks, row) for ks in kinds):
                    original = cand
                    break
        if original < 0:  # nothing suitable left: fall back to a variation that always applies
            free = [i for i in range(b - size) if i not in used]
            if not free:
                break
            kinds, original = [("case",)] * size, rnd.choice(free)
        used.add(original)
        row = {key: values[original] for key, values in base.items()}
        accented = (row["first_name"], row["last_name"])
        if "accent" in needs and rnd.random() < 0.5:
            # the other direction: the original was typed without accents, a later entry with
            for key in ("first_name", "last_name"):
                base[key][original] = row[key] = _FOLDED[row[key]]
        cluster: _Cluster = [(original, "original")]
        prev = original
        for j, ks in enumerate(kinds):
            dup = dict(row)
            _vary(rnd, dup, ks, accented)
            if rnd.random() < 0.4:
                dup["owner"] = rnd.randrange(4)
            if rnd.random() < 0.5:
                dup["lead_source"] = rnd.choice(LEAD_SOURCES)
            # a gap of a day to about a year, after at least one other contact
            gap = int((1 + 400 * rnd.random() ** 2) * _DAY_MS)
            q = max(prev + 1, bisect.bisect_right(created, created[original] + gap) - 1)
            q = min(q, b - size + j)
            end = created[q + 1] if q + 1 < b else _MS_CREATED_END + 1
            times.append(created[q] + int(rnd.random() * (end - created[q])))
            prev = q
            for key, values in dups.items():
                values.append(dup[key])
            cluster.append((b + len(times) - 1, "+".join(ks)))
        clusters.append(cluster)
    return dups, times, clusters


def _fits(kinds: tuple[str, ...], row: _Row) -> bool:
    """Whether every variation in ``kinds`` can be applied to (a copy of) ``row``."""
    first, last = row["first_name"], row["last_name"]
    if "nickname" in kinds and first not in _NICKNAMES:
        return False
    if "accent" in kinds and first not in _ACCENTED and last not in _ACCENTED:
        return False
    if "accent" in kinds and "nickname" in kinds and last not in _ACCENTED:
        return False  # the nickname replaces the first name: the accent must be in the last
    if "typo" in kinds and sum(ch.isalpha() for ch in last) < 3:
        return False
    if "phone_format" in kinds and row["phone"] is None and row["mobile_phone"] is None:
        return False
    if "missing" in kinds:
        targets = [row["email"], row["birthdate"]]
        if "phone_format" not in kinds:  # otherwise the phone is the one being reformatted
            targets.append(row["phone"])
        return any(t is not None for t in targets)
    return True


def _vary(rnd: random.Random, row: _Row, kinds: tuple[str, ...], accented: tuple[str, str]) -> None:
    """Apply the variations to a copy of the original, in an order that keeps each visible."""
    if "nickname" in kinds:
        row["first_name"] = _NICKNAMES[accented[0]]  # the original may have lost its accent
    if "accent" in kinds:
        if row["first_name"] in _ACCENTED or row["last_name"] in _ACCENTED:
            row["first_name"] = _FOLDED.get(row["first_name"], row["first_name"])
            row["last_name"] = _FOLDED[row["last_name"]]
        else:  # the original was stored without accents: this entry has them
            if "nickname" not in kinds:
                row["first_name"] = accented[0]
            row["last_name"] = accented[1]
    if "typo" in kinds:
        on_first = "nickname" not in kinds and len(row["first_name"]) >= 4 and rnd.random() < 0.3
        key = "first_name" if on_first else "last_name"
        row[key] = _typo(rnd, row[key])
    phone_key = "phone" if row["phone"] is not None else "mobile_phone"
    if "missing" in kinds:
        options = [k for k in ("email", "phone", "birthdate") if row[k] is not None]
        if "phone_format" in kinds and phone_key in options:
            options.remove(phone_key)
        row[rnd.choice(options)] = None
    if "phone_format" in kinds:
        row[phone_key] = _reformat_phone(rnd, row[phone_key])
    if "case" in kinds:
        upper = rnd.random() < 0.65
        for key in ("first_name", "last_name"):
            row[key] = row[key].upper() if upper else row[key].lower()
        if upper and row["email"] is not None:
            row["email"] = row["email"].upper()
    if "whitespace" in kinds:
        keys = ["first_name", "last_name"] + (["email"] if row["email"] is not None else [])
        for key in rnd.sample(keys, rnd.choice((1, 2))):
            value = row[key]
            if " " in value and key != "email" and rnd.random() < 0.5:
                row[key] = value.replace(" ", "  ", 1)
            else:
                row[key] = rnd.choice((f" {value}", f"{value} ", f"  {value} "))


def _typo(rnd: random.Random, name: str) -> str:
    """Substitute (with a neighbouring key), delete or transpose one letter, not the first."""
    positions = [i for i in range(1, len(name)) if name[i].isalpha()]
    while True:
        i, op = rnd.choice(positions), rnd.random()
        ch = name[i]
        if op < 0.45 and ch.lower() in _KEYBOARD:
            sub = rnd.choice(_KEYBOARD[ch.lower()])
            typo = name[:i] + (sub.upper() if ch.isupper() else sub) + name[i + 1 :]
        elif op < 0.75 and len(positions) > 2:
            typo = name[:i] + name[i + 1 :]
        elif i + 1 < len(name) and name[i + 1].isalpha():
            typo = name[:i] + name[i + 1] + ch + name[i + 2 :]
        else:
            continue
        if typo != name:
            return typo


def _reformat_phone(rnd: random.Random, phone: str) -> str:
    """Write the same digits with other separators: "(415) 555-0132" -> "415.555.0132"."""
    plus = "+" if phone.startswith("+") else ""
    groups = "".join(ch if ch.isdigit() else " " for ch in phone).split()
    digits, head = "".join(groups), "".join(groups)[:-4]
    chunks = [head[i : i + 3] for i in range(0, len(head), 3)] + [digits[-4:]]
    options = {plus + sep.join(groups) for sep in (" ", "-", ".", "")} | {plus + " ".join(chunks)}
    return rnd.choice(sorted(options - {phone}))
