"""A queue-triggered function that records every delivery in the state table.

A message body ``{"id": ..., "fail_until": n}`` is reported as a batch item
failure while its receive count is at most n (``"delay_s": d`` first sets its
visibility to d seconds, as the sync handler hands a record back with a delay);
``"raise_until": n`` makes the whole invocation raise instead.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

from connector.resources import ENV_STATE_TABLE

TABLE = boto3.resource("dynamodb").Table(os.environ[ENV_STATE_TABLE])
SQS = boto3.client("sqs")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures: list[dict[str, str]] = []
    must_raise = False
    for record in event["Records"]:
        body = json.loads(record["body"])
        receive_count = int(record["attributes"]["ApproximateReceiveCount"])
        TABLE.put_item(
            Item={
                "pk": f"delivery#{body['id']}",
                "sk": f"{receive_count:03d}#{record['messageId']}",
                "batch": context.aws_request_id,
                "record": json.dumps(record),
            }
        )
        if receive_count <= body.get("fail_until", 0):
            failures.append({"itemIdentifier": record["messageId"]})
            if "delay_s" in body:
                queue_name = record["eventSourceARN"].rsplit(":", 1)[1]
                SQS.change_message_visibility(
                    QueueUrl=SQS.get_queue_url(QueueName=queue_name)["QueueUrl"],
                    ReceiptHandle=record["receiptHandle"],
                    VisibilityTimeout=body["delay_s"],
                )
        if receive_count <= body.get("raise_until", 0):
            must_raise = True
    if must_raise:
        raise RuntimeError("the batch failed as a whole")
    return {"batchItemFailures": failures}
