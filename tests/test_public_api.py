import ast
import importlib
import pathlib

import crmframes

PACKAGE = pathlib.Path(crmframes.__file__).parent
PURE_MODULES = [
    "errors.py",
    "settings.py",
    "dedupe/__init__.py",
    "dedupe/clusters.py",
    "dedupe/evaluate.py",
    "dedupe/matching.py",
    "dedupe/nicknames.py",
    "dedupe/normalize.py",
    "dedupe/scoring.py",
    "dedupe/survivors.py",
]
IO_LIBRARIES = {
    "socket",
    "ssl",
    "requests",
    "duckdb",
    "urllib3",
    "http",
    "simple_salesforce",
    "msal",
}


def test_all_is_sorted_and_complete():
    assert crmframes.__all__ == sorted(crmframes.__all__)
    public = {n for n in vars(crmframes) if not n.startswith("_") and n != "annotations"}
    modules = {n for n in public if type(getattr(crmframes, n)).__name__ == "module"}
    assert public - modules == set(crmframes.__all__) - {"__version__"}


def test_every_name_in_all_resolves():
    for name in crmframes.__all__:
        assert getattr(crmframes, name) is not None


def test_every_module_has_a_docstring_and_all():
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        assert ast.get_docstring(tree), f"{path} has no module docstring"
        names = set()
        for node in tree.body:
            if isinstance(node, ast.Assign):
                names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
        assert "__all__" in names, f"{path} has no __all__"


def test_pure_modules_import_no_io_library():
    for name in PURE_MODULES:
        tree = ast.parse((PACKAGE / name).read_text())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
        assert not imported & IO_LIBRARIES, f"{name} imports {imported & IO_LIBRARIES}"


def test_no_module_exceeds_the_size_ceiling():
    for path in PACKAGE.rglob("*.py"):
        assert len(path.read_text().splitlines()) <= 800, (
            f"{path} is over 800 lines; split it by concept"
        )


def test_submodules_import_cleanly():
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        importlib.import_module(module.removesuffix(".__init__"))
