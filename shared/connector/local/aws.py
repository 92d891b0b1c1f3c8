"""The embedded AWS: moto's server on loopback, and the tenant's resources in it.

moto keeps its state in process-global backends, so every ThreadedMotoServer in
a process serves the same data. To keep two local runtimes (or a runtime and
another test's moto server) from seeing each other's tables and queues, each
``EmbeddedAws`` creates an IAM access key in an AWS account of its own; moto
resolves the account from the request's access key, so every client signed with
that key (the runtime's and, through the environment, the handlers') lives in
that account alone. Nothing here resets moto's global state, which would wipe
resources that other servers in the process still use.
"""

from __future__ import annotations

import json
import logging
import secrets as token_source
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import boto3
from moto.server import ThreadedMotoServer

from connector.local import moto_atomic, moto_speedups
from connector.local.moto_process import MotoProcess
from connector.resources import ConnectionSecretName, QueueSpec, TableSpec, secret_name
from connector.secrets import WEBHOOK_FIELDS

REGION = "us-east-1"
_ACCOUNT_HEADER = "x-moto-account-id"


@dataclass(frozen=True)
class LocalQueue:
    spec: QueueSpec
    name: str
    url: str
    arn: str
    dlq_url: str | None
    dlq_arn: str | None


def table_name(tenant: str, spec: TableSpec) -> str:
    return f"ml-connector-{tenant}-{spec.logical_id}"


def queue_name(tenant: str, logical_id: str, fifo: bool) -> str:
    # SQS requires FIFO queue names to end in ".fifo".
    return f"ml-connector-{tenant}-{logical_id}" + (".fifo" if fifo else "")


