"""Keep several write calls in flight, at a degree that adapts to the CRM's limits.

Orchestration helper (threads, no I/O of its own). An export's batches are independent
calls, each journaled on its own (a ``send`` line before it leaves, a ``done`` after it
returns: :mod:`crmframes.operations.delivery`), so they may be in flight together. On a
production org a call mostly waits (the round trip, the server's time per record), and
several in flight cut the export's time by about their number.

- **The degree** (:func:`write_degree`): what the connector declares
  (:class:`~crmframes.connectors.base.WriteParallelism`): Dataverse at the
  ``x-ms-dop-hint`` its answers carry, bounded by the 52 concurrent requests a user may
  have and by the caller's ``max_parallel``; Salesforce at 4, far under its 25
  long-running requests per org, or ``max_parallel`` up to 25.
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
    "MAX_PARALLEL",
    "Gate",
    "batch_share",
    "bulk_job_share",
    "deliver",
    "write_degree",
]

MAX_PARALLEL = 52  # the most max_parallel= takes; each CRM's own ceiling may be lower


def write_degree(conn: Connector, max_parallel: int | None) -> int:
    """The most write calls an export keeps in flight with ``conn`` (see the module docstring)."""
    declared = conn.write_parallelism
    hint = conn.throttling.dop_hint if declared.follows_hint else None
    if declared.follows_hint:
        degree = hint or declared.default
        if max_parallel is not None:
            degree = min(degree, max_parallel)
    else:
        degree = max_parallel or declared.default
    return max(1, min(degree, declared.ceiling, MAX_PARALLEL))


def batch_share(conn: Connector, rows: int, degree: int, limit: int) -> int:
    """Records per call when the caller did not choose: enough calls to fill ``degree``.

    Where the connector declares a ``min_batch`` (Dataverse: Microsoft advises smaller
    batches sent in parallel over large ones sent in turn), the rows are cut into whole
    waves of ``degree`` equal calls (10,000 rows at 8: 16 calls of 625 in two waves, not 10
    of 1,000 in two waves of 8 and 2), none over ``limit`` nor under ``min_batch``.
    Elsewhere: ``limit`` (the fewest calls).
    """
    smallest = conn.write_parallelism.min_batch
    if smallest is None or degree <= 1 or rows <= 0:
        return limit
    waves = -(-rows // (limit * degree))
    return min(limit, max(smallest, -(-rows // (waves * degree))))


def bulk_job_share(conn: Connector, rows: int, degree: int, limit: int) -> int:
    """Records per bulk job of a large export: one job per call in flight, none too small."""
    smallest = conn.write_parallelism.min_bulk_job or limit
    return min(limit, max(smallest, -(-rows // degree)))


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
