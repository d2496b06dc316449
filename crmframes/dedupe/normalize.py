"""Normalise match columns so that equal people get equal keys: emails, phones, names, dates.

Pure: pandas and the standard library. A normaliser takes a column (a Series) and returns a
Series of the same length whose equal values mean "the same"; a null means "no value" and
never matches anything. The built-in ones, by name:

============  ==================================================================================
``email``     trimmed, lower case, spaces and a ``mailto:`` prefix removed; null without ``@``
``phone``     the national number's digits: separators, an extension, a ``(0)``, the country
              code (after ``+`` or ``00``) and a trunk ``0`` dropped; the last 9 digits kept;
              null under 6 digits. ``+44 (0)117 704 1390`` and ``0117 704 1390`` meet.
``name``      accents removed (NFKD, and ``ł ø ß æ ı ...``), case folded, apostrophes and dots
              dropped, hyphens as spaces, whitespace collapsed: ``" O'Brien-Núñez"`` ->
              ``"obrien nunez"``
``first_name`` ``name``, then a nickname with one formal name becomes it (``Bill`` ->
              ``william``; :mod:`crmframes.dedupe.nicknames`)
``text``      trimmed, case folded (Unicode NFKC), whitespace collapsed; accents kept
``date``      the calendar day: timestamps keep their own zone's day; strings in ISO 8601's
              extended (``1990-05-17``) or basic (``19900517``) form, a time may follow
``date_dmy``  ``date``, and day-first strings too: ``17/05/1990``, ``17.05.1990``, ``17-05-1990``
``date_mdy``  ``date``, and month-first strings too: ``05/17/1990``
``exact``     the value as it is
============  ==================================================================================

Every built-in except ``exact`` treats an empty or blank string as null. When no normaliser
is given for a column, :func:`infer_normalizer` picks one from its name and dtype. A value
that is not blank but that a normaliser cannot read (an email without ``@``, a phone of three
digits, ``31/02/1990``) becomes null too: :func:`count_unreadable` counts them, so that
:func:`~crmframes.dedupe.find_duplicates` can report them instead of silently matching less.

Longer than 500 lines: the built-in normalisers, one short function per kind of value, and the
registry that names them (the table above).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Mapping
from types import MappingProxyType
from typing import Final, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from crmframes.dedupe.nicknames import nickname_map
from crmframes.errors import ConfigError

__all__ = [
    "NORMALIZERS",
    "Normalizer",
    "NormalizerName",
    "count_unreadable",
    "day_month_dates",
    "encode",
    "infer_normalizer",
    "normalize_date",
    "normalize_date_dmy",
    "normalize_date_mdy",
    "normalize_email",
    "normalize_exact",
    "normalize_first_name",
    "normalize_name",
    "normalize_phone",
    "normalize_text",
    "resolve_normalizer",
]

Normalizer = Callable[[pd.Series], pd.Series]
NormalizerName = Literal[
    "email", "phone", "name", "first_name", "text", "date", "date_dmy", "date_mdy", "exact"
]

# Letters NFKD does not decompose into a base letter and a combining mark (lower case).
_SPECIAL: Final = {
    "ß": "ss", "ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ı": "i", "þ": "th", "ð": "d"
}  # fmt: skip
_DROPPED: Final = "['’`´.]"  # O'Brien = OBrien, J.R. = JR
_SPACED: Final = "[-‐‑–—_,/]"  # Jean-Luc = Jean Luc
# Whitespace spelled out: RE2's \s (Arrow's regex engine) knows ASCII spaces only.
_SPACES: Final = "[ \t\n\r\f\v\u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]"
# ITU-T E.164 country codes of two digits; 1 and 7 have one, all others three.
_TWO_DIGIT_CODES: Final = np.array([
    20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55,
    56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98,
])  # fmt: skip
_PHONE_KEPT_DIGITS: Final = 9  # a national number's last 9 digits: formats differ before them
_PHONE_MIN_DIGITS: Final = 6
_EXTENSION: Final = "(?i)[ \t]*(?:ext\\.?|extension|x|#)[ \t]*[0-9]{1,6}[ \t]*$"
# ISO 8601 calendar dates, extended (1990-05-17) or basic (19900517), a time may follow.
_ISO_DATE: Final = r"^(\d{4})-(\d{2})-(\d{2})(?:$|[T ])|^(\d{4})(\d{2})(\d{2})(?:$|T)"
# Day and month in either order, then a four-digit year: 17/05/1990, 5.17.1990, 17-05-1990.
_DAY_MONTH: Final = r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})(?:$|[T ])"
# What people type for "no value": not a value a normaliser failed to read.
_MISSING_MARKERS: Final = frozenset(
    {"n/a", "na", "n.a.", "none", "null", "nil", "nan", "-", "--", "?", "unknown", "tbd", "x"}
)


def normalize_email(series: pd.Series) -> pd.Series:
    """Normalise email addresses: trimmed, lower case, no spaces; null when there is no ``@``.

    Examples:
        >>> normalize_email(pd.Series([" John.Smith@ACME.com", "mailto:a@b.org", "n/a"])).tolist()
        ['john.smith@acme.com', 'a@b.org', nan]
    """
    text = pc.replace_substring_regex(pc.utf8_lower(_arrow(series)), _SPACES, "")
    text = pc.utf8_trim(pc.replace_substring_regex(text, "^mailto:", ""), "<>")
    return _series(pc.if_else(pc.match_substring(text, "@"), text, None), series.index)


def normalize_phone(series: pd.Series) -> pd.Series:
    """Normalise phone numbers to the last digits of the national number.

    Examples:
        >>> normalize_phone(
        ...     pd.Series(["+44 (0)117 704 1390", "0117 704 1390", "(415) 555-0132 ext. 12"])
        ... ).tolist()
        ['177041390', '177041390', '155550132']
    """
    text = pc.replace_substring_regex(_arrow(series), _EXTENSION, "")
    text = pc.utf8_trim_whitespace(pc.replace_substring(text, "(0)", ""))
    zeros = _flags(pc.starts_with(text, "00"))
    international = zeros | _flags(pc.starts_with(text, "+"))
    return _series(_national(_digits(text), international, zeros), series.index)


def normalize_name(series: pd.Series) -> pd.Series:
    """Normalise personal or company names: no accents, case folded, whitespace collapsed.

    Examples:
        >>> normalize_name(pd.Series(["  José  GARCÍA", "O'Brien-Núñez", "Łukasz Müller"])).tolist()
        ['jose garcia', 'obrien nunez', 'lukasz muller']
    """
    return _per_unique(series, _fold_name)


def normalize_first_name(series: pd.Series) -> pd.Series:
    """Normalise given names like :func:`normalize_name`, then map nicknames to formal names.

    Examples:
        >>> normalize_first_name(pd.Series(["Bill", "WILLIAM", "Chris", "Pepe"])).tolist()
        ['william', 'william', 'chris', 'jose']
    """

    def fold(names: pa.Array) -> pa.Array:
        folded = _fold_name(names).to_pylist()
        return pa.array([_NICKNAMES.get(name, name) for name in folded], pa.large_string())

    return _per_unique(series, fold)


def normalize_text(series: pd.Series) -> pd.Series:
    """Normalise free text: Unicode NFKC, lower case (ß as ss), whitespace collapsed.

    Examples:
        >>> normalize_text(pd.Series([" Main  Street ", "MAIN STREET", "Straße"])).tolist()
        ['main street', 'main street', 'strasse']
    """
    return _per_unique(series, _fold_text)


def normalize_date(series: pd.Series) -> pd.Series:
    """Normalise dates and timestamps to the calendar day; unreadable strings become null.

    Strings are read in ISO 8601's extended or basic form; a day-first or month-first
    string (``17/05/1990``) is null here: declare its order with ``date_dmy`` or
    ``date_mdy`` (:func:`~crmframes.dedupe.find_duplicates` asks when it sees one).

    Examples:
        >>> normalize_date(pd.Series(["1990-05-17", "19900517T2310Z", "17/05/1990"])).tolist()
        [Timestamp('1990-05-17 00:00:00'), Timestamp('1990-05-17 00:00:00'), NaT]
    """
    return _read_dates(series, None)


def normalize_date_dmy(series: pd.Series) -> pd.Series:
    """Normalise dates like :func:`normalize_date`, reading ``17/05/1990`` as day first.

    Examples:
        >>> days = normalize_date_dmy(pd.Series(["17/05/1990", "17.5.1990", "19900517"]))
        >>> days.astype("str").tolist()
        ['1990-05-17', '1990-05-17', '1990-05-17']
    """
    return _read_dates(series, "dmy")


def normalize_date_mdy(series: pd.Series) -> pd.Series:
    """Normalise dates like :func:`normalize_date`, reading ``05/17/1990`` as month first.

    Examples:
        >>> days = normalize_date_mdy(pd.Series(["05/17/1990", "5-17-1990", "1990-05-17"]))
        >>> days.astype("str").tolist()
        ['1990-05-17', '1990-05-17', '1990-05-17']
    """
    return _read_dates(series, "mdy")


def day_month_dates(series: pd.Series) -> tuple[int, list[str], str | None]:
    """Count the strings of a column written day and month first in an undeclared order.

    Returns:
        How many values look like ``17/05/1990`` or ``05/17/1990``, up to three examples,
        and the order the values prove (``"dmy"`` when a first number is over 12,
        ``"mdy"`` when a second one is, None when none or both are).

    Examples:
        >>> day_month_dates(pd.Series(["17/05/1990", "03/04/1990", "1990-01-01"]))
        (2, ['17/05/1990', '03/04/1990'], 'dmy')
    """
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return 0, [], None
    codes, uniques = encode(_text(series))
    values = pd.Series(_uniques_as_text(uniques), dtype="str")
    parts = values.str.extract(_DAY_MONTH)
    found = parts[0].notna().to_numpy()
    if not found.any():
        return 0, [], None
    count = int(np.isin(codes, np.flatnonzero(found)).sum())
    first = parts.loc[found, 0].astype(int)
    second = parts.loc[found, 1].astype(int)
    orders = [o for o, proof in (("dmy", first > 12), ("mdy", second > 12)) if proof.any()]
    return count, values[found].head(3).tolist(), orders[0] if len(orders) == 1 else None


def normalize_exact(series: pd.Series) -> pd.Series:
    """Return the column unchanged: values must be equal as they are.

    Examples:
        >>> normalize_exact(pd.Series([1, 2])).tolist()
        [1, 2]
    """
    return series


NORMALIZERS: Final[Mapping[str, Normalizer]] = MappingProxyType(
    {
        "email": normalize_email,
        "phone": normalize_phone,
        "name": normalize_name,
        "first_name": normalize_first_name,
        "text": normalize_text,
        "date": normalize_date,
        "date_dmy": normalize_date_dmy,
        "date_mdy": normalize_date_mdy,
        "exact": normalize_exact,
    }
)

_FIRST_NAMES: Final = frozenset({"firstname", "givenname", "forename", "first", "preferredname"})


def infer_normalizer(column: Hashable, series: pd.Series) -> NormalizerName:
    """Pick the built-in normaliser for a column from its name, then its dtype.

    The name is compared lower case with non-letters removed, so ``EmailAddress``,
    ``emailaddress1`` and ``email_address`` read alike: ``email`` when it contains "email";
    ``phone`` when it contains "phone", "mobile", "fax" or starts with "tel"; ``first_name``
    for first/given names (``FirstName``, ``firstname``, ``first_name``, ``GivenName``);
    ``name`` when it ends in "name"; ``date`` for a datetime dtype or a name containing
    "date" or "birth" (or ``dob``); ``text`` for other strings; ``exact`` for everything else.

    Examples:
        >>> s = pd.Series(["x"])
        >>> [infer_normalizer(c, s) for c in ("emailaddress1", "MobilePhone", "FirstName")]
        ['email', 'phone', 'first_name']
        >>> [infer_normalizer(c, s) for c in ("LastName", "Birthdate", "City")]
        ['name', 'date', 'text']
    """
    name = re.sub(r"[^a-z]", "", str(column).lower())
    if "email" in name:
        return "email"
    if any(part in name for part in ("phone", "mobile", "fax")) or name.startswith("tel"):
        return "phone"
    if name in _FIRST_NAMES:
        return "first_name"
    if name.endswith("name"):
        return "name"
    if pd.api.types.is_datetime64_any_dtype(series.dtype) or _is_date_name(name):
        return "date"
    if pd.api.types.is_string_dtype(series.dtype) or series.dtype == object:
        return "text"
    return "exact"


def count_unreadable(raw: pd.Series, normalised: pd.Series) -> tuple[int, int, list[str]]:
    """Count the values a normaliser turned into null although they were not blank.

    Blank strings and what people type for "no value" (``n/a``, ``none``, ``-``, ...) are
    not counted: they were empty before.

    Returns:
        The count, the number of values that were not blank, and up to three examples.

    Examples:
        >>> raw = pd.Series(["ann@x.org", "ann at x", "n/a", None])
        >>> count_unreadable(raw, normalize_email(raw))
        (1, 2, ['ann at x'])
    """
    if len(raw) == 0:
        return 0, 0, []
    codes, uniques = encode(_text(raw))
    texts = _uniques_as_text(uniques)
    real = np.array([t.lower() not in _MISSING_MARKERS for t in texts] + [False])[codes]
    lost = real & np.asarray(normalised.isna(), dtype=bool)
    if not lost.any():
        return 0, int(real.sum()), []
    examples = pd.unique(np.array(texts, dtype=object)[codes[lost]])[:3]
    return int(lost.sum()), int(real.sum()), [str(e) for e in examples]


def encode(values: pd.Series) -> tuple[np.ndarray, pa.Array | pd.Index]:
    """Return integer codes of equal values (-1 for null) and the distinct values, by code.

    Arrow-backed text is dictionary-encoded by Arrow and a categorical column reuses its
    codes, which is several times faster than ``pd.factorize`` on a million strings.

    Examples:
        >>> codes, uniques = encode(pd.Series(["b", None, "a", "b"], dtype="str"))
        >>> codes.tolist(), uniques.to_pylist()
        ([0, -1, 1, 0], ['b', 'a'])
        >>> encode(pd.Series([3, 1, 3]))[0].tolist()
        [0, 1, 0]
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(dtype=np.int64), values.cat.categories
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        array = pa.array(values.array)
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        encoded = pc.dictionary_encode(array)
        codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
        return codes.astype(np.int64), encoded.dictionary
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64), pd.Index(uniques)


