"""External accounts: the CRMs a job can connect to, with secrets held only by reference.

Pure: parses the accounts file's text; resolving the references (environment, keyring,
files) and connecting happen in :mod:`crmframes.accounts`. Each CRM's entry is its own model
(``SalesforceAccount`` in ``crmframes/connectors/salesforce/settings.py`` ...), a
:class:`CrmAccount` found by the ``crm`` key through :mod:`crmframes.registry`. An accounts
file maps names to accounts::

    production:
      crm: salesforce
      url: https://acme.my.salesforce.com
      auth:
        flow: client_credentials
        client_id: 3MVG9...
        client_secret: {env: ACME_SF_SECRET}
    dataverse:
      crm: dynamics
      url: https://acme.crm4.dynamics.com
      tenant_id: acme.onmicrosoft.com
      auth:
        flow: password
        client_id: 51f81489-12ee-4a9e-aaae-a2591f45987d
        username: sync@acme.com
        password: {keyring: "crmframes:sync@acme.com"}
    offline:
      sandbox: {crm: dynamics, data: demo, scale: 1}
    campaign-db:
      store:
        url: postgresql://sync@db.acme.com:5432/marketing?schema=crmframes
        password: {env: CAMPAIGN_DB_PASSWORD}

A ``store:`` entry is a campaign store on PostgreSQL (its password by reference, never in the
URL): ``crmframes.open_store("campaign-db")`` opens it, and a job names it as
``store: account:campaign-db``.

A secret (``client_secret``, ``password``, ``security_token``, ``private_key``, ``token``)
is ``{env: VARIABLE}``, ``{keyring: "service:username"}`` or ``{file: path}``; written in
clear it is an error naming its place, and the message never repeats it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, Strict, field_validator, model_validator

from crmframes import registry
from crmframes.errors import ConfigError
from crmframes.specs.document import Document, Loc, parse_yaml, suggest, validate_model
from crmframes.specs.fields import Count, Name, Number, Spec, invalid

__all__ = [
    "SECRET_FIELDS",
    "Account",
    "Accounts",
    "AuthSpec",
    "CrmAccount",
    "SandboxAccount",
    "SandboxActivity",
    "SecretRef",
    "StoreAccount",
    "Url",
    "account_to_dict",
    "parse_account",
    "parse_accounts",
]

Flow = Literal["client_credentials", "password", "jwt", "access_token", "device_code"]
SECRET_FIELDS = ("client_secret", "password", "security_token", "private_key", "token")
# flow -> (keys it needs, keys it may have)
_FLOW_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "client_credentials": (("client_id", "client_secret"), ()),
    "password": (("client_id", "username", "password"), ("client_secret", "security_token")),
    "jwt": (("client_id", "username", "private_key"), ("audience",)),
    "access_token": (("token",), ()),
    "device_code": (("client_id",), ()),
}
_LITERAL_SECRET = (
    "a secret cannot be written in the file: write {env: VARIABLE}, "
    "{keyring: 'service:username'} or {file: path}"
)


class SecretRef(Spec):
    """Where a secret is read from: exactly one of an environment variable, the keyring, a file.

    Attributes:
        env: the environment variable holding it.
        keyring: ``"service:username"`` of a system keyring entry.
        file: a file holding it (trailing newlines dropped), e.g. a private key.
    """

    env: Name | None = None
    keyring: Name | None = None
    file: Name | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_literal(cls, data: Any) -> Any:
        if not isinstance(data, Mapping | SecretRef):
            raise ValueError(_LITERAL_SECRET)  # never repeat the value: it may be the secret
        return data

    @model_validator(mode="after")
    def _one_origin(self) -> Self:
        given = [name for name in ("env", "keyring", "file") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("a secret reference is exactly one of env, keyring or file")
        if self.keyring is not None and ":" not in self.keyring.strip(":"):
            raise invalid("keyring", "a keyring entry is written 'service:username'")
        return self

    def __str__(self) -> str:
        if self.env is not None:
            return f"environment variable {self.env}"
        if self.keyring is not None:
            return f"keyring entry {self.keyring!r}"
        return f"file {self.file}"


class AuthSpec(Spec):
    """How to sign in: the flow and its settings (secrets by reference)."""

    flow: Flow = "client_credentials"
    client_id: Name | None = None
    client_secret: SecretRef | None = None
    username: Name | None = None
    password: SecretRef | None = None
    security_token: SecretRef | None = None
    private_key: SecretRef | None = None
    audience: Name | None = None
    token: SecretRef | None = None

    @model_validator(mode="after")
    def _flow_keys(self) -> Self:
        needs, may = _FLOW_KEYS[self.flow]
        for name in needs:
            if getattr(self, name) is None:
                raise ValueError(f"flow {self.flow!r} needs {name}")
        for name in type(self).model_fields:
            if name != "flow" and name not in needs + may and getattr(self, name) is not None:
                raise invalid(name, f"{name} is not used by flow {self.flow!r}")
        return self


def _https(value: str) -> str:
    if not value.startswith("https://"):
        raise ValueError(f"should start with https:// (got {value!r}); CRMs only speak HTTPS")
    return value.rstrip("/")


Url = Annotated[Name, AfterValidator(_https)]


class CrmAccount(Spec):
    """What every CRM's accounts-file entry holds; each CRM's model adds its own fields.

    The fields besides ``crm`` and ``auth`` are its settings class's, under the same names
    (see :class:`crmframes.registry.CrmKind`).
    """

    crm: Name
    url: Url
    auth: AuthSpec
    ca_file: Name | None = None
    timeout: Number = 120.0

    @model_validator(mode="after")
    def _flow(self) -> Self:
        flows = registry.crm_kind(self.crm).flows
        if self.auth.flow not in flows:
            raise invalid(
                "auth", f"{self.crm} has no {self.auth.flow} flow; use {', '.join(flows)}"
            )
        return self


class SandboxActivity(Spec):
    """What the sandbox's users change in one object before the job runs."""

    updates: Count = 0
    creates: Count = 0
    deletes: Count = 0
    seed: Annotated[int, Strict()] | None = None


