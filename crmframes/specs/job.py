"""A job: a named account, a campaign store and a list of steps, written as one YAML file.

Pure: text in, a checked :class:`Job` out (and back). Each step is one key naming its kind
with the settings of its spec::

    name: sync-contacts
    account: production            # a name in the accounts file, or {sandbox: {crm: dynamics}}
    store: campaign.duckdb
    steps:
      - import:
          object: contact
          fields: [firstname, lastname, emailaddress1]
          auto_index: {activity: import_contacts, instance: production}
      - export:
          object: contact
          source: {query: SELECT contactid, telephone1 FROM contact WHERE fixed}
          key: contactid

Every mistake is reported once, on one line naming the file, the line and the path:
``job.yaml:12: steps[1].export: unknown key 'mapings' (did you mean 'mapping'?)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, get_args

from crmframes.arguments import check_instance
from crmframes.errors import ArgumentTypeError, ConfigError
from crmframes.specs.account_file import Account, account_to_dict, parse_account
from crmframes.specs.document import Document, Loc, dump_yaml, parse_yaml, suggest, validate_model
from crmframes.specs.steps import STEP_KINDS, StepSpec

__all__ = ["DEFAULT_STORE", "Job"]

DEFAULT_STORE = "campaign.duckdb"
_KEYS = ("name", "account", "store", "steps")
_ACCOUNT_TYPES: tuple[type, ...] = get_args(Account)
_STEP_TYPES: tuple[type, ...] = tuple(STEP_KINDS.values())


@dataclass(frozen=True, kw_only=True)
class Job:
    """A named account, a campaign store and the steps to run on them, in order.

    Attributes:
        name: the job's name (reports, logs).
        account: the name of an account in the accounts file, or an account itself (a
            :class:`~crmframes.specs.SandboxAccount` runs anywhere, offline).
        store: the campaign store: a DuckDB file (relative to the working directory),
            ``":memory:"``, a ``postgresql://`` URL without a password, or
            ``account:NAME``, a ``store:`` entry of the accounts file (its password by
            reference).
        steps: the specs to run (``ImportSpec``, ``ExportSpec``, ...).
        doc: where the job was read from, for messages naming places (not compared).

    Raises:
        TypeError: a step is not a spec, or the account is neither a name nor an account.
        ValueError: an empty name, store or step list.
    """

    name: str
    account: str | Account
    store: str = DEFAULT_STORE
    steps: Sequence[StepSpec] = ()
    doc: Document | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.steps, list | tuple):
            raise ArgumentTypeError(f"steps is a list of specs, not {self.steps!r}")
        object.__setattr__(self, "steps", tuple(self.steps))
        for label in ("name", "store"):
            value = getattr(self, label)
            if not isinstance(value, str) or not value:
                raise ConfigError(f"a job's {label} is a non-empty str, not {value!r}")
        if not isinstance(self.account, (str, *_ACCOUNT_TYPES)) or self.account == "":
            raise ArgumentTypeError(
                f"account is an account name or an account, not {self.account!r}"
            )
        if not self.steps:
            raise ConfigError("a job needs at least one step")
        for position, step in enumerate(self.steps):
            if not isinstance(step, _STEP_TYPES):
                raise ArgumentTypeError(f"steps[{position}] is not a spec: {step!r}")

    def place(self, loc: Loc) -> str:
        """Return ``file:line: path`` of a part of the job, for messages."""
        return (self.doc or Document(None, f"job {self.name!r}")).place(loc)

    def to_dict(self) -> dict[str, Any]:
        """Return the job as the plain data of its YAML."""
        account = self.account if isinstance(self.account, str) else account_to_dict(self.account)
        steps = [{step.kind: step.to_dict()} for step in self.steps]
        return {"name": self.name, "account": account, "store": self.store, "steps": steps}

    def to_yaml(self) -> str:
        """Return the job as YAML; :meth:`from_yaml` of it equals the job."""
        return dump_yaml(self.to_dict())

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "<dict>") -> Job:
        """Build a job from plain data (what its YAML holds).

        Raises:
            ConfigError: one line naming the first bad key or value.
        """
        return _job(Document(data, source))

    @classmethod
    def from_yaml(cls, text: str, *, source: str = "<string>") -> Job:
        """Build a job from YAML text; ``source`` names it in messages (``job.yaml``).

        Raises:
            ConfigError: broken YAML, an unknown key, a wrong type, a missing key: one line,
                ``source:line: path: what is wrong``.
        """
        check_instance("text", text, str, "YAML text (a str)")
        return _job(parse_yaml(text, source))


def _job(doc: Document) -> Job:
    data = doc.data
    if not isinstance(data, Mapping):
        raise doc.error((), "a job is a mapping with name, account, store and steps")
    for key in data:
        if key not in _KEYS:
            raise doc.error((key,), f"unknown key {str(key)!r}{suggest(key, _KEYS)}")
    for key in ("name", "account", "steps"):
        if key not in data:
            raise doc.error((), f"missing required key {key!r}")
    name, store = data["name"], data.get("store", DEFAULT_STORE)
    for key, value in (("name", name), ("store", store)):
        if not isinstance(value, str) or not value:
            raise doc.error((key,), f"should be non-empty text, not {value!r}")
    account: str | Account
    if isinstance(data["account"], str) and data["account"]:
        account = data["account"]
    elif isinstance(data["account"], Mapping):
        account = parse_account(data["account"], doc, ("account",))
    else:
        raise doc.error(("account",), "should be an account name or an account mapping")
    steps = data["steps"]
    if not isinstance(steps, list) or not steps:
        raise doc.error(("steps",), "should be a list of steps (- import: {...})")
    specs = [_step(item, position, doc) for position, item in enumerate(steps)]
    return Job(name=name, account=account, store=store, steps=specs, doc=doc)


def _step(item: Any, position: int, doc: Document) -> StepSpec:
    loc: Loc = ("steps", position)
    kinds = ", ".join(STEP_KINDS)
    if not isinstance(item, Mapping) or len(item) != 1:
        raise doc.error(loc, f"a step is one key naming its kind ({kinds}) with its settings")
    ((kind, body),) = item.items()
    if kind not in STEP_KINDS:
        hint = suggest(kind, STEP_KINDS)
        raise doc.error((*loc, kind), f"unknown step {str(kind)!r}{hint}; steps are {kinds}")
    return validate_model(STEP_KINDS[kind], {} if body is None else body, doc, (*loc, kind))
