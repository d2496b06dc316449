"""Read YAML text with the line of every key, and turn bad values into one-line errors naming the place.

Pure: PyYAML's safe loader on a string and pydantic's error records; no files. A place reads
``job.yaml:12: steps[2].export.mapping``: the source, the line where the value (or its
parent, for a missing key) was written, and the path of keys and list positions to it.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from crmframes.errors import ConfigError

__all__ = [
    "VALIDATING",
    "Document",
    "Loc",
    "dump_yaml",
    "format_path",
    "parse_yaml",
    "suggest",
    "validate_model",
]

Loc = tuple[str | int, ...]
VALIDATING: ContextVar[bool] = ContextVar("crmframes_spec_validating", default=False)
ModelT = TypeVar("ModelT", bound=BaseModel)

_MAX_NODES = 200_000  # aliases can make a small file a huge tree; lines past this are not kept
_MERGE_TAG = "tag:yaml.org,2002:merge"
_BOOL_TAG = "tag:yaml.org,2002:bool"
# What YAML forbids in a document (PyYAML's Reader.NON_PRINTABLE: YAML 1.1 §5.1): control
# characters other than tab and line breaks, lone surrogates, U+FFFE and U+FFFF.
_FORBIDDEN = yaml.reader.Reader.NON_PRINTABLE
_UNPRINTED = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # control characters, line breaks included


class _Loader(yaml.SafeLoader):
    """The safe loader with YAML 1.2's booleans: only true and false.

    YAML 1.1 also reads on, off, yes and no as booleans, which would turn a dedupe step's
    ``on:`` key into ``True`` (and the country code NO into False).
    """


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@dataclass(frozen=True)
class Document:
    """Data loaded from YAML (or given as a dict), with the line each key was written on.

    Attributes:
        data: the plain data (dicts, lists, scalars).
        source: a name for messages: the file name, ``"<string>"`` or ``"<dict>"``.
        lines: 1-based line of each path that was written in the text.
    """

    data: Any
    source: str = "<dict>"
    lines: Mapping[Loc, int] = field(default_factory=dict)

    def line(self, loc: Loc) -> int | None:
        """Return the line of ``loc``, or of its nearest parent that has one."""
        for end in range(len(loc), -1, -1):
            part = loc[:end]
            found = self.lines.get(part)
            if found is None:  # a key given as a number in the text is a string here
                found = self.lines.get(tuple(str(p) if not isinstance(p, int) else p for p in part))
            if found is not None:
                return found
        return None

    def place(self, loc: Loc) -> str:
        """Return ``source:line: path`` for messages (``source: path`` without a line)."""
        line = self.line(loc)
        where = self.source if line is None else f"{self.source}:{line}"
        path = format_path(loc)
        return f"{where}: {path}" if path else where

    def error(self, loc: Loc, message: str) -> ConfigError:
        """Return the one-line error ``place: message``."""
        return ConfigError(f"{self.place(loc)}: {message}")


def format_path(loc: Iterable[str | int]) -> str:
    """Write a path as keys and positions.

    Examples:
        >>> format_path(("steps", 2, "export", "mapping"))
        'steps[2].export.mapping'
    """
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + _shown(str(part))
    return out


def _shown(key: str) -> str:
    """A key as text that prints on one line: forbidden and control characters escaped."""
    return _UNPRINTED.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), key)


def suggest(word: object, choices: Iterable[str]) -> str:
    """Return `` (did you mean 'x'?)`` for the closest choice, or an empty string.

    Examples:
        >>> suggest("mapings", ["mapping", "key"])
        " (did you mean 'mapping'?)"
    """
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_yaml(text: str, source: str = "<string>") -> Document:
    """Load YAML text with the safe loader, keeping the line of every key and list item.

    Booleans are YAML 1.2's: ``true`` and ``false`` only (``on``, ``yes``, ``no`` are text).

    Raises:
        ConfigError: broken YAML or a key written twice in one mapping, as
            ``source:line:column: ...``; a character YAML forbids (NUL, another control
            character) as ``source:line: path: ...`` naming the key it was written in. The
            offending line's text is never quoted: it may hold a secret.
    """
    bad = _FORBIDDEN.search(text)
    if bad is not None:
        raise _forbidden_character(text, bad.start(), source)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Loc, int] = {(): 1}
        if node is None:
            return Document(None, source, lines)
        _walk(node, (), lines, source, [0])
        lines[()] = node.start_mark.line + 1
        return Document(loader.construct_document(node), source, lines)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "cannot be read"
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise ConfigError(f"{where}: broken YAML: {problem}") from None
    except yaml.YAMLError as exc:  # ReaderError: a character YAML does not allow
        reason = getattr(exc, "reason", None) or type(exc).__name__
        position = getattr(exc, "position", None)
        at = "" if position is None else f" at character {position}"
        raise ConfigError(f"{source}: broken YAML: {reason}{at}") from None
    finally:
        loader.dispose()


def dump_yaml(data: Any) -> str:
    """Write plain data as block YAML, keys in their given order.

    Text is written as it reads (accents and all) unless a character would not read back
    the same (PyYAML writes U+0085 and U+2028 raw, and reads them as line breaks); then
    every non-ASCII character is escaped.
    """
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
    if yaml.load(text, Loader=_Loader) == data:
        return text
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=False, default_flow_style=False)


def validate_model(
    model: type[ModelT],
    data: Any,
    doc: Document,
    prefix: Loc = (),
    *,
    hide_input: Callable[[Loc], bool] | None = None,
) -> ModelT:
    """Validate ``data`` (found at ``prefix`` in ``doc``) as ``model``, or fail naming the place.

    Raises:
        ConfigError: one line, ``place: what is wrong``, for the first problem found.
    """
    token = VALIDATING.set(True)  # specs built inside keep pydantic's errors, placed below
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise_first(exc, data, doc, prefix, hide_input=hide_input)
    finally:
        VALIDATING.reset(token)


def raise_first(
    exc: ValidationError,
    data: Any,
    doc: Document,
    prefix: Loc = (),
    *,
    hide_input: Callable[[Loc], bool] | None = None,
) -> NoReturn:
    """Raise the first problem of a pydantic error as a one-line :class:`ConfigError`."""
    errors = exc.errors(include_url=False)
    paths = [_real_path(tuple(e["loc"]), data) for e in errors]
    # A value that fits no member of a union fails once per member: report the member
    # that got furthest (the deepest place), or all of them when they stop at one place.
    within = [i for i, path in enumerate(paths) if path[: len(paths[0])] == paths[0]]
    chosen = max(within, key=lambda i: len(paths[i]))
    first, loc = errors[chosen], paths[chosen]
    alike = [e for e, path in zip(errors, paths, strict=True) if path == loc]
    ctx = first.get("ctx") or {}
    kind = first["type"]
    if kind == "missing":
        message = f"missing required key {loc[-1]!r}"
        loc = loc[:-1]
    elif "key" in ctx and kind in ("unknown_key", "invalid"):
        loc = (*loc, ctx["key"])
        message = first["msg"]
    else:
        messages = list(dict.fromkeys(_message(e) for e in alike))
        message = " or ".join(messages)
        shown = hide_input is not None and hide_input(prefix + loc)
        if not shown and kind not in ("value_error", "assertion_error", "invalid"):
            message += f", not {_describe(first.get('input'))}"
    raise ConfigError(f"{doc.place(prefix + loc)}: {message}") from None


# --- private helpers ------------------------------------------------------------------------


def _forbidden_character(text: str, position: int, source: str) -> ConfigError:
    """The one-line error for a character YAML forbids, at the key it was written under.

    PyYAML refuses the whole text before reading a line of it, so the place is found by
    reading the text with every forbidden character replaced by a letter: the key or list
    item written last before the character is the one it belongs to.
    """
    char = text[position]
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1)
    kind = {"Cc": "control character", "Cs": "lone surrogate"}.get(
        unicodedata.category(char), "character"
    )
    loc: Loc = ()
    try:
        marks: list[tuple[int, int, Loc]] = []
        node = yaml.compose(_FORBIDDEN.sub("x", text), Loader=_Loader)
        if node is not None:
            _marks(node, (), marks)
        before = [m for m in marks if (m[0], m[1]) <= (line, column)]
        loc = max(before, key=lambda m: (m[0], m[1]))[2] if before else ()
    except yaml.YAMLError:
        pass  # the place stays the line alone
    path = format_path(loc)
    where = f"{source}:{line}: {path}" if path else f"{source}:{line}"
    return ConfigError(
        f"{where}: {kind} U+{ord(char):04X} at column {column + 1} is not allowed in YAML; "
        "delete it (it often comes from copying text out of another program)"
    )


def _marks(node: yaml.Node, loc: Loc, out: list[tuple[int, int, Loc]]) -> None:
    """Collect (line, column, path) of every key and list item under ``node``."""
    if len(out) > _MAX_NODES or len(loc) > 64:
        return
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            part = (*loc, key_node.value)
            out.append((key_node.start_mark.line + 1, key_node.start_mark.column, part))
            _marks(value_node, part, out)
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            part = (*loc, position)
            out.append((item.start_mark.line + 1, item.start_mark.column, part))
            _marks(item, part, out)


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], source: str, count: list[int]) -> None:
    count[0] += 1
    if count[0] > _MAX_NODES or len(loc) > 64:
        return
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                path = format_path((*loc, key))
                raise ConfigError(f"{source}:{line}: {path}: key {key!r} is written twice")
            seen.add(key)
            lines.setdefault((*loc, key), line)
            _walk(value_node, (*loc, key), lines, source, count)
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            lines.setdefault((*loc, position), item.start_mark.line + 1)
            _walk(item, (*loc, position), lines, source, count)


def _real_path(loc: Loc, data: Any) -> Loc:
    """Drop the parts of a pydantic location that name union members, not keys of the data."""
    out: list[str | int] = []
    current = data
    for position, part in enumerate(loc):
        last = position == len(loc) - 1
        if _holds(current, part):
            out.append(part)
            current = current[part]
        elif isinstance(current, BaseModel) and isinstance(part, str) and hasattr(current, part):
            out.append(part)
            current = getattr(current, part)
        elif last and isinstance(current, Mapping) and not _is_member_tag(str(part)):
            out.append(part)  # a missing key
        elif isinstance(part, str) and not _is_member_tag(part):
            out.append(part)
            current = None
    return tuple(out)


def _holds(data: Any, part: str | int) -> bool:
    if isinstance(data, Mapping):
        return part in data
    return isinstance(data, list | tuple) and isinstance(part, int) and 0 <= part < len(data)


def _is_member_tag(part: str) -> bool:
    # pydantic names union members by their type: 'str', 'literal[False]', 'list[str]', ...
    return (
        "[" in part
        or "-" in part
        or part in {"str", "int", "float", "bool", "none", "dict", "list"}
    )


def _message(error: Mapping[str, Any]) -> str:
    kind, msg = error["type"], str(error["msg"])
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "should be a mapping (key: value lines)"
    if kind == "list_type":
        return "should be a list"
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind == "assertion_error":
        return msg.removeprefix("Assertion failed, ")
    if msg.startswith("Input should be"):
        return "should be" + msg.removeprefix("Input should be")
    return msg[:1].lower() + msg[1:]


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