class SandboxAccount(Spec):
    """The built-in offline sandbox, started for the job and thrown away after it.

    Attributes:
        crm: which CRM it emulates.
        data: ``demo`` (the demo org) or ``empty``.
        scale: multiplies the demo org's record counts.
        simulate: per object, edits, creations and deletions its users make first, so an
            incremental import or a deletions import has something to find.
    """

    crm: Name = "dynamics"
    data: Literal["demo", "empty"] = "demo"
    scale: Number = 1.0
    simulate: dict[Name, SandboxActivity] | None = None

    @field_validator("crm")
    @classmethod
    def _known_crm(cls, value: str) -> str:
        names = registry.crm_names()
        if value not in names:
            raise ValueError(f"should be {' or '.join(map(repr, names))}, not {value!r}")
        return value


Account = CrmAccount | SandboxAccount


_STORE_SCHEMES = ("postgresql://", "postgres://")


class StoreAccount(Spec):
    """A campaign store on a PostgreSQL server, its password held by reference.

    Attributes:
        url: ``postgresql://user@host:port/database`` (``?schema=`` picks crmframes'
            schema); a password written in it is an error.
        password: where the password is read from; None when the server needs none or
            libpq finds it (``PGPASSWORD``, ``~/.pgpass``).
    """

    url: Name
    password: SecretRef | None = None

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        if not value.lower().startswith(_STORE_SCHEMES):
            raise ValueError("should start with postgresql:// (a campaign store on PostgreSQL)")
        user = value.split("://", 1)[1].split("@", 1)
        secret_parameter = re.search(r"(?i)[?&](ssl)?password=", value)
        if (len(user) == 2 and ":" in user[0]) or secret_parameter:  # never repeat the value
            raise ValueError(
                "a password cannot be written in the URL: write password: {env: VARIABLE}, "
                "{keyring: 'service:username'} or {file: path}"
            )
        return value


