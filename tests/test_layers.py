"""The layers of DESIGN §2, guarded: imports point downward only, and the core stays pure.

pure core ← edges (connectors, store, sandbox) ← operations ← runner / widgets / CLI / demo.
The protocols (``connectors/base.py``, ``store/protocols.py``, types only) belong to the
core: the operations are written over them. One exception is by design: the sandbox service
hands out a connected connector (``Sandbox.connector()``), so it may build connectors.
Within the top layer: accounts / check ← runner ← widgets ← CLI, demo, the package root.

The core is every module not in an edge, the operations or the top layer, so a new module
is checked as core until it is placed: it imports no I/O library (sockets, HTTP, TLS,
databases, processes, temporary files) and calls nothing that opens, reads, writes or
looks at a file. An AST scan rather than import-linter contracts: import-linter needs every
core module listed by name (a new one would escape), and this runs with the suite.
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
PROTOCOLS = {"crmframes.connectors.base", "crmframes.store.protocols"}  # types only: core
# The top layer's own order: a module imports its own package or a lower rank only.
TOP_RANK = {"accounts": 0, "check": 0, "runner": 1, "widgets": 2, "demo": 2, "cli": 3}
TOP_RANK |= {"__init__": 4, "__main__": 4}
# Libraries that reach outside the process: network, TLS, HTTP, databases, processes, files.
IO_LIBRARIES = {
    "socket", "ssl", "http", "urllib3", "requests", "httpx", "aiohttp", "asyncio", "selectors",
    "socketserver", "ftplib", "smtplib", "duckdb", "sqlite3", "psycopg", "psycopg2",
    "adbc_driver_manager", "adbc_driver_postgresql", "simple_salesforce", "msal", "trustme",
    "subprocess", "multiprocessing", "shutil", "tempfile", "filelock", "keyring", "io",
}  # fmt: skip
IO_SUBMODULES = {"urllib.request", "urllib.error", "pyarrow.parquet", "pyarrow.csv",
                 "pyarrow.fs", "pyarrow.dataset", "pyarrow.feather", "pyarrow.ipc"}  # fmt: skip
# Calls that open, read, write, list or look at files (pathlib, os, pandas, matplotlib).
FILE_CALLS = {
    "open", "read_text", "write_text", "read_bytes", "write_bytes", "mkdir", "rmdir",
    "unlink", "touch", "rename", "fsync", "remove", "makedirs", "listdir", "scandir",
    "iterdir", "glob", "rglob", "is_dir", "is_file", "exists", "stat", "to_csv", "read_csv",
    "to_parquet", "read_parquet", "to_excel", "read_excel", "to_pickle", "read_pickle",
    "to_feather", "savefig", "connect", "urlopen",
}  # fmt: skip
# (module, call) pairs the core may make, each with its reason.
FILE_CALLS_ALLOWED = {
    ("crmframes.arguments", "is_dir"),  # check_path: a path naming a folder fails at once
}


def layer(module: str) -> str:
    parts = module.split(".")[1:] or ["__init__"]
    if module in PROTOCOLS:
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


def top_rank(module: str) -> int:
    parts = module.split(".")[1:] or ["__init__"]
    return TOP_RANK[parts[0]]


def test_the_top_layer_imports_downward_only():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        if layer(name) != "top":
            continue
        package = (name.split(".")[1:] or ["__init__"])[0]
        for target in sorted(imports(path)):
            if layer(target) != "top" or (target.split(".")[1:] or ["__init__"])[0] == package:
                continue
            if top_rank(target) >= top_rank(name):
                wrong.append(f"{name} imports {target}")
    assert not wrong, "upward or sideways imports in the top layer:\n" + "\n".join(wrong)


def core_modules() -> list[tuple[str, ast.Module]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        if layer(name) == "core":
            found.append((name, ast.parse(path.read_text())))
    return found


def io_imports(name: str, tree: ast.Module) -> list[str]:
    wrong = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        wrong += [
            f"{name} imports {n}"
            for n in names
            if n.split(".")[0] in IO_LIBRARIES or ".".join(n.split(".")[:2]) in IO_SUBMODULES
        ]
    return wrong


def file_calls(name: str, tree: ast.Module) -> list[str]:
    wrong = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if called in FILE_CALLS and (name, called) not in FILE_CALLS_ALLOWED:
            wrong.append(f"{name}:{node.lineno} calls {ast.unparse(func)}")
    return wrong


def test_the_core_opens_no_socket_file_or_database():
    modules = core_modules()
    assert {"crmframes.frames", "crmframes.filters", "crmframes.connectors.base"} <= {
        name for name, _ in modules
    }
    wrong = [line for name, tree in modules for line in io_imports(name, tree)]
    wrong += [line for name, tree in modules for line in file_calls(name, tree)]
    assert not wrong, "the pure core reaches outside the process:\n" + "\n".join(wrong)


def test_the_purity_scan_catches_io():
    tree = ast.parse(
        "import socket\n"
        "from urllib.request import urlopen\n"
        "from urllib.parse import quote\n"
        "from pyarrow import parquet\n"
        "import duckdb as db\n"
        "with open('x') as f: pass\n"
        "Path('x').write_text('y')\n"
        "df.to_parquet('x.parquet')\n"
        "quote('a b')\n"
    )
    assert io_imports("m", tree) == [
        "m imports socket",
        "m imports urllib.request",
        "m imports urllib.request.urlopen",
        "m imports pyarrow.parquet",
        "m imports duckdb",
    ]
    assert sorted(line.split(" calls ")[1] for line in file_calls("m", tree)) == [
        "Path('x').write_text",
        "df.to_parquet",
        "open",
    ]
