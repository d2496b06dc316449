"""The memory CRM's emulation: one in-memory table of members behind a small JSON API.

Served by crmframes' sandbox machinery (HTTPS on 127.0.0.1, the throw-away CA, the clock,
the call counter) through the registry's :class:`~crmframes.registry.SandboxSupport`.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from crmframes import registry
from crmframes.errors import SandboxError
from crmframes.sandbox import Profile
from crmframes.sandbox.server import Request, Response, Router
from crmframes.settings import Auth

__all__ = ["SUPPORT", "MemoryApp"]

MEMBER = {
    "name": "Member",
    "id_field": "Id",
    "modified_field": "LastModified",
    "fields": [
        {"name": "Id", "kind": "id", "createable": False, "updateable": False},
        {"name": "Email", "kind": "string", "external_id": True},
        {"name": "Name", "kind": "string"},
        {"name": "Points", "kind": "integer"},
        {"name": "LastModified", "kind": "datetime", "createable": False, "updateable": False},
    ],
}
WRITABLE = ("Email", "Name", "Points")


class Credentials:
    """The one client the memory CRM accepts."""

    def __init__(self) -> None:
        self.client_id = "memory-app"
        self.client_secret = secrets.token_urlsafe(16)

    def as_dict(self) -> dict[str, str]:
        return {"client_id": self.client_id, "client_secret": self.client_secret}


class MemoryApp:
    """The protocol app: token, describe, records, write, time."""

    def __init__(self, clock: Any, counter: Any, faults: Any) -> None:
        self.clock = clock
        self.counter = counter
        self.faults = faults  # lock_row faults: a record answered MEMBERS_BUSY
        self.credentials = Credentials()
        self.org: dict[str, dict[str, Any]] = {}  # id -> record: the one table
        self.base_url = ""
        self._tokens: set[str] = set()
        self._lock = threading.Lock()
        self._router = Router()
        self._router.add("POST", r"/oauth/token", self._token)
        self._router.add("GET", r"/api/objects", self._objects)
        self._router.add("GET", r"/api/objects/(?P<name>\w+)", self._describe)
        self._router.add("GET", r"/api/objects/(?P<name>\w+)/records", self._records)
        self._router.add("POST", r"/api/objects/(?P<name>\w+)/write", self._write)
        self._router.add("GET", r"/api/time", self._time)

    # --- the server's App protocol ----------------------------------------------------------

    def handle(self, request: Request) -> Response:
        handler = self._router.resolve(request)
        if not callable(handler):
            return Response.json(404, {"error": f"no route {request.method} {request.path}"})
        if request.path.startswith("/api/"):
            token = (request.header("Authorization") or "").removeprefix("Bearer ")
            if token not in self._tokens:
                return Response.json(401, {"error": "invalid token"})
            self.counter.count("api")
        return handler(request)

    def fault_response(self, fault: Any, request: Request) -> Response:
        return Response.json(503, {"error": f"injected fault {fault.kind}"})

    def error_response(self, exc: BaseException, request: Request) -> Response:
        return Response.json(500, {"error": type(exc).__name__})

    def http_error(self, status: int, message: str) -> Response:
        return Response.json(status, {"error": message})

    def close(self) -> None:
        pass

    # --- what a request did, for the production profile (crmframes.sandbox.profile) ---------

    def limited(self, request: Request) -> bool:
        return request.path.startswith("/api/")  # the token call is not an API call

    def work(self, request: Request, response: Response) -> dict[str, int]:
        if request.path.endswith("/write") and response.status == 200:
            return {"create": len(request.json()["records"])}
        return {}

    # --- handlers ---------------------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        form = request.form()
        if (form.get("client_id"), form.get("client_secret")) != (
            self.credentials.client_id,
            self.credentials.client_secret,
        ):
            return Response.json(401, {"error": "invalid_client"})
        token = secrets.token_urlsafe(16)
        self._tokens.add(token)
        return Response.json(200, {"access_token": token})

    def _objects(self, request: Request) -> Response:
        return Response.json(200, {"objects": ["Member"]})

    def _describe(self, request: Request) -> Response:
        if request.params["name"] != "Member":
            return Response.json(404, {"error": f"no object {request.params['name']}"})
        return Response.json(200, MEMBER)

    def _records(self, request: Request) -> Response:
        with self._lock:
            return Response.json(200, {"records": list(self.org.values())})

    def _time(self, request: Request) -> Response:
        return Response.json(200, {"now": _wire_time(self.clock.now())})

    def _write(self, request: Request) -> Response:
        body = request.json()
        with self._lock:
            outcomes = [
                _failed(
                    "MEMBERS_BUSY", "the server is busy; send it later", code="409", transient=True
                )
                if self.faults.take_record(request.method, request.path, "Member")
                else self._write_one(body["op"], body["key"], r)
                for r in body["records"]
            ]
        return Response.json(200, {"outcomes": outcomes})

    def _write_one(self, op: str, key: str | None, record: dict[str, Any]) -> dict[str, Any]:
        if op == "delete":
            if self.org.pop(record["Id"], None) is None:
                return _failed("NOT_FOUND", "no such member", missing=True)
            return {"ok": True, "id": record["Id"]}
        target = None
        if op == "update":
            target = self.org.get(record["Id"])
            if target is None:
                return _failed("NOT_FOUND", "no such member", missing=True)
        elif op == "upsert":
            assert key is not None
            target = next((r for r in self.org.values() if r[key] == record[key]), None)
        if target is None and not record.get("Name"):
            return _failed("REQUIRED_FIELD_MISSING", "a member needs a Name", fields="Name")
        created = target is None
        if target is None:
            target = {"Id": f"m-{len(self.org) + 1:06d}", **dict.fromkeys(WRITABLE)}
            self.org[target["Id"]] = target
        target.update({name: record[name] for name in WRITABLE if name in record})
        target["LastModified"] = _wire_time(self.clock.now())
        return {"ok": True, "id": target["Id"], "created": created}


def _wire_time(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as the CRMs write datetimes."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _failed(
    symbol: str,
    message: str,
    *,
    fields: str = "",
    code: str = "400",
    missing: bool = False,
    transient: bool = False,
) -> dict[str, Any]:
    return {
        "ok": False,
        "error_symbol": symbol,
        "error_message": message,
        "error_code": code,
        "error_fields": fields,
        "missing": missing,
        "transient": transient,
    }


class MemorySandbox:
    """The registry's sandbox hook for the memory CRM."""

    session_seconds = 3600
    # a small server's figures for the production profile; it declares no service limits
    production = Profile(round_trip=0.02, request_overhead=0.01, query_row=0.0001, create=0.002)
    limits = None

    def build(
        self, *, clock: Any, faults: Any, options: Mapping[str, Any], counter: Any, profile: Any
    ) -> tuple[Any, Callable[[Any], None]]:
        def load(demo: Any) -> None:
            raise SandboxError("the memory CRM has no demo org; use data='empty'")

        return MemoryApp(clock, counter, faults), load

    def settings(self, app: Any, *, url: str, ca_file: str, auth: Auth) -> Any:
        return registry.crm_kind("memory").settings(url=url, auth=auth, ca_file=ca_file)

    def auth_values(self, app: Any, flow: str, *, url: str, ca_file: str) -> dict[str, Any]:
        if flow != "client_credentials":
            raise ValueError(f"the memory CRM has no {flow} flow")
        return app.credentials.as_dict()

    def connector_options(self, flow: str) -> dict[str, Any]:
        return {}

    def records(
        self, app: Any, object_name: str, *, include_deleted: bool
    ) -> tuple[list[list[Any]], list[str]]:
        columns = [f["name"] for f in MEMBER["fields"]]
        return [[r.get(c) for c in columns] for r in app.org.values()], columns


SUPPORT = MemorySandbox()
