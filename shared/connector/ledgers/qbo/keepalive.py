"""Scheduled refresh of QuickBooks Online tokens.

Access tokens live an hour and refresh tokens roll over about 100 days: a store
that sells nothing for months must still be connected, so a schedule refreshes
each connection ahead of expiry, and reports how many days are left before the
5-year hard expiry (the ``RefreshTokenDaysLeft`` metric, which an alarm watches).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel

from connector.config import Connection, QboLedger
from connector.errors import PermanentError, TransientError
from connector.ledgers.qbo.tokens import QboTokens
from connector.observability import logger, metrics

# Warn this many days before QuickBooks forces the merchant to reconnect.
HARD_EXPIRY_WARNING_DAYS = 30
# One value per connection in each run; the alarm reads their Minimum (infra/alarms.py).
DAYS_LEFT_METRIC = "RefreshTokenDaysLeft"


class KeepaliveReport(BaseModel):
    refreshed: list[str] = []
    not_connected: list[str] = []
    failed: dict[str, str] = {}
    reconnect_soon: dict[str, float] = {}
    days_left: dict[str, float] = {}


def refresh_all(
    connections: Iterable[Connection], tokens_for: Callable[[Connection], QboTokens]
) -> KeepaliveReport:
    report = KeepaliveReport()
    for connection in connections:
        if not isinstance(connection.ledger, QboLedger):
            continue  # a Desktop connection has no tokens to keep alive
        tokens = tokens_for(connection)
        try:
            tokens.refresh(reason="scheduled keep-alive")
        except PermanentError as exc:
            report.not_connected.append(connection.id)
            logger.warning(
                "QuickBooks connection needs attention",
                connection_id=connection.id,
                reason=exc.reason,
            )
            continue
        except TransientError as exc:
            report.failed[connection.id] = str(exc)
            metrics.add_metric(name="TokenRefreshFailed", unit="Count", value=1)
            logger.error(
                "scheduled token refresh failed", connection_id=connection.id, error=str(exc)
            )
            continue
        report.refreshed.append(connection.id)
        days = tokens.days_until_reconnect()
        if days is None:
            continue  # Intuit did not say (older connections); nothing to count down
        report.days_left[connection.id] = round(days, 1)
        metrics.add_metric(name=DAYS_LEFT_METRIC, unit=MetricUnit.NoUnit, value=round(days, 2))
        if days < HARD_EXPIRY_WARNING_DAYS:
            report.reconnect_soon[connection.id] = round(days, 1)
            logger.warning(
                "QuickBooks requires a reconnect soon", connection_id=connection.id, days=days
            )
    return report
