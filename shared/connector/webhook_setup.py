"""`connector webhooks sync|check`: the connector's webhooks in each connection's store.

For each connection the store adapter (through the port, ``WebhookRegistration``) is asked
about the webhooks delivering to ``<public base>/webhooks/<connection>`` with the
connection's webhook secret; a connection the store refuses, or whose secret cannot be read,
is reported with the reason and the others go on. Nothing here knows which store it asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import httpx
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from connector.config import Connection
from connector.errors import SyncError
from connector.resources import ConnectionSecretName
from connector.secrets import SecretVault
from connector.stores.port import HookStatus, WebhookReport
from connector.stores.registry import open_webhooks

Verb = Literal["sync", "check"]

_DONE_IN_DRY_RUN = {"created": "would create", "repaired": "would repair",
                    "reactivated": "would reactivate"}  # fmt: skip


@dataclass(frozen=True)
class ConnectionHooks:
    """What one connection's store said, or why it could not be asked."""

    connection_id: str
    store: str
    delivery_url: str
    report: WebhookReport | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and self.report is not None and not self.report.problems

    @property
    def failed(self) -> bool:
        """Something the store refused (sync's failure), as opposed to something only found."""
        if self.error:
            return True
        return self.report is not None and any(h.state == "failed" for h in self.report.hooks)


def delivery_url(base_url: str, connection_id: str) -> str:
    """Where the connection's store delivers: the ingest route on the public API."""
    return f"{base_url.rstrip('/')}/webhooks/{connection_id}"


def run(
    verb: Verb,
    connections: Sequence[Connection],
    *,
    base_url: str,
    vault: SecretVault,
    http: httpx.Client,
    dry_run: bool = False,
) -> list[ConnectionHooks]:
    found = []
    for connection in connections:
        url = delivery_url(base_url, connection.id)
        store = connection.store.display_name
        # Which secret is being read, for the error: the store's API keys, then the webhook's.
        reading: ConnectionSecretName = "store"
        try:
            hooks = open_webhooks(connection, vault=vault, http=http)
            reading = "webhook"
            secret = vault.webhook_secret(connection.id)
            report = (
                hooks.sync_webhooks(url, secret, dry_run=dry_run)
                if verb == "sync"
                else hooks.check_webhooks(url, secret)
            )
        except SyncError as exc:
            found.append(ConnectionHooks(connection.id, store, url, error=str(exc)))
            continue
        except GetParameterError as exc:
            name = vault.secret_name(connection.id, reading)
            found.append(
                ConnectionHooks(
                    connection.id,
                    store,
                    url,
                    error=f"cannot read the connection's {reading} secret ({name}): {exc}",
                )
            )
            continue
        found.append(ConnectionHooks(connection.id, store, url, report))
    return found


def render(found: Sequence[ConnectionHooks], *, verb: Verb, dry_run: bool = False) -> str:
    """A table per connection, as an operator reads it in a terminal."""
    blocks = []
    for item in found:
        title = f"{item.connection_id} ({item.store}) -> {item.delivery_url}"
        if dry_run and verb == "sync":
            title += "  [dry run: nothing was changed]"
        lines = [title]
        if item.error:
            lines.append(f"  error: {item.error}")
        elif item.report is not None:
            lines.extend(_table(item.report.hooks, dry_run=dry_run and verb == "sync"))
            if item.report.note:
                lines.append(f"  note: {item.report.note}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _table(hooks: Sequence[HookStatus], *, dry_run: bool) -> list[str]:
    rows = [("TOPIC", "STATE", "HOOK", "DETAIL")]
    for hook in hooks:
        state = _DONE_IN_DRY_RUN.get(hook.state, hook.state) if dry_run else hook.state
        state = state.replace("_", " ")
        rows.append((hook.topic, state, hook.hook_id or "-", hook.detail))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    cells = (zip(row, [*widths, 0], strict=True) for row in rows)
    return ["  " + "  ".join(cell.ljust(width) for cell, width in row).rstrip() for row in cells]


def exit_code(found: Sequence[ConnectionHooks], *, verb: Verb) -> int:
    """check: 1 when a webhook is missing, drifted or could not be read; sync: 1 when the
    store refused something."""
    if verb == "check":
        return 0 if all(item.ok for item in found) else 1
    return 1 if any(item.failed for item in found) else 0
