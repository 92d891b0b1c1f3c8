"""Conformance: a SOAP client built from Intuit's own QBWC WSDL drives our endpoint through a session.

zeep reads ../shared/reference/qbd/wsdl (Intuit's TroubleshootWebServiceFS WSDL),
so element names, namespaces, SOAPActions and result types are Intuit's, not
ours; only the service address is pointed at the local gateway.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators.qbd import QbdCompany
from simulators.testbed.desktop import PASSWORD, USER, QbwcRigs
from simulators.testbed.orders import taxed_order

REFERENCE = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "qbd" / "wsdl"
INTUIT_WSDL = REFERENCE / "QBWebConnectorSvc.intuit-TroubleshootWebServiceFS.flowlink.wsdl"
BINDING = "{http://developer.intuit.com/}TroubleshootWebServiceFSSoap"

pytestmark = [
    pytest.mark.reference,
    pytest.mark.skipif(not INTUIT_WSDL.is_file(), reason=f"{INTUIT_WSDL} is absent"),
]


def test_a_full_session_through_intuits_wsdl(qbwc_rig: QbwcRigs) -> None:
    zeep = pytest.importorskip("zeep")
    company = QbdCompany()
    with qbwc_rig() as rig:
        for order_id in range(1, 5):
            rig.queue(taxed_order(order_id))
        client = zeep.Client(str(INTUIT_WSDL))
        service = client.create_service(BINDING, rig.url)

        assert service.serverVersion()
        assert service.clientVersion(strVersion="2.3.0.36") in (None, "")
        auth = service.authenticate(strUserName=USER, strPassword=PASSWORD)
        ticket, status = auth[0], auth[1]
        assert ticket and status in (None, "")

        rounds, percent, first = 0, 0, True
        while percent < 100:
            request = service.sendRequestXML(
                ticket=ticket,
                strHCPResponse=company.host_company_preferences_response() if first else "",
                strCompanyFileName="",
                qbXMLCountry="US",
                qbXMLMajorVers=13,
                qbXMLMinorVers=0,
            )
            first = False
            assert request and request.startswith("<?xml")
            percent = service.receiveResponseXML(
                ticket=ticket, response=company.process(request), hresult="", message=""
            )
            assert isinstance(percent, int) and 0 < percent <= 100
            rounds += 1
        assert rounds >= 2  # lookups, then writes
        assert service.getLastError(ticket=ticket)
        assert service.closeConnection(ticket=ticket).startswith("OK")

        assert sorted(t.ref_number for t in company.transactions("Invoice")) == ["1", "2", "3", "4"]
        assert all(rig.sync_state(i).status == "posted" for i in range(1, 5))

        # A bad login through the same contract.
        refused = service.authenticate(strUserName=USER, strPassword="nope")
        assert refused[1] == "nvu"


def test_our_wsdl_is_a_usable_contract_for_the_same_client(qbwc_rig: QbwcRigs) -> None:
    zeep = pytest.importorskip("zeep")
    with qbwc_rig() as rig:
        client = zeep.Client(f"{rig.url}?wsdl")
        service = client.service  # bound to the soap:address we served: this endpoint
        assert service.serverVersion()
        assert service.authenticate(strUserName=USER, strPassword=PASSWORD)[1] == "none"
