"""scripts/build_assets.py: the code asset's layout and the arm64 / Python 3.13 layer."""

from __future__ import annotations

from infra.functions import LambdaAssets
from scripts.build_assets import LAYER_STAMP, build_layer, dependency_hash, runtime_dependencies


def test_code_asset_holds_functions_and_the_library_without_the_local_runtime(
    lambda_assets: LambdaAssets,
):
    code = lambda_assets.code_dir
    for name in ("ingest", "sync", "oauth", "qbo_token"):
        assert (code / "functions" / name / "handler.py").is_file()
    assert (code / "connector" / "resources.py").is_file()
    assert (code / "connector" / "config.py").is_file()
    assert not (code / "connector" / "local").exists()
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
