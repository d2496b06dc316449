"""Parse, type-check and run the SOQL subset the Salesforce sandbox serves.

Edge helper of the Salesforce sandbox (pure). :func:`parse_soql` turns text into a small
syntax tree, :func:`plan_query` resolves names against the schema (case-insensitively),
checks every literal against its field's type and compiles the WHERE clause, the ORDER BY
keys and the projection into closures once; :class:`QueryPlan` then filters, sorts and
projects plain-dict records without walking the tree again (reference/salesforce-api.md
§2 for result shapes, §3 for the grammar and semantics). Errors carry Salesforce's error
codes and its ``ERROR at Row:R:Column:C`` message layout.

Longer than 500 lines: one parser for one grammar (the SOQL subset) and the planner that types
it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, NoReturn

from . import soql_select as ext
from .ids import normalize_id
from .schema import SfField, SfObject, SfSchema
from .soql_eval import (
    Env,
    GetterFactory,
    LikePart,
    Op,
    PredFactory,
    Projection,
    QueryPlan,
    Record,
    RelativeMode,
    Resolver,
    combine,
    compare_pred,
    datetime_to_wire,
    decode_string,
    field_getter,
    in_pred,
    like_pred,
    negate,
    range_pred,
    relative_range,
    relative_spec,
    sort_normalizer,
)
from .soql_tree import (
    Comparison,
    Condition,
    FieldPath,
    InList,
    Logical,
    Not,
    OrderItem,
    SemiJoin,
    SoqlQuery,
    Value,
)

__all__ = [
    "Comparison",
    "Condition",
    "FieldPath",
    "InList",
    "Logical",
    "Not",
    "OrderItem",
    "QueryPlan",
    "Resolver",
    "SemiJoin",
    "SoqlError",
    "SoqlQuery",
    "Value",
    "parse_soql",
    "plan_query",
]

MAX_OFFSET = 2000
MAX_RELATIONSHIP_DEPTH = 5
_RESERVED = frozenset({
    "AND", "ASC", "DESC", "EXCLUDES", "FIRST", "FROM", "GROUP", "HAVING", "IN", "INCLUDES",
    "LAST", "LIKE", "LIMIT", "NOT", "NULL", "NULLS", "OR", "SELECT", "WHERE", "WITH",
})  # fmt: skip
_TOKEN_RE = re.compile(
    r"""
      (?P<ws>\s+)
    | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))
    | (?P<date>\d{4}-\d{2}-\d{2})
    | (?P<number>[+-]?(?:\d+(?:\.\d+)?|\.\d+))
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    | (?P<op>!=|<>|<=|>=|=|<|>)
    | (?P<punct>[(),:])
    | (?P<string>'(?:[^'\\]|\\.)*')
    """,
    re.VERBOSE | re.DOTALL,
)
_TYPE_NAMES = {
    "id": "id", "reference": "id", "boolean": "boolean", "int": "integer", "long": "long",
    "double": "double", "currency": "double", "percent": "double", "date": "date",
    "datetime": "dateTime",
}  # fmt: skip
_NO_SUCH_COLUMN = (
    "No such column '{name}' on entity '{entity}'. If you are attempting to use a custom field, "
    "be sure to append the '__c' after the custom field name. Please reference your WSDL or the "
    "describe call for the appropriate names."
)
_BAD_RELATIONSHIP = (
    "Didn't understand relationship '{name}' in field path. If you are attempting to use a "
    "custom relationship, be sure to append the '__r' after the custom relationship name. "
    "Please reference your WSDL or the describe call for the appropriate names."
)
_BAD_TYPE = (
    "sObject type '{name}' is not supported. If you are attempting to use a custom object, be "
    "sure to append the '__c' after the entity name. Please reference your WSDL or the describe "
    "call for the appropriate names."
)

_MAX_INTEGER = 2**31 - 1  # LIMIT, OFFSET and date literal counts are Apex Integers
_MAX_NESTING = 100  # parentheses and NOTs deep; deeper is refused, never a RecursionError

ErrorCode = Literal[
    "MALFORMED_QUERY", "INVALID_FIELD", "INVALID_TYPE", "INVALID_QUERY_FILTER_OPERATOR",
    "NUMBER_OUTSIDE_VALID_RANGE", "UNSUPPORTED_QUERY",
]  # fmt: skip


class SoqlError(Exception):
    """A query Salesforce would refuse with HTTP 400.

    Attributes:
        code: the ``errorCode`` (``MALFORMED_QUERY``, ``INVALID_FIELD``, ``INVALID_TYPE``,
            ``INVALID_QUERY_FILTER_OPERATOR``, ``NUMBER_OUTSIDE_VALID_RANGE``).
        message: the ``message``, with the query line, a caret and ``ERROR at Row:R:Column:C``
            where Salesforce gives a position.
    """

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code: str = code
        self.message = message

    @classmethod
    def at(cls, code: ErrorCode, text: str, pos: int, detail: str) -> SoqlError:
        """Return the error for ``detail`` at offset ``pos`` of query ``text``."""
        row = text.count("\n", 0, pos) + 1
        start = text.rfind("\n", 0, pos) + 1
        end = text.find("\n", pos)
        line = text[start : len(text) if end < 0 else end]
        column = pos - start + 1
        caret = " " * (column - 1) + "^"
        return cls(code, f"\n{line}\n{caret}\nERROR at Row:{row}:Column:{column}\n{detail}")


# --- public API ---------------------------------------------------------------------------


def parse_soql(text: str) -> SoqlQuery:
    """Parse a SOQL query (syntax only; names are resolved by :func:`plan_query`).

    Args:
        text: the query, e.g. ``SELECT Id, Account.Name FROM Contact WHERE Email != null``.

    Returns:
        The syntax tree.

    Raises:
        SoqlError: ``MALFORMED_QUERY`` with Salesforce's row/column layout.

    Examples:
        >>> query = parse_soql("select Id from Contact where LastName = 'Doe' limit 5")
        >>> query.object, query.where.value.value, query.limit
        ('Contact', 'Doe', 5)
    """
    return _Parser(text).parse()


def plan_query(query: SoqlQuery, schema: SfSchema) -> QueryPlan:
    """Resolve names, type-check literals and compile a parsed query into a :class:`QueryPlan`.

    Args:
        query: from :func:`parse_soql`.
        schema: the org's objects (``SCHEMA``).

    Returns:
        The plan, reusable for any number of executions.

    Raises:
        SoqlError: ``INVALID_TYPE`` (unknown object), ``INVALID_FIELD`` (unknown or
            unfilterable field), ``INVALID_QUERY_FILTER_OPERATOR`` (a literal of the wrong
            type, a malformed id, LIKE on a non-text field), ``MALFORMED_QUERY``,
            ``NUMBER_OUTSIDE_VALID_RANGE`` (OFFSET above 2,000).
    """
    return _Planner(query.text, schema).plan(query)


# --- lexer --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # name, number, date, datetime, string, op, punct, eof
    text: str
    pos: int
    value: Any = None
    like: tuple[LikePart, ...] = ()


def _lex(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            if text[pos] == "'":  # an opening quote the string pattern could not close
                raise SoqlError.at(
                    "MALFORMED_QUERY", text, pos, "mismatched character '<EOF>' expecting '''"
                )
            bad = re.match(r"\S+", text[pos:])
            raise SoqlError.at(
                "MALFORMED_QUERY", text, pos, f"unexpected token: {bad[0] if bad else text[pos]}"
            )
        kind = match.lastgroup or ""
        end = match.end()
        glued = end < len(text) and (text[end].isalnum() or text[end] in "_.")
        if kind in ("number", "date", "datetime") and glued:  # 12abc, 2024-01-01x
            bad = re.match(r"[\w.:+-]+", text[pos:])
            assert bad is not None
            raise SoqlError.at("MALFORMED_QUERY", text, pos, f"unexpected token: {bad[0]}")
        if kind == "string":
            try:
                value, like = decode_string(match[0][1:-1])
            except ValueError as exc:
                raise SoqlError.at("MALFORMED_QUERY", text, pos, str(exc)) from None
            tokens.append(_Token(kind, match[0], pos, value, like))
        elif kind != "ws":
            tokens.append(_Token(kind, match[0], pos))
        pos = end
    tokens.append(_Token("eof", "<EOF>", len(text)))
    return tokens


# --- parser -------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over the token list; every failure names the offending token."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _lex(text)
        self.i = 0
        self.depth = 0

    def parse(self) -> SoqlQuery:
        query = self.query(sub=False)
        if self.peek().kind != "eof":
            self.fail(self.peek())
        return query

    # token helpers

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.peek()
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    @staticmethod
    def is_word(token: _Token, *words: str) -> bool:
        return token.kind == "name" and token.text.upper() in words

    def accept(self, word: str) -> bool:
        if self.is_word(self.peek(), word):
            self.take()
            return True
        return False

    def expect(self, word: str) -> None:
        token = self.take()
        if not self.is_word(token, word):
            self.fail(token)

    def expect_punct(self, char: str) -> None:
        token = self.take()
        if token.kind != "punct" or token.text != char:
            self.fail(token)

    def fail(self, token: _Token, detail: str | None = None) -> NoReturn:
        raise SoqlError.at(
            "MALFORMED_QUERY", self.text, token.pos, detail or f"unexpected token: {token.text}"
        )

    # grammar

    def query(self, *, sub: bool, child: bool = False) -> SoqlQuery:
        self.expect("SELECT")
        fields, is_count, items = self.select_list(sub=sub)
        self.expect("FROM")
        source = self.take()
        if source.kind != "name" or "." in source.text:
            self.fail(source)
        ext.refuse_scope(self)
        where = self.condition() if self.accept("WHERE") else None
        group_by, having = ext.parse_tail(self)
        order: tuple[OrderItem, ...] = ()
        limit = offset = None
        if not sub or child:
            if self.accept("ORDER"):
                self.expect("BY")
                order = self.order_list()
            if self.accept("LIMIT"):
                limit = self.integer()
            if self.accept("OFFSET"):
                offset = self.integer()
            ext.refuse_trailing(self)
        return SoqlQuery(
            self.text, fields, is_count, source.text, source.pos, where, order, limit, offset,
            items, group_by, having,
        )  # fmt: skip

    def select_list(
        self, *, sub: bool
    ) -> tuple[tuple[FieldPath, ...], bool, tuple[ext.SelectItem, ...]]:
        token = self.peek()
        if self.is_word(token, "COUNT") and self.peek(1).text == "(" and self.peek(2).text == ")":
            if sub:
                self.fail(token)
            self.i += 3
            return (), True, ()
        items = [ext.parse_select_item(self, sub=sub)]
        while self.peek().text == ",":
            self.take()
            items.append(ext.parse_select_item(self, sub=sub))
        fields = tuple(i.path if isinstance(i, ext.FieldAlias) else i for i in items)
        return tuple(f for f in fields if isinstance(f, FieldPath)), False, tuple(items)

    def field_path(self) -> FieldPath:
        token = self.take()
        if token.kind != "name" or token.text.upper() in _RESERVED:
            self.fail(token)
        if self.peek().text == "(":  # aggregates (HAVING, ORDER BY); other functions refused
            return ext.call_path(self, token)
        return FieldPath(token.text, token.pos)

    def order_list(self) -> tuple[OrderItem, ...]:
        items = []
        while True:
            path = self.field_path()
            descending = self.accept("DESC")
            if not descending:
                self.accept("ASC")
            nulls_last = False
            if self.accept("NULLS"):
                token = self.take()
                if not self.is_word(token, "FIRST", "LAST"):
                    self.fail(token)
                nulls_last = token.text.upper() == "LAST"
            items.append(OrderItem(path, descending, nulls_last))
            if self.peek().text != ",":
                return tuple(items)
            self.take()

    def integer(self) -> int:
        token = self.take()
        if token.kind != "number" or not (token.text.isascii() and token.text.isdigit()):
            self.fail(token)
        if len(token.text) > 10 or int(token.text) > _MAX_INTEGER:
            self.fail(token, f"invalid integer: {token.text[:40]} (at most {_MAX_INTEGER})")
        return int(token.text)

    def condition(self) -> Condition:
        items = [self.term()]
        joiner: Literal["AND", "OR"] | None = None
        while self.is_word(self.peek(), "AND", "OR"):
            token = self.take()
            word: Literal["AND", "OR"] = "AND" if token.text.upper() == "AND" else "OR"
            if joiner is not None and word != joiner:  # mixing needs parentheses (§3)
                self.fail(token)
            joiner = word
            items.append(self.term())
        return items[0] if joiner is None else Logical(joiner, tuple(items))

    def term(self) -> Condition:
        token = self.peek()
        if self.is_word(token, "NOT") or (token.kind == "punct" and token.text == "("):
            self.depth += 1
            if self.depth > _MAX_NESTING:
                self.fail(token, f"the condition nests more than {_MAX_NESTING} levels deep")
            self.take()
            if token.text == "(":
                inner = self.condition()
                self.expect_punct(")")
            else:
                inner = Not(self.term())
            self.depth -= 1
            return inner
        return self.field_expression()

    def field_expression(self) -> Condition:
        path = self.field_path()
        token = self.take()
        if token.kind == "op":
            op = "!=" if token.text == "<>" else token.text
            return Comparison(path, op, self.value())  # type: ignore[arg-type]
        if self.is_word(token, "LIKE"):
            return Comparison(path, "LIKE", self.value())
        negate = self.is_word(token, "NOT")
        if negate:
            token = self.take()
        if not self.is_word(token, "IN"):
            self.fail(token)
        self.expect_punct("(")
        if self.is_word(self.peek(), "SELECT"):
            sub = self.query(sub=True)
            self.expect_punct(")")
            return SemiJoin(path, negate, sub)
        values = [self.value()]
        while self.peek().text == ",":
            self.take()
            values.append(self.value())
        self.expect_punct(")")
        return InList(path, negate, tuple(values))

    def value(self) -> Value:
        token = self.take()
        text = token.text
        if token.kind == "string":
            return Value("string", token.value, token.pos, text, token.like)
        if token.kind == "number":
            try:
                number = float(text) if "." in text else int(text)
            except ValueError:  # past Python's 4,300-digit conversion limit
                self.fail(token, f"invalid number: {text[:40]}...")
            return Value("number", number, token.pos, text)
        if token.kind == "date":
            try:
                date.fromisoformat(text)
            except ValueError:
                self.fail(token, f"invalid date: {text}")
            return Value("date", text, token.pos, text)
        if token.kind == "datetime":
            wire = datetime_to_wire(text)
            if wire is None:
                self.fail(token, f"invalid dateTime: {text}")
            return Value("datetime", wire, token.pos, text)
        if token.kind == "name":
            upper = text.upper()
            if upper in ("TRUE", "FALSE"):
                return Value("boolean", upper == "TRUE", token.pos, text)
            if upper == "NULL":
                return Value("null", None, token.pos, text)
            spec = relative_spec(text)
            if spec is not None:
                mode, unit, fixed, needs_n = spec
                n = fixed or 1
                if needs_n:
                    self.expect_punct(":")
                    n = self.integer()
                    text = f"{upper}:{n}"
                return Value("relative", (mode, unit, n), token.pos, text)
        self.fail(token)


# --- planner ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Path:
    name: str  # canonical dotted path, e.g. Account.Owner.Name
    field: SfField
    hops: tuple[tuple[SfField, SfObject], ...]  # (lookup field, target object), root first
    getter: GetterFactory


class _Planner:
    """Resolves names against the schema and compiles clauses into closures."""

    def __init__(self, text: str, schema: SfSchema) -> None:
        self.text = text
        self.schema = schema

    def fail(self, code: ErrorCode, pos: int, detail: str) -> NoReturn:
        raise SoqlError.at(code, self.text, pos, detail)

    def plan(self, query: SoqlQuery) -> QueryPlan:
        obj = self.object(query)
        if query.offset is not None and query.offset > MAX_OFFSET:
            raise SoqlError(
                "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}"
            )
        if query.group_by or query.having or any(type(i) is not FieldPath for i in query.items):
            from .soql_aggregate import plan_extended

            return plan_extended(self, query, obj)
        projection = Projection(obj.name)
        columns: list[str] = []
        flat: list[GetterFactory] = []
        seen: set[str] = set()
        for ref in query.fields:
            path = self.resolve(obj, ref, "select")
            if path.name.lower() in seen:
                self.fail(
                    "MALFORMED_QUERY", ref.pos, f"duplicate field selected: {path.field.name}"
                )
            seen.add(path.name.lower())
            columns.append(path.name)
            flat.append(path.getter)
            projection.add(path.hops, path.field)
        order = [
            (path.getter, item.descending, item.nulls_last, sort_normalizer(path.field))
            for item in query.order_by
            for path in [self.resolve(obj, item.field, "order")]
        ]
        where = None if query.where is None else self.where(obj, query.where, nested=False)
        return QueryPlan(
            object=obj,
            is_count=query.is_count,
            columns=columns,
            limit=query.limit,
            offset=query.offset,
            where=where,
            order=order,
            projection=projection,
            flat=flat,
        )

    def object(self, query: SoqlQuery) -> SfObject:
        obj = self.schema.get(query.object)
        if obj is None:
            self.fail("INVALID_TYPE", query.object_pos, _BAD_TYPE.format(name=query.object))
        return obj

    def resolve(
        self, obj: SfObject, ref: FieldPath, purpose: Literal["select", "filter", "order"]
    ) -> _Path:
        parts = ref.text.split(".")
        if (
            len(parts) > 1
            and parts[0].lower() == obj.name.lower()
            and not obj.relationship(parts[0])
        ):
            parts = parts[1:]  # SOQL accepts the queried object's name as a prefix
        hops: list[tuple[SfField, SfObject]] = []
        current = obj
        for part in parts[:-1]:
            lookup = current.relationship(part)
            target = self.schema.get(lookup.reference_to[0]) if lookup else None
            if lookup is None or target is None:
                self.fail("INVALID_FIELD", ref.pos, _BAD_RELATIONSHIP.format(name=part))
            hops.append((lookup, target))
            current = target
        if len(hops) > MAX_RELATIONSHIP_DEPTH:
            detail = (
                f"A field path may follow at most {MAX_RELATIONSHIP_DEPTH} parent relationships"
            )
            self.fail("MALFORMED_QUERY", ref.pos, detail)
        leaf = current.field(parts[-1])
        if leaf is None:
            detail = _NO_SUCH_COLUMN.format(name=parts[-1], entity=current.name)
            self.fail("INVALID_FIELD", ref.pos, detail)
        if purpose == "filter" and not leaf.filterable:
            self.fail(
                "INVALID_FIELD", ref.pos, f"field '{leaf.name}' can not be filtered in a query call"
            )
        if purpose == "order" and not leaf.sortable:
            self.fail(
                "INVALID_FIELD", ref.pos, f"field '{leaf.name}' can not be sorted in a query call"
            )
        lookups = tuple((lookup.name, target.name) for lookup, target in hops)
        components = leaf.components if leaf.type == "address" else ()
        name = ".".join([*(str(lookup.relationship_name) for lookup, _ in hops), leaf.name])
        return _Path(name, leaf, tuple(hops), field_getter(lookups, leaf.name, components))

    # WHERE

    def where(self, obj: SfObject, cond: Condition, *, nested: bool) -> PredFactory:
        if isinstance(cond, Logical):
            return combine(cond.op, [self.where(obj, item, nested=nested) for item in cond.items])
        if isinstance(cond, Not):
            return negate(self.where(obj, cond.item, nested=nested))
        if isinstance(cond, Comparison):
            return self.comparison(obj, cond)
        if isinstance(cond, InList):
            return self.in_list(obj, cond)
        return self.semi_join(obj, cond, nested=nested)

    def comparison(self, obj: SfObject, cond: Comparison) -> PredFactory:
        path = self.resolve(obj, cond.field, "filter")
        field, get, lit = path.field, path.getter, cond.value
        if cond.op == "LIKE":
            if field.is_id:
                self.fail(
                    "INVALID_QUERY_FILTER_OPERATOR", cond.field.pos, "invalid operator on id field"
                )
            if not field.is_string:
                detail = f"invalid operator on {_TYPE_NAMES.get(field.type, field.type)} field"
                self.fail("INVALID_QUERY_FILTER_OPERATOR", cond.field.pos, detail)
            if lit.kind != "string":
                self.type_error(field, lit)
            parts = lit.like
            return lambda env: like_pred(get(env.resolver), parts)
        op: Op = cond.op
        if field.type == "boolean" and op not in ("=", "!="):
            self.fail(
                "INVALID_QUERY_FILTER_OPERATOR", cond.field.pos, "invalid operator on boolean field"
            )
        if lit.kind == "relative":
            return self.relative(field, get, op, lit)
        value = self.coerce(field, lit)
        fold = field.is_string
        return lambda env: compare_pred(get(env.resolver), op, value, fold=fold)

    def relative(self, field: SfField, get: GetterFactory, op: Op, lit: Value) -> PredFactory:
        if field.type not in ("date", "datetime"):
            self.type_error(field, lit)
        mode: RelativeMode
        mode, unit, n = lit.value
        suffix = "T00:00:00.000+0000" if field.type == "datetime" else ""

        def bind(env: Env) -> Callable[[Record], bool]:
            low, high = relative_range(mode, unit, n, env.now)
            return range_pred(
                get(env.resolver), op, low.isoformat() + suffix, high.isoformat() + suffix
            )

        return bind

    def in_list(self, obj: SfObject, cond: InList) -> PredFactory:
        path = self.resolve(obj, cond.field, "filter")
        field, get = path.field, path.getter
        coerced = []
        for lit in cond.values:
            if lit.kind == "relative":
                self.fail(
                    "MALFORMED_QUERY",
                    lit.pos,
                    "the sandbox does not accept date literals in IN lists",
                )
            coerced.append(self.coerce(field, lit))
        fold = field.is_string
        nulls = any(value is None or (fold and value == "") for value in coerced)
        values = frozenset(value for value in coerced if value is not None)
        exclude = cond.negate
        return lambda env: in_pred(
            get(env.resolver), values, negate=exclude, fold=fold, nulls=nulls
        )

    def semi_join(self, obj: SfObject, cond: SemiJoin, *, nested: bool) -> PredFactory:
        sub = cond.query
        if nested:
            self.fail(
                "MALFORMED_QUERY", sub.object_pos, "Nested semi join sub-selects are not supported"
            )
        path = self.resolve(obj, cond.field, "filter")
        if not path.field.is_id:
            detail = f"semi join left operand '{path.field.name}' must be an Id or reference field"
            self.fail("MALFORMED_QUERY", cond.field.pos, detail)
        sub_obj = self.object(sub)
        if len(sub.fields) != 1:
            self.fail(
                "MALFORMED_QUERY", sub.object_pos, "semi join sub-selects can select one field only"
            )
        selected = self.resolve(sub_obj, sub.fields[0], "filter")
        if not selected.field.is_id:
            name = selected.field.name
            detail = f"semi join sub-select field '{name}' must be an Id or reference field"
            self.fail("MALFORMED_QUERY", sub.fields[0].pos, detail)
        sub_where = None if sub.where is None else self.where(sub_obj, sub.where, nested=True)
        get, sub_get, exclude, source = path.getter, selected.getter, cond.negate, sub_obj.name

        def bind(env: Env) -> Callable[[Record], bool]:
            # Evaluated once per execution: the subquery's ids become a set lookup.
            rows: Iterable[Record] = env.resolver.scan(source, include_deleted=False)
            if sub_where is not None:
                rows = filter(sub_where(env), rows)
            ids = frozenset(
                value for value in map(sub_get(env.resolver), rows) if value is not None
            )
            return in_pred(get(env.resolver), ids, negate=exclude, fold=False, nulls=False)

        return bind

    def coerce(self, field: SfField, lit: Value) -> Any:
        """Return ``lit`` as a wire value comparable with ``field`` (lower text, 18-char ids)."""
        if lit.kind == "null":
            return None
        kind = field.type
        if field.is_id:
            if lit.kind != "string":
                self.type_error(field, lit)
            record_id = normalize_id(lit.value)
            if record_id is None:
                self.fail(
                    "INVALID_QUERY_FILTER_OPERATOR", lit.pos, f"invalid ID field: {lit.value}"
                )
            return record_id
        expected = {
            "boolean": "boolean", "date": "date", "datetime": "datetime",
        }.get(kind, "number" if field.is_number else "string")  # fmt: skip
        if lit.kind != expected:
            self.type_error(field, lit)
        return lit.value.lower() if expected == "string" else lit.value

    def type_error(self, field: SfField, lit: Value) -> NoReturn:
        name = _TYPE_NAMES.get(field.type, "string")
        quoted = "should be" if name in ("string", "id") else "should not be"
        detail = (
            f"value of filter criterion for field '{field.name}' must be of type {name} "
            f"and {quoted} enclosed in quotes"
        )
        self.fail("INVALID_QUERY_FILTER_OPERATOR", lit.pos, detail)
