"""Keep several write calls in flight, at a degree that adapts to the CRM's limits.

Orchestration helper (threads, no I/O of its own). An export's batches are independent
calls, each journaled on its own (a ``send`` line before it leaves, a ``done`` after it
returns: :mod:`crmframes.operations.delivery`), so they may be in flight together. On a
production org a call mostly waits (the round trip, the server's time per record), and
several in flight cut the export's time by about their number.

- **The degree** (:func:`write_degree`): Dataverse at the ``x-ms-dop-hint`` its answers
  carry (Microsoft: "send parallel requests … use the x-ms-dop-hint value",
  learn.microsoft.com/power-apps/developer/data-platform/send-parallel-requests), bounded
  by the 52 concurrent requests a user may have (reference/dataverse-api.md "Service
  protection") and by the caller's ``max_parallel``; Salesforce at
  :data:`SALESFORCE_DEGREE`, far under its 25 long-running requests per org
  (reference/salesforce-api.md §9), or ``max_parallel``.
- **Adaptive** (:class:`Gate`): every throttle the connector meets (429 / ``0x80072326`` /
  ``REQUEST_LIMIT_EXCEEDED``, retried by the HTTP layer after ``Retry-After``) halves the
  calls allowed in flight; each run of as many clean calls as are allowed adds one back, up
  to the ceiling. The degree never rises over the ceiling, and after a throttle, never
  over what was in flight when it happened.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crmframes.connectors.base import Connector, ThrottleReport

__all__ = [
    "BULK_JOB_MIN",
    "MAX_PARALLEL",
    "SALESFORCE_DEGREE",
    "Gate",
    "batch_share",
    "deliver",
    "write_degree",
]

MAX_PARALLEL = 52  # Dataverse's concurrent requests per user; no CRM here takes more from one user
SALESFORCE_DEGREE = 4  # collections / ingest jobs at once: well under 25 long-running requests
DATAVERSE_DEGREE = 4  # before the first x-ms-dop-hint arrives
# Salesforce Bulk API 2.0: a large export goes as one ingest job per call in flight, none
# smaller than this (each job costs its own calls: create, upload, close, polls, results)
BULK_JOB_MIN = 2_500
DATAVERSE_MIN_BATCH = 250  # records per call below which splitting further costs more than it gains


def write_degree(conn: Connector, max_parallel: int | None) -> int:
    """The most write calls an export keeps in flight with ``conn`` (see the module docstring)."""
    hint = conn.throttling.dop_hint
    if conn.system == "dynamics":
        degree = hint or DATAVERSE_DEGREE
        if max_parallel is not None:
            degree = min(degree, max_parallel)
    elif conn.system == "salesforce":
        degree = max_parallel or SALESFORCE_DEGREE
    else:  # a connector of another CRM: one call at a time unless asked
        degree = max_parallel or 1
    return max(1, min(degree, MAX_PARALLEL))


def batch_share(conn: Connector, rows: int, degree: int, limit: int) -> int:
    """Records per call when the caller did not choose: enough calls to fill ``degree``.

    Dataverse: Microsoft advises smaller batches sent in parallel over large ones sent in
    turn (learn.microsoft.com/power-apps/developer/data-platform/bulk-operations), so the
    rows are cut into whole waves of ``degree`` equal calls (10,000 rows at 8: 16 calls of
    625 in two waves, not 10 of 1,000 in two waves of 8 and 2), none over ``limit`` nor
    under :data:`DATAVERSE_MIN_BATCH`. Elsewhere: ``limit`` (the fewest calls).
    """
    if conn.system != "dynamics" or degree <= 1 or rows <= 0:
        return limit
    waves = -(-rows // (limit * degree))
    return min(limit, max(DATAVERSE_MIN_BATCH, -(-rows // (waves * degree))))


class Gate:
    """How many calls may be in flight now: lowered by throttles, raised by clean calls.

    Args:
        ceiling: the most calls in flight, ever.
        throttling: the connector's record of throttles (None: never lowered).
    """

    def __init__(self, ceiling: int, throttling: ThrottleReport | None) -> None:
        self.ceiling = ceiling
        self.degree = ceiling
        self.peak = 0  # the most calls that were in flight at once
        self.lowered = 0
        self._throttling = throttling
        self._seen = throttling.snapshot()[0] if throttling is not None else 0
        self._first = self._seen
        self._clean = 0
        self._in_flight = 0
        self._ready = threading.Condition()

    def acquire(self) -> None:
        """Wait until one more call may leave."""
        with self._ready:
            while self._in_flight >= self.degree:
                self._ready.wait()
            self._in_flight += 1
            self.peak = max(self.peak, self._in_flight)

    def release(self) -> None:
        """A call returned: adapt the degree to the throttles met meanwhile."""
        with self._ready:
            throttles = self._throttling.snapshot()[0] if self._throttling is not None else 0
            if throttles > self._seen:
                # halve from what was in flight when the CRM said "too many"
                self.degree = max(1, min(self.degree, self._in_flight) // 2)
                self._seen = throttles
                self._clean = 0
                self.lowered += 1
            else:
                self._clean += 1
                if self._clean >= self.degree and self.degree < self.ceiling:
                    self.degree += 1
                    self._clean = 0
            self._in_flight -= 1
            self._ready.notify_all()

    @property
    def throttles(self) -> int:
        """Throttles met since the gate opened."""
        return self._seen - self._first


def deliver(send: Callable[[list[int]], None], batches: Sequence[list[int]], gate: Gate) -> None:
    """Run ``send`` on every batch, with as many in flight as ``gate`` allows.

    The first error a call raises stops new calls from leaving; calls in flight finish
    (their journal lines are written) and the error is raised here.
    """
    if gate.ceiling <= 1 or len(batches) <= 1:
        for batch in batches:
            gate.acquire()
            try:
                send(batch)
            finally:
                gate.release()
        return

    def one(batch: list[int]) -> None:
        try:
            send(batch)
        finally:
            gate.release()

    futures: list[Future[None]] = []
    with ThreadPoolExecutor(gate.ceiling, thread_name_prefix="crmframes-write") as pool:
        for batch in batches:
            gate.acquire()
            if any(f.done() and f.exception() is not None for f in futures):
                gate.release()
                break
            futures.append(pool.submit(one, batch))
    for future in futures:
        error = future.exception()
        if error is not None:
            raise error
