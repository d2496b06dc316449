"""The docstring examples run: every ``>>>`` in a crmframes module is a doctest, in CI.

The modules are found by walking the package, so a module that moves keeps its examples
run. Options as pytest's ``--doctest-modules`` defaults: ``...`` matches anything.
An example that needs a real CRM account says so with ``# doctest: +SKIP``.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import crmframes

MODULES = sorted(info.name for info in pkgutil.walk_packages(crmframes.__path__, "crmframes."))


def run_examples(name: str) -> tuple[int, str]:
    """Run the examples of module ``name``; return how many ran and the failures' report."""
    module = importlib.import_module(name)
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in doctest.DocTestFinder(exclude_empty=True).find(module, name):
        runner.run(test, out=report.append)
    return runner.tries, "".join(report)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str):
    _, failures = run_examples(name)
    assert not failures, failures


def test_the_package_has_examples_and_a_wrong_one_fails(monkeypatch: pytest.MonkeyPatch):
    tries = sum(run_examples(name)[0] for name in MODULES)
    assert tries >= 150  # issue 12 counted 151 ``>>>`` examples; none may silently vanish
    from crmframes.filters import literals

    wrong = literals.literal_family.__doc__
    assert wrong is not None
    monkeypatch.setattr(
        literals.literal_family, "__doc__", wrong.replace("'boolean'", "'number'", 1)
    )
    _, failures = run_examples("crmframes.filters.literals")
    assert "Expected:" in failures
