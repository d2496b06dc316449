"""Keep a lost call's send open in the journal until its rows are journaled again.

Orchestration helper (bookkeeping only, no I/O): used by
:class:`crmframes.operations.delivery.Delivery`, which holds its lock around every call.

A delete, or an insert naming its own id, whose call lost its answer is settled by the
CRM's own record from that call's time on (DESIGN §4.6). That time must be on disk for as
long as such a row still needs sending: it is in the lost call's ``send`` line, and in each
later ``send`` line that carries the row again (its ``at`` is the earliest lost call's
time). So a send is closed (its ``done`` line written) only once each of its rows that
still needs sending is in a newer ``send`` line, fsynced; the final outcomes its other
rows had meanwhile are held and written in that closing ``done`` line. Killed before it
closes, the next run finds the send open and settles every row of it from its time, which
is sound for deletes (the deletion log) and own-id inserts (the record's stamps). A newer
``send`` line names, per row, the open send it takes the row over from (``from``), so a
replay never reads one row as pending in two sends.

A send whose rows are not all in the run (the frame changed) is *pinned*: it stays open
whatever happens, for a later run that has those rows again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from crmframes.connectors.base import WriteOutcome

__all__ = ["OpenSends"]

Held = list[tuple[int, WriteOutcome]]


@dataclass
class OpenSends:
    """The journal sends kept open for rows still to be sent again (not thread-safe alone).

    Attributes:
        awaiting: plan index → the open send carrying the row's lost time.
        waiting: open send → its rows not yet in a newer ``send`` line.
        held: open send → the final outcomes of its other rows, for its ``done`` line.
        pinned: sends kept open for rows this run does not have.
    """

    awaiting: dict[int, int] = field(default_factory=dict)
    waiting: dict[int, set[int]] = field(default_factory=dict)
    held: dict[int, Held] = field(default_factory=dict)
    pinned: set[int] = field(default_factory=set)

    def keep(self, send: int, final: Held, awaiting: Sequence[int]) -> list[tuple[int, Held]]:
        """A send's call is over: ``final`` outcomes, ``awaiting`` rows to be sent again.

        Returns the sends to close now (this one when no row awaits), with what they hold.
        """
        self.held.setdefault(send, []).extend(final)
        rows = self.waiting.setdefault(send, set())
        for index in awaiting:
            self.awaiting[index] = send
            rows.add(index)
        return self._closable([send])

    def pin(self, send: int, awaiting: Sequence[int]) -> None:
        """Keep ``send`` open for good; its ``awaiting`` rows move on when sent again."""
        self.pinned.add(send)
        self.keep(send, [], awaiting)

    def sources(self, indexes: Sequence[int]) -> list[int | None]:
        """Per row about to be journaled again: the open send it is taken over from."""
        return [self.awaiting.get(i) for i in indexes]

    def journaled(self, indexes: Sequence[int]) -> list[tuple[int, Held]]:
        """These rows are in a new ``send`` line, on disk: the sends that may close now."""
        touched = []
        for index in indexes:
            send = self.awaiting.pop(index, None)
            if send is not None:
                self.waiting[send].discard(index)
                touched.append(send)
        return self._closable(dict.fromkeys(touched))

    def _closable(self, sends: Sequence[int] | dict[int, None]) -> list[tuple[int, Held]]:
        closing = []
        for send in sends:
            if send in self.pinned or self.waiting.get(send):
                continue
            self.waiting.pop(send, None)
            closing.append((send, self.held.pop(send, [])))
        return closing
