"""What a job did, step by step: the report ``crmframes run`` prints as a table or as JSON.

Pure: dataclasses of counts; secrets never reach them (an account shows as its name).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from crmframes import charts, display
from crmframes.errors import CrmframesError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

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
        lines = display.wrap(f"job {self.job!r} on {self.account}", indent=0)
        lines += ["(dry run: nothing written)"] if self.dry_run else []
        lines += display.wrap(f"store {self.store}", indent=0)
        lines += display.wrap(f"run {self.run_id}", indent=0) if self.run_id else []
        rows = [
            (
                str(s.index),
                s.label,
                s.status,
                f"{s.rejected:,}",
                f"{s.api_calls:,}",
                f"{s.seconds:.2f}",
            )
            for s in self.steps
        ]
        header = ("#", "step", "status", "rejected", "API calls", "seconds")
        table = display.text_table(header, rows, right=(0, 3, 4, 5))
        lines.append(table[0])
        for s, line in zip(self.steps, table[1:], strict=True):
            lines.append(line)
            lines += display.wrap(s.summary(), indent=5) if s.counts else []
        for s in self.steps:
            if s.rejects:
                shown = ", ".join(f"{symbol} {n:,}" for symbol, n in s.rejects.items())
                lines += display.wrap(f"rejects of step {s.index}: {shown}")
            for text in [*map(str, s.attempts), *s.notes]:
                lines += display.wrap(f"step {s.index}: {text}")
        ending = f"failed: {self.error}" if self.error else "done"
        lines += display.wrap(f"{ending} in {self.seconds:.2f} s", indent=0)
        return "\n".join(lines)

    def __repr__(self) -> str:
        state = "ok" if self.ok else "failed"
        dry = ", dry run" if self.dry_run else ""
        return (
            f"JobReport({self.job!r}: {len(self.steps)} steps, {state}{dry}, {self.seconds:.2f} s)"
        )

    def _repr_html_(self) -> str:
        facts = [("account", self.account), ("store", self.store), ("run", self.run_id)]
        facts += [("started", self.run_at), ("time", display.duration(self.seconds))]
        facts.append(("outcome", f"failed: {self.error}" if self.error else "done"))
        header = ["#", "step", "status", "result", "rejected", "API calls", "time", "notes"]
        rows = [_html_row(s) for s in self.steps]
        rejects = [(s.index, symbol, n) for s in self.steps for symbol, n in s.rejects.items()]
        dry = " (dry run: nothing written)" if self.dry_run else ""
        return display.card(
            f"job {self.job!r}{dry}",
            facts,
            [
                ("steps", display.table(header, rows)),
                (
                    "rejects by errorSymbol",
                    display.table(["step", "errorSymbol", "rows"], rejects) if rejects else "",
                ),
            ],
        )

    def plot(self, *, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Draw each step's counts (and rejects) as bars; return the matplotlib axes."""
        counts = {
            f"{s.index} {name}": n
            for s in self.steps
            for name, n in [*s.counts.items(), *([("rejected", s.rejected)] if s.rejected else [])]
        }
        title = f"job {self.job!r}, rows per step"
        return charts.bars(counts, title=title, xlabel="rows", ax=ax, **kwargs)


def _html_row(step: StepReport) -> list[Any]:
    notes = [*map(str, step.attempts), *step.notes, *([step.error] if step.error else [])]
    time = display.duration(step.seconds)
    return [
        step.index,
        step.label,
        step.status,
        step.summary(),
        step.rejected,
        step.api_calls,
        time,
        "; ".join(notes),
    ]


def _duration(seconds: float) -> str:
    """``300`` → ``5m``; ``90.5`` → ``1m30.5s``."""
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    if rest or not (hours or minutes):
        parts.append(f"{rest:g}s")
    return "".join(parts)
