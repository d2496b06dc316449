"""Each step spec and the functions it configures agree: names, defaults and types.

A spec is the one place an operation's options are spelled (``crmframes/specs/calls.py``):
the runner copies its fields to the call with ``spec.call_kwargs(function)``. These tests
read each spec's fields and each function's signature and report every disagreement, so an
option added to a function but not to its spec (or the other way round) fails here. The
names the runner resolves itself are the spec's documented ``resolved_by_runner`` table.
"""

from __future__ import annotations

import importlib
import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

import pandas as pd
import pytest

from crmframes.operations import import_from_crm
from crmframes.reconcile import reconcile
from crmframes.specs import (
    STEP_KINDS,
    AutoIndexSpec,
    DedupeSpec,
    DeletedSpec,
    DeleteSpec,
    ExportSpec,
    ImportSpec,
    MergeSpec,
    ReconcileSpec,
)
from crmframes.specs.calls import OperationSpec, choices, default, resolved
from crmframes.specs.fields import Name, PositiveInt
from crmframes.store import CampaignStore

# A spec may require what its function leaves optional, when the function's default means
# "given another way" that a job file has no form for.
NARROWED: dict[tuple[str, str], str] = {
    ("DedupeSpec", "on"): "on=None means clusters= (a reviewed frame), not in a job file",
    ("MergeSpec", "key"): "key=None means an import result's own key; a step merges plain rows",
}


def function_of(dotted: str) -> Callable[..., Any]:
    """The function named ``module:qualified.name``."""
    module, _, name = dotted.partition(":")
    found: Any = importlib.import_module(module)
    for part in name.split("."):
        found = getattr(found, part)
    return typing.cast(Callable[..., Any], found)


