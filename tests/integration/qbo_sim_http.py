"""The simulated QuickBooks Online company spoken to over HTTP: the raw client and helpers.

The fixtures that hand a test an ``Api`` are in ``tests.integration.qbo_sim_fixtures``.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx

from simulators.httpserver import LoopbackServer, Request, Response
from simulators.qbo import QboSimulator

CLIENT_ID = "sim-client"
CLIENT_SECRET = "sim-secret"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_780_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Api:
    """Raw HTTP against the simulator: what a QBO client puts on the wire."""

    def __init__(self, sim: QboSimulator, server: LoopbackServer) -> None:
        self.sim = sim
        self.base = server.base_url
        self.http = httpx.Client(base_url=server.base_url, timeout=5.0)
        self.token = sim.issue_tokens()["access_token"]

    def url(self, rest: str) -> str:
        return f"/v3/company/{self.sim.realm_id}/{rest}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}

    def post(self, entity: str, body: dict[str, Any], **params: str) -> httpx.Response:
        return self.http.post(
            self.url(entity),
            params={"minorversion": "75", **params},
            json=body,
            headers=self.headers(),
        )

    def get(self, rest: str, **params: str) -> httpx.Response:
        return self.http.get(
            self.url(rest), params={"minorversion": "75", **params}, headers=self.headers()
        )

    def query(self, statement: str) -> httpx.Response:
        return self.get("query", query=statement)

    def token_call(self, form: dict[str, str], secret: str = CLIENT_SECRET) -> httpx.Response:
        basic = base64.b64encode(f"{CLIENT_ID}:{secret}".encode()).decode()
        return self.http.post(
            "/oauth2/v1/tokens/bearer",
            data=form,
            headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
        )


class Switchboard:
    """One loopback server for the module; each test plugs in a fresh simulator."""

    def __init__(self) -> None:
        self.sim: QboSimulator | None = None

    def handle(self, request: Request) -> Response:
        assert self.sim is not None
        return self.sim.handle(request)


def fault_of(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["Fault"]["Error"][0]
    return error


def new_customer(api: Api, name: str = "Ada Lovelace") -> dict[str, Any]:
    response = api.post("customer", {"DisplayName": name})
    assert response.status_code == 200, response.text
    customer: dict[str, Any] = response.json()["Customer"]
    return customer


def invoice_body(customer_id: str, doc_number: str = "WC-1001", **extra: Any) -> dict[str, Any]:
    return {
        "CustomerRef": {"value": customer_id},
        "DocNumber": doc_number,
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": 20.00,
                "SalesItemLineDetail": {"ItemRef": {"value": "2"}, "Qty": 2, "UnitPrice": 10},
            },
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": 4.99,
                "SalesItemLineDetail": {"ItemRef": {"value": "3"}, "Qty": 1, "UnitPrice": 4.99},
            },
        ],
        **extra,
    }
