"""Fault injection for the sandbox: make chosen calls fail the way a real CRM fails.

Edge helper of the sandbox (no I/O). A fault names a kind, an endpoint pattern (a regular
expression searched in ``"METHOD /path"``) and when it fires: on the next ``times``
matching calls, or on every ``every``-th matching call. Request-level kinds are applied by
the server before (or, for ``drop_after``, after) the protocol handles the call; the
``lock_row`` kind fails individual records inside a write, as Salesforce's
``UNABLE_TO_LOCK_ROW`` or Dataverse's lock-contention error does.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Literal, get_args

__all__ = ["Fault", "FaultKind", "Faults"]

FaultKind = Literal[
    "unavailable",  # 503 Service Unavailable (SERVER_UNAVAILABLE)
    "rate_limited",  # Salesforce 403 REQUEST_LIMIT_EXCEEDED, Dataverse 429 + Retry-After
    "session_expired",  # 401 INVALID_SESSION_ID / expired bearer token
    "internal_error",  # 500 UNKNOWN_EXCEPTION
    "drop",  # the connection is closed before the call is processed
    "drop_after",  # the call is processed, then the connection closes without an answer
    "slow",  # the answer comes after `delay` seconds
    "lock_row",  # per record: UNABLE_TO_LOCK_ROW (counts records, not calls)
]
REQUEST_KINDS = frozenset(get_args(FaultKind)) - {"lock_row"}


@dataclass
class Fault:
    """One injected fault and its counters (``seen`` matching events, ``fired`` failures)."""

    kind: FaultKind
    endpoint: str = ""
    times: int | None = 1
    every: int | None = None
    retry_after: float | None = None
    delay: float = 2.0
    seen: int = 0
    fired: int = 0
    _pattern: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in get_args(FaultKind):
            raise ValueError(f"unknown fault kind {self.kind!r}; use one of {get_args(FaultKind)}")
        if self.every is not None and self.every < 1:
            raise ValueError("every must be a positive integer")
        if self.times is not None and self.times < 0:
            raise ValueError("times must be zero or positive")
        self._pattern = re.compile(self.endpoint)

    @property
    def exhausted(self) -> bool:
        """Whether the fault has fired as many times as it was asked to."""
        return self.times is not None and self.fired >= self.times

    def _take(self, target: str) -> bool:
        if self.exhausted or not self._pattern.search(target):
            return False
        self.seen += 1
        if self.every is not None and self.seen % self.every:
            return False
        self.fired += 1
        return True


class Faults:
    """The set of faults a sandbox injects; thread-safe.

    Examples:
        >>> faults = Faults()
        >>> fault = faults.add("unavailable", "/query", times=2)
        >>> [faults.take_request("GET", "/services/data/v59.0/query/") is fault for _ in range(3)]
        [True, True, False]
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(
        self,
        kind: FaultKind,
        endpoint: str = "",
        *,
        times: int | None = None,
        every: int | None = None,
        retry_after: float | None = None,
        delay: float = 2.0,
    ) -> Fault:
        """Inject a fault and return it (its ``fired`` counter tells how often it hit).

        Args:
            kind: what goes wrong (see :data:`FaultKind`).
            endpoint: regular expression searched in ``"METHOD /path?query"``; empty
                matches every call. For ``lock_row`` it is matched against the write
                call and may name the object, e.g. ``"composite/sobjects"`` or ``"Contact"``.
            times: fire on the next ``times`` matching calls (records, for ``lock_row``);
                ``None`` with ``every`` set means forever. Default: once.
            every: fire on every ``every``-th matching call only.
            retry_after: seconds to announce in a ``Retry-After`` header (rate limits, 503).
            delay: seconds a ``slow`` answer waits.
        """
        if times is None and every is None:
            times = 1
        fault = Fault(
            kind, endpoint, times=times, every=every, retry_after=retry_after, delay=delay
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    @property
    def active(self) -> list[Fault]:
        """The faults that can still fire."""
        with self._lock:
            return [f for f in self._faults if not f.exhausted]

    def take_request(self, method: str, target: str) -> Fault | None:
        """Return the request-level fault this call triggers, if any, and count it."""
        return self._take(f"{method} {target}", REQUEST_KINDS)

    def take_record(self, method: str, target: str, object_name: str) -> Fault | None:
        """Return a ``lock_row`` fault for one record written by this call, if any."""
        return self._take(f"{method} {target} {object_name}", frozenset({"lock_row"}))

    def _take(self, target: str, kinds: frozenset[str]) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.kind in kinds and fault._take(target):
                    return fault
        return None

    def __repr__(self) -> str:
        return f"Faults({self.active!r})"
