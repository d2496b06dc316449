"""Import the records deleted in the CRM over a window ``[start, end)`` (``end`` excluded).

Orchestration: written once over the Connector protocol. Salesforce answers from getDeleted
(its recycle bin: about 15 days back); Dataverse from the audit table (``operation`` 3, kept
as long as the environment's audit retention says). A ``start`` older than the CRM keeps
deletions fails with an error naming the horizon, before anything is imported: silently
importing a partial window would make the store believe records still exist.

Windows chain: the next one starts at this one's ``end``, and every deletion lands in
exactly one of them. So ``end`` is excluded, and by default it is a second the CRM's clock
has already left (its ``Date`` header, read after the current second closed): a deletion
stamped before it was made before the read, and one made later is stamped at or after it.
The connectors read ``[start, end]`` to the CRM's granularity (Salesforce getDeleted works
in minutes, Dataverse audit times in whole seconds); the window is cut here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pandas as pd

from crmframes import display
from crmframes.arguments import check_connector, check_str
from crmframes.connectors.base import Connector
from crmframes.errors import ConfigError
from crmframes.frames import time_zone

__all__ = ["DeletedResult", "import_deleted_from_crm"]

CLOSE_WAIT = 1.0  # seconds: the CRM's current second is over after this long


@dataclass
class DeletedResult:
    """The outcome of :func:`import_deleted_from_crm`.

    Attributes:
        frame: one row per deleted record: the id (column named like the object's id field,
            e.g. ``Id`` or ``contactid``), ``deletedDate`` (UTC) and ``deletedBy``.
        object: the object's API name.
        system: ``"salesforce"`` or ``"dynamics"``.
        key: the id column.
        start: the window's start (included).
        end: the window's end (excluded): the next window's start.
        api_calls: API calls made.
        seconds: wall time.
    """

    frame: pd.DataFrame
    object: str
    system: str
    key: str
    start: datetime
    end: datetime
    api_calls: int
    seconds: float

    def __repr__(self) -> str:
        return (
            f"DeletedResult({self.system} {self.object}: {len(self.frame):,} deleted between "
            f"{self.start:%Y-%m-%d %H:%M:%S} and {self.end:%Y-%m-%d %H:%M:%S} UTC (excluded), "
            f"{self.api_calls} API calls)"
        )

    def _repr_html_(self) -> str:
        window = f"{self.start:%Y-%m-%d %H:%M:%S} to {self.end:%Y-%m-%d %H:%M:%S} UTC"
        facts = [("window", window), ("deleted", len(self.frame)), ("API calls", self.api_calls)]
        facts.append(("time", display.duration(self.seconds)))
        title = f"records of {self.system} {self.object} deleted in the CRM"
        return display.card(title, facts, [("first rows", display.frame(self.frame))])


def _moment(value: object, name: str, zone: ZoneInfo) -> datetime:
    if isinstance(value, str):
        try:
            value = pd.Timestamp(value)
        except (ValueError, OverflowError) as exc:
            raise ConfigError(f"{name}={value!r} is not a date or a date and time") from exc
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime) or pd.isna(value):
        raise ConfigError(f"{name} must be a datetime, a date or an ISO string, not {value!r}")
    moment = value.to_pydatetime() if isinstance(value, pd.Timestamp) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:  # a moment at the very end of the calendar
        raise ConfigError(f"{name}={value!r} is out of the range of dates") from exc


def _closed_second(conn: Connector) -> datetime:
    """The start of the CRM's current second, read a second after the call began.

    The CRM's clock comes in whole seconds (HTTP ``Date``) and a deletion later in the
    second it says is stamped within that second, so the window ends where the current
    second begins, and the clock is read a second late: everything deleted before the
    call is stamped before that second. A clock that does not move (a frozen sandbox
    clock) keeps its current second for the next window.
    """
    time.sleep(CLOSE_WAIT)
    return conn.server_time().replace(microsecond=0)


def import_deleted_from_crm(
    conn: Connector,
    object: str,
    *,
    start: datetime | date | str,
    end: datetime | date | str | None = None,
    timezone: str = "UTC",
) -> DeletedResult:
    """Import the records of ``object`` deleted from ``start`` (included) to ``end`` (excluded).

    Start the next window at this one's ``end``: every deletion lands in exactly one window.

    Args:
        conn: a connector.
        object: the object's API name.
        start: the window's start; a naive value is read in ``timezone``.
        end: the window's end, excluded; None for the start of the CRM's current second
            read a second after the call (its HTTP ``Date`` header; the call waits that
            second): everything deleted before the call is in the window. A CRM clock that
            does not move (a frozen sandbox clock) keeps its current second's deletions
            for the next window. Never before ``start`` (an empty window then).
        timezone: the zone of naive ``start`` / ``end`` values.

    Returns:
        The deleted ids with when and by whom, oldest first.

    Raises:
        ConfigError: a bad window (``start`` after ``end``, unparseable values).
        RequestRejectedError: ``start`` is older than the CRM keeps deletions (the message
            names the horizon), or the CRM does not record deletions for this object.
    """
    check_connector(conn)
    check_str("object", object, what="an object's API name")
    zone = time_zone(timezone)
    begin = _moment(start, "start", zone)
    given_end = None if end is None else _moment(end, "end", zone)
    started = time.perf_counter()
    calls_before = conn.api_calls
    schema = conn.describe(object)
    finish = max(begin, _closed_second(conn)) if given_end is None else given_end
    if begin > finish:
        raise ConfigError(
            f"start ({begin:%Y-%m-%d %H:%M:%S}) is after end ({finish:%Y-%m-%d %H:%M:%S})"
        )
    # the connectors read [start, end], both included: end belongs to the next window
    deleted = (
        [d for d in conn.read_deleted(schema.name, begin, finish) if begin <= d.deleted_at < finish]
        if begin < finish
        else []
    )
    frame = pd.DataFrame(
        {
            schema.id_field: pd.Series([d.id for d in deleted], dtype="str"),
            "deletedDate": pd.Series([d.deleted_at for d in deleted], dtype="datetime64[ms, UTC]"),
            "deletedBy": pd.Series([d.deleted_by for d in deleted], dtype="str"),
        }
    )
    return DeletedResult(
        frame,
        schema.name,
        conn.system,
        schema.id_field,
        begin,
        finish,
        conn.api_calls - calls_before,
        time.perf_counter() - started,
    )
