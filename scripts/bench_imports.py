"""Cold import of each handler module against bare ``import boto3, aws_lambda_powertools``.

Each figure is a whole fresh interpreter (``python -c "import functions.<name>.handler"``) with
the environment a deployed function has (the example tenant, every table and queue name, the
Powertools variables, ``LAMBDA_TASK_ROOT``), tracing on as deployed and off
(POWERTOOLS_TRACE_DISABLED). AWS_ENDPOINT_URL points at a closed port: a module that called
AWS while importing would fail here instead of being timed.

Rounds run the bare import and every handler one after the other, so a busy machine slows all
alike; each figure is the median over rounds. The ratio is CPU time (user + system of the
child), which the other processes on a shared machine disturb far less than wall time.

Next to each handler, the same for its libraries alone (``LIBRARIES``, no project code): what
its cold import costs at the least while it uses them at import, so that the table shows how
much of a ratio is the project's and how much the libraries'.

``measure_imports()`` is what ``scripts/bench.py`` calls; run alone, this prints the table.

``--deployed`` (``measure_deployed()``) measures what Lambda loads instead of this venv: the
code asset of ``scripts/build_assets.py`` and the layer's dependencies installed for this
machine by the runtime's Python 3.13, each once with the bytecode the assets ship and once
without it (as they shipped before decision 77: Lambda cannot write ``__pycache__`` into its
read-only /var/task and /opt, so every cold start compiled every module it imported).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]

from connector import resources  # noqa: E402
from connector.config import load_tenant  # noqa: E402
from scripts.build_assets import (  # noqa: E402
    CODE_MOUNT,
    LAYER_MOUNT,
    build_code,
    bytecode_python,
    compile_bytecode,
    dependency_hash,
    runtime_dependencies,
)

BARE = "import boto3, aws_lambda_powertools"
# What the child prints after its import: how many modules it holds, and whether X-Ray is one.
REPORT = "; import sys; print(len(sys.modules), 'aws_xray_sdk' in sys.modules)"
# Where a call to AWS made while importing would go: nothing listens on port 9 (discard).
NO_AWS = "http://127.0.0.1:9"
TARGET_RATIO = 1.5
# The libraries each function's handler imports, with none of the project's code: the least
# its cold import costs while it uses them at import (the "libraries" column). Pydantic is
# every function's (settings, tenant and messages); Powertools' event handler the API
# functions'; httpx the functions calling stores or QuickBooks Online; the batch utility,
# the SQS record model and idempotency the sync worker's; lxml and cryptography (Web
# Connector passwords) the Web Connector's.
_PYDANTIC = "from pydantic import BaseModel, Field"
_RESOLVER = "import aws_lambda_powertools.event_handler"
TRACER = (
    "from aws_lambda_powertools import Tracer; Tracer(service='bench', patch_modules=('botocore',))"
)
LIBRARIES: dict[str, str] = {
    "ingest": f"{_RESOLVER}; {_PYDANTIC}",
    "sync": (
        "import aws_lambda_powertools.utilities.batch; "
        "from aws_lambda_powertools.utilities.parser.models import SqsRecordModel; "
        f"import aws_lambda_powertools.utilities.idempotency; {_PYDANTIC}; import httpx"
    ),
    "oauth": f"{_RESOLVER}; {_PYDANTIC}; import httpx",
    "qbo_token": f"{_PYDANTIC}; import httpx",
    "qbwc": (
        f"{_RESOLVER}; {_PYDANTIC}; import lxml.etree; "
        "import cryptography.hazmat.primitives.kdf.scrypt"
    ),
    "reconcile": f"{_PYDANTIC}; import httpx",
}


@dataclass(frozen=True)
class ImportTime:
    """One module's cold import, medians over the rounds."""

    name: str  # "bare" or the function's name
    code: str
    tracing: bool
    wall_s: float
    cpu_s: float
    modules: int
    xray: bool
    # CPU time over the bare import's, with the same tracing (1.0 for the bare row).
    ratio: float
    # The same for the function's libraries alone (LIBRARIES), None for the bare row.
    libraries_ratio: float | None = None


