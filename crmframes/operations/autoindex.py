"""The automatic index: the incremental-import watermark, kept as an option in the campaign store.

Pure apart from reading one option. The seed's option ``LASTIMPORT_<instance>_<activity>``
holds the last import's end as ``yyyy/MM/dd HH:mm:ss`` (UTC). A new import reads records
whose last-modified date lies in ``[stored value, moment the import began)``: the start is
included, the end excluded, so records sharing the boundary second are counted exactly
once. The import only *proposes* the new value; the store writes it together with the rows
(``CampaignStore.merge``), so a crash or a failed merge never skips a record (DESIGN §4.4).

The window also knows which fields (and conversions) it covers: beside the watermark, the
option ``<option name>:fields`` lists them (the watermark's own value keeps the seed's
format). A later import asking for a field the stored rows lack either re-reads every record
once (``on_new_fields="backfill"``) or refuses (``"refuse"``); a field no longer asked for is
named in a :class:`StaleFieldWarning` and in the option ``<option name>:stale``, since the
store keeps its last values without refreshing them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

import orjson

from crmframes.errors import ArgumentTypeError, ConfigError, DataError
from crmframes.schema import ObjectSchema
from crmframes.store.protocols import OptionStore

__all__ = [
    "OPTION_FORMAT",
    "AutoIndex",
    "FieldChange",
    "OnNewFields",
    "StaleFieldWarning",
    "format_option",
    "parse_option",
]

OPTION_FORMAT = "%Y/%m/%d %H:%M:%S"
OnNewFields = Literal["backfill", "refuse"]
_NAME = re.compile(r"[A-Za-z0-9_.-]+")  # so ':' never appears in a name: the companions' suffix


class StaleFieldWarning(UserWarning):
    """A field the automatic index covered is no longer imported: its stored values go stale."""


@dataclass(frozen=True)
class FieldChange:
    """How the fields asked for differ from those the stored window covers.

    Attributes:
        added: fields the stored rows lack, or hold in another conversion.
        dropped: fields covered until now and no longer asked for.
    """

    added: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()


def format_option(moment: datetime) -> str:
    """Write a watermark as the seed does: ``yyyy/MM/dd HH:mm:ss`` in UTC.

    Examples:
        >>> format_option(datetime(2026, 11, 27, 9, 5, 3, 999000, tzinfo=UTC))
        '2026/11/27 09:05:03'
    """
    return moment.astimezone(UTC).strftime(OPTION_FORMAT)


def parse_option(text: str) -> datetime:
    """Read a stored watermark back.

    Raises:
        DataError: the text is not ``yyyy/MM/dd HH:mm:ss``.
    """
    try:
        return datetime.strptime(text.strip(), OPTION_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise DataError(f"the automatic index value {text!r} is not yyyy/MM/dd HH:mm:ss") from exc


@dataclass(frozen=True)
class AutoIndex:
    """Import incrementally: only what changed since the last import of this activity.

    Args:
        store: where the watermark lives: an
            :class:`~crmframes.store.protocols.OptionStore` (a :class:`~crmframes.CampaignStore`).
        activity: the name of the import step (``"import_contacts"``).
        instance: the name of the external account / CRM instance (``"default"``).
        fields: last-modified fields to use instead of the defaults (``modifiedon``;
            ``LastModifiedDate`` then ``SystemModstamp``); the first the object has wins.
        on_new_fields: what an import does when it asks for a field (or a conversion) the
            stored window does not cover: ``"backfill"`` (the default) reads every record
            up to the window's end once, so the rows stored earlier get the new field;
            ``"refuse"`` raises :class:`~crmframes.ConfigError` before any page is read.

    Examples:
        >>> from crmframes import CampaignStore
        >>> AutoIndex(CampaignStore(":memory:"), activity="contacts").option_name
        'LASTIMPORT_default_contacts'
    """

    store: OptionStore
    activity: str
    instance: str = "default"
    fields: Sequence[str] | None = field(default=None)
    on_new_fields: OnNewFields = "backfill"

    def __post_init__(self) -> None:
        for label, value in (("activity", self.activity), ("instance", self.instance)):
            if not isinstance(value, str) or not _NAME.fullmatch(value):
                raise ConfigError(
                    f"AutoIndex {label} must be letters, digits, '_', '.' or '-' (got {value!r})"
                )
        if not isinstance(self.store, OptionStore):
            raise ArgumentTypeError(
                "AutoIndex needs a store with options, e.g. CampaignStore('campaign.duckdb')"
            )
        if isinstance(self.fields, str):
            object.__setattr__(self, "fields", (self.fields,))
        if self.on_new_fields not in get_args(OnNewFields):
            raise ConfigError(
                f"on_new_fields must be one of {get_args(OnNewFields)}, not {self.on_new_fields!r}"
            )

    @property
    def option_name(self) -> str:
        """``LASTIMPORT_<instance>_<activity>``."""
        return f"LASTIMPORT_{self.instance}_{self.activity}"

    @property
    def fields_option_name(self) -> str:
        """``<option name>:fields``: the fields and conversions the stored window covers."""
        return f"{self.option_name}:fields"

    @property
    def stale_option_name(self) -> str:
        """``<option name>:stale``: fields the store still holds but no longer refreshes."""
        return f"{self.option_name}:stale"

    @property
    def _options(self) -> MutableMapping[str, str]:
        options: MutableMapping[str, str] = self.store.options
        return options

    def start(self) -> datetime | None:
        """The stored watermark (the window's included start), or None on the first run."""
        value = self._options.get(self.option_name)
        return None if not value else parse_option(value)

    def pick_field(self, schema: ObjectSchema) -> str:
        """The last-modified field this object is windowed on.

        Raises:
            ConfigError: the object has none of the candidate fields.
        """
        candidates = list(self.fields) if self.fields else list(schema.modified_fields)
        for name in candidates:
            found = schema.find(name)
            if found is not None and found.kind == "datetime":
                return found.name
        raise ConfigError(
            f"{schema.name} has no last-modified field among {candidates or ['(none)']}; "
            "Hint: name one with AutoIndex(..., fields=['...'])"
        )

    def covered(self) -> dict[str, str] | None:
        """The fields (name to conversion) the stored window covers; None if not recorded.

        A watermark written before crmframes recorded its fields has none: it is taken to
        cover whatever the next import asks for, which then records it.

        Raises:
            DataError: the stored list is not the JSON object crmframes writes.
        """
        covered: dict[str, str] | None = self._read_json(self.fields_option_name, dict)
        return covered

    def stale(self) -> tuple[str, ...]:
        """The fields this activity stopped importing, whose stored values are not refreshed."""
        return tuple(self._read_json(self.stale_option_name, list) or ())

    def compare(self, covers: Mapping[str, str]) -> FieldChange:
        """Compare the fields an import asks for with those the stored window covers.

        Examples:
            >>> from crmframes import CampaignStore
            >>> store = CampaignStore(":memory:")
            >>> store.options["LASTIMPORT_default_a"] = "2024/01/31 10:00:00"
            >>> store.options["LASTIMPORT_default_a:fields"] = '{"Id": "default"}'
            >>> index = AutoIndex(store, activity="a")
            >>> index.compare({"Id": "default", "Email": "default"})
            FieldChange(added=('Email',), dropped=())
        """
        before = self.covered()
        if before is None or self.start() is None:
            return FieldChange()
        added = tuple(name for name, how in covers.items() if before.get(name) != how)
        dropped = tuple(name for name in before if name not in covers)
        return FieldChange(added, dropped)

    def stale_after(self, covers: Mapping[str, str], dropped: Sequence[str]) -> tuple[str, ...]:
        """The stale fields once an import covering ``covers`` (and dropping ``dropped``) is stored."""
        return tuple(n for n in dict.fromkeys([*self.stale(), *dropped]) if n not in covers)

    def companions(self, covers: Mapping[str, str], dropped: Sequence[str]) -> dict[str, str]:
        """The options to write with the next watermark: the covered fields, the stale ones."""
        stale = list(self.stale_after(covers, dropped))
        options = {self.fields_option_name: orjson.dumps(dict(covers)).decode()}
        if stale or self.stale_option_name in self._options:
            options[self.stale_option_name] = orjson.dumps(stale).decode()
        return options

    def _read_json(self, name: str, kind: type) -> Any:
        text = self._options.get(name)
        if not text:
            return None
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            value = None
        if not isinstance(value, kind):
            raise DataError(
                f"the option {name!r} holds {text!r}, not the JSON crmframes writes; "
                "Hint: delete it (store.options.pop(name)) and the next import records it again"
            )
        return value
