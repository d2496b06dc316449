"""Generate the sandbox's demo org: a deterministic, realistic small CRM with planted duplicates.

Pure: stdlib and numpy only (no sockets, no files, no DuckDB).

The org is CRM-neutral: records are dicts with snake_case keys and plain Python values, and
references between tables are 0-based indexes into the other lists; the per-CRM sandbox
modules map it onto Salesforce and Dataverse records. Every list is in creation order
(ascending ``created_at``), as an export ordered by record id would be.

Realism: international names (accents, apostrophes, hyphens, particles) drawn with a
popularity skew and matched to the country; about 120 real cities with their region,
postal-code shape and phone area code; phone numbers in the formats people type; emails
derived from names; Salesforce's standard picklist values; skewed amounts; nulls in
optional fields. About 6% of contacts are planted duplicates of another contact (the same
person entered again), and :attr:`DemoOrg.duplicates` is the ground truth. Some common names
("John Smith") are also given to several different people, so matching on the name alone
has false positives.

Determinism: the output depends only on ``(scale, seed)``, never on the clock, ``hash()`` or
the global RNG. Bulk draws are uniforms from numpy ``PCG64`` streams seeded with
``[seed, stream]``; indexes and choices are derived from them with exact arithmetic, so the
data does not change with the numpy version or the CPU.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from crmframes.frames import gc_paused
from crmframes.sandbox.demo_org.reference import (
    BASE_COUNTS,
    SEED,
    _Draw,
)
from crmframes.sandbox.demo_org.tables import (
    _accounts,
    _contacts,
    _leads,
    _opportunities,
    _users,
)

__all__ = ["DemoOrg", "generate_demo_org", "scaled_counts"]


@dataclass(frozen=True)
class DemoOrg:
    """The demo org's records, CRM-neutral, each list in creation order.

    Attributes:
        users: ``first_name, last_name, email, username, alias, is_active, created_at``.
        accounts: companies; ``owner`` is a user index, ``parent`` an account index or None.
        contacts: people; ``account`` is an account index or None; ``external_id`` is unique.
        leads: unconverted leads, their company as text.
        opportunities: deals of an account, with stage, probability and close date.
        duplicates: the ground truth of planted duplicate contacts, one dict per member of a
            cluster of two or more: ``contact`` (index), ``external_id``, ``cluster`` (int)
            and ``variation`` (``"original"`` or kinds joined by ``"+"``, e.g. ``"case+typo"``).
    """

    users: list[dict[str, Any]]
    accounts: list[dict[str, Any]]
    contacts: list[dict[str, Any]]
    leads: list[dict[str, Any]]
    opportunities: list[dict[str, Any]]
    duplicates: list[dict[str, Any]]


def scaled_counts(scale: float) -> dict[str, int]:
    """Return the record count per table at ``scale`` (users always stay 5).

    Args:
        scale: multiplier of :data:`BASE_COUNTS`; a positive finite number.

    Returns:
        ``round(base * scale)`` per table, at least 1; ``users`` is always 5.

    Raises:
        TypeError: ``scale`` is not a number.
        ValueError: ``scale`` is zero, negative or not finite.

    Examples:
        >>> scaled_counts(0.1)
        {'users': 5, 'accounts': 100, 'contacts': 500, 'leads': 200, 'opportunities': 150}
        >>> scaled_counts(200)["contacts"]
        1000000
    """
    if isinstance(scale, bool) or not isinstance(scale, int | float):
        raise TypeError(f"scale must be a number, got {type(scale).__name__}")
    if not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive number, got {scale!r}; Hint: 1 is the demo org")
    return {
        table: base if table == "users" else max(1, round(base * scale))
        for table, base in BASE_COUNTS.items()
    }


def generate_demo_org(scale: float = 1.0, *, seed: int = SEED) -> DemoOrg:
    """Generate the demo org; the same ``(scale, seed)`` always gives identical records.

    Args:
        scale: multiplier of the record counts (see :func:`scaled_counts`); 200 gives
            1,000,000 contacts.
        seed: the random seed, a non-negative integer.

    Returns:
        The org's users, accounts, contacts, leads, opportunities and duplicate ground truth.

    Raises:
        TypeError: ``scale`` or ``seed`` has the wrong type.
        ValueError: ``scale`` is not positive, or ``seed`` is negative.

    Examples:
        >>> org = generate_demo_org(0.01)
        >>> [len(org.accounts), len(org.contacts), len(org.leads)]
        [10, 50, 20]
        >>> org.contacts[0]["external_id"]
        'CT-0000001'
    """
    counts = scaled_counts(scale)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed}")
    with gc_paused():
        emails: set[str] = set()  # taken addresses: different people never share one
        users = _users(_Draw(seed, 1))
        accounts, acc = _accounts(_Draw(seed, 2), counts["accounts"])
        contacts, duplicates = _contacts(
            _Draw(seed, 3), random.Random(seed * 16 + 4), counts["contacts"], acc, emails
        )
        leads = _leads(_Draw(seed, 5), counts["leads"], acc, emails)
        opportunities = _opportunities(_Draw(seed, 6), counts["opportunities"], acc)
    return DemoOrg(users, accounts, contacts, leads, opportunities, duplicates)