def deployed_environment(*, tracing: bool) -> dict[str, str]:
    """A deployed function's variables (infra.stack and infra.functions), AWS out of reach."""
    tenant = load_tenant(ROOT / "tenants" / "example.toml")
    queue = "https://sqs.us-east-1.amazonaws.com/123456789012/ml-connector-example-sync.fifo"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'shared'}",
        resources.ENV_TENANT: tenant.tenant,
        resources.ENV_TENANT_CONFIG: tenant.model_dump_json(),
        resources.ENV_SECRET_PREFIX: resources.secret_prefix(tenant.tenant),
        resources.ENV_PUBLIC_BASE_URL: "https://abc123.execute-api.us-east-1.amazonaws.com/prod",
        resources.ENV_SYNC_QUEUE_URL: queue,
        resources.ENV_SYNC_DLQ_URL: queue.replace("-sync", "-sync-dlq"),
        **{spec.env_var: f"ml-connector-example-{spec.logical_id}" for spec in resources.TABLES},
        "POWERTOOLS_SERVICE_NAME": resources.SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": "MlConnector",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "PYDANTIC_DISABLE_PLUGINS": "__all__",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIAIMPORTBENCH",
        "AWS_SECRET_ACCESS_KEY": "not-a-secret",
        "AWS_LAMBDA_FUNCTION_NAME": "ml-connector-example-bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "LAMBDA_TASK_ROOT": str(ROOT),
        resources.ENV_AWS_ENDPOINT_URL: NO_AWS,
    }
    if not tracing:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
    return env


