"""A warm qbwc function's log lines carry only the labels of the call they are about.

The service labels its log lines with the connection and SOAP method of the call
(``logger.append_keys``). On Lambda one container serves invocation after invocation
with the same module-level logger, so a label appended for one call would sit on the
next call's lines too: a refused request from someone else would be logged as the
merchant's ``sendRequestXML``. The local runtime runs the function in-process and warm
(its module is loaded once), as a Lambda container does.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connector.observability import logger
from simulators.testbed.desktop import CONN, QbwcRig, QbwcRigs


@pytest.fixture()
def rig(qbwc_rig: QbwcRigs) -> Iterator[QbwcRig]:
    with qbwc_rig() as running:
        yield running


class LogLines:
    """The JSON lines the library's logger writes (its handler's stream, swapped for one we read:
    it was bound to stdout at import, before pytest's capture of this test)."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def read(self) -> list[dict[str, Any]]:
        text, self.stream = self.stream.getvalue(), io.StringIO()
        logger.registered_handler.setStream(self.stream)
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.fixture()
def logs() -> Iterator[LogLines]:
    lines = LogLines()
    before = logger.registered_handler.setStream(lines.stream)
    yield lines
    logger.registered_handler.setStream(before)


def test_a_second_invocation_does_not_carry_the_first_ones_labels(
    rig: QbwcRig, logs: LogLines
) -> None:
    # Given a warm function that served the merchant's Web Connector (labelled lines)
    assert rig.login(password="wrong")[1] == "nvu"
    first = logs.read()
    refused_login = [line for line in first if "login refused" in line["message"]]
    assert refused_login and refused_login[0]["qbwc_method"] == "authenticate"
    assert refused_login[0]["connection_id"] == CONN

    # When the next invocation is a request that is no SOAP call at all
    raw = httpx.post(rig.url, content=b"<soap:Envelope", headers={"Content-Type": "text/xml"})
    assert raw.status_code == 400

    # Then its log line names no method it never made
    second = logs.read()
    refused = [line for line in second if line["message"] == "QBWC request refused"]
    assert refused, second
    assert "qbwc_method" not in refused[0]
    assert "connection_id" not in refused[0]
    # And it still carries this invocation's own Lambda context
    assert refused[0]["function_name"] == refused_login[0]["function_name"]
    assert refused[0]["function_request_id"] != refused_login[0]["function_request_id"]
