"""A function deployed without the Desktop outbox (an Online-only tenant's sync worker).

The stack gives sync the outbox table's name only when a Desktop connection
exists (connector.resources.select); if a Desktop record ever reached such a
worker, it is refused with a clear PermanentError instead of a KeyError or a
write to a table that is not there.
"""

from __future__ import annotations

import pytest

from connector import resources
from connector.config import TenantConfig
from connector.errors import PermanentError
from connector.runtime import Runtime
from connector.settings import load_settings

CONFIG = TenantConfig.model_validate(
    {
        "tenant": "solo",
        "connections": [
            {
                "id": "books",
                "store": {"kind": "woocommerce", "url": "https://shop.example.com"},
                "ledger": {"kind": "qbd", "user_name": "desk-sync"},
            }
        ],
    }
)


def test_a_desktop_record_without_an_outbox_table_is_a_clear_permanent_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {
        resources.ENV_TENANT: "solo",
        resources.ENV_TENANT_CONFIG: CONFIG.model_dump_json(),
        resources.ENV_STATE_TABLE: "state",
        resources.ENV_AUDIT_TABLE: "audit",
        resources.ENV_SYNC_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/1/q.fifo",
        resources.ENV_SECRET_PREFIX: "ml-connector/solo",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(resources.ENV_OUTBOX_TABLE, raising=False)
    runtime = Runtime.from_settings(load_settings())
    assert runtime.outbox is None
    connection = runtime.connection("books")
    with pytest.raises(PermanentError, match=r"no Desktop outbox table .*CONNECTOR_OUTBOX_TABLE"):
        runtime.ledger(connection)
