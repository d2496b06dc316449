"""Parse, type-check and compile the OData query options the Dataverse sandbox serves.

Edge helper of the Dataverse sandbox (pure). :func:`plan_query` reads ``$select``,
``$filter``, ``$orderby`` and ``$top`` (with parameter aliases) against the schema: it
tokenizes and parses ``$filter`` into a small syntax tree, resolves property names and
single-valued navigation paths (names are exact-case), checks the Edm type of every
operand and compiles the result into the closures of :mod:`.odata_eval` once
(reference/dataverse-api.md §3.1-3.4). Errors carry Dataverse's hex code and the wording of
the OData library Dataverse parses with (§7); the caller renders them as JSON.

Longer than 500 lines: one parser for one grammar (the OData query options) and the planner that
types it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any, Literal, NoReturn

from . import odata_eval as ev
from .odata_eval import Env, GetterFactory, Normalizer, Op, Pred, PredFactory, QueryPlan, Resolver
from .schema import DvAttribute, DvEntity, DvSchema

__all__ = ["ODataError", "QueryPlan", "Resolver", "plan_query"]

QUERY_ERROR = "0x80060888"  # what Dataverse answers for URL/query problems (§7)
NO_ATTRIBUTE = "0x80041103"  # QueryBuilderNoAttribute: a query function names a missing column
INVALID_ARGUMENT = "0x80040203"  # a query function's values do not fit the column
MAX_DEPTH = 100
CRM = "Microsoft.Dynamics.CRM."

_NO_ALIASES: Mapping[str, str] = MappingProxyType({})
_TOKEN_RE = re.compile(
    r"""
      (?P<ws>[ \t\r\n]+)
    | (?P<string>'(?:[^']|'')*')
    | (?P<array>\[\s*(?:"(?:[^"\\]|\\.)*"\s*(?:,\s*"(?:[^"\\]|\\.)*"\s*)*)?\])
    | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)
    | (?P<guid>[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})
    | (?P<date>\d{4}-\d{2}-\d{2})
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    | (?P<alias>@[A-Za-z_]\w*)
    | (?P<name>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)
    | (?P<punct>[(),=/])
    """,
    re.VERBOSE | re.ASCII | re.DOTALL,
)
_ORDER_ITEM_RE = re.compile(r"\s*([A-Za-z_]\w*(?:/[A-Za-z_]\w*)*)(?:\s+(asc|desc))?\s*", re.ASCII)
_TOP_RE = re.compile(r"\d{1,19}", re.ASCII)
_COUNT_RE = re.compile(r"\d{1,18}", re.ASCII)

_FAMILY = {
    "Edm.String": "string", "Edm.Int32": "number", "Edm.Int64": "number",
    "Edm.Decimal": "number", "Edm.Double": "number", "Edm.Boolean": "boolean",
    "Edm.Guid": "guid", "Edm.DateTimeOffset": "datetime", "Edm.Date": "date",
}  # fmt: skip
_KIND = {
    "eq": "Equal", "ne": "NotEqual", "gt": "GreaterThan", "ge": "GreaterThanOrEqual",
    "lt": "LessThan", "le": "LessThanOrEqual",
}  # fmt: skip
_TEXT_FUNCTIONS = {"contains": "%{}%", "startswith": "{}%", "endswith": "%{}"}
_VALUES, _VALUE = ("PropertyName", "PropertyValues"), ("PropertyName", "PropertyValue")
_CRM_PARAMETERS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("In", "NotIn", "Between", "NotBetween"), _VALUES),
    **dict.fromkeys(("On", "OnOrAfter", "OnOrBefore"), _VALUE),
    **dict.fromkeys(("Null", "NotNull"), _VALUE[:1]),
    **{name: _VALUE[: 1 + takes] for name, takes in ev.RELATIVE_FUNCTIONS.items()},
}

_NOT_FOUND = "Could not find a property named '{name}' on type '{type}'."
_INCOMPATIBLE = (
    "A binary operator with incompatible types was detected. Found operand types '{left}' and "
    "'{right}' for operator kind '{kind}'."
)
_UNKNOWN_FUNCTION = (
    "An unknown function with name '{name}' was found. This may also be a function import or a "
    "key lookup on a navigation property, which is not allowed."
)
_SIGNATURE = (
    "No function signature for the function with name '{name}' matches the specified "
    "arguments. The function signatures considered are: {name}(Edm.String Nullable=true, "
    "Edm.String Nullable=true)."
)
_NOT_BOOLEAN = "The $filter expression must evaluate to a single boolean value."
_OPERANDS = (
    "Only a property, a navigation path to a property, or a literal may be compared, and at "
    "least one side must be a property."
)
_TOO_DEEP = "Recursion depth exceeded allowed limit."
_SYNTAX = "Syntax error at position {pos} in '{text}'."


class ODataError(Exception):
    """A query Dataverse would refuse; the caller renders ``{"error": {code, message}}``.

    Attributes:
        status: the HTTP status (400).
        code: Dataverse's hex error code, e.g. ``0x80060888``.
        message: the message, in the wording Dataverse (or its OData library) uses.
    """

    def __init__(self, message: str, *, code: str = QUERY_ERROR, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def plan_query(
    entity: DvEntity,
    schema: DvSchema,
    *,
    select: str | None,
    filter: str | None,
    orderby: str | None,
    top: str | None,
    aliases: Mapping[str, str] = _NO_ALIASES,
) -> QueryPlan:
    """Check the query options of a collection GET and compile them into a :class:`QueryPlan`.

    Args:
        entity: the queried table.
        schema: every table, for navigation paths.
        select: the ``$select`` text (property names, lookups as ``_x_value``), or None.
        filter: the ``$filter`` text, or None.
        orderby: the ``$orderby`` text (``p [asc|desc], ...``), or None.
        top: the ``$top`` text, or None.
        aliases: parameter aliases from the query string (``{"@p1": "'Doe'"}``), usable
            for literals and query-function parameters.

    Returns:
        The plan, reusable for any number of executions.

    Raises:
        ODataError: an unknown property, a syntax error, operands of incompatible types, an
            unknown function, a bad ``$top``.

    Examples:
        >>> from crmframes.sandbox.dynamics.schema import SCHEMA
        >>> contact = SCHEMA.get("contact")
        >>> plan = plan_query(contact, SCHEMA, select="lastname", filter="lastname ne 'Doe'",
        ...                   orderby="lastname desc", top="2")
        >>> plan.columns, plan.top
        (['lastname', 'contactid'], 2)
    """
    planner = _Planner(entity, schema)
    try:
        columns = planner.select(select)
        tree = None if filter is None else _Parser(filter, aliases).parse()
        where = None if tree is None else planner.where(tree)
        order = [] if orderby is None else planner.order(orderby)
    except RecursionError:  # the depth limit keeps well below it; this is a last resort
        raise ODataError(_TOO_DEEP) from None
    return QueryPlan(
        entity=entity, columns=columns, top=_top(top), where=where, order=order, tree=tree
    )


# --- lexer --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # string, array, datetime, guid, date, number, alias, name, punct, eof
    text: str
    pos: int


def _lex(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            if text[pos] in "'\"":  # a quote the literal patterns could not close
                raise ODataError(
                    f"There is an unterminated literal at position {len(text)} in '{text}'."
                )
            raise ODataError(
                f"Syntax error: character '{text[pos]}' is not valid at position {pos} in '{text}'."
            )
        kind, end = match.lastgroup or "", match.end()
        glued = end < len(text) and (text[end].isalnum() or text[end] in "_.:-")
        if kind in ("number", "date", "datetime", "guid") and glued:  # 12abc, 2024-01-01x
            raise ODataError(f"Syntax error at position {end} in '{text}'.")
        if kind != "ws":
            tokens.append(_Token(kind, match[0], pos))
        pos = end
    tokens.append(_Token("eof", "", len(text)))
    return tokens


# --- syntax tree --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Prop:
    segments: tuple[str, ...]  # a property, after navigation properties when a path


@dataclass(frozen=True, slots=True)
class _Lit:
    edm: str | None  # None for null
    value: Any  # str, int, float, bool, None, YYYY-MM-DD, (datetime, whole second?), guid


@dataclass(frozen=True, slots=True)
class _Array:
    values: tuple[Any, ...]  # a JSON array (PropertyValues)


@dataclass(frozen=True, slots=True)
class _Compare:
    op: Op
    left: _Node
    right: _Node


@dataclass(frozen=True, slots=True)
class _Logic:
    op: Literal["and", "or"]
    items: tuple[_Node, ...]


@dataclass(frozen=True, slots=True)
class _Not:
    item: _Node


@dataclass(frozen=True, slots=True)
class _Call:
    name: str
    args: tuple[tuple[str, _Node], ...]  # (parameter name or "", value)


@dataclass(frozen=True, slots=True)
class _InList:  # ``p eq a or p eq b ...`` merged by the planner (``ne`` ... ``and``: negate)
    prop: _Prop
    values: tuple[_Lit, ...]
    negate: bool


_Node = _Prop | _Lit | _Array | _Compare | _Logic | _Not | _Call | _InList


# --- parser -------------------------------------------------------------------------------


class _Parser:
    """Recursive descent in OData's precedence: or, and, eq/ne, gt/ge/lt/le, not (tightest)."""

    def __init__(self, text: str, aliases: Mapping[str, str] | None, depth: int = 0) -> None:
        self.text = text
        self.tokens = _lex(text)
        self.i = 0
        self.aliases = aliases
        self.depth = depth

    def parse(self) -> _Node:
        node = self.expression()
        if self.peek().kind != "eof":
            self.fail(_SYNTAX, self.peek())
        return node

    # token helpers

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        token = self.tokens[self.i]
        if token.kind != "eof":
            self.i += 1
        return token

    def at(self, kind: str, *texts: str) -> bool:
        token = self.tokens[self.i]
        return token.kind == kind and token.text in texts

    def expect_punct(self, char: str, template: str) -> None:
        if not self.at("punct", char):
            self.fail(template, self.peek())
        self.take()

    def fail(self, template: str, token: _Token) -> NoReturn:
        raise ODataError(template.format(pos=token.pos, text=self.text))

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ODataError(_TOO_DEEP)

    # grammar

    def expression(self) -> _Node:
        self.nest()
        node = self.chain("or", lambda: self.chain("and", self.equality))
        self.depth -= 1
        return node

    def chain(self, word: Literal["and", "or"], operand: Callable[[], _Node]) -> _Node:
        items = [operand()]
        while self.at("name", word):
            self.take()
            items.append(operand())
        return items[0] if len(items) == 1 else _Logic(word, tuple(items))

    def equality(self) -> _Node:
        return self.compare(
            ("eq", "ne"), lambda: self.compare(("gt", "ge", "lt", "le"), self.unary)
        )

    def compare(self, ops: tuple[str, ...], operand: Callable[[], _Node]) -> _Node:
        left = operand()
        while self.at("name", *ops):
            op: Op = self.take().text  # type: ignore[assignment]
            left = _Compare(op, left, operand())
        return left

    def unary(self) -> _Node:
        if not self.at("name", "not"):
            return self.primary()
        self.take()
        self.nest()
        item = self.unary()
        self.depth -= 1
        return _Not(item)

    def primary(self) -> _Node:
        token = self.take()
        if token.kind == "punct" and token.text == "(":
            inner = self.expression()
            self.expect_punct(")", "')' or operator expected at position {pos} in '{text}'.")
            return inner
        if token.kind == "alias":
            return self.alias(token)
        if token.kind == "name":
            if token.text in ("true", "false"):
                return _Lit("Edm.Boolean", token.text == "true")
            if token.text == "null":
                return _Lit(None, None)
            if self.at("punct", "("):
                return self.call(token.text)
            segments = [token.text]
            while self.at("punct", "/"):
                self.take()
                segment = self.take()
                if segment.kind != "name":
                    self.fail(_SYNTAX, segment)
                segments.append(segment.text)
            if self.at("punct", "("):  # any()/all() lambdas, functions bound to a path
                raise ODataError(_UNKNOWN_FUNCTION.format(name=segments[-1]))
            return _Prop(tuple(segments))
        if token.kind == "array":  # PropertyValues=["a","b"]: a JSON array of strings
            try:
                return _Array(tuple(json.loads(token.text)))
            except ValueError:
                self.fail(_SYNTAX, token)
        if token.kind in ("string", "number", "date", "datetime", "guid"):
            return self.literal(token)
        self.fail("Expression expected at position {pos} in '{text}'.", token)

    def call(self, name: str) -> _Node:
        self.take()  # (
        self.nest()
        args: list[tuple[str, _Node]] = []  # Dataverse's functions name their parameters
        while not self.at("punct", ")"):
            key = ""
            if "." in name:  # Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=[...])
                token = self.take()
                if token.kind != "name" or not self.at("punct", "="):
                    self.fail(_SYNTAX, token)
                key = token.text
                self.take()
            args.append((key, self.primary() if key else self.expression()))
            if not self.at("punct", ","):
                break
            self.take()
        self.expect_punct(")", "')' or ',' expected at position {pos} in '{text}'.")
        self.depth -= 1
        return _Call(name, tuple(args))

    def alias(self, token: _Token) -> _Node:
        if self.aliases is None:  # inside an alias's own value
            self.fail(_SYNTAX, token)
        raw = self.aliases.get(token.text)
        if raw is None:
            raw = self.aliases.get(token.text[1:])
        if raw is None:  # OData: an alias the query string does not define is null
            return _Lit(None, None)
        inner = _Parser(raw, None, self.depth)
        node = inner.primary()
        if inner.peek().kind != "eof" or not isinstance(node, (_Lit, _Array)):
            inner.fail(_SYNTAX, inner.tokens[0])
        return node

    def literal(self, token: _Token) -> _Lit:
        try:
            return _Lit(*ev.decode_literal(token.kind, token.text))
        except ValueError as exc:  # the message is the literal's Edm type
            raise ODataError(
                f"Unrecognized '{exc}' literal '{token.text}' at '{token.pos}' in '{self.text}'."
            ) from None


