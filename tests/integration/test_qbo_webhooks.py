"""POST /webhooks/qbo/{connection}: QuickBooks Online's webhooks through the local gateway and the
ingest handler, against moto's server: what Intuit is answered, what lands on the sync queue,
what the audit trail says. The simulated QuickBooks Online company signs and sends them too."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator

import httpx
import pytest

from connector.config import TenantConfig
from connector.ledger_webhooks import LedgerRealms
from connector.local import LocalRuntime
from connector.resources import INGEST
from connector.unqueued import UnqueuedDeliveries
from simulators.qbo import QboSimulator
from simulators.testbed.qbo_http import CLIENT_ID, CLIENT_SECRET
from simulators.testbed.runtime_reads import audit_events, sync_queue_gone, take_queued

VERIFIER = "intuit-verifier-token"
REALM = "9341450000000001"
OTHER_REALM = "9341450000000002"  # shop-c's company: the same Intuit app, another company
LEDGER = {"client_id": "app", "client_secret": "s"}
SECRETS = {
    "shop-a": {
        "store": {
            "consumer_key": "ck",
            "consumer_secret": "cs",
            "webhook_secret": "woo",
            "webhook_verifier": VERIFIER,
        },
        "ledger": LEDGER,
    },
    # Connected, but nobody put the verifier token into its webhook secret.
    "shop-b": {"store": {"consumer_key": "ck", "consumer_secret": "cs", "webhook_secret": "w"}},
    "desk": {"store": {"consumer_key": "ck", "consumer_secret": "cs", "webhook_secret": "w"}},
}


def _config() -> TenantConfig:
    store = {"kind": "woocommerce", "url": "https://shop.example.com"}
    return TenantConfig.model_validate(
        {
            "tenant": "acme",
            "connections": [
                {
                    "id": "shop-a",
                    "store": store,
                    "ledger": {"kind": "qbo"},
                    # Prices and invoices from QuickBooks; customers stay store → QuickBooks.
                    "sync": {"prices": "qbo_to_store", "qbo_invoices_to_orders": True},
                },
                {
                    "id": "shop-b",
                    "store": store,
                    "ledger": {"kind": "qbo"},
                    "sync": {"prices": "qbo_to_store"},
                },
                {
                    "id": "shop-c",
                    "store": store,
                    "ledger": {"kind": "qbo"},
                    "sync": {"customers": "both"},
                },
                {"id": "desk", "store": store, "ledger": {"kind": "qbd"}},
            ],
        }
    )


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    with LocalRuntime(
        tenant="acme",
        tenant_config_json=_config().model_dump_json(),
        functions=(INGEST,),
        secrets=SECRETS,
    ) as running:
        realms = LedgerRealms(
            running.env["CONNECTOR_STATE_TABLE"], resource=running.boto3_resource("dynamodb")
        )
        # What the connect callback records when the merchant connects the company.
        realms.record("shop-a", REALM)
        realms.record("shop-b", "9341450000000003")
        realms.record("shop-c", OTHER_REALM)
        yield running


def _sign(body: bytes, key: str = VERIFIER) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def _legacy(*entities: tuple[str, str, str], realm: str = REALM) -> bytes:
    return json.dumps(
        {
            "eventNotifications": [
                {
                    "realmId": realm,
                    "dataChangeEvent": {
                        "entities": [
                            {
                                "id": entity_id,
                                "operation": operation,
                                "name": name,
                                "lastUpdated": "2026-05-28T20:26:40.657Z",
                            }
                            for name, entity_id, operation in entities
                        ]
                    },
                }
            ]
        }
    ).encode()


def _post(
    runtime: LocalRuntime,
    body: bytes,
    *,
    connection: str = "shop-a",
    signature: str | None = None,
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["intuit-signature"] = signature
    return httpx.post(
        f"{runtime.base_url}/webhooks/qbo/{connection}", content=body, headers=headers
    )


@pytest.fixture(autouse=True)
def _empty_queue(runtime: LocalRuntime) -> None:
    take_queued(runtime)


def test_a_signed_delivery_queues_one_message_per_change_the_connection_asks_for(
    runtime: LocalRuntime,
) -> None:
    body = _legacy(
        ("Item", "11", "Update"),
        ("Customer", "5", "Create"),  # customers are off for shop-a: not queued
        ("Invoice", "130", "Create"),
        ("Account", "3", "Update"),  # not a record the connector takes
    )

    answer = _post(runtime, body, signature=_sign(body))
    again = _post(runtime, body, signature=_sign(body))  # Intuit redelivers

    assert answer.status_code == 200, answer.text
    assert answer.json()["queued"] == 2
    messages = take_queued(runtime)
    assert len(messages) == 2, "the redelivery must be absorbed by FIFO deduplication"
    assert again.status_code == 200
    payloads = sorted((json.loads(m["Body"]) for m in messages), key=lambda p: p["entity"])
    assert [(p["entity"], p["record_id"], p["source"]) for p in payloads] == [
        ("ledger_invoice", "130", "ledger_webhook"),
        ("ledger_item", "11", "ledger_webhook"),
    ]
    assert payloads[1]["version"] == "2026-05-28T20:26:40Z"
    groups = {m["Attributes"]["MessageGroupId"] for m in messages}
    assert groups == {"shop-a:ledger_item:11", "shop-a:ledger_invoice:130"}
    events = audit_events(runtime, "shop-a#ledger_item#11")
    assert [e.event for e in events][:1] == ["received"]
    assert "Item Update queued" in events[0].outcome


@pytest.mark.parametrize(
    "signature",
    [None, "", _sign(b"another body"), _sign(_legacy(("Item", "11", "Update")), "wrong-token")],
    ids=["unsigned", "empty", "another-body", "another-key"],
)
def test_a_forged_or_unsigned_delivery_is_refused_and_queues_nothing(
    runtime: LocalRuntime, signature: str | None
) -> None:
    body = _legacy(("Item", "11", "Update"))

    answer = _post(runtime, body, signature=signature)

    assert answer.status_code == 401
    assert "intuit-signature" in answer.json()["message"]
    assert take_queued(runtime) == []


def test_a_connection_without_a_verifier_token_refuses_every_delivery(
    runtime: LocalRuntime,
) -> None:
    body = _legacy(("Item", "11", "Update"))

    answer = _post(runtime, body, connection="shop-b", signature=_sign(body))

    assert answer.status_code == 401
    assert take_queued(runtime) == []


def test_a_change_of_another_company_is_acknowledged_audited_and_ignored(
    runtime: LocalRuntime,
) -> None:
    body = _legacy(("Item", "12", "Update"), realm="123145000000999")

    answer = _post(runtime, body, signature=_sign(body))

    assert answer.status_code == 200
    assert answer.json()["queued"] == 0
    assert take_queued(runtime) == []
    events = audit_events(runtime, "shop-a#connection#qbo_webhook")
    assert any(e.event == "ignored" and "company 123145000000999" in e.outcome for e in events), [
        e.outcome for e in events
    ]


def test_a_desktop_or_unknown_connection_answers_404(runtime: LocalRuntime) -> None:
    body = _legacy(("Item", "11", "Update"))

    desk = _post(runtime, body, connection="desk", signature=_sign(body))
    unknown = _post(runtime, body, connection="nobody", signature=_sign(body))

    assert desk.status_code == 404 and unknown.status_code == 404
    assert take_queued(runtime) == []


def test_cloud_events_are_taken_too(runtime: LocalRuntime) -> None:
    body = json.dumps(
        [
            {
                "specversion": "1.0",
                "id": "88cd52aa-33b6-4351-9aa4-47572edbd068",
                "source": "intuit.dsnBgbseACLLRZNxo2dfc4evmEJdxde58xeeYcZliOU=",
                "type": "qbo.item.updated.v1",
                "datacontenttype": "application/json",
                "time": "2026-05-28T21:31:25.179851517Z",
                "intuitentityid": "21",
                "intuitaccountid": REALM,
                "data": {},
            },
            {
                "specversion": "1.0",
                "id": "98cd52aa-33b6-4351-9aa4-47572edbd069",
                "source": "intuit.x",
                "type": "qbo.invoice.voided.v1",
                "time": "2026-05-28T21:31:26Z",
                "intuitentityid": "140",
                "intuitaccountid": REALM,
                "data": {},
            },
        ]
    ).encode()

    answer = _post(runtime, body, signature=_sign(body))

    assert answer.status_code == 200, answer.text
    payloads = sorted(
        (json.loads(m["Body"]) for m in take_queued(runtime)), key=lambda p: p["entity"]
    )
    assert [(p["entity"], p["record_id"], p["topic"], p["version"]) for p in payloads] == [
        ("ledger_invoice", "140", "qbo.invoice.void", "2026-05-28T21:31:26Z"),
        ("ledger_item", "21", "qbo.item.update", "2026-05-28T21:31:25Z"),
    ]


def test_a_signed_delivery_that_is_not_a_webhook_payload_gets_a_clear_400(
    runtime: LocalRuntime,
) -> None:
    body = b'{"hello": "world"}'

    answer = _post(runtime, body, signature=_sign(body))

    assert answer.status_code == 400
    assert "neither a legacy nor a CloudEvents payload" in answer.json()["message"]


def test_the_simulated_company_s_own_webhooks_arrive_signed_and_are_queued(
    runtime: LocalRuntime,
) -> None:
    sim = QboSimulator(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, realm_id=REALM)
    item = sim.seed(
        "Item",
        {"Name": "Tee", "Sku": "TEE-1", "Type": "Service", "IncomeAccountRef": {"value": "1"}},
    )
    sender = sim.send_webhooks(f"{runtime.base_url}/webhooks/qbo/shop-a", VERIFIER)
    try:
        sim.edit("Item", item["Id"], UnitPrice="19.99")  # a person changes the price
        assert sender.flush(), [d.status for d in sender.deliveries]
    finally:
        sim.stop_webhooks(sender)

    assert [d.status for d in sender.deliveries] == [200]
    payloads = [json.loads(m["Body"]) for m in take_queued(runtime)]
    assert [(p["entity"], p["record_id"], p["source"]) for p in payloads] == [
        ("ledger_item", item["Id"], "ledger_webhook")
    ]


def test_a_connection_cannot_be_named_after_the_quickbooks_route() -> None:
    with pytest.raises(ValueError, match="'qbo' names the QuickBooks webhook route"):
        TenantConfig.model_validate(
            {
                "tenant": "acme",
                "connections": [
                    {
                        "id": "qbo",
                        "store": {"kind": "woocommerce", "url": "https://shop.example.com"},
                        "ledger": {"kind": "qbo"},
                    }
                ],
            }
        )


def test_an_event_goes_to_the_connection_connected_to_its_company_whichever_url_got_it(
    runtime: LocalRuntime,
) -> None:
    # One Intuit app, one webhook URL in its portal (shop-a's), two companies connected.
    body = json.dumps(
        {
            "eventNotifications": [
                {
                    "realmId": OTHER_REALM,
                    "dataChangeEvent": {
                        "entities": [
                            {"id": "7", "operation": "Update", "name": "Customer"},
                            {"id": "11", "operation": "Update", "name": "Item"},
                        ]
                    },
                },
                {
                    "realmId": REALM,
                    "dataChangeEvent": {
                        "entities": [{"id": "11", "operation": "Update", "name": "Item"}]
                    },
                },
            ]
        }
    ).encode()

    answer = _post(runtime, body, signature=_sign(body))

    assert answer.status_code == 200, answer.text
    payloads = [json.loads(m["Body"]) for m in take_queued(runtime)]
    assert sorted((p["connection_id"], p["entity"], p["record_id"]) for p in payloads) == [
        ("shop-a", "ledger_item", "11"),  # shop-a takes prices
        ("shop-c", "ledger_customer", "7"),  # shop-c takes customers only
    ]
    (received,) = audit_events(runtime, "shop-c#ledger_customer#7")
    assert received.detail["received_by"] == "shop-a"


def test_when_sqs_refuses_the_changes_are_kept_for_the_reconcile_run_and_intuit_gets_200(
    runtime: LocalRuntime,
) -> None:
    unqueued = UnqueuedDeliveries(
        runtime.env["CONNECTOR_STATE_TABLE"], resource=runtime.boto3_resource("dynamodb")
    )
    body = _legacy(("Item", "31", "Update"), ("Invoice", "131", "Create"))

    with sync_queue_gone(runtime):
        answer = _post(runtime, body, signature=_sign(body))

    assert answer.status_code == 200, answer.text
    assert answer.json()["kept"] == 2 and answer.json()["queued"] == 0
    kept = list(unqueued.waiting("shop-a"))
    assert sorted((k.message.entity, k.message.record_id) for k in kept) == [
        ("ledger_invoice", "131"),
        ("ledger_item", "31"),
    ]
    (event,) = audit_events(runtime, "shop-a#ledger_item#31")
    assert "received, not queued" in event.outcome
    for waiting in kept:
        unqueued.forget("shop-a", waiting.key)
