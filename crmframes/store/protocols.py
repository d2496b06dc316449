"""Declare what the operations and the campaign store take from each other.

Pure (types only). The operations never import the store, nor the store the operations
(DESIGN §2), so each side names here the members it uses of the other: nobody sniffs
attributes (``hasattr``), and any store with these members (DuckDB's
:class:`~crmframes.CampaignStore`, a PostgreSQL one) or any result of these shapes works.
The protocols are ``runtime_checkable``: ``isinstance`` tells the shapes apart.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Deletions", "IndexCompanions", "JournalStore", "OptionStore"]


@runtime_checkable
class OptionStore(Protocol):
    """A store that keeps options: where the automatic index keeps its watermark."""

    @property
    def options(self) -> MutableMapping[str, str]:
        """Option names to values, persisted with the store's data."""


@runtime_checkable
class JournalStore(OptionStore, Protocol):
    """A campaign store that export journals may be kept beside (``journal=store``)."""

    @property
    def path(self) -> str:
        """The database: a file path (journals go in ``<path>.journals``) or ``":memory:"``."""


@runtime_checkable
class Deletions(Protocol):
    """Records deleted in the CRM, as :func:`~crmframes.import_deleted_from_crm` returns them."""

    @property
    def frame(self) -> pd.DataFrame:
        """One row per deleted record."""

    @property
    def key(self) -> str:
        """The id column."""


@runtime_checkable
class IndexCompanions(Protocol):
    """An import result with options to write in its watermark's transaction."""

    @property
    def index_options(self) -> Mapping[str, str]:
        """Option names to values (the fields the automatic index's window covers)."""