def unwrap(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def fits(value: Any, param: Any) -> bool:
    """Whether every value of the spec's type ``value`` is one the function's ``param`` takes."""
    value, param = unwrap(value), unwrap(param)
    if param is Any:
        return True
    if is_union(value):
        return all(fits(v, param) for v in get_args(value))
    if is_union(param):
        return any(fits(value, p) for p in get_args(param))
    if value is Any:
        return False
    if get_origin(value) is Literal:
        if get_origin(param) is Literal:
            return set(get_args(value)) <= set(get_args(param))
        return all(fits(type(choice), param) for choice in get_args(value))
    if get_origin(param) is Literal or value is type(None) or param is type(None):
        return value is param
    v_class, p_class = get_origin(value) or value, get_origin(param) or param
    if not (isinstance(v_class, type) and isinstance(p_class, type)):
        return False
    if not issubclass(v_class, p_class):
        return False
    p_args, v_args = get_args(param), get_args(value)
    if not p_args or p_class is Callable:
        return True
    if v_class is str:  # a str is a Sequence[str]
        return fits(str, p_args[0])
    elements = [a for a in v_args if a is not Ellipsis]
    if p_class is tuple:
        if len(p_args) == 2 and p_args[1] is Ellipsis:
            return bool(v_args) and all(fits(e, p_args[0]) for e in elements)
        return (
            Ellipsis not in v_args
            and len(v_args) == len(p_args)
            and all(fits(v, p) for v, p in zip(v_args, p_args, strict=True))
        )
    if issubclass(p_class, Mapping):
        return len(v_args) == 2 and fits(v_args[0], p_args[0]) and fits(v_args[1], p_args[1])
    if len(p_args) == 1:  # Sequence[X], Iterable[X], list[X]: the elements (a mapping's keys)
        if issubclass(v_class, Mapping):
            return bool(v_args) and fits(v_args[0], p_args[0])
        return bool(elements) and all(fits(e, p_args[0]) for e in elements)
    return False


def parameters(function: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    found = dict(inspect.signature(function).parameters)
    found.pop("self", None)
    return found


def disagreements(spec: type[OperationSpec]) -> list[str]:
    """Every way ``spec`` and the functions in its ``calls`` disagree, one line each."""
    name, skip, fields = spec.__name__, spec.resolved_by_runner, spec.model_fields
    problems: list[str] = []
    if not spec.calls:
        return [f"{name} names no function in calls"]
    taken: set[str] = set()
    for dotted in spec.calls:
        function = function_of(dotted)
        hints = typing.get_type_hints(function)
        for param, p in parameters(function).items():
            taken.add(param)
            if param in skip:
                continue
            if param not in fields:
                problems.append(f"{dotted}: option {param!r} is not a field of {name}")
                continue
            field = fields[param]
            if p.default is inspect.Parameter.empty or field.is_required():
                required = p.default is inspect.Parameter.empty
                if required != field.is_required() and (name, param) not in NARROWED:
                    problems.append(
                        f"{name}.{param}: required {field.is_required()}, "
                        f"{dotted} requires it: {required}"
                    )
            elif type(field.default) is not type(p.default) or field.default != p.default:
                problems.append(
                    f"{name}.{param}: default {field.default!r}, {dotted}'s is {p.default!r}"
                )
            if not fits(field.annotation, hints[param]):
                problems.append(
                    f"{name}.{param}: type {field.annotation} does not fit {dotted}'s "
                    f"{hints[param]}"
                )
    for field_name in fields:
        if field_name not in taken and field_name not in skip:
            problems.append(f"{name}.{field_name} is no option of {', '.join(spec.calls)}")
    for resolved_name in skip:
        if resolved_name not in fields and resolved_name not in taken:
            problems.append(
                f"{name}.resolved_by_runner names {resolved_name!r}: no field, no option"
            )
    return problems


@pytest.mark.parametrize(
    "spec", [*STEP_KINDS.values(), AutoIndexSpec], ids=[*STEP_KINDS, "auto_index"]
)
def test_every_step_spec_agrees_with_its_functions(spec):
    assert disagreements(spec) == []


# --- a deliberately mismatched pair: the check must find each kind of disagreement ----------


def toy_export(
    conn: object,
    object: str,
    *,
    batch_size: int | None = None,
    colour: Literal["red", "blue"] = "red",
    limit: int = 5,
) -> None:
    """An operation that gained ``colour`` without its spec learning about it."""


class ToySpec(OperationSpec):
    kind: ClassVar[str] = "toy"
    calls: ClassVar[tuple[str, ...]] = (f"{__name__}:toy_export",)
    resolved_by_runner: ClassVar[Mapping[str, str]] = resolved(
        conn="the job's connector", progress="a name the function does not take"
    )

    object: Name
    batch_size: PositiveInt | None = 100
    limit: Name = "5"
    shade: Name | None = None


def test_a_mismatched_spec_and_function_are_each_reported():
    dotted = f"{__name__}:toy_export"
    assert disagreements(ToySpec) == [
        f"ToySpec.batch_size: default 100, {dotted}'s is None",
        f"{dotted}: option 'colour' is not a field of ToySpec",
        "ToySpec.limit: default '5', " + f"{dotted}'s is 5",
        f"ToySpec.limit: type <class 'str'> does not fit {dotted}'s <class 'int'>",
        f"ToySpec.shade is no option of {dotted}",
        "ToySpec.resolved_by_runner names 'progress': no field, no option",
    ]


@pytest.mark.parametrize(
    ("value", "param", "expected"),
    [
        (list[str], Sequence[str], True),
        (dict[str, Literal["a"]], Mapping[str, Literal["a", "b"]], True),
        (Literal["a", "c"], Literal["a", "b"], False),
        (tuple[int, str], Sequence[str], False),
        (list[tuple[str, Literal["asc"]]], Sequence[str | tuple[str, str]], True),
        (int | None, int, False),
        (bool, int, True),
        (float, int, False),
    ],
)
def test_fits_reads_the_typing_forms_specs_use(value, param, expected):
    assert fits(value, param) is expected


# --- call_kwargs: what the runner passes ----------------------------------------------------


def test_call_kwargs_copies_every_option_and_adds_what_the_runner_resolved():
    spec = ImportSpec(object="contact", fields=["lastname"], limit=5, strict=True, table="people")
    assert spec.call_kwargs(import_from_crm, auto_index=None, population=None, progress=False) == {
        "object": "contact",
        "fields": {"lastname": "default"},
        "where": None,
        "order_by": None,
        "id_column": None,
        "timezone": "UTC",
        "mode": "auto",
        "limit": 5,
        "strict": True,
        "auto_index": None,
        "population": None,
        "progress": False,
    }


def test_call_kwargs_lets_the_run_override_a_field_and_refuses_unknown_names():
    spec = MergeSpec(table="people", source="staging", key="id", dry_run=False)
    calls: list[dict[str, Any]] = []

    def merge(table: str, data: Any, *, key: Any = None, modified: Any = None, dry_run=False):
        calls.append(
            {"table": table, "data": data, "key": key, "modified": modified, "dry_run": dry_run}
        )

    merge(**spec.call_kwargs(merge, data="rows", dry_run=True))
    assert calls == [
        {"table": "people", "data": "rows", "key": ["id"], "modified": None, "dry_run": True}
    ]
    with pytest.raises(TypeError, match="takes no parameter progress"):
        spec.call_kwargs(merge, progress=False)


def test_a_reconcile_step_passes_rtol_and_empty_is_null():
    left = pd.DataFrame({"id": ["1"], "note": [""], "score": [1.0]})
    right = pd.DataFrame({"id": ["1"], "note": [None], "score": [1.05]})
    loose = ReconcileSpec(object="c", source="t", key="id", rtol=0.1, empty_is_null=True)
    strict = ReconcileSpec(object="c", source="t", key="id", empty_is_null=False)
    assert (
        reconcile(**loose.call_kwargs(reconcile, left=left, right=right)).counts["different"] == 0
    )
    assert set(
        reconcile(**strict.call_kwargs(reconcile, left=left, right=right)).differences["field"]
    ) == {"note", "score"}


def test_a_dedupe_step_passes_its_method_and_every_matching_option():
    spec = DedupeSpec(table="people", on=["email", "phone"], method="rules", threshold=0.8)

    kwargs = spec.call_kwargs(CampaignStore.dedupe, dry_run=True)
    assert kwargs["method"] == "rules" and kwargs["threshold"] == 0.8
    assert "clusters" not in kwargs and "removed_table" not in kwargs
    assert set(kwargs) == set(parameters(CampaignStore.dedupe)) - {"clusters"}


def test_the_runner_resolved_names_are_not_copied():
    spec = DeletedSpec(object="contact", lookback="7d", table="people", apply="hard")
    kwargs = spec.call_kwargs(function_of(DeletedSpec.calls[0]), start="2024-01-01")
    assert kwargs == {"object": "contact", "start": "2024-01-01", "end": None, "timezone": "UTC"}
    export = ExportSpec(object="contact", source="people", write_back={"key": "id"})
    assert "write_back" not in export.call_kwargs(function_of(ExportSpec.calls[0]), df=None)


# --- the forms offer the spec's choices and start from its defaults -------------------------


def test_choices_and_defaults_come_from_the_spec():
    assert choices(ImportSpec, "mode") == ["auto", "rest", "bulk"]
    assert choices(DeleteSpec, "mode") == ["auto", "batch", "bulk"]
    assert default(DeleteSpec, "mode") == "batch" and default(ImportSpec, "timezone") == "UTC"
    with pytest.raises(TypeError, match=r"ImportSpec\.limit is not a choice of literals"):
        choices(ImportSpec, "limit")


def test_the_forms_offer_each_spec_choice_and_start_from_its_default(dv_demo, tmp_path):
    from crmframes.widgets import DeletedForm, DeleteForm, ExportForm, ImportForm

    conn = dv_demo.connector()
    with CampaignStore(tmp_path / "campaign.duckdb") as store:
        controls = [
            (ImportForm(conn, store).mode, ImportSpec, "mode"),
            (ExportForm(conn, store).mode, ExportSpec, "mode"),
            (DeleteForm(conn, store).mode, DeleteSpec, "mode"),
            (DeletedForm(conn, store).apply, DeletedSpec, "apply"),
        ]
        for control, spec, name in controls:
            assert list(control.options) == choices(spec, name), (spec.__name__, name)
            assert control.value == default(spec, name), (spec.__name__, name)
