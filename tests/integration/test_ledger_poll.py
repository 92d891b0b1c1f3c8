"""The QuickBooks Online change-feed poll (connector.ledger_poll) against the simulated company
over HTTP and moto's server: the watermark, deduplication with the webhooks, a gap longer than
the change feed's 30 days, and a QuickBooks that fails."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal

import pytest

from connector.config import TenantConfig
from connector.ledger_poll import LedgerPoll
from connector.ledger_webhooks import LedgerRealms
from connector.ledgers.qbo.changes import QboChanges
from connector.ledgers.qbo.client import QboClient
from connector.local import LocalRuntime
from connector.resources import INGEST
from connector.state import AuditTrail
from connector.sync_queue import SyncQueue
from simulators.testbed.clocks import Clock
from simulators.testbed.qbo_http import Api

VERIFIER = "intuit-verifier-token"
DAY = 86_400


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
                    "sync": {"prices": "qbo_to_store", "qbo_invoices_to_orders": True},
                },
                {"id": "plain", "store": store, "ledger": {"kind": "qbo"}},
            ],
        }
    )


CONFIG = _config()


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    secrets = {
        "shop-a": {
            "store": {
                "consumer_key": "ck",
                "consumer_secret": "cs",
                "webhook_secret": "w",
                "webhook_verifier": VERIFIER,
            }
        }
    }
    with LocalRuntime(
        tenant="acme",
        tenant_config_json=CONFIG.model_dump_json(),
        functions=(INGEST,),
        secrets=secrets,
    ) as running:
        yield running


class _Token:
    """The company's access token; a fresh one after a 401 (the clock moves by days here)."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.token = api.token

    def access_token(self) -> str:
        return self.token

    def refresh_after_unauthorized(self, rejected: str) -> str:
        self.token = str(self.api.sim.issue_tokens()["access_token"])
        return self.token


def _drain(runtime: LocalRuntime) -> list[dict[str, Any]]:
    sqs = runtime.boto3_client("sqs")
    url = runtime.env["CONNECTOR_SYNC_QUEUE_URL"]
    found: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        if not batch:
            return found
        for message in batch:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _audit(runtime: LocalRuntime, key: str) -> list[Any]:
    trail = AuditTrail(
        runtime.env["CONNECTOR_AUDIT_TABLE"], resource=runtime.boto3_resource("dynamodb")
    )
    return trail.events(key)


@pytest.fixture
def poller(runtime: LocalRuntime, api: Api, qbo_clock: Clock) -> LedgerPoll:
    _drain(runtime)
    table = runtime.env["CONNECTOR_STATE_TABLE"]
    dynamodb = runtime.boto3_resource("dynamodb")
    dynamodb.Table(table).delete_item(Key={"pk": "shop-a#ledger_poll", "sk": "WATERMARK"})
    client = QboClient(api_base=api.base, realm_id=api.sim.realm_id, tokens=_Token(api))
    return LedgerPoll(
        feed_for=lambda connection: QboChanges(client),
        table_name=table,
        resource=dynamodb,
        queue=SyncQueue(
            runtime.env["CONNECTOR_SYNC_QUEUE_URL"], client=runtime.boto3_client("sqs")
        ),
        audit=AuditTrail(runtime.env["CONNECTOR_AUDIT_TABLE"], resource=dynamodb),
        realms=LedgerRealms(table, resource=dynamodb),
        clock=lambda: datetime.fromtimestamp(qbo_clock.now, UTC),
        # As the ledger secret says (the reconcile handler reads it through QboTokens).
        realm_for=lambda connection: api.sim.realm_id,
    )


def _connection(name: str = "shop-a") -> Any:
    found = CONFIG.connection(name)
    assert found is not None
    return found


def _tee(api: Api) -> dict[str, Any]:
    return api.sim.seed(
        "Item",
        {
            "Name": "Tee",
            "Sku": "TEE-1",
            "Type": "Service",
            "UnitPrice": "10",
            "IncomeAccountRef": {"value": "1"},
        },
    )


def _invoice(api: Api, customer_id: str, item_id: str) -> dict[str, Any]:
    return api.sim.seed(
        "Invoice",
        {
            "CustomerRef": {"value": customer_id},
            "Line": [
                {
                    "Amount": "10.00",
                    "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": item_id}},
                }
            ],
        },
    )


