"""Which of a store's webhooks are the connector's, what drifted in them, and what to do about it.

A pure planner shared by the stores that offer webhooks (their adapters list, create and
update; this decides). For each topic the connector needs, in order:

1. a webhook for that topic delivering to the connector's URL (the one with the least drift
   when there are several);
2. else one for that topic delivering to another URL that ends in the same
   ``/webhooks/<connection>``: the connector's, left behind by an older deployment (drift:
   url);
3. else one delivering to the connector (either way) whose topic the connector does not need:
   repurposed (drift: topic, and url when it differs);
4. else none: it is missing.

A webhook drifts in ``url``, ``topic``, ``secret`` (only where the store shows the secret; a
store that never does gets it set again on every sync) and ``inactive`` (the store switched
it off). What delivers to the connector and is left over is reported as ``extra`` and left
alone: it may be the merchant's, and a stale duplicate is switched off by the store itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from connector.errors import SyncError
from connector.stores.port import Drift, HookStatus, StoreAuthFailed


@dataclass(frozen=True)
class RemoteHook:
    """A webhook as the store lists it, in the planner's terms."""

    id: str
    topic: str
    url: str
    active: bool
    # Whether the secret it carries is the connector's; None where the store never shows it.
    secret_matches: bool | None
    # The store's own word for why it is off ("disabled", "paused", "is_active: false").
    status: str = ""


@dataclass(frozen=True)
class HookStep:
    """One needed topic: the webhook that serves it (None: create one) and what drifted."""

    topic: str
    hook: RemoteHook | None
    drift: tuple[Drift, ...] = ()


@dataclass(frozen=True)
class HookPlan:
    steps: tuple[HookStep, ...]
    extras: tuple[RemoteHook, ...]


def connection_tail(delivery_url: str) -> str:
    """The path end every deployment of a connection shares: ``/webhooks/<connection>``."""
    path = urlsplit(delivery_url).path.rstrip("/")
    cut = path.rfind("/webhooks/")
    return path[cut:] if cut >= 0 else path


def _delivers_to_connection(hook: RemoteHook, delivery_url: str, tail: str) -> bool:
    if hook.url == delivery_url:
        return True
    path = urlsplit(hook.url).path.rstrip("/")
    return bool(tail) and path.endswith(tail)


def drift_of(hook: RemoteHook, topic: str, delivery_url: str) -> tuple[Drift, ...]:
    found: list[Drift] = []
    if hook.url != delivery_url:
        found.append("url")
    if hook.topic != topic:
        found.append("topic")
    if hook.secret_matches is False:
        found.append("secret")
    if not hook.active:
        found.append("inactive")
    return tuple(found)


def plan_hooks(wanted: Sequence[str], hooks: Sequence[RemoteHook], delivery_url: str) -> HookPlan:
    """Match each wanted topic to at most one webhook (see the module's rules)."""
    tail = connection_tail(delivery_url)
    ours = [h for h in hooks if _delivers_to_connection(h, delivery_url, tail)]
    used: set[str] = set()
    steps: list[HookStep] = []
    tiers: tuple[Callable[[RemoteHook, str], bool], ...] = (
        lambda h, t: h.topic == t and h.url == delivery_url,
        lambda h, t: h.topic == t,
        lambda h, t: h.topic not in wanted,
    )
    for topic in wanted:
        chosen: RemoteHook | None = None
        for tier in tiers:
            candidates = [h for h in ours if h.id not in used and tier(h, topic)]
            if candidates:
                chosen = min(candidates, key=lambda h: len(drift_of(h, topic, delivery_url)))
                break
        if chosen is None:
            steps.append(HookStep(topic, None))
            continue
        used.add(chosen.id)
        steps.append(HookStep(topic, chosen, drift_of(chosen, topic, delivery_url)))
    extras = tuple(h for h in ours if h.id not in used)
    return HookPlan(tuple(steps), extras)


