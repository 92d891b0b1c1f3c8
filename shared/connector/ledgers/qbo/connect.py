"""Connecting a QuickBooks Online company: the OAuth 2.0 authorisation code flow.

Only a signed, single-use connect link (connector.ledgers.qbo.connect_links, made by
`connector connect-url`) starts it; anything else is refused before Intuit. The callback
keeps the company the connection already holds unless the link allowed a change.

The state parameter is random, single-use, bound to one connection and valid
for ten minutes, so a callback can neither be forged nor replayed, nor land a
company's tokens on another connection. The tokens are saved under the same
fenced lease as a refresh (connector.ledgers.qbo.token_lease).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Protocol

import httpx

from connector.config import QboLedger, TenantConfig
from connector.errors import PermanentError, TransientError
from connector.ledgers.qbo import connect_links, oauth
from connector.ledgers.qbo import tokens as tokens_module
from connector.ledgers.qbo.connect_links import LinkKey, LinkRefused
from connector.ledgers.qbo.token_lease import TokenLease
from connector.observability import logger
from connector.secrets import SecretVault
from connector.state import AuditTrail, StateStore

CALLBACK_PATH = "/oauth/qbo/callback"
# Our states are 43 characters. A state is a DynamoDB key, and DynamoDB refuses a key over
# 2 KB with an error (moto checks only writes), which would be a 5xx and a page on AWS.
MAX_STATE_CHARS = 256


@dataclass(frozen=True)
class Page:
    status: int
    title: str
    message: str
    location: str | None = None

    def html(self) -> str:
        return (
            "<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(self.title)}</title></head><body>"
            f"<h1>{html.escape(self.title)}</h1><p>{html.escape(self.message)}</p></body></html>"
        )


class RealmRecord(Protocol):
    """connector.ledger_realms.LedgerRealms: the company a connection is connected to."""

    def record(self, connection_id: str, realm_id: str) -> None: ...


class QboConnect:
    def __init__(
        self,
        *,
        config: TenantConfig,
        vault: SecretVault,
        state: StateStore,
        audit: AuditTrail,
        link_key: LinkKey,
        http: httpx.Client | None = None,
        realms: RealmRecord | None = None,
    ) -> None:
        self._config = config
        # Where ingest reads the connected company to check QuickBooks webhooks against.
        self._realms = realms
        self._vault = vault
        self._state = state
        self._audit = audit
        self._link_key = link_key
        self._http = http

    def _new_link_hint(self, connection_id: str) -> str:
        return (
            "Ask whoever runs the connector for a new link: `connector connect-url --tenant "
            f"{self._config.tenant} --connection {connection_id}` (add --change-company to move "
            "it to another QuickBooks company)."
        )

    def _refused(self, connection_id: str, refused: LinkRefused) -> Page:
        logger.warning("connect link refused", connection_id=connection_id, why=refused.reason)
        return Page(
            refused.status,
            "This connect link does not work",
            f"{refused.reason} {self._new_link_hint(connection_id)}",
        )

    def start(self, connection_id: str, base_url: str, query: dict[str, str]) -> Page:
        connection = self._config.connection(connection_id)
        if connection is None:
            return Page(404, "Unknown connection", f"There is no connection named {connection_id}.")
        if not isinstance(connection.ledger, QboLedger):
            return Page(
                404,
                "Not a QuickBooks Online connection",
                f"connection {connection_id} is not a QuickBooks Online connection: it posts to "
                "QuickBooks Desktop through the Web Connector, which needs no connecting here.",
            )
        try:
            key = self._link_key.get()
        except PermanentError as exc:
            # The operator's to fix; a visitor learns no secret's name from it.
            logger.error("connect link key unreadable", reason=exc.reason)
            return Page(
                409,
                "QuickBooks cannot be connected yet",
                "This connector cannot check connect links yet: whoever runs it must deploy "
                "it again.",
            )
        try:
            link = connect_links.verify(key, connection_id, query)
        except LinkRefused as refused:
            return self._refused(connection_id, refused)
        try:
            secrets = self._vault.ledger(connection_id)
        except PermanentError as exc:
            # The app's credentials are not in Secrets Manager yet: say so (to a link holder
            # only). A 409 (the connection is not ready), not a 5xx, and the link stays unspent.
            return Page(409, "QuickBooks cannot be connected yet", exc.reason)
        # Spent before the redirect: of two visits with one link only one reaches Intuit.
        if not self._state.spend_connect_nonce(link.nonce, link.expires_at):
            return self._refused(
                connection_id, LinkRefused("This connect link was used already.", status=410)
            )
        state = self._state.create_oauth_state(connection_id, change_company=link.change_company)
        url = oauth.authorize_url(
            authorize_endpoint=connection.qbo.authorize_endpoint,
            client_id=secrets.client_id,
            redirect_uri=base_url + CALLBACK_PATH,
            state=state,
        )
        return Page(302, "Connecting to QuickBooks", "Redirecting to Intuit.", location=url)

    def callback(
        self,
        *,
        base_url: str,
        code: str | None,
        state: str | None,
        realm_id: str | None,
        error: str | None = None,
    ) -> Page:
        if error:
            return Page(400, "QuickBooks was not connected", f"Intuit answered: {error}.")
        if not (code and state and realm_id):
            return Page(
                400, "QuickBooks was not connected", "The link is missing code, state or realmId."
            )
        if len(state) > MAX_STATE_CHARS:
            return Page(
                400,
                "QuickBooks was not connected",
                "This link was not made by this connector. Start again from the Connect link.",
            )
        grant = self._state.consume_oauth_state(state)
        if grant is None:
            return Page(
                400,
                "QuickBooks was not connected",
                "This link has expired or was already used. Start again from the Connect link.",
            )
        connection_id = grant.connection_id
        connection = self._config.connection(connection_id)
        if connection is None or not isinstance(connection.ledger, QboLedger):
            # The tenant file changed between the connect link and Intuit's answer.
            return Page(
                404,
                "QuickBooks was not connected",
                f"connection {connection_id} is not a QuickBooks Online connection.",
            )
        try:
            secrets = self._vault.ledger(connection_id)
        except PermanentError as exc:
            return Page(409, "QuickBooks was not connected", exc.reason)
        held = secrets.realm_id
        if held and held != realm_id and not grant.change_company:
            # Checked before the code is exchanged: no tokens for the other company exist.
            logger.warning(
                "connect refused: another QuickBooks company", connection_id=connection_id
            )
            self._audit.append(
                f"{connection_id}#connection#qbo",
                "connect_refused",
                f"refused QuickBooks company {realm_id}: the connection posts to company {held}",
                detail={"realm_id": realm_id, "held_realm_id": held},
            )
            return Page(
                409,
                "QuickBooks was not connected",
                f"Connection {connection_id} posts to QuickBooks company {held}, and you signed "
                f"in to company {realm_id}. Nothing changed. To move the connection to another "
                "company, ask whoever runs the connector for a link made with --change-company: "
                f"`connector connect-url --tenant {self._config.tenant} --connection "
                f"{connection_id} --change-company`.",
            )
        try:
            tokens = oauth.exchange_code(
                token_url=connection.qbo.token_endpoint,
                client_id=secrets.client_id,
                client_secret=secrets.client_secret.get_secret_value(),
                code=code,
                redirect_uri=base_url + CALLBACK_PATH,
                http=self._http,
            )
        except (oauth.InvalidGrant, PermanentError, TransientError) as exc:
            logger.warning("authorisation code exchange failed", connection_id=connection_id)
            return Page(
                502, "QuickBooks was not connected", f"Intuit refused the code: {exc}. Start again."
            )
        try:
            # The refresher's lease: a refresh running now must not overwrite these tokens
            # with ones from the grant they replace, nor these overwrite a later refresh.
            with TokenLease(
                self._state,
                connection_id,
                lease_s=tokens_module.LOCK_LEASE_S,
                wait_s=tokens_module.LOCK_WAIT_S,
            ) as lease:
                lease.check()
                self._vault.save_ledger(
                    connection_id,
                    secrets.model_copy(
                        update={
                            "realm_id": realm_id,
                            "access_token": tokens.access_token,
                            "refresh_token": tokens.refresh_token,
                            "access_expires_at": tokens.access_expires_at.isoformat(),
                            "refresh_expires_at": tokens.refresh_expires_at.isoformat(),
                            "refresh_hard_expires_at": tokens.refresh_hard_expires_at.isoformat()
                            if tokens.refresh_hard_expires_at
                            else None,
                        }
                    ),
                )
        except TransientError as exc:
            logger.warning("tokens not saved: the token lease is busy", connection_id=connection_id)
            return Page(503, "QuickBooks was not connected", f"{exc}. Start again in a minute.")
        self._state.set_connection_status(connection_id, "connected", f"company {realm_id}")
        if self._realms is not None:
            self._realms.record(connection_id, realm_id)
        moved = bool(held) and held != realm_id
        self._audit.append(
            f"{connection_id}#connection#qbo",
            "connected",
            f"moved from QuickBooks company {held} to company {realm_id}"
            if moved
            else f"connected to QuickBooks company {realm_id}",
            detail={"realm_id": realm_id, "previous_realm_id": held} if moved else None,
        )
        return Page(
            200,
            "QuickBooks is connected",
            f"Connection {connection_id} now posts to QuickBooks company {realm_id}. You can close this page.",
        )
