"""The sandbox's clock: real time by default, settable and advanceable from tests.

Edge helper of the sandbox (no I/O). Every timestamp the emulated CRM writes
(``CreatedDate``, ``modifiedon``, token expiry, recycle-bin retention) comes from here,
so a test can move time forward to expire a session or open an incremental window.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

__all__ = ["Clock"]


class Clock:
    """A thread-safe clock that follows real time with an adjustable offset.

    Args:
        start: if given, the clock reads ``start`` now (and keeps running from there).
        frozen: if true, the clock does not move unless told to.

    Examples:
        >>> clock = Clock(datetime(2026, 1, 1, tzinfo=UTC), frozen=True)
        >>> clock.advance(hours=1).isoformat()
        '2026-01-01T01:00:00+00:00'
    """

    def __init__(self, start: datetime | None = None, *, frozen: bool = False) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        self._frozen_at: datetime | None = None
        if frozen:
            self._frozen_at = _aware(start) if start is not None else datetime.now(UTC)
        elif start is not None:
            self.set(start)

    def now(self) -> datetime:
        """Return the current sandbox time, timezone-aware UTC."""
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return datetime.now(UTC) + self._offset

    def timestamp(self) -> float:
        """Return the current sandbox time as POSIX seconds."""
        return self.now().timestamp()

    def set(self, when: datetime) -> datetime:
        """Make the clock read ``when`` (an aware datetime) from now on.

        Raises:
            ValueError: ``when`` is naive.
        """
        target = _aware(when)
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at = target
            else:
                self._offset = target - datetime.now(UTC)
        return self.now()

    def advance(self, delta: timedelta | float | None = None, **parts: float) -> datetime:
        """Move the clock forward by ``delta`` (a timedelta or seconds) or by ``timedelta(**parts)``.

        Raises:
            ValueError: the step is negative (a CRM's clock never goes back).
        """
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta or 0)
        step += timedelta(**parts)
        if step < timedelta(0):
            raise ValueError("the sandbox clock only moves forward; use set() to jump")
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += step
            else:
                self._offset += step
        return self.now()

    def freeze(self) -> None:
        """Stop the clock at its current reading until :meth:`resume`."""
        now = self.now()
        with self._lock:
            self._frozen_at = now

    def resume(self) -> None:
        """Let a frozen clock run again from where it stands."""
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - datetime.now(UTC)
                self._frozen_at = None

    @property
    def frozen(self) -> bool:
        """Whether the clock is frozen."""
        return self._frozen_at is not None

    def __repr__(self) -> str:
        state = "frozen" if self.frozen else "running"
        return f"Clock({self.now().isoformat()}, {state})"


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError(
            "the sandbox clock needs a timezone-aware datetime, e.g. datetime(..., tzinfo=UTC)"
        )
    return when.astimezone(UTC)
