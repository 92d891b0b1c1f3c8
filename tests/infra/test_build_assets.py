"""scripts/build_assets.py: the code asset's layout and the arm64 / Python 3.13 layer."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from infra.functions import LambdaAssets
from scripts.build_assets import LAYER_STAMP, build_layer, dependency_hash, runtime_dependencies


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
    assert not list(code.rglob("__pycache__"))


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
