"""Dataverse Web API entity sets in the sandbox: queries with paging, retrieve, create, update, delete.

Edge: ``/api/data/v9.2/<entityset>...`` as in reference/dataverse-api.md §3 and §5:
``$select/$filter/$orderby/$top/$count`` with ``Prefer: odata.maxpagesize`` (default and
maximum 5,000) and an opaque ``$skiptoken`` in ``@odata.nextLink``; formatted-value and
lookup annotations on request; ``@odata.etag`` on every row; create (204 + ``OData-EntityId``
or 201 with ``return=representation``), update, upsert by id or alternate key with
``If-Match`` / ``If-None-Match``, delete, single-property PUT/DELETE, ``/$count``;
``?fetchXml=`` goes to :mod:`.fetchxml` and the ``*Multiple`` actions to :mod:`.multiple`.

Longer than 500 lines: the entity-set resources of one API share the cursor, the preferences and
the etags.
"""

from __future__ import annotations

import bisect
import collections
import re
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlencode

import orjson

from crmframes.sandbox.dynamics.fetchxml import fetch_page, plan_fetch
from crmframes.sandbox.dynamics.id_index import IdIndex, in_id_order
from crmframes.sandbox.dynamics.multiple import ACTIONS, BulkActions
from crmframes.sandbox.dynamics.odata import ODataError, QueryPlan, plan_query
from crmframes.sandbox.dynamics.odata_eval import guid_all
from crmframes.sandbox.dynamics.org import DataverseOrg
from crmframes.sandbox.dynamics.records import Key, Writer, lookup_target, parse_key
from crmframes.sandbox.dynamics.schema import OPTION_TYPES, DvEntity
from crmframes.sandbox.dynamics.values import (
    ODATA_HEADERS,
    DataverseError,
    wants_annotation,
)
from crmframes.sandbox.server import HttpError, Request, Response

__all__ = ["NOT_FOUND_SEGMENT", "EntitySets", "Preferences"]

NOT_FOUND_SEGMENT = "0x8006088a"  # an unknown entity set, function or action (404)

MAX_PAGE = 5000
COUNT_LIMIT = 5000
MAX_CURSORS = 200
_JSON = "application/json; odata.metadata=minimal"
_STREAMING = "application/json; odata.metadata=minimal; odata.streaming=true"
_RESOURCE = re.compile(
    r"(?P<set>[A-Za-z_][A-Za-z0-9_]*)(?:\((?P<key>.*)\))?(?:/(?P<prop>[$A-Za-z_][A-Za-z0-9_.]*))?"
)
_PREFERENCE = re.compile(r'(?:[^,"]|"[^"]*")+')
_COOKIE = re.compile(
    r'crmframes-cursor="(?P<cursor>[^"]*)" offset="(?P<offset>\d+)" last="(?P<last>[^"]*)"'
    r'(?: next="(?P<next>[^"]*)")?'
)
FOLLOWING = 8  # ids of the rows after a page, in its cookie: where to go on if the last is gone


@dataclass(frozen=True)
class Preferences:
    """The ``Prefer`` header, parsed."""

    max_page_size: int | None = None
    annotations: str | None = None
    representation: bool = False
    continue_on_error: bool = False
    track_changes: bool = False

    @classmethod
    def parse(cls, header: str | None) -> Preferences:
        """Read the comma-joined preferences of one ``Prefer`` header."""
        size: int | None = None
        annotations: str | None = None
        representation = continue_on_error = track_changes = False
        for part in _PREFERENCE.findall(header or ""):  # a quoted value may hold commas
            name, _, value = part.strip().partition("=")
            name = name.strip().lower()
            value = value.strip().strip('"')
            if name == "odata.maxpagesize" and value.isdigit() and int(value) > 0:
                size = int(value)
            elif name == "odata.include-annotations":
                annotations = value
            elif name == "return" and value == "representation":
                representation = True
            elif name == "odata.continue-on-error":
                continue_on_error = True
            elif name == "odata.track-changes":
                track_changes = True
        return cls(size, annotations, representation, continue_on_error, track_changes)


