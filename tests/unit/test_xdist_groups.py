"""`make test` runs the layers on pytest-xdist workers: a module never spreads over two.

A module's tests build on each other through its module-scoped rig (a replay after the park,
a second order of a company whose tax codes the first one cached): spread over two workers,
each worker starts a rig of its own and a later test finds none of what the earlier ones did.
The whole infra layer shares one worker too (each synth reads build/lambda). Run here on
throwaway modules with tests/conftest.py as the plugin, as `make test` runs the suite.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
MODULES = ("infra/test_synth_a.py", "infra/test_synth_b.py", "test_rig_c.py", "test_rig_d.py")
PASSED = re.compile(r"^\[(gw\d+)\] .*PASSED (\S+?)::")


def test_each_module_and_the_infra_layer_run_on_one_worker(tmp_path: Path) -> None:
    # Given two infra modules and two others, six tests each, outside this suite's rootdir
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    for module in MODULES:
        path = tmp_path / module
        path.parent.mkdir(exist_ok=True)
        path.write_text("".join(f"def test_{n}() -> None:\n    pass\n\n" for n in range(6)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT / "shared")])}
    # When they run on two workers as `make test` runs the suite
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider",
         "-n", "2", "--dist", "loadgroup", "-v"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    # Then every test passed, each module's on one worker, both infra modules on the same one
    assert done.returncode == 0, done.stdout + done.stderr
    workers: dict[str, set[str]] = {}
    for line in done.stdout.splitlines():
        if found := PASSED.match(line):
            workers.setdefault(found.group(2), set()).add(found.group(1))
    assert sorted(workers) == sorted(MODULES), done.stdout
    assert all(len(ran_on) == 1 for ran_on in workers.values()), workers
    assert workers["infra/test_synth_a.py"] == workers["infra/test_synth_b.py"], workers
