"""The export journal (DESIGN §4.6): a durable record of what was sent and what came back, per row.

Orchestration helper (file I/O). A journal is a JSON-lines file, appended to before and
after every call that writes to the CRM:

- a ``header`` line: where the writes go (system, org, object, operation, key, mapped
  fields), so that a journal is never applied to another export;
- a ``send`` line before each call: the rows it carries and when it left (``at``: for rows
  whose earlier call lost its answer, that call's time; ``left``: when this call left, if
  later; ``from``: per row, the older send, still open, that this line takes the row over
  from, so that a replay never reads one row as pending in two sends);
- a ``job`` line when the CRM accepted a bulk job for a send (its id, to collect results later);
- a ``done`` line after each call: the final outcome of each row (rows of the send that are
  not listed were definitely not applied — a transient failure — and are sent again).

``send`` and ``job`` lines are fsynced before the call leaves; ``done`` lines are flushed
and reach the disk with the next fsync (losing one in a machine crash only makes its call
read as unknown, which is settled without duplicates).

Rows are named by a digest of their content (:meth:`crmframes.writes.PlannedWrites.row_digests`),
not by position: a re-run with rows fixed, added, removed or reordered still recognises
what was written (identical rows are counted as a multiset). A ``send`` without its ``done``
is a call whose outcome is unknown (the process died, or the connection was lost):
:class:`Journal` reports them as :attr:`Journal.unknown`, and the export resolves them
before anything is re-sent. A torn last line (the process was killed while writing it) is
cut off when the journal is opened again. An open journal is locked (``<journal>.lock``,
with filelock): a second export of the same rows fails with a :class:`JournalError` while
the first one runs, instead of interleaving its lines. The journal holds digests, CRM ids
and the CRM's error messages — never credentials, tokens or the records' values.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from filelock import FileLock, Timeout

from crmframes.connectors.base import WriteOutcome
from crmframes.errors import JournalError

__all__ = [
    "DEFAULT_JOURNAL_DIR",
    "Journal",
    "PendingSend",
    "default_journal_path",
    "ids_in_journals",
]

DEFAULT_JOURNAL_DIR = Path(".crmframes") / "journals"
VERSION = 3  # 3: the header names the export (the seed of client-chosen record ids)
_HEADER_KEYS = ("operation", "system", "instance", "object", "op", "key", "target")


def default_journal_path(
    folder: str | os.PathLike[str] | None, object_name: str, op: str, target: str
) -> Path:
    """Where an export's journal lives by default: one per org, object, operation and mapping.

    Named by where the writes go, not by the rows: an export that failed, was fixed and
    is run again finds its journal.
    """
    base = Path(folder) if folder is not None else DEFAULT_JOURNAL_DIR
    return base / f"{object_name}-{op}-{target[:16]}.jsonl"


def ids_in_journals(folder: str | os.PathLike[str], *, instance: str, object_name: str) -> set[str]:
    """The CRM ids of the records the journals in ``folder`` (and its ``done/``) say they wrote.

    Only journals of the same org and object count. A lookup for a lost insert excludes
    these ids: a record another export of ours created is never taken for this one's.
    Journals that cannot be read (another version, a torn file) are skipped.
    """
    base = Path(folder)
    ids: set[str] = set()
    for path in [*base.glob("*.jsonl"), *(base / "done").glob("*.jsonl")]:
        try:
            lines = path.read_bytes().split(b"\n")
            header = orjson.loads(lines[0])
        except (OSError, orjson.JSONDecodeError, IndexError):
            continue
        if header.get("instance") != instance or header.get("object") != object_name:
            continue
        for line in lines[1:]:
            if not line.startswith(b'{"t":"done"'):
                continue
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            ids.update(str(row[2]) for row in entry.get("r", ()) if row[1] and row[2])
    return ids


@dataclass
class PendingSend:
    """A call whose outcome the journal does not know: the digests of its rows."""

    send: int
    rows: list[str]
    at: datetime
    job: str | None = None
    left: datetime | None = None  # when the call itself left, if later than ``at``

    @property
    def last(self) -> datetime:
        """When the last call carrying these rows left (``at`` when the line does not say)."""
        return self.left or self.at


def _outcome_row(row: str, o: WriteOutcome) -> list[Any]:
    return [
        row,
        o.ok,
        o.id,
        o.created,
        o.error_symbol,
        o.error_message,
        o.error_code,
        o.error_fields,
        o.transient,
        o.missing,
    ]


def _outcome(row: list[Any]) -> tuple[str, WriteOutcome]:
    digest, ok, id_, created, symbol, message, code, fields, transient, missing = row
    return str(digest), WriteOutcome(
        ok=bool(ok),
        id=id_,
        created=created,
        error_symbol=symbol,
        error_message=message,
        error_code=code,
        error_fields=fields,
        transient=bool(transient),
        missing=bool(missing),
    )


@dataclass
class Journal:
    """An open journal file (see the module docstring). Use :meth:`open`.

    Attributes:
        path: the file.
        outcomes: the final outcomes, by row digest (a list: identical rows each have one).
        unknown: the sends whose outcome is unknown, oldest first.
    """

    path: Path
    header: dict[str, Any]
    outcomes: dict[str, list[WriteOutcome]] = field(default_factory=dict)
    unknown: list[PendingSend] = field(default_factory=list)
    _next_send: int = 0
    _file: Any = field(default=None, repr=False)
    _lock: FileLock | None = field(default=None, repr=False)
    # calls in flight at once write their lines from several threads, one line at a time
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(cls, path: str | os.PathLike[str], header: dict[str, Any]) -> Journal:
        """Open ``path`` for the export ``header`` describes, replaying it if it exists.

        Raises:
            JournalError: the file was written for another export, or is corrupt.
        """
        target = Path(path)
        journal = cls(target, {"t": "header", "v": VERSION, **header})
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(f"{target}.lock", timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise JournalError(
                f"journal {target} is in use by another export still running (it holds "
                f"{target.name}.lock); wait for it to finish, or pass another journal"
            ) from None
        journal._lock = lock
        try:
            data = journal._cut_torn_line() if target.exists() else b""
            if data.strip():
                journal._replay(data)
            else:
                journal._sync(journal._append(journal.header))
        except BaseException:
            journal.close()
            raise
        return journal

    def _cut_torn_line(self) -> bytes:
        """Cut a last line the process died writing (no newline); return the lines left.

        Appending after the fragment would glue the next line onto it and make the journal
        unreadable. The fragment was never complete, so nothing it said had happened: a
        ``send`` line is fsynced before its call leaves, a lost ``done`` line leaves its
        send unknown, which is settled.
        """
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            with open(self.path, "r+b") as file:
                file.truncate(end)
                os.fsync(file.fileno())
        return data[:end]

    def _replay(self, data: bytes) -> None:
        lines = data.split(b"\n")
        entries: list[dict[str, Any]] = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                entries.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                if number == len(lines) or all(not rest.strip() for rest in lines[number:]):
                    break  # a last line garbled by a crash: its send reads as unknown
                raise JournalError(f"journal {self.path} is corrupt at line {number}") from None
        if not entries or entries[0].get("t") != "header":
            raise JournalError(f"{self.path} is not a crmframes export journal")
        found = entries[0]
        if found.get("v") != VERSION:
            raise JournalError(
                f"journal {self.path} is in format {found.get('v')!r}, this crmframes writes "
                f"{VERSION}; finish that export with the version that started it, or delete "
                "the file to start afresh"
            )
        different = [k for k in _HEADER_KEYS if found.get(k) != self.header.get(k)]
        if different:
            described = ", ".join(
                f"{k}: journal {found.get(k)!r} vs now {self.header.get(k)!r}"
                for k in different
                if k != "target"
            )
            raise JournalError(
                f"journal {self.path} belongs to another export ("
                + (described or "the mapped fields differ")
                + "); pass another journal path, or delete this file to start afresh"
            )
        self.header = found
        sends: dict[int, PendingSend] = {}
        for entry in entries[1:]:
            kind, send = entry.get("t"), int(entry.get("s", -1))
            if kind == "send":
                left = entry.get("left")
                sends[send] = PendingSend(
                    send,
                    [str(d) for d in entry["d"]],
                    datetime.fromisoformat(entry["at"]),
                    left=datetime.fromisoformat(left) if left else None,
                )
                self._next_send = max(self._next_send, send + 1)
                for digest, older in zip(entry["d"], entry.get("from") or (), strict=False):
                    if older is not None and older in sends and digest in sends[older].rows:
                        sends[older].rows.remove(digest)  # journaled again in this line
            elif kind == "job" and send in sends:
                sends[send].job = str(entry["job"])
            elif kind == "done":
                sends.pop(send, None)
                for row in entry["r"]:
                    digest, outcome = _outcome(row)
                    self.outcomes.setdefault(digest, []).append(outcome)
        self.unknown = sorted(sends.values(), key=lambda s: s.send)

    def _append(self, entry: dict[str, Any]) -> int:
        """Append one line, flushed to the operating system; return the file it went to.

        ``send`` and ``job`` lines must then be on disk before the call they announce (a
        crash after the call would otherwise leave no trace of it): their writer calls
        :meth:`_sync` once the guard is released, so calls in flight at once wait for their
        fsyncs side by side rather than one after another (an fsync returns once everything
        written before it is on disk, its own line included). A ``done`` line is only
        flushed (a killed process loses nothing); if a machine crash loses it, its send
        reads as unknown and is settled as such, and the next fsync writes it anyway — one
        fsync per call instead of two.
        """
        if self._file is None:
            self._file = open(self.path, "ab")  # noqa: SIM115 - kept open for the export
        self._file.write(orjson.dumps(entry) + b"\n")
        self._file.flush()
        return int(self._file.fileno())

    @staticmethod
    def _sync(descriptor: int) -> None:
        """Wait until the journal's lines written so far are on disk."""
        os.fsync(descriptor)

    def send(
        self,
        rows: Iterable[str],
        at: datetime | None = None,
        *,
        left: datetime | None = None,
        moved: Sequence[int | None] = (),
    ) -> int:
        """Record that a call carrying ``rows`` (digests) is about to leave; return its number.

        ``at`` is the time the rows are settled from (an earlier lost call's), ``left`` when
        this call leaves if later, ``moved`` per row the older open send it takes the row
        over from (None: none). Returns once the line is on disk: the call may leave then.
        """
        moment = (at or datetime.now(UTC)).isoformat()
        digests = list(rows)
        entry: dict[str, Any] = {"t": "send", "s": 0, "d": digests, "at": moment}
        if left is not None and at is not None and left > at:
            entry["left"] = left.isoformat()
        if any(older is not None for older in moved):
            entry["from"] = list(moved)
        with self._guard:
            number = self._next_send
            self._next_send += 1
            entry["s"] = number
            descriptor = self._append(entry)
        self._sync(descriptor)
        return number

    def job(self, send: int, job_id: str) -> None:
        """Record the bulk job that carries ``send`` (on disk when this returns)."""
        with self._guard:
            descriptor = self._append({"t": "job", "s": send, "job": job_id})
        self._sync(descriptor)

    def done(self, send: int, results: Iterable[tuple[str, WriteOutcome]]) -> None:
        """Record the final outcomes of ``send`` by row digest (rows not listed are sent again)."""
        final = list(results)
        line = {"t": "done", "s": send, "r": [_outcome_row(d, o) for d, o in final]}
        with self._guard:
            self._append(line)
            for digest, outcome in final:
                self.outcomes.setdefault(digest, []).append(outcome)

    def resolved(self, send: int) -> None:
        """Forget the unknown send ``send`` once its ``done`` line is written."""
        self.unknown = [u for u in self.unknown if u.send != send]

    def close(self) -> None:
        """Close the file, on disk (the journal stays), and let another export open it."""
        self._close_file()
        self._unlock()

    def _close_file(self) -> None:
        if self._file is not None:
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    def _unlock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def retire(self) -> Path:
        """Close and move a finished journal into ``done/`` beside it; return its new path.

        A retired journal no longer makes a later, identical export a no-op; it stays on
        disk as the record of what was sent.
        """
        self._close_file()
        folder = self.path.parent / "done"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = folder / f"{self.path.stem}-{stamp}{self.path.suffix}"
        os.replace(self.path, target)  # moved while locked: no export opens it half-retired
        self.path = target
        self._unlock()
        return target

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
