"""Salesforce record ids: key prefixes, the 18-character case-safe suffix, and id factories.

Edge helper of the Salesforce sandbox (pure functions). An id is 15 case-sensitive
characters (3-character key prefix, pod, reserved digit, 9-character counter) plus a
3-character checksum that encodes which of the 15 are upper case
(reference/salesforce-api.md §4).
"""

from __future__ import annotations

import itertools
import re
import threading

__all__ = ["IdFactory", "is_salesforce_id", "normalize_id", "to_18"]

_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_RE = re.compile(r"[A-Za-z0-9]{15}(?:[A-Z0-5]{3})?")
POD = "Rs"


_UPPER_BITS = str.maketrans({c: "1" if "A" <= c <= "Z" else "0" for c in _BASE62})
_PAIRS = [a + b for a in _BASE62 for b in _BASE62]  # two base-62 digits, for fast encoding


def _suffix(id15: str) -> str:
    # Bit i of each 5-character group is set when character i is upper case (reference §4).
    bits = id15.translate(_UPPER_BITS)
    return "".join(
        _SUFFIX_ALPHABET[int(bits[g + 4 : g - 1 if g else None : -1], 2)] for g in (0, 5, 10)
    )


def to_18(record_id: str) -> str:
    """Return the 18-character form of a 15- or 18-character id.

    Examples:
        >>> to_18("001D000000IqhSL")
        '001D000000IqhSLIAZ'
        >>> to_18("003Rs000000ABCD")
        '003Rs000000ABCDIA4'
    """
    return record_id if len(record_id) == 18 else record_id + _suffix(record_id)


def is_salesforce_id(value: object) -> bool:
    """Whether ``value`` is a well-formed 15- or 18-character id (checksum checked)."""
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        return False
    return len(value) == 15 or _suffix(value[:15]) == value[15:]


def normalize_id(value: object) -> str | None:
    """Return the 18-character id, or None when ``value`` is not a well-formed id."""
    if not is_salesforce_id(value):
        return None
    assert isinstance(value, str)
    return to_18(value)


def _base62_9(n: int) -> str:
    n, d4 = divmod(n, 3844)
    n, d3 = divmod(n, 3844)
    n, d2 = divmod(n, 3844)
    n, d1 = divmod(n, 3844)
    return _BASE62[n % 62] + _PAIRS[d1] + _PAIRS[d2] + _PAIRS[d3] + _PAIRS[d4]


class IdFactory:
    """Issues ids for one key prefix from a counter (thread-safe, deterministic).

    Examples:
        >>> factory = IdFactory("003")
        >>> factory.next(), factory.next()
        ('003Rs0000000001IAA', '003Rs0000000002IAA')
    """

    def __init__(self, key_prefix: str, start: int = 1) -> None:
        if len(key_prefix) != 3:
            raise ValueError("a key prefix has 3 characters")
        self.key_prefix = key_prefix
        self._counter = itertools.count(start)
        self._lock = threading.Lock()

    def next(self) -> str:
        """Return a new 18-character id."""
        with self._lock:
            n = next(self._counter)
        return self.make(n)

    def make(self, n: int) -> str:
        """Return the id with counter value ``n`` (for deterministic demo records)."""
        return to_18(f"{self.key_prefix}{POD}0{_base62_9(n)}")
