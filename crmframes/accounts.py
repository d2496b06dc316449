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

from crmframes.arguments import check_instance
from crmframes.errors import ConfigError
from crmframes.settings import (
    AccessToken,
    ClientCredentials,
    DeviceCode,
    DynamicsSettings,
    JwtBearer,
    Password,
    SalesforceSettings,
    Secret,
)
from crmframes.specs.accounts import (
    Account,
    Accounts,
    DynamicsAccount,
    SalesforceAccount,
    SandboxAccount,
    SecretRef,
    parse_accounts,
)
from crmframes.specs.document import Document, Loc, format_path

if TYPE_CHECKING:
    from crmframes.connectors.base import Connector

__all__ = [
    "ACCOUNTS_ENV",
    "account_settings",
    "accounts_path",
    "connect",
    "load_accounts",
    "resolve_secret",
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
    account: SalesforceAccount | DynamicsAccount,
    *,
    place: Place = format_path,
    environ: Mapping[str, str] | None = None,
) -> SalesforceSettings | DynamicsSettings:
    """Build a CRM account's connection settings, reading its secrets now.

    Args:
        account: the account.
        place: turns a path inside the account (``("auth", "password")``) into the place
            messages name.
        environ: the environment to read (``os.environ`` by default).

    Raises:
        ConfigError: a secret cannot be read.
    """
    auth = _auth(account, place, environ)
    if isinstance(account, SalesforceAccount):
        return SalesforceSettings(
            url=account.url,
            auth=auth,  # the account's validator refused device_code
            api_version=account.api_version,
            ca_file=account.ca_file,
            timeout=account.timeout,
        )
    return DynamicsSettings(
        url=account.url,
        tenant_id=account.tenant_id,
        auth=auth,  # the account's validator refused jwt
        authority=account.authority,
        ca_file=account.ca_file,
        timeout=account.timeout,
    )


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
    ``simulate``) and stops it at the end; a CRM account builds a ``SalesforceConnector`` or
    a ``DynamicsConnector`` from its settings.

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
        (str, SalesforceAccount, DynamicsAccount, SandboxAccount),
        "an account's name in the accounts file, or an account",
    )
    if isinstance(account, str):
        account = load_accounts(accounts, environ=environ).find(account)
    if isinstance(account, SandboxAccount):
        with _sandbox(account) as sandbox_conn:
            yield sandbox_conn
        return
    settings = account_settings(account, place=place, environ=environ)
    conn: Connector
    if isinstance(settings, SalesforceSettings):
        from crmframes.connectors.salesforce import SalesforceConnector

        conn = SalesforceConnector(settings)
    else:
        from crmframes.connectors.dynamics import DynamicsConnector

        conn = DynamicsConnector(settings)
    try:
        yield conn
    finally:
        conn.close()


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


def _auth(
    account: SalesforceAccount | DynamicsAccount, place: Place, environ: Mapping[str, str] | None
) -> Any:
    spec = account.auth

    def secret(name: str) -> Secret | None:
        ref = getattr(spec, name)
        if ref is None:
            return None
        return resolve_secret(ref, place(("auth", name)), environ=environ)

    def needed(name: str) -> Secret:
        value = secret(name)
        if value is None:  # pragma: no cover - AuthSpec already refused it
            raise ConfigError(f"{place(('auth',))}: flow {spec.flow!r} needs {name}")
        return value

    client_id = spec.client_id or ""
    if spec.flow == "client_credentials":
        return ClientCredentials(client_id=client_id, client_secret=needed("client_secret"))
    if spec.flow == "password":
        return Password(
            username=spec.username or "",
            password=needed("password"),
            client_id=client_id,
            client_secret=secret("client_secret"),
            security_token=secret("security_token"),
        )
    if spec.flow == "jwt":
        extra = {"audience": spec.audience} if spec.audience else {}
        return JwtBearer(
            client_id=client_id,
            username=spec.username or "",
            private_key=needed("private_key"),
            **extra,
        )
    if spec.flow == "access_token":
        return AccessToken(token=needed("token"))
    return DeviceCode(client_id=client_id)


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
