"""How a step spec's fields become the keyword arguments of the functions it configures.

Pure. A step spec is the one place an operation's options are spelled: its fields carry
the names, defaults and types of the function's parameters (``ImportSpec.limit`` is
``import_from_crm(limit=...)``), and :meth:`OperationSpec.call_kwargs` copies every field
named like a parameter of the function called. The few names the runner handles itself
(the connector, rows read from the store, an ``AutoIndex`` built from ``auto_index:``, the
``rejects:`` and ``retry:`` handling, ...) are declared per spec in
:attr:`OperationSpec.resolved_by_runner`, each with what the runner does instead; nothing
else is copied by hand. ``tests/test_spec_signatures.py`` checks that each spec and the
functions named in :attr:`OperationSpec.calls` agree on names, defaults and types.

Examples:
    >>> from crmframes.specs import MergeSpec
    >>> def merge(table, data, *, key=None, modified=None, dry_run=False): ...
    >>> spec = MergeSpec(table="contact", source="staging", key=["Id"])
    >>> spec.call_kwargs(merge, data="rows")
    {'table': 'contact', 'key': ['Id'], 'modified': None, 'dry_run': False, 'data': 'rows'}
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from types import MappingProxyType, NoneType, UnionType
from typing import Any, ClassVar, Literal, Union, get_args, get_origin

from crmframes.specs.fields import Spec

__all__ = ["CRM_CALL", "STEP_HANDLING", "OperationSpec", "choices", "default", "resolved"]

CRM_CALL: Mapping[str, str] = MappingProxyType(
    {
        "conn": "the job's connector (its account), passed first",
        "progress": "the run's progress switch (run_job / run_step progress=)",
    }
)
"""The parameters every CRM operation gets from the run rather than from its spec."""

STEP_HANDLING: Mapping[str, str] = MappingProxyType(
    {
        "rejects": "the runner appends the step's rejects to this table (runner/handling.py)",
        "retry": "the runner runs the step again on this schedule (runner/handling.py)",
    }
)
"""The fields of a step that say what the runner does when things go wrong."""


def resolved(*parts: Mapping[str, str], **names: str) -> Mapping[str, str]:
    """Join tables of names the runner resolves, each name with what it does instead."""
    out: dict[str, str] = {}
    for part in parts:
        out.update(part)
    out.update(names)
    return MappingProxyType(out)


def choices(spec: type[Spec], name: str) -> list[Any]:
    """Return the values a ``Literal`` field of ``spec`` allows, in their declared order.

    Forms offer these, so a choice added to the spec shows in its form.

    Examples:
        >>> from crmframes.specs import DeletedSpec
        >>> choices(DeletedSpec, "apply")
        ['soft', 'hard']

    Raises:
        TypeError: the field is not a choice of literals.
    """
    annotation = spec.model_fields[name].annotation
    if get_origin(annotation) in (Union, UnionType):  # an optional choice
        annotation = next(a for a in get_args(annotation) if a is not NoneType)
    if get_origin(annotation) is not Literal:
        raise TypeError(f"{spec.__name__}.{name} is not a choice of literals")
    return list(get_args(annotation))


def default(spec: type[Spec], name: str) -> Any:
    """Return the default of a field of ``spec`` (what a form starts with)."""
    return spec.model_fields[name].get_default(call_default_factory=True)


class OperationSpec(Spec):
    """A step spec whose fields are the options of the functions it calls.

    Class attributes:
        calls: the functions the step calls with the spec's options, as
            ``"module:qualified.name"`` (``"crmframes.operations:import_from_crm"``).
        resolved_by_runner: the spec fields and call parameters that are not copied from
            one to the other, each with what the runner does instead (builds the value,
            reads rows from the store, leaves the call's default).
    """

    calls: ClassVar[tuple[str, ...]] = ()
    resolved_by_runner: ClassVar[Mapping[str, str]] = MappingProxyType({})

    def call_kwargs(self, function: Callable[..., Any], /, **runner: Any) -> dict[str, Any]:
        """Return the keyword arguments of ``function`` this spec sets, then ``runner``'s.

        Every field named like a parameter of ``function`` is copied, except the names in
        :attr:`resolved_by_runner`; ``runner`` adds the values the runner resolved and wins
        over a field of the same name (a job's dry run over the step's ``dry_run``).

        Raises:
            TypeError: ``runner`` names a parameter ``function`` does not take.
        """
        parameters = inspect.signature(function).parameters
        unknown = sorted(set(runner) - set(parameters))
        if unknown:
            raise TypeError(f"{function.__qualname__}() takes no parameter {', '.join(unknown)}")
        options = {
            name: getattr(self, name)
            for name in type(self).model_fields
            if name in parameters and name not in self.resolved_by_runner
        }
        return options | runner
