"""A handler module imports only what its function needs (issue #12, cold starts).

Each handler is imported in a fresh interpreter with a deployed function's environment
(scripts/bench_imports.py, AWS out of reach) and what it left in ``sys.modules`` is checked:
no X-Ray SDK where tracing is off, no AWS client made at import, no store adapter or
QuickBooks ledger a function does not use. How long the imports take is ``make bench``'s
business, not a test's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache

import pytest

from connector import resources
from scripts.bench_imports import LIBRARIES, deployed_environment

STORE_ADAPTERS = (
    "connector.stores.woocommerce",
    "connector.stores.magento",
    "connector.stores.bigcommerce",
)
# What each function's module must not import: it never needs it, or not before its first
# record (store adapters come from the registry when a connection first needs one).
NOT_AT_IMPORT: dict[str, tuple[str, ...]] = {
    # QuickBooks Online's webhooks (one route) import theirs at the first one.
    "ingest": (*STORE_ADAPTERS, "connector.ledgers", "connector.ledger_webhooks", "httpx", "lxml"),
    # Powertools' batch utility imports the Kafka, Kinesis and DynamoDB stream parser models
    # (for its type hints) only if pydantic is loaded before it: the handler imports it first.
    "sync": (
        *STORE_ADAPTERS,
        "connector.ledgers.qbd",
        "lxml",
        "aws_lambda_powertools.utilities.parser.models.kafka",
        "aws_lambda_powertools.utilities.parser.models.kinesis",
    ),
    # It records the connected company (connector.ledger_realms), never ingests a webhook.
    "oauth": (*STORE_ADAPTERS, "connector.ledgers.qbd", "connector.ledger_webhooks", "lxml"),
    "qbo_token": (*STORE_ADAPTERS, "connector.ledgers.qbd", "lxml"),
    "qbwc": (*STORE_ADAPTERS, "connector.ledgers.qbo", "httpx"),
    "reconcile": (*STORE_ADAPTERS, "connector.ledgers", "lxml"),
}
# Never at import, in any function: settings come from a plain model over os.environ, and a
# function gets its tenant as JSON (tomllib is for tenant files, read by synth and the CLI).
NOWHERE = ("pydantic_settings", "tomllib")
# Models built at first validation (defer_build), and the functions that never validate them:
# their schemas must not be built while importing.
DEFERRED = (
    "connector.model.Order",
    "connector.model.Refund",
    "connector.ledger_records.LedgerItem",
)
NEVER_VALIDATE_ORDERS = ("ingest", "oauth", "qbo_token")


@cache
def imported(module: str, *, tracing: bool) -> tuple[bool, frozenset[str]]:
    """(boto3's default session still unmade, the modules held) after importing ``module``."""
    code = (
        f"import {module}; import boto3, json, sys; "
        "print(json.dumps([boto3.DEFAULT_SESSION is None, sorted(sys.modules)]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=deployed_environment(tracing=tracing),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    no_session, modules = json.loads(done.stdout)
    return no_session, frozenset(modules)


def _found(modules: frozenset[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(
        m
        for m in modules
        if any(m == p or m.startswith(f"{p}.") or m.startswith(f"{p}_") for p in prefixes)
    )


@pytest.mark.parametrize("spec", resources.FUNCTIONS, ids=lambda spec: spec.name)
def test_a_handler_imports_neither_x_ray_nor_what_its_function_does_not_use(
    spec: resources.FunctionSpec,
) -> None:
    module = spec.handler.rpartition(".")[0]
    no_session, modules = imported(module, tracing=False)
    assert not _found(modules, ("aws_xray_sdk",)), f"{module} imports the X-Ray SDK"
    assert no_session, f"{module} makes an AWS client while importing"
    unwanted = _found(modules, (*NOT_AT_IMPORT[spec.name], *NOWHERE))
    assert not unwanted, f"{module} imports {unwanted}"


def test_with_tracing_on_x_ray_patches_only_what_the_connector_calls_with() -> None:
    module = resources.INGEST.handler.rpartition(".")[0]
    no_session, modules = imported(module, tracing=True)
    assert "aws_xray_sdk.core" in modules
    assert no_session
    # patch_all would import and patch these; botocore is asked for at import, httpx by the
    # first HTTP client, which ingest never makes: it imports no httpx, traced or not.
    patched = {m.split(".")[2] for m in modules if m.startswith("aws_xray_sdk.ext.")}
    assert "botocore" in patched
    assert not patched & {"requests", "sqlite3", "pymongo", "psycopg2", "sqlalchemy_core"}
    assert "requests" not in modules
    assert not _found(modules, ("httpx",)), "ingest imports httpx where it traces"


def test_with_tracing_on_the_first_http_client_is_traced() -> None:
    module = resources.OAUTH.handler.rpartition(".")[0]
    code = (
        f"import {module} as handler, sys; "
        "before = 'aws_xray_sdk.ext.httpx' in sys.modules; "
        "client = handler.runtime.http; "
        "print(before, type(client).__name__, type(client).__module__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=deployed_environment(tracing=True),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    # X-Ray's httpx patch swaps httpx.Client for its instrumented subclass before the client.
    assert done.stdout.split() == ["False", "_InstrumentedClient", "aws_xray_sdk.ext.httpx.patch"]


@cache
def built(module: str) -> tuple[bool, dict[str, bool], bool]:
    """(pydantic's plugin scan still not run, whether each DEFERRED model is built, whether
    the garbage collector runs once the module has loaded)."""
    code = (
        f"import {module}; import gc, importlib, json; "
        "from pydantic.plugin import _loader; "
        f"names = {list(DEFERRED)!r}; "
        "found = {n: getattr(importlib.import_module(n.rpartition('.')[0]), "
        "n.rpartition('.')[2]).__pydantic_complete__ for n in names}; "
        "print(json.dumps([_loader._plugins is None, found, gc.isenabled()]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=deployed_environment(tracing=False),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    unscanned, models, collecting = json.loads(done.stdout)
    return unscanned, models, collecting


@pytest.mark.parametrize("spec", resources.FUNCTIONS, ids=lambda spec: spec.name)
def test_a_cold_start_neither_scans_for_pydantic_plugins_nor_builds_models_it_never_validates(
    spec: resources.FunctionSpec,
) -> None:
    module = spec.handler.rpartition(".")[0]
    unscanned, models, collecting = built(module)
    # The collector is paused while a handler loads (connector.coldstart), never after.
    assert collecting, f"{module} left the garbage collector off"
    # PYDANTIC_DISABLE_PLUGINS, as deployed: no walk over every installed package's metadata.
    assert unscanned, f"{module} scanned the installed packages for pydantic plugins"
    if spec.name in NEVER_VALIDATE_ORDERS:
        assert not any(models.values()), f"{module} built {models} while importing"
    # Records from QuickBooks for the store are built by the first one, in every function.
    assert not models["connector.ledger_records.LedgerItem"]


@pytest.mark.parametrize("spec", resources.FUNCTIONS, ids=lambda spec: spec.name)
def test_the_benchmarks_libraries_row_imports_only_what_the_handler_imports(
    spec: resources.FunctionSpec,
) -> None:
    # make bench's "libraries" figure is a floor only if the handler does import all of it.
    named = {
        part.split()[1].rstrip(";")
        for part in LIBRARIES[spec.name].split(";")
        if part.split() and part.split()[0] in ("import", "from")
    }
    _, modules = imported(spec.handler.rpartition(".")[0], tracing=False)
    assert named and named <= modules, f"not imported by {spec.name}: {named - modules}"