def describe_drift(step: HookStep) -> str:
    """What differs, in words (never the secret itself)."""
    hook = step.hook
    if hook is None:
        return ""
    words = []
    for drift in step.drift:
        if drift == "url":
            words.append(f"delivering to {hook.url}")
        elif drift == "topic":
            words.append(f"topic was {hook.topic}")
        elif drift == "secret":
            words.append("carried another secret")
        else:
            words.append(f"switched off by the store ({hook.status or 'inactive'})")
    return "; ".join(words)


def extra_status(hook: RemoteHook, wanted: Sequence[str]) -> HookStatus:
    why = (
        f"a second webhook for {hook.topic}"
        if hook.topic in wanted
        else f"{hook.topic} is not a topic the connector reads"
    )
    return HookStatus(
        hook.topic, "extra", detail=f"{why}; {hook.url}; left as it is", hook_id=hook.id
    )


def check_statuses(
    plan: HookPlan, wanted: Sequence[str], *, unreadable_secret: str = ""
) -> tuple[HookStatus, ...]:
    """The plan as ``check`` reports it: ok, missing or drifted, then the extras.
    ``unreadable_secret`` is said of a webhook whose secret the store never shows."""
    statuses: list[HookStatus] = []
    for step in plan.steps:
        if step.hook is None:
            statuses.append(HookStatus(step.topic, "missing"))
        elif step.drift:
            statuses.append(
                HookStatus(step.topic, "drifted", step.drift, describe_drift(step), step.hook.id)
            )
        else:
            unknown = step.hook.secret_matches is None
            statuses.append(
                HookStatus(step.topic, "ok", detail=unreadable_secret if unknown else "",
                           hook_id=step.hook.id)
            )  # fmt: skip
    statuses.extend(extra_status(h, wanted) for h in plan.extras)
    return tuple(statuses)


# create(topic) -> the new webhook's id; update(step) puts right what step.drift names (and
# sets the secret again where the store never shows it).
CreateHook = Callable[[str], str]
UpdateHook = Callable[[HookStep], None]


def apply_plan(
    plan: HookPlan,
    wanted: Sequence[str],
    *,
    create: CreateHook,
    update: UpdateHook,
    dry_run: bool,
    reset_secret: str = "",
) -> tuple[HookStatus, ...]:
    """Carry the plan out (or, with ``dry_run``, only say what it would do).

    A webhook whose secret cannot be read is updated even when nothing else drifted, and its
    status says ``reset_secret``. A refusal for one topic fails that topic only; once the store
    refuses the credentials nothing more is tried.
    """
    statuses: list[HookStatus] = []
    refused: str | None = None
    for step in plan.steps:
        hook = step.hook
        needs_write = hook is None or bool(step.drift) or hook.secret_matches is None
        if refused is not None and needs_write:
            statuses.append(HookStatus(step.topic, "failed", step.drift, refused))
            continue
        try:
            if hook is None:
                made = "" if dry_run else create(step.topic)
                statuses.append(HookStatus(step.topic, "created", hook_id=made))
                continue
            if needs_write and not dry_run:
                update(step)
        except StoreAuthFailed as exc:
            refused = "not tried: the store refused the credentials (see above)"
            statuses.append(HookStatus(step.topic, "failed", step.drift, str(exc)))
            continue
        except SyncError as exc:
            statuses.append(
                HookStatus(step.topic, "failed", step.drift, str(exc), hook.id if hook else "")
            )
            continue
        if not step.drift:
            said = reset_secret if hook.secret_matches is None else ""
            statuses.append(HookStatus(step.topic, "ok", detail=said, hook_id=hook.id))
        elif step.drift == ("inactive",):
            statuses.append(
                HookStatus(step.topic, "reactivated", step.drift, describe_drift(step), hook.id)
            )
        else:
            statuses.append(
                HookStatus(step.topic, "repaired", step.drift, describe_drift(step), hook.id)
            )
    statuses.extend(extra_status(h, wanted) for h in plan.extras)
    return tuple(statuses)
