"""The state of one emulated Salesforce org: tables, ids, users, recycle bin, sessions.

Edge helper of the Salesforce sandbox (no I/O). It owns the record database and everything
the protocol modules share: the schema, one id factory per object, the integration user
the API acts as, the recycle bin with its 15-day retention, and the org-wide settings
(duplicate rule, daily API allocation, session timeout).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from crmframes.sandbox.clock import Clock
from crmframes.sandbox.database import Database, Table
from crmframes.sandbox.faults import Faults
from crmframes.sandbox.salesforce.ids import IdFactory, normalize_id
from crmframes.sandbox.salesforce.schema import SCHEMA, SfObject, SfSchema
from crmframes.sandbox.salesforce.values import format_datetime

__all__ = ["OrgSettings", "SalesforceOrg"]

Record = dict[str, Any]

RECYCLE_BIN_DAYS = 15  # getDeleted / queryAll horizon (reference §7)
UPDATED_HORIZON_DAYS = 30  # getUpdated horizon
INTEGRATION_USERNAME = "integration@crmframes-sandbox.example"


@dataclass(frozen=True, kw_only=True)
class OrgSettings:
    """Org-wide behaviour switches.

    Attributes:
        duplicate_rule: activate the Contact duplicate rule (same email ⇒ ``DUPLICATES_DETECTED``).
        daily_api_limit: the daily API request allocation (``REQUEST_LIMIT_EXCEEDED`` past it).
        session_seconds: inactivity after which an access token expires.
        api_version: the newest API version served.
        automation: org automation (:mod:`crmframes.sandbox.automation`): text trimmed, and
            a record-triggered flow that formats the phone fields of new records.
    """

    duplicate_rule: bool = False
    daily_api_limit: int = 100_000
    session_seconds: int = 7200
    api_version: str = "62.0"
    automation: bool = False


class SalesforceOrg:
    """Tables and shared state of one sandbox org.

    Args:
        clock: the sandbox clock.
        faults: the sandbox faults (per-record lock errors are taken here).
        settings: org-wide behaviour.
        schema: the objects and fields.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        faults: Faults,
        settings: OrgSettings | None = None,
        schema: SfSchema = SCHEMA,
    ) -> None:
        self.clock = clock
        self.faults = faults
        self.settings = settings or OrgSettings()
        self.schema = schema
        self.db = Database()
        self.org_id = IdFactory("00D").make(1)
        self._factories: dict[str, IdFactory] = {}
        for obj in schema.objects.values():
            unique = {f.name: f.case_sensitive for f in obj.fields if f.unique}
            self.db.create_table(obj.name, key="Id", unique=unique)
            self._factories[obj.name] = IdFactory(obj.key_prefix)
        created = format_datetime(clock.now() - timedelta(days=1000))
        self.integration_user_id = self.new_id("User")
        self.table("User").load(
            [
                self.blank(schema.objects["User"])
                | {
                    "Id": self.integration_user_id,
                    "Username": INTEGRATION_USERNAME,
                    "FirstName": "Integration",
                    "LastName": "User",
                    "Name": "Integration User",
                    "Alias": "integ",
                    "Email": INTEGRATION_USERNAME,
                    "IsActive": True,
                    "CreatedDate": created,
                    "CreatedById": self.integration_user_id,
                    "LastModifiedDate": created,
                    "LastModifiedById": self.integration_user_id,
                    "SystemModstamp": created,
                }
            ]
        )

    # --- tables and ids ----------------------------------------------------------------

    def table(self, object_name: str) -> Table:
        """Return the table of an object (canonical name)."""
        return self.db[object_name]

    def new_id(self, object_name: str) -> str:
        """Issue a new 18-character id for ``object_name``."""
        return self._factories[object_name].next()

    def reserve_ids(self, object_name: str, count: int) -> list[str]:
        """Issue ``count`` consecutive ids (demo loading)."""
        return [self._factories[object_name].next() for _ in range(count)]

    def object_of_id(self, record_id: str) -> SfObject | None:
        """Return the object whose key prefix starts ``record_id``."""
        return self.schema.by_prefix(record_id[:3])

    def blank(self, obj: SfObject) -> Record:
        """Return a record of ``obj`` with every stored field set to None."""
        return {f.name: None for f in obj.fields if f.type != "address"}

    # --- the SOQL resolver protocol --------------------------------------------------------

    def get(self, object_name: str, record_id: str) -> Record | None:
        """Return the live record ``record_id`` of ``object_name``, or None."""
        table = self.db.tables.get(object_name)
        key = normalize_id(record_id)
        return None if table is None or key is None else table.get(key)

    def scan(self, object_name: str, *, include_deleted: bool = False) -> Iterable[Record]:
        """Return the live records (and, for queryAll, the recycle bin) of an object."""
        table = self.db[object_name]
        with self.db.lock:
            live = list(table.rows.values())
            if include_deleted:
                self.purge_recycle_bin()
                live.extend(table.bin.values())
        return live

    # --- recycle bin ------------------------------------------------------------------------

    def bin_horizon(self) -> datetime:
        """The oldest deletion still in the recycle bin (now minus 15 days)."""
        return self.clock.now() - timedelta(days=RECYCLE_BIN_DAYS)

    def purge_recycle_bin(self) -> None:
        """Hard-delete recycle-bin entries older than the retention period."""
        horizon = format_datetime(self.bin_horizon())
        with self.db.lock:
            for table in self.db.tables.values():
                if table.bin:
                    table.purge(lambda rec: rec["_deleted_at"] >= horizon)

    def find_deleted(self, object_name: str, record_id: str) -> Record | None:
        """Return the recycle-bin tombstone of a record, or None."""
        return self.db[object_name].bin.get(record_id)

    def deleted_between(self, object_name: str, start: str, end: str) -> Iterator[Record]:
        """Yield tombstones whose deletion time (wire format) lies in ``[start, end]``."""
        self.purge_recycle_bin()
        with self.db.lock:
            tombstones = list(self.db[object_name].bin.values())
        return (t for t in tombstones if start <= t["_deleted_at"] <= end)

    def now_wire(self) -> str:
        """The clock's time in Salesforce's datetime format."""
        return format_datetime(self.clock.now())
