"""The automatic index: the incremental-import watermark, kept as an option in the campaign store.

Pure apart from reading one option. The seed's option ``LASTIMPORT_<instance>_<activity>``
holds the last import's end as ``yyyy/MM/dd HH:mm:ss`` (UTC). A new import reads records
whose last-modified date lies in ``[stored value, moment the import began)``: the start is
included, the end excluded, so records sharing the boundary second are counted exactly
once. The import only *proposes* the new value; the store writes it together with the rows
(``CampaignStore.merge``), so a crash or a failed merge never skips a record (DESIGN §4.4).
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crmframes.errors import ArgumentTypeError, ConfigError, DataError
from crmframes.schema import ObjectSchema

__all__ = ["OPTION_FORMAT", "AutoIndex", "format_option", "parse_option"]

OPTION_FORMAT = "%Y/%m/%d %H:%M:%S"
_NAME = re.compile(r"[A-Za-z0-9_.-]+")


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
        store: where the watermark lives; anything with an ``options`` mapping
            (a :class:`~crmframes.CampaignStore`).
        activity: the name of the import step (``"import_contacts"``).
        instance: the name of the external account / CRM instance (``"default"``).
        fields: last-modified fields to use instead of the defaults (``modifiedon``;
            ``LastModifiedDate`` then ``SystemModstamp``); the first the object has wins.

    Examples:
        >>> AutoIndex({"options": {}}, activity="contacts").option_name  # doctest: +SKIP
        'LASTIMPORT_default_contacts'
    """

    store: Any
    activity: str
    instance: str = "default"
    fields: Sequence[str] | None = field(default=None)

    def __post_init__(self) -> None:
        for label, value in (("activity", self.activity), ("instance", self.instance)):
            if not isinstance(value, str) or not _NAME.fullmatch(value):
                raise ConfigError(
                    f"AutoIndex {label} must be letters, digits, '_', '.' or '-' (got {value!r})"
                )
        if not hasattr(self.store, "options"):
            raise ArgumentTypeError(
                "AutoIndex needs a store with options, e.g. CampaignStore('campaign.duckdb')"
            )
        if isinstance(self.fields, str):
            object.__setattr__(self, "fields", (self.fields,))

    @property
    def option_name(self) -> str:
        """``LASTIMPORT_<instance>_<activity>``."""
        return f"LASTIMPORT_{self.instance}_{self.activity}"

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
