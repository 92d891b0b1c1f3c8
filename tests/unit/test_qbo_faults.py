"""Fault bodies (JSON, lower-case JSON, XML) become the exception the sync worker acts on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.errors import NeedsReconnect, PermanentError, TransientError
from connector.ledgers.qbo.faults import (
    THROTTLE_RETRY_AFTER_S,
    QboAuthFailed,
    QboBusinessRetryable,
    QboDuplicateDocNumber,
    QboDuplicateName,
    QboNotFound,
    QboServerError,
    QboStaleObject,
    QboThrottled,
    QboUnknownOutcome,
    QboValidation,
    fault_from_response,
    parse_fault,
)

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "qbo" / "fixtures"


def _json_fault(code: str, message: str, detail: str, element: str = "") -> bytes:
    return json.dumps(
        {
            "Fault": {
                "Error": [{"Message": message, "Detail": detail, "code": code, "element": element}],
                "type": "ValidationFault",
            },
            "time": "2026-03-02T10:11:12.345-07:00",
        }
    ).encode()


def test_duplicate_doc_number_names_the_existing_transaction() -> None:
    # Given QBO's 6140 answer for a DocNumber already used by invoice 412
    body = _json_fault(
        "6140",
        "Duplicate Document Number Error",
        "Duplicate Document Number Error : You must specify a different number. This number "
        "has already been used. DocNumber=WC-1001 is assigned to TxnType=Invoice with TxnId=412",
    )
    # When it is classified
    fault = fault_from_response(400, body)
    # Then the worker can adopt invoice 412 instead of posting a second one
    assert isinstance(fault, QboDuplicateDocNumber)
    assert isinstance(fault, PermanentError)
    assert fault.existing_txn_id == "412"
    assert fault.code == "6140"
    assert fault.http_status == 400


def test_throttle_fault_in_xml_is_transient_with_a_minute_to_wait() -> None:
    body = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="2026-03-02T10:00:00">'
        b'<Fault type="SERVICE"><Error code="3001">'
        b"<Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>"
        b"<Detail>The request limit was reached.  Try again later</Detail>"
        b"</Error></Fault></IntuitResponse>"
    )
    fault = fault_from_response(429, body)
    assert isinstance(fault, QboThrottled)
    assert isinstance(fault, TransientError)
    assert fault.retry_after_s == THROTTLE_RETRY_AFTER_S
    assert fault.code == "3001"
    assert fault.fault_type == "SERVICE"


def test_throttle_code_wins_even_when_the_status_is_the_old_403() -> None:
    body = (
        b'<IntuitResponse xmlns="http://schema.intuit.com/finance/v3"><Fault type="SERVICE">'
        b'<Error code="3001"><Message>message=ThrottleExceeded; errorCode=003001; '
        b"statusCode=403</Message><Detail>Try again later</Detail></Error></Fault>"
        b"</IntuitResponse>"
    )
    assert isinstance(fault_from_response(403, body), QboThrottled)


def test_lower_case_authentication_fault_asks_for_a_reconnect() -> None:
    body = json.dumps(
        {
            "warnings": None,
            "fault": {
                "error": [
                    {
                        "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                        "detail": "Token expired",
                        "code": "3200",
                        "element": None,
                    }
                ],
                "type": "AUTHENTICATION",
            },
            "time": 1_772_000_000_000,
        }
    ).encode()
    fault = fault_from_response(401, body)
    assert isinstance(fault, QboAuthFailed)
    assert isinstance(fault, NeedsReconnect)
    assert fault.code == "3200"
    assert fault.detail == "Token expired"
    assert fault.element == ""


@pytest.mark.parametrize(
    ("code", "detail", "expected", "transient"),
    [
        (
            "5010",
            "Stale Object Error : You and another user were working on this",
            QboStaleObject,
            True,
        ),
        ("6240", "The name supplied already exists.", QboDuplicateName, False),
        (
            "610",
            "Object Not Found : Something you're trying to use has been made inactive.",
            QboNotFound,
            False,
        ),
        ("2500", "Invalid Reference Id : Names element id 9 not found", QboNotFound, False),
        (
            "6000",
            "Business Validation Error: Unexpected Error. Please try again later.",
            QboBusinessRetryable,
            True,
        ),
        (
            "6000",
            "Business Validation Error: Make sure all your transactions have a VAT rate",
            QboValidation,
            False,
        ),
        (
            "2050",
            "String length specified does not match the supported length. Max:21",
            QboValidation,
            False,
        ),
    ],
)
def test_validation_codes_map_to_their_failure_class(
    code: str, detail: str, expected: type, transient: bool
) -> None:
    fault = fault_from_response(400, _json_fault(code, "msg", detail))
    assert type(fault) is expected
    assert isinstance(fault, TransientError) is transient
    assert isinstance(fault, PermanentError) is not transient


def test_validation_message_tells_the_bookkeeper_what_and_where() -> None:
    body = _json_fault(
        "2050",
        "String length is either shorter or longer than supported by specification",
        "String length specified does not match the supported length. Min:0 Max:21 supplied length:25",
        "DocNumber",
    )
    fault = fault_from_response(400, body)
    assert isinstance(fault, QboValidation)
    assert "Max:21 supplied length:25" in fault.reason
    assert "field DocNumber" in fault.reason
    assert "code 2050" in str(fault)


def test_every_error_of_a_multi_error_fault_is_reported() -> None:
    body = (
        b'<Fault type="ValidationFault">'
        b'<Error code="2050" element="GivenName"><Message>Length exceeds limit</Message>'
        b"<Detail>Length of the field exceeds 100 chars</Detail></Error>"
        b'<Error code="2080" element="PostalCode"><Message>Illegal number format</Message>'
        b"<Detail>ZipCode should be a number</Detail></Error></Fault>"
    )
    info = parse_fault(body, 400)
    assert info is not None
    assert [e.code for e in info.errors] == ["2050", "2080"]
    fault = fault_from_response(400, body)
    assert "field GivenName" in fault.reason and "field PostalCode" in fault.reason


@pytest.mark.parametrize(
    ("status", "expected"), [(500, QboServerError), (503, QboServerError), (504, QboUnknownOutcome)]
)
def test_server_errors_without_fault_bodies_are_transient(status: int, expected: type) -> None:
    fault = fault_from_response(status, b"<html><body>Gateway problem</body></html>")
    assert type(fault) is expected
    assert isinstance(fault, TransientError)
    assert f"HTTP {status}" in str(fault)


def test_a_200_without_fault_is_not_a_fault() -> None:
    assert parse_fault(b'{"Invoice": {"Id": "1"}, "time": "x"}', 200) is None
    assert parse_fault(b"not json at all", 200) is None


def test_xml_entities_are_not_expanded() -> None:
    # An entity-laden body must not be resolved (billion laughs / external entities).
    body = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "EXPANDED">]>'
        b'<Fault type="ValidationFault"><Error code="2010"><Message>&x;</Message>'
        b"<Detail>d</Detail></Error></Fault>"
    )
    info = parse_fault(body, 400)
    assert info is not None
    assert "EXPANDED" not in info.first.message


# -- conformance with the real response samples in ../shared/reference ----------------------

needs_reference = pytest.mark.skipif(
    not REFERENCE.is_dir(), reason=f"QBO reference fixtures not found at {REFERENCE}"
)


@pytest.mark.reference
@needs_reference
@pytest.mark.parametrize(
    ("name", "status", "expected", "code"),
    [
        ("quickbooks-ruby/too_many_requests_error.xml", 429, QboThrottled, "3001"),
        ("quickbooks-ruby/throttle_exceeded_error.xml", 403, QboThrottled, "3001"),
        ("quickbooks-ruby/customer_duplicate_error.xml", 400, QboDuplicateName, "6240"),
        ("quickbooks-ruby/tax_service_error_dup.json", 400, QboDuplicateName, "6240"),
        ("quickbooks-ruby/generic_error.xml", 400, QboServerError, "10000"),
        ("quickbooks-ruby/query_validation_error.xml", 400, QboValidation, "4001"),
        ("quickbooks-ruby/fault.xml", 400, QboValidation, "2050"),
        ("errors/stale_object_5010.json", 400, QboStaleObject, "5010"),
        ("errors/duplicate_docnumber_6140.json", 400, QboDuplicateDocNumber, "6140"),
    ],
)
def test_real_fault_samples_classify(name: str, status: int, expected: type, code: str) -> None:
    fault = fault_from_response(status, (REFERENCE / name).read_bytes())
    assert type(fault) is expected
    assert fault.code == code
    assert fault.message


@pytest.mark.reference
@needs_reference
def test_real_6140_sample_yields_the_existing_txn_id() -> None:
    fault = fault_from_response(
        400, (REFERENCE / "errors/duplicate_docnumber_6140.json").read_bytes()
    )
    assert isinstance(fault, QboDuplicateDocNumber)
    assert fault.existing_txn_id == "111"


@pytest.mark.reference
@needs_reference
def test_real_success_sample_is_not_a_fault() -> None:
    body = (REFERENCE / "quickbooks-ruby/invoice_void_success_response.xml").read_bytes()
    assert parse_fault(body, 200) is None
