"""The SOQL grammar beyond plain field lists: aggregates, subqueries, FIELDS(), refusals.

Edge helper of the Salesforce sandbox (pure). :mod:`.soql`'s parser calls these for a SELECT
item, a function call where a field is expected, the clauses after WHERE (``GROUP BY``,
``HAVING``) and the clauses the sandbox does not emulate. Valid SOQL the sandbox cannot
run is refused with ``UNSUPPORTED_QUERY`` naming the feature, never ``MALFORMED_QUERY``:
the user's query is not wrong, the sandbox is smaller than Salesforce (SOQL and SOSL
Reference: "Aggregate Functions", "GROUP BY", "HAVING", "FIELDS()", "Relationship Queries").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .soql_tree import Condition, FieldPath, SoqlQuery

if TYPE_CHECKING:
    from .soql import SoqlError

__all__ = [
    "AGGREGATES",
    "Aggregate",
    "ChildQuery",
    "FieldAlias",
    "FieldsCall",
    "SelectItem",
    "call_path",
    "parse_select_item",
    "parse_tail",
    "refuse_scope",
    "refuse_trailing",
    "unsupported",
]

AGGREGATES = frozenset({"COUNT", "COUNT_DISTINCT", "SUM", "AVG", "MIN", "MAX"})
_FIELDS_KINDS = ("ALL", "STANDARD", "CUSTOM")


@dataclass(frozen=True, slots=True)
class Aggregate:
    """``FUNC(field) [alias]``; ``arg`` is None for ``COUNT()``."""

    func: str
    arg: FieldPath | None
    alias: str | None
    pos: int

    @property
    def text(self) -> str:
        """The canonical spelling, ``SUM(Amount)``, as HAVING and ORDER BY refer to it."""
        return f"{self.func}({'' if self.arg is None else self.arg.text})"


@dataclass(frozen=True, slots=True)
class FieldAlias:
    """A grouped field with an alias, ``LeadSource src`` (aggregate queries only)."""

    path: FieldPath
    alias: str


@dataclass(frozen=True, slots=True)
class FieldsCall:
    """``FIELDS(ALL | STANDARD | CUSTOM)``."""

    kind: Literal["ALL", "STANDARD", "CUSTOM"]
    pos: int


@dataclass(frozen=True, slots=True)
class ChildQuery:
    """A parent-to-child subquery, ``(SELECT LastName FROM Contacts)``."""

    query: SoqlQuery


SelectItem = Any  # FieldPath | FieldAlias | Aggregate | FieldsCall | ChildQuery


def unsupported(text: str, pos: int, feature: str) -> SoqlError:
    """Return the refusal of valid SOQL the sandbox does not run, naming ``feature``."""
    from .soql import SoqlError

    detail = (
        f"The crmframes sandbox does not support {feature}. Salesforce accepts this query; "
        "run it against a real org, or rewrite it without that feature for the sandbox."
    )
    return SoqlError.at("UNSUPPORTED_QUERY", text, pos, detail)


def parse_select_item(p: Any, *, sub: bool) -> SelectItem:
    """Parse one SELECT item with the :mod:`.soql` parser ``p``."""
    token = p.peek()
    if token.kind == "punct" and token.text == "(":
        if sub:
            p.fail(token)
        p.take()
        query = p.query(sub=True, child=True)
        p.expect_punct(")")
        return ChildQuery(query)
    if p.is_word(token, "TYPEOF") and p.peek(1).kind == "name":
        raise unsupported(p.text, token.pos, "TYPEOF")
    if token.kind == "name" and p.peek(1).text == "(":
        name = token.text.upper()
        if name == "FIELDS":
            p.take()
            p.take()
            kind = p.take()
            if not p.is_word(kind, *_FIELDS_KINDS):
                p.fail(kind)
            p.expect_punct(")")
            return FieldsCall(kind.text.upper(), token.pos)
        if name in AGGREGATES:
            aggregate = _aggregate(p)
            alias = _alias(p)
            return Aggregate(aggregate.func, aggregate.arg, alias, aggregate.pos)
    path = p.field_path()
    alias = _alias(p)
    return path if alias is None else FieldAlias(path, alias)


def call_path(p: Any, token: Any) -> FieldPath:
    """A function call where a field is expected (``token`` is its name, ``(`` is next).

    Aggregates become a :class:`FieldPath` spelled canonically (``SUM(Amount)``) for HAVING
    and ORDER BY; any other function is refused as unsupported by the sandbox.
    """
    if token.text.upper() not in AGGREGATES:
        raise unsupported(p.text, token.pos, f"the SOQL function {token.text}()")
    p.i -= 1  # give the name back: _aggregate reads it again
    return FieldPath(_aggregate(p).text, token.pos)


def parse_tail(p: Any) -> tuple[tuple[FieldPath, ...], Condition | None]:
    """Parse what may follow WHERE: ``WITH ...`` (refused), ``GROUP BY`` and ``HAVING``."""
    token = p.peek()
    if p.is_word(token, "WITH"):
        following = p.peek(1).text.upper()
        raise unsupported(p.text, token.pos, f"WITH {following}")
    group: list[FieldPath] = []
    if p.accept("GROUP"):
        p.expect("BY")
        if p.is_word(p.peek(), "ROLLUP", "CUBE") and p.peek(1).text == "(":
            raise unsupported(p.text, p.peek().pos, f"GROUP BY {p.peek().text.upper()}")
        group.append(p.field_path())
        while p.peek().text == ",":
            p.take()
            group.append(p.field_path())
    having = p.condition() if p.accept("HAVING") else None
    return tuple(group), having


def refuse_trailing(p: Any) -> None:
    """Refuse the clauses after LIMIT/OFFSET the sandbox does not emulate (FOR, UPDATE)."""
    token = p.peek()
    if p.is_word(token, "FOR", "UPDATE"):
        raise unsupported(p.text, token.pos, f"{token.text.upper()} {p.peek(1).text.upper()}")


def refuse_scope(p: Any) -> None:
    """Refuse ``USING SCOPE`` after FROM."""
    token = p.peek()
    if p.is_word(token, "USING"):
        raise unsupported(p.text, token.pos, "USING SCOPE")


def _aggregate(p: Any) -> Aggregate:
    name = p.take()
    p.expect_punct("(")
    arg = None
    if p.peek().text != ")":
        arg = p.field_path()
    p.expect_punct(")")
    func = name.text.upper()
    if arg is None and func != "COUNT":
        p.fail(p.tokens[p.i - 1])
    return Aggregate(func, arg, None, name.pos)


def _alias(p: Any) -> str | None:
    from .soql import _RESERVED

    token, following = p.peek(), p.peek(1)
    ends = following.text == "," or p.is_word(following, "FROM")
    if (
        token.kind == "name"
        and "." not in token.text
        and token.text.upper() not in _RESERVED
        and ends
    ):
        p.take()
        return str(token.text)
    return None
