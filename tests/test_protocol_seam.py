"""The Connector protocol is the whole seam (issue 12): both connectors fill it, nobody sniffs.

Both connectors satisfy :class:`~crmframes.connectors.base.Connector` member by member
(mypy checks the same statically where ``accounts.connect`` and ``Sandbox.connector()``
return them as the protocol); the callers use connectors and stores only through declared
protocols and real types, never ``hasattr`` / ``getattr`` on a connector or store.
"""

from __future__ import annotations

import ast
import inspect
import pathlib
import re
from datetime import datetime, timedelta

import pandas as pd
import pytest

import crmframes
from crmframes import ArgumentTypeError, CampaignStore, Sandbox, export_to_crm, import_from_crm
from crmframes.arguments import check_connector
from crmframes.connectors.base import ApiLimits, Connector, ThrottleReport, WriteParallelism
from crmframes.operations import DeletedResult, ImportResult
from crmframes.runner.handling import WITH_DRY_RUN, WITH_REJECTS, WITH_RETRY
from crmframes.specs import STEP_KINDS
from crmframes.store.protocols import Deletions, IndexCompanions, JournalStore, OptionStore

PACKAGE = pathlib.Path(crmframes.__file__).parent
# The read-only members and the type of their value; a new one must be added here.
VALUES = {
    "system": str,
    "instance": str,
    "id_chunk_size": int,
    "collation": str,
    "cursor_resumes": int,
    "api_calls": int,
    "supports_bulk_write": bool,
    "throttling": ThrottleReport,
    "write_parallelism": WriteParallelism,
    "longest_call": timedelta,
}
COMMON = {"salesforce": "Contact", "dynamics": "contact"}
# Where connectors and stores are used: none of these may sniff them.
CALLERS = (
    "operations",
    "widgets",
    "runner",
    "store",
    "check.py",
    "arguments.py",
    "accounts.py",
    "cli.py",
    "demo",
)
SNIFFED = re.compile(r"\b(conn|connector|store|journal|sandbox|sb)\b")


def members() -> dict[str, object]:
    return {name: value for name, value in vars(Connector).items() if not name.startswith("_")}


@pytest.fixture(params=["salesforce", "dynamics"])
def conn(request: pytest.FixtureRequest) -> Connector:
    sb: Sandbox = request.getfixturevalue(
        "demo_sandbox" if request.param == "salesforce" else "dv_demo"
    )
    return sb.connector()


def test_every_protocol_member_is_a_method_or_a_typed_value():
    kinds = {name: type(value).__name__ for name, value in members().items()}
    assert {name for name, kind in kinds.items() if kind == "property"} == set(VALUES)
    assert {"objects", "deleted_horizon", "read_limits"} <= set(kinds)
    assert set(kinds.values()) == {"property", "function"}


def test_each_connector_fills_the_protocol_member_by_member(conn: Connector):
    assert isinstance(conn, Connector)
    for name, declared in members().items():
        if isinstance(declared, property):
            assert isinstance(getattr(conn, name), VALUES[name]), name
            continue
        wanted = inspect.signature(declared)  # type: ignore[arg-type]
        found = inspect.signature(getattr(type(conn), name))
        shape = [(p.name, p.kind) for p in wanted.parameters.values()]
        assert [(p.name, p.kind) for p in found.parameters.values()] == shape, name
        for parameter in wanted.parameters.values():
            if parameter.default is not inspect.Parameter.empty:
                assert found.parameters[parameter.name].default == parameter.default, name


def test_objects_limits_and_deletion_horizon_have_one_shape(conn: Connector):
    obj = COMMON[conn.system]
    assert obj in conn.objects() and conn.objects() == sorted(conn.objects())
    limits = conn.read_limits()
    assert isinstance(limits, ApiLimits) and limits.detail and not limits.exhausted
    horizon = conn.deleted_horizon(obj)  # the object is named: no state from an earlier read
    assert horizon is None or (isinstance(horizon, datetime) and horizon.tzinfo is not None)
    assert conn.cursor_resumes == 0


def test_an_object_with_a_few_connector_names_is_not_a_connector():
    class Lookalike:  # what the old check took for a connector: describe, api_calls, system
        system = "salesforce"
        api_calls = 0

        def describe(self, name: str) -> None:
            return None

    with pytest.raises(ArgumentTypeError, match="conn must be a connector"):
        check_connector(Lookalike())
    with pytest.raises(ArgumentTypeError, match="conn must be a connector"):
        import_from_crm(Lookalike(), "Contact", fields=["LastName"])  # type: ignore[arg-type]
    with pytest.raises(ArgumentTypeError, match="conn must be a connector"):
        export_to_crm(Lookalike(), "Contact", pd.DataFrame({"LastName": ["x"]}))  # type: ignore[arg-type]


def test_the_store_and_the_results_meet_through_declared_protocols():
    store = CampaignStore()
    assert isinstance(store, JournalStore) and isinstance(store, OptionStore)
    fields = {name: None for name in ImportResult.__dataclass_fields__}
    imported = ImportResult(**fields)  # type: ignore[arg-type]
    assert isinstance(imported, IndexCompanions)
    deleted = DeletedResult(**{name: None for name in DeletedResult.__dataclass_fields__})  # type: ignore[arg-type]
    assert isinstance(deleted, Deletions)
    assert not isinstance(pd.DataFrame(), Deletions | JournalStore | OptionStore)


def test_the_step_kinds_with_rejects_retry_and_dry_run_are_those_whose_spec_has_them():
    for spec in STEP_KINDS.values():
        assert ("rejects" in spec.model_fields) == issubclass(spec, WITH_REJECTS), spec
        assert ("retry" in spec.model_fields) == issubclass(spec, WITH_RETRY), spec
        assert ("dry_run" in spec.model_fields) == issubclass(spec, WITH_DRY_RUN), spec


def sniffs(path: pathlib.Path, root: pathlib.Path = PACKAGE) -> list[str]:
    """``hasattr`` calls, ``getattr`` of a literal name, ``getattr`` on a connector or store."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args):
            continue
        target = ast.unparse(node.args[0])
        literal = len(node.args) > 1 and isinstance(node.args[1], ast.Constant)
        if node.func.id == "hasattr" or (
            node.func.id == "getattr" and (literal or SNIFFED.search(target))
        ):
            found.append(f"{path.relative_to(root)}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_caller_sniffs_a_connector_or_a_store():
    paths = [p for name in CALLERS for p in sorted((PACKAGE / name).rglob("*.py"))] + [
        PACKAGE / name for name in CALLERS if name.endswith(".py")
    ]
    assert len(paths) > 30  # the folders are there: a moved folder must move here too
    wrong = [line for path in paths for line in sniffs(path)]
    assert not wrong, "declare it on a protocol instead:\n" + "\n".join(wrong)


def test_the_scan_catches_the_old_sniffing(tmp_path: pathlib.Path):
    old = tmp_path / "old.py"
    old.write_text(
        'resumes = getattr(conn, "cursor_resumes", 0)\n'
        'ok = hasattr(journal, "merge")\n'
        "value = getattr(self.store, name)\n"
        "fine = getattr(spec, name)\n"
    )
    assert [line.split(": ", 1)[1] for line in sniffs(old, tmp_path)] == [
        "getattr(conn, 'cursor_resumes', 0)",
        "hasattr(journal, 'merge')",
        "getattr(self.store, name)",
    ]
