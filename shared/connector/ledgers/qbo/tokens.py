"""QuickBooks Online access tokens: fresh when needed, refreshed by one caller per realm at a time.

Intuit rotates the refresh token on refresh and reports lost rotations as
``invalid_grant`` when two callers race, so every refresh runs under a
fenced DynamoDB lease (connector.ledgers.qbo.token_lease), re-reads Secrets
Manager first, and saves the rotated token, while the lease is still ours,
before anything else uses it. ``invalid_grant`` is re-checked against storage
before the connection is declared in need of a reconnect.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from connector.config import Connection
from connector.errors import NeedsReconnect
from connector.ledgers.qbo import oauth
from connector.ledgers.qbo.token_lease import TokenLease
from connector.observability import logger, metrics
from connector.secrets import LedgerSecrets, SecretVault
from connector.state import AuditTrail, StateStore

# Refresh this long before the access token expires, so no call carries a dying token.
ACCESS_MARGIN = timedelta(minutes=5)
# The lease is renewed while the Intuit call runs, so it only needs to outlive a stall.
LOCK_LEASE_S = 30
LOCK_WAIT_S = 20.0


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class QboTokens:
    """TokenProvider for QboClient, backed by the connection's ledger secret."""

    def __init__(
        self,
        *,
        connection: Connection,
        vault: SecretVault,
        state: StateStore,
        audit: AuditTrail,
        http: httpx.Client | None = None,
    ) -> None:
        self._connection = connection
        self._vault = vault
        self._state = state
        self._audit = audit
        self._http = http
        self._cached: LedgerSecrets | None = None

    # --- TokenProvider ------------------------------------------------------------------
    def realm_id(self) -> str:
        secrets = self._secrets()
        if not secrets.realm_id:
            raise NeedsReconnect(self._not_connected_reason())
        return secrets.realm_id

    def access_token(self) -> str:
        secrets = self._secrets()
        if self._fresh(secrets):
            assert secrets.access_token is not None
            return secrets.access_token.get_secret_value()
        return self.refresh(reason="access token expires")

    def refresh_after_unauthorized(self, rejected: str) -> str:
        return self.refresh(reason="QuickBooks answered 401", rejected=rejected)

    # --- refresh ------------------------------------------------------------------------
    def refresh(self, *, reason: str, rejected: str | None = None) -> str:
        """Return a usable access token, refreshing under the connection's fenced lease."""
        with TokenLease(
            self._state, self._connection.id, lease_s=LOCK_LEASE_S, wait_s=LOCK_WAIT_S
        ) as lease:
            secrets = self._vault.ledger(self._connection.id)
            current = secrets.access_token.get_secret_value() if secrets.access_token else None
            if current and current != rejected and self._fresh(secrets):
                # Someone refreshed while we waited for the lease.
                self._cached = secrets
                return current
            return self._refresh_locked(secrets, reason, lease)

    def _refresh_locked(self, secrets: LedgerSecrets, reason: str, lease: TokenLease) -> str:
        if secrets.refresh_token is None:
            raise NeedsReconnect(self._not_connected_reason())
        try:
            tokens = oauth.refresh(
                token_url=self._connection.qbo.token_endpoint,
                client_id=secrets.client_id,
                client_secret=secrets.client_secret.get_secret_value(),
                refresh_token=secrets.refresh_token.get_secret_value(),
                http=self._http,
            )
        except oauth.InvalidGrant as exc:
            # A racing refresher may have rotated the token since we read it.
            latest = self._vault.ledger(self._connection.id)
            if latest.refresh_token and latest.refresh_token != secrets.refresh_token:
                return self._refresh_locked(latest, reason, lease)
            self._mark_needs_reconnect(str(exc))
            raise NeedsReconnect(
                f"QuickBooks refused the stored refresh token for connection "
                f"{self._connection.id} (invalid_grant): reconnect with a link from "
                f"`connector connect-url --connection {self._connection.id}`, then replay the "
                "parked records"
            ) from None
        updated = secrets.model_copy(
            update={
                "access_token": tokens.access_token,
                "refresh_token": tokens.refresh_token,
                "access_expires_at": tokens.access_expires_at.isoformat(),
                "refresh_expires_at": tokens.refresh_expires_at.isoformat(),
                "refresh_hard_expires_at": tokens.refresh_hard_expires_at.isoformat()
                if tokens.refresh_hard_expires_at
                else secrets.refresh_hard_expires_at,
            }
        )
        # Saved before use: the old refresh token dies 24 h after this one was issued. Saved
        # only while the lease is ours: a holder that stalled past it must not overwrite.
        lease.check()
        self._vault.save_ledger(self._connection.id, updated)
        self._cached = updated
        metrics.add_metric(name="TokenRefreshed", unit="Count", value=1)
        logger.info("QuickBooks tokens refreshed", connection_id=self._connection.id, reason=reason)
        self._audit.append(
            f"{self._connection.id}#connection#qbo",
            "token_refreshed",
            reason,
            detail={
                "access_expires_at": updated.access_expires_at,
                "refresh_expires_at": updated.refresh_expires_at,
                "refresh_hard_expires_at": updated.refresh_hard_expires_at,
            },
        )
        return tokens.access_token.get_secret_value()

    # --- health -----------------------------------------------------------------------
    def days_until_reconnect(self) -> float | None:
        """Days until the refresh token's hard expiry, when QuickBooks told us."""
        hard = _parse(self._secrets().refresh_hard_expires_at)
        if hard is None:
            return None
        return (hard - datetime.now(UTC)).total_seconds() / 86400

    def _mark_needs_reconnect(self, detail: str) -> None:
        message = "QuickBooks refused the refresh token: reconnect this connection"
        self._state.set_connection_status(self._connection.id, "needs_reconnect", message)
        self._audit.append(
            f"{self._connection.id}#connection#qbo",
            "needs_reconnect",
            message,
            detail={"error": detail},
        )
        metrics.add_metric(name="TokenRefreshFailed", unit="Count", value=1)

    def _secrets(self) -> LedgerSecrets:
        if self._cached is None:
            self._cached = self._vault.ledger(self._connection.id)
        return self._cached

    def _fresh(self, secrets: LedgerSecrets) -> bool:
        expires = _parse(secrets.access_expires_at)
        return bool(
            secrets.access_token
            and expires is not None
            and expires - ACCESS_MARGIN > datetime.now(UTC)
        )

    def _not_connected_reason(self) -> str:
        return (
            f"connection {self._connection.id} is not connected to QuickBooks yet: open a link "
            f"from `connector connect-url --connection {self._connection.id}`, then replay the "
            "parked records"
        )
