"""The store port holds: nothing between the stores and the ledgers knows which store it serves."""

from __future__ import annotations

import ast
from pathlib import Path

from connector.stores.port import WebhookReading

LIBRARY = Path(__file__).resolve().parents[2] / "shared" / "connector"
# Modules that must see stores only through connector.stores.port.
STORE_BLIND = [
    LIBRARY / "ingest.py",
    LIBRARY / "sync.py",
    LIBRARY / "mapping.py",
    LIBRARY / "revenue_rules.py",
    LIBRARY / "outcomes.py",
    LIBRARY / "reconcile.py",
    *sorted((LIBRARY / "ledgers").rglob("*.py")),
]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_ingest_sync_mapping_and_ledgers_import_no_store_adapter() -> None:
    # Given the modules between the stores and the ledgers
    assert len(STORE_BLIND) > 10
    # Then none of them imports a store adapter: only the port
    offenders = {
        path.relative_to(LIBRARY).as_posix(): sorted(
            name
            for name in _imports(path)
            if name.startswith("connector.stores") and not name.startswith("connector.stores.port")
        )
        for path in STORE_BLIND
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_ledgers_name_no_store() -> None:
    # Notes and memos take the store's name from the connection, never a literal
    texts = {
        path.relative_to(LIBRARY).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted((LIBRARY / "ledgers").rglob("*.py"))
    }
    assert [path for path, text in texts.items() if "WooCommerce" in text] == []


def test_a_ping_is_neither_records_nor_an_ignored_topic() -> None:
    assert WebhookReading(200, "pong").is_ping
    assert not WebhookReading(200, "not synced", ignored_topic="action.x").is_ping
    assert not WebhookReading(401, "signature missing or invalid").is_ping