@dataclass
class _Cursor:
    plan: QueryPlan
    rows: list[dict[str, Any]]
    query: dict[str, str]
    ahead: tuple[tuple[int, int], Future[bytes]] | None = None


class EntitySets:
    """The entity-set resources of one environment."""

    def __init__(self, org: DataverseOrg) -> None:
        self.org = org
        self.writer = Writer(org)
        self.bulk = BulkActions(org, self.writer)
        self.base_url = ""  # https://127.0.0.1:PORT
        self._cursors: collections.OrderedDict[str, _Cursor] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._ids = IdIndex()  # primary-id seeks (.id_index)

    @property
    def root(self) -> str:
        """The service root, ``https://127.0.0.1:PORT/api/data/v9.2/``."""
        return f"{self.base_url}/api/data/v9.2/"

    # --- dispatch ---------------------------------------------------------------------------------

    def handle(self, request: Request, path: str) -> Response:
        """Answer a request for ``path`` (the part after ``/api/data/v9.2/``, decoded)."""
        match = _RESOURCE.fullmatch(path)
        entity = self.org.schema.by_set(match["set"]) if match else None
        if match is None or entity is None:
            segment = path.split("(")[0].split("/")[0]
            raise DataverseError(  # the code of web-api-client-errors, "Resource not found"
                404, NOT_FOUND_SEGMENT, f"Resource not found for the segment '{segment}'."
            ).http()
        key_text, prop = match["key"], match["prop"]
        if key_text is None:
            if prop == "$count" and request.method == "GET":
                return self._count(request, entity)
            if prop in ACTIONS:
                return self.bulk.handle(request, entity, prop, root=self.root)
            if prop is not None:
                raise DataverseError(
                    404, NOT_FOUND_SEGMENT, f"Resource not found for the segment '{prop}'."
                ).http()
            if request.method == "GET":
                return self.query(request, entity)
            if request.method == "POST":
                return self.create(request, entity)
            raise self._method_not_allowed(request)
        key = self._key(entity, key_text)
        if prop is not None:
            return self._property(request, entity, key, prop)
        if request.method == "GET":
            return self.retrieve(request, entity, key)
        if request.method == "PATCH":
            return self.upsert(request, entity, key, key_text)
        if request.method == "DELETE":
            return self.delete(request, entity, key)
        raise self._method_not_allowed(request)

    def _key(self, entity: DvEntity, text: str) -> Key:
        try:
            return parse_key(entity, text)
        except DataverseError as exc:
            raise exc.http() from exc

    @staticmethod
    def _method_not_allowed(request: Request) -> HttpError:
        return DataverseError(
            405, "0x80060888", f"The HTTP verb '{request.method}' is not allowed on this resource."
        ).http()

    # --- queries ------------------------------------------------------------------------------------

    def _plan(self, request: Request, entity: DvEntity, query: dict[str, str]) -> QueryPlan:
        unsupported = [
            k
            for k in query
            if k.startswith("$")
            and k not in ("$select", "$filter", "$orderby", "$top", "$count", "$skiptoken")
        ]
        if unsupported:
            raise DataverseError(
                400,
                "0x80060888",
                f"The query parameter '{unsupported[0]}' is not supported by "
                "the crmframes sandbox.",
            ).http()
        aliases = {k: v for k, v in query.items() if k.startswith("@")}
        try:
            return plan_query(
                entity,
                self.org.schema,
                select=query.get("$select"),
                filter=query.get("$filter"),
                orderby=query.get("$orderby"),
                top=query.get("$top"),
                aliases=aliases,
            )
        except ODataError as exc:
            raise DataverseError(exc.status, exc.code, exc.message).http() from exc

    @staticmethod
    def _query_args(request: Request) -> dict[str, str]:
        return {k: v[-1] for k, v in request.query.items()}

    def query(self, request: Request, entity: DvEntity) -> Response:
        """``GET /<set>?$select&$filter&$orderby&$top&$count`` and its ``$skiptoken`` pages."""
        query = self._query_args(request)
        foreign = [k for k in query if not k.startswith(("$", "@")) and k != "fetchXml"]
        if foreign:  # savedQuery, userQuery, sql, fetchxml in another case...: refused, not ignored
            raise DataverseError(
                400,
                "0x80040203",
                f"The query parameter '{foreign[0]}' is not supported by the crmframes sandbox "
                "(it runs $select, $filter, $orderby, $top, $count and fetchXml).",
            ).http()
        if "fetchXml" in query:
            return self._fetch(request, entity, query)
        prefs = Preferences.parse(request.header("Prefer"))
        if prefs.track_changes or "$deltatoken" in query:
            return self._delta(request, entity, query, prefs)
        page_size = min(prefs.max_page_size or MAX_PAGE, MAX_PAGE)
        token = query.pop("$skiptoken", None)
        if token is not None:
            cursor, offset = self._resume(request, entity, query, token)
        else:
            plan = self._plan(request, entity, query)
            rows = self._ids.answer(plan, self.org, query.get("$orderby"))
            cursor, offset = _Cursor(plan, rows, query), 0
        end = min(offset + page_size, len(cursor.rows))
        prepared = cursor.ahead
        cursor.ahead = None
        if prepared is not None and prepared[0] == (offset, end) and prefs.annotations is None:
            body = prepared[1].result()
        else:
            body = self._page(cursor, entity, offset, end, prefs, query)
        headers = {**ODATA_HEADERS, "Content-Type": _STREAMING}
        applied = []
        if prefs.max_page_size is not None:
            applied.append(f"odata.maxpagesize={page_size}")
        if prefs.annotations is not None:
            applied.append(f'odata.include-annotations="{prefs.annotations}"')
        if applied:
            headers["Preference-Applied"] = ",".join(applied)
        response = Response.raw(200, body, _STREAMING, headers)
        if end >= len(cursor.rows):
            if token is not None:
                self._forget(cursor)  # the last page is out; asked again, the query runs again
        elif prefs.annotations is None:
            # Render the next page once this one is sent, while the client reads it.
            following = min(end + page_size, len(cursor.rows))
            ahead: Future[bytes] = Future()
            cursor.ahead = ((end, following), ahead)

            def render_ahead() -> None:
                if ahead.set_running_or_notify_cancel():
                    try:
                        ahead.set_result(self._page(cursor, entity, end, following, prefs, query))
                    except Exception as exc:  # surfaces when that page is asked for
                        ahead.set_exception(exc)

            response.after = render_ahead
        return response

    def _page(
        self,
        cursor: _Cursor,
        entity: DvEntity,
        offset: int,
        end: int,
        prefs: Preferences,
        query: dict[str, str],
    ) -> bytes:
        plan = cursor.plan
        rows = plan.project_many(cursor.rows[offset:end], _etag)
        if prefs.annotations is not None:
            rows = [
                self._annotate(entity, source, row, prefs.annotations)
                for source, row in zip(cursor.rows[offset:end], rows, strict=True)
            ]
        body: dict[str, Any] = {
            "@odata.context": f"{self.root}$metadata#{entity.entity_set}({','.join(plan.columns)})"
        }
        if query.get("$count", "").lower() == "true":
            body["@odata.count"] = min(len(cursor.rows), COUNT_LIMIT)
            exceeded = len(cursor.rows) > COUNT_LIMIT
            for name, value in (("", body["@odata.count"]), ("limitexceeded", exceeded)):
                annotation = f"Microsoft.Dynamics.CRM.totalrecordcount{name}"
                if wants_annotation(prefs.annotations or "", annotation):  # only when asked
                    body[f"@{annotation}"] = value
        body["value"] = rows
        if end < len(cursor.rows):
            body["@odata.nextLink"] = self._next_link(cursor, entity, end, query)
        return orjson.dumps(body)

    def _fetch(self, request: Request, entity: DvEntity, query: dict[str, str]) -> Response:
        """``GET /<set>?fetchXml=<xml>``: the FetchXML subset of :mod:`.fetchxml`."""
        others = sorted(name for name in query if name != "fetchXml")
        prefs = Preferences.parse(request.header("Prefer"))
        try:
            if others:
                raise DataverseError(
                    400,
                    "0x80040203",
                    f"The query parameter '{others[0]}' cannot be combined with fetchXml.",
                )
            plan = plan_fetch(query["fetchXml"], entity, self.org.schema)
            sources, rows, extra = fetch_page(
                plan,
                list(self.org.scan(entity.logical_name)),
                self.org,
                now=self.org.clock.now(),
                annotations=prefs.annotations or "",
            )
        except DataverseError as exc:
            raise exc.http() from exc
        rows = [
            {"@odata.etag": _etag(source), **row} if source else row
            for source, row in zip(sources, rows, strict=True)
        ]
        if prefs.annotations is not None:
            rows = [
                self._annotate(entity, source, row, prefs.annotations)
                for source, row in zip(sources, rows, strict=True)
            ]
        headers = {**ODATA_HEADERS, "Content-Type": _JSON}
        if prefs.annotations is not None:
            headers["Preference-Applied"] = f'odata.include-annotations="{prefs.annotations}"'
        columns = ",".join(name for name in plan.columns if "." not in name)
        body = {
            "@odata.context": f"{self.root}$metadata#{entity.entity_set}({columns})",
            **extra,
            "value": rows,
        }
        return Response.json(200, body, headers)

    # --- change tracking ------------------------------------------------------------------------------

    def _delta(
        self, request: Request, entity: DvEntity, query: dict[str, str], prefs: Preferences
    ) -> Response:
        """``Prefer: odata.track-changes`` and ``$deltatoken`` (reference §8b)."""
        for option in ("$filter", "$orderby", "$top", "$expand"):
            if option in query:
                raise DataverseError(
                    400,
                    "0x80060888",
                    f'The "{option}" query parameter isn\'t supported when '
                    "Change Tracking is enabled.",
                ).http()
        if not entity.writable:
            raise DataverseError(
                400,
                "0x80060888",
                f"Change tracking is not enabled for the '{entity.logical_name}' entity.",
            ).http()
        token = query.pop("$deltatoken", None)
        since = 0
        if token is not None:
            version_text = unquote(token).split("!", 1)[0]
            if not version_text.isdigit():
                raise DataverseError(
                    400, "0x80060888", "The $deltatoken value is not valid."
                ).http()
            since = int(version_text)
        with self.org.db.lock:
            version = self.org.next_version()
            changed = [
                r
                for r in self.org.table(entity.logical_name).rows.values()
                if r["versionnumber"] > since
            ]
            gone = [
                a
                for a in self.org.table("audit").rows.values()
                if a["operation"] == 3
                and a["objecttypecode"] == entity.logical_name
                and a["_version"] > since
            ]
        changed.sort(key=lambda r: r["versionnumber"])
        plan = self._plan(request, entity, {k: v for k, v in query.items() if k == "$select"})
        value: list[dict[str, Any]] = plan.project_many(changed, _etag)
        if token is not None:
            live = {r[entity.primary_id] for r in changed}
            value += [
                {
                    "@odata.context": f"{self.root}$metadata#{entity.entity_set}/$deletedEntity",
                    "id": a["_objectid_value"],
                    "reason": "deleted",
                }
                for a in sorted(gone, key=lambda a: a["_version"])
                if a["_objectid_value"] not in live
            ]
        stamp = self.org.clock.now().strftime("%m/%d/%Y %H:%M:%S")
        args = {k: v for k, v in query.items() if k == "$select"}
        encoded = urlencode(args, quote_via=quote, safe="$,")
        link = (
            f"{self.root}{entity.entity_set}?{encoded}{'&' if encoded else ''}"
            f"$deltatoken={quote(f'{version}!{stamp}', safe='')}"
        )
        suffix = "/$delta" if token is not None else ""
        body = {
            "@odata.context": f"{self.root}$metadata#{entity.entity_set}({','.join(plan.columns)}){suffix}",
            "value": value,
            "@odata.deltaLink": link,
        }
        return Response.json(
            200,
            body,
            {**ODATA_HEADERS, "Content-Type": _JSON, "Preference-Applied": "odata.track-changes"},
        )

    def _next_link(self, cursor: _Cursor, entity: DvEntity, end: int, query: dict[str, str]) -> str:
        cursor_id = self._remember(cursor)
        last = cursor.rows[end - 1][entity.primary_id]
        first = cursor.rows[0][entity.primary_id]
        following = " ".join(r[entity.primary_id] for r in cursor.rows[end : end + FOLLOWING])
        page = end  # an opaque cookie in Dataverse's shape; the sandbox keeps a cursor behind it
        inner = (
            f'<cookie page="{page}" crmframes-cursor="{cursor_id}" offset="{end}" last="{last}"'
            f' next="{following}">'
            f'<{entity.primary_id} last="{{{last.upper()}}}" first="{{{first.upper()}}}" /></cookie>'
        )
        token = f'<cookie pagenumber="{page + 1}" pagingcookie="{quote(quote(inner))}" istracking="False" />'
        args = {k: v for k, v in query.items() if k != "$skiptoken"}
        encoded = urlencode(args, quote_via=quote, safe="$,'()=@/:")
        separator = "&" if encoded else ""
        return (
            f"{self.root}{entity.entity_set}?{encoded}{separator}$skiptoken={quote(token, safe='')}"
        )

    def _remember(self, cursor: _Cursor) -> str:
        with self._lock:
            for cursor_id, known in self._cursors.items():
                if known is cursor:
                    return cursor_id
            cursor_id = self.org.new_guid()
            self._cursors[cursor_id] = cursor
            while len(self._cursors) > MAX_CURSORS:
                self._cursors.popitem(last=False)
            return cursor_id

    def _forget(self, cursor: _Cursor) -> None:
        with self._lock:
            for cursor_id, known in list(self._cursors.items()):
                if known is cursor:
                    del self._cursors[cursor_id]

    def _resume(
        self, request: Request, entity: DvEntity, query: dict[str, str], token: str
    ) -> tuple[_Cursor, int]:
        match = _COOKIE.search(unquote(unquote(unquote(token))))
        if match is None:
            raise DataverseError(400, "0x80060888", "The $skiptoken value is not valid.").http()
        with self._lock:
            cursor = self._cursors.get(match["cursor"])
        if cursor is not None:
            return cursor, min(int(match["offset"]), len(cursor.rows))
        # The cursor was evicted: run the query again and continue after the last row sent.
        # Dataverse's paging cookie is a keyset, not a server cursor: each page is computed
        # when asked for, past the previous page's last row ("Paging behaviors and
        # ordering", learn.microsoft.com), so a nextLink never expires.
        plan = self._plan(request, entity, query)
        rows = self._ids.answer(plan, self.org, query.get("$orderby"))  # as the first page was
        cursor = _Cursor(plan, rows, query)
        ids = [r[entity.primary_id] for r in rows]
        by_id = in_id_order(plan, query.get("$orderby"))
        return cursor, min(_resume_at(by_id, ids, match), len(rows))

    def _count(self, request: Request, entity: DvEntity) -> Response:
        query = self._query_args(request)
        plan = self._plan(request, entity, query)
        total = plan.count(self.org.scan(entity.logical_name), self.org, now=self.org.clock.now())
        return Response.raw(200, str(min(total, COUNT_LIMIT)).encode(), "text/plain", ODATA_HEADERS)

    def _annotate(
        self, entity: DvEntity, source: dict[str, Any], row: dict[str, Any], wanted: str
    ) -> dict[str, Any]:
        formatted = wants_annotation(wanted, "OData.Community.Display.V1.FormattedValue")
        lookups = wants_annotation(wanted, "Microsoft.Dynamics.CRM.lookuplogicalname")
        out: dict[str, Any] = {}
        for name, value in row.items():
            attr = entity.column(name)
            if attr is not None and value is not None:
                if formatted:
                    text = self._formatted(attr, value)
                    if text is not None:
                        out[f"{name}@OData.Community.Display.V1.FormattedValue"] = text
                if lookups and attr.is_lookup:
                    target = lookup_target(self.org, attr, value)
                    out[f"{name}@Microsoft.Dynamics.CRM.lookuplogicalname"] = target
                    nav = next(
                        (n for n, t in attr.navigation.items() if t == target), attr.logical_name
                    )
                    out[f"{name}@Microsoft.Dynamics.CRM.associatednavigationproperty"] = nav
            out[name] = value
        return out

    def _formatted(self, attr: Any, value: Any) -> str | None:
        if attr.type in OPTION_TYPES:
            label: str | None = attr.option_label(value)
            return label
        if attr.type == "Boolean":
            return "Yes" if value else "No"
        if attr.type == "Money":
            return f"${value:,.2f}"
        if attr.type in ("Integer", "BigInt"):
            return f"{value:,}"
        if attr.type == "DateTime":
            if attr.date_only:
                year, month, day = value.split("-")
                return f"{int(month)}/{int(day)}/{year}"
            day_part, time_part = value.rstrip("Z").split("T")
            year, month, day = day_part.split("-")
            hour, minute = int(time_part[:2]), time_part[3:5]
            suffix = "AM" if hour < 12 else "PM"
            return f"{int(month)}/{int(day)}/{year} {hour % 12 or 12}:{minute} {suffix}"
        if attr.is_lookup:
            target = lookup_target(self.org, attr, value)
            parent_entity = self.org.schema.get(target) if target else None
            parent = self.org.get(target, value) if target else None
            if parent is not None and parent_entity is not None and parent_entity.primary_name:
                name: str | None = parent.get(parent_entity.primary_name)
                return name
        return None

    # --- single records ---------------------------------------------------------------------------------

    def _found(self, entity: DvEntity, key: Key) -> dict[str, Any]:
        record = self.writer.find(entity, key)
        if record is None:
            raise self.writer.not_found(entity, key).http()
        return record

    def _single(
        self,
        request: Request,
        entity: DvEntity,
        record: dict[str, Any],
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Response:
        query = self._query_args(request)
        plan = self._plan(request, entity, {k: v for k, v in query.items() if k == "$select"})
        row = plan.project_many([record], _etag)[0]
        prefs = Preferences.parse(request.header("Prefer"))
        if prefs.annotations is not None:
            row = self._annotate(entity, record, row, prefs.annotations)
        body = {
            "@odata.context": f"{self.root}$metadata#{entity.entity_set}({','.join(plan.columns)})/$entity",
            **row,
        }
        return Response.json(
            status,
            body,
            {**ODATA_HEADERS, "Content-Type": _JSON, "ETag": _etag(record), **(headers or {})},
        )

    def retrieve(self, request: Request, entity: DvEntity, key: Key) -> Response:
        """``GET /<set>(<key>)``."""
        record = self._found(entity, key)
        if request.header("If-None-Match") == _etag(record):
            return Response.empty(304, ODATA_HEADERS)
        return self._single(request, entity, record)

    def _entity_url(self, entity: DvEntity, record: dict[str, Any]) -> str:
        return f"{self.root}{entity.entity_set}({record[entity.primary_id]})"

    def _body(self, entity: DvEntity, request: Request) -> Any:
        try:
            return request.json()
        except orjson.JSONDecodeError as exc:
            raise DataverseError(
                400,
                "0x80048d19",
                f"Error identified in Payload provided by the user for "
                f"Entity :'{entity.entity_set}' ----> InnerException : Microsoft.OData."
                f"ODataException: Invalid JSON. {exc}",
            ).http() from exc

    def _written(
        self,
        request: Request,
        entity: DvEntity,
        record: dict[str, Any],
        *,
        created: bool,
        url: str | None = None,
    ) -> Response:
        location = url or self._entity_url(entity, record)
        if Preferences.parse(request.header("Prefer")).representation:
            return self._single(
                request,
                entity,
                record,
                201 if created else 200,
                {"Preference-Applied": "return=representation"},
            )
        return Response.empty(
            204, {**ODATA_HEADERS, "OData-EntityId": location, "Location": location}
        )

    def _origin(self, request: Request) -> tuple[str, str]:
        return request.method, request.target

    def _detect(self, request: Request) -> bool:
        return (request.header("MSCRM.SuppressDuplicateDetection") or "").strip().lower() == "false"

    def create(self, request: Request, entity: DvEntity) -> Response:
        """``POST /<set>``: create one record."""
        self._writable(entity)
        self._creatable(entity, "Create")
        changes = self._changes(entity, request)
        with self.org.db.lock:
            try:
                record = self.writer.create(
                    entity,
                    changes,
                    origin=self._origin(request),
                    detect_duplicates=self._detect(request),
                )
            except DataverseError as exc:
                raise exc.http() from exc
        return self._written(request, entity, record, created=True)

    def _changes(self, entity: DvEntity, request: Request) -> Any:
        try:
            return self.writer.read_body(entity, self._body(entity, request))
        except DataverseError as exc:
            raise exc.http() from exc

    def _writable(self, entity: DvEntity) -> None:
        if not entity.writable:
            raise DataverseError(
                405,
                "0x80040800",
                f"The '{entity.logical_name}' entity cannot be written through the Web API.",
            ).http()

    @staticmethod
    def _creatable(entity: DvEntity, method: str) -> None:
        # The organization row exists once: it is updated, never created or deleted.
        if entity.single_row:
            raise DataverseError(
                400,
                "0x80040800",
                f"The '{method}' method does not support entities of type '{entity.logical_name}'.",
            ).http()

    def upsert(self, request: Request, entity: DvEntity, key: Key, key_text: str) -> Response:
        """``PATCH /<set>(<key>)``: update, or upsert without ``If-Match`` (reference §5)."""
        self._writable(entity)
        changes = self._changes(entity, request)
        if_match = request.header("If-Match")
        if_none_match = request.header("If-None-Match")
        url = f"{self.root}{entity.entity_set}({key_text})"
        with self.org.db.lock:
            existing = self.writer.find(entity, key)
            try:
                if existing is not None:
                    if if_none_match == "*":
                        raise DataverseError(
                            412, "0x80040237", "A record with matching key values already exists."
                        )
                    if if_match not in (None, "*") and if_match != _etag(existing):
                        raise DataverseError(
                            412,
                            "0x80060882",
                            "The version of the existing record doesn't "
                            "match the RowVersion property provided.",
                        )
                    record = self.writer.update(
                        entity,
                        existing,
                        changes,
                        origin=self._origin(request),
                        detect_duplicates=self._detect(request),
                    )
                    return self._written(request, entity, record, created=False, url=url)
                if if_match is not None:
                    raise self.writer.not_found(entity, key)
                self._creatable(entity, "Create")
                record_id = key if isinstance(key, str) else None
                if isinstance(key, dict):
                    changes.values = {**key, **changes.values}
                record = self.writer.create(
                    entity,
                    changes,
                    origin=self._origin(request),
                    record_id=record_id,
                    detect_duplicates=self._detect(request),
                )
            except DataverseError as exc:
                raise exc.http() from exc
        return self._written(request, entity, record, created=True, url=url)

    def delete(self, request: Request, entity: DvEntity, key: Key) -> Response:
        """``DELETE /<set>(<key>)``."""
        self._writable(entity)
        self._creatable(entity, "Delete")
        with self.org.db.lock:
            existing = self._found(entity, key)
            if_match = request.header("If-Match")
            if if_match not in (None, "*") and if_match != _etag(existing):
                raise DataverseError(
                    412,
                    "0x80060882",
                    "The version of the existing record doesn't match the "
                    "RowVersion property provided.",
                ).http()
            try:
                self.writer.delete(entity, existing, origin=self._origin(request))
            except DataverseError as exc:
                raise exc.http() from exc
        return Response.empty(204, ODATA_HEADERS)

    def _property(self, request: Request, entity: DvEntity, key: Key, prop: str) -> Response:
        """``GET|PUT|DELETE /<set>(<key>)/<property>``."""
        attr = entity.column(prop) or entity.attribute(prop)
        if attr is None:
            raise DataverseError(
                400,
                "0x80060888",
                f"Could not find a property named '{prop}' on type "
                f"'Microsoft.Dynamics.CRM.{entity.logical_name}'.",
            ).http()
        if request.method == "GET":
            record = self._found(entity, key)
            return Response.json(
                200,
                {
                    "@odata.context": f"{self.root}$metadata#{entity.entity_set}"
                    f"({record[entity.primary_id]})/{attr.odata_name}",
                    "value": record.get(attr.odata_name),
                },
                {**ODATA_HEADERS, "Content-Type": _JSON},
            )
        if request.method not in ("PUT", "DELETE"):
            raise self._method_not_allowed(request)
        self._writable(entity)
        if request.method == "PUT":
            body = self._body(entity, request)
            if not isinstance(body, dict) or "value" not in body:
                raise DataverseError(
                    400, "0x80048d19", 'A single-property update needs a {"value": ...} body.'
                ).http()
            payload = {attr.logical_name: body["value"]}
        else:
            payload = {attr.logical_name: None}
        with self.org.db.lock:
            existing = self._found(entity, key)
            try:
                changes = self.writer.read_body(entity, payload)
                self.writer.update(entity, existing, changes, origin=self._origin(request))
            except DataverseError as exc:
                raise exc.http() from exc
        return Response.empty(204, ODATA_HEADERS)


def _resume_at(by_id: bool, ids: list[str], cookie: re.Match[str]) -> int:
    """Where a page continues in a query run again: past the last row its cookie names.

    In primary-id order (``by_id``: ordered on the id, or bounded on it and answered by a
    seek, :func:`~.id_index.in_id_order`), that is the keyset itself (in SQL Server's
    ``uniqueidentifier`` order, as the sort), exact even when the last row was deleted
    since. Otherwise: after the last row, else at the first still-present row of those that
    followed it. Otherwise without ``$orderby`` the sandbox keeps insertion order, where rows
    never move, so that is exact too; under another order a row whose sort values changed
    between pages may move across the boundary, as it can with Dataverse's own keyset.
    """
    last = cookie["last"]
    if by_id:
        return bisect.bisect_right(guid_all(ids), guid_all([last])[0])
    position = {record_id: i for i, record_id in enumerate(ids)}
    if last in position:
        return position[last] + 1
    for record_id in (cookie["next"] or "").split():
        if record_id in position:
            return position[record_id]
    return int(cookie["offset"])


def _etag(record: dict[str, Any]) -> str:
    return f'W/"{record.get("versionnumber")}"'
