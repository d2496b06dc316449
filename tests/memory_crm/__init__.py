"""A small third CRM, written outside crmframes: proof that a CRM is two packages and a registration.

``client`` is its client side (settings, accounts-file entry, a connector over HTTPS);
``sandbox`` is its emulation (one in-memory table of members behind a JSON API), served by
crmframes' own sandbox machinery. :func:`registered` adds it to :mod:`crmframes.registry`
for the length of a ``with`` block; nothing in ``crmframes/`` names it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from crmframes import registry
from tests.memory_crm.client import KIND

__all__ = ["KIND", "registered"]


@contextmanager
def registered() -> Iterator[registry.CrmKind]:
    """Register the memory CRM, and forget it afterwards."""
    registry.register(KIND)
    try:
        yield KIND
    finally:
        registry.unregister(KIND.name)
