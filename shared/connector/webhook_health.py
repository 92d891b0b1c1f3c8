"""The reconcile schedule's look at each connection's webhooks: checked, and put right.

A store switches a webhook off after failed deliveries (WooCommerce after the seventh in a
row, and never sends the lost events again) or a merchant does; then only the poll brings
orders. So each reconcile run, per polled connection, at most every ``CHECK_EVERY`` (and at
once when the poll caught records a webhook should have brought), checks the connector's
webhooks through the store port (``connector.webhook_setup``, as ``connector webhooks check``
does) and, when something is off, syncs them (``webhooks sync``): a disabled webhook is
switched on again, a drifted one repaired, a missing one created.

One exception: when none of the connector's webhooks is registered, nothing is created. The
merchant has not run ``connector webhooks sync`` (or chose the poll alone); the health says
so and the on-call engineer decides.

What was found is noted in the connection's health item (``webhook_health``,
``webhook_checked_at``) for ``connector status``, audited under ``<conn>#webhooks`` when
something was wrong, and counted: ``WebhookRepaired`` (webhooks put right) and, per run,
``WebhookUnhealthy`` (connections whose webhooks were found missing, switched off or
drifted, whether or not they were put right).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from connector import webhook_setup
from connector.config import Connection
from connector.health import HealthMarks
from connector.observability import logger, metrics
from connector.secrets import SecretVault
from connector.state import AuditTrail
from connector.stores.port import HookStatus

CHECK_EVERY = timedelta(hours=1)
# Hook states after a sync that mean the store's webhook was put right.
_PUT_RIGHT = frozenset({"created", "repaired", "reactivated"})


@dataclass(frozen=True)
class HookCheck:
    """What one look at a connection's webhooks found and did."""

    health: str  # "healthy", "polled", "repaired: …", "unhealthy: …"
    found_unhealthy: bool = False  # missing, switched off or drifted when looked at
    repaired: int = 0  # webhooks put right


def is_due(checked_at: datetime | None, now: datetime, *, caught: int) -> bool:
    """Look when never looked, when the last look is CHECK_EVERY old, or at once when the
    poll caught records: a webhook should have brought them."""
    return caught > 0 or checked_at is None or now - checked_at >= CHECK_EVERY


class WebhookWatch:
    def __init__(
        self,
        *,
        base_url: str,
        vault: SecretVault,
        http: httpx.Client,
        audit: AuditTrail,
        health: HealthMarks,
    ) -> None:
        self._base_url = base_url
        self._vault = vault
        self._http = http
        self._audit = audit
        self._health = health

    def due(self, connection_id: str, now: datetime, *, caught: int) -> bool:
        return is_due(self._health.noted(connection_id).webhook_checked_at, now, caught=caught)

    def look_after(self, connection: Connection, now: datetime) -> HookCheck:
        """Check the connection's webhooks, put right what is off, note and record it."""
        check = self._look(connection)
        self._health.note(connection.id, webhook_health=check.health, webhook_checked_at=now)
        if check.repaired:
            metrics.add_metric(name="WebhookRepaired", unit="Count", value=check.repaired)
        if check.found_unhealthy:
            logger.warning(
                "webhooks were not as the connector needs them",
                connection_id=connection.id,
                health=check.health,
            )
        return check

    def _look(self, connection: Connection) -> HookCheck:
        if not self._base_url:
            # Without the deployed API's address there is nothing to compare the hooks with.
            return HookCheck("unknown: the function does not know the API's URL")
        [checked] = self._run("check", connection)
        if checked.error or checked.report is None:
            return self._unhealthy(connection, f"could not ask the store: {checked.error}")
        hooks = checked.report.hooks
        if hooks and all(hook.state == "polled" for hook in hooks):
            return HookCheck("polled")
        problems = checked.report.problems
        if not problems:
            return HookCheck("healthy")
        needed = [hook for hook in hooks if hook.state != "extra"]
        if needed and all(hook.state == "missing" for hook in needed):
            return self._unhealthy(
                connection,
                "no webhooks registered; run `connector webhooks sync` to register them "
                "(until then the poll alone brings the store's changes)",
            )
        found = _describe(problems)
        [synced] = self._run("sync", connection)
        if synced.error or synced.report is None:
            return self._unhealthy(connection, f"{found}; the store refused: {synced.error}")
        hooks = synced.report.hooks
        fixed = [hook for hook in hooks if hook.state in _PUT_RIGHT]
        failed = [hook for hook in hooks if hook.state == "failed"]
        if failed:
            return self._unhealthy(
                connection,
                f"{found}; not put right: {_describe(failed)}",
                repaired=len(fixed),
            )
        text = f"repaired: {_describe(fixed)}"
        self._audit.append(
            f"{connection.id}#webhooks",
            "webhooks_repaired",
            f"the schedule found {found} and put it right ({_describe(fixed)}); the poll "
            "brought what the webhooks missed meanwhile",
            detail={"delivery_url": synced.delivery_url, "hooks": _hooks(fixed)},
        )
        return HookCheck(text, found_unhealthy=True, repaired=len(fixed))

    def _unhealthy(self, connection: Connection, why: str, repaired: int = 0) -> HookCheck:
        self._audit.append(
            f"{connection.id}#webhooks",
            "webhooks_unhealthy",
            f"the connector's webhooks are not as it needs them: {why}",
            detail={"delivery_url": webhook_setup.delivery_url(self._base_url, connection.id)},
        )
        return HookCheck(f"unhealthy: {why}", found_unhealthy=True, repaired=repaired)

    def _run(
        self, verb: webhook_setup.Verb, connection: Connection
    ) -> list[webhook_setup.ConnectionHooks]:
        return webhook_setup.run(
            verb, [connection], base_url=self._base_url, vault=self._vault, http=self._http
        )


def _describe(hooks: list[HookStatus] | tuple[HookStatus, ...]) -> str:
    parts = []
    for hook in hooks:
        words = f"{hook.topic} {hook.state}"
        if hook.detail:
            words += f" ({hook.detail})"
        parts.append(words)
    return ", ".join(parts) or "nothing"


def _hooks(hooks: list[HookStatus]) -> list[dict[str, object]]:
    return [
        {"topic": h.topic, "state": h.state, "drift": list(h.drift), "hook_id": h.hook_id}
        for h in hooks
    ]
