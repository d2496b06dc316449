"""FetchXML queries in the Dataverse sandbox: ``GET /<set>?fetchXml=<url-encoded xml>``.

Edge helper of the Dataverse sandbox (no I/O). The subset users write is compiled into the
closures of :mod:`.odata_eval`, the same comparisons, ordering (collation) and three-valued
logic as ``$filter`` and ``$orderby``: ``<fetch top count page paging-cookie distinct>``, one
``<entity>`` with ``<attribute>`` / ``<all-attributes/>``, ``<filter type="and|or">`` (nested)
of ``<condition>`` with the common operators, ``<order>``, and one level of ``<link-entity>``
along a lookup of the queried table (inner or outer), whose columns come back as
``alias.column``. Anything else is refused with a 400 that says the sandbox does not
support it, never answered as something else (DESIGN §4.9).

Paging follows learn.microsoft.com/power-apps/developer/data-platform/fetchxml/page-results:
``count`` is the page size (default and maximum 5,000), ``page`` the page number, ``top``
cannot be combined with them; with ``Prefer: odata.include-annotations`` naming them, the
answer carries ``@Microsoft.Dynamics.CRM.morerecords`` and, when more rows follow,
``@Microsoft.Dynamics.CRM.fetchxmlpagingcookie`` (``<cookie pagenumber="2" pagingcookie="...">``,
the inner cookie URL-encoded twice). There is no ``@odata.nextLink``.

The XML comes from the network: a document type declaration (the door to entity expansion)
is refused before parsing.

Longer than 500 lines: one compiler for one query language (FetchXML): its parse and its plan
share the element rules.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from . import odata_eval as ev
from .odata_eval import Env, GetterFactory, Normalizer, PredFactory, Record, Resolver
from .schema import DvAttribute, DvEntity, DvSchema
from .values import DataverseError

__all__ = ["MAX_PAGE", "FetchPlan", "fetch_page", "paging_cookie", "plan_fetch"]

MAX_PAGE = 5000
INVALID = "0x80040203"  # InvalidArgument: what the sandbox answers for FetchXML it refuses
NO_ATTRIBUTE = "0x80041103"  # QueryBuilderNoAttribute
_ESCAPE = re.compile(r"%[0-9A-F]{2}")
_DECLARATION = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_COMPARE = {"eq": "eq", "neq": "ne", "ne": "ne", "gt": "gt", "ge": "ge", "lt": "lt", "le": "le"}
_PATTERNS = {  # operator -> (LIKE pattern template, holds)
    "like": ("{}", True), "not-like": ("{}", False),
    "begins-with": ("{}%", True), "not-begin-with": ("{}%", False),
    "ends-with": ("%{}", True), "not-end-with": ("%{}", False),
}  # fmt: skip
_RELATIVE = {  # FetchXML operator -> the query function of the same meaning
    "today": "Today", "yesterday": "Yesterday", "tomorrow": "Tomorrow",
    "last-seven-days": "Last7Days", "next-seven-days": "Next7Days",
    "last-x-days": "LastXDays", "next-x-days": "NextXDays",
    "last-x-hours": "LastXHours", "next-x-hours": "NextXHours",
    "this-week": "ThisWeek", "last-week": "LastWeek", "next-week": "NextWeek",
    "this-month": "ThisMonth", "last-month": "LastMonth", "next-month": "NextMonth",
    "this-year": "ThisYear", "last-year": "LastYear", "next-year": "NextYear",
}  # fmt: skip
_DAYS = {"on": "On", "on-or-after": "OnOrAfter", "on-or-before": "OnOrBefore"}
_FETCH_ATTRS = frozenset(
    ("version", "mapping", "top", "count", "page", "paging-cookie", "distinct", "no-lock")
)


def _refuse(what: str) -> DataverseError:
    return DataverseError(
        400,
        INVALID,
        f"{what} is not supported by the crmframes sandbox. It runs <fetch top count page "
        "paging-cookie distinct>, <attribute>, <all-attributes/>, <filter> with <condition>, "
        "<order> and one level of <link-entity> along a lookup.",
    )


def _invalid(message: str) -> DataverseError:
    return DataverseError(400, INVALID, message)


@dataclass
class _Link:
    """One ``<link-entity>``: the hop along a lookup of the queried table."""

    alias: str
    entity: DvEntity
    hops: tuple[tuple[str, str], ...]
    inner: bool


@dataclass
class FetchPlan:
    """A compiled FetchXML query.

    Attributes:
        entity: the queried table.
        columns: output name -> getter factory, in output order.
        top: the ``top`` attribute, or None.
        page: the page number (1-based).
        count: the page size (5,000 unless set).
        distinct: whether duplicate output rows are dropped.
        paged: whether the answer is cut in pages (not with ``top``).
        where: the conditions, all of which a row meets (the inner joins among them).
        order: the ``<order>`` keys, most significant first.
    """

    entity: DvEntity
    columns: dict[str, GetterFactory]
    top: int | None
    page: int
    count: int
    distinct: bool
    paged: bool
    where: list[PredFactory] = field(default_factory=list)
    order: list[tuple[GetterFactory, bool, Normalizer | None]] = field(default_factory=list)

    def execute(self, records: list[Record], resolver: Resolver, *, now: datetime) -> list[Record]:
        """Return every matching source record, ordered (``top`` applied, paging not)."""
        plan = ev.QueryPlan(
            entity=self.entity,
            columns=[self.entity.primary_id],
            top=None if self.distinct else self.top,
            where=ev.all_of(self.where) if self.where else None,
            order=self.order,
        )
        return plan.execute(records, resolver, now=now)

    def project(self, records: list[Record], resolver: Resolver) -> list[dict[str, Any]]:
        """Return the output rows of ``records`` (deduplicated when ``distinct``)."""
        getters = [(name, factory(resolver)) for name, factory in self.columns.items()]
        rows = [{name: get(record) for name, get in getters} for record in records]
        if not self.distinct:
            return rows
        seen: set[tuple[Any, ...]] = set()
        unique = []
        for row in rows:
            key = tuple(row.values())
            if key not in seen:
                seen.add(key)
                unique.append(row)
        return unique if self.top is None else unique[: self.top]


def plan_fetch(text: str, entity: DvEntity, schema: DvSchema) -> FetchPlan:
    """Parse, check and compile a FetchXML query addressed to ``entity``'s entity set.

    Raises:
        DataverseError: malformed XML, a document type declaration, an unknown table or
            column, an invalid value, or anything outside the supported subset.
    """
    if _DECLARATION.search(text):
        raise _refuse("A document type declaration (<!DOCTYPE> or <!ENTITY>) in FetchXML")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise _invalid(f"The FetchXML is not well-formed XML: {exc}.") from exc
    if root.tag != "fetch":
        raise _invalid(f"The root element of FetchXML must be <fetch>, not <{root.tag}>.")
    for name in root.attrib:
        if name not in _FETCH_ATTRS:
            raise _refuse(f"The <fetch> attribute '{name}'")
    entities = list(root)
    if len(entities) != 1 or entities[0].tag != "entity":
        raise _invalid("A <fetch> element holds exactly one <entity> element.")
    element = entities[0]
    if element.get("name") != entity.logical_name:
        raise _invalid(
            f"The <entity name='{element.get('name')}'> does not match the entity set "
            f"'{entity.entity_set}' (table '{entity.logical_name}') the query was sent to."
        )
    top = _number(root, "top", 1, MAX_PAGE)
    count = _number(root, "count", 1, MAX_PAGE)
    page = _number(root, "page", 1, None)
    if top is not None and (count is not None or page is not None):
        raise _invalid("The 'top' attribute cannot be used with paging ('count' or 'page').")
    distinct = _flag(root, "distinct")
    compiler = _Compiler(entity, schema, distinct=distinct)
    compiler.entity(element)
    return FetchPlan(
        entity=entity,
        columns=compiler.columns,
        top=top,
        page=page or 1,
        count=count or MAX_PAGE,
        distinct=distinct,
        paged=top is None,
        where=compiler.where,
        order=compiler.order,
    )


def fetch_page(
    plan: FetchPlan, records: list[Record], resolver: Resolver, *, now: datetime, annotations: str
) -> tuple[list[Record], list[dict[str, Any]], dict[str, Any]]:
    """Run ``plan`` and cut its page: the page's source records, output rows, annotations.

    The annotations are the paging ones the ``Prefer`` header asked for (``annotations``
    is its ``odata.include-annotations`` value, "" without one).
    """
    matched = plan.execute(records, resolver, now=now)
    rows = plan.project(matched, resolver)
    if plan.distinct:  # the output rows, not the records, are what is paged
        matched = [{} for _ in rows]
    start = (plan.page - 1) * plan.count
    end = start + plan.count if plan.paged else len(rows)
    more = plan.paged and end < len(rows)
    wanted = {part.strip() for part in annotations.split(",")}
    extra: dict[str, Any] = {}
    if wanted & {"*", "Microsoft.Dynamics.CRM.*", "Microsoft.Dynamics.CRM.morerecords"}:
        extra["@Microsoft.Dynamics.CRM.morerecords"] = more
    cookie = {"*", "Microsoft.Dynamics.CRM.*", "Microsoft.Dynamics.CRM.fetchxmlpagingcookie"}
    if more and wanted & cookie and not plan.distinct:
        extra["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"] = paging_cookie(
            plan.entity, plan.page, matched[start:end]
        )
    return matched[start:end], rows[start:end], extra


def paging_cookie(entity: DvEntity, page: int, rows: list[Record]) -> str:
    """Return the ``fetchxmlpagingcookie`` annotation after ``page`` (rows: that page's)."""
    first, last = rows[0][entity.primary_id].upper(), rows[-1][entity.primary_id].upper()
    inner = (
        f'<cookie page="{page}"><{entity.primary_id} last="{{{last}}}" '
        f'first="{{{first}}}" /></cookie>'
    )
    # URL-encoded twice, in lower-case hex as Dataverse writes it ("%253ccookie%2520page...")
    once = _ESCAPE.sub(lambda m: m[0].lower(), quote(inner, safe=""))
    encoded = quote(once, safe="")
    return f'<cookie pagenumber="{page + 1}" pagingcookie="{encoded}" istracking="False" />'


# --- compiler -------------------------------------------------------------------------------


class _Compiler:
    """Walks ``<entity>`` and its children into columns, predicates and order keys."""

    def __init__(self, entity: DvEntity, schema: DvSchema, *, distinct: bool) -> None:
        self.root = entity
        self.schema = schema
        self.distinct = distinct
        self.columns: dict[str, GetterFactory] = {}
        self.where: list[PredFactory] = []
        self.order: list[tuple[GetterFactory, bool, Normalizer | None]] = []
        self.links: dict[str, _Link] = {}
        self._linked: dict[int, _Link] = {}  # id(<link-entity> element) -> its link
        self._link_order: list[tuple[GetterFactory, bool, Normalizer | None]] = []

    def entity(self, element: ET.Element) -> None:
        # Links first, so a condition may name an alias declared further down; the orders of
        # linked columns come after those of the queried table's.
        for child in element.iter("link-entity"):
            self._linked[id(child)] = self.link(child)
        self.children(element, self.root, None)
        self.order.extend(self._link_order)
        if not self.distinct and self.root.primary_id not in self.columns:
            self.columns[self.root.primary_id] = ev.path_getter((), self.root.primary_id)
        for link in self.links.values():
            if link.inner:  # an inner join keeps the rows whose lookup finds a record
                self.where.append(_present(ev.path_getter(link.hops, link.entity.primary_id)))

    def children(self, element: ET.Element, entity: DvEntity, link: _Link | None) -> None:
        for name in element.attrib:
            if name not in ("name", "from", "to", "alias", "link-type"):
                raise _refuse(f"The <{element.tag}> attribute '{name}'")
        for child in element:
            if child.tag == "attribute":
                self.attribute(child, entity, link)
            elif child.tag == "all-attributes":
                for attr in entity.attributes:
                    self.add_column(attr, entity, link, None)
            elif child.tag == "filter":
                self.where.append(self.filter(child, entity, link))
            elif child.tag == "order":
                self.order_by(child, entity, link)
            elif child.tag == "link-entity":
                linked = self._linked[id(child)]
                self.children(child, linked.entity, linked)
            else:
                raise _refuse(f"The element <{child.tag}>")

    def attribute(self, element: ET.Element, entity: DvEntity, link: _Link | None) -> None:
        for name in element.attrib:
            if name not in ("name", "alias"):
                raise _refuse(f"The <attribute> attribute '{name}' (aggregates, grouping)")
        attr = self.column(entity, element.get("name"))
        self.add_column(attr, entity, link, element.get("alias"))

    def add_column(
        self, attr: DvAttribute, entity: DvEntity, link: _Link | None, alias: str | None
    ) -> None:
        if link is None:
            name = alias or attr.odata_name
            self.columns[name] = ev.path_getter((), attr.odata_name)
        else:  # Dataverse names a linked column alias.column
            name = alias or f"{link.alias}.{attr.logical_name}"
            self.columns[name] = ev.path_getter(link.hops, attr.odata_name)

    def column(self, entity: DvEntity, name: str | None) -> DvAttribute:
        attr = entity.attribute(name or "")
        if attr is None:
            raise DataverseError(
                400,
                NO_ATTRIBUTE,
                f"'{entity.logical_name}' entity doesn't contain attribute with Name = "
                f"'{name}' and NameMapping = 'Logical'.",
            )
        return attr

    def getter(self, entity: DvEntity, link: _Link | None, attr: DvAttribute) -> GetterFactory:
        return ev.path_getter(() if link is None else link.hops, attr.odata_name)

    def link(self, element: ET.Element) -> _Link:
        if element.find("link-entity") is not None:
            raise _refuse("A <link-entity> nested in another <link-entity>")
        target = self.schema.get(element.get("name") or "")
        if target is None:
            raise _invalid(f"There is no table named '{element.get('name')}' to link to.")
        kind = element.get("link-type", "inner")
        if kind not in ("inner", "outer"):
            raise _refuse(f"The link-type '{kind}'")
        lookup = self.root.attribute(element.get("to") or "")
        if (
            lookup is None
            or not lookup.is_lookup
            or target.logical_name not in lookup.targets
            or element.get("from", target.primary_id) != target.primary_id
        ):
            raise _refuse(
                f"A <link-entity name='{element.get('name')}' from='{element.get('from')}' "
                f"to='{element.get('to')}'> that does not follow a lookup of "
                f"'{self.root.logical_name}' to the linked table's primary id"
            )
        alias = element.get("alias") or f"{target.logical_name}{len(self.links) + 1}"
        if alias in self.links:
            raise _invalid(f"The alias '{alias}' is used by two <link-entity> elements.")
        link = _Link(alias, target, ((lookup.odata_name, target.logical_name),), kind == "inner")
        self.links[alias] = link
        if not link.inner and element.find("filter") is not None:
            raise _refuse("A <filter> inside an outer <link-entity>")
        return link

    def order_by(self, element: ET.Element, entity: DvEntity, link: _Link | None) -> None:
        for name in element.attrib:
            if name not in ("attribute", "descending"):
                raise _refuse(f"The <order> attribute '{name}'")
        attr = self.column(entity, element.get("attribute"))
        getter, normalize = ev.sort_transform(attr, self.getter(entity, link, attr), self.schema)
        keys = self.order if link is None else self._link_order
        keys.append((getter, _flag(element, "descending"), normalize))

    def filter(self, element: ET.Element, entity: DvEntity, link: _Link | None) -> PredFactory:
        kind = element.get("type", "and")
        if kind not in ("and", "or") or set(element.attrib) - {"type"}:
            raise _refuse(f"The <filter> {dict(element.attrib)}")
        parts: list[PredFactory] = []
        for child in element:
            if child.tag == "condition":
                parts.append(self.condition(child, entity, link))
            elif child.tag == "filter":
                parts.append(self.filter(child, entity, link))
            else:
                raise _refuse(f"The element <{child.tag}> inside <filter>")
        if not parts:
            return lambda env: ev.constant(True)
        return ev.all_of(parts) if kind == "and" else ev.any_of(parts)

    def condition(self, element: ET.Element, entity: DvEntity, link: _Link | None) -> PredFactory:
        extra = set(element.attrib) - {"attribute", "operator", "value", "entityname"}
        if extra:
            raise _refuse(f"The <condition> attribute '{sorted(extra)[0]}'")
        if element.get("entityname") is not None:
            if link is not None or element.get("entityname") not in self.links:
                raise _invalid(
                    f"The entityname '{element.get('entityname')}' of a <condition> names no "
                    "<link-entity> alias of the query."
                )
            link = self.links[element.get("entityname") or ""]
            entity = link.entity
        attr = self.column(entity, element.get("attribute"))
        get = self.getter(entity, link, attr)
        operator = element.get("operator", "")
        values = [v.text or "" for v in element if v.tag == "value"]
        if element.get("value") is not None:
            values.insert(0, element.get("value") or "")
        return _Condition(attr, get, operator, values, element).compile()


@dataclass
class _Condition:
    attr: DvAttribute
    get: GetterFactory
    operator: str
    values: list[str]
    element: ET.Element

    def value(self, text: str) -> Any:
        value = ev.decode_value(self.attr, text)
        if value is None:
            raise _invalid(
                f"The value '{text}' of the '{self.operator}' condition is not a valid "
                f"{self.attr.edm_type} for attribute '{self.attr.logical_name}'."
            )
        return value

    def one(self) -> str:
        if len(self.values) != 1:
            raise _invalid(
                f"The '{self.operator}' condition on '{self.attr.logical_name}' takes one value."
            )
        return self.values[0]

    def compile(self) -> PredFactory:
        get, op, attr = self.get, self.operator, self.attr
        text = attr.type in ("String", "Memo") or attr.edm_type == "Edm.String"
        if op in ("null", "not-null"):
            is_null = op == "null"
            return lambda env: ev.null_pred(get(env.resolver), is_null=is_null)
        if op in _COMPARE:
            return self.compare(_COMPARE[op], text)  # type: ignore[arg-type]
        if op in _PATTERNS:
            if not text:
                raise _invalid(f"The '{op}' condition needs a text column.")
            template, holds = _PATTERNS[op]
            pattern = template.format(self.one())
            return lambda env: ev.like_pred(get(env.resolver), pattern, holds=holds)
        if op in ("in", "not-in"):
            if not self.values:
                raise _invalid(f"The '{op}' condition needs <value> elements.")
            members = frozenset(ev.equality_value(attr, self.value(v)) for v in self.values)
            inside = op == "in"
            return lambda env: ev.in_pred(
                get(env.resolver), members - {None}, inside=inside, fold=text
            )
        if op in ("between", "not-between"):
            if len(self.values) != 2:
                raise _invalid(f"The '{op}' condition takes two <value> elements.")
            low, high = (self.bound(v) for v in self.values)
            inside = op == "between"
            return lambda env: ev.between_pred(
                get(env.resolver), low, high, inside=inside, fold=text
            )
        if op in _DAYS or op in _RELATIVE:
            return self.dates(op)
        raise _refuse(f"The condition operator '{op}'")

    def bound(self, text: str) -> Any:
        value = self.value(text)
        return self.bound_of(value) if isinstance(value, datetime) else value

    def compare(self, op: ev.Op, text: bool) -> PredFactory:
        get = self.get
        value = self.value(self.one())
        key: Callable[[Any], Any] | None = None
        if isinstance(value, datetime):
            exact = op in ("eq", "ne")
            value = ev.equality_value(self.attr, value) if exact else self.bound_of(value)
            if value is None:  # a fraction of a second equals no stored value
                is_null = False if op == "ne" else None
                if is_null is None:
                    return lambda env: ev.constant(False)
                return lambda env: ev.null_pred(get(env.resolver), is_null=False)
        elif self.attr.edm_type == "Edm.Guid":
            key = ev.guid_order_key
        return lambda env: ev.compare_pred(get(env.resolver), op, value, fold=text, key=key)

    def bound_of(self, value: datetime) -> str:
        return value.date().isoformat() if self.attr.date_only else ev.to_wire(value)

    def dates(self, op: str) -> PredFactory:
        if self.attr.type != "DateTime":
            raise _invalid(f"The '{op}' condition needs a date and time column.")
        get, date_only = self.get, self.attr.date_only
        if op in _DAYS:
            day = self.value(self.one()).date()
            low, high = ev.moment_bounds(ev.day_range(_DAYS[op], day), date_only=date_only)
            return lambda env: ev.between_pred(get(env.resolver), low, high, inside=True)
        function = _RELATIVE[op]
        n = 0
        if ev.RELATIVE_FUNCTIONS[function]:
            raw = self.one()
            if not raw.isdigit():
                raise _invalid(f"The '{op}' condition takes a whole number of days or hours.")
            n = int(raw)

        def bind(env: Env) -> ev.Pred:
            lo, hi = ev.moment_bounds(ev.relative_range(function, n, env.now), date_only=date_only)
            return ev.between_pred(get(env.resolver), lo, hi, inside=True)

        return bind


def _present(get: GetterFactory) -> PredFactory:
    return lambda env: ev.null_pred(get(env.resolver), is_null=False)


def _number(element: ET.Element, name: str, low: int, high: int | None) -> int | None:
    text = element.get(name)
    if text is None:
        return None
    if not text.isdigit() or int(text) < low or (high is not None and int(text) > high):
        limit = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise _invalid(f"The '{name}' attribute must be a whole number {limit}.")
    return int(text)


def _flag(element: ET.Element, name: str) -> bool:
    value = element.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise _invalid(f"The '{name}' attribute must be true or false.")
    return value in ("true", "1")
