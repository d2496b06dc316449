"""Plan and run SOQL beyond field lists: GROUP BY and aggregates, child subqueries, FIELDS().

Edge helper of the Salesforce sandbox (pure). :func:`plan_extended` is called by
:mod:`.soql`'s planner when a query has an item :mod:`.soql_select` parsed. Aggregate
queries answer ``AggregateResult`` records: grouped fields under their name (or alias),
aggregates under their alias or ``expr0``, ``expr1``... in SELECT order (SOQL and SOSL
Reference, "Using Aliases with GROUP BY"). A child subquery gives each parent record
``{"totalSize", "done", "records"}`` or null when it has no children ("Relationship
Queries"). ``FIELDS(ALL)`` and ``FIELDS(CUSTOM)`` need ``LIMIT`` 200 or less ("FIELDS()").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .schema import SfField, SfObject
from .soql_eval import (
    Env,
    OrderKey,
    Pred,
    Projection,
    QueryPlan,
    Record,
    Resolver,
    compare_pred,
    in_pred,
    order_rows,
    sort_normalizer,
)
from .soql_select import Aggregate, ChildQuery, FieldAlias, FieldsCall, unsupported
from .soql_tree import Comparison, Condition, FieldPath, InList, Logical, Not, SoqlQuery

if TYPE_CHECKING:
    from .soql import _Planner

__all__ = ["FIELDS_LIMIT", "plan_extended"]

FIELDS_LIMIT = 200
_SYSTEM_LOOKUPS = ("OwnerId", "CreatedById", "LastModifiedById")
_COUNTS = ("COUNT", "COUNT_DISTINCT")


def plan_extended(planner: _Planner, query: SoqlQuery, obj: SfObject) -> QueryPlan:
    """Compile a query with aggregates, GROUP BY, HAVING, FIELDS() or child subqueries."""
    if query.group_by or query.having or any(isinstance(i, Aggregate) for i in query.items):
        return _Aggregates(planner, query, obj).plan()
    fields: list[FieldPath] = []
    seen: set[str] = set()
    expanded: set[str] = set()  # names FIELDS() added
    children: list[ChildQuery] = []
    keys: list[str | ChildQuery] = []  # the record's top-level keys in SELECT order
    for item in query.items:
        if isinstance(item, ChildQuery):
            children.append(item)
            keys.append(item)
            continue
        if isinstance(item, FieldAlias):
            detail = f"alias {item.alias} is only allowed in aggregate queries"
            planner.fail("MALFORMED_QUERY", item.path.pos, detail)
        if isinstance(item, FieldsCall):
            if item.kind != "STANDARD" and (query.limit is None or query.limit > FIELDS_LIMIT):
                detail = f"The SOQL FIELDS function must have a LIMIT of at most {FIELDS_LIMIT}"
                planner.fail("MALFORMED_QUERY", item.pos, detail)
            picked = [
                FieldPath(f.name, item.pos)
                for f in obj.fields
                if item.kind == "ALL" or f.custom == (item.kind == "CUSTOM")
            ]
        else:
            picked = [item]
        for path in picked:
            name = path.text.lower()
            if name in expanded or (name in seen and isinstance(item, FieldsCall)):
                continue  # FIELDS() overlapping a named field: once (a plain repeat is refused)
            seen.add(name)
            if isinstance(item, FieldsCall):
                expanded.add(name)
            fields.append(path)
            resolved = planner.resolve(obj, path, "select")
            hops = resolved.hops
            keys.append(str(hops[0][0].relationship_name) if hops else resolved.field.name)
    base = SoqlQuery(
        query.text, tuple(fields), False, query.object, query.object_pos, query.where,
        query.order_by, query.limit, query.offset,
    )  # fmt: skip
    plan = planner.plan(base)
    names = {id(child): _add_child(planner, obj, child.query, plan) for child in children}
    rank: dict[str, int] = {}
    for key in keys:
        rank.setdefault(key if isinstance(key, str) else names[id(key)], len(rank))
    plan._projection.steps.sort(key=lambda step: rank.get(step[0], len(rank)))
    return plan


def _add_child(planner: _Planner, parent: SfObject, sub: SoqlQuery, plan: QueryPlan) -> str:
    from .schema import _plural

    found = next(
        (
            (other, field)
            for other in planner.schema.objects.values()
            for field in other.fields
            if parent.name in field.reference_to
            and field.name not in _SYSTEM_LOOKUPS
            and _plural(other.name).lower() == sub.object.lower()
        ),
        None,
    )
    if found is None:
        detail = (
            f"Didn't understand relationship '{sub.object}' in FROM part of query call. If you "
            "are attempting to use a custom relationship, be sure to append the '__r' after the "
            "custom relationship name. Please reference your WSDL or the describe call for the "
            "appropriate names."
        )
        planner.fail("INVALID_TYPE", sub.object_pos, detail)
    child, lookup = found
    inner = SoqlQuery(
        sub.text, sub.fields, False, child.name, sub.object_pos, sub.where, sub.order_by,
        sub.limit, sub.offset, sub.items, sub.group_by, sub.having,
    )  # fmt: skip
    if sub.is_count or sub.group_by or any(isinstance(i, Aggregate) for i in sub.items):
        raise unsupported(sub.text, sub.object_pos, "aggregates in a child subquery")
    child_plan = planner.plan(inner)
    if child_plan.children:
        planner.fail("MALFORMED_QUERY", sub.object_pos, "Nested child subqueries are not allowed")
    limit, offset = child_plan.limit, child_plan.offset or 0
    child_plan.limit = child_plan.offset = None  # LIMIT and OFFSET count per parent
    name = _plural(child.name)
    index: dict[int, dict[str, list[Record]]] = {}

    def build(record: Record, resolver: Resolver, version: str) -> Any:
        by_parent = index.get(id(resolver))
        if by_parent is None:  # once per execution: one scan of the children, grouped
            clock = getattr(resolver, "clock", None)
            now = clock.now() if clock is not None else datetime.now(UTC)
            rows = child_plan.execute(
                resolver.scan(child.name, include_deleted=False), resolver, now=now
            )
            by_parent = index[id(resolver)] = {}
            for row in rows:
                if (ref := row.get(lookup.name)) is not None:
                    by_parent.setdefault(ref, []).append(row)
        kids = by_parent.get(record["Id"], [])
        kids = kids[offset : None if limit is None else offset + limit]
        if not kids:
            return None
        records = child_plan.project_many(kids, resolver, version)
        return {"totalSize": len(records), "done": True, "records": records}

    plan._projection.steps.append((name, build))
    plan._projection._compiled.clear()
    plan.children.append(name)
    return name


class _Aggregates:
    """Compiles one aggregate query; :meth:`run` computes its ``AggregateResult`` rows."""

    def __init__(self, planner: _Planner, query: SoqlQuery, obj: SfObject) -> None:
        self.planner, self.query, self.obj = planner, query, obj
        # slot key (canonical, lower case) -> (function or None for a grouped field, getter, field)
        self.slots: dict[str, tuple[str | None, Any, SfField | None]] = {}
        self.groups: list[str] = []
        self.outputs: list[tuple[str, str]] = []
        self.having: Callable[[Env], Pred] | None = None
        self.order: list[tuple[str, bool, bool, SfField | None]] = []
        self.where: Callable[[Env], Pred] | None = None

    def plan(self) -> QueryPlan:
        query, fail = self.query, self.planner.fail
        if query.is_count:
            detail = "COUNT() can't be used with GROUP BY; use COUNT(fieldName)"
            fail("MALFORMED_QUERY", query.object_pos, detail)
        if query.limit is not None and not query.group_by:  # "Considerations for GROUP BY"
            detail = "An aggregate query with LIMIT must have a GROUP BY clause"
            fail("MALFORMED_QUERY", query.object_pos, detail)
        for path in query.group_by:
            resolved = self.planner.resolve(self.obj, path, "select")
            key = resolved.name.lower()
            self.slots[key] = (None, resolved.getter, resolved.field)
            self.groups.append(key)
        expr = 0
        for item in query.items:
            if isinstance(item, Aggregate):
                key = self.aggregate(item.func, item.arg, item.pos)
                self.outputs.append((item.alias or f"expr{expr}", key))
                expr += item.alias is None
            elif isinstance(item, FieldsCall | ChildQuery):
                pos = item.pos if isinstance(item, FieldsCall) else item.query.object_pos
                raise unsupported(query.text, pos, "FIELDS() or subqueries in aggregate queries")
            else:
                path = item.path if isinstance(item, FieldAlias) else item
                key, grouped = self.grouped(path)
                alias = item.alias if isinstance(item, FieldAlias) else None
                self.outputs.append((alias or grouped.name, key))
        if query.having is not None:
            self.having = self.condition(query.having)
        for order in query.order_by:
            key, sorted_by = self.slot_of(order.field)
            self.order.append((key, order.descending, order.nulls_last, sorted_by))
        plan = QueryPlan(
            object=self.obj, is_count=False, columns=[name for name, _ in self.outputs],
            limit=query.limit, offset=query.offset, where=None, order=[],
            projection=Projection(self.obj.name), flat=[],
        )  # fmt: skip
        if query.where is not None:
            self.where = self.planner.where(self.obj, query.where, nested=False)
        plan.aggregate = self
        return plan

    # names

    def aggregate(self, func: str, arg: FieldPath | None, pos: int) -> str:
        if arg is None:
            self.slots.setdefault("count()", ("COUNT", None, None))
            return "count()"
        resolved = self.planner.resolve(self.obj, arg, "select")
        field = resolved.field
        if func in ("SUM", "AVG") and not field.is_number:
            detail = f"field {field.name} does not support aggregate operator {func}"
            self.planner.fail("INVALID_FIELD", arg.pos, detail)
        key = f"{func}({resolved.name})".lower()
        self.slots.setdefault(key, (func, resolved.getter, field))
        return key

    def grouped(self, path: FieldPath) -> tuple[str, SfField]:
        resolved = self.planner.resolve(self.obj, path, "select")
        key = resolved.name.lower()
        if key not in self.groups:
            detail = f"Field must be grouped or aggregated: {resolved.field.name}"
            self.planner.fail("MALFORMED_QUERY", path.pos, detail)
        return key, resolved.field

    def slot_of(self, path: FieldPath) -> tuple[str, SfField | None]:
        """The slot a HAVING or ORDER BY reference names: an aggregate or a grouped field."""
        func, paren, rest = path.text.partition("(")
        if not paren:
            return self.grouped(path)
        arg = FieldPath(rest[:-1], path.pos) if rest[:-1] else None
        key = self.aggregate(func.upper(), arg, path.pos)
        return key, self.slots[key][2]

    # HAVING

    def condition(self, cond: Condition) -> Callable[[Env], Pred]:
        if isinstance(cond, Logical):
            parts = [self.condition(item) for item in cond.items]
            if cond.op == "AND":
                return lambda env: _all([part(env) for part in parts])
            return lambda env: _any([part(env) for part in parts])
        if isinstance(cond, Not):
            inner = self.condition(cond.item)
            return lambda env: _negated(inner(env))
        if isinstance(cond, Comparison) and cond.op != "LIKE":
            key, field = self.slot_of(cond.field)
            value, fold = self.literal(key, field, cond.value)
            pred = compare_pred(_getter(key), cond.op, value, fold=fold)
            return lambda env: pred
        if isinstance(cond, InList):
            key, field = self.slot_of(cond.field)
            pairs = [self.literal(key, field, lit) for lit in cond.values]
            fold = bool(pairs) and pairs[0][1]
            values = frozenset(v for v, _ in pairs if v is not None)
            nulls = any(v is None for v, _ in pairs)
            pred = in_pred(_getter(key), values, negate=cond.negate, fold=fold, nulls=nulls)
            return lambda env: pred
        raise unsupported(self.query.text, self.query.object_pos, "this HAVING condition")

    def literal(self, key: str, field: SfField | None, lit: Any) -> tuple[Any, bool]:
        func = self.slots[key][0]
        if lit.kind == "relative":
            raise unsupported(self.query.text, lit.pos, "date literals in HAVING")
        if func in (*_COUNTS, "SUM", "AVG") or field is None:
            if lit.kind not in ("number", "null"):
                detail = f"value of filter criterion for '{key}' must be a number"
                self.planner.fail("INVALID_QUERY_FILTER_OPERATOR", lit.pos, detail)
            return lit.value, False
        return self.planner.coerce(field, lit), field.is_string

    # run

    def run(self, records: Iterable[Record], resolver: Resolver, *, now: datetime) -> list[Record]:
        """Return the ``AggregateResult`` records of the query over ``records``."""
        rows: Iterable[Record] = records
        if self.where is not None:
            rows = filter(self.where(Env(now, resolver)), rows)
        bound = {
            key: (func, None if get is None else get(resolver), field)
            for key, (func, get, field) in self.slots.items()
        }
        buckets: dict[tuple[Any, ...], list[Record]] = {}
        for row in rows:
            values = (bound[key][1](row) for key in self.groups)  # type: ignore[misc]
            group = tuple(v.lower() if isinstance(v, str) else v for v in values)
            buckets.setdefault(group, []).append(row)
        if not self.groups and not buckets:
            buckets[()] = []  # an aggregate without GROUP BY answers one row, even over none
        results = [self.summarise(members, bound) for members in buckets.values()]
        env = Env(now, resolver)
        if self.having is not None:
            results = list(filter(self.having(env), results))
        if self.order:
            keys = [
                OrderKey(_getter(key), desc, last, _normalizer(self.slots[key][0], field))
                for key, desc, last, field in self.order
            ]
            results = order_rows(results, keys)
        start = self.query.offset or 0
        stop = None if self.query.limit is None else start + self.query.limit
        return [
            {"attributes": {"type": "AggregateResult"}, **{n: r[k] for n, k in self.outputs}}
            for r in results[start:stop]
        ]

    def summarise(self, members: list[Record], bound: dict[str, Any]) -> Record:
        out: Record = {}
        for key, (func, get, field) in bound.items():
            if func is None:
                out[key] = get(members[0])
                continue
            if get is None:
                out[key] = len(members)
                continue
            values = [v for v in map(get, members) if v is not None]
            if func == "COUNT":
                out[key] = len(values)
            elif func == "COUNT_DISTINCT":
                out[key] = len({v.lower() if isinstance(v, str) else v for v in values})
            elif not values:
                out[key] = None
            elif func == "SUM":
                total = sum(values)
                out[key] = total if field.type in ("int", "long") else float(total)
            elif func == "AVG":
                out[key] = sum(values) / len(values)
            else:
                pick = min if func == "MIN" else max
                out[key] = pick(values, key=_text_key if field.is_string else None)
        return out


def _text_key(value: str) -> str:
    return value.upper()  # English-locale text order (see sort_normalizer)


def _getter(key: str) -> Callable[[Record], Any]:
    return lambda row: row.get(key)


def _normalizer(func: str | None, field: SfField | None) -> Any:
    if func in (*_COUNTS, "SUM", "AVG") or field is None:
        return None
    return sort_normalizer(field)


def _all(preds: list[Pred]) -> Pred:
    return lambda r: all(pred(r) for pred in preds)


def _any(preds: list[Pred]) -> Pred:
    return lambda r: any(pred(r) for pred in preds)


def _negated(pred: Pred) -> Pred:
    return lambda r: not pred(r)