def _kinds(messages: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return sorted((m["entity"], m["record_id"], m["source"]) for m in messages)


def test_the_first_poll_starts_the_feed_now_and_records_the_company(
    runtime: LocalRuntime, api: Api, poller: LedgerPoll, qbo_clock: Clock
) -> None:
    _tee(api)  # made before the feed starts: not this poll's to send

    result = poller.poll(_connection())

    assert result.outcome == "started" and result.queued == 0
    assert _drain(runtime) == []
    held = poller.watermark("shop-a")
    assert held is not None and held.realm_id == api.sim.realm_id
    assert held.moment == datetime.fromtimestamp(qbo_clock.now, UTC)
    realms = LedgerRealms(
        runtime.env["CONNECTOR_STATE_TABLE"], resource=runtime.boto3_resource("dynamodb")
    )
    assert realms.realm("shop-a") == api.sim.realm_id
    assert "started following" in _audit(runtime, "shop-a#ledger_poll")[-1].outcome


def test_changes_since_the_watermark_are_queued_once_each_and_the_watermark_moves(
    runtime: LocalRuntime, api: Api, poller: LedgerPoll, qbo_clock: Clock
) -> None:
    poller.poll(_connection())
    qbo_clock.advance(600)
    tee = _tee(api)
    qbo_clock.advance(60)
    api.sim.edit("Item", tee["Id"], UnitPrice="12.00")
    customer = api.sim.seed("Customer", {"DisplayName": "Ada"})  # customers are off
    invoice = _invoice(api, customer["Id"], tee["Id"])
    qbo_clock.advance(60)

    first = poller.poll(_connection())
    queued = _drain(runtime)
    qbo_clock.advance(120)
    again = poller.poll(_connection())  # the overlap lists the same changes again

    assert first.outcome == "polled" and first.queued == 2
    assert _kinds(queued) == [
        ("ledger_invoice", invoice["Id"], "ledger_poll"),
        ("ledger_item", tee["Id"], "ledger_poll"),
    ]
    item_message = next(m for m in queued if m["entity"] == "ledger_item")
    assert item_message["version"] == datetime.fromtimestamp(qbo_clock.now - 180, UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert again.queued == 0 and _drain(runtime) == [], "the overlap is not queued twice"
    held = poller.watermark("shop-a")
    assert held is not None and held.moment == datetime.fromtimestamp(qbo_clock.now, UTC)
    outcomes = [e.outcome for e in _audit(runtime, "shop-a#ledger_poll")][-2:]
    assert outcomes == [
        "QuickBooks change feed: queued 2 (1 item, 1 invoice)",
        "QuickBooks change feed: queued 0 (none)",
    ]


def test_a_change_a_webhook_already_queued_is_not_queued_again_by_the_poll(
    runtime: LocalRuntime, api: Api, poller: LedgerPoll, qbo_clock: Clock
) -> None:
    poller.poll(_connection())
    qbo_clock.advance(600)
    tee = _tee(api)
    qbo_clock.advance(60)
    sender = api.sim.send_webhooks(f"{runtime.base_url}/webhooks/qbo/shop-a", VERIFIER)
    try:
        api.sim.edit("Item", tee["Id"], UnitPrice="15.00")
        assert sender.flush()
    finally:
        api.sim.stop_webhooks(sender)
    qbo_clock.advance(60)

    result = poller.poll(_connection())
    queued = _drain(runtime)

    assert [d.status for d in sender.deliveries] == [200]
    assert result.queued == 1  # the poll sent it too ...
    assert _kinds(queued) == [("ledger_item", tee["Id"], "ledger_webhook")]  # ... SQS kept one


def test_a_gap_longer_than_30_days_relists_items_and_is_audited(
    runtime: LocalRuntime, api: Api, poller: LedgerPoll, qbo_clock: Clock
) -> None:
    poller.poll(_connection())
    tee = _tee(api)  # changed long ago: the change feed no longer has it
    qbo_clock.advance(40 * DAY)
    customer = api.sim.seed("Customer", {"DisplayName": "Ada"})
    invoice = _invoice(api, customer["Id"], tee["Id"])
    qbo_clock.advance(60)

    result = poller.poll(_connection())
    queued = _drain(runtime)

    assert result.outcome == "gap"
    kinds = _kinds(queued)
    assert ("ledger_item", tee["Id"], "ledger_poll") in kinds
    assert ("ledger_invoice", invoice["Id"], "ledger_poll") in kinds
    # Every item QuickBooks holds, inactive ones too (the seeded company has four).
    assert {k[1] for k in kinds if k[0] == "ledger_item"} >= {"1", "2", "3", "4", tee["Id"]}
    assert not any(k[0] == "ledger_customer" for k in kinds), "customers are off"
    last = _audit(runtime, "shop-a#ledger_poll")[-1]
    assert "more than 30 days ago" in last.outcome and "re-listed" in last.outcome
    held = poller.watermark("shop-a")
    assert held is not None and held.moment == datetime.fromtimestamp(qbo_clock.now, UTC)


@pytest.mark.parametrize("kind", ["500", "401"])
def test_quickbooks_failing_leaves_the_watermark_for_the_next_run(
    runtime: LocalRuntime,
    api: Api,
    poller: LedgerPoll,
    qbo_clock: Clock,
    kind: Literal["500", "401"],
) -> None:
    poller.poll(_connection())
    before = poller.watermark("shop-a")
    qbo_clock.advance(600)
    _tee(api)
    api.sim.inject(kind, times=2)

    result = poller.poll(_connection())

    assert result.outcome == "failed"
    assert poller.watermark("shop-a") == before
    assert _drain(runtime) == []
    assert "not polled" in _audit(runtime, "shop-a#ledger_poll")[-1].outcome
    api.sim.clear_faults()
    assert poller.poll(_connection()).queued == 1  # the next run catches up


def test_a_connection_taking_nothing_from_quickbooks_is_not_polled_but_its_company_recorded(
    runtime: LocalRuntime, api: Api, poller: LedgerPoll
) -> None:
    before = len(api.sim.request_log)

    result = poller.poll(_connection("plain"))

    assert result.outcome == "off"
    assert len(api.sim.request_log) == before
    assert poller.watermark("plain") is None
    # Recorded for ingest, so its webhooks are taken as soon as a direction is turned on.
    realms = LedgerRealms(
        runtime.env["CONNECTOR_STATE_TABLE"], resource=runtime.boto3_resource("dynamodb")
    )
    assert realms.realm("plain") == api.sim.realm_id
