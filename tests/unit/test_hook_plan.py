"""Which of a store's webhooks are the connector's and what drifted: the planner's rules."""

from __future__ import annotations

from connector.errors import PermanentError
from connector.stores.hook_plan import HookStep, RemoteHook, apply_plan, check_statuses, plan_hooks
from connector.stores.port import StoreAuthFailed

URL = "https://new.execute-api.example/prod/webhooks/shop"
OLD = "https://old.execute-api.example/prod/webhooks/shop"
WANTED = ("order.created", "order.updated", "customer.created")


def hook(hook_id: str, topic: str, url: str = URL, *, active: bool = True,
         secret: bool | None = True) -> RemoteHook:  # fmt: skip
    return RemoteHook(hook_id, topic, url, active, secret, "" if active else "disabled")


def test_a_hook_for_the_topic_at_the_url_is_used_and_others_stores_hooks_are_ignored() -> None:
    # Given the connector's hooks and another app's hook on the same topic
    hooks = [
        hook("1", "order.created"),
        hook("2", "order.updated"),
        hook("3", "customer.created"),
        hook("9", "order.created", "https://crm.example/hooks/orders"),
    ]
    # When planned
    plan = plan_hooks(WANTED, hooks, URL)
    # Then each topic has its hook with nothing drifted, and the other app's is not ours
    assert [(s.topic, s.hook.id if s.hook else None, s.drift) for s in plan.steps] == [
        ("order.created", "1", ()),
        ("order.updated", "2", ()),
        ("customer.created", "3", ()),
    ]
    assert plan.extras == ()


def test_a_previous_deployments_url_is_the_connections_and_drifts_in_url() -> None:
    plan = plan_hooks(WANTED, [hook("1", "order.created", OLD)], URL)
    assert (plan.steps[0].hook, plan.steps[0].drift) == (hook("1", "order.created", OLD), ("url",))
    # another connection's path is not this one's
    other = plan_hooks(WANTED, [hook("1", "order.created", OLD.replace("/shop", "/myshop"))], URL)
    assert other.steps[0].hook is None


def test_a_spare_hook_to_the_connector_is_repurposed_for_a_missing_topic() -> None:
    # Given a hand-made hook to the connector on a topic it does not read
    plan = plan_hooks(WANTED, [hook("1", "product.updated")], URL)
    # Then the first missing topic takes it, drifting in topic
    assert (plan.steps[0].topic, plan.steps[0].hook, plan.steps[0].drift) == (
        "order.created", hook("1", "product.updated"), ("topic",),
    )  # fmt: skip
    assert [s.hook for s in plan.steps[1:]] == [None, None]


def test_of_two_hooks_for_a_topic_the_one_with_less_drift_is_kept_and_the_other_is_extra() -> None:
    off = hook("1", "order.created", active=False, secret=False)
    good = hook("2", "order.created")
    plan = plan_hooks(WANTED, [off, good], URL)
    assert plan.steps[0].hook == good and plan.extras == (off,)
    (extra,) = [s for s in check_statuses(plan, WANTED) if s.state == "extra"]
    assert extra.hook_id == "1" and "a second webhook for order.created" in extra.detail


def test_secret_and_inactive_drift_and_what_check_says() -> None:
    hooks = [hook("1", "order.created", secret=False), hook("2", "order.updated", active=False)]
    statuses = check_statuses(plan_hooks(WANTED, hooks, URL), WANTED)
    assert [(s.topic, s.state, s.drift) for s in statuses] == [
        ("order.created", "drifted", ("secret",)),
        ("order.updated", "drifted", ("inactive",)),
        ("customer.created", "missing", ()),
    ]
    assert statuses[0].detail == "carried another secret"  # never the secret itself
    assert statuses[1].detail == "switched off by the store (disabled)"


def test_apply_creates_repairs_and_reactivates_and_a_dry_run_writes_nothing() -> None:
    hooks = [hook("1", "order.created", OLD), hook("2", "order.updated", active=False)]
    plan = plan_hooks(WANTED, hooks, URL)
    created: list[str] = []
    updated: list[HookStep] = []

    def create(topic: str) -> str:
        created.append(topic)
        return "77"

    dry = apply_plan(plan, WANTED, create=create, update=updated.append, dry_run=True)
    assert created == [] and updated == []
    done = apply_plan(plan, WANTED, create=create, update=updated.append, dry_run=False)
    assert [(s.topic, s.state, s.hook_id) for s in done] == [
        ("order.created", "repaired", "1"),
        ("order.updated", "reactivated", "2"),
        ("customer.created", "created", "77"),
    ]
    assert [s.state for s in dry] == [s.state for s in done]
    assert created == ["customer.created"] and [s.drift for s in updated] == [
        ("url",),
        ("inactive",),
    ]
    assert done[0].detail == f"delivering to {OLD}"


def test_an_unreadable_secret_is_set_again_even_when_nothing_else_drifted() -> None:
    plan = plan_hooks(WANTED[:1], [hook("1", "order.created", secret=None)], URL)
    updated: list[HookStep] = []
    (done,) = apply_plan(plan, WANTED[:1], create=str, update=updated.append, dry_run=False,
                         reset_secret="secret set again")  # fmt: skip
    assert (done.state, done.detail, len(updated)) == ("ok", "secret set again", 1)
    (checked,) = check_statuses(plan, WANTED[:1], unreadable_secret="not shown")
    assert (checked.state, checked.detail) == ("ok", "not shown")


def test_a_refusal_fails_its_topic_and_refused_credentials_stop_the_rest() -> None:
    plan = plan_hooks(WANTED, [], URL)
    answers = iter([PermanentError("scope is invalid"), StoreAuthFailed("key revoked")])

    def create(topic: str) -> str:
        raise next(answers)

    done = apply_plan(plan, WANTED, create=create, update=lambda s: None, dry_run=False)
    assert [(s.state, s.detail) for s in done] == [
        ("failed", "scope is invalid"),
        ("failed", "key revoked"),
        ("failed", "not tried: the store refused the credentials (see above)"),
    ]