# --- planner ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Path:
    attr: DvAttribute
    getter: GetterFactory


class _Planner:
    """Resolves names against the schema, checks types and compiles closures."""

    def __init__(self, entity: DvEntity, schema: DvSchema) -> None:
        self.entity = entity
        self.schema = schema

    def not_found(self, name: str, entity: DvEntity) -> NoReturn:
        raise ODataError(_NOT_FOUND.format(name=name, type=f"{CRM}{entity.logical_name}"))

    def resolve(self, segments: tuple[str, ...]) -> _Path:
        current, hops = self.entity, []
        for index, segment in enumerate(segments[:-1]):
            nav = current.navigation(segment)
            target = None if nav is None else self.schema.get(nav[1])
            if nav is None or target is None:
                column = current.column(segment)
                if column is None:
                    self.not_found(segment, current)
                raise ODataError(_NOT_FOUND.format(name=segments[index + 1], type=column.edm_type))
            hops.append((nav[0].odata_name, target.logical_name))
            current = target
        attr = current.column(segments[-1])
        if attr is None:
            nav = current.navigation(segments[-1])
            if nav is not None:
                raise ODataError(
                    f"The navigation property '{segments[-1]}' cannot be compared or ordered; "
                    f"use its lookup property '{nav[0].odata_name}' or a path to a property."
                )
            self.not_found(segments[-1], current)
        return _Path(attr, ev.path_getter(tuple(hops), attr.odata_name))

    # $select and $orderby

    def select(self, text: str | None) -> list[str]:
        if text is None or not text.strip():
            return self.entity.properties
        names: list[str] = []
        offset = 0
        for chunk in text.split(","):
            name = chunk.strip()
            if name == "*":
                names.extend(p for p in self.entity.properties if p not in names)
            elif not name:
                raise ODataError(f"Syntax error at position {offset} in '{text}'.")
            elif self.entity.column(name) is None:  # code 0x0 here (web-api-client-errors)
                raise ODataError(
                    _NOT_FOUND.format(name=name, type=CRM + self.entity.logical_name), code="0x0"
                )
            elif name not in names:
                names.append(name)
            offset += len(chunk) + 1
        if self.entity.primary_id not in names:  # every row carries its key (§3.1)
            names.append(self.entity.primary_id)
        return names

    def order(self, text: str) -> list[tuple[GetterFactory, bool, Normalizer | None]]:
        keys: list[tuple[GetterFactory, bool, Normalizer | None]] = []
        offset = 0
        for chunk in text.split(","):
            match = _ORDER_ITEM_RE.fullmatch(chunk)
            if match is None:
                position = offset + len(chunk) - len(chunk.lstrip())
                raise ODataError(f"Syntax error at position {position} in '{text}'.")
            path = self.resolve(tuple(match[1].split("/")))
            getter, normalize = self.sort_key(path)
            keys.append((getter, match[2] == "desc", normalize))
            offset += len(chunk) + 1
        return keys

    def sort_key(self, path: _Path) -> tuple[GetterFactory, Normalizer | None]:
        return ev.sort_transform(path.attr, path.getter, self.schema)

    # $filter

    def where(self, node: _Node) -> PredFactory:
        return self.predicate(node, True, "")

    def predicate(self, node: _Node, holds: bool, context: str) -> PredFactory:
        """Compile ``node`` to the factory of records for which it is TRUE (or FALSE)."""
        if isinstance(node, _Logic):
            return self.logic(node, holds)
        if isinstance(node, _Not):
            return self.predicate(node.item, not holds, "Not")
        if isinstance(node, _Compare):
            return self.comparison(node, holds)
        if isinstance(node, _InList):
            return self.in_list(node, holds)
        if isinstance(node, _Call):
            return self.function(node, holds) if "." in node.name else self.text(node, holds)
        if isinstance(node, _Prop):
            path = self.resolve(node.segments)
            edm = path.attr.edm_type
            if edm == "Edm.Boolean":
                get = path.getter
                op: Op = "eq" if holds else "ne"
                return lambda env: ev.compare_pred(get(env.resolver), op, True)
        elif isinstance(node, _Lit):
            if node.edm in ("Edm.Boolean", None):  # null is UNKNOWN: neither TRUE nor FALSE
                answer = node.edm is not None and node.value == holds
                return lambda env: ev.constant(answer)
            edm = node.edm
        else:
            edm = "Collection(Edm.String)"
        if context == "Not":
            raise ODataError(
                "A unary operator with an incompatible type was detected. Found operand type "
                f"'{edm}' for operator kind 'Not'."
            )
        if context:
            raise ODataError(_INCOMPATIBLE.format(left=edm, right="Edm.Boolean", kind=context))
        raise ODataError(_NOT_BOOLEAN)

    def logic(self, node: _Logic, holds: bool) -> PredFactory:
        items: list[_Node] = []
        for item in node.items:  # (a or b) or c: one flat list
            items.extend(item.items if isinstance(item, _Logic) and item.op == node.op else [item])
        kind = "And" if node.op == "and" else "Or"
        factories = [self.predicate(item, holds, kind) for item in _merge(node.op, items)]
        # and: TRUE when all are TRUE, FALSE when any is FALSE; or: the other way round
        return ev.all_of(factories) if (node.op == "and") == holds else ev.any_of(factories)

    def operand(self, node: _Node) -> _Path | _Lit:
        if isinstance(node, _Prop):
            return self.resolve(node.segments)
        if isinstance(node, _Lit):
            return node
        if isinstance(node, _Not):  # ``not lastname eq 'x'``: the OData library fails on not
            self.predicate(node, True, "")
        raise ODataError(_OPERANDS)

    def check(self, left: _Path | _Lit, right: _Path | _Lit, op: Op) -> None:
        types = [
            side.attr.edm_type if isinstance(side, _Path) else side.edm for side in (left, right)
        ]
        if None in types or _FAMILY[types[0]] == _FAMILY[types[1]]:  # type: ignore[index]
            return
        text = left if types[0] == "Edm.String" else right
        if set(types) == {"Edm.Guid", "Edm.String"} and isinstance(text, _Lit):
            if ev.GUID_RE.fullmatch(text.value):  # Dataverse also takes a GUID in quotes (§3.4)
                return
            raise ODataError(
                "Guid should contain 32 digits with 4 dashes (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)."
            )
        raise ODataError(_INCOMPATIBLE.format(left=types[0], right=types[1], kind=_KIND[op]))

    def comparison(self, node: _Compare, holds: bool) -> PredFactory:
        left, right, op = self.operand(node.left), self.operand(node.right), node.op
        self.check(left, right, op)
        if isinstance(left, _Lit):
            if isinstance(right, _Lit):
                raise ODataError(_OPERANDS)
            left, right, op = right, left, ev.MIRROR[op]
        op = op if holds else ev.COMPLEMENT[op]
        get = left.getter
        family = _FAMILY[left.attr.edm_type]
        if isinstance(right, _Path):  # check() made sure both are of one family
            other, fold = right.getter, family == "string"
            key = ev.guid_order_key if family == "guid" else None
            return lambda env: ev.columns_pred(
                get(env.resolver), op, other(env.resolver), fold=fold, key=key
            )
        if right.edm is None:  # eq null / ne null test for null; gt null etc. is UNKNOWN
            if op in ("eq", "ne"):
                is_null = op == "eq"
                return lambda env: ev.null_pred(get(env.resolver), is_null=is_null)
            return lambda env: ev.constant(False)
        value = right.value
        if family == "string":
            value = value.lower()
        elif family == "guid":
            value = value.lower().strip("{}")
        elif family == "datetime":
            moment, whole = value
            value = ev.to_wire(moment)  # whole seconds, like every stored value
            if not whole:  # stored values never equal it; order against its whole second
                value = value + "~" if op in ("eq", "ne") else value
                op = op if op in ("eq", "ne") else "gt" if op in ("gt", "ge") else "le"
        fold = family == "string"
        key = ev.guid_order_key if family == "guid" else None
        return lambda env: ev.compare_pred(get(env.resolver), op, value, fold=fold, key=key)

    def in_list(self, node: _InList, holds: bool) -> PredFactory:
        path, values = self.resolve(node.prop.segments), set()
        for lit in node.values:
            self.check(path, lit, "ne" if node.negate else "eq")
            value = lit.value[0] if lit.edm == "Edm.DateTimeOffset" else lit.value
            if lit.edm != "Edm.DateTimeOffset" or lit.value[1]:  # a fraction equals nothing
                values.add(value.lower().strip("{}") if isinstance(value, str) else value)
        members = frozenset(ev.equality_value(path.attr, value) for value in values)
        return self.membership(path, members, inside=node.negate != holds)

    def membership(self, path: _Path, values: frozenset[Any], *, inside: bool) -> PredFactory:
        get, fold = path.getter, _FAMILY[path.attr.edm_type] == "string"
        return lambda env: ev.in_pred(get(env.resolver), values, inside=inside, fold=fold)

    def text(self, node: _Call, holds: bool) -> PredFactory:
        name = node.name
        if name not in _TEXT_FUNCTIONS:  # tolower, length, year...: Dataverse has none of them
            raise ODataError(_UNKNOWN_FUNCTION.format(name=name))
        if len(node.args) != 2:
            raise ODataError(_SIGNATURE.format(name=name))
        subject, argument = (self.operand(arg) for _, arg in node.args)
        for side in (subject, argument):
            edm = side.attr.edm_type if isinstance(side, _Path) else side.edm
            if edm not in ("Edm.String", None):
                raise ODataError(_SIGNATURE.format(name=name))
        if not isinstance(subject, _Path) or isinstance(argument, _Path):
            raise ODataError(
                f"The function '{name}' needs a property first and a string literal second."
            )
        if argument.edm is None:  # LIKE NULL is UNKNOWN
            return lambda env: ev.constant(False)
        get, pattern = subject.getter, _TEXT_FUNCTIONS[name].format(argument.value)
        return lambda env: ev.like_pred(get(env.resolver), pattern, holds=holds)

    def function(self, node: _Call, holds: bool) -> PredFactory:
        short = node.name[len(CRM) :] if node.name.startswith(CRM) else ""
        expected = _CRM_PARAMETERS.get(short)
        if expected is None and short:  # fiscal periods, hierarchies, users, OlderThan...
            raise ODataError(
                f"The function '{node.name}' is not supported by the crmframes sandbox; it "
                f"evaluates {', '.join(_CRM_PARAMETERS)}."
            )
        if expected is None:
            raise ODataError(_UNKNOWN_FUNCTION.format(name=node.name))
        params = dict(node.args)
        if len(params) != len(node.args) or sorted(params) != sorted(expected):
            raise ODataError(
                f"The function '{node.name}' takes the parameters {', '.join(expected)}."
            )
        path = self.property_name(node.name, params["PropertyName"])
        attr, get = path.attr, path.getter
        family = _FAMILY[attr.edm_type]
        if short in ("Null", "NotNull"):
            is_null = (short == "Null") == holds
            return lambda env: ev.null_pred(get(env.resolver), is_null=is_null)
        if short in ("In", "NotIn", "Between", "NotBetween"):
            texts = self.values(node.name, params["PropertyValues"])
            inside = short in ("In", "Between")
            if short in ("In", "NotIn"):
                values = (self.convert(attr, text, node.name) for text in texts)
                members = frozenset(ev.equality_value(attr, value) for value in values)
                return self.membership(path, members - {None}, inside=inside == holds)
            if len(texts) != 2 or family in ("boolean", "guid"):
                self.invalid(node.name, attr, "two values of a number, text or date column")
            low, high = (self.convert(attr, text, node.name) for text in texts)
            if family in ("datetime", "date"):
                low, high = ev.moment_bounds((low, True, high, True), date_only=family == "date")
            fold = family == "string"
            return lambda env: ev.between_pred(
                get(env.resolver), low, high, inside=inside == holds, fold=fold
            )
        if family not in ("datetime", "date"):
            self.invalid(node.name, attr, "a date and time column")
        date_only = family == "date"
        if short in ("On", "OnOrAfter", "OnOrBefore"):
            day = self.day(node.name, params["PropertyValue"])
            low, high = ev.moment_bounds(ev.day_range(short, day), date_only=date_only)
            return lambda env: ev.between_pred(get(env.resolver), low, high, inside=holds)
        n = self.count(node.name, params.get("PropertyValue"))

        def bind(env: Env) -> Pred:
            span = ev.relative_range(short, n, env.now)
            low, high = ev.moment_bounds(span, date_only=date_only)
            return ev.between_pred(get(env.resolver), low, high, inside=holds)

        return bind

    def property_name(self, function: str, node: _Node) -> _Path:
        if not isinstance(node, _Lit) or node.edm != "Edm.String":
            raise ODataError(f"The PropertyName of '{function}' must be a string literal.")
        attr = self.entity.column(node.value) or self.entity.attribute(node.value)
        if attr is None:
            raise ODataError(
                f"'{self.entity.logical_name}' entity doesn't contain attribute with Name = "
                f"'{node.value}' and NameMapping = 'Logical'.",
                code=NO_ATTRIBUTE,
            )
        return _Path(attr, ev.path_getter((), attr.odata_name))

    def values(self, function: str, node: _Node) -> list[str]:
        if not isinstance(node, _Array) or not node.values:
            raise ODataError(
                f"The PropertyValues of '{function}' must be a non-empty JSON array of "
                'strings, e.g. ["a","b"].'
            )
        if not all(isinstance(value, str) for value in node.values):
            raise ODataError(f"The PropertyValues of '{function}' must be strings.")
        return list(node.values)

    def convert(self, attr: DvAttribute, text: str, function: str) -> Any:
        value = ev.decode_value(attr, text)
        if value is None:
            raise ODataError(
                f"The value '{text}' of '{function}' is not a valid {attr.edm_type} for "
                f"attribute '{attr.logical_name}'.",
                code=INVALID_ARGUMENT,
            )
        return value

    def day(self, function: str, node: _Node) -> date:
        value = node.value if isinstance(node, _Lit) else None
        if isinstance(value, tuple):  # a DateTimeOffset literal
            value = ev.to_wire(value[0])
        parsed = ev.parse_datetime(value, offset_required=False) if isinstance(value, str) else None
        if parsed is None:
            raise ODataError(
                f"The PropertyValue of '{function}' must be a date such as '2024-01-31'.",
                code=INVALID_ARGUMENT,
            )
        return parsed[0].date()

    def count(self, function: str, node: _Node | None) -> int:
        value = 0 if node is None else node.value if isinstance(node, _Lit) else None
        if isinstance(value, str) and _COUNT_RE.fullmatch(value):
            value = int(value)
        if type(value) is not int or value < 0:  # a bool is no count
            raise ODataError(
                f"The PropertyValue of '{function}' must be a non-negative whole number.",
                code=INVALID_ARGUMENT,
            )
        return value

    def invalid(self, function: str, attr: DvAttribute, needs: str) -> NoReturn:
        raise ODataError(
            f"The function '{function}' is not valid for attribute '{attr.logical_name}' of "
            f"type {attr.type}: it needs {needs}.",
            code=INVALID_ARGUMENT,
        )


