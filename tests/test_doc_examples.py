"""Every docstring example in the library runs (``python -m doctest`` semantics, one test per module)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import autogt

MODULES = sorted(m.name for m in pkgutil.walk_packages(autogt.__path__, "autogt.") if not m.name.endswith("__main__"))
"""Every library module (``__main__`` modules run a program on import and are left out)."""


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name):
        runner.run(test, out=lambda s: None)  # failures are counted; the report comes from a re-run below
    failed, attempted = runner.summarize(verbose=False)
    if failed:
        report: list[str] = []
        rerun = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        for test in finder.find(module, name):
            rerun.run(test, out=report.append)
        pytest.fail(f"{failed} of {attempted} docstring examples failed in {name}:\n" + "".join(report))


def test_modules_were_found():
    assert len(MODULES) > 30 and "autogt.models._util" in MODULES
