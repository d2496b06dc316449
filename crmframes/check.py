"""Check that a CRM connection works: log in, read the API limits, read one record.

Orchestration: calls a connector (any CRM of :mod:`crmframes.registry`, which says what
its limits are and which object every org has) and reports each check as a
line saying what passed, or what failed and what to do next; ``crmframes check`` prints
them. A check that fails stops the ones that need it (no login, no read).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass

from crmframes import registry
from crmframes.connectors.base import Connector
from crmframes.errors import (
    AuthenticationError,
    ConfigError,
    ConnectorError,
    CrmframesError,
    PermissionDeniedError,
    RateLimitedError,
)

__all__ = ["Check", "check_connection"]


@dataclass(frozen=True)
class Check:
    """The outcome of one check: its name, whether it passed, and what it found or advises."""

    name: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{'✓' if self.ok else '✗'} {self.name:<8} {self.detail}"


def check_connection(
    connect: Callable[[], AbstractContextManager[Connector]], *, label: str
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
        yield Check("login", True, f"{label}: logged in to {conn.instance} ({conn.system})")
        yield _limits(conn)
        yield _read(conn)


# --- private helpers ------------------------------------------------------------------------


def _limits(conn: Connector) -> Check:
    try:
        limits = conn.read_limits()
        if limits.exhausted:
            return Check(
                "limits",
                False,
                f"{limits.detail}: calls fail until {limits.window} frees some; ask the "
                "org's admin or wait",
            )
        return Check("limits", True, limits.detail)
    except PermissionDeniedError as exc:
        # the connector's message names the permission, when its CRM has one for the limits
        return Check(
            "limits",
            False,
            f"{_said(exc)}. Reading the limits needs a permission imports and exports do not: "
            "grant it to this user to check the limits",
        )
    except CrmframesError as exc:
        return Check("limits", False, f"{_said(exc)}. {_advice(exc)}")


def _read(conn: Connector) -> Check:
    from crmframes.operations import import_from_crm

    probe = registry.crm_kind(conn.system).probe
    if probe is None:
        return Check("read", True, "nothing to read: this CRM names no object every org has")
    obj, field = probe
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
