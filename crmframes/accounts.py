"""Find the accounts file, read the secrets its references point to, and connect to an account.

Edge: reads the environment, files and the system keyring (the ``keyring`` package), and
starts the built-in sandbox for sandbox accounts. The accounts file is, in order: the path
given (``crmframes run --accounts FILE``), ``$CRMFRAMES_ACCOUNTS``, or
``$XDG_CONFIG_HOME/crmframes/accounts.yaml`` (``~/.config/crmframes/accounts.yaml``).
Secrets become :class:`~crmframes.Secret` values as late as possible, only to build the
connector's settings; messages name the reference (a variable, a keyring entry), never
the value.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from crmframes import registry
from crmframes.arguments import check_bool, check_instance
from crmframes.errors import ConfigError
from crmframes.settings import Auth, Secret, build_auth
from crmframes.specs.account_file import (
    Account,
    Accounts,
    CrmAccount,
    SandboxAccount,
    SecretRef,
    StoreAccount,
    parse_accounts,
)
from crmframes.specs.document import Document, Loc, format_path

if TYPE_CHECKING:
    from crmframes.connectors.base import Connector
    from crmframes.store import CampaignStore

__all__ = [
    "ACCOUNTS_ENV",
    "account_settings",
    "accounts_path",
    "connect",
    "load_accounts",
    "open_store",
    "resolve_secret",
    "store_url",
]

ACCOUNTS_ENV = "CRMFRAMES_ACCOUNTS"
Place = Callable[[Loc], str]


def accounts_path(
    path: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None
) -> Path:
    """Return the accounts file to read: ``path``, ``$CRMFRAMES_ACCOUNTS`` or the default."""
    env = os.environ if environ is None else environ
    if path is not None:
        return Path(path).expanduser()
    if env.get(ACCOUNTS_ENV):
        return Path(env[ACCOUNTS_ENV]).expanduser()
    base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "crmframes" / "accounts.yaml"


def load_accounts(
    path: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None
) -> Accounts:
    """Read and check the accounts file (see :func:`accounts_path`).

    A missing default file means no accounts; a missing file that was named (``path`` or
    ``$CRMFRAMES_ACCOUNTS``) is an error.

    Raises:
        ConfigError: the named file is missing or unreadable, or an account is invalid
            (``accounts.yaml:7: production.auth.client_secret: ...``).
    """
    env = os.environ if environ is None else environ
    target = accounts_path(path, environ=env)
    try:
        text = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        if path is not None or env.get(ACCOUNTS_ENV):
            raise ConfigError(f"{target}: no such accounts file") from None
        where = f"{target} (missing: create it, set {ACCOUNTS_ENV} or pass --accounts)"
        return Accounts({}, Document({}, where))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{target}: cannot read the accounts file: {exc}") from None
    return parse_accounts(text, str(target))


def resolve_secret(
    ref: SecretRef, place: str = "secret", *, environ: Mapping[str, str] | None = None
) -> Secret:
    """Read the secret a reference points to.

    Args:
        ref: the reference (``{env: ...}``, ``{keyring: ...}`` or ``{file: ...}``).
        place: where the reference was written, for messages (``accounts.yaml:7: prod.auth.password``).
        environ: the environment to read (``os.environ`` by default).

    Raises:
        ConfigError: the variable is unset or empty, the keyring has no such entry or no
            backend, or the file is missing or empty.
    """
    if ref.env is not None:
        env = os.environ if environ is None else environ
        value = env.get(ref.env)
        if not value:
            raise ConfigError(f"{place}: environment variable {ref.env} is not set")
        return Secret(value)
    if ref.keyring is not None:
        service, _, username = ref.keyring.partition(":")
        return Secret(_keyring_password(service, username, place))
    path = Path(str(ref.file)).expanduser()
    try:
        value = path.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        reason = "no such file" if isinstance(exc, FileNotFoundError) else "cannot be read"
        raise ConfigError(f"{place}: secret file {path}: {reason}") from None
    if not value:
        raise ConfigError(f"{place}: secret file {path} is empty")
    return Secret(value)


def account_settings(
    account: CrmAccount,
    *,
    place: Place = format_path,
    environ: Mapping[str, str] | None = None,
) -> Any:
    """Build a CRM account's connection settings, reading its secrets now.

    The settings class is the account's CRM's (:mod:`crmframes.registry`): for the built-in
    CRMs a ``SalesforceSettings`` or a ``DynamicsSettings``.

    Args:
        account: the account.
        place: turns a path inside the account (``("auth", "password")``) into the place
            messages name.
        environ: the environment to read (``os.environ`` by default).

    Raises:
        ConfigError: a secret cannot be read.
    """
    kind = registry.crm_kind(account.crm)
    fields = {
        name: getattr(account, name)
        for name in type(account).model_fields
        if name not in ("crm", "auth")
    }
    return kind.settings(auth=_auth(account, place, environ), **fields)


@contextmanager
def connect(
    account: Account | str,
    *,
    accounts: str | os.PathLike[str] | None = None,
    place: Place = format_path,
    environ: Mapping[str, str] | None = None,
) -> Iterator[Connector]:
    """Connect to an account's CRM for the duration of a ``with`` block.

    A sandbox account starts its sandbox (and lets its users make the changes in
    ``simulate``) and stops it at the end; a CRM account builds its CRM's connector
    (``SalesforceConnector``, ``DynamicsConnector``, or a registered CRM's) from its settings.

    Args:
        account: an account, or the name of one in the accounts file (``"prod"``).
        accounts: the accounts file to find a name in (see :func:`accounts_path`).
        place: turns a path inside the account into the place messages name.
        environ: the environment to read (``os.environ`` by default).

    Raises:
        ConfigError: no account of that name, or a secret cannot be read.
        SandboxError: the sandbox cannot start.

    Examples:
        >>> with connect("prod") as conn:  # doctest: +SKIP
        ...     result = import_from_crm(conn, "Contact", fields=["LastName"], limit=10)
    """
    check_instance(
        "account",
        account,
        (str, CrmAccount, SandboxAccount),
        "an account's name in the accounts file, or an account",
    )
    if isinstance(account, str):
        account = load_accounts(accounts, environ=environ).find(account)
    if isinstance(account, SandboxAccount):
        with _sandbox(account) as sandbox_conn:
            yield sandbox_conn
        return
    settings = account_settings(account, place=place, environ=environ)
    conn: Connector = registry.crm_kind(account.crm).connector(settings)
    try:
        yield conn
    finally:
        conn.close()


def store_url(
    account: StoreAccount,
    *,
    place: Place = format_path,
    environ: Mapping[str, str] | None = None,
) -> str:
    """Return a store entry's URL with its password (read now) in it, for ``CampaignStore``.

    The store masks the password in everything it shows (``path``, reprs, errors, reports).

    Raises:
        ConfigError: the password cannot be read.
    """
    if account.password is None:
        return account.url
    secret = resolve_secret(account.password, place(("store", "password")), environ=environ)
    scheme, rest = account.url.split("://", 1)
    user, at, host = rest.partition("@")
    if not at:
        raise ConfigError(
            f"{place(('store', 'url'))}: a password needs a user in the URL "
            "(postgresql://user@host/database)"
        )
    return f"{scheme}://{user}:{quote(secret.reveal(), safe='')}@{host}"


def open_store(
    store: StoreAccount | str,
    *,
    accounts: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    read_only: bool = False,
) -> CampaignStore:
    """Open the campaign store of an accounts-file ``store:`` entry (PostgreSQL).

    Args:
        store: a store entry, or the name of one in the accounts file (``"campaign-db"``).
        accounts: the accounts file to find a name in (see :func:`accounts_path`).
        environ: the environment to read (``os.environ`` by default).
        read_only: open it read-only.

    Raises:
        ConfigError: no store of that name, or its password cannot be read.
        StoreError: the server refuses the connection (the message never shows the password).

    Examples:
        >>> with open_store("campaign-db") as store:  # doctest: +SKIP
        ...     store.tables()
    """
    from crmframes.store import CampaignStore

    check_instance("store", store, (str, StoreAccount), "a store's name in the accounts file")
    check_bool("read_only", read_only)
    place: Place = format_path
    if isinstance(store, str):
        found = load_accounts(accounts, environ=environ)
        name = store
        store = found.find_store(name)
        place = lambda loc: found.doc.place((name, *loc))  # noqa: E731
    return CampaignStore(store_url(store, place=place, environ=environ), read_only=read_only)


# --- private helpers ------------------------------------------------------------------------


@contextmanager
def _sandbox(account: SandboxAccount) -> Iterator[Connector]:
    from crmframes.sandbox import Clock, Sandbox

    # The simulated users make their changes two seconds in the past: an import's window
    # ends at the whole second it began, so a change made in that second would belong to
    # the next run, and the next run meets a new sandbox.
    clock = Clock(datetime.now(UTC) - timedelta(seconds=2))
    with Sandbox(account.crm, data=account.data, scale=account.scale, clock=clock) as sandbox:
        for name, activity in (account.simulate or {}).items():
            sandbox.simulate_activity(
                name,
                updates=activity.updates,
                creates=activity.creates,
                deletes=activity.deletes,
                seed=activity.seed,
            )
        clock.set(datetime.now(UTC))
        conn = sandbox.connector()
        try:
            yield conn
        finally:
            conn.close()


def _auth(account: CrmAccount, place: Place, environ: Mapping[str, str] | None) -> Auth:
    spec = account.auth
    values: dict[str, str | Secret | None] = {}
    for name in type(spec).model_fields:
        value = getattr(spec, name)
        if isinstance(value, SecretRef):
            value = resolve_secret(value, place(("auth", name)), environ=environ)
        values[name] = value
    return build_auth(spec.flow, values)


def _keyring_password(service: str, username: str, place: str) -> str:
    try:
        import keyring
        from keyring.errors import KeyringError, NoKeyringError
    except ImportError:  # pragma: no cover - a dependency, but installs may be trimmed
        raise ConfigError(f"{place}: reading the keyring needs: pip install keyring") from None
    entry = f"{service}:{username}"
    try:
        value = keyring.get_password(service, username)
    except NoKeyringError:
        raise ConfigError(
            f"{place}: no system keyring is available to read {entry!r}; install a backend "
            "(pip install keyrings.alt, or a desktop keyring) or use {env: VARIABLE}"
        ) from None
    except KeyringError as exc:
        raise ConfigError(
            f"{place}: the keyring could not read {entry!r} ({type(exc).__name__})"
        ) from None
    if value is None:
        raise ConfigError(
            f"{place}: the keyring has no entry {entry!r}; add it with: "
            f"keyring set {service} {username}"
        )
    return value