class EmbeddedAws:
    """A moto server on 127.0.0.1 with a private account and clients for it."""

    def __init__(self, region: str = REGION, *, separate_process: bool = False) -> None:
        self.region = region
        # True: moto serves from a child process (connector.local.moto_process).
        self.separate_process = separate_process
        self.account_id = "".join(str(token_source.randbelow(10)) for _ in range(12))
        self._server: ThreadedMotoServer | MotoProcess | None = None
        self._session = boto3.session.Session()
        # boto3 sessions are not thread-safe; clients made from them are.
        self._session_lock = threading.Lock()
        self.access_key_id = ""
        self.secret_access_key = ""
        self.endpoint_url = ""

    def start(self) -> None:
        werkzeug_log = logging.getLogger("werkzeug")
        if werkzeug_log.level == logging.NOTSET:
            # moto's server logs every request line; the runtime logs what matters.
            werkzeug_log.setLevel(logging.WARNING)
        if not self.separate_process:  # a MotoProcess installs these in its own process
            moto_atomic.install()
            moto_speedups.list_modules_once()
        self._server = (
            MotoProcess()
            if self.separate_process
            else ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        )
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        self._create_account_key()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def _create_account_key(self) -> None:
        iam = self._client("iam", "bootstrap", "bootstrap")
        account_id = self.account_id

        def route_to_account(request: Any, **_: Any) -> None:
            request.headers[_ACCOUNT_HEADER] = account_id

        iam.meta.events.register("before-sign.iam", route_to_account)
        iam.create_user(UserName="connector-local")
        key = iam.create_access_key(UserName="connector-local")["AccessKey"]
        self.access_key_id = key["AccessKeyId"]
        self.secret_access_key = key["SecretAccessKey"]

    def _client(self, service: str, key_id: str, secret: str) -> Any:
        with self._session_lock:
            return self._session.client(
                service,  # type: ignore[call-overload]
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                aws_access_key_id=key_id,
                aws_secret_access_key=secret,
            )

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` in this runtime's account."""
        if not self.access_key_id:
            raise RuntimeError("EmbeddedAws.start() must run before clients are made")
        return self._client(service, self.access_key_id, self.secret_access_key)

    def resource(self, service: str) -> Any:
        """A boto3 resource for ``service`` in this runtime's account."""
        if not self.access_key_id:
            raise RuntimeError("EmbeddedAws.start() must run before resources are made")
        with self._session_lock:
            return self._session.resource(
                service,  # type: ignore[call-overload]
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                aws_access_key_id=self.access_key_id,
                aws_secret_access_key=self.secret_access_key,
            )

    def create_tables(self, tenant: str, tables: tuple[TableSpec, ...]) -> dict[str, str]:
        """Creates each table as the stack does; returns logical id -> table name."""
        dynamodb = self.client("dynamodb")
        names: dict[str, str] = {}
        for spec in tables:
            name = table_name(tenant, spec)
            dynamodb.create_table(
                TableName=name,
                KeySchema=[
                    {"AttributeName": spec.partition_key, "KeyType": "HASH"},
                    {"AttributeName": spec.sort_key, "KeyType": "RANGE"},
                ],
                AttributeDefinitions=[
                    {"AttributeName": spec.partition_key, "AttributeType": "S"},
                    {"AttributeName": spec.sort_key, "AttributeType": "S"},
                ],
                BillingMode="PAY_PER_REQUEST",
            )
            if spec.ttl_attribute:
                dynamodb.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
                )
            names[spec.logical_id] = name
        return names

    def create_queues(
        self,
        tenant: str,
        queues: tuple[QueueSpec, ...],
        visibility_timeout_override_s: int | None = None,
    ) -> dict[str, LocalQueue]:
        """Creates each queue and its dead-letter queue; returns logical id -> queue.

        ``visibility_timeout_override_s`` replaces QueueSpec.visibility_timeout_s:
        the deployed value (six times the worker timeout) would make a local
        retry wait twelve minutes.
        """
        sqs = self.client("sqs")
        created: dict[str, LocalQueue] = {}
        for spec in queues:
            fifo_attributes = (
                {"FifoQueue": "true", "ContentBasedDeduplication": "false"} if spec.fifo else {}
            )
            dlq_url = dlq_arn = None
            if spec.dlq_logical_id:
                dlq_url = sqs.create_queue(
                    QueueName=queue_name(tenant, spec.dlq_logical_id, spec.fifo),
                    Attributes={**fifo_attributes, "MessageRetentionPeriod": str(spec.retention_s)},
                )["QueueUrl"]
                dlq_arn = self._queue_arn(sqs, dlq_url)
            visibility = (
                spec.visibility_timeout_s
                if visibility_timeout_override_s is None
                else visibility_timeout_override_s
            )
            attributes = {
                **fifo_attributes,
                "VisibilityTimeout": str(visibility),
                "MessageRetentionPeriod": str(spec.retention_s),
            }
            if dlq_arn:
                attributes["RedrivePolicy"] = json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": spec.max_receive_count}
                )
            name = queue_name(tenant, spec.logical_id, spec.fifo)
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            created[spec.logical_id] = LocalQueue(
                spec=spec,
                name=name,
                url=url,
                arn=self._queue_arn(sqs, url),
                dlq_url=dlq_url,
                dlq_arn=dlq_arn,
            )
        return created

    @staticmethod
    def _queue_arn(sqs: Any, url: str) -> str:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])

    def create_secrets(
        self, prefix: str, secrets: Mapping[str, Mapping[str, Any]]
    ) -> tuple[str, ...]:
        """Stores each connection's secrets as the stack names them.

        The secrets file gives a "store" and a "ledger" part per connection; the store part
        may carry the webhook fields (connector.secrets.WEBHOOK_FIELDS) with the store's
        keys, as merchants are used to. They are moved into the connection's own webhook
        secret, as deployed, so nothing reads them from the store secret locally either.
        """
        client = self.client("secretsmanager")
        names: list[str] = []
        for connection_id, parts in secrets.items():
            for part, value in split_webhook_fields(connection_id, parts).items():
                name = secret_name(prefix, connection_id, part)
                client.create_secret(Name=name, SecretString=json.dumps(value))
                names.append(name)
        return tuple(names)


def split_webhook_fields(
    connection_id: str, parts: Mapping[str, Any]
) -> dict[ConnectionSecretName, dict[str, Any]]:
    """A connection's parts from the secrets file, the webhook fields in a part of their own."""
    split: dict[ConnectionSecretName, dict[str, Any]] = {}
    for part, value in parts.items():
        if part not in ("store", "ledger"):
            raise ValueError(
                f"secret part {part!r} of connection {connection_id!r}: "
                "expected 'store' or 'ledger' (the store part carries webhook_secret)"
            )
        if not isinstance(value, Mapping):
            raise ValueError(
                f"secret part {part!r} of connection {connection_id!r} is not a JSON object"
            )
        split[cast(ConnectionSecretName, part)] = dict(value)
    store = split.get("store", {})
    webhook = {field: store.pop(field) for field in WEBHOOK_FIELDS if field in store}
    if webhook:
        split["webhook"] = webhook
    return split
