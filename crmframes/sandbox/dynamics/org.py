"""The state of one emulated Dataverse environment: tables, GUIDs, row versions, audit log.

Edge helper of the Dataverse sandbox (no I/O). It owns the record database and what the
Web API modules share: the schema, the integration (application) user the API acts as,
the row-version counter behind ``versionnumber`` and ``@odata.etag``, the environment
settings (duplicate detection, session lifetime) and the one ``organization`` row (audit
settings).
"""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from crmframes.sandbox.clock import Clock
from crmframes.sandbox.database import Database, Table
from crmframes.sandbox.dynamics.schema import SCHEMA, DvEntity, DvSchema
from crmframes.sandbox.dynamics.values import format_datetime
from crmframes.sandbox.faults import Faults

__all__ = ["DataverseOrg", "EnvironmentSettings"]

Record = dict[str, Any]

INTEGRATION_USER = "# crmframes-sandbox-integration"
_GUIDS = uuid.UUID("0b6f1f7e-5d5a-4c1f-9a43-3e9f3c4c2d10")


@dataclass(frozen=True, kw_only=True)
class EnvironmentSettings:
    """Environment-wide behaviour switches.

    Attributes:
        duplicate_rule: the contact duplicate-detection rule (same email) is published; it
            fires when a write sends ``MSCRM.SuppressDuplicateDetection: false``.
        daily_api_limit: requests allowed (service protection beyond it: 429).
        session_seconds: lifetime of an access token.
        audit_retention_days: the organization's ``auditretentionperiodv2`` when the
            environment starts (days audit history is kept; -1 forever). Change it later
            with ``PATCH organizations(<id>)``, as an administrator would.
        automation: org automation (:mod:`crmframes.sandbox.automation`): text trimmed, and
            a plug-in that formats the phone columns of new records.
    """

    duplicate_rule: bool = False
    daily_api_limit: int = 100_000
    session_seconds: int = 3600
    audit_retention_days: int = 90
    automation: bool = False


class DataverseOrg:
    """Tables and shared state of one sandbox environment.

    Args:
        clock: the sandbox clock.
        faults: the sandbox faults (per-record lock errors are taken here).
        settings: environment-wide behaviour.
        schema: the tables and columns.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        faults: Faults,
        settings: EnvironmentSettings | None = None,
        schema: DvSchema = SCHEMA,
    ) -> None:
        self.clock = clock
        self.faults = faults
        self.settings = settings or EnvironmentSettings()
        self.schema = schema
        self.db = Database()
        self._versions = itertools.count(1_000_000)
        self._version_lock = threading.Lock()
        for entity in schema.entities.values():
            unique = {columns[0]: False for _, columns in entity.keys if len(columns) == 1}
            self.db.create_table(entity.logical_name, key=entity.primary_id, unique=unique)
        self.integration_user_id = self.guid(INTEGRATION_USER)
        now = self.now_wire()
        self.table("systemuser").load(
            [
                self.blank(schema.entities["systemuser"])
                | {
                    "systemuserid": self.integration_user_id,
                    "firstname": "crmframes",
                    "lastname": "Integration",
                    "fullname": "crmframes Integration",
                    "internalemailaddress": "integration@crmframes-sandbox.example",
                    "domainname": "integration@crmframes-sandbox.example",
                    "isdisabled": False,
                    "statecode": 0,
                    "statuscode": 1,
                    "createdon": now,
                    "modifiedon": now,
                    "_createdby_value": self.integration_user_id,
                    "_modifiedby_value": self.integration_user_id,
                    "versionnumber": self.next_version(),
                }
            ]
        )
        if "organization" in schema.entities:
            self.table("organization").load(
                [
                    self.blank(schema.entities["organization"])
                    | {
                        "organizationid": self.guid("organization"),
                        "name": "crmframes sandbox",
                        "isauditenabled": True,
                        "auditretentionperiodv2": self.settings.audit_retention_days,
                        "createdon": now,
                        "modifiedon": now,
                        "_createdby_value": self.integration_user_id,
                        "_modifiedby_value": self.integration_user_id,
                        "versionnumber": self.next_version(),
                    }
                ]
            )

    # --- tables, ids, versions -----------------------------------------------------------------

    def table(self, logical_name: str) -> Table:
        """The table of an entity (logical name)."""
        return self.db[logical_name]

    @staticmethod
    def guid(*parts: str) -> str:
        """A deterministic GUID for demo records (``uuid5`` of the parts)."""
        return str(uuid.uuid5(_GUIDS, "/".join(parts)))

    @staticmethod
    def new_guid() -> str:
        """A fresh random GUID for records created through the API."""
        return str(uuid.uuid4())

    def next_version(self) -> int:
        """The next row version (``versionnumber``; the etag is ``W/"<version>"``)."""
        with self._version_lock:
            return next(self._versions)

    def blank(self, entity: DvEntity) -> Record:
        """A record of ``entity`` with every property set to None."""
        return dict.fromkeys(entity.properties)

    def now_wire(self) -> str:
        """The clock's time in the Web API's DateTimeOffset format."""
        return format_datetime(self.clock.now())

    # --- the OData resolver protocol -----------------------------------------------------------

    def get(self, entity: str, record_id: str) -> Record | None:
        """The live record ``record_id`` of table ``entity``, or None."""
        table = self.db.tables.get(entity)
        return None if table is None else table.get(record_id)

    def scan(self, entity: str) -> Iterable[Record]:
        """A snapshot of the live records of a table."""
        with self.db.lock:
            return list(self.db[entity].rows.values())
