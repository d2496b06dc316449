"""What a job did, step by step: the report ``crmframes run`` prints as a table or as JSON.

Pure: dataclasses of counts; secrets never reach them (an account shows as its name).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from crmframes.errors import CrmframesError

__all__ = ["Attempt", "JobReport", "Status", "StepReport"]

Status = Literal["ok", "dry run", "skipped", "failed"]


@dataclass
class Attempt:
    """One failed attempt of a step that has a ``retry:`` schedule.

    Attributes:
        number: the attempt, from 1.
        error: its one-line error.
        wait: seconds waited before the next attempt; None when it was not retried.
        reason: why it was not retried (no attempts left, an error that would come back).
    """

    number: int
    error: str
    wait: float | None = None
    reason: str | None = None

    def __str__(self) -> str:
        then = f"waited {_duration(self.wait)}, retried" if self.wait is not None else "not retried"
        why = f" ({self.reason})" if self.reason else ""
        return f"attempt {self.number} failed: {self.error}; {then}{why}"


@dataclass
class StepReport:
    """What one step did.

    Attributes:
        index: the step's position, from 1.
        kind: ``import``, ``export``, ``delete``, ``deleted``, ``dedupe`` or ``merge``.
        label: what the step works on, e.g. ``import contact → contact``.
        status: ``ok``, ``dry run``, ``skipped`` (nothing to read in a dry run, or an
            earlier step failed) or ``failed``.
        counts: rows read and what happened to them, by name, in order.
        rejects: rejected rows by ``errorSymbol``.
        api_calls: CRM API calls the step made.
        seconds: wall time.
        notes: the window of an import, why a step was skipped, ...
        error: the one-line error of a failed step.
        attempts: the failed attempts of a step with a ``retry:`` schedule, in order (the
            last attempt, when it succeeded, is not among them).
    """

    index: int
    kind: str
    label: str
    status: Status = "ok"
    counts: dict[str, int] = field(default_factory=dict)
    rejects: dict[str, int] = field(default_factory=dict)
    api_calls: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        """How many rows were rejected."""
        return sum(self.rejects.values())

    def summary(self) -> str:
        """Return the counts as one phrase: ``5,000 imported, 4,990 inserted, 10 updated``."""
        return ", ".join(f"{n:,} {name}" for name, n in self.counts.items()) or "-"


@dataclass
class JobReport:
    """What a job did, step by step; ``str()`` is a table, :meth:`to_dict` is JSON-able.

    Attributes:
        job: the job's name.
        account: the account's name (or what an inline account is); never a secret.
        store: the store file.
        dry_run: whether nothing was written.
        steps: one report per step, in order.
        seconds: wall time.
        error: the error that stopped the job, if one did.
        exception: that error itself (not serialised).
        run_id: this run's id, also in the ``crmRunId`` column of rejects tables.
        run_at: when the run started (UTC, ISO 8601), the ``crmRunAt`` of its rejects.
    """

    job: str
    account: str
    store: str
    dry_run: bool
    steps: list[StepReport] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    exception: CrmframesError | None = field(default=None, repr=False)
    run_id: str = ""
    run_at: str = ""

    @property
    def ok(self) -> bool:
        """Whether every step ran (or was skipped in a dry run) without error."""
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain data (``crmframes run --json`` prints it)."""
        out = {k: v for k, v in asdict(self).items() if k not in ("exception", "steps")}
        out["ok"] = self.ok
        out["seconds"] = round(self.seconds, 3)
        out["steps"] = [asdict(step) | {"seconds": round(step.seconds, 3)} for step in self.steps]
        return out

    def __str__(self) -> str:
        mode = " (dry run: nothing written)" if self.dry_run else ""
        run = f", run {self.run_id}" if self.run_id else ""
        head = f"job {self.job!r} on {self.account}, store {self.store}{run}{mode}"
        rows = [("#", "step", "status", "result", "rejected", "API calls", "seconds")]
        for s in self.steps:
            rows.append(
                (
                    str(s.index),
                    s.label,
                    s.status,
                    s.summary(),
                    f"{s.rejected:,}",
                    str(s.api_calls),
                    f"{s.seconds:.2f}",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = [head]
        for row in rows:
            cells = [
                cell.rjust(w) if i in (0, 4, 5, 6) else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            ]
            lines.append("  " + "  ".join(cells).rstrip())
        for s in self.steps:
            if s.rejects:
                shown = ", ".join(f"{symbol} {n:,}" for symbol, n in s.rejects.items())
                lines.append(f"  rejects of step {s.index}: {shown}")
            lines.extend(f"  step {s.index}: {attempt}" for attempt in s.attempts)
            lines.extend(f"  step {s.index}: {note}" for note in s.notes)
        ending = f"failed: {self.error}" if self.error else "done"
        lines.append(f"{ending} in {self.seconds:.2f} s")
        return "\n".join(lines)


def _duration(seconds: float) -> str:
    """``300`` → ``5m``; ``90.5`` → ``1m30.5s``."""
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    if rest or not (hours or minutes):
        parts.append(f"{rest:g}s")
    return "".join(parts)
