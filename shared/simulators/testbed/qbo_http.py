"""The simulated QuickBooks Online company spoken to over raw HTTP, as a client puts it on
the wire: ``Api`` holds a valid access token; helpers make a customer and an invoice body."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from simulators.qbo import QboSimulator

CLIENT_ID = "sim-client"
CLIENT_SECRET = "sim-secret"


class Api:
    """Raw HTTP against ``sim`` served at ``base_url``."""

    def __init__(self, sim: QboSimulator, base_url: str) -> None:
        self.sim = sim
        self.base = base_url
        self.http = httpx.Client(base_url=base_url, timeout=5.0)
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

    def close(self) -> None:
        self.http.close()


def fault_of(response: httpx.Response) -> dict[str, Any]:
    """The first error of a QuickBooks Fault answer."""
    error: dict[str, Any] = response.json()["Fault"]["Error"][0]
    return error


def new_customer(api: Api, name: str = "Ada Lovelace") -> dict[str, Any]:
    response = api.post("customer", {"DisplayName": name})
    if response.status_code != 200:
        raise AssertionError(response.text)
    customer: dict[str, Any] = response.json()["Customer"]
    return customer


def invoice_body(customer_id: str, doc_number: str = "WC-1001", **extra: Any) -> dict[str, Any]:
    """An invoice of two lines: two of item 2 at 10.00, one of item 3 at 4.99."""
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
