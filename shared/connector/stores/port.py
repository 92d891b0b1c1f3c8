"""What every store adapter offers the ingest and the sync worker, and what it reports back.

A store reads its own webhooks (verify, answer a ping, name the records a
delivery is about, or refuse it with an HTTP status), fetches records as the
canonical model, and lists what changed since a watermark. Nothing above an
adapter knows which store it talks to: the runtime picks the adapter by
``store.kind``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from connector.errors import PermanentError, TransientError
from connector.model import Customer, Entity, Order, Refund

Action = Literal["upsert", "delete"]


class StoreUnavailable(TransientError):
    """The store did not answer usefully (timeouts, 5xx, 429) after our retries."""


class StoreRecordNotFound(PermanentError):
    """The store says the record is deleted: its QuickBooks document is withdrawn."""


class StoreRecordMissing(PermanentError):
    """The store does not have the record but does not say it was deleted: the event is
    recorded and nothing in QuickBooks is touched."""


class StoreAuthFailed(PermanentError):
    """The store refused our credentials: the merchant must issue new ones."""


class StoreRequestRejected(PermanentError):
    """The store refused the request itself (4xx other than auth/404) or answered non-JSON."""


@dataclass(frozen=True)
class WebhookRecord:
    """One store record a verified delivery is about."""

    entity: Entity
    record_id: str
    action: Action
    topic: str
    # The record's modification time, and a version that tells two deliveries apart.
    modified_at: datetime | None
    version: str


@dataclass(frozen=True)
class WebhookReading:
    """What a delivery says. ``status`` is the HTTP answer the store gets."""

    status: int
    message: str
    records: tuple[WebhookRecord, ...] = ()
    # A verified delivery about something the connector does not sync (recorded, not queued).
    ignored_topic: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_ping(self) -> bool:
        return self.status == 200 and not self.records and self.ignored_topic is None


@dataclass(frozen=True)
class ChangedRecord:
    """A record the store changed since a watermark (polling's unit of work)."""

    entity: Entity
    record_id: str
    modified_at: datetime


@dataclass(frozen=True)
class HistoricOrder:
    """An order a backfill found in the store's history (connector.backfill)."""

    record_id: str
    # Creation orders the listing (and a resumed backfill's cursor); modification is the
    # version queued, as the poll queues it.
    created_at: datetime
    modified_at: datetime


class Store(Protocol):
    @property
    def display_name(self) -> str:
        """How bookkeepers name the store ("WooCommerce"): used in notes and memos."""
        ...

    @property
    def calls(self) -> int:
        """Requests made to the store (benchmarks count them)."""
        ...

    def get_order(self, store_id: str) -> Order:
        """The order as it is now. Raises StoreRecordNotFound, or TotalsMismatch when the
        store's figures do not add up."""
        ...

    def get_refunds(self, order: Order) -> list[Refund]:
        """The order's refunds as they are now (a deleted one is not listed)."""
        ...

    def get_customer(self, store_id: str) -> Customer: ...

    def list_changed(self, entity: Entity, since: datetime) -> Iterator[ChangedRecord]:
        """Records changed after ``since``, paged by the adapter."""
        ...

    def list_created(self, since: datetime, until: datetime) -> Iterator[HistoricOrder]:
        """Orders created at or after ``since`` and before ``until``, each once, paged by the
        adapter (in any order: the backfill sorts them by creation)."""
        ...


# A named field of the connection's webhook secret (e.g. an app's client secret), read on demand.
StoreSecretField = Callable[[str], str]


class WebhookReader(Protocol):
    def __call__(
        self,
        headers: Mapping[str, str],
        body: bytes,
        secret: Callable[[], str],
        store_secret: StoreSecretField | None = None,
    ) -> WebhookReading:
        """Read one delivery. ``secret`` gives the connection's webhook secret, asked for only
        once the delivery needs verifying (a ping does not); ``store_secret`` reads another
        field of the webhook secret for stores that sign with more than one."""
        ...


# -- the connector's webhooks in the store ------------------------------------------------

HookState = Literal[
    "ok",  # registered as the connector needs it
    "missing",  # check: not registered
    "drifted",  # check: registered, but what ``drift`` names differs
    "created",  # sync: registered now
    "repaired",  # sync: what ``drift`` names was put right
    "reactivated",  # sync: the store had switched it off; it is on again
    "extra",  # delivers to the connector but is none of the ones it needs; left alone
    "failed",  # the store refused; ``detail`` has its words
    "polled",  # the store sends no webhooks; the connector polls it
]
# What can differ in a registered webhook: where it delivers, the secret it carries, its
# topic, or that the store switched it off (after failed deliveries, or by hand).
Drift = Literal["url", "secret", "topic", "inactive"]
# States that mean the connector may miss the store's changes.
PROBLEM_STATES: frozenset[HookState] = frozenset({"missing", "drifted", "failed"})


@dataclass(frozen=True)
class HookStatus:
    """One webhook the connector needs (by the store's topic or scope), or one it found."""

    topic: str
    state: HookState
    drift: tuple[Drift, ...] = ()
    detail: str = ""
    hook_id: str = ""


@dataclass(frozen=True)
class WebhookReport:
    """The connector's webhooks in one store, per topic. ``dry_run``: what ``sync`` would
    have done, with nothing changed."""

    store: str
    delivery_url: str
    hooks: tuple[HookStatus, ...]
    dry_run: bool = False
    # What the store does not let the connector see or do (WooCommerce never shows a secret).
    note: str = ""

    @property
    def problems(self) -> tuple[HookStatus, ...]:
        return tuple(hook for hook in self.hooks if hook.state in PROBLEM_STATES)


class WebhookRegistration(Protocol):
    """The connector's webhooks in a store: looked at, or created and put right."""

    def check_webhooks(self, delivery_url: str, secret: str) -> WebhookReport:
        """What is registered for ``delivery_url``, changing nothing. Raises StoreAuthFailed,
        StoreRequestRejected or StoreUnavailable when the store cannot be asked."""
        ...

    def sync_webhooks(
        self, delivery_url: str, secret: str, *, dry_run: bool = False
    ) -> WebhookReport:
        """Create what is missing, repair what drifted and switch on what the store switched
        off, so every topic the connector reads delivers to ``delivery_url`` with ``secret``.
        A refusal for one topic is that topic's ``failed`` state; the others go on."""
        ...
