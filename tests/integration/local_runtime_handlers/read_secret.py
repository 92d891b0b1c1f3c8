"""An HTTP function that reads a connection's store secret by its name."""

from __future__ import annotations

import os
from typing import Any

import boto3

from connector.resources import ENV_SECRET_PREFIX, secret_name

SECRETS = boto3.client("secretsmanager")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    connection_id = event["pathParameters"]["connection_id"]
    name = secret_name(os.environ[ENV_SECRET_PREFIX], connection_id, "store")
    value = SECRETS.get_secret_value(SecretId=name)["SecretString"]
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": value}
