"""The FIFO queue and its DLQ, the DynamoDB tables and each connection's secrets."""

from __future__ import annotations

import json

from connector import resources
from simulators.testbed.synth import Synth


def _props(acme: Synth, construct: object) -> dict:
    return acme.cfn["Resources"][acme.logical_id(construct)]["Properties"]


def test_sync_queue_is_fifo_encrypted_and_redrives_to_a_fifo_dead_letter_queue(acme: Synth):
    queue = _props(acme, acme.stack.queues.by_id["SyncQueue"])
    dlq_id = acme.logical_id(acme.stack.queues.by_id["SyncDeadLetterQueue"])
    dlq = acme.cfn["Resources"][dlq_id]["Properties"]
    spec = resources.SYNC_QUEUE
    assert queue["FifoQueue"] is True
    # The producer sets the deduplication id (the delivery id); bodies are not hashed.
    assert queue["ContentBasedDeduplication"] is False
    assert queue["VisibilityTimeout"] == spec.visibility_timeout_s
    assert queue["MessageRetentionPeriod"] == spec.retention_s
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": spec.max_receive_count,
    }
    assert dlq["FifoQueue"] is True
    assert dlq["SqsManagedSseEnabled"] is True


def test_queues_refuse_requests_without_tls(acme: Synth):
    policies = acme.resources("AWS::SQS::QueuePolicy").values()
    guarded: set[str] = set()
    for policy in policies:
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement["Condition"] == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                guarded.update(q["Ref"] for q in policy["Properties"]["Queues"])
    expected = {acme.logical_id(q) for q in acme.stack.queues.by_id.values()}
    assert guarded == expected


def test_tables_are_on_demand_with_point_in_time_recovery_and_retained(acme: Synth):
    for spec in acme.stack.selection.tables:
        table_id = acme.logical_id(acme.stack.tables.by_id[spec.logical_id])
        resource = acme.cfn["Resources"][table_id]
        props = resource["Properties"]
        assert resource["DeletionPolicy"] == "Retain"
        assert resource["UpdateReplacePolicy"] == "Retain"
        assert props["KeySchema"] == [
            {"AttributeName": spec.partition_key, "KeyType": "HASH"},
            {"AttributeName": spec.sort_key, "KeyType": "RANGE"},
        ]
        assert {a["AttributeType"] for a in props["AttributeDefinitions"]} == {"S"}
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        pitr = props["PointInTimeRecoverySpecification"]
        assert pitr["PointInTimeRecoveryEnabled"] is True
        # AWS-managed encryption: SSE on, no customer key.
        assert props["SSESpecification"]["SSEEnabled"] is True
        assert "KMSMasterKeyId" not in props["SSESpecification"]


def test_the_state_and_audit_tables_expire_items_by_expires_at(acme: Synth):
    state = _props(acme, acme.stack.tables.by_id["StateTable"])
    audit = _props(acme, acme.stack.tables.by_id["AuditTable"])
    assert state["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    # Audit events are kept retention_days (the tenant file), then DynamoDB deletes them.
    assert audit["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_each_connection_has_a_store_and_a_ledger_secret_under_the_tenant_prefix(acme: Synth):
    secrets = acme.resources("AWS::SecretsManager::Secret").values()
    names = sorted(s["Properties"]["Name"] for s in secrets)
    assert names == [
        "ml-connector/acme/shop-eu/ledger",
        "ml-connector/acme/shop-eu/store",
        "ml-connector/acme/shop-us/ledger",
        "ml-connector/acme/shop-us/store",
    ]
    for secret in secrets:
        generator = secret["Properties"]["GenerateSecretString"]
        # A placeholder document saying what to put there; no secret value in the template.
        placeholder = json.loads(generator["SecretStringTemplate"])
        assert "put the" in placeholder["placeholder"]
        assert "SecretString" not in secret["Properties"]
