"""The sandbox's demo org: a deterministic, realistic small CRM with planted duplicates.

Pure: stdlib and numpy only. :func:`generate_demo_org` builds it CRM-neutral; each CRM's
sandbox module maps it onto its own records, names and ids.
"""

from __future__ import annotations

from crmframes.sandbox.demo_org.org import DemoOrg, generate_demo_org, scaled_counts
from crmframes.sandbox.demo_org.reference import (
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
    SEED,
)

__all__ = [
    "ACCOUNT_TYPES",
    "BASE_COUNTS",
    "DUPLICATE_VARIATIONS",
    "INDUSTRIES",
    "LEAD_SOURCES",
    "LEAD_STATUSES",
    "OPPORTUNITY_STAGES",
    "OPPORTUNITY_TYPES",
    "RATINGS",
    "SALUTATIONS",
    "SEED",
    "DemoOrg",
    "generate_demo_org",
    "scaled_counts",
]