def _run_once(
    code: str, env: dict[str, str], python: str = sys.executable
) -> tuple[float, float, int, bool]:
    """(wall seconds, CPU seconds, modules held, X-Ray imported) of one fresh interpreter."""
    # The children's usage grows by exactly this child's once it is reaped (one at a time).
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([python, "-c", code + REPORT], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{code!r} failed:\n{done.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    modules, xray = done.stdout.split()
    return wall, cpu, int(modules), xray == "True"


def measure_imports(rounds: int = 7, tracing: tuple[bool, ...] = (False, True)) -> list[ImportTime]:
    """The bare import and each deployed handler module's, for each tracing setting."""
    rows: list[ImportTime] = []
    for traced in tracing:
        env = deployed_environment(tracing=traced)
        targets = [("bare", BARE)] + [
            (spec.name, f"import {spec.handler.rpartition('.')[0]}") for spec in resources.FUNCTIONS
        ]
        # Where it traces, a handler also has Powertools' Tracer, patching botocore (httpx is
        # patched by the first HTTP client, connector.observability.trace_http).
        tracer = f"; {TRACER}" if traced else ""
        targets += [(f"{n} libraries", f"{BARE}; {code}{tracer}") for n, code in LIBRARIES.items()]
        samples: dict[str, list[tuple[float, float, int, bool]]] = {n: [] for n, _ in targets}
        for _ in range(rounds):
            for name, code in targets:
                samples[name].append(_run_once(code, env))
        bare_cpu = statistics.median(s[1] for s in samples["bare"])
        for name, code in targets:
            if name.endswith(" libraries"):
                continue
            runs = samples[name]
            cpu = statistics.median(s[1] for s in runs)
            libraries = samples.get(f"{name} libraries")
            rows.append(
                ImportTime(
                    name=name,
                    code=code,
                    tracing=traced,
                    wall_s=statistics.median(s[0] for s in runs),
                    cpu_s=cpu,
                    modules=runs[-1][2],
                    xray=runs[-1][3],
                    ratio=cpu / bare_cpu,
                    libraries_ratio=(
                        statistics.median(s[1] for s in libraries) / bare_cpu if libraries else None
                    ),
                )
            )
    return rows


def print_table(rows: list[ImportTime], rounds: int) -> None:
    print(
        f"cold import, whole process (median of {rounds} rounds; x bare = CPU time over "
        f"`{BARE}`'s; target <= {TARGET_RATIO}x; libraries = the function's libraries alone)"
    )
    for traced in sorted({row.tracing for row in rows}):
        print(f"  tracing {'on (as deployed)' if traced else 'off'}")
        print(
            f"    {'module':<12} {'wall ms':>8} {'cpu ms':>8} {'x bare':>7} {'libraries':>10} "
            f"{'modules':>8}  X-Ray"
        )
        for row in (r for r in rows if r.tracing == traced):
            libraries = "" if row.libraries_ratio is None else f"{row.libraries_ratio:.2f}"
            print(
                f"    {row.name:<12} {row.wall_s * 1000:8.1f} {row.cpu_s * 1000:8.1f} "
                f"{row.ratio:7.2f} {libraries:>10} {row.modules:8d}  {'yes' if row.xray else 'no'}"
            )


BENCH_BUILD = ROOT / "build" / "bench"


@dataclass(frozen=True)
class DeployedImport:
    """One module's cold import from the deployed layout, CPU medians with and without bytecode."""

    name: str
    cpu_s: float
    source_cpu_s: float  # the same modules without their bytecode: compiled at every start
    ratio: float
    source_ratio: float


def _stamped(stamp: Path) -> str:
    """The digest a stamp file holds ("" when absent: an interrupted build left none)."""
    return stamp.read_text(encoding="utf-8").strip() if stamp.exists() else ""


def deployed_layout(python: str) -> dict[bool, tuple[Path, Path]]:
    """{with bytecode: (code, site)}: the code asset and the layer's dependencies for this
    machine (installed by ``python``, once per dependency list), with and without bytecode."""
    dependencies = runtime_dependencies()
    site = BENCH_BUILD / "layer-source" / "python"
    stamp = BENCH_BUILD / "layer.sha256"
    compiled_stamp = BENCH_BUILD / "layer.sha256.compiled"
    digest = dependency_hash(dependencies)
    if not site.is_dir() or _stamped(stamp) != digest:
        shutil.rmtree(site.parent, ignore_errors=True)
        command = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        command += ["--no-compile", "--target", str(site), *dependencies]
        subprocess.run(command, check=True)
        stamp.write_text(digest + "\n", encoding="utf-8")
    source_code = build_code(out=BENCH_BUILD / "code-source")
    compiled_code = BENCH_BUILD / "code"
    shutil.rmtree(compiled_code, ignore_errors=True)
    shutil.copytree(source_code, compiled_code)
    compile_bytecode(compiled_code, CODE_MOUNT, python)
    compiled_site = BENCH_BUILD / "layer" / "python"
    if not compiled_site.is_dir() or _stamped(compiled_stamp) != digest:
        shutil.rmtree(compiled_site, ignore_errors=True)
        shutil.copytree(site, compiled_site)
        compile_bytecode(compiled_site, LAYER_MOUNT, python)
        compiled_stamp.write_text(digest + "\n", encoding="utf-8")
    return {True: (compiled_code, compiled_site), False: (source_code, site)}


def measure_deployed(rounds: int = 5) -> list[DeployedImport]:
    """Bare and each handler imported by Python 3.13 from the deployed layout, tracing off."""
    python = bytecode_python()
    if python is None:
        raise SystemExit("--deployed needs a CPython 3.13 (set CONNECTOR_BYTECODE_PYTHON)")
    layouts = deployed_layout(python)
    targets = [("bare", BARE)] + [
        (spec.name, f"import {spec.handler.rpartition('.')[0]}") for spec in resources.FUNCTIONS
    ]
    samples: dict[tuple[str, bool], list[float]] = {}
    for _ in range(rounds):
        for compiled, (code, site) in layouts.items():
            env = deployed_environment(tracing=False)
            # Lambda's order: the function's code, then the layer; nothing may write bytecode.
            env.update(
                PYTHONPATH=f"{code}{os.pathsep}{site}",
                LAMBDA_TASK_ROOT=str(code),
                PYTHONDONTWRITEBYTECODE="1",
                PYTHONNOUSERSITE="1",
            )
            for name, statement in targets:
                cpu = _run_once(statement, env, python)[1]
                samples.setdefault((name, compiled), []).append(cpu)
    median = {key: statistics.median(values) for key, values in samples.items()}
    return [
        DeployedImport(
            name=name,
            cpu_s=median[(name, True)],
            source_cpu_s=median[(name, False)],
            ratio=median[(name, True)] / median[("bare", True)],
            source_ratio=median[(name, False)] / median[("bare", False)],
        )
        for name, _ in targets
    ]


def print_deployed(rows: list[DeployedImport], rounds: int) -> None:
    print(
        f"cold import as deployed (Python 3.13, the code asset and the layer's packages for this "
        f"machine; CPU ms, median of {rounds}; tracing off)"
    )
    print(f"    {'module':<12} {'bytecode shipped':>18} {'no bytecode':>16} {'saved ms':>9}")
    for row in rows:
        print(
            f"    {row.name:<12} {row.cpu_s * 1000:8.1f} ({row.ratio:4.2f}x) "
            f"{row.source_cpu_s * 1000:8.1f} ({row.source_ratio:4.2f}x) "
            f"{(row.source_cpu_s - row.cpu_s) * 1000:9.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--deployed", action="store_true", help="measure the deployed layout on Python 3.13"
    )
    args = parser.parse_args()
    if args.deployed:
        print_deployed(measure_deployed(args.rounds), args.rounds)
        return
    print_table(measure_imports(args.rounds), args.rounds)


if __name__ == "__main__":
    main()
