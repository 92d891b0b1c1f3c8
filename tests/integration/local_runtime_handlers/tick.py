"""A scheduled function that records each firing in the state table."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

from connector.resources import ENV_STATE_TABLE

TABLE = boto3.resource("dynamodb").Table(os.environ[ENV_STATE_TABLE])


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    TABLE.put_item(Item={"pk": "tick", "sk": event["id"], "event": json.dumps(event)})
    return {"fired": event["id"], "function_name": context.function_name}
