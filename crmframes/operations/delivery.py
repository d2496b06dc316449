"""Deliver planned writes to the CRM exactly once: calls, retries, the journal, lost answers.

Orchestration: written once over the Connector protocol; used by
:mod:`crmframes.operations.exporting` for exports and deletes.

A :class:`Delivery` sends the planned rows batch by batch, each call announced in the
journal before it leaves and closed after it returns. Several batches may be in flight at
once (:mod:`crmframes.operations.parallel`): each call is journaled on its own, and the
state shared by the calls (outcomes, counters, the journal) is kept under a lock. When a call's answer is lost, the
rows are settled without ever sending one twice, by construction where the CRM allows it
(DESIGN §4.6):

- **Inserts with client-chosen ids** (Dataverse; :meth:`Connector.new_record_ids`): each
  row's id is derived from the export's identity (a random id kept in the journal's
  header) and the row's digest, so a lost insert is simply sent again: a create that
  already happened answers ``exists``, which is read as done.
- **Inserts naming their own id** (a mapped id column, on a CRM that takes ids) are sent
  again too; an ``exists`` answer is then decided by the CRM's record
  (:mod:`crmframes.operations.own_ids`): created by the connected user while a lost call
  carrying it could still run, its id in no journal read → created by this export;
  created before or after that window → the ``exists`` reject; too close to tell, a
  back-dated creation stamp (``overriddencreatedon``), or unreadable → a final
  ``OUTCOME_UNKNOWN``.
- **Keyed writes** (update by id, upsert on an external id / alternate key) are sent again.
- **Bulk jobs** the CRM accepted are collected by job id, never sent again.
- **Inserts without client ids** (Salesforce, no external id mapped) are looked up
  (:meth:`Connector.find_created`): records the connected user created since the call left
  (on the CRM's clock), ids held by the journals read excluded (:meth:`Delivery.known_ids`),
  compared on what the CRM keeps as sent. A row matched by no record, or by several, is
  never guessed at: in the run that lost the answer it is a reject ``OUTCOME_UNKNOWN``
  whose call stays open in the journal (the CRM may still be writing); the next run looks
  again and then makes it a final ``OUTCOME_UNKNOWN`` reject that no run sends again by
  itself.
- **Deletes** are sent again; a record then found gone counts as deleted by this export
  only when the CRM's deletion log shows it went after the lost call left.

The lost call's time stays on disk until its rows are settled: its send stays open in the
journal until each of its rows still to be sent is journaled again
(:mod:`crmframes.operations.lost_calls`), so a process killed at any point leaves the next
run that time to settle from.

Longer than 500 lines: one write run's shared state kept whole (calls, retries, the journal
and each way a lost answer is settled); the own-id decision and the open sends kept for
lost calls are their own modules.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from crmframes.connectors.base import BulkJobRef, Connector, WriteBatch, WriteOutcome
from crmframes.errors import BatchTooLargeError, ConnectorError, CrmframesError, WriteRejectedError
from crmframes.operations.journal import (
    DEFAULT_JOURNAL_DIR,
    Journal,
    PendingSend,
    ids_in_journals,
)
from crmframes.operations.lost_calls import OpenSends
from crmframes.operations.own_ids import ORDER_SLACK, claim_taken, unreadable
from crmframes.progress import Bar
from crmframes.writes import PlannedWrites

__all__ = ["Delivery", "assign_journal"]

logger = logging.getLogger("crmframes.export")

OnError = Literal["reject", "raise"]
DELETE_SLACK = timedelta(seconds=2)  # the Date header's second, and the deletion stamp's


@dataclass
class Delivery:
    """The mutable state of one write run (see the module docstring).

    Attributes:
        conn: the connector.
        plan: the planned writes.
        bulk: whether each batch goes as one bulk job.
        size: records per call (or per job).
        on_error: ``"reject"`` or ``"raise"``.
        max_retries: rounds of re-sending transient failures.
        journal: the open journal, or None.
        export_id: this export's identity (the journal's, or a new one without a journal):
            the seed of client-chosen record ids.
        sleep: how to wait between retries (injected by tests).
    """

    conn: Connector
    plan: PlannedWrites
    bulk: bool
    size: int
    on_error: OnError
    max_retries: int
    journal: Journal | None
    export_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    sleep: Callable[[float], None] | None = None  # None: time.sleep, looked up when it waits
    digests: list[str] = field(default_factory=list)  # by plan index: the journal's row names
    assigned: dict[int, str] = field(default_factory=dict)  # client-chosen ids of inserts
    client_ids: bool = False  # the CRM takes client-chosen ids (else a lost insert is looked up)
    outcomes: dict[int, WriteOutcome] = field(default_factory=dict)  # by plan index
    lost_deletes: dict[int, datetime] = field(default_factory=dict)  # index → lost call's time
    lost_inserts: dict[int, datetime] = field(default_factory=dict)  # rows naming their own id
    lost_until: dict[int, datetime] = field(default_factory=dict)  # when the last lost call left
    open_sends: OpenSends = field(default_factory=OpenSends)  # kept open for lost rows
    unsettled: set[int] = field(default_factory=set)  # sent, outcome unknown, left to the next run
    kept_open: bool = False  # an earlier run's unknown send whose rows this run lacks in part
    batches: int = 0
    retries: int = 0
    resumed: int = 0
    bar: Bar | None = None
    parallel: int = 1  # the most calls that were in flight at once
    throttles: int = 0
    waited: float = 0.0
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def __post_init__(self) -> None:
        self.digests = self.plan.row_digests()
        if self.plan.op == "insert":
            self.assigned = self._client_ids()

    def _client_ids(self) -> dict[int, str]:
        """Ids of new records derived from the export and each row, when the CRM takes them.

        The n-th row with a given digest gets the n-th id of that digest, so a re-run with
        rows reordered or removed gives each remaining row the id it had.
        """
        seen: dict[str, int] = {}
        seeds = []
        for digest in self.digests:
            seen[digest] = seen.get(digest, -1) + 1
            seeds.append(f"{self.export_id}/{digest}/{seen[digest]}")
        ids = self.conn.new_record_ids(self.plan.object, seeds)
        if ids is None:
            return {}
        self.client_ids = True
        # a row that names its own id (a mapped id column) keeps it
        return {
            i: new
            for i, new in enumerate(ids)
            if self.plan.records[i].get(self.plan.id_field) in (None, "")
        }

    def batch(self, indexes: Sequence[int]) -> WriteBatch:
        """The write batch of these plan rows (inserts carry their client-chosen ids)."""
        id_field = self.plan.id_field
        records = tuple(
            {**self.plan.records[i], id_field: self.assigned[i]}
            if i in self.assigned
            else self.plan.records[i]
            for i in indexes
        )
        key = self.plan.key if self.plan.op == "upsert" else None
        return WriteBatch(self.plan.object, self.plan.op, records, key)

    # --- resolving calls of unknown outcome ----------------------------------------------------

    def resolve(self, pending: PendingSend, todo: list[int]) -> None:
        """Settle a send of an earlier run whose outcome the journal does not know.

        ``todo`` are the plan indexes of its rows that have no outcome yet. Rows left
        without an outcome are sent again (keyed writes, inserts with client ids, deletes).
        When some of its rows are not in this run (the frame changed), the send stays open
        in the journal: a later run that has them again settles them then. A delete or an
        own-id insert is settled from the send's time, so the send is closed only once those
        rows are journaled again (:mod:`.lost_calls`), never here before they are.
        """
        results: list[tuple[int, WriteOutcome]] = []
        again: list[int] = []  # rows settled from the lost call's time once sent again
        if todo and pending.job and self.conn.supports_bulk_write:
            ref = BulkJobRef(pending.job, self.plan.object, self.plan.op)
            found = self.conn.resume_bulk(self.batch(todo), ref)
            if found is not None:
                results = [(i, o) for i, o in zip(todo, found, strict=True) if _final(o)]
        elif todo and self.plan.op == "insert" and not self.client_ids:
            matched = dict(self.find_created(todo, pending.at))
            sent = pending.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
            why = (
                f"a call of an earlier run that carried this row (sent {sent} UTC) lost its "
                "answer, and no single record that this user created since then matches it"
            )
            results = [(i, matched.get(i) or _unknown_final(why, self.plan.object)) for i in todo]
        elif self.plan.op == "delete":
            again = todo
            self.lost(self.lost_deletes, again, pending.at, pending.last)
        elif self.plan.op == "insert":  # rows naming their own id: an exists is settled
            again = [i for i in todo if i not in self.assigned]
            self.lost(self.lost_inserts, again, pending.at, pending.last)
        logger.info(
            "journal %s: send %d settled (%d of %d rows had an outcome)",
            self.journal.path if self.journal else "-",
            pending.send,
            len(results),
            len(todo),
        )
        if len(todo) < len(pending.rows):
            self.kept_open = True
            self.record(None, results)  # this run's rows only; the journal keeps the send
            with self.lock:
                self.open_sends.pin(pending.send, again)
            return
        # closed at once when no row is sent again; else once they all are journaled again
        self.record(pending.send, results, waiting=again)

    def find_created(self, indexes: Sequence[int], at: datetime) -> list[tuple[int, WriteOutcome]]:
        """Look up the records a lost insert call made (see the module docstring)."""
        records = [self.plan.records[i] for i in indexes]
        ids = self.conn.find_created(
            self.plan.object, records, at + self.skew(), exclude=self.known_ids()
        )
        return [
            (i, WriteOutcome(ok=True, id=found, created=True))
            for i, found in zip(indexes, ids, strict=True)
            if found is not None
        ]

    def lost(
        self,
        calls: dict[int, datetime],
        indexes: Sequence[int],
        at: datetime,
        last: datetime | None = None,
    ) -> None:
        """Note that calls carrying these rows, from ``at`` to ``last``, lost their answers.

        The rows are settled from the earliest lost call (a send again that loses its answer
        too keeps it) up to the time the last lost call could still run.
        """
        end = last or at
        with self.lock:
            for index in indexes:
                calls[index] = min(at, calls.get(index, at))
                self.lost_until[index] = max(end, self.lost_until.get(index, end))

    def lost_at(self, index: int) -> datetime | None:
        """When the earliest lost call carrying this row left, if its time settles the row."""
        with self.lock:
            return self.lost_deletes.get(index) or self.lost_inserts.get(index)

    def skew(self) -> timedelta:
        """How far the CRM's clock is ahead of this machine's (its ``Date`` header)."""
        return self.conn.server_time() - datetime.now(UTC)

    def known_ids(self) -> set[str]:
        """Ids no lookup may take: this run's, and those the journals read hold.

        The journals read are those in :data:`DEFAULT_JOURNAL_DIR` (relative to the working
        directory) and in this journal's folder, with their ``done/`` folders, of the same
        org and object: a journal kept anywhere else is not seen.
        """
        with self.lock:
            outcomes = list(self.outcomes.values())
            if self.journal is not None:
                outcomes += [o for found in self.journal.outcomes.values() for o in found]
        folders = {DEFAULT_JOURNAL_DIR}
        if self.journal is not None:
            folder = self.journal.path.parent
            folders.add(folder.parent if folder.name == "done" else folder)
        held: set[str] = set()
        for folder in folders:
            held |= ids_in_journals(
                folder, instance=self.conn.instance, object_name=self.plan.object
            )
        return held | {str(o.id) for o in outcomes if o.ok and o.id}

    def unknown(self, indexes: Sequence[int], why: str) -> list[tuple[int, WriteOutcome]]:
        """Rows of a call whose outcome cannot be known now: rejects, never sent again here.

        The journal keeps their call open (no ``done`` line), so the next run with the
        same journal settles it before sending anything (DESIGN §4.6).
        """
        with self.lock:
            self.unsettled.update(indexes)
        journal = f" ({self.journal.path})" if self.journal is not None else ""
        outcome = WriteOutcome(
            ok=False,
            error_symbol="OUTCOME_UNKNOWN",
            error_message=(
                f"{why}; the CRM may have written this row, so it was not sent again: run the "
                f"export again with the same journal{journal} to settle it"
            ),
            transient=False,
        )
        return [(i, outcome) for i in indexes]

    def settle_taken(self, todo: list[int], outcomes: list[WriteOutcome]) -> list[WriteOutcome]:
        """Inserts naming their own id, sent again after a lost answer, that found it taken.

        Decided by the CRM's record (:mod:`crmframes.operations.own_ids`): this export's
        when the connected user created it while a lost call carrying it could still run
        (from the earliest one's second to the last one's time plus
        :attr:`Connector.longest_call` and :data:`ORDER_SLACK`) and no journal read holds its
        id; the ``exists`` reject when it was created outside that window or by someone
        else; a final ``OUTCOME_UNKNOWN`` reject when that cannot be told or read.
        """
        taken = [
            i
            for i, o in zip(todo, outcomes, strict=True)
            if i in self.lost_inserts and i not in self.assigned and not o.ok and o.exists
        ]
        if not taken:
            return outcomes
        named = {i: str(self.plan.records[i][self.plan.id_field]) for i in taken}
        try:
            skew = self.skew()
            stamps = self.conn.read_created(self.plan.object, list(named.values()))
            held = self.known_ids()
        except (CrmframesError, ValueError) as exc:
            failed = {i: unreadable(named[i], self.plan.object, exc) for i in taken}
            return [failed.get(i, o) for i, o in zip(todo, outcomes, strict=True)]
        longest = self.conn.longest_call + ORDER_SLACK
        settled = claim_taken(
            {
                i: (named[i], self.lost_inserts[i] + skew, self.lost_until[i] + skew + longest)
                for i in taken
            },
            stamps,
            held=held,
            normalize=self.conn.normalize_id,
            object_name=self.plan.object,
        )
        return [settled.get(i) or o for i, o in zip(todo, outcomes, strict=True)]

    def settle_deletes(self, todo: list[int], outcomes: list[WriteOutcome]) -> list[WriteOutcome]:
        """Deletes sent again after a lost answer that found their record gone.

        Gone since the lost call left (the CRM's deletion log says so): this export deleted
        it. Gone before: someone else did, and the row keeps its "does not exist" reject.
        When the log cannot be read, the row is an ``OUTCOME_UNKNOWN`` reject.
        """
        gone = {
            i: o
            for i, o in zip(todo, outcomes, strict=True)
            if i in self.lost_deletes and not o.ok and o.missing
        }
        if not gone:
            return outcomes
        skew = self.skew()
        since = min(self.lost_deletes[i] for i in gone) + skew - DELETE_SLACK
        try:
            log = self.conn.read_deleted(
                self.plan.object, since, datetime.now(UTC) + skew + DELETE_SLACK
            )
        except (CrmframesError, ValueError) as exc:
            why = f"the record is gone, and whether this export deleted it is unknown ({exc})"
            return [
                _unknown_final(why, self.plan.object) if i in gone else o
                for i, o in zip(todo, outcomes, strict=True)
            ]
        deleted = {self.conn.normalize_id(r.id) or r.id: r.deleted_at for r in log}
        settled = []
        for i, o in zip(todo, outcomes, strict=True):
            when = deleted.get(self.conn.normalize_id(o.id) or o.id or "") if i in gone else None
            if when is not None and when >= self.lost_deletes[i] + skew - DELETE_SLACK:
                o = WriteOutcome(ok=True, id=o.id)  # gone since the lost call: that call did it
            settled.append(o)
        return settled

    # --- sending ---------------------------------------------------------------------------------

    def record(
        self,
        send: int | None,
        results: list[tuple[int, WriteOutcome]],
        *,
        waiting: Sequence[int] = (),
    ) -> None:
        """Keep the outcomes of a call, and close its send when no row still needs it open.

        ``waiting`` are the call's rows to be sent again: those with a lost call's time
        keep the send open until they are journaled again (:mod:`.lost_calls`); the
        outcomes in ``results`` are then held for its ``done`` line.
        """
        # an unsettled call keeps its send open; a transient failure is not final either
        # (the row is left out of ``done``, so a later run sends it again)
        with self.lock:
            settled = not any(i in self.unsettled for i, _ in results)
            if self.journal is not None and send is not None and settled:
                lost = [i for i in waiting if self.lost_at(i) is not None]
                self.close(self.open_sends.keep(send, results, lost))
            for index, outcome in results:
                self.outcomes[index] = outcome
            if self.bar is not None:
                self.bar.update(len(results))

    def close(self, sends: list[tuple[int, list[tuple[int, WriteOutcome]]]]) -> None:
        """Write the ``done`` lines of these sends, with the final outcomes they hold."""
        if self.journal is None:
            return
        for send, held in sends:
            self.journal.done(send, [(self.digests[i], o) for i, o in held if not o.transient])
            self.journal.resolved(send)

    def send(self, indexes: list[int]) -> None:
        """Send one batch, retrying the rows that failed transiently, until each has an outcome.

        A delete, or an insert naming its own id, whose call lost its answer is settled by
        the CRM's records from that call's time on: each send carrying such a row stays open
        in the journal until the row is final or journaled again (each new ``send`` line
        carries the lost call's time), whatever ends the call — a send again with some rows
        through and others locked, a batch sent in halves, ``on_error="raise"``. Killed at
        any point, the next run still knows the lost call and settles the rows from then.
        """
        attempt = 0
        todo = indexes
        while todo:
            attempt += 1
            at = datetime.now(UTC)
            with self.lock:
                # journaled at the lost call's time: killed before this send's answer, the
                # next run still reads the deletion log (or the record's stamps) from then
                lost = [t for i in todo if (t := self.lost_at(i)) is not None]
                moved = self.open_sends.sources(todo)
                self.batches += 1
            send = None
            if self.journal is not None:
                # outside the lock: calls in flight at once wait for their fsyncs together
                digests = [self.digests[i] for i in todo]
                send = self.journal.send(digests, min([at, *lost]), left=at, moved=moved)
                with self.lock:  # on disk: the sends these rows kept open may close
                    self.close(self.open_sends.journaled(todo))
            try:
                outcomes, wait = self.call(todo, send, at)
            except BatchTooLargeError:  # refused before anything left: send it in halves
                if len(todo) == 1:
                    raise
                with self.lock:
                    self.batches -= 1
                # nothing was applied: closed once the halves carry its lost rows
                self.record(send, [], waiting=todo)
                half = len(todo) // 2
                self.send(todo[:half])
                self.send(todo[half:])
                return
            if self.plan.op == "delete":
                outcomes = self.settle_deletes(todo, outcomes)
            elif self.plan.op == "insert":
                outcomes = self.settle_taken(todo, outcomes)
            final = [(i, o) for i, o in zip(todo, outcomes, strict=True) if _final(o)]
            again = [i for i, o in zip(todo, outcomes, strict=True) if not _final(o)]
            if again and attempt > self.max_retries:
                # rows of a lost call stay open for the next run, which settles them from
                # that call's time; the others keep their last transient failure
                why = f"a call that carried it lost its answer, and {attempt} sends failed"
                final += self.unknown([i for i in again if self.lost_at(i) is not None], why)
                final += [
                    (i, o)
                    for i, o in zip(todo, outcomes, strict=True)
                    if i in set(again) and self.lost_at(i) is None
                ]
                again = []
            self.record(send, final, waiting=again)
            if self.on_error == "raise":
                failed = [(i, o) for i, o in final if not o.ok]
                if failed:
                    raise WriteRejectedError(
                        f"{len(failed)} row(s) rejected; first: row "
                        f"{self.plan.positions[failed[0][0]]}: {failed[0][1].error_symbol} "
                        f"{failed[0][1].error_message}"
                    )
            if again:
                with self.lock:
                    self.retries += len(again)
                backoff = min(30.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random())
                (self.sleep or time.sleep)(max(backoff, wait or 0.0))
            todo = again

    def call(
        self, todo: list[int], send: int | None, at: datetime
    ) -> tuple[list[WriteOutcome], float | None]:
        """One write call; whole-call failures become an outcome per row."""
        batch = self.batch(todo)
        jobs: list[BulkJobRef] = []
        try:
            if self.bulk:
                journal, number = self.journal, send

                def submitted(ref: BulkJobRef) -> None:
                    jobs.append(ref)
                    if journal is not None and number is not None:
                        journal.job(number, ref.job_id)  # the journal keeps its own lock

                return self.conn.write_bulk(batch, on_submitted=submitted), None
            written = self.conn.write(batch)
            return [self.created_before(i, o) for i, o in zip(todo, written, strict=True)], None
        except ConnectorError as exc:
            if jobs:  # the CRM has the job: the rows' outcomes are the job's, never a new send
                return self.settle_job(todo, jobs[0], exc), None
            if exc.outcome_unknown:
                if self.plan.op == "insert" and not self.client_ids:
                    created = dict(self.find_created(todo, at))
                    lost = [i for i in todo if i not in created]
                    # not found yet is not "not created": the CRM may still be writing them
                    created.update(self.unknown(lost, f"the call's answer was lost ({exc})"))
                    return [created[i] for i in todo], None
                if self.plan.op == "insert":  # rows naming their own id: see settle_taken
                    self.lost(self.lost_inserts, [i for i in todo if i not in self.assigned], at)
                if self.plan.op == "delete":
                    self.lost(self.lost_deletes, todo, at)
            if self.on_error == "raise" and not exc.retryable and not exc.outcome_unknown:
                # nothing applied; a row with an earlier lost call's time keeps it open
                self.record(send, [], waiting=todo)
                raise
            # a lost keyed write, or an insert carrying ids, is simply sent again
            transient = exc.retryable or exc.outcome_unknown
            return [_error_outcome(exc, transient=transient)] * len(todo), exc.retry_after

    def created_before(self, index: int, outcome: WriteOutcome) -> WriteOutcome:
        """An insert whose client-chosen id is taken: an earlier send of the row created it."""
        if outcome.exists and index in self.assigned:
            return WriteOutcome(ok=True, id=self.assigned[index], created=True)
        return outcome

    def settle_job(
        self, todo: list[int], job: BulkJobRef, failure: ConnectorError
    ) -> list[WriteOutcome]:
        """Outcomes of a bulk job the CRM accepted before a call of it failed.

        The job runs on whatever happened to the calls after it was created: its results
        are collected (waiting for it to finish). Only a job that processed nothing is sent
        again; when even that cannot be learnt, the rows are left to the next run.
        """
        try:
            found = self.conn.resume_bulk(self.batch(todo), job)
        except ConnectorError as exc:
            why = f"bulk job {job.job_id} was accepted, then {failure}; and {exc}"
            return [o for _, o in self.unknown(todo, why)]
        if found is None:  # aborted or never started: nothing was written
            return [_error_outcome(failure, transient=True)] * len(todo)
        return found


def assign_journal(
    run: Delivery, journal: Journal, todo: list[int]
) -> list[tuple[PendingSend, list[int]]]:
    """Give the journal's outcomes and unknown sends to this plan's rows, by content digest."""
    free: dict[str, list[int]] = {}
    for index in todo:
        free.setdefault(run.digests[index], []).append(index)
    for digest, outcomes in journal.outcomes.items():
        for outcome in outcomes:
            if free.get(digest):
                run.outcomes[free[digest].pop(0)] = outcome
    run.resumed = len(run.outcomes)
    pending = []
    for unknown in journal.unknown:
        indexes = [free[d].pop(0) for d in unknown.rows if free.get(d)]
        pending.append((unknown, indexes))
    return pending


def _final(outcome: WriteOutcome) -> bool:
    return outcome.ok or not outcome.transient


def _unknown_final(why: str, object_name: str) -> WriteOutcome:
    """A row whose outcome cannot be learnt, closed for good: no run sends it again by itself."""
    return WriteOutcome(
        ok=False,
        error_symbol="OUTCOME_UNKNOWN",
        error_message=(
            f"{why} (a flow, a default or a trimmed text may have changed the stored values, "
            f"or another export wrote the same ones). It is not sent again: look for it in "
            f"{object_name}, and if it is not there, export this row again with journal=False"
        ),
    )


def _error_outcome(exc: ConnectorError, *, transient: bool) -> WriteOutcome:
    symbol = exc.code or type(exc).__name__
    if exc.outcome_unknown:
        symbol = "CONNECTION_LOST"
    return WriteOutcome(
        ok=False,
        error_symbol=symbol,
        error_message=str(exc),
        error_code=str(exc.status) if exc.status else "",
        transient=transient,
    )
