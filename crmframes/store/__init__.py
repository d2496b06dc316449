"""The campaign store: the local DuckDB database a CRM is synchronised into.

Edge: DuckDB. :class:`CampaignStore` keeps one table per CRM object and merges frames into
them (dedupe, never older over newer, counts), reads them back with their dtypes, runs SQL,
exports Parquet and holds the options of the automatic index.
"""

from __future__ import annotations

from crmframes.store.campaign import CampaignStore
from crmframes.store.merge import MergeResult, Watermarked
from crmframes.store.options import StoreOptions

__all__ = ["CampaignStore", "MergeResult", "StoreOptions", "Watermarked"]
