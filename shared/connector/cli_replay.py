"""`connector replay`: parked records back through the sync queue, parked Desktop work back into
the outbox, whatever their age.

Three sources, in this order, so that nothing is sent twice: the dead-letter
queue (messages younger than 14 days, with their reason), the Desktop outbox's
parked entries, then every record the state table still holds as parked, sent
again as a replay message rebuilt from its record key (its dead-letter message
may be long gone).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from connector import cli_target, resources
from connector.config import TenantConfig, load_tenant
from connector.errors import ConfigError
from connector.retention import DEFAULT_RETENTION_DAYS


def replay(args: argparse.Namespace) -> int:
    """Parked QBO work goes back through the sync queue; parked Desktop work back into the outbox."""
    import boto3

    from connector.parked import parked_records
    from connector.replay import replay_parked, resend_parked
    from connector.state import StateStore
    from connector.sync_queue import SyncQueue

    queue_url, dlq_url = args.queue_url, args.dlq_url
    tables = (args.outbox_table, args.state_table, args.audit_table)
    if any(tables) and not all(tables):
        raise ConfigError(
            "Desktop replay needs all of --outbox-table, --state-table and --audit-table"
        )
    target = None
    config = _tenant_config(args)
    if args.tenant and config is not None and config.tenant != args.tenant:
        raise ConfigError(f"--tenant is {args.tenant!r} but the tenant file is {config.tenant!r}")
    if args.tenant:
        target = cli_target.open_target(
            args.tenant,
            cli_target.tenant_file_path(args.tenant, args.config),
            local=args.local,
        )
        outputs = target.outputs
        queue_url = queue_url or target.output(cli_target.SYNC_QUEUE_URL)
        dlq_url = dlq_url or target.output(cli_target.SYNC_DLQ_URL)
        if not any(tables):
            tables = (
                outputs.get(cli_target.table_output(resources.OUTBOX_TABLE)),
                outputs.get(cli_target.table_output(resources.STATE_TABLE)),
                outputs.get(cli_target.table_output(resources.AUDIT_TABLE)),
            )
    if bool(queue_url) != bool(dlq_url):
        raise ConfigError("replay needs both --queue-url and --dlq-url")
    if not queue_url and not all(tables):
        raise ConfigError(
            "replay needs --tenant, or both --queue-url and --dlq-url, or the Desktop tables "
            "(--outbox-table, --state-table, --audit-table)"
        )
    sqs = target.client("sqs") if target else boto3.client("sqs")
    dynamodb = target.resource("dynamodb") if target else boto3.resource("dynamodb")
    report: dict[str, Any] = {}
    done: set[str] = set()
    if queue_url and dlq_url:
        from_dlq = replay_parked(
            sqs,
            dlq_url=dlq_url,
            queue=SyncQueue(queue_url, client=sqs),
            connection_id=args.connection,
            record_id=args.record,
        )
        report = from_dlq.model_dump()
        done.update(from_dlq.replayed)
    outbox_table, state_table, audit_table = tables
    if outbox_table and state_table and audit_table:
        requeued = _requeue_desktop(
            dynamodb,
            (outbox_table, state_table, audit_table),
            args.connection,
            args.record,
            retention_days=config.retention_days if config else DEFAULT_RETENTION_DAYS,
        )
        report["desktop_requeued"] = requeued
        done.update(str(entry["record_key"]) for entry in requeued)
    if queue_url and state_table:
        # Parked at any age: what neither the dead-letter queue nor the outbox gave back.
        parked = parked_records(
            config,
            state=StateStore(state_table, resource=dynamodb),
            outbox=None,
            connection_id=args.connection,
            record_id=args.record,
        )
        resent = resend_parked(parked, queue=SyncQueue(queue_url, client=sqs), skip=done)
        report["resent"] = resent.resent
        if resent.refused:
            report["refused"] = resent.refused
    print(json.dumps(report, indent=2))
    return 0


def _tenant_config(args: argparse.Namespace) -> TenantConfig | None:
    """The tenant file when there is one: it names each connection's ledger in the report."""
    if not args.tenant and not args.config:
        return None
    path = cli_target.tenant_file_path(args.tenant, args.config)
    return load_tenant(path) if path.exists() else None


def _requeue_desktop(
    dynamodb: Any,
    tables: tuple[str, str, str],
    connection_id: str | None,
    record_id: str | None,
    *,
    retention_days: int,
) -> list[dict[str, Any]]:
    """Parked Desktop outbox entries back to pending, for the Web Connector's next run;
    ``tables``: the outbox, state and audit tables."""
    from connector.ledgers.qbd.outbox import OutboxStore, requeue_parked
    from connector.state import AuditTrail, StateStore

    outbox_table, state_table, audit_table = tables
    outbox = OutboxStore(outbox_table, resource=dynamodb, retention_days=retention_days)
    state = StateStore(state_table, resource=dynamodb)
    audit = AuditTrail(audit_table, resource=dynamodb, retention_days=retention_days)
    connections = [connection_id] if connection_id else _parked_connections(dynamodb, outbox_table)
    requeued: list[dict[str, Any]] = []
    for connection in connections:
        for entry in requeue_parked(connection, record_id, outbox=outbox, state=state, audit=audit):
            requeued.append(
                {"record_key": entry.record_key, "action": entry.action, "outbox_seq": entry.seq}
            )
    return requeued


def _parked_connections(dynamodb: Any, outbox_table: str) -> list[str]:
    """Connections with parked or failed outbox entries (only entries carry a status)."""
    from boto3.dynamodb.conditions import Attr

    table = dynamodb.Table(outbox_table)
    kwargs: dict[str, Any] = {
        "FilterExpression": Attr("status").is_in(["parked", "failed"]),
        "ProjectionExpression": "pk",
    }
    found: set[str] = set()
    while True:
        page = table.scan(**kwargs)
        found.update(str(item["pk"]) for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return sorted(found)
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