def account_to_dict(account: Account) -> dict[str, Any]:
    """Return an account as the plain data of its YAML."""
    if isinstance(account, SandboxAccount):
        return {"sandbox": account.to_dict()}
    return account.to_dict() | {"crm": account.crm}


def parse_account(data: Any, doc: Document, loc: Loc = ()) -> Account:
    """Validate one account found at ``loc`` of ``doc``.

    Raises:
        ConfigError: one line naming the place; secrets are never quoted.
    """
    if isinstance(data, Mapping) and "sandbox" in data:
        for key in data:
            if key != "sandbox":
                raise doc.error((*loc, key), "a sandbox account holds only the sandbox key")
        return validate_model(SandboxAccount, data["sandbox"] or {}, doc, (*loc, "sandbox"))
    if not isinstance(data, Mapping):
        raise doc.error(loc, "an account is a mapping (crm, url, auth, ...) or sandbox: {...}")
    crm = data.get("crm")
    names = registry.crm_names()
    if crm is None:
        raise doc.error(
            loc,
            f"missing required key 'crm' ({' or '.join(names)}; sandbox: {{...}} for the sandbox)",
        )
    if crm not in names:
        hint = suggest(crm, names)
        raise doc.error(
            (*loc, "crm"), f"should be {' or '.join(map(repr, names))}, not {crm!r}{hint}"
        )
    model: type[CrmAccount] = registry.crm_kind(crm).account
    hidden: Callable[[Loc], bool] = lambda place: "auth" in place  # noqa: E731
    return validate_model(model, data, doc, loc, hide_input=hidden)


@dataclass(frozen=True)
class Accounts:
    """The accounts of one accounts file, by name, with where each was written."""

    accounts: dict[str, Account]
    doc: Document
    stores: dict[str, StoreAccount] = field(default_factory=dict)

    def find(self, name: str) -> Account:
        """Return the CRM account called ``name``.

        Raises:
            ConfigError: no such account (the message lists the names, or says the file is
                empty), or ``name`` is a store.
        """
        if name in self.accounts:
            return self.accounts[name]
        if name in self.stores:
            raise ConfigError(
                f"{self.doc.source}: {name!r} is a campaign store, not a CRM account: open it "
                f"with crmframes.open_store({name!r}), or name it in a job as "
                f"store: account:{name}"
            )
        names = ", ".join(map(repr, self.accounts)) or "none"
        raise ConfigError(
            f"unknown account {name!r}{suggest(name, self.accounts)}; "
            f"{self.doc.source} names: {names}"
        )

    def find_store(self, name: str) -> StoreAccount:
        """Return the store entry called ``name``.

        Raises:
            ConfigError: no such store (the message lists the stores).
        """
        if name in self.stores:
            return self.stores[name]
        names = ", ".join(map(repr, self.stores)) or "none"
        raise ConfigError(
            f"no campaign store {name!r}{suggest(name, self.stores)} in {self.doc.source} "
            f"(its stores: {names}; a store entry is store: {{url: postgresql://..., "
            "password: {env: VARIABLE}})"
        )


def parse_accounts(text: str, source: str = "<string>") -> Accounts:
    """Parse the text of an accounts file.

    Raises:
        ConfigError: broken YAML or a bad account, naming the place.
    """
    doc = parse_yaml(text, source)
    data = {} if doc.data is None else doc.data
    if not isinstance(data, Mapping):
        raise doc.error((), "an accounts file maps account names to accounts")
    accounts: dict[str, Account] = {}
    stores: dict[str, StoreAccount] = {}
    for name, body in data.items():
        if not isinstance(name, str):
            raise doc.error((name,), f"an account name is text, not {name!r}")
        if isinstance(body, Mapping) and "store" in body:
            for key in body:
                if key != "store":
                    raise doc.error((name, key), "a store entry holds only the store key")
            hidden: Callable[[Loc], bool] = lambda place: True  # noqa: E731 (a URL's password)
            stores[name] = validate_model(
                StoreAccount, body["store"] or {}, doc, (name, "store"), hide_input=hidden
            )
            continue
        accounts[name] = parse_account(body, doc, (name,))
    return Accounts(accounts, doc, stores)
