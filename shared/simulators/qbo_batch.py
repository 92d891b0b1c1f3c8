"""``POST /v3/company/<realm>/batch`` of the simulated QuickBooks Online company.

``{"BatchItemRequest": [{"bId": "1", "operation": "create", "Invoice": {...}},
{"bId": "2", "Query": "SELECT ..."}]}`` is answered ``{"BatchItemResponse": [{"bId": "1",
"Invoice": {...}}, {"bId": "2", "QueryResponse": {...}}], "time": ...}``, in request order.

As Intuit documents it (developer.intuit.com …/explore-the-quickbooks-online-api/batch, the
limits page, IntuitRestServiceDef.xsd IntuitBatchRequest/BatchItemResponse):

- The batch passes the gateway once (token, outage, 429 at the per-minute, per-second and
  concurrency limits) and counts once against them; batch requests have their own limit of 40
  a minute per company, over which they are answered 429 ThrottleExceeded like single requests.
- A gateway fault injected for an entity and operation (401, 429, 503: ``inject(503,
  entity="Invoice", operation="create")``) meets the first request carrying such an
  operation, a batch request carrying it as an item included: the batch passes the gateway
  as one request, and a fault must not depend on whether its operation went alone.
- Items run one after another, each through the code a single request takes (injected faults
  that match its entity and operation, ``requestid`` replay, every validation rule), so a
  failing item answers its own Fault and its neighbours still run: a batch is not
  transactional. An item does not see what an earlier item of the same batch created.
- Refused whole, before any item runs (a 400 ValidationFault): more than ``max_batch_items``
  items (30 on the limits page), an item without a bId, a bId used twice or longer than
  10 characters, a ``requestid`` longer than 36 characters. Intuit's exact codes for these are
  not documented; the Detail says what was wrong.
- ``requestid`` on the batch: each write item's answer is kept under requestid and bId, so a
  batch sent again with the same requestid answers its items as the first time, applied once.
- A ``lost`` fault injected for an item (or the batch) applies every item and loses the answer
  (504), as a gateway timeout after the work is done would.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from simulators import qbo_faults
from simulators.httpserver import Request, Response
from simulators.qbo_faults import ApiFault
from simulators.qbo_wire import dump_json, json_response

if TYPE_CHECKING:
    from simulators.qbo import QboSimulator

MAX_BATCH_REQUEST_ID = 36
MAX_BID = 10
OPERATIONS = ("create", "update", "delete", "void")
_ITEM_KEYS = {"bId", "operation", "optionsData"}
# What the batch's own gateway can meet; item faults are drawn per item.
_DOOR_KINDS = frozenset({"401", "429", "503", "500", "lost"})


def refused(detail: str) -> ApiFault:
    return ApiFault.validation(
        400, "2010", "Request has invalid or unsupported property", f"Batch request: {detail}"
    )


def run(sim: QboSimulator, request: Request, realm: str) -> Response:
    """Answer one batch request (the simulator counts it in flight around this call)."""
    refusal, injected = sim.admit(
        request, realm, None, "batch", kinds=_DOOR_KINDS, carries=_carried(request)
    )
    if refusal is not None:
        return refusal
    now = sim.now_text()
    if injected == "500":
        return qbo_faults.server_error().json_response(now)
    try:
        items = _items(sim, request)
    except ApiFault as fault:
        return fault.json_response(now)
    if sim.latency_s:
        sim.sleep(sim.latency_s)  # one round trip for the whole batch, outside the lock
    request_id = request.arg("requestid")
    lost = injected == "lost"
    answers: list[dict[str, Any]] = []
    created: set[tuple[str, str]] = set()  # (entity, Id) made by this batch's earlier items
    for item in items:
        answer, item_lost = _run_item(sim, request, realm, item, request_id, created)
        answers.append(answer)
        lost = lost or item_lost
    if lost:
        return qbo_faults.gateway_timeout()
    return json_response({"BatchItemResponse": answers, "time": sim.now_text()})


def _carried(request: Request) -> frozenset[tuple[str, str]]:
    """The (entity, operation) of the batch's write items, read leniently before the gateway
    (a malformed body is refused after it, by ``_items``)."""
    try:
        body = json.loads(request.body or b"{}")
        items = body.get("BatchItemRequest") if isinstance(body, dict) else None
    except (ValueError, UnicodeDecodeError):
        return frozenset()
    carried: set[tuple[str, str]] = set()
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("operation"), str):
            for key in item:
                if key not in _ITEM_KEYS and key != "Query":
                    carried.add((key.lower(), item["operation"]))
    return frozenset(carried)


def _items(sim: QboSimulator, request: Request) -> list[dict[str, Any]]:
    """The batch's items, checked as a whole; raises the 400 that refuses all of it."""
    request_id = request.arg("requestid")
    if request_id is not None and len(request_id) > MAX_BATCH_REQUEST_ID:
        raise qbo_faults.too_long("requestid", MAX_BATCH_REQUEST_ID, len(request_id))
    body = sim.parse_body(request)
    items = body.get("BatchItemRequest")
    if not isinstance(items, list) or not items:
        raise qbo_faults.required("BatchItemRequest", "BatchItemRequest")
    if len(items) > sim.max_batch_items:
        raise refused(f"{len(items)} items; a batch request takes at most {sim.max_batch_items}")
    seen: set[str] = set()
    for position, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise refused(f"item {position} is not an object")
        bid = item.get("bId")
        if not isinstance(bid, str) or not bid:
            raise qbo_faults.required("bId", f"BatchItemRequest[{position}].bId")
        if len(bid) > MAX_BID:
            raise qbo_faults.too_long("bId", MAX_BID, len(bid))
        if bid in seen:
            raise refused(f"bId {bid!r} is used by more than one item")
        seen.add(bid)
    return items