def resolve_normalizer(
    column: Hashable, series: pd.Series, given: str | Normalizer | None
) -> tuple[str, Normalizer]:
    """Return ``(name, function)`` for a column: the given one, or the inferred one.

    A callable is named after its ``__name__`` (``"custom"`` for a lambda).

    Raises:
        ConfigError: ``given`` is a string that names no built-in normaliser.
        TypeError: ``given`` is neither a string, a callable nor None.
    """
    if given is None:
        name = infer_normalizer(column, series)
        return name, NORMALIZERS[name]
    if isinstance(given, str):
        if given not in NORMALIZERS:
            raise ConfigError(
                f"unknown normaliser {given!r} for column {column!r}; built-in ones are: "
                f"{', '.join(NORMALIZERS)} (or pass a function Series -> Series)"
            )
        return given, NORMALIZERS[given]
    if callable(given):
        label = getattr(given, "__name__", "custom")
        return ("custom" if label == "<lambda>" else label), given
    raise TypeError(
        f"the normaliser for column {column!r} must be a name or a function, "
        f"not {type(given).__name__}"
    )


# --- helpers ---------------------------------------------------------------------------------

_NICKNAMES: Final = nickname_map()


def _text(series: pd.Series) -> pd.Series:
    """The column as strings, trimmed; blank strings and missing values are null."""
    if pd.api.types.is_float_dtype(series.dtype):  # 4155550132.0 (a CSV column with nulls)
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        known = values[~np.isnan(values)]
        if np.array_equal(known, np.floor(known)) and np.all(np.abs(known) < 2**53):
            series = series.astype("Int64")
    text = series if pd.api.types.is_string_dtype(series.dtype) else series.astype("str")
    text = text.astype("str").str.strip()
    return text.where(text != "")


