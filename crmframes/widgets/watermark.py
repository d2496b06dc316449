"""The automatic index's watermark as a form shows it: where the next run starts, and a reset.

Presentation. A form whose automatic index is on reads only what changed since the stored
watermark (``LASTIMPORT_<instance>_<activity>``, DESIGN §4.4). A new form on an old store
therefore imports nothing when nothing changed; the line says so before Run, and **reset**
forgets the watermark (and the fields it covers) so the next run reads everything again.
"""

from __future__ import annotations

import ipywidgets as w

from crmframes import display
from crmframes.errors import ConfigError
from crmframes.operations.autoindex import AutoIndex
from crmframes.store import CampaignStore

__all__ = ["Watermark"]


class Watermark:
    """The watermark line and its reset button, for one activity and instance at a time."""

    def __init__(self, store: CampaignStore) -> None:
        self.store = store
        self.index: AutoIndex | None = None
        self.line = w.HTML()
        self.reset_button = w.Button(
            description="reset",
            icon="undo",
            tooltip="forget the watermark: the next run reads every record",
            layout=w.Layout(width="90px"),
        )
        self.widget = w.HBox([self.line, self.reset_button])

    def show(self, activity: str, instance: str, *, on: bool) -> None:
        """Show the watermark of this activity (nothing while the automatic index is off)."""
        self.index = None
        if on:
            try:
                self.index = AutoIndex(
                    self.store, activity=activity, instance=instance or "default"
                )
            except ConfigError:
                self.index = None  # a name being typed: the form's check says what is wrong
        self.reset_button.disabled = self.value() is None
        self._say()

    def value(self) -> str | None:
        """The stored watermark (``yyyy/MM/dd HH:mm:ss``, UTC), None if there is none."""
        if self.index is None:
            return None
        return self.store.options.get(self.index.option_name) or None

    def describe(self) -> str:
        """Say where the next run starts."""
        if self.index is None:
            return ""
        stored = self.value()
        if stored is None:
            return f"{self.index.option_name}: none yet, Run reads every record"
        return f"{self.index.option_name} = {stored} UTC: Run reads only what changed since"

    def reset(self) -> str:
        """Forget the watermark (and the fields it covers); say what was forgotten."""
        if self.index is None or self.value() is None:
            return "no watermark to reset"
        index = self.index
        options = self.store.options
        for name in (index.option_name, index.fields_option_name, index.stale_option_name):
            if name in options:
                del options[name]
        self.reset_button.disabled = True
        self._say()
        return f"{index.option_name} reset: the next run reads every record"

    def _say(self) -> None:
        text = self.describe()
        self.line.value = f"<span style='color:#555'>{display.escape(text)}</span>" if text else ""
