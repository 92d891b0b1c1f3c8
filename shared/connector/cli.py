"""`connector`: the command line of ml-connector.

connector local --config tenants/x.toml [--secrets secrets.json] [--port N]
connector demo [--orders N]
connector replay (--tenant T [--config FILE] [--local] | --queue-url URL --dlq-url URL
                 | --outbox-table NAME --state-table NAME --audit-table NAME)
                 [--connection ID] [--record ID]
connector parked --tenant T [--config FILE] [--local] [--connection C] [--json]
connector status --tenant T [--config FILE] [--local] [--json]
connector connect-url --tenant T [--config FILE] [--local] --connection C [--change-company]
connector qwc CONNECTION --tenant T [--config FILE] [--local] [--url BASE] [--out FILE] [--rotate] [--generation N]
connector backfill --tenant T [--config FILE] [--local] --connection C --since YYYY-MM-DD
                   [--until YYYY-MM-DD] [--dry-run] [--per-minute N] [--restart] [--no-wait]
connector webhooks (sync | check) --tenant T [--config FILE] [--local] [--connection C] [--url BASE] [--dry-run]
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from connector import cli_target
from connector.backfill import add_backfill_parser
from connector.config import TenantConfig, load_tenant
from connector.errors import ConfigError


def _local(args: argparse.Namespace) -> int:
    from connector.cli_local import run_local

    return run_local(Path(args.config), Path(args.secrets) if args.secrets else None, args.port)


def _demo(args: argparse.Namespace) -> int:
    from simulators.demo import run_demo

    report = run_demo(orders=args.orders, out=sys.stdout)
    return 0 if report.ok else 1


def _replay(args: argparse.Namespace) -> int:
    from connector.cli_replay import replay

    return replay(args)


def _parked(args: argparse.Namespace) -> int:
    from connector.cli_ops import parked

    config, target = _tenant_target(args, "parked")
    return parked(config, target, connection_id=args.connection, as_json=args.json)


def _status(args: argparse.Namespace) -> int:
    from connector.cli_ops import status

    config, target = _tenant_target(args, "status")
    return status(config, target, as_json=args.json)


def _order_count(text: str) -> int:
    """How many orders the demo sells: a whole number, at least one."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if count < 1:
        raise argparse.ArgumentTypeError("the demo needs at least one order")
    return count


def _connect_url(args: argparse.Namespace) -> int:
    """A signed, single-use link the merchant opens to connect QuickBooks Online."""
    from connector import resources
    from connector.errors import PermanentError
    from connector.ledgers.qbo import connect_links

    config, target = _tenant_target(args, "connect-url")
    connection = config.require_connection(args.connection)
    if connection.ledger.kind != "qbo":
        raise ConfigError(
            f"connection {connection.id} posts to QuickBooks Desktop: it connects through the "
            f"Web Connector (`connector qwc {connection.id}`), not a link"
        )
    base_url = target.api_url
    key_reader = connect_links.LinkKey(
        resources.secret_prefix(config.tenant), client=target.client("secretsmanager")
    )
    try:
        key = key_reader.get()
    except PermanentError as exc:
        raise ConfigError(f"{target.where}: {exc.reason}") from None
    link = connect_links.new_link(connection.id, change_company=args.change_company)
    print(connect_links.link_url(base_url, key, link))
    # The note goes to stderr so that the link alone can be piped or pasted.
    until = datetime.fromtimestamp(link.expires_at, UTC).strftime("%H:%M UTC")
    change = (
        "; it may move the connection to another QuickBooks company (mappings start afresh)"
        if args.change_company
        else ""
    )
    print(f"works once, until {until}{change}", file=sys.stderr)
    return 0


def _qwc(args: argparse.Namespace) -> int:
    from connector.qwc import ensure_password, render_qwc

    config, target = _tenant_target(args, "qwc")
    connection = config.require_connection(args.connection_id)
    ledger = connection.qbd  # refuses a QuickBooks Online connection before any AWS call
    base_url = args.url or target.api_url
    # Everything that can refuse (https, ids) runs before the password is touched.
    qwc = render_qwc(
        tenant=config.tenant,
        connection=connection,
        base_url=base_url,
        generation=args.generation,
    )
    password = ensure_password(target.vault(), connection.id, rotate=args.rotate)
    out = Path(args.out or f"{connection.id}.qwc")
    out.write_text(qwc.xml, encoding="utf-8")
    print(
        f"wrote {out} for connection {connection.id}: {qwc.app_url}, every "
        f"{ledger.run_every_minutes} minutes, user {ledger.user_name}"
    )
    if password is None:
        print("password unchanged; use --rotate to set a new one")
    else:
        print(f"Web Connector password (shown only now): {password}")
        print(
            "Add the .qwc file in the QuickBooks Web Connector, type this password into the "
            "application's Password column, press Enter and let it save the password."
        )
    return 0


def _webhooks(args: argparse.Namespace) -> int:
    """The connector's webhooks in each connection's store: created and repaired, or checked."""
    import httpx

    from connector import webhook_setup

    config, target = _tenant_target(args, "webhooks")
    connections = (
        [config.require_connection(args.connection)]
        if args.connection
        else list(config.connections)
    )
    base_url = args.url or target.api_url
    vault = target.vault()
    dry_run = args.verb == "sync" and args.dry_run
    with httpx.Client(timeout=30.0) as http:
        found = webhook_setup.run(
            args.verb, connections, base_url=base_url, vault=vault, http=http, dry_run=dry_run
        )
    print(webhook_setup.render(found, verb=args.verb, dry_run=dry_run))
    return webhook_setup.exit_code(found, verb=args.verb)


