"""The layers of DESIGN §2, guarded: imports point downward only.

pure core ← edges (connectors, store, sandbox) ← operations ← runner / widgets / CLI / demo.
The Connector protocol (``connectors/base.py``, types only) belongs to the core: the
operations are written over it. One exception is by design: the sandbox service hands out a
connected connector (``Sandbox.connector()``), so it may build connectors.
"""

from __future__ import annotations

import ast
import pathlib

import crmframes

PACKAGE = pathlib.Path(crmframes.__file__).parent
EDGES = ("connectors", "store", "sandbox")
TOP = ("runner", "widgets", "cli", "check", "demo", "accounts", "__init__", "__main__")
ALLOWED = {
    "core": {"core"},
    "connectors": {"core", "connectors"},
    "store": {"core", "store"},
    "sandbox": {"core", "sandbox"},
    "operations": {"core", "operations"},
}
EXCEPTIONS = {("crmframes.sandbox.service", "connectors")}  # Sandbox.connector()


def layer(module: str) -> str:
    parts = module.split(".")[1:] or ["__init__"]
    if module == "crmframes.connectors.base":
        return "core"
    if parts[0] in EDGES:
        return parts[0]
    if parts[0] == "operations":
        return "operations"
    return "top" if parts[0] in TOP else "core"


def imports(path: pathlib.Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("crmframes")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("crmframes"):
            assert node.module is not None
            if node.module == "crmframes":  # from crmframes import display: the submodule
                found |= {f"crmframes.{a.name}" for a in node.names}
            else:
                found.add(node.module)
    return found


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts).removesuffix(".__init__")


def test_imports_point_downward_only():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        here = layer(name)
        if here == "top":
            continue
        for target in sorted(imports(path)):
            there = layer(target)
            if there not in ALLOWED[here] and (name, there) not in EXCEPTIONS:
                wrong.append(f"{name} ({here}) imports {target} ({there})")
    assert not wrong, "upward or sideways imports:\n" + "\n".join(wrong)


def test_the_core_opens_no_socket_file_or_database():
    io = {"socket", "ssl", "requests", "urllib3", "http", "duckdb", "simple_salesforce", "msal"}
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        if layer(name) != "core":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            wrong += [f"{name} imports {n}" for n in names if n.split(".")[0] in io]
    assert not wrong, "\n".join(wrong)
