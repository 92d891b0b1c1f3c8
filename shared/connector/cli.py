"""`connector`: the command line of ml-connector.

connector local --config tenants/x.toml [--secrets secrets.json] [--port N]
connector demo [--orders N]
connector replay (--tenant T | --queue-url URL --dlq-url URL) [--connection ID] [--record ID]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from connector.config import load_tenant
from connector.errors import ConfigError


def _local(args: argparse.Namespace) -> int:
    from connector.local import LocalRuntime

    config = load_tenant(Path(args.config))
    secrets: dict[str, Any] = {}
    if args.secrets:
        secrets = json.loads(Path(args.secrets).read_text(encoding="utf-8"))
        unknown = sorted(set(secrets) - {c.id for c in config.connections})
        if unknown:
            raise ConfigError(f"{args.secrets}: connections not in {args.config}: {unknown}")
    runtime = LocalRuntime(
        tenant=config.tenant,
        tenant_config_json=config.model_dump_json(),
        port=args.port,
        secrets=secrets,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with runtime:
        print(runtime.base_url, flush=True)
        for connection in config.connections:
            print(
                f"  {connection.id}: webhook {runtime.base_url}/webhooks/{connection.id}  "
                f"connect {runtime.base_url}/oauth/qbo/connect/{connection.id}",
                flush=True,
            )
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


def _demo(args: argparse.Namespace) -> int:
    from simulators.demo import run_demo

    report = run_demo(orders=args.orders, out=sys.stdout)
    return 0 if report.ok else 1


def _replay(args: argparse.Namespace) -> int:
    import boto3

    from connector.replay import replay_parked
    from connector.sync_queue import SyncQueue

    queue_url, dlq_url = args.queue_url, args.dlq_url
    if not (queue_url and dlq_url):
        if not args.tenant:
            raise ConfigError("replay needs --tenant, or both --queue-url and --dlq-url")
        outputs = _stack_outputs(boto3.client("cloudformation"), f"MlConnector-{args.tenant}")
        queue_url, dlq_url = outputs["SyncQueueUrl"], outputs["SyncDeadLetterQueueUrl"]
    sqs = boto3.client("sqs")
    report = replay_parked(
        sqs,
        dlq_url=dlq_url,
        queue=SyncQueue(queue_url, client=sqs),
        connection_id=args.connection,
        record_id=args.record,
    )
    print(report.model_dump_json(indent=2))
    return 0


def _stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


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
    demo.add_argument("--orders", type=int, default=40)
    demo.set_defaults(run=_demo)

    replay = commands.add_parser("replay", help="send parked records through the sync queue again")
    replay.add_argument("--tenant", help="find the queues from stack MlConnector-<tenant>")
    replay.add_argument("--queue-url", help="the sync queue (stack output SyncQueueUrl)")
    replay.add_argument(
        "--dlq-url", help="the dead-letter queue (stack output SyncDeadLetterQueueUrl)"
    )
    replay.add_argument("--connection", help="only this connection's records")
    replay.add_argument("--record", help="only this store record id")
    replay.set_defaults(run=_replay)

    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
