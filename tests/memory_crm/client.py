"""The memory CRM's client side: settings, accounts-file entry, and a connector over its JSON API.

The API: ``POST /oauth/token`` (client credentials) gives a bearer token; ``GET
/api/objects/{name}`` describes an object; ``GET /api/objects/{name}/records`` returns every
record as wire values (the connector filters, orders and limits them with crmframes' own
filter evaluation); ``POST /api/objects/{name}/write`` applies one batch and answers one
outcome per record; ``GET /api/time`` is the server's clock.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import requests

from crmframes.connectors.base import (
    ApiLimits,
    BulkJobRef,
    CreatedRecord,
    DeletedRecord,
    Page,
    ReadRequest,
    WriteBatch,
    WriteOp,
    WriteOutcome,
    WriteParallelism,
)
from crmframes.connectors.throttling import Throttling
from crmframes.errors import ConfigError, ConnectorError, NotFoundError
from crmframes.filters import evaluate
from crmframes.frames import Collation
from crmframes.registry import CrmKind
from crmframes.schema import Field, ObjectSchema
from crmframes.settings import (
    AccessToken,
    ClientCredentials,
    EnvReader,
    Flow,
    auth_from_env,
    auth_to_env,
    check_common,
)
from crmframes.specs.account_file import CrmAccount

__all__ = ["KIND", "MemoryAccount", "MemoryConnector", "MemorySettings"]

ENV_PREFIX = "MEMORYCRM_"
FLOWS = {"client_credentials": Flow(("client_id", "client_secret"))}
MemoryAuth = ClientCredentials | AccessToken


@dataclass(frozen=True, kw_only=True)
class MemorySettings:
    """How to reach a memory CRM."""

    url: str
    auth: MemoryAuth
    ca_file: str | None = None
    timeout: float = 30.0

    def __post_init__(self) -> None:
        check_common(self, MemoryAuth)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, prefix: str = ENV_PREFIX
    ) -> MemorySettings:
        env = EnvReader(environ, prefix)
        auth: Any = auth_from_env(env, FLOWS)
        return cls(url=env.need("URL"), auth=auth, ca_file=env.get("CA_FILE"))

    def to_env(self, *, prefix: str = ENV_PREFIX) -> dict[str, str]:
        env = {prefix + "URL": self.url} | auth_to_env(self.auth, prefix)
        return env | ({prefix + "CA_FILE": self.ca_file} if self.ca_file else {})


class MemoryAccount(CrmAccount):
    """A memory CRM in the accounts file."""

    crm: Literal["memory"]


class MemoryConnector:
    """Reads and writes a memory CRM (the Connector protocol, nothing more)."""

    system = "memory"
    id_chunk_size = 100
    collation: Collation = "upper"
    supports_bulk_write = False
    cursor_resumes = 0  # one answer per read: nothing to resume

    def __init__(self, settings: MemorySettings, *, session: requests.Session | None = None):
        self.settings = settings
        self.session = session or requests.Session()
        self.session.trust_env = False  # this machine's REQUESTS_CA_BUNDLE would win
        self.session.verify = settings.ca_file or True
        self.calls = 0
        self.throttling = Throttling()  # the memory CRM never throttles: nothing to count
        self._describes: dict[str, ObjectSchema] = {}
        auth = settings.auth
        if isinstance(auth, AccessToken):
            token = auth.token.reveal()
        else:
            form = {"client_id": auth.client_id, "client_secret": auth.client_secret.reveal()}
            token = self._call("POST", "/oauth/token", data=form)["access_token"]
        self.session.headers["Authorization"] = f"Bearer {token}"

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        reply = self.session.request(
            method, self.settings.url + path, timeout=self.settings.timeout, **kwargs
        )
        if path.startswith("/api/"):
            self.calls += 1
        if reply.status_code == 404:
            raise NotFoundError(reply.text, system=self.system, operation=path, status=404)
        if reply.status_code >= 300:
            raise ConnectorError(
                reply.text, system=self.system, operation=path, status=reply.status_code
            )
        return reply.json()

    @property
    def instance(self) -> str:
        return self.settings.url

    @property
    def api_calls(self) -> int:
        return self.calls

    def close(self) -> None:
        self.session.close()

    @property
    def write_parallelism(self) -> WriteParallelism:
        return WriteParallelism(default=2, ceiling=4)  # a small server: a few calls at once

    @property
    def longest_call(self) -> timedelta:
        return timedelta(seconds=self.settings.timeout)  # its server has no limit of its own

    def objects(self) -> list[str]:
        return list(self._call("GET", "/api/objects")["objects"])

    def read_limits(self) -> ApiLimits:
        return ApiLimits(None, None, "Memory CRM lists no limits")

    def describe(self, object_name: str) -> ObjectSchema:
        if object_name not in self._describes:
            body = self._call("GET", f"/api/objects/{object_name}")
            fields = {
                f["name"]: Field(
                    f["name"],
                    f["kind"],
                    external_id=f.get("external_id", False),
                    createable=f.get("createable", True),
                    updateable=f.get("updateable", True),
                )
                for f in body["fields"]
            }
            self._describes[object_name] = ObjectSchema(
                body["name"],
                fields,
                body["id_field"],
                modified_fields=(body["modified_field"],),
                keys=tuple((name,) for name, f in fields.items() if f.external_id),
            )
        return self._describes[object_name]

    def field(self, object_name: str, name: str) -> Field:
        found = self.describe(object_name).find(name)
        if found is None:
            raise ConfigError(f"{object_name} has no field {name!r}")
        return found

    def read(self, request: ReadRequest) -> Iterator[Page]:
        schema = self.describe(request.object)
        rows = self._call("GET", f"/api/objects/{request.object}/records")["records"]
        frame = pd.DataFrame.from_records(rows, columns=list(schema.fields))
        typed = frame.copy()
        for name, f in schema.fields.items():
            if f.kind == "datetime":
                typed[name] = pd.to_datetime(typed[name], utc=True)
        if request.where is not None:
            frame = frame[evaluate(request.where, typed).to_numpy()]
        if request.order_by:
            names = [name for name, _ in request.order_by]
            frame = frame.sort_values(names, ascending=[not d for _, d in request.order_by])
        if request.limit is not None:
            frame = frame.head(request.limit)
        records = frame[list(request.fields)].to_dict("records")
        table = pa.Table.from_pylist(records) if records else _empty(schema, request.fields)
        yield Page(table, total=len(records))

    def normalize_id(self, value: object) -> str | None:
        if isinstance(value, str) and value.strip().startswith("m-"):
            return value.strip()
        return None

    def server_time(self) -> datetime:
        return datetime.fromisoformat(self._call("GET", "/api/time")["now"])

    def write_limit(self, op: WriteOp, *, bulk: bool = False) -> int:
        if bulk:
            raise ConfigError("the memory CRM has no bulk writes")
        return 50

    def write(self, batch: WriteBatch) -> list[WriteOutcome]:
        body = {"op": batch.op, "key": batch.key, "records": [dict(r) for r in batch.records]}
        answer = self._call("POST", f"/api/objects/{batch.object}/write", json=body)
        return [WriteOutcome(**outcome) for outcome in answer["outcomes"]]

    def write_bulk(
        self, batch: WriteBatch, *, on_submitted: Callable[[BulkJobRef], None] | None = None
    ) -> list[WriteOutcome]:
        raise ConfigError("the memory CRM has no bulk writes")

    def resume_bulk(self, batch: WriteBatch, job: BulkJobRef) -> list[WriteOutcome] | None:
        return None

    def new_record_ids(self, object_name: str, seeds: Sequence[str]) -> list[str] | None:
        return None

    def find_created(
        self,
        object_name: str,
        records: Sequence[Mapping[str, Any]],
        since: datetime,
        *,
        exclude: Collection[str] = (),
    ) -> list[str | None]:
        return [None] * len(records)  # never guess: an unknown outcome stays a reject

    def read_created(self, object_name: str, ids: Sequence[str]) -> list[CreatedRecord]:
        return []  # its inserts never name ids, so no insert answers "exists" and none asks

    def read_deleted(self, object_name: str, start: datetime, end: datetime) -> list[DeletedRecord]:
        return []

    def deleted_horizon(self, object_name: str) -> datetime | None:
        return None


def _empty(schema: ObjectSchema, fields: Sequence[str]) -> pa.Table:
    types = {"integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_()}
    return pa.table(
        {name: pa.array([], types.get(schema.fields[name].kind, pa.string())) for name in fields}
    )


KIND = CrmKind(
    name="memory",
    label="Memory CRM",
    settings=MemorySettings,
    account=MemoryAccount,
    flows=FLOWS,
    connector=MemoryConnector,
    sandbox="tests.memory_crm.sandbox:SUPPORT",  # imported only when its sandbox starts
    probe=("Member", "Email"),
    for_now_symbols=frozenset({"MEMBERS_BUSY"}),  # its server is busy: the same rows pass later
)