def _is_date_name(name: str) -> bool:
    return "date" in name or "birth" in name or name == "dob" or name.endswith("dob")


def _uniques_as_text(uniques: pa.Array | pd.Index) -> list[str]:
    values = uniques.to_pylist() if isinstance(uniques, pa.Array) else uniques.tolist()
    return [str(v) for v in values]


def _read_dates(series: pd.Series, order: Literal["dmy", "mdy"] | None) -> pd.Series:
    """The calendar day of each value: ISO strings, and day-month strings in ``order``."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_localize(None).dt.floor("D")
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series.dt.floor("D")
    # a date-only string is a day in no zone: read the text's own day, not its UTC one;
    # distinct values only (birthdates repeat), then back to the rows by code
    codes, uniques = encode(_text(series))
    values = pd.Series(_uniques_as_text(uniques), dtype="str")
    iso = values.str.extract(_ISO_DATE)
    year = iso[0].fillna(iso[3])
    month = iso[1].fillna(iso[4])
    day = iso[2].fillna(iso[5])
    if order is not None:
        other = values.str.extract(_DAY_MONTH)
        first, second = (other[0], other[1]) if order == "dmy" else (other[1], other[0])
        year = year.fillna(other[2])
        month = month.fillna(second.str.zfill(2))
        day = day.fillna(first.str.zfill(2))
    text = year + "-" + month + "-" + day
    days = pd.to_datetime(text, errors="coerce", format="%Y-%m-%d").to_numpy()
    result = np.append(days, np.datetime64("NaT", "ns"))[codes]
    return pd.Series(result, index=series.index, dtype="datetime64[ns]")


def _arrow(series: pd.Series) -> pa.Array:
    """The column as an Arrow string array, trimmed, blanks as nulls."""
    array = pa.array(_text(series).array)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _series(text: pa.Array, index: pd.Index) -> pd.Series:
    """Back to a pandas string column; an empty string is null."""
    result = pd.Series(pd.array(text, dtype="str"), index=index)
    return result.where(result != "")


def _per_unique(series: pd.Series, fold: Callable[[pa.Array], pa.Array]) -> pd.Series:
    """Fold each distinct value once (names and cities repeat a lot): a categorical column."""
    codes, uniques = encode(_text(series))
    distinct = uniques if isinstance(uniques, pa.Array) else pa.array(uniques.tolist())
    folded = fold(distinct.cast(pa.large_string()))
    blank = pc.fill_null(pc.equal(folded, ""), True)
    folded_codes, categories = encode(pd.Series(pd.array(folded, dtype="str")))
    folded_codes = np.where(np.asarray(blank), -1, folded_codes)
    final = np.append(folded_codes, -1)[codes]  # a null (code -1) takes the appended -1
    names = pd.Index(pd.array(categories, dtype="str"))
    return pd.Series(pd.Categorical.from_codes(final, categories=names), index=series.index)


def _fold_name(names: pa.Array) -> pa.Array:
    text = pc.utf8_normalize(names, form="NFKD")
    text = pc.utf8_lower(pc.replace_substring_regex(text, r"\p{Mn}+", ""))
    for letter, plain in _SPECIAL.items():
        text = pc.replace_substring(text, letter, plain)
    text = pc.replace_substring_regex(text, _DROPPED, "")
    return _collapse(pc.replace_substring_regex(text, _SPACED, " "))


def _fold_text(text: pa.Array) -> pa.Array:
    folded = pc.utf8_lower(pc.utf8_normalize(text, form="NFKC"))
    return _collapse(pc.replace_substring(folded, "ß", "ss"))


def _collapse(text: pa.Array) -> pa.Array:
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(text, _SPACES + "+", " "))


def _digits(text: pa.Array) -> pa.Array:
    """Keep the ASCII digits of each string, on the raw UTF-8 bytes (no regex needed)."""
    text = text.cast(pa.large_string())
    if text.offset:  # a slice: rebase so the buffers start at the first value
        text = pc.take(text, pa.array(np.arange(len(text))))
    validity, offsets, data = text.buffers()
    ends = np.frombuffer(offsets, dtype=np.int64)[: len(text) + 1]
    raw = np.frombuffer(data, dtype=np.uint8)[: ends[-1]] if data else np.empty(0, np.uint8)
    digit = (raw >= ord("0")) & (raw <= ord("9"))  # UTF-8 continuation bytes are >= 0x80
    kept = np.concatenate([[0], np.cumsum(digit, dtype=np.int64)])[ends]
    return pa.LargeStringArray.from_buffers(
        len(text), pa.py_buffer(kept), pa.py_buffer(raw[digit].tobytes()), validity
    )


def _flags(mask: pa.Array) -> np.ndarray:
    """An Arrow boolean array as numpy, null as False."""
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def _national(digits: pa.Array, international: np.ndarray, zeros: np.ndarray) -> pa.Array:
    """The last digits of each national number, on the digits' raw buffers.

    Drops the ``00`` prefix and the country code of international numbers (its length
    read from its first digits), then one trunk ``0``; a number with fewer than
    ``_PHONE_MIN_DIGITS`` digits left is null.
    """
    n = len(digits)
    _, offsets, data = digits.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int64)[: n + 1]
    raw = np.frombuffer(data, dtype=np.uint8) if data else np.empty(0, np.uint8)
    start, end = bounds[:-1], bounds[1:]

    def digit(at: np.ndarray) -> np.ndarray:  # the digit at ``at``, or -1 past the end
        out = np.full(n, -1, dtype=np.int64)
        inside = at < end
        out[inside] = raw[at[inside]].astype(np.int64) - ord("0")
        return out

    code = start + np.where(zeros, 2, 0)
    first, second = digit(code), digit(code + 1)
    one = np.isin(first, (1, 7))
    two = (second >= 0) & np.isin(first * 10 + second, _TWO_DIGIT_CODES)
    national = np.where(
        international, np.minimum(code + np.where(one, 1, np.where(two, 2, 3)), end), start
    )
    national = national + (digit(national) == 0)  # a trunk 0 (Italy keeps it abroad too)
    valid = _flags(digits.is_valid()) & (end - national >= _PHONE_MIN_DIGITS)
    keep = np.maximum(national, end - _PHONE_KEPT_DIGITS)
    lengths = np.where(valid, end - keep, 0)
    ends = np.concatenate([[0], np.cumsum(lengths)])
    gather = np.repeat(keep - ends[:-1], lengths) + np.arange(ends[-1])
    return pa.LargeStringArray.from_buffers(
        n,
        pa.py_buffer(ends),
        pa.py_buffer(raw[gather].tobytes()),
        pa.py_buffer(np.packbits(valid, bitorder="little").tobytes()),
        n - int(valid.sum()),
    )
