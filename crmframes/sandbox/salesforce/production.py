"""Salesforce on a production profile: its figures and how it refuses a request over a limit.

Edge: the ``production`` and ``limits`` of the Salesforce sandbox support
(:class:`~crmframes.registry.SandboxSupport`), read by :mod:`crmframes.sandbox.profile`.
Short calls are not limited; when 25 requests running longer than 20 seconds are in flight,
a new one is refused 403 ``REQUEST_LIMIT_EXCEEDED`` "ConcurrentPerOrgLongTxn Limit exceeded."
(reference/salesforce-api.md §9; App Limits Cheatsheet, API Request Limits and Allocations).
The figures and their sources are in the README, "Production profile figures".
"""

from __future__ import annotations

from collections.abc import Mapping

from crmframes.sandbox.profile import Limit, Profile
from crmframes.sandbox.server import Response

__all__ = ["LIMITS", "PRODUCTION", "SalesforceLimits"]

PRODUCTION = Profile(
    round_trip=0.061,
    request_overhead=0.050,
    query_row=0.0002,
    create=0.008,
    update=0.008,
    upsert=0.010,
    delete=0.006,
    capacity=1_000,
    long_running_limit=25,
    bulk_queue=2.0,
    bulk_ingest_row=0.0005,
    bulk_query_row=0.0001,
    bulk_daily_records=150_000_000,
)


class SalesforceLimits:
    """Salesforce's concurrent long-running request limit, refused with no ``Retry-After``."""

    enforced: frozenset[Limit] = frozenset({"long_running"})

    def refusal(
        self, limit: Limit, profile: Profile, *, retry_after: int | None
    ) -> tuple[str, Response]:
        """The 403 ``REQUEST_LIMIT_EXCEEDED`` refusing a new request, counted by its limit."""
        answer = [
            {
                "message": "ConcurrentPerOrgLongTxn Limit exceeded.",
                "errorCode": "REQUEST_LIMIT_EXCEEDED",
            }
        ]
        return "ConcurrentPerOrgLongTxn", Response.json(403, answer)

    def advice(self, profile: Profile) -> Mapping[str, str]:
        """Nothing: Salesforce advises no degree of parallelism."""
        return {}


LIMITS = SalesforceLimits()
