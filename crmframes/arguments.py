"""Check the arguments of public calls: types, shapes and ranges, before any I/O.

Pure, apart from one look at the disk: whether a path names a folder. Every public
function of crmframes calls these helpers in its first lines, so a wrong argument fails
at once with a :class:`~crmframes.errors.CrmframesError` that names the argument and what
was expected, before a CRM is called or a store is touched: a wrong type is an
:class:`~crmframes.errors.ArgumentTypeError` (also a ``TypeError``), a value out of its
set or range a :class:`~crmframes.errors.ConfigError`, a frame that cannot be used as
given a :class:`~crmframes.errors.DataError`.

Examples:
    >>> check_int("batch_size", 200, min=1)
    200
    >>> check_names("key", "Id")
    ['Id']
    >>> check_literal("mode", "bulk", ("auto", "batch", "bulk"))
    'bulk'
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from crmframes.errors import ArgumentTypeError, ConfigError, DataError

if TYPE_CHECKING:
    from crmframes.connectors.base import Connector

__all__ = [
    "INT64_RANGE",
    "check_bool",
    "check_connector",
    "check_frame",
    "check_instance",
    "check_int",
    "check_journal",
    "check_literal",
    "check_match_options",
    "check_names",
    "check_number",
    "check_optional_str",
    "check_order_by",
    "check_path",
    "check_rules",
    "check_stored_values",
    "check_str",
    "check_time_zone",
    "check_write_arguments",
    "is_encodable",
]

INT64_RANGE = (-(2**63), 2**63 - 1)  # what a 64-bit integer column (Arrow, DuckDB, JSON) holds


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: Any) -> str:
    return f"{type(value).__name__} {_shown(value)}"


def is_encodable(text: str) -> bool:
    r"""Whether ``text`` can be sent as UTF-8 (no lone surrogate such as ``'\ud800'``).

    Examples:
        >>> is_encodable("Zoë"), is_encodable("x\ud800")
        (True, False)
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_instance(name: str, value: Any, types: type | tuple[type, ...], expected: str) -> Any:
    """Return ``value`` when it is an instance of ``types``.

    Raises:
        ArgumentTypeError: it is not; the message names ``name`` and ``expected``.
    """
    if not isinstance(value, types):
        raise ArgumentTypeError(f"{name} must be {expected}, not {_kind(value)}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` when it is ``True`` or ``False`` (a NumPy bool too).

    Raises:
        ArgumentTypeError: anything else: ``"no"`` or ``0`` would read as a choice the
            caller may not have meant.
    """
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise ArgumentTypeError(f"{name} must be True or False, not {_kind(value)}")


def check_int(name: str, value: Any, *, min: int | None = None, max: int | None = None) -> int:
    """Return ``value`` as an int when it is a whole number (not a bool) within bounds.

    Raises:
        ArgumentTypeError: not an int (``True``, ``2.0`` and ``"3"`` are refused).
        ConfigError: below ``min`` or above ``max``.
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise ArgumentTypeError(f"{name} must be a whole number (int), not {_kind(value)}")
    number = int(value)
    if (min is not None and number < min) or (max is not None and number > max):
        low = "" if min is None else f"at least {min:,}"
        high = "" if max is None else f"at most {max:,}"
        bounds = " and ".join(b for b in (low, high) if b)
        raise ConfigError(f"{name} must be {bounds}, not {number:,}")
    return number


def check_number(
    name: str,
    value: Any,
    *,
    min: float | None = None,
    max: float | None = None,
) -> float:
    """Return ``value`` as a float when it is a finite number (not a bool) within bounds.

    Raises:
        ArgumentTypeError: not a number.
        ConfigError: NaN, infinite, or out of bounds.
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        raise ArgumentTypeError(f"{name} must be a number, not {_kind(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ConfigError(f"{name} must be a finite number, not {_shown(value)}")
    if (min is not None and number < min) or (max is not None and number > max):
        low = "" if min is None else f"at least {min:g}"
        high = "" if max is None else f"at most {max:g}"
        bounds = " and ".join(b for b in (low, high) if b)
        raise ConfigError(f"{name} must be {bounds}, not {_shown(value)}")
    return number


def check_literal(name: str, value: Any, choices: Sequence[str]) -> str:
    """Return ``value`` when it is one of ``choices``.

    Raises:
        ConfigError: it is not (the message lists the choices).
    """
    if not isinstance(value, str) or value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise ConfigError(f"{name} must be one of {listed}, not {_shown(value)}")
    return value


def check_str(name: str, value: Any, *, what: str = "a non-empty string") -> str:
    """Return ``value`` when it is a non-empty string that can be sent as UTF-8.

    Raises:
        ArgumentTypeError: not a string.
        ConfigError: empty, blank, or holding a lone surrogate or a NUL character.
    """
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{name} must be {what}, not {_kind(value)}")
    if not value.strip():
        raise ConfigError(f"{name} must be {what}, not {_shown(value)}")
    if "\x00" in value or not is_encodable(value):
        raise ConfigError(
            f"{name} holds a character that cannot be sent (NUL or a lone surrogate): "
            f"{_shown(value)}"
        )
    return value


def check_optional_str(name: str, value: Any, *, what: str = "a non-empty string") -> str | None:
    """Return ``value`` when it is None or passes :func:`check_str`."""
    return None if value is None else check_str(name, value, what=f"None or {what}")


def check_names(name: str, value: Any, *, empty: bool = False) -> list[str]:
    """Return column names given as one name or a list of names.

    Raises:
        ArgumentTypeError: not a string nor a list / tuple of strings.
        ConfigError: an empty list (unless ``empty``), a blank name, or a name given twice.
    """
    items: list[Any]
    if isinstance(value, str):
        items = [value]
    elif isinstance(value, list | tuple | pd.Index):
        items = list(value)
    else:
        raise ArgumentTypeError(
            f"{name} must be a column name or a list of names, not {_kind(value)}"
        )
    names = [check_str(f"{name}[{i}]", item, what="a column name") for i, item in enumerate(items)]
    if not names and not empty:
        raise ConfigError(f"{name} must name at least one column")
    if len(set(names)) != len(names):
        raise ConfigError(f"{name} names a column twice: {names}")
    return names


def check_path(name: str, value: Any, *, directory_ok: bool = False) -> Path:
    """Return ``value`` as a path when it is a ``str`` or ``os.PathLike`` naming no folder.

    Raises:
        ArgumentTypeError: not a path.
        ConfigError: empty, or an existing folder where a file is wanted.
    """
    if not isinstance(value, str | os.PathLike):
        raise ArgumentTypeError(f"{name} must be a file path, not {_kind(value)}")
    text = os.fspath(value)
    if not isinstance(text, str) or not text.strip() or "\x00" in text:
        raise ConfigError(f"{name} must be a file path, not {_shown(value)}")
    try:
        os.fsencode(text)
    except UnicodeEncodeError:
        raise ConfigError(
            f"{name} holds characters no file name can have: {_shown(value)}"
        ) from None
    path = Path(text)
    if not directory_ok and path.is_dir():
        raise ConfigError(f"{name} {text!r} is a folder; give the path of a file in it")
    return path


def check_connector(conn: Any, name: str = "conn") -> Connector:
    """Return ``conn`` when it is a :class:`~crmframes.connectors.base.Connector`.

    Structural: any object with every member the protocol declares is one (the two CRMs'
    connectors, ``sandbox.connector()``, a connector of one's own).

    Raises:
        ArgumentTypeError: anything else, e.g. settings passed where a connector is wanted.
    """
    # here, not at the top: the connectors' package imports this module
    from crmframes.connectors.base import Connector

    if not isinstance(conn, Connector):
        raise ArgumentTypeError(
            f"{name} must be a connector (SalesforceConnector, DynamicsConnector or "
            f"sandbox.connector()), not {type(conn).__name__}"
        )
    return conn


def check_journal(value: Any, name: str = "journal") -> Any:
    """Return an export's ``journal=`` when it is None, False, a file path or a store.

    Raises:
        ArgumentTypeError: another type (``True`` included).
        ConfigError: a path naming a folder.
    """
    # here, not at the top: the store's package imports this module
    from crmframes.store.protocols import JournalStore

    if value is None or value is False:
        return value
    if isinstance(value, JournalStore):
        return value  # a CampaignStore: the journal goes in a folder beside it
    if value is True or not isinstance(value, str | os.PathLike):
        raise ArgumentTypeError(
            f"{name} must be None (the default file), False (none), a file path or a "
            f"CampaignStore, not {_kind(value)}"
        )
    check_path(name, value)
    return value


def check_time_zone(name: str, value: Any) -> str:
    """Return ``value`` when it names an IANA time zone (``"Europe/Paris"``, ``"UTC"``).

    Raises:
        ArgumentTypeError: not a string.
        ConfigError: no such zone.
    """
    text = check_str(name, value, what="an IANA time zone name such as 'Europe/Paris'")
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"unknown time zone {value!r} for {name}: give an IANA name such as "
            "'Europe/Paris' or 'UTC'"
        ) from None
    return text


def check_frame(df: Any, name: str = "df") -> pd.DataFrame:
    """Return ``df`` when it is a frame whose columns are distinct, flat strings.

    Raises:
        ArgumentTypeError: not a pandas DataFrame.
        DataError: MultiIndex columns, a column label that is not a string, or a label
            given twice (``df[label]`` would then be a frame, not a column).

    Examples:
        >>> check_frame(pd.DataFrame({"Id": ["1"]})).columns.tolist()
        ['Id']
    """
    if not isinstance(df, pd.DataFrame):
        raise ArgumentTypeError(f"{name} must be a pandas DataFrame, not {type(df).__name__}")
    columns = df.columns
    if isinstance(columns, pd.MultiIndex):
        raise DataError(
            f"{name} has MultiIndex columns; flatten them first, e.g. "
            f"{name}.columns = ['_'.join(map(str, c)) for c in {name}.columns]"
        )
    labels = columns.tolist()
    odd = [c for c in labels if not isinstance(c, str)]
    if odd:
        raise DataError(
            f"{name}'s column labels must be strings, not {_shown(odd[:5])}; rename them, "
            f"e.g. {name}.columns = {name}.columns.astype(str)"
        )
    bad = [c for c in labels if "\x00" in c or not is_encodable(c)]
    if bad:
        raise DataError(f"{name} has column labels that cannot be sent: {_shown(bad[:5])}")
    if columns.has_duplicates:
        twice = sorted({c for c in labels if labels.count(c) > 1})
        raise DataError(
            f"{name} has duplicated column names {twice}; rename or drop one, e.g. "
            f"{name}.loc[:, ~{name}.columns.duplicated()]"
        )
    return df


def check_stored_values(df: pd.DataFrame, name: str = "df") -> None:
    """Refuse values a store cannot hold: lone surrogates, integers past 64 bits, sparse columns.

    Only columns of Python objects are read (``object`` dtype, or strings kept as Python
    objects): Arrow-backed and NumPy columns cannot hold such values.

    Raises:
        DataError: naming the column and the first bad row.
    """
    for column in df.columns:
        series = df[column]
        dtype = series.dtype
        if isinstance(dtype, pd.SparseDtype):  # Arrow has no sparse arrays
            raise DataError(
                f"{name}[{column!r}] is sparse, which the store cannot hold; make it dense, "
                f"e.g. {name}[{column!r}] = {name}[{column!r}].sparse.to_dense()"
            )
        python_strings = isinstance(dtype, pd.StringDtype) and dtype.storage == "python"
        if not pd.api.types.is_object_dtype(dtype) and not python_strings:
            continue
        for position, value in enumerate(series.tolist()):
            problem = _stored_value_problem(value)
            if problem:
                raise DataError(
                    f"{name}[{column!r}] row {position}: {problem}; fix or drop the value first"
                )


def _stored_value_problem(value: Any) -> str | None:
    if isinstance(value, list | tuple | set | frozenset | dict):  # Arrow stores them nested
        items = [*value.keys(), *value.values()] if isinstance(value, dict) else list(value)
        return next((p for p in map(_stored_value_problem, items) if p), None)
    if isinstance(value, str) and not is_encodable(value):
        return f"{_shown(value)} holds a lone surrogate, which is no text UTF-8 can carry"
    if isinstance(value, int) and not isinstance(value, bool):
        low, high = INT64_RANGE
        if not low <= value <= high:
            return f"{_shown(value)} is past the 64-bit integer range"
    return None


def check_write_arguments(
    *,
    conn: Any,
    object: Any,
    df: Any,
    key: Any,
    journal: Any,
    batch_size: Any,
    mode: Any,
    on_error: Any,
    max_retries: Any,
    progress: Any,
    mapping: Any = None,
    dry_run: Any = False,
    only_changed: Any = False,
    skip_nulls: Any = False,
    timezone: Any = "UTC",
    sleep: Any = None,
    **others: Any,
) -> None:
    """Check the arguments of ``export_to_crm`` and ``delete_in_crm``, before any call.

    Called with ``**locals()`` first thing, so that every argument is checked under its
    own name (``others``: arguments added later, which their function checks itself). The upper bound of ``batch_size`` depends on the CRM and the operation: the
    write checks it once the operation is known; ``mapping``'s shape is checked where it
    is read (:func:`crmframes.writes.plan_writes`).
    """
    check_connector(conn)
    check_str("object", object, what="an object's API name")
    check_frame(df)
    check_optional_str("key", key, what="a column name")
    check_journal(journal)
    if batch_size is not None:
        check_int("batch_size", batch_size, min=1)
    check_literal("mode", mode, ("auto", "batch", "bulk"))
    check_literal("on_error", on_error, ("reject", "raise"))
    check_int("max_retries", max_retries, min=0, max=100)
    for name, flag in (
        ("progress", progress),
        ("dry_run", dry_run),
        ("only_changed", only_changed),
        ("skip_nulls", skip_nulls),
    ):
        check_bool(name, flag)
    check_time_zone("timezone", timezone)
    if sleep is not None and not callable(sleep):
        raise ArgumentTypeError(f"sleep must be None or a function of seconds, not {_kind(sleep)}")


def check_match_options(
    *, on: Any, fuzzy: Any, normalizers: Any, threshold: Any, max_pairs: Any
) -> None:
    """Check what ``find_duplicates``, ``deduplicate`` and ``CampaignStore.dedupe`` share.

    The rules are checked for their shape here, and against the frame by the matching.
    """
    if on is not None:
        check_rules("on", on)
    if fuzzy is not None:
        check_names("fuzzy", fuzzy)
    if normalizers is not None:
        check_instance("normalizers", normalizers, Mapping, "a dict {column: normaliser}")
        for column in normalizers:
            check_str("normalizers key", column, what="a column name")
    check_number("threshold", threshold)
    check_int("max_pairs", max_pairs)  # its range: checked (and worded) by the matching


def check_rules(name: str, value: Any) -> None:
    """Check match rules: a column, a list of columns, or a list of such lists.

    Raises:
        ArgumentTypeError: another shape (a number, a dict, a rule holding a number).
    """
    if isinstance(value, str):
        check_str(name, value, what="a column name")
        return
    if not isinstance(value, list | tuple):
        raise ArgumentTypeError(
            f"{name} must be a column, a list of columns or a list of rules, not {_kind(value)}"
        )
    for i, rule in enumerate(value):
        if isinstance(rule, list | tuple):
            check_names(f"{name}[{i}]", rule, empty=True)
        else:
            check_str(f"{name}[{i}]", rule, what="a column name or a list of them")


def check_order_by(name: str, value: Any) -> None:
    """Check an order: a column, or a list of columns and ``(column, "asc"|"desc")`` pairs.

    Raises:
        ArgumentTypeError: another shape.
        ConfigError: a direction other than ``"asc"`` or ``"desc"``.
    """
    if value is None:
        return
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ArgumentTypeError(
            f"{name} must be a column or a list of columns / (column, 'asc'|'desc') pairs, "
            f"not {_kind(value)}"
        )
    for i, item in enumerate(items):
        if isinstance(item, str):
            check_str(f"{name}[{i}]", item, what="a column name")
        elif isinstance(item, list | tuple) and len(item) == 2:
            check_str(f"{name}[{i}]", item[0], what="a column name")
            if item[1] not in ("asc", "desc"):
                raise ConfigError(
                    f"the direction of {item[0]!r} must be 'asc' or 'desc', not {item[1]!r}"
                )
        else:
            raise ArgumentTypeError(
                f"{name}[{i}] must be a column or a (column, 'asc'|'desc') pair, not {item!r}"
            )
