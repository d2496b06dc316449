"""Check that a CRM connection works: log in, read the API limits, read one record.

Orchestration: calls a connector (Salesforce or Dataverse) and reports each check as a
line saying what passed, or what failed and what to do next; ``crmframes check`` prints
them. A check that fails stops the ones that need it (no login, no read).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from typing import Any

import orjson

from crmframes.errors import (
    AuthenticationError,
    ConfigError,
    ConnectorError,
    CrmframesError,
    PermissionDeniedError,
    RateLimitedError,
)

__all__ = ["Check", "check_connection"]

# The object each CRM is sure to have, read once to prove data access.
_COMMON_OBJECT = {"salesforce": ("Contact", "LastName"), "dynamics": ("contact", "lastname")}
# Dataverse answers every Web API call with its service protection counters (informational,
# reference/dataverse-api.md "Service protection"); it has no resource listing limits.
_DATAVERSE_HEADERS = (
    "x-ms-ratelimit-burst-remaining-xrm-requests",
    "x-ms-ratelimit-time-remaining-xrm-requests",
)


@dataclass(frozen=True)
class Check:
    """The outcome of one check: its name, whether it passed, and what it found or advises."""

    name: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{'✓' if self.ok else '✗'} {self.name:<8} {self.detail}"


def check_connection(
    connect: Callable[[], AbstractContextManager[Any]], *, label: str
) -> Iterator[Check]:
    """Yield the checks of one connection, in order: login, limits, read.

    Args:
        connect: opens the connection (a context manager yielding a connector); opening
            it is the login check.
        label: what is being checked, for the messages (``account 'prod'``).

    Yields:
        One :class:`Check` per step; after a failed login no other check is tried.
    """
    with ExitStack() as stack:
        try:
            conn = stack.enter_context(connect())
        except CrmframesError as exc:
            yield Check("login", False, f"{label}: {_said(exc)}. {_advice(exc)}")
            return
        system = getattr(conn, "system", "")
        yield Check("login", True, f"{label}: logged in to {conn.instance} ({system})")
        yield _limits(conn, system)
        yield _read(conn, system)


# --- private helpers ------------------------------------------------------------------------


def _limits(conn: Any, system: str) -> Check:
    try:
        if system == "salesforce":
            # GET /services/data/vXX.X/limits (reference/salesforce-api.md, limits)
            reply = conn.http.send("GET", conn.sf.base_url + "limits/", operation="read limits")
            daily = orjson.loads(reply.content).get("DailyApiRequests") or {}
            left, cap = int(daily.get("Remaining", 0)), int(daily.get("Max", 0))
            if cap and left == 0:
                return Check(
                    "limits",
                    False,
                    f"0 of {cap:,} daily API requests left: calls fail until the rolling "
                    "24-hour window frees some; ask the org's admin or wait",
                )
            return Check("limits", True, f"{left:,} of {cap:,} daily API requests left")
        # Dataverse: WhoAmI is the cheapest call; its headers carry the counters if any.
        reply = conn.http.send("GET", conn.api_root + "WhoAmI", operation="call WhoAmI")
        found = {name: reply.headers[name] for name in _DATAVERSE_HEADERS if name in reply.headers}
        if found:
            shown = ", ".join(
                f"{name.removeprefix('x-ms-ratelimit-')}={value}" for name, value in found.items()
            )
            return Check("limits", True, f"service protection headers: {shown}")
        return Check(
            "limits",
            True,
            "Dataverse lists no limits; this environment sent no service protection headers "
            "(defaults: 6,000 requests and 20 minutes of execution per user per 5 minutes)",
        )
    except PermissionDeniedError as exc:
        # Salesforce serves /limits only to users with "View Setup and Configuration"
        return Check(
            "limits",
            False,
            f"{_said(exc)}. Reading the limits needs the View Setup and Configuration "
            "permission; imports and exports do not",
        )
    except CrmframesError as exc:
        return Check("limits", False, f"{_said(exc)}. {_advice(exc)}")


def _read(conn: Any, system: str) -> Check:
    from crmframes.operations import import_from_crm

    obj, field = _COMMON_OBJECT.get(system, ("contact", "lastname"))
    try:
        result = import_from_crm(conn, obj, fields=[field], limit=1, progress=False)
    except CrmframesError as exc:
        return Check("read", False, f"{obj}: {_said(exc)}. {_advice(exc)}")
    rows = len(result.frame)
    what = "1 record" if rows == 1 else f"{rows} records (the object is empty)"
    return Check("read", True, f"read {what} of {obj} ({conn.api_calls} API calls in all)")


def _said(exc: CrmframesError) -> str:
    return str(exc).rstrip(". ")


def _advice(exc: CrmframesError) -> str:
    if isinstance(exc, AuthenticationError):
        return "Check the credentials (client id and secret, user, password, token) and the URL"
    if isinstance(exc, PermissionDeniedError):
        return "Give this user or app read access to the object (a permission set / role)"
    if isinstance(exc, RateLimitedError):
        return "The API limit is reached: wait, or ask the admin for a higher allocation"
    if isinstance(exc, ConfigError):
        return "Fix the account (accounts file or environment variables) and run again"
    status = f" (HTTP {exc.status})" if isinstance(exc, ConnectorError) and exc.status else ""
    return f"Check the URL and the network, then run again{status}"
