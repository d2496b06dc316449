"""Turn what a form's click raised into plain messages, each tied to the control it concerns.

Presentation. A spec's validation error comes from pydantic wrapped in its boilerplate
(``1 validation error for ImportSpec``, ``Value error,``, ``[type=value_error, ...]`` and a
URL); the form shows only the sentence crmframes wrote, next to the control it is about,
in red. :func:`about` ties an error raised while a control's value is read (a filter
value, a mapping) to that control.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import ValidationError

from crmframes import display
from crmframes.errors import ConfigError

__all__ = ["FieldProblem", "Problem", "about", "error_html", "problems_of"]

Problem = tuple[str | None, str]
"""Where a problem is (a spec path such as ``auto_index.activity``, or None) and what it is."""

_BOILERPLATE = re.compile(r"^(?:Value error|Assertion failed|Assertion error),\s*")
_SPEC_PREFIX = re.compile(r"^[A-Za-z]+Spec\(\.\.\.\):\s*")
_PATH = re.compile(r"^([a-z_][\w.]*):\s+(.+)$", re.DOTALL)
_RED = "color:#b71c1c"


class FieldProblem(ConfigError):
    """A value of a form's control that is wrong; ``field`` names the control."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@contextmanager
def about(field: str) -> Iterator[None]:
    """Tie a :class:`~crmframes.ConfigError` raised inside to the control ``field``."""
    try:
        yield
    except FieldProblem:
        raise
    except ConfigError as exc:
        raise FieldProblem(field, " ".join(str(exc).split())) from exc


def problems_of(exc: BaseException) -> list[Problem]:
    """Return each problem ``exc`` reports, in plain words, with the spec path it concerns.

    Examples:
        >>> problems_of(FieldProblem("lookback", "not a duration"))
        [('lookback', 'not a duration')]
        >>> problems_of(ConfigError("DeletedSpec(...): lookback: not a duration"))
        [(None, 'DeletedSpec(...): lookback: not a duration')]
    """
    if isinstance(exc, FieldProblem):
        return [(exc.field, str(exc))]
    if not isinstance(exc, ValidationError):
        return [(None, " ".join(str(exc).split()))]
    problems: list[Problem] = []
    for error in exc.errors(include_url=False):
        cause = (error.get("ctx") or {}).get("error")
        text = " ".join(str(cause if cause is not None else error["msg"]).split())
        text = _SPEC_PREFIX.sub("", _BOILERPLATE.sub("", text))
        path = ".".join(str(part) for part in error["loc"]) or None
        found = _PATH.match(text)
        if path is None and found:  # crmframes' own checks name the path in the sentence
            path, text = found.group(1), found.group(2)
        problems.append((path, text))
    return problems


def error_html(text: str) -> str:
    """Return ``text`` as the red line shown beside a control (empty text: nothing)."""
    return f"<span style='{_RED}'>{display.escape(text)}</span>" if text else ""
