"""Test support lives in one place: no test file imports another test file.

Builders and rigs are in ``simulators.testbed``, fixtures in tests/conftest.py; a test file
that imported another (``tests.…``, a sibling module, a relative import, or a module loaded
with ``pytest_plugins``) would make a second home for them.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _test_modules() -> set[str]:
    """The names pytest lets files under tests/ be imported by: each module's stem, and each
    package's folder (the test folders are no packages: they put themselves on sys.path)."""
    return {path.stem for path in TESTS.rglob("*.py")} - {"__init__"} | {
        path.parent.name for path in TESTS.rglob("__init__.py")
    }


def reaching_into_tests(source: str, siblings: set[str]) -> list[str]:
    """What ``source`` imports from test files: ``tests.…``, a module named like a test file,
    a relative import, or a ``pytest_plugins`` entry."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.append("." * node.level + (node.module or ""))
                continue
            names = [node.module or ""]
        elif isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "pytest_plugins"
            for target in node.targets
        ):
            found += [
                str(item.value)
                for item in ast.walk(node.value)
                if isinstance(item, ast.Constant) and isinstance(item.value, str)
            ]
        for name in names:
            top = name.split(".", 1)[0]
            if top == "tests" or top in siblings:
                found.append(name)
    return found


def test_no_file_under_tests_imports_another_test_file() -> None:
    # Given every Python file under tests/ and the names its files could be imported by
    siblings = _test_modules() - {"tests"}
    files = sorted(TESTS.rglob("*.py"))
    assert len(files) > 50
    # Then none of them imports another: support comes from simulators.testbed and conftest.py
    offenders = {
        path.relative_to(TESTS).as_posix(): found
        for path in files
        if (found := reaching_into_tests(path.read_text(encoding="utf-8"), siblings))
    }
    assert offenders == {}


def test_every_way_of_reaching_into_a_test_file_is_caught() -> None:
    # Given the ways a test file has reached into another
    source = "\n".join(
        [
            "from tests.integration.qbo_rig import qbo_rig",
            "import tests.unit.test_qbxml",
            "from infra_synth import Synth",
            "from . import helpers",
            'pytest_plugins = ("tests.integration.qbo_sim_fixtures",)',
            "from simulators.testbed.orders import make_order",
            "import pytest",
        ]
    )
    # When the file is read
    found = reaching_into_tests(source, {"infra_synth", "helpers"})
    # Then each is named, and imports of the support package and libraries are not
    assert found == [
        "tests.integration.qbo_rig",
        "tests.unit.test_qbxml",
        "infra_synth",
        ".",
        "tests.integration.qbo_sim_fixtures",
    ]
