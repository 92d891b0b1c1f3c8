"""Fault bodies the simulated QuickBooks Online company answers with, in QBO's shapes.

JSON: ``{"Fault": {"Error": [{Message, Detail, code, element}], "type"}, "time"}``.
Authentication failures use the lower-case ``fault``/``error`` variant QBO's gateway sends,
and throttling answers XML (``<IntuitResponse><Fault type="SERVICE">``) whatever was asked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from simulators.httpserver import Response


@dataclass(frozen=True)
class SimError:
    code: str
    message: str
    detail: str
    element: str = ""


class ApiFault(Exception):
    """Raised inside the simulator; rendered as the HTTP answer QBO would give."""

    def __init__(self, status: int, fault_type: str, errors: list[SimError]) -> None:
        super().__init__(f"{status} {fault_type} {errors[0].code if errors else ''}")
        self.status = status
        self.fault_type = fault_type
        self.errors = errors

    @classmethod
    def validation(
        cls, status: int, code: str, message: str, detail: str, element: str = ""
    ) -> ApiFault:
        return cls(status, "ValidationFault", [SimError(code, message, detail, element)])

    def json_response(self, time_text: str) -> Response:
        payload = {
            "Fault": {
                "Error": [
                    {"Message": e.message, "Detail": e.detail, "code": e.code, "element": e.element}
                    for e in self.errors
                ],
                "type": self.fault_type,
            },
            "time": time_text,
        }
        return Response.of_json(payload, self.status)

    def xml_response(self, time_text: str) -> Response:
        errors = "".join(
            f"<Error code={quoteattr(e.code)}"
            + (f" element={quoteattr(e.element)}" if e.element else "")
            + f"><Message>{escape(e.message)}</Message><Detail>{escape(e.detail)}</Detail></Error>"
            for e in self.errors
        )
        text = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="{time_text}">'
            f"<Fault type={quoteattr(self.fault_type)}>{errors}</Fault></IntuitResponse>"
        )
        return Response(self.status, text.encode("utf-8"), {"Content-Type": "application/xml"})


BUSINESS_MESSAGE = "A business validation error has occurred while processing your request"


def required(name: str, element: str = "") -> ApiFault:
    return ApiFault.validation(
        400,
        "2020",
        "Required param missing, need to supply the required value for the API",
        f"Required parameter {name} is missing in the request",
        element,
    )


def business(detail: str, element: str = "") -> ApiFault:
    """Code 6000, the Detail prefixed the way QBO prefixes its business rules."""
    return ApiFault.validation(
        400, "6000", BUSINESS_MESSAGE, f"Business Validation Error: {detail}", element
    )


def too_long(element: str, limit: int, supplied: int) -> ApiFault:
    return ApiFault.validation(
        400,
        "2050",
        "String length is either shorter or longer than supported by specification",
        f"String length specified does not match the supported length. "
        f"Min:0 Max:{limit} supplied length:{supplied}",
        element,
    )


def unsupported_property(name: str, entity: str) -> ApiFault:
    return ApiFault.validation(
        400,
        "2010",
        "Request has invalid or unsupported property",
        f'Property Name:Unrecognized field "{name}" (class com.intuit.schema.finance.v3.{entity}), '
        "not marked as ignorable specified is unsupported or invalid",
    )


def invalid_reference(element: str, ref_id: str) -> ApiFault:
    return ApiFault.validation(
        400,
        "2500",
        "Invalid Reference Id",
        f"Invalid Reference Id : {element} id {ref_id} does not exist",
        element,
    )


def inactive_reference(element: str) -> ApiFault:
    return ApiFault.validation(
        400,
        "610",
        "Object Not Found",
        "Object Not Found : Something you're trying to use has been made inactive. "
        "Check the fields with accounts, customers, items, vendors or employees.",
        element,
    )


def object_not_found(entity: str, entity_id: str) -> ApiFault:
    return ApiFault.validation(
        400,
        "610",
        "Object Not Found",
        f"Object Not Found : Something you're trying to use has been made inactive. "
        f"Check the fields with accounts, customers, items, vendors or employees. "
        f"({entity} Id {entity_id})",
    )


def unsupported_operation(detail: str) -> ApiFault:
    return ApiFault.validation(400, "500", "Unsupported Operation", detail)


def invalid_number(value: object, element: str) -> ApiFault:
    return ApiFault.validation(400, "2090", "Invalid Number", f"Invalid number: {value!r}", element)


def invalid_enumeration(detail: str, element: str) -> ApiFault:
    return ApiFault.validation(
        400, "2170", "Invalid Enumeration", f"Invalid Enumeration : {detail}", element
    )


def duplicate_name(noun: str, other_id: str) -> ApiFault:
    """6240: ``noun`` as QBO words it ("customer, vendor or employee", "product or service")."""
    return ApiFault(
        400,
        "ValidationFault",
        [
            SimError(
                "6240",
                "Duplicate Name Exists Error",
                f"The name supplied already exists. : Another {noun} is already using this name "
                f"(Id={other_id}). Please use a different name.",
            )
        ],
    )


def stale_object() -> ApiFault:
    return ApiFault.validation(
        400,
        "5010",
        "Stale Object Error",
        "Stale Object Error : You and another user were working on this at the same time. "
        "The other user finished before you did, so your work was not saved.",
    )


def business_validation_retryable() -> ApiFault:
    return ApiFault.validation(
        400,
        "6000",
        "A business validation error has occurred while processing your request",
        "Business Validation Error: Unexpected Error. Please try again later.",
    )


def server_error() -> ApiFault:
    return ApiFault(
        500,
        "SystemFault",
        [
            SimError(
                "10000",
                "An application error has occurred while processing your request",
                "System Failure Error: An unexpected error occurred while accessing or saving "
                "your data. Please wait a few minutes and try again.",
            )
        ],
    )


def throttled() -> ApiFault:
    return ApiFault(
        429,
        "SERVICE",
        [
            SimError(
                "3001",
                "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                "The request limit was reached.  Try again later",
            )
        ],
    )


def authorization_failed() -> ApiFault:
    return ApiFault(
        403,
        "SERVICE",
        [SimError("3100", "message=AuthorizationFailed; errorCode=003100; statusCode=403", "")],
    )


def authentication_failed(detail: str, epoch_ms: int) -> Response:
    """The gateway's 401: lower-case keys and nulls, as QBO really sends it."""
    body: dict[str, Any] = {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": detail,
                    "code": "3200",
                    "element": None,
                }
            ],
            "type": "AUTHENTICATION",
        },
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": epoch_ms,
        "status": None,
        "cdcresponse": [],
    }
    return Response(
        401,
        json.dumps(body).encode("utf-8"),
        {"Content-Type": "application/json;charset=UTF-8", "WWW-Authenticate": "Bearer"},
    )


def service_unavailable() -> Response:
    return Response.of_text(
        "<html><body><h1>503 Service Unavailable</h1>"
        "No server is available to handle this request.</body></html>",
        503,
        "text/html",
    )


def gateway_timeout() -> Response:
    return Response.of_text(
        "<html><body><h1>504 Gateway Time-out</h1>The server didn't respond in time.</body></html>",
        504,
        "text/html",
    )
