"""`connector parked` and `connector status`: what an on-call engineer reads first."""

from __future__ import annotations

import json

from connector import cli_target, resources
from connector.cli_target import Target
from connector.config import TenantConfig
from connector.health import HealthMarks
from connector.ledgers.qbd.outbox import OutboxStore
from connector.parked import counts, parked_records, render
from connector.state import StateStore
from connector.status import circuit_reader, queue_counts, tenant_status
from connector.status import render as render_status


def _stores(target: Target) -> tuple[StateStore, OutboxStore | None]:
    dynamodb = target.resource("dynamodb")
    # A tenant without a Desktop connection deploys no outbox (connector.resources.select).
    outbox_table = target.outputs.get(cli_target.table_output(resources.OUTBOX_TABLE))
    return (
        StateStore(target.table(resources.STATE_TABLE), resource=dynamodb),
        OutboxStore(outbox_table, resource=dynamodb) if outbox_table else None,
    )


def parked(
    config: TenantConfig, target: Target, *, connection_id: str | None, as_json: bool
) -> int:
    if connection_id:
        config.require_connection(connection_id)
    state, outbox = _stores(target)
    records = parked_records(config, state=state, outbox=outbox, connection_id=connection_id)
    if as_json:
        print(json.dumps([r.model_dump(mode="json") for r in records], indent=2))
    else:
        print(render(records))
    return 0


def status(config: TenantConfig, target: Target, *, as_json: bool) -> int:
    dynamodb = target.resource("dynamodb")
    state_table = target.table(resources.STATE_TABLE)
    state, outbox = _stores(target)
    queue_url = target.outputs.get(cli_target.SYNC_QUEUE_URL)
    queue = (
        queue_counts(target.client("sqs"), queue_url, target.outputs.get(cli_target.SYNC_DLQ_URL))
        if queue_url
        else None
    )
    found = tenant_status(
        config,
        where=target.where,
        state=state,
        health=HealthMarks(state_table, resource=dynamodb),
        vault=target.vault(),
        parked=counts(parked_records(config, state=state, outbox=outbox)),
        queue=queue,
        circuit=circuit_reader(state_table, dynamodb),
    )
    print(found.model_dump_json(indent=2) if as_json else render_status(found))
    return 0
