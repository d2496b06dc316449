"""Which CRMs crmframes knows, by name: what settings, accounts, the CLI and the sandbox need.

Pure: names and the callables each CRM package registers; nothing here opens a socket or a
file. A CRM is two packages, ``crmframes/connectors/<crm>/`` (settings, auth flows, the
connector, its query compiler) and ``crmframes/sandbox/<crm>/`` (its emulation). Each is
described once by a :class:`CrmKind`; the accounts file, :func:`crmframes.connect`, the
sandbox service, the CLI and the specs look it up here instead of naming each CRM. The two
built-in CRMs are loaded on first use (so importing the registry imports no connector), a
third one is added with :func:`register` from outside the package::

    register(CrmKind(name="memory", label="Memory CRM", settings=MemorySettings,
                     account=MemoryAccount, flows={"access_token": Flow(("token",))},
                     connector=MemoryConnector, sandbox="my_crm.sandbox:SUPPORT"))
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from crmframes.errors import ConfigError
from crmframes.settings import Auth, Flow

__all__ = [
    "CrmKind",
    "SandboxSupport",
    "crm_kind",
    "crm_names",
    "kind_of_settings",
    "register",
    "sandbox_support",
    "unregister",
]

# name -> the module whose KIND describes it, imported on first use
_BUILT_IN = {
    "salesforce": "crmframes.connectors.salesforce.kind",
    "dynamics": "crmframes.connectors.dynamics.kind",
}
_KINDS: dict[str, CrmKind] = {}


class SandboxSupport(Protocol):
    """What the sandbox service needs of one CRM's emulation (``crmframes/sandbox/<crm>/``)."""

    session_seconds: int  # how long an access token lives unless Sandbox(session_seconds=) says
    # the production profile's figures (a crmframes.sandbox.Profile), or None: it has none
    production: Any
    # how its org refuses a request over a service limit (crmframes.sandbox.profile.ServiceLimits),
    # or None: it has none, and the production profile models its time only
    limits: Any

    def build(
        self, *, clock: Any, faults: Any, options: Mapping[str, Any], counter: Any, profile: Any
    ) -> tuple[Any, Callable[[Any], None]]:
        """Return the protocol app (the server's ``App``) and a loader of the demo org."""

    def settings(self, app: Any, *, url: str, ca_file: str, auth: Auth) -> Any:
        """The connection settings of the served org, signing in with ``auth``."""

    def auth_values(self, app: Any, flow: str, *, url: str, ca_file: str) -> dict[str, Any]:
        """The values :func:`~crmframes.settings.build_auth` needs for ``flow``.

        Raises:
            ValueError: the CRM has no such flow.
        """

    def connector_options(self, flow: str) -> dict[str, Any]:
        """Options the sandbox passes to the connector for ``flow`` (a device-code prompt)."""

    def records(
        self, app: Any, object_name: str, *, include_deleted: bool
    ) -> tuple[list[list[Any]], list[str]]:
        """The org's own rows of an object, as wire values, and their column names."""


@dataclass(frozen=True, kw_only=True)
class CrmKind:
    """One CRM as the rest of crmframes sees it.

    Attributes:
        name: the name users write (``crm: salesforce`` in an accounts file, ``Sandbox("salesforce")``).
        label: the name people read (``Salesforce``).
        settings: the settings class: frozen, keyword-only, built as
            ``settings(auth=..., **fields)`` where the fields are the account model's
            (less ``crm`` and ``auth``); it has ``from_env()`` and ``to_env()``.
        account: the accounts-file model (a :class:`~crmframes.specs.account_file.CrmAccount`
            whose ``crm`` is ``Literal[name]``).
        flows: the auth flows it takes (:class:`~crmframes.settings.Flow`), by name.
        connector: builds a connector from settings: ``connector(settings, **options)``.
        sandbox: its emulation: a :class:`SandboxSupport`, or ``"module:attribute"`` naming
            one, imported only when a sandbox of this CRM starts; None when it has none.
        probe: the object and field every org of this CRM has, which ``crmframes check``
            reads one record of (None: that check reads nothing).
        for_now_symbols: the ``errorSymbol`` values of its rejects that failed only for now
            (the CRM down, an API limit): a job step with ``retry:`` sends those rows again
            after its wait (:mod:`crmframes.runner.handling`). CRM-neutral ones (a lost
            connection, HTTP 429 / 503) are the runner's own.
    """

    name: str
    label: str
    settings: type[Any]
    account: type[Any]
    flows: Mapping[str, Flow]
    connector: Callable[..., Any]  # returns a Connector
    sandbox: SandboxSupport | str | None = None
    probe: tuple[str, str] | None = None
    for_now_symbols: frozenset[str] = frozenset()


def register(kind: CrmKind, *, replace: bool = False) -> None:
    """Make ``kind`` known by its name.

    Raises:
        ValueError: a CRM of that name is known already (pass ``replace=True``).
    """
    if not replace and (kind.name in _KINDS or kind.name in _BUILT_IN):
        raise ValueError(f"a CRM named {kind.name!r} is registered already")
    _KINDS[kind.name] = kind


def unregister(name: str) -> None:
    """Forget a CRM added with :func:`register` (tests register one for a while)."""
    _KINDS.pop(name, None)


def crm_names() -> tuple[str, ...]:
    """The names of the known CRMs: the built-in ones first, then those registered."""
    return (*_BUILT_IN, *(name for name in _KINDS if name not in _BUILT_IN))


def crm_kind(name: str) -> CrmKind:
    """The CRM called ``name``.

    Raises:
        ConfigError: no CRM of that name (the message lists the known ones).
    """
    if name not in _KINDS and name in _BUILT_IN:
        _KINDS[name] = importlib.import_module(_BUILT_IN[name]).KIND
    if name not in _KINDS:
        known = ", ".join(map(repr, crm_names()))
        raise ConfigError(f"unknown CRM {name!r}; crmframes knows {known}")
    return _KINDS[name]


def kind_of_settings(settings: object) -> CrmKind:
    """The CRM whose settings class ``settings`` is an instance of.

    Raises:
        ConfigError: no known CRM has settings of this type.
    """
    for kind in _all():
        if isinstance(settings, kind.settings):
            return kind
    raise ConfigError(
        f"{type(settings).__name__} are not the settings of a known CRM ({', '.join(crm_names())})"
    )


def sandbox_support(name: str) -> SandboxSupport:
    """The emulation of the CRM called ``name``, imported now if it was named by a string.

    Raises:
        ConfigError: an unknown CRM, or one without a sandbox.
    """
    kind = crm_kind(name)
    if kind.sandbox is None:
        raise ConfigError(f"{kind.label} has no sandbox")
    if isinstance(kind.sandbox, str):
        module, _, attribute = kind.sandbox.partition(":")
        support: SandboxSupport = getattr(importlib.import_module(module), attribute)
        return support
    return kind.sandbox


def _all() -> Iterator[CrmKind]:
    for name in crm_names():
        yield crm_kind(name)
