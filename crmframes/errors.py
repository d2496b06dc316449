"""The whole crmframes exception tree.

Pure. Every error crmframes raises on purpose derives from :class:`CrmframesError`, and
each one is also the builtin a user would naturally catch (``ValueError`` for bad
arguments, ``KeyError`` for a missing column)::

    CrmframesError
    ├── ConfigError(ValueError)            bad settings, spec or credentials configuration
    │   ├── ArgumentTypeError(TypeError)   an argument of a public call has the wrong type
    │   └── JournalError                   an export journal belongs to another export
    ├── FilterError(ValueError)            a filter breaks a structural rule (names the rule)
    ├── DataError(ValueError)              a frame cannot be used as given
    │   └── ColumnNotFoundError(KeyError)  a named column is not in the frame
    ├── ConnectorError                     a CRM call failed (system, operation, status, retryable)
    │   ├── AuthenticationError            credentials refused or session expired
    │   ├── PermissionDeniedError          authenticated but not allowed
    │   ├── NotFoundError                  object, field or record does not exist
    │   ├── RequestRejectedError           the CRM refused the request as malformed
    │   ├── RateLimitedError               an API limit was hit; carries ``retry_after``
    │   └── UnavailableError               the CRM or the network is down for now
    ├── WriteRejectedError                 a write was rejected with on_error="raise"
    ├── StoreError                         the campaign store failed
    └── SandboxError                       the sandbox could not start or was misused

Third-party errors are translated where they enter (one place per edge), always with
``raise ... from exc`` so the original stays reachable as ``__cause__``.
"""

from __future__ import annotations

from typing import Any, Self

__all__ = [
    "ArgumentTypeError",
    "AuthenticationError",
    "BatchTooLargeError",
    "ColumnNotFoundError",
    "ConfigError",
    "ConnectorError",
    "CrmframesError",
    "DataError",
    "FilterError",
    "JournalError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "RequestRejectedError",
    "SandboxError",
    "SchemaNotFoundError",
    "StoreError",
    "UnavailableError",
    "WriteRejectedError",
]

_PAYLOAD_LIMIT = 500


class CrmframesError(Exception):
    """Root of every error crmframes raises on purpose."""


class ConfigError(CrmframesError, ValueError):
    """Settings, a spec or a credentials configuration are invalid or incomplete."""


class ArgumentTypeError(ConfigError, TypeError):
    """An argument of a public call has the wrong type (also a ``TypeError``, as Python's own)."""


class FilterError(CrmframesError, ValueError):
    """A filter expression breaks one of the filtering rules.

    Attributes:
        rule: short name of the broken rule, e.g. ``"one-operator-per-level"``.
    """

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(f"{message} (rule: {rule})")
        self.rule = rule


class DataError(CrmframesError, ValueError):
    """A DataFrame cannot be used as given (wrong dtype, duplicates in a key, ...)."""


class BatchTooLargeError(DataError):
    """A batch is over what one call or job of the CRM takes: send it in smaller batches."""


class ColumnNotFoundError(DataError, KeyError):
    """A column named in the arguments is not in the frame.

    Attributes:
        column: the missing column.
        available: the columns that do exist.
    """

    def __init__(self, column: str, available: list[str] | tuple[str, ...] = ()) -> None:
        self.column = column
        self.available = list(available)
        shown = ", ".join(map(repr, self.available[:20]))
        more = "" if len(self.available) <= 20 else f", ... ({len(self.available)} in all)"
        message = f"column {column!r} is not in the frame"
        if self.available:
            message += f"; columns are: {shown}{more}"
        super().__init__(message)

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


class ConnectorError(CrmframesError):
    """A call to a CRM failed.

    Attributes:
        system: ``"salesforce"`` or ``"dynamics"``.
        operation: what was being done, e.g. ``"query Contact"``.
        status: the HTTP status, when there was a response.
        code: the CRM's own error code (``"INVALID_FIELD"``, ``"0x80040217"``), if any.
        retryable: whether retrying the same call later may succeed.
        retry_after: seconds the CRM asked to wait before retrying, when it said.
        payload: the response body, truncated to 500 characters.
        outcome_unknown: a write whose connection was lost after it was sent: the CRM may
            or may not have applied it.
    """

    default_retryable = False

    def __init__(
        self,
        message: str,
        *,
        system: str,
        operation: str,
        status: int | None = None,
        code: str | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
        payload: Any = None,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.outcome_unknown = outcome_unknown
        self.system = system
        self.operation = operation
        self.status = status
        self.code = code
        self.retryable = self.default_retryable if retryable is None else retryable
        text = "" if payload is None else str(payload)
        self.payload = text if len(text) <= _PAYLOAD_LIMIT else text[:_PAYLOAD_LIMIT] + "..."

    def reworded(self, message: str) -> Self:
        """The same error (its class, status, code, payload, retry advice) saying ``message``."""
        return type(self)(
            message,
            system=self.system,
            operation=self.operation,
            status=self.status,
            code=self.code,
            retryable=self.retryable,
            retry_after=self.retry_after,
            payload=self.payload,
            outcome_unknown=self.outcome_unknown,
        )

    def __str__(self) -> str:
        where = f"{self.system} {self.operation}"
        status = (
            f" (HTTP {self.status}{', ' + self.code if self.code else ''})" if self.status else ""
        )
        return f"{where}{status}: {self.args[0]}"


class AuthenticationError(ConnectorError):
    """The CRM refused the credentials, or the session expired and could not be renewed."""


class PermissionDeniedError(ConnectorError):
    """The credentials are valid but not allowed to do this."""


class NotFoundError(ConnectorError):
    """The object, field or record does not exist in the CRM."""


class RequestRejectedError(ConnectorError):
    """The CRM refused the request as malformed (bad query, bad body, bad field)."""


class RateLimitedError(ConnectorError):
    """An API limit was hit; ``retry_after`` says how long the CRM asked to wait."""

    default_retryable = True


class UnavailableError(ConnectorError):
    """The CRM or the network is unavailable for now (5xx, dropped connection, timeout)."""

    default_retryable = True


class JournalError(ConfigError):
    """An export journal belongs to another export, or cannot be read."""


class WriteRejectedError(CrmframesError):
    """A write was rejected and ``on_error="raise"`` was asked for.

    Attributes:
        rejects: the reject frame so far (DESIGN §4.1).
    """

    def __init__(self, message: str, rejects: Any = None) -> None:
        super().__init__(message)
        self.rejects = rejects


class StoreError(CrmframesError):
    """The campaign store failed to read or write."""


class SchemaNotFoundError(StoreError):
    """A PostgreSQL store opened read-only names a schema that does not exist (yet)."""


class SandboxError(CrmframesError):
    """The sandbox could not start, or was asked for something it does not do."""
