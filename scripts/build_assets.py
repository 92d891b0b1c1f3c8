"""Build the Lambda code asset and dependency layer without Docker.

    build/lambda/code/               functions/ and shared/connector/ (as package `connector`,
                                     without the local runtime and the laptop CLI)
    build/lambda/layer/python/...    pyproject's [project] dependencies as Linux arm64 wheels

Both are shipped compiled for the runtime's Python (3.13): Lambda's /var/task and /opt are
read-only, so a module without its bytecode is compiled from source on every cold start, and
that took the handlers' imports from ~0.25 s to ~0.65 s (decision 77). The bytecode is
hash-based and unchecked (the asset never changes in place, and zip drops the times a
timestamp check would compare) and names the paths Lambda mounts, so tracebacks read
/var/task/... and /opt/python/.... It needs a CPython 3.13 on the building machine
(``CONNECTOR_BYTECODE_PYTHON``, this interpreter, ``python3.13`` on PATH, or pyenv's); without
one the assets build as before and a warning says what the cold starts will pay.

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
import os
import shutil
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from glob import glob
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / "build" / "lambda"
CODE_DIR = BUILD_DIR / "code"
LAYER_DIR = BUILD_DIR / "layer"
LAYER_STAMP = BUILD_DIR / "layer.sha256"
# Written once the layer holds its bytecode, naming the cache tag it was compiled for.
LAYER_BYTECODE_STAMP = BUILD_DIR / "layer.bytecode"

# The Lambda runtime the stack deploys: Python 3.13 on arm64 (Amazon Linux 2023, glibc 2.34).
PYTHON_VERSION = "3.13"
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
# The bytecode the runtime loads (sys.implementation.cache_tag of Python 3.13).
CACHE_TAG = "cpython-313"
ENV_BYTECODE_PYTHON = "CONNECTOR_BYTECODE_PYTHON"
# Where Lambda mounts each asset: the source paths the bytecode records, for tracebacks.
CODE_MOUNT = "/var/task"
LAYER_MOUNT = "/opt/python"
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


def bytecode_python() -> str | None:
    """A CPython 3.13 interpreter to compile the assets with, or None when the machine has none."""
    candidates = [
        os.environ.get(ENV_BYTECODE_PYTHON, ""),
        sys.executable,
        shutil.which(f"python{PYTHON_VERSION}") or "",
        *sorted(
            glob(
                os.path.join(
                    os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv")),
                    "versions",
                    f"{PYTHON_VERSION}*",
                    "bin",
                    f"python{PYTHON_VERSION}",
                )
            ),
            reverse=True,
        ),
    ]
    for candidate in filter(None, candidates):
        try:
            tag = subprocess.run(
                [candidate, "-c", "import sys; print(sys.implementation.cache_tag)"],
                capture_output=True,
                text=True,
                timeout=30,
            ).stdout.strip()
        except OSError:
            continue
        if tag == CACHE_TAG:
            return candidate
    return None


def compile_bytecode(directory: Path, mount: str, python: str) -> list[str]:
    """Compile every module under ``directory`` with ``python`` (unchecked hash-based pycs
    recording ``mount`` as their source's directory); the files that did not compile, which
    would not import either (a wheel may carry templates or another Python's sources)."""
    done = subprocess.run(
        [
            python,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            "-s",
            str(directory),
            "-p",
            mount,
            str(directory),
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode == 0:
        return []
    return [line for line in done.stdout.splitlines() if line.startswith("*** Error compiling")]


def _warn(message: str) -> None:
    print(f"build_assets: {message}", file=sys.stderr)


def _no_bytecode_warning() -> None:
    _warn(
        f"no CPython {PYTHON_VERSION} found (set {ENV_BYTECODE_PYTHON}): the assets ship "
        "without bytecode, so every cold start compiles the modules it imports (~0.4 s more)"
    )


def compile_layer(
    out: Path = LAYER_DIR, stamp: Path = LAYER_BYTECODE_STAMP, *, python: str | None
) -> bool:
    """Compile the layer once per install; False when it already holds its bytecode or no
    interpreter was given."""
    if python is None:
        return False
    if stamp.exists() and stamp.read_text(encoding="utf-8").strip() == CACHE_TAG:
        return False
    failed = compile_bytecode(out / "python", LAYER_MOUNT, python)
    if failed:
        _warn(f"{len(failed)} layer files did not compile (never imported): {failed[:3]}")
    stamp.write_text(CACHE_TAG + "\n", encoding="utf-8")
    return True


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
    # A new install has no bytecode yet.
    LAYER_BYTECODE_STAMP.unlink(missing_ok=True)
    stamp.write_text(digest + "\n", encoding="utf-8")
    return True


def build_assets(root: Path = ROOT, *, force: bool = False) -> tuple[Path, Path]:
    """Build both assets; returns (code directory, layer directory)."""
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    build_layer(runtime_dependencies(root / "pyproject.toml"), force=force)
    python = bytecode_python()
    if python is None:
        _no_bytecode_warning()
    compile_layer(python=python)
    code = build_code(root)
    if python is not None:
        failed = compile_bytecode(code, CODE_MOUNT, python)
        if failed:
            raise SystemExit(f"build_assets: the code asset does not compile: {failed}")
    return code, LAYER_DIR


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
