"""An HTTP function that answers with the event and context it was given."""

from __future__ import annotations

import base64
import json
import time
from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    name = (event.get("pathParameters") or {}).get("name", "")
    if name == "binary":
        # Answers with the raw request bytes, base64-encoded as proxy responses carry binary.
        raw = base64.b64decode(event["body"]) if event["isBase64Encoded"] else b""
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "application/octet-stream"},
            "body": base64.b64encode(raw[::-1]).decode("ascii"),
            "isBase64Encoded": True,
        }
    return {
        "statusCode": 201,
        "headers": {"Content-Type": "application/json", "X-Echo": name},
        "multiValueHeaders": {"Set-Cookie": ["first=1", "second=2"]},
        "body": json.dumps(
            {
                "event": event,
                "context": {
                    "function_name": context.function_name,
                    "memory_limit_in_mb": context.memory_limit_in_mb,
                    "invoked_function_arn": context.invoked_function_arn,
                    "aws_request_id": context.aws_request_id,
                    "remaining_ms": context.get_remaining_time_in_millis(),
                },
            }
        ),
        "isBase64Encoded": False,
    }


def crash(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise RuntimeError("this function always fails")


def slow(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Outlives a one-second timeout."""
    time.sleep(1.3)
    return {"statusCode": 200, "body": "too late"}


def metered(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Counts one metric per call, as the connector's handlers do."""
    from connector.observability import metrics

    metrics.add_metric(name="EchoMetered", unit="Count", value=1)
    return {"statusCode": 204, "body": ""}
