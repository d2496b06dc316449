"""What a connector learnt of the CRM's service limits: throttles met, time waited, advice.

Edge helper (threads and clocks, no I/O). One :class:`Throttling` per
:class:`~crmframes.connectors.http.HttpClient`, shared by every thread sending through it:

- a throttle (Dataverse 429 service protection ``0x80072322`` / ``0x80072321`` /
  ``0x80072326``, Salesforce ``REQUEST_LIMIT_EXCEEDED``) with a ``Retry-After`` pauses
  *every* call of the connector until that moment, not only the one refused: the limit is
  the user's (reference/dataverse-api.md "Service protection"), so the calls in flight beside
  it would be refused too;
- the count of throttles and the seconds spent waiting on them, which exports report in
  ``result.stats`` and which the adaptive parallelism (:mod:`crmframes.operations.parallel`)
  reads to lower its degree;
- Dataverse's ``x-ms-dop-hint`` header, the degree of parallelism the environment
  recommends (learn.microsoft.com/power-apps/developer/data-platform/send-parallel-requests).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["Throttling"]


class Throttling:
    """Throttles met and pauses asked for by the CRM, shared by a connector's threads.

    Args:
        clock: monotonic seconds (injected by tests).
        sleep: how to wait (injected by tests).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._pause_until = 0.0
        self.throttles = 0
        self.waited = 0.0
        self.dop_hint: int | None = None

    def met(self, retry_after: float | None) -> None:
        """Count a throttle; with ``retry_after``, pause every call until then."""
        with self._lock:
            self.throttles += 1
            if retry_after:
                self._pause_until = max(self._pause_until, self._clock() + retry_after)

    def waiting(self, seconds: float) -> None:
        """Count ``seconds`` a call waits on a throttle (the retry's own backoff)."""
        with self._lock:
            self.waited += seconds

    def hold(self) -> None:
        """Wait while the CRM asked every call to pause (a ``Retry-After`` still running)."""
        with self._lock:
            left = self._pause_until - self._clock()
        if left > 0:
            self.waiting(left)
            self._sleep(left)

    def hint(self, value: str | None) -> None:
        """Remember Dataverse's ``x-ms-dop-hint`` (a positive integer; anything else ignored)."""
        if value and value.strip().isdigit() and int(value) > 0:
            self.dop_hint = int(value)

    def snapshot(self) -> tuple[int, float]:
        """Throttles met and seconds waited so far."""
        with self._lock:
            return self.throttles, self.waited
