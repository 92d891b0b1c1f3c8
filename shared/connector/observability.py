"""One logger, one metrics and one tracer for the whole library (Powertools)."""

from __future__ import annotations

import logging

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "ml-connector"
NAMESPACE = "MlConnector"

logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)
tracer = Tracer(service=SERVICE)

# httpx logs each request URL at INFO; over plain http (OAuth 1.0a) that URL carries
# the WooCommerce consumer key, which must not reach the logs.
logging.getLogger("httpx").setLevel(logging.WARNING)