def _run_item(
    sim: QboSimulator,
    batch: Request,
    realm: str,
    item: dict[str, Any],
    request_id: str | None,
    created: set[tuple[str, str]],
) -> tuple[dict[str, Any], bool]:
    """One item's answer (its result or its own Fault) and whether its answer is lost."""
    bid = str(item["bId"])
    try:
        sub, rest, entity, operation = _as_request(sim, batch, realm, item)
        if entity is not None:
            _refuse_unseen_refs(item[_entity_key(item)], created)
    except ApiFault as fault:
        return _fault(bid, fault), False
    injected = sim.take_item_injection(entity, operation)
    is_write = operation in OPERATIONS
    replay_key = f"{realm}:{request_id}:{bid}" if request_id and is_write else None
    try:
        payload = sim.perform_one(sub, rest, entity, operation, injected, replay_key)
    except ApiFault as fault:
        return _fault(bid, fault), False
    payload.pop("time", None)
    if operation == "create" and entity is not None:
        made = payload.get(_entity_key(item))
        if isinstance(made, dict) and "Id" in made:
            created.add((_entity_key(item), str(made["Id"])))
    return {"bId": bid, **payload}, injected == "lost"


def _entity_key(item: dict[str, Any]) -> str:
    return next(key for key in item if key not in _ITEM_KEYS)


_REF_ENTITY = {"CustomerRef": "Customer", "ItemRef": "Item"}


def _refuse_unseen_refs(body: Any, created: set[tuple[str, str]]) -> None:
    """Intuit: an item does not see what earlier items of the same batch created, so a
    reference to one of them is an invalid reference, as if it did not exist yet."""
    if isinstance(body, dict):
        for key, value in body.items():
            target = _REF_ENTITY.get(key)
            if target and isinstance(value, dict) and (target, str(value.get("value"))) in created:
                raise qbo_faults.invalid_reference(key, str(value.get("value")))
            _refuse_unseen_refs(value, created)
    elif isinstance(body, list):
        for value in body:
            _refuse_unseen_refs(value, created)


def _as_request(
    sim: QboSimulator, batch: Request, realm: str, item: dict[str, Any]
) -> tuple[Request, str, str | None, str]:
    """The single request an item stands for: (request, rest of path, entity, operation)."""
    base = f"/v3/company/{realm}"
    headers = batch.headers
    if "Query" in item:
        statement = item["Query"]
        if not isinstance(statement, str):
            raise qbo_faults.required("Query", "Query")
        query = {"query": [statement], "minorversion": batch.query.get("minorversion", ["75"])}
        return Request("GET", f"{base}/query", query, headers, b""), "query", None, "query"
    entities = [key for key in item if key not in _ITEM_KEYS]
    if len(entities) != 1 or not isinstance(item[entities[0]], dict):
        raise refused("an item carries exactly one entity object or one Query")
    entity = entities[0]
    operation = item.get("operation")
    if operation is None:
        raise qbo_faults.required("operation", "operation")
    if operation not in OPERATIONS:
        raise qbo_faults.unsupported_operation(
            f"Operation {operation} is not supported for {entity} in a batch"
        )
    if not sim.writable(entity):
        raise qbo_faults.unsupported_operation(
            f"Operation Could not find resource for relative : {base}/{entity.lower()} "
            "is not supported."
        )
    body = dump_json(item[entity])
    sub = Request("POST", f"{base}/{entity.lower()}", {}, headers, body)
    return sub, entity.lower(), entity.lower(), operation


def _fault(bid: str, fault: ApiFault) -> dict[str, Any]:
    errors = [
        {"Message": e.message, "Detail": e.detail, "code": e.code, "element": e.element}
        for e in fault.errors
    ]
    return {"bId": bid, "Fault": {"Error": errors, "type": fault.fault_type}}
