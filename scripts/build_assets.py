"""Build the Lambda code asset and dependency layer without Docker.

    build/lambda/code/               functions/ and shared/connector/ (as package `connector`,
                                     without the local runtime and the laptop CLI)
    build/lambda/layer/python/...    pyproject's [project] dependencies as Linux arm64 wheels

The layer comes from pip's platform wheels (`--platform ... --only-binary=:all:`), so
it builds on any OS. pip runs only when the dependency list, or the target it is
installed for, changed since the last build (a stamp file holds their hash); the code
is copied afresh every time because copying is cheap and a stale asset would deploy
old code.

Usage: python scripts/build_assets.py [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / "build" / "lambda"
CODE_DIR = BUILD_DIR / "code"
LAYER_DIR = BUILD_DIR / "layer"
LAYER_STAMP = BUILD_DIR / "layer.sha256"

# The Lambda runtime the stack deploys: Python 3.13 on arm64 (Amazon Linux 2023, glibc 2.34).
PYTHON_VERSION = "3.13"
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")
# The local runtime (moto server, simulated services) and the laptop CLI (cli.py and its
# cli_*.py helpers) never run in Lambda.
EXCLUDED_FROM_CODE = ("local", "cli.py", "cli_*.py")


def runtime_dependencies(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The [project] dependencies: what the functions import at run time."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    return list(data["project"]["dependencies"])


def dependency_hash(dependencies: list[str]) -> str:
    """Hash of everything that decides the layer's content."""
    key = {"dependencies": sorted(dependencies), "python": PYTHON_VERSION, "platforms": PLATFORMS}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def build_code(root: Path = ROOT, out: Path = CODE_DIR) -> Path:
    """Copy functions/ and shared/connector/ into a fresh code asset directory."""
    staging = out.with_name(out.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(root / "functions", staging / "functions", ignore=IGNORED)
    shutil.copytree(
        root / "shared" / "connector",
        staging / "connector",
        ignore=lambda d, names: [*IGNORED(d, names), *_excluded(root, d, names)],
    )
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return out


def _excluded(root: Path, directory: str, names: list[str]) -> list[str]:
    if Path(directory).resolve() != (root / "shared" / "connector").resolve():
        return []
    return [n for n in names if any(fnmatch(n, pattern) for pattern in EXCLUDED_FROM_CODE)]


def build_layer(
    dependencies: list[str],
    out: Path = LAYER_DIR,
    stamp: Path = LAYER_STAMP,
    *,
    force: bool = False,
) -> bool:
    """Install the dependencies as arm64 wheels into out/python; False when already current."""
    digest = dependency_hash(dependencies)
    current = stamp.read_text(encoding="utf-8").strip() if stamp.exists() else ""
    if not force and current == digest and (out / "python").is_dir():
        return False
    staging = out.with_name(out.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    platform_args = [arg for p in PLATFORMS for arg in ("--platform", p)]
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        *platform_args,
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        "--only-binary=:all:",
        "--target",
        str(staging / "python"),
        *dependencies,
    ]
    subprocess.run(command, check=True)
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    stamp.write_text(digest + "\n", encoding="utf-8")
    return True


def build_assets(root: Path = ROOT, *, force: bool = False) -> tuple[Path, Path]:
    """Build both assets; returns (code directory, layer directory)."""
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    build_layer(runtime_dependencies(root / "pyproject.toml"), force=force)
    return build_code(root), LAYER_DIR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--force", action="store_true", help="reinstall the layer even if current")
    args = parser.parse_args(argv)
    code, layer = build_assets(force=args.force)
    print(f"code asset:  {code.relative_to(ROOT)}")
    print(f"layer asset: {layer.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