def _merge(op: Literal["and", "or"], items: list[_Node]) -> list[_Node]:
    # ``p eq a or p eq b ...`` (how clients fetch by a list of ids) becomes one set lookup,
    # as does ``p ne a and p ne b ...``; both are exact under three-valued logic.
    pairs = [_pair(item, "eq" if op == "or" else "ne") for item in items]
    groups: dict[_Prop, list[_Lit]] = {}
    for pair in pairs:
        if pair is not None:
            groups.setdefault(pair[0], []).append(pair[1])
    merged: list[_Node] = []
    for item, pair in zip(items, pairs, strict=True):
        lits = None if pair is None else groups[pair[0]]
        if pair is None or lits is None or len(lits) == 1:
            merged.append(item)
        elif lits[0] is pair[1]:  # the group's first comparison stands for all of them
            merged.append(_InList(pair[0], tuple(lits), negate=op == "and"))
    return merged


def _pair(item: _Node, op: str) -> tuple[_Prop, _Lit] | None:
    if isinstance(item, _Compare) and item.op == op and isinstance(item.left, _Prop):
        return (item.left, item.right) if isinstance(item.right, _Lit) and item.right.edm else None
    return None


def _top(text: str | None) -> int | None:
    if text is None:
        return None
    if not _TOP_RE.fullmatch(text) or int(text) >= 2**63:
        raise ODataError(
            f"Invalid value '{text}' for $top query option found. The $top query option "
            "requires a non-negative integer value."
        )
    return int(text)
