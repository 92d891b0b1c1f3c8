"""The local runtime wired to a simulated store and the QuickBooks Online simulator.

A store's walking-skeleton test serves its simulator and QuickBooks on loopback, describes its
connections with ``qbo_connection`` and starts ``connected_runtime``: the connections are
authorised against the simulated QuickBooks, and the ``LocalRig`` it yields pushes deliveries,
drains the queue and reads what the merchant (QuickBooks) and the bookkeeper (the audit trail
and the sync state) see.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from connector.config import TenantConfig
from connector.local import LocalRuntime
from connector.state import AuditTrail, StateStore, SyncState
from simulators.qbo import QboSimulator


def qbo_connection(connection_id: str, store: Mapping[str, Any], qbo_url: str,
                   **settings: Any) -> dict[str, Any]:  # fmt: skip
    """A connection to the simulated QuickBooks Online at ``qbo_url`` (tenant-file shape)."""
    return {
        "id": connection_id,
        "store": dict(store),
        "ledger": {
            "kind": "qbo",
            "api_base": qbo_url,
            "token_url": f"{qbo_url}/oauth2/v1/tokens/bearer",
            "authorize_url": f"{qbo_url}/connect/oauth2",
        },
        "mapping": {"fallback_item": "Sales", "shipping_item": "Shipping"},
        **settings,
    }


@dataclass
class LocalRig:
    runtime: LocalRuntime
    qbo: QboSimulator

    def webhook_url(self, connection_id: str) -> str:
        return f"{self.runtime.base_url}/webhooks/{connection_id}"

    def push(self, connection_id: str, body: bytes, headers: Mapping[str, str]) -> httpx.Response:
        return httpx.post(
            self.webhook_url(connection_id), content=body, headers=dict(headers), timeout=30
        )

    def drain(self) -> None:
        assert self.runtime.drain(timeout_s=40), "the sync queue did not drain"

    def state(self, record_key: str) -> SyncState | None:
        """The sync state of ``<connection>#<entity>#<id>``."""
        store = StateStore(
            self.runtime.env["CONNECTOR_STATE_TABLE"],
            resource=self.runtime.boto3_resource("dynamodb"),
        )
        return store.get_sync_state(record_key)

    def events(self, record_key: str) -> list[tuple[str, str]]:
        """(event, outcome) of ``<connection>#<entity>#<id>`` in the audit trail, oldest first."""
        trail = AuditTrail(
            self.runtime.env["CONNECTOR_AUDIT_TABLE"],
            resource=self.runtime.boto3_resource("dynamodb"),
        )
        return [(e.event, e.outcome) for e in trail.events(record_key)]

    def documents(self, entity: str, order_id: int | str) -> list[dict[str, Any]]:
        """QuickBooks documents of ``entity`` that name the store order in their PrivateNote."""
        marker = f"(id {order_id})"
        return [d for d in self.qbo.documents(entity) if marker in str(d.get("PrivateNote", ""))]


@contextmanager
def connected_runtime(
    tenant: str,
    connections: list[dict[str, Any]],
    secrets: Mapping[str, Mapping[str, Any]],
    qbo: QboSimulator,
) -> Iterator[LocalRig]:
    """The local runtime serving ``connections``, each authorised against the simulated QBO."""
    config = TenantConfig.model_validate({"tenant": tenant, "connections": connections})
    with LocalRuntime(
        tenant=tenant,
        tenant_config_json=config.model_dump_json(),
        secrets=secrets,
        poll_interval_s=0.05,
    ) as runtime:
        for connection in config.connections:
            page = httpx.get(
                f"{runtime.base_url}/oauth/qbo/connect/{connection.id}",
                follow_redirects=True,
                timeout=30,
            )
            assert page.status_code == 200 and "is connected" in page.text, page.text
        yield LocalRig(runtime, qbo)
