"""An HTTP function that queues one sync message per item of its JSON body.

It reads the queue URL and makes its client at import, as the real handlers
read their settings at cold start, so it only works if the runtime set the
environment before importing it.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

from connector.resources import ENV_SYNC_QUEUE_URL

QUEUE_URL = os.environ[ENV_SYNC_QUEUE_URL]
SQS = boto3.client("sqs")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    items = json.loads(event["body"])
    for item in items:
        SQS.send_message(
            QueueUrl=QUEUE_URL,
            MessageBody=json.dumps(item),
            MessageGroupId=item.get("group", item["id"]),
            MessageDeduplicationId=item["id"],
            MessageAttributes={"topic": {"DataType": "String", "StringValue": "order.created"}},
        )
    return {"statusCode": 202, "body": json.dumps({"queued": len(items)})}
