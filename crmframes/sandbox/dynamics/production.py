"""Dataverse on a production profile: its figures and how it refuses a request over a limit.

Edge: the ``production`` and ``limits`` of the Dynamics sandbox support
(:class:`~crmframes.registry.SandboxSupport`), read by :mod:`crmframes.sandbox.profile`.
Service protection (reference/dataverse-api.md "Service protection"): per user per
5-minute sliding window, 6,000 requests (``0x80072322``) and 20 minutes of execution time
(``0x80072321``); 52 requests at once (``0x80072326``); each refusal is a 429 with
``Retry-After``. Every answer carries ``x-ms-dop-hint``, the degree of parallelism the
environment advises. The figures and their sources are in the README, "Production profile
figures".
"""

from __future__ import annotations

from collections.abc import Mapping

from crmframes.sandbox.dynamics.values import error_response
from crmframes.sandbox.profile import Limit, Profile
from crmframes.sandbox.server import Response

__all__ = ["LIMITS", "PRODUCTION", "DataverseLimits"]

PRODUCTION = Profile(
    round_trip=0.061,
    request_overhead=0.093,
    query_row=0.0005,
    create=0.028,
    update=0.028,
    upsert=0.028,
    delete=0.028,
    capacity=52,
    dop_hint=8,
    concurrent_limit=52,
    request_limit=6_000,
    execution_limit=1_200.0,
)
# Each limit's code and message, as Dataverse words them (reference: "Service protection").
_REFUSALS: dict[Limit, tuple[str, str]] = {
    "concurrent": ("0x80072326", "Number of concurrent requests exceeded the limit of {limit}."),
    "requests": (
        "0x80072322",
        "Number of requests exceeded the limit of {limit} over time window of {window:g} seconds.",
    ),
    "execution": (
        "0x80072321",
        "Combined execution time of incoming requests exceeded limit of {limit:,.0f} "
        "milliseconds over time window of {window:g} seconds. Decrease number of concurrent "
        "requests or reduce the duration of requests and try again later.",
    ),
}


class DataverseLimits:
    """Dataverse's service protection: a 429 with its code, message and ``Retry-After``."""

    enforced: frozenset[Limit] = frozenset(_REFUSALS)

    def refusal(
        self, limit: Limit, profile: Profile, *, retry_after: int | None
    ) -> tuple[str, Response]:
        """The 429 refusing a request over ``limit``, counted under its code."""
        code, message = _REFUSALS[limit]
        figures = {
            "concurrent": profile.concurrent_limit,
            "requests": profile.request_limit,
            "execution": (profile.execution_limit or 0) * 1000,  # milliseconds
        }
        text = message.format(limit=figures[limit], window=profile.window)
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        return code, error_response(429, code, text, headers)

    def advice(self, profile: Profile) -> Mapping[str, str]:
        """``x-ms-dop-hint``: the degree of parallelism the environment advises."""
        return {} if profile.dop_hint is None else {"x-ms-dop-hint": str(profile.dop_hint)}


LIMITS = DataverseLimits()
