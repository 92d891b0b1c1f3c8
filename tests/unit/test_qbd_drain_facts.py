"""A session's facts are a bounded cache: the newest of each kind kept within its share."""

from __future__ import annotations

import json

from connector.ledgers.qbd import drain
from connector.ledgers.qbd.drain_facts import FACT_SHARES, bound_facts, learn


def _facts(customers: int) -> dict[str, object]:
    facts = drain.new_facts()
    for i in range(customers):
        learn(
            facts["customers"],
            f"buyer {i:05d}",
            {"name": f"Buyer {i:05d}", "list_id": f"8000{i:04d}-1", "email": f"b{i}@example.com"},
        )
    facts["company"] = {"home": "USD", "multicurrency": False}
    facts["company_read"] = True
    return facts


def test_the_oldest_customers_go_and_the_newest_stay_within_the_share() -> None:
    facts = _facts(5_000)
    gone = bound_facts(facts)
    customers = facts["customers"]
    assert isinstance(customers, dict)
    assert gone == 5_000 - len(customers) and gone > 0
    assert "buyer 04999" in customers and "buyer 00000" not in customers
    kept = sorted(customers)
    assert kept == [f"buyer {i:05d}" for i in range(5_000 - len(kept), 5_000)]
    assert len(json.dumps(customers, separators=(",", ":"))) <= FACT_SHARES["customers"]
    # What is not a cache of lookups stays whole
    assert facts["company"] == {"home": "USD", "multicurrency": False} and facts["company_read"]


def test_a_fact_learned_again_is_the_newest() -> None:
    facts = _facts(3)
    customers = facts["customers"]
    assert isinstance(customers, dict)
    learn(customers, "buyer 00000", {"missing": True})
    assert list(customers) == ["buyer 00001", "buyer 00002", "buyer 00000"]


def test_few_facts_are_kept_as_they_are() -> None:
    facts = _facts(10)
    facts["taken"] = ["ada buyer1"]
    before = json.dumps(facts)
    assert bound_facts(facts) == 0
    assert json.dumps(facts) == before


def test_names_taken_by_someone_else_keep_the_newest() -> None:
    facts = drain.new_facts()
    facts["taken"] = [f"name {i:05d}" for i in range(2_000)]
    bound_facts(facts)
    taken = facts["taken"]
    assert isinstance(taken, list) and taken[-1] == "name 01999" and "name 00000" not in taken
