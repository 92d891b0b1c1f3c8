"""How much a Web Connector session remembers of what QuickBooks told it: a bounded cache.

The drain's facts (connector.ledgers.qbd.drain: customers by name, RefNumber pre-checks,
missing items, names taken by vendors) ride in the session item, and a DynamoDB item holds
400 KB: unbounded, a session reached it at a few thousand distinct customers. Facts are
only a cache of QuickBooks' answers. What later rounds and sessions need for good lives in
the state table (customer names and item ListIDs as mappings, the company's preferences),
so a fact let go costs one more lookup when an entry still needs it, never a wrong post.

Each kind keeps its newest facts within a share of bytes (FACT_SHARES). ``learn`` moves a
fact to the newest end, so the answers the next message is planned from are the last to go:
one message learns at most 100 facts (max_requests_per_message), far inside each share.
"""

from __future__ import annotations

import json
from typing import Any

# Bytes of JSON per kind; together they keep the session item far below 400 KB, with room
# for its prepared message, purposes and counters.
FACT_SHARES: dict[str, int] = {
    "customers": 64_000,
    "txns": 64_000,
    "items": 16_000,
    "taken": 8_000,
}


def learn(known: dict[str, Any], key: str, fact: Any) -> None:
    """Remember ``fact`` under ``key`` as the newest of its kind."""
    known.pop(key, None)
    known[key] = fact


def bound_facts(facts: dict[str, Any]) -> int:
    """Let the oldest facts of each kind go beyond its share; how many went."""
    gone = 0
    for kind, share in FACT_SHARES.items():
        known = facts.get(kind)
        if not known or _size(known) <= share:
            continue  # one measure of the whole kind in the common case
        keys = list(known)  # oldest first: dict insertion order, or the list's order
        kept = used = 0
        for key in reversed(keys):
            used += _size(key) + (_size(known[key]) if isinstance(known, dict) else 0)
            if used > share:
                break
            kept += 1
        if kept == len(keys):
            continue
        newest = keys[len(keys) - kept :]
        facts[kind] = {k: known[k] for k in newest} if isinstance(known, dict) else newest
        gone += len(keys) - kept
    return gone


def _size(value: Any) -> int:
    """Bytes of ``value`` as the session body stores it (compact UTF-8 JSON), and a comma."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return len(text.encode("utf-8")) + 2
