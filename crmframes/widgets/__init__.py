"""ipywidgets forms that build specs and run them (DESIGN §4.10): the notebook face of the steps.

Presentation; needs the ``notebook`` extra (``pip install 'crmframes[notebook]'``).
:class:`ImportForm`, :class:`ExportForm`, :class:`DeleteForm` and :class:`DeletedForm` — the
four seed operations — read the CRM's objects and fields through an open connector, build
the spec a job file holds, show it as YAML and run it as one job step on the campaign store.
"""

from __future__ import annotations

try:
    import ipywidgets  # noqa: F401
except ImportError as exc:  # pragma: no cover - the notebook extra is missing
    raise ImportError(
        "crmframes.widgets needs ipywidgets: pip install 'crmframes[notebook]'"
    ) from exc

from crmframes.widgets.editors import FilterRows, OrderRows, typed_value
from crmframes.widgets.forms import DeletedForm, DeleteForm, ExportForm, ImportForm

__all__ = [
    "DeleteForm",
    "DeletedForm",
    "ExportForm",
    "FilterRows",
    "ImportForm",
    "OrderRows",
    "typed_value",
]
