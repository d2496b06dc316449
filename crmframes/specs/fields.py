"""The building blocks of specs: a strict, frozen base model and the value types specs share.

Pure. Every spec refuses unknown keys (naming the closest known one), refuses values of the
wrong type instead of coercing them (``"10"`` is not a number, ``1`` is not ``true``), and
normalises the several spellings a user may write — ``fields: [a, b]`` or ``{a: raw}``,
``order_by: Name`` or ``[Name, {CreatedDate: desc}]`` — into one form, so a spec dumped to
YAML and loaded back is equal to itself.

pydantic v2 does the checking: declarative types with ``Literal`` choices, exact locations
for every error (which :mod:`crmframes.specs.document` turns into ``file:line: path``), and
a dump to plain data. Hand-written dataclass checks would repeat all of that per field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    Strict,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from crmframes.arguments import check_instance
from crmframes.errors import FilterError
from crmframes.filters import Expr, from_dict
from crmframes.frames import Conversion
from crmframes.specs.document import (
    VALIDATING,
    Document,
    dump_yaml,
    parse_yaml,
    raise_first,
    suggest,
    validate_model,
)

__all__ = [
    "Conversion",
    "Count",
    "Duration",
    "FieldList",
    "Filter",
    "Flag",
    "Moment",
    "Name",
    "Names",
    "Number",
    "OptionPart",
    "OrderBy",
    "PositiveInt",
    "Spec",
    "TableName",
    "Text",
    "TimeZone",
    "invalid",
]

_OPTION_NAME = re.compile(r"[A-Za-z0-9_.-]+")  # as AutoIndex checks it (operations/autoindex.py)
_UNITS = (("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))
_SHORT = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_ISO = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")
# Control characters other than tab and line breaks: YAML refuses them written raw, but a
# quoted "\0" escape still makes one, and a NUL in a name or a query truncates it in C code.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f]")


class Spec(BaseModel):
    """Base of every spec: frozen, strict about keys and types, and YAML both ways."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    kind: ClassVar[str] = ""

    def __init__(self, **data: Any) -> None:
        """Build the spec from keyword arguments; a bad one is a one-line ``ConfigError``.

        Pydantic calls this too while it validates (``from_dict``, a spec inside a job):
        there its errors go on to :func:`validate_model`, which places them in the file.
        """
        if VALIDATING.get():
            super().__init__(**data)
            return
        token = VALIDATING.set(True)
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise_first(exc, data, Document(data, f"{type(self).__name__}(...)"))
        finally:
            VALIDATING.reset(token)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            known = list(cls.model_fields)
            for key in data:
                if key not in known:
                    raise PydanticCustomError(
                        "unknown_key",
                        "unknown key '{key}'{hint}",
                        {"key": str(key), "hint": suggest(key, known)},
                    )
        return data

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as plain data (what its YAML holds); defaults are left out."""
        return self.model_dump(mode="json", exclude_defaults=True)

    def to_yaml(self) -> str:
        """Return the spec as YAML; :meth:`from_yaml` of it equals the spec."""
        return dump_yaml(self.to_dict())

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "<dict>") -> Self:
        """Build the spec from plain data.

        Raises:
            ConfigError: one line naming the first bad key or value.
        """
        return validate_model(cls, data, Document(data, source))

    @classmethod
    def from_yaml(cls, text: str, *, source: str = "<string>") -> Self:
        """Build the spec from YAML text (``source`` names it in error messages).

        Raises:
            ConfigError: broken YAML, or a bad key or value, as ``source:line: path: what``.
        """
        check_instance("text", text, str, "YAML text (a str)")
        doc = parse_yaml(text, source)
        return validate_model(cls, doc.data, doc)


def invalid(key: str, message: str) -> PydanticCustomError:
    """Return an error about the value under ``key`` (raised from a model validator)."""
    return PydanticCustomError("invalid", "{message}", {"key": key, "message": message})


# --- scalar types ---------------------------------------------------------------------------


def _printable(value: str) -> str:
    found = _CONTROL.search(value)
    if found is not None:
        raise ValueError(
            f"holds the control character U+{ord(found.group()):04X} at position "
            f"{found.start() + 1}; delete it"
        )
    return value


Name = Annotated[str, Strict(), StringConstraints(min_length=1), AfterValidator(_printable)]
Text = Annotated[str, Strict()]
PositiveInt = Annotated[int, Strict(), Field(gt=0)]
Count = Annotated[int, Strict(), Field(ge=0)]
Flag = Annotated[bool, Strict()]
Number = Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False)]


def _table_name(value: str) -> str:
    # The store keeps its own tables under this prefix, any case, after any underscores
    # (crmframes.store.checks.is_internal); merging into one would corrupt the store.
    if value.startswith("_") and value.lstrip("_").lower().startswith("crmframes_"):
        raise ValueError(
            f"table name {value!r} is reserved for crmframes' own tables; choose another"
        )
    return value


TableName = Annotated[Name, AfterValidator(_table_name)]


def _as_list(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    return list(value) if isinstance(value, tuple) else value


Names = Annotated[list[Name], BeforeValidator(_as_list), Field(min_length=1)]


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r}; use an IANA name such as 'Europe/Paris'"
        ) from None
    return value


TimeZone = Annotated[str, Strict(), AfterValidator(_zone)]


def option_part(value: str) -> str:
    """Check an automatic-index activity or instance name."""
    if not _OPTION_NAME.fullmatch(value):
        raise ValueError(f"{value!r} may only hold letters, digits, '_', '.' and '-'")
    return value


OptionPart = Annotated[str, Strict(), AfterValidator(option_part)]


# --- fields with conversions ----------------------------------------------------------------


def _fields(value: Any) -> Any:
    if value is None or isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        raise ValueError("should be a list of field names, not one string: write [" + value + "]")
    if not isinstance(value, list | tuple):
        raise ValueError("should be a list of field names or a mapping of field: conversion")
    out: dict[Any, Any] = {}
    for item in value:
        if isinstance(item, str):
            name, conversion = item, "default"
        elif isinstance(item, Mapping) and len(item) == 1:
            ((name, conversion),) = item.items()
        elif isinstance(item, list | tuple) and len(item) == 2:
            name, conversion = item
        else:
            raise ValueError(
                f"a field is a name, a name: conversion pair or [name, conversion], not {item!r}"
            )
        if name in out:
            raise ValueError(f"field {name!r} is listed twice")
        out[name] = conversion
    return out


def _dump_fields(value: dict[str, str]) -> Any:
    if all(conversion == "default" for conversion in value.values()):
        return list(value)
    return dict(value)


FieldList = Annotated[
    dict[Name, Conversion],
    BeforeValidator(_fields),
    PlainSerializer(_dump_fields, when_used="json"),
]


# --- order ----------------------------------------------------------------------------------


def _order_by(value: Any) -> Any:
    if value is None:
        return None
    items = [value] if isinstance(value, str | Mapping) else value
    if not isinstance(items, list | tuple):
        raise ValueError("should be a field name or a list of them")
    out: list[tuple[Any, Any]] = []
    for item in items:
        if isinstance(item, str):
            out.append((item, "asc"))
        elif isinstance(item, Mapping) and len(item) == 1:
            out.append(next(iter(item.items())))
        elif isinstance(item, list | tuple) and len(item) == 2:
            out.append((item[0], item[1]))
        else:
            raise ValueError(f"an order is a field, field: asc|desc or [field, desc], not {item!r}")
    return [(name, d.lower() if isinstance(d, str) else d) for name, d in out]


def _dump_order(value: list[tuple[str, str]]) -> list[Any]:
    return [name if direction == "asc" else {name: direction} for name, direction in value]


OrderBy = Annotated[
    list[tuple[Name, Literal["asc", "desc"]]],
    BeforeValidator(_order_by),
    PlainSerializer(_dump_order, when_used="json"),
]


# --- filters --------------------------------------------------------------------------------


def _filter(value: Any) -> Expr:
    if isinstance(value, Expr):
        return value
    if isinstance(value, Mapping | list):
        try:
            return from_dict(value)
        except FilterError as exc:
            raise ValueError(str(exc)) from None
    raise ValueError(
        "a filter is {field, op, value}, {and: [...]}, {or: [...]}, {not: ...} "
        f"or a list of conditions joined by 'and' / 'or', not {value!r}"
    )


def _dump_filter(value: Expr) -> Any:
    return value.to_dict()


Filter = Annotated[Expr, PlainValidator(_filter), PlainSerializer(_dump_filter, when_used="json")]


# --- moments and durations ------------------------------------------------------------------


def _moment(value: Any) -> datetime | date:
    if isinstance(value, date):  # datetime and pandas.Timestamp too
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(
        f"{value!r} is not an ISO date (2024-01-31) or date and time (2024-01-31T10:00:00+00:00)"
    )


def _dump_moment(value: datetime | date) -> str:
    return value.isoformat()


Moment = Annotated[
    datetime | date, PlainValidator(_moment), PlainSerializer(_dump_moment, when_used="json")
]


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        short, iso = _SHORT.fullmatch(text.lower()), _ISO.fullmatch(text.upper())
        match = short if short and text else iso if iso and text != "P" else None
        if match is None:
            raise ValueError(
                f"{value!r} is not a duration: write e.g. 7d, 12h, 1d12h, 30m (or ISO 8601: P7D)"
            )
        seconds = sum(
            int(n) * unit for n, (_, unit) in zip(match.groups(), _UNITS, strict=True) if n
        )
    else:
        raise ValueError(f"a duration is text such as 7d or 12h, not {value!r}")
    if seconds <= 0 or seconds != int(seconds):
        raise ValueError(f"a duration is a positive whole number of seconds, not {value!r}")
    return timedelta(seconds=seconds)


def _dump_duration(value: timedelta) -> str:
    left, parts = int(value.total_seconds()), []
    for label, unit in _UNITS:
        if left >= unit:
            parts.append(f"{left // unit}{label}")
            left %= unit
    return "".join(parts)


Duration = Annotated[
    timedelta, PlainValidator(_duration), PlainSerializer(_dump_duration, when_used="json")
]
