"""A small run of the per-company benchmark (scripts/bench_company.py, ``make bench``): its
figures come from what QuickBooks and AWS actually received. Speed is never asserted."""

from __future__ import annotations

from decimal import Decimal

from scripts.bench_company import (
    REAL_LIMITS,
    TENFOLD_DOWN,
    cost_per_1000,
    drain_backlog,
)

QUIET = {"POWERTOOLS_LOG_LEVEL": "CRITICAL", "PYTHONWARNINGS": "ignore"}


def test_the_ceilings_are_single_requests_plus_thirty_documents_per_batch() -> None:
    assert REAL_LIMITS.ceiling == (500 - 40) + 40 * 30 == 1660
    assert TENFOLD_DOWN.ceiling == (50 - 4) + 4 * 30 == 166
    assert REAL_LIMITS.scaled(10) == TENFOLD_DOWN


def test_a_small_backlog_is_counted_document_by_document() -> None:
    result = drain_backlog(6, TENFOLD_DOWN, worker_processes=True, extra_env=QUIET)
    assert result.drained
    assert result.documents == 6  # one sales receipt per order, none twice
    assert result.parked == 0
    assert result.requests >= 6  # single creates: at least one accepted call per order
    assert 0 < result.share_of_ceiling == result.per_minute / 166


def test_cost_counts_the_invocations_and_aws_requests_the_orders_caused() -> None:
    cost = cost_per_1000(3)
    assert cost.invocations["ingest"] == 3
    assert cost.invocations["sync"] >= 1
    assert cost.use.count("dynamodb") > 0
    assert cost.use.count("sqs") >= 2  # ingest's sends, the poller's receive and delete
    assert cost.use.write_units > 0
    dollars = cost.dollars()
    assert set(dollars) == {"Lambda", "DynamoDB", "SQS", "API Gateway", "Secrets Manager"}
    assert all(isinstance(v, Decimal) and v >= 0 for v in dollars.values())
    # API Gateway: one REST request per push, scaled to 1,000 orders
    assert dollars["API Gateway"] == Decimal("3.50") / 1_000_000 * 1000
