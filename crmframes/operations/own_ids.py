"""Decide whether a lost insert made the record whose id its row named, by the CRM's stamps.

Orchestration: written once over the Connector protocol (the decision itself is pure);
used by :meth:`crmframes.operations.delivery.Delivery.settle_taken`.

An insert row that names its own id (a mapped id column: not an id the export chose) is
sent again after the answer of a call that carried it was lost. When that answer is
``exists`` (:attr:`~crmframes.connectors.base.WriteOutcome.exists`), either the lost call
made the record, or someone made it before. Never guessed: the CRM's own record decides
(:meth:`~crmframes.connectors.base.Connector.read_created`).

- **Ours** (``WriteOutcome(ok=True, created=True)``): the connected user created it while a
  lost call carrying the row could still run — from the second the earliest one left to
  the time the last one left plus :attr:`Connector.longest_call` (the longer of the HTTP
  timeout and the CRM's own limit on a call: Dataverse's 2 minutes) plus
  :data:`ORDER_SLACK`, on the CRM's clock (the calls' times plus the clock skew the export
  measures) — and no journal read (:meth:`Delivery.known_ids`) holds its id.
- **Someone else's** (the ``exists`` reject, as the CRM answered): another user created it,
  or a journal read holds its id (another export wrote it), or it was created more than
  :data:`ORDER_SLACK` before the second the call left, or after the window closed (no
  lost call could still run then: the record was made by another write).
- **Unknown** (a final ``OUTCOME_UNKNOWN`` reject, never sent again by itself): created
  within :data:`ORDER_SLACK` before that second, a creation stamp the writer set
  (``overriddencreatedon``: the stamp says nothing about when the record was made), the
  record gone again, or its stamps unreadable.

Why these bounds. Dataverse stamps ``createdon`` to the whole second (reference/
dataverse-api.md §3), and the skew comes from the whole-second ``Date`` header, read after
the answer: the estimate of when the call left is early by up to a second, never late. A
record the lost call made is therefore stamped in the estimate's second or later. A record
stamped in the two seconds before may still be ours (``createdon`` and ``Date`` come from
different servers, whose clocks may disagree), so it is unknown, never an ``exists``
reject. What remains a judgement: a record the same user created with this very id,
inside the window, outside the journals read, is taken for this export's. Treating the
window as unknown instead would make nearly every lost answer unknown, since the CRM
creates the record within it.

Why not ``modifiedon`` for a back-dated record (the writer's ``find_created`` filters on
it): it moves with every later change, so a record someone made long before the call and
changed since would look made inside the window and be claimed. Only ``createdon`` says
when a record was made, and a writer-set ``overriddencreatedon`` overrides it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from crmframes.connectors.base import CreatedRecord, WriteOutcome

__all__ = ["ORDER_SLACK", "claim_taken", "order_created", "unreadable"]

ORDER_SLACK = timedelta(seconds=2)  # how far two CRM clocks' whole seconds may disagree

Order = Literal["within", "before", "later", "unknown"]


def order_created(created_at: datetime, left: datetime, until: datetime) -> Order:
    """Place a record's creation stamp against the window a lost call could run in.

    ``left`` is when the earliest lost call left, ``until`` when the last one could no
    longer run (slack included); all on the CRM's clock.

    Examples:
        >>> left = datetime(2026, 1, 1, 9, 0, 0, 400000, tzinfo=UTC)
        >>> until = left + timedelta(minutes=2, seconds=2)
        >>> order_created(datetime(2026, 1, 1, 9, 0, 0, tzinfo=UTC), left, until)
        'within'
        >>> order_created(datetime(2026, 1, 1, 8, 59, 59, tzinfo=UTC), left, until)
        'unknown'
        >>> order_created(datetime(2026, 1, 1, 8, 59, 0, tzinfo=UTC), left, until)
        'before'
        >>> order_created(datetime(2026, 1, 1, 9, 5, 0, tzinfo=UTC), left, until)
        'later'
    """
    second = left.replace(microsecond=0)
    if created_at > until:
        return "later"
    if created_at >= second:
        return "within"
    if created_at < second - ORDER_SLACK:
        return "before"
    return "unknown"


def claim_taken(
    taken: Mapping[int, tuple[str, datetime, datetime]],
    stamps: Sequence[CreatedRecord],
    *,
    held: Collection[str],
    normalize: Callable[[object], str | None],
    object_name: str,
) -> dict[int, WriteOutcome | None]:
    """Settle rows whose named id was taken when sent again after a lost answer.

    Args:
        taken: plan index → (the id the row named, when the earliest lost call left, when
            the last one could no longer run), on the CRM's clock.
        stamps: what :meth:`Connector.read_created` read of those ids.
        held: ids the journals read (or this run) hold.
        normalize: the connector's :meth:`Connector.normalize_id`.
        object_name: the object, for messages.

    Returns:
        Per index: the success it is (ours), None (someone else's: keep the ``exists``
        reject), or an ``OUTCOME_UNKNOWN`` reject.
    """
    found = {normalize(s.id) or s.id: s for s in stamps}
    claimed = {normalize(i) or i for i in held}
    settled: dict[int, WriteOutcome | None] = {}
    for index, (named, left, until) in taken.items():
        key = normalize(named) or named
        stamp = found.get(key)
        if stamp is None:
            why = f"the record {named} answered 'exists', then could not be found"
            settled[index] = _unknown(why, named, object_name)
            continue
        if not stamp.by_caller or key in claimed:
            settled[index] = None  # another user's record, or another export's
            continue
        if stamp.created_at is None:
            told = stamp.untold or "its creation date was set by the writer"
            why = f"{told}, so when {named} was made cannot be told"
            settled[index] = _unknown(why, named, object_name)
            continue
        order = order_created(stamp.created_at, left, until)
        if order in ("before", "later"):
            settled[index] = None  # made outside the window: by another write
        elif order == "within":
            claimed.add(key)
            settled[index] = WriteOutcome(ok=True, id=key, created=True)
        else:
            why = (
                f"you created {named} at {_utc(stamp.created_at)} UTC, too close to when the "
                f"call left ({_utc(left)} UTC, to the CRM's whole second) to tell whether "
                "that call created it"
            )
            settled[index] = _unknown(why, named, object_name)
    return settled


def unreadable(named: str, object_name: str, exc: BaseException) -> WriteOutcome:
    """The reject of a row whose taken id's record could not be read."""
    why = f"who created the record {named} could not be read ({exc})"
    return _unknown(why, named, object_name)


def _unknown(why: str, named: str, object_name: str) -> WriteOutcome:
    return WriteOutcome(
        ok=False,
        id=named,
        error_symbol="OUTCOME_UNKNOWN",
        error_message=(
            "a call that carried this row lost its answer, and sent again the row's id was "
            f"taken; {why}. It is not sent again: look at {object_name} {named}, and if it "
            "holds this row, this export created it"
        ),
    )


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