def _target(args: argparse.Namespace, tenant: str) -> cli_target.Target:
    """The deployment a verb acts on: the tenant's stack, or `connector local` (--local)."""
    tenant_file = cli_target.tenant_file_path(tenant, getattr(args, "config", None))
    return cli_target.open_target(tenant, tenant_file, local=getattr(args, "local", False))


def _tenant_target(args: argparse.Namespace, verb: str) -> tuple[TenantConfig, cli_target.Target]:
    """The tenant file (--config, else tenants/<tenant>.toml) and the deployment it runs in."""
    if not args.tenant and not args.config:
        raise ConfigError(f"{verb} needs --tenant (and finds tenants/<tenant>.toml) or --config")
    path = cli_target.tenant_file_path(args.tenant, args.config)
    config = load_tenant(path)
    if args.tenant and config.tenant != args.tenant:
        raise ConfigError(f"--tenant is {args.tenant!r} but the tenant file is {config.tenant!r}")
    return config, cli_target.open_target(config.tenant, path, local=args.local)


def _tenant_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", help="the tenant (stack MlConnector-<tenant>)")
    parser.add_argument("--config", help="tenant file; default tenants/<tenant>.toml")
    _add_local_flag(parser)


def _add_local_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--local",
        action="store_true",
        help="act on the running `connector local` of this tenant file instead of AWS (the "
        "default when no AWS credentials are set and one is running)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="connector", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="run the connector on this machine against moto")
    local.add_argument("--config", required=True, help="tenant file, e.g. tenants/example.toml")
    local.add_argument("--secrets", help="JSON file of each connection's store and ledger secrets")
    local.add_argument("--port", type=int, default=8080)
    local.set_defaults(run=_local)

    demo = commands.add_parser(
        "demo", help="simulated store and QuickBooks through the local runtime"
    )
    demo.add_argument("--orders", type=_order_count, default=40)
    demo.set_defaults(run=_demo)

    replay = commands.add_parser("replay", help="send parked records through the sync queue again")
    replay.add_argument("--tenant", help="find the queues from stack MlConnector-<tenant>")
    replay.add_argument(
        "--config", help="tenant file (finds its `connector local`); default tenants/<tenant>.toml"
    )
    _add_local_flag(replay)
    replay.add_argument("--queue-url", help="the sync queue (stack output SyncQueueUrl)")
    replay.add_argument(
        "--dlq-url", help="the dead-letter queue (stack output SyncDeadLetterQueueUrl)"
    )
    replay.add_argument(
        "--outbox-table", help="Desktop outbox table (stack output OutboxTableName)"
    )
    replay.add_argument("--state-table", help="sync state table (stack output StateTableName)")
    replay.add_argument("--audit-table", help="audit table (stack output AuditTableName)")
    replay.add_argument("--connection", help="only this connection's records")
    replay.add_argument("--record", help="only this store record id")
    replay.set_defaults(run=_replay)

    parked = commands.add_parser(
        "parked", help="list parked records (record, since when, reason, attempts), any age"
    )
    _tenant_arguments(parked)
    parked.add_argument("--connection", help="only this connection's records")
    parked.add_argument("--json", action="store_true", help="one JSON object per record")
    parked.set_defaults(run=_parked)

    status = commands.add_parser(
        "status", help="how each connection is doing: webhooks, polls, posts, queue, parked"
    )
    _tenant_arguments(status)
    status.add_argument("--json", action="store_true", help="the same, as JSON")
    status.set_defaults(run=_status)

    connect_url = commands.add_parser(
        "connect-url",
        help="print a signed link (single use, 30 minutes) the merchant opens to connect "
        "QuickBooks Online",
    )
    _tenant_arguments(connect_url)
    connect_url.add_argument(
        "--connection", required=True, help="a connection whose ledger kind is qbo"
    )
    connect_url.add_argument(
        "--change-company",
        action="store_true",
        help="let the link move the connection to another QuickBooks company (its id "
        "mappings start afresh); without it the callback refuses any other company",
    )
    connect_url.set_defaults(run=_connect_url)

    qwc = commands.add_parser(
        "qwc", help="write the QuickBooks Web Connector's .qwc file and set its password"
    )
    qwc.add_argument("connection_id", help="a connection whose ledger kind is qbd")
    qwc.add_argument("--tenant", help="the tenant (stack MlConnector-<tenant>)")
    qwc.add_argument("--config", help="tenant file; default tenants/<tenant>.toml")
    qwc.add_argument("--url", help="the API's base URL; default the stack output ApiUrl")
    qwc.add_argument("--out", help="where to write the file; default <connection_id>.qwc")
    qwc.add_argument(
        "--rotate", action="store_true", help="set a new password (the old one stops working)"
    )
    qwc.add_argument(
        "--generation",
        type=int,
        default=0,
        help="new OwnerID/FileID pair (QBWC1039 after removing and re-adding the application)",
    )
    _add_local_flag(qwc)
    qwc.set_defaults(run=_qwc)

    webhooks = commands.add_parser(
        "webhooks", help="create, repair or check the connector's webhooks in each store"
    )
    webhooks.add_argument(
        "verb",
        choices=("sync", "check"),
        help="sync: create what is missing, repair what drifted, switch on what the store "
        "switched off; check: report only (exit 1 when something is wrong)",
    )
    webhooks.add_argument("--tenant", help="the tenant (stack MlConnector-<tenant>)")
    webhooks.add_argument("--config", help="tenant file; default tenants/<tenant>.toml")
    webhooks.add_argument("--connection", help="only this connection")
    webhooks.add_argument(
        "--url", help="the API's public base URL; default the stack output ApiUrl"
    )
    webhooks.add_argument(
        "--dry-run", action="store_true", help="sync: say what would change, change nothing"
    )
    _add_local_flag(webhooks)
    webhooks.set_defaults(run=_webhooks)

    add_backfill_parser(commands)

    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
