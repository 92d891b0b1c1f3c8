"""scripts/build_assets.py: the code asset's layout and the arm64 / Python 3.13 layer."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from infra.functions import LambdaAssets
from scripts.build_assets import (
    CACHE_TAG,
    LAYER_BYTECODE_STAMP,
    LAYER_STAMP,
    build_layer,
    bytecode_python,
    compile_bytecode,
    dependency_hash,
    runtime_dependencies,
)

# Run by the runtime's Python over a directory: for each module, whether its bytecode is there,
# unchecked hash-based, of this very source, and names the path Lambda mounts.
_CHECK_BYTECODE = """
import importlib.util, json, marshal, pathlib, sys
root, mount = pathlib.Path(sys.argv[1]), sys.argv[2]
bad = []
for source in sorted(root.rglob("*.py")):
    cached = pathlib.Path(importlib.util.cache_from_source(str(source)))
    if not cached.is_file():
        bad.append(f"{source}: no bytecode")
        continue
    data = cached.read_bytes()
    flags = int.from_bytes(data[4:8], "little")
    code = marshal.loads(data[16:])
    expected = mount + "/" + source.relative_to(root).as_posix()
    if data[:4] != importlib.util.MAGIC_NUMBER or flags != 1:
        bad.append(f"{source}: not unchecked hash-based ({flags})")
    elif data[8:16] != importlib.util.source_hash(source.read_bytes()):
        bad.append(f"{source}: bytecode of another source")
    elif code.co_filename != expected:
        bad.append(f"{source}: names {code.co_filename}")
print(json.dumps(bad))
"""


def _bytecode_faults(python: str, directory: Path, mount: str) -> list[str]:
    done = subprocess.run(
        [python, "-c", _CHECK_BYTECODE, str(directory), mount],
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(done.stdout))


@pytest.fixture(scope="module")
def python313() -> str:
    found = bytecode_python()
    if found is None:
        pytest.skip("no CPython 3.13 on this machine: the assets build without bytecode")
    return found


def test_code_asset_holds_functions_and_the_library_without_the_local_runtime(
    lambda_assets: LambdaAssets,
):
    code = lambda_assets.code_dir
    for name in ("ingest", "sync", "oauth", "qbo_token", "reconcile"):
        assert (code / "functions" / name / "handler.py").is_file()
    assert (code / "connector" / "resources.py").is_file()
    assert (code / "connector" / "config.py").is_file()
    assert not (code / "connector" / "local").exists()
    assert not (code / "connector" / "cli.py").exists()
    assert not list((code / "connector").glob("cli_*.py")), "the CLI's helpers stay on the laptop"
    # Only the runtime's bytecode: a build machine's own (e.g. cpython-311) would never load.
    assert {p.name.split(".")[-2] for p in code.rglob("*.pyc")} <= {CACHE_TAG}


def test_code_asset_ships_the_runtimes_bytecode_for_every_module(
    lambda_assets: LambdaAssets, python313: str
):
    # /var/task is read-only: a module without its bytecode is compiled on every cold start.
    assert _bytecode_faults(python313, lambda_assets.code_dir, "/var/task") == []


def test_layer_ships_the_runtimes_bytecode_for_every_module(
    lambda_assets: LambdaAssets, python313: str
):
    site = lambda_assets.layer_dir / "python"
    assert LAYER_BYTECODE_STAMP.read_text(encoding="utf-8").strip() == CACHE_TAG
    for package in ("pydantic", "aws_lambda_powertools", "boto3", "httpx"):
        assert _bytecode_faults(python313, site / package, f"/opt/python/{package}") == []


def test_a_module_that_does_not_compile_is_reported(tmp_path: Path, python313: str):
    (tmp_path / "fine.py").write_text("VALUE = 1\n", encoding="utf-8")
    (tmp_path / "broken.py").write_text("def (:\n", encoding="utf-8")
    failed = compile_bytecode(tmp_path, "/var/task", python313)
    assert len(failed) == 1 and "broken.py" in failed[0]
    assert _bytecode_faults(python313, tmp_path, "/var/task") == [
        f"{tmp_path / 'broken.py'}: no bytecode"
    ]


def test_layer_holds_linux_arm64_cpython313_wheels(lambda_assets: LambdaAssets):
    site = lambda_assets.layer_dir / "python"
    for package in ("aws_lambda_powertools", "pydantic", "httpx", "lxml", "cryptography"):
        assert (site / package).is_dir(), package
    extensions = [p.name for p in (site / "pydantic_core").glob("*.so")]
    assert extensions, "pydantic_core has no compiled extension"
    assert all("cpython-313-aarch64-linux-gnu" in name for name in extensions), extensions


def test_layer_is_not_reinstalled_while_the_dependency_list_is_unchanged(
    lambda_assets: LambdaAssets,
):
    dependencies = runtime_dependencies()
    assert LAYER_STAMP.read_text(encoding="utf-8").strip() == dependency_hash(dependencies)
    assert build_layer(dependencies) is False


def test_dependency_hash_changes_with_the_dependency_list():
    dependencies = runtime_dependencies()
    assert dependency_hash(dependencies) == dependency_hash(list(reversed(dependencies)))
    assert dependency_hash(dependencies) != dependency_hash([*dependencies, "requests>=2"])


def _imports(tree: ast.Module) -> list[tuple[str, int]]:
    """Absolute imports of a module (name, line), leaving out `if TYPE_CHECKING:` blocks."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _resolvable(module: str, roots: list[Path]) -> bool:
    parts = module.split(".")
    for root in roots:
        base = root.joinpath(*parts)
        if base.with_suffix(".py").is_file() or (base / "__init__.py").is_file():
            return True
        # A name imported from a module (from connector.x import Thing) resolves to its parent.
        parent = root.joinpath(*parts[:-1])
        if len(parts) > 1 and parent.with_suffix(".py").is_file():
            return True
    return False


def test_code_asset_imports_only_itself_the_standard_library_and_the_layer(
    lambda_assets: LambdaAssets,
):
    # What Lambda can import: the code asset, the layer's packages, the standard library.
    code = lambda_assets.code_dir
    layer = lambda_assets.layer_dir / "python"
    layer_top = {p.name.removesuffix(".py") for p in layer.iterdir()} | {
        p.name.split(".")[0] for p in layer.glob("*.so")
    }
    missing = []
    for source in sorted(code.rglob("*.py")):
        for module, line in _imports(ast.parse(source.read_text(encoding="utf-8"))):
            top = module.split(".")[0]
            if top in sys.stdlib_module_names or top == "__future__":
                continue
            if top in {"functions", "connector"}:
                if not _resolvable(module, [code]):
                    missing.append(f"{source.relative_to(code)}:{line}: {module}")
            elif top not in layer_top:
                missing.append(f"{source.relative_to(code)}:{line}: {module} (not in the layer)")
    assert missing == []
