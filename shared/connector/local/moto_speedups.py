"""Keeps moto's SQS from slowing down as a queue fills, in the local runtime's moto process.

moto 5 builds a queue's whole attribute map, message counts included (three walks over
every message), each time it reads one setting of the queue: sending a message reads
ContentBasedDeduplication, and receiving one checks the retention period for every message
it hands out. With a backlog of 1,000 messages a send took ~140 ms and a receive ~1 s: the
local runtime measured moto, not the connector. ``install()`` counts the messages only when
a client asks for the counts (GetQueueAttributes); everything else moto does is unchanged.

It also lists moto's services once (``list_modules_once``, which the runtime's in-process
moto installs too): moto's server finds each request's service by listing its own package
directory, an ``isdir`` for each of ~150 entries, under the one lock every request takes. With
batching's thirty worker threads calling moto, webhook answers waited in line behind those
listings (one of the three causes of decision 83).
"""

from __future__ import annotations

import json
import threading
from typing import Any

_COUNTS = frozenset(
    {
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesDelayed",
        "ApproximateNumberOfMessagesNotVisible",
    }
)
_asked = threading.local()
_MARK = "_connector_listed_once"


def list_modules_once() -> None:
    """moto's services, listed from its package directory once; a second call changes nothing."""
    from moto import backends

    if getattr(backends.list_of_moto_modules, _MARK, False):
        return
    modules = tuple(backends.list_of_moto_modules())  # the installed package does not change

    def list_of_moto_modules() -> tuple[str, ...]:
        return modules

    setattr(list_of_moto_modules, _MARK, True)
    backends.list_of_moto_modules = list_of_moto_modules


def install() -> None:
    list_modules_once()
    from moto.core.utils import camelcase_to_underscores
    from moto.sqs import models

    def attributes(queue: Any) -> dict[str, Any]:
        counting = getattr(_asked, "counts", False)
        names = [n for n in queue.BASE_ATTRIBUTES if counting or n not in _COUNTS]
        if queue.fifo_queue:
            names += queue.FIFO_ATTRIBUTES
        if queue.kms_master_key_id:
            names += queue.KMS_ATTRIBUTES
        result = {name: getattr(queue, camelcase_to_underscores(name)) for name in names}
        if queue.policy:
            result["Policy"] = queue.policy
        if queue.redrive_policy:
            result["RedrivePolicy"] = json.dumps(queue.redrive_policy)
        return {k: str(v).lower() if isinstance(v, bool) else v for k, v in result.items()}

    get_queue_attributes = models.SQSBackend.get_queue_attributes

    def asked_for(backend: Any, queue_name: str, attribute_names: list[str]) -> Any:
        _asked.counts = "All" in attribute_names or bool(_COUNTS.intersection(attribute_names))
        try:
            return get_queue_attributes(backend, queue_name, attribute_names)
        finally:
            _asked.counts = False

    setattr(models.Queue, "attributes", property(attributes))  # noqa: B010 - typed as moto's
    setattr(models.SQSBackend, "get_queue_attributes", asked_for)  # noqa: B010
