"""The simulated Magento's catalogue and customers, written through REST V1 (issue #13).

Routes, as the Adobe Commerce admin REST reference names them:
``POST /V1/products`` (a SKU already there is updated, as ``ProductRepository::save`` does),
``GET|PUT|DELETE /V1/products/{sku}``, ``GET /V1/products?searchCriteria`` (sku, name,
entity_id), ``GET /V1/stockItems/{sku}``, ``PUT /V1/products/{sku}/stockItems/{itemId}``
(``qty``, ``is_in_stock``), ``POST /V1/categories``, ``GET /V1/categories`` (the tree),
``GET /V1/categories/list?searchCriteria``, ``GET /V1/categories/{id}``,
``GET|POST /V1/categories/{id}/products``, ``DELETE /V1/categories/{id}/products/{sku}``,
``POST /V1/customers``, ``PUT /V1/customers/{id}`` and ``GET /V1/directory/currency``.

Magento's refusals in its ``{"message", "parameters"}`` shape: a URL key another product or a
sibling category has ("URL key for specified store already exists."), a required value
missing, an e-mail another customer of the website has, a SKU or id it does not hold (404).
A product's categories are its ``category_links``; given on a save, they replace the old ones.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

from simulators.httpserver import Request, Response
from simulators.magento_catalogue import CATALOGUE, CATEGORIES, category_doc, product_doc
from simulators.magento_search import apply, parse

__all__ = ["MagentoCatalog", "url_key"]

ROOT_CATEGORY = 2  # the Default Category, the default store's root
NO_PRODUCT = "The product that was requested doesn't exist. Verify the product and try again."
URL_KEY_TAKEN = "URL key for specified store already exists."
EMAIL_TAKEN = "A customer with the same email address already exists in an associated website."
REQUIRED = '"%fieldName" is required. Enter and try again.'


def url_key(name: str) -> str:
    """Magento's URL key from a name: lower case, runs of other characters as one hyphen."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _error(status: int, message: str, parameters: Any = None) -> Response:
    body: dict[str, Any] = {"message": message}
    if parameters:
        body["parameters"] = parameters
    return Response.of_json(body, status)


def _number(amount: Decimal) -> int | float:
    """A price as Magento prints it: a JSON number (it casts a text price it is sent)."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def _attr(doc: dict[str, Any], code: str) -> Any:
    for attribute in doc.get("custom_attributes") or []:
        if attribute.get("attribute_code") == code:
            return attribute.get("value")
    return None


def _set_attr(doc: dict[str, Any], code: str, value: Any) -> None:
    attributes = [a for a in doc.get("custom_attributes") or [] if a["attribute_code"] != code]
    doc["custom_attributes"] = [*attributes, {"attribute_code": code, "value": value}]


class MagentoCatalog:
    """Products, stock, categories and customer writes of one simulated store.

    ``customers`` is the store's own customer table (``MagentoSimulator``'s), so a customer
    written here is the one its reads and searches show. Not thread-safe by itself: the
    store calls ``route`` under its lock.
    """

    def __init__(
        self,
        customers: dict[int, dict[str, Any]],
        stamp: Callable[[], str],
        customer_id: Callable[[], int],
        base_currency: str = "USD",
    ) -> None:
        self.base_currency = base_currency
        self._customers = customers
        self._stamp = stamp
        self._customer_id = customer_id
        self._ids = itertools.count(5000)
        self._address_ids = itertools.count(1)
        self.products: dict[str, dict[str, Any]] = {}  # by SKU as written
        self.categories: dict[int, dict[str, Any]] = {}
        for c in CATEGORIES.values():
            self.categories[c.id] = {**category_doc(c), "product_skus": []}
        for p in CATALOGUE.values():
            doc = product_doc(p)
            doc["extension_attributes"]["stock_item"] = self._stock(p.id, 100)
            doc["created_at"] = doc["updated_at"] = "2026-01-01 00:00:00"
            self.products[p.sku] = doc
            for link in doc["extension_attributes"]["category_links"]:
                self.categories[int(link["category_id"])]["product_skus"].append(p.sku)
        self.writes = 0  # every write Magento accepted (tests count them)

    # -- the scenario's hand ---------------------------------------------------------------

    def product(self, sku: str) -> dict[str, Any]:
        """A product as ``GET /V1/products/{sku}`` answers it."""
        found = self._find(sku)
        if found is None:
            raise KeyError(sku)
        return self._shown(found)

    def delete_product(self, sku: str) -> None:
        """The merchant deletes a product in the admin."""
        found = self._find(sku)
        if found is None:
            raise KeyError(sku)
        self._unlink(found)
        del self.products[found["sku"]]

    def category_named(self, name: str, parent_id: int = ROOT_CATEGORY) -> dict[str, Any]:
        for category in self.categories.values():
            if category["name"] == name and category["parent_id"] == parent_id:
                return self._category_shown(category)
        raise KeyError(name)

    # -- HTTP ------------------------------------------------------------------------------

    def route(self, request: Request, path: str) -> Response | None:
        """Magento's answer when ``path`` (under ``/V1/``) is one of these routes, else None."""
        parts = [unquote(p) for p in path.split("/")]
        method = request.method
        head = parts[0]
        if head == "products":
            return self._products(request, method, parts)
        if head == "stockItems" and len(parts) == 2 and method == "GET":
            found = self._find(parts[1])
            if found is None:
                return _error(404, NO_PRODUCT)
            return Response.of_json(found["extension_attributes"]["stock_item"])
        if head == "categories":
            return self._categories(request, method, parts)
        if path == "directory/currency" and method == "GET":
            return Response.of_json(
                {"base_currency_code": self.base_currency, "base_currency_symbol": "",
                 "default_display_currency_code": self.base_currency,
                 "available_currency_codes": [self.base_currency], "exchange_rates": []}
            )  # fmt: skip
        if head == "customers" and method in ("POST", "PUT"):
            return self._customer_write(request, method, parts)
        return None

    # -- products --------------------------------------------------------------------------

    def _products(self, request: Request, method: str, parts: list[str]) -> Response | None:
        if len(parts) == 1 and method == "GET":
            # entity_id is what searches filter on; the items do not show it.
            rows = [{**self._shown(p), "entity_id": p["id"]} for p in self.products.values()]
            search = parse(request.query)
            page, total = apply(search, rows, "entity_id")
            items = [{k: v for k, v in row.items() if k != "entity_id"} for row in page]
            return Response.of_json(
                {"items": items, "search_criteria": search.echo(), "total_count": total}
            )
        if len(parts) == 1 and method == "POST":
            body = _body(request, "product")
            if body is None:
                return _error(400, REQUIRED, {"fieldName": "product"})
            existing = self._find(str(body.get("sku") or ""))
            return self._save(body, existing)
        if len(parts) == 2:
            found = self._find(parts[1])
            if found is None:
                return _error(404, NO_PRODUCT)
            if method == "GET":
                return Response.of_json(self._shown(found))
            if method == "PUT":
                body = _body(request, "product")
                if body is None:
                    return _error(400, REQUIRED, {"fieldName": "product"})
                return self._save({**body, "sku": found["sku"]}, found)
            if method == "DELETE":
                self._unlink(found)
                del self.products[found["sku"]]
                self.writes += 1
                return Response.of_json(True)
        if len(parts) == 4 and parts[2] == "stockItems" and method == "PUT":
            found = self._find(parts[1])
            if found is None:
                return _error(404, NO_PRODUCT)
            body = _body(request, "stockItem")
            if body is None:
                return _error(400, REQUIRED, {"fieldName": "stockItem"})
            item = found["extension_attributes"]["stock_item"]
            self._stock_change(item, body)
            found["updated_at"] = self._stamp()
            self.writes += 1
            return Response.of_json(item["item_id"])
        return None

    def _save(self, body: dict[str, Any], existing: dict[str, Any] | None) -> Response:
        sku = str(body.get("sku") or "").strip()
        if not sku:
            return _error(400, REQUIRED, {"fieldName": "sku"})
        if existing is None:
            for required in ("name", "price"):
                if body.get(required) in (None, ""):
                    return _error(
                        400,
                        'The "%1" attribute value is empty. Set the attribute and try again.',
                        [required],
                    )
        doc = copy.deepcopy(existing) if existing is not None else self._new_product(sku)
        for name in ("name", "status", "visibility", "type_id", "attribute_set_id"):
            if name in body:
                doc[name] = body[name]
        if "price" in body:
            try:
                Decimal(str(body["price"]))
            except ArithmeticError:
                return _error(
                    400,
                    'The "%1" value\'s type is invalid. The "%2" type was expected. Verify and try '
                    "again.",
                    [str(body["price"]), "float"],
                )
            if Decimal(str(body["price"])) < 0:
                return _error(400, 'The "%1" value can\'t be negative.', ["price"])
            doc["price"] = _number(Decimal(str(body["price"])))
        for attribute in body.get("custom_attributes") or []:
            _set_attr(doc, attribute["attribute_code"], attribute.get("value"))
        given_key = any(
            a["attribute_code"] == "url_key" for a in body.get("custom_attributes") or []
        )
        if existing is None and not given_key:
            # A new product's URL key comes from its name: two like names collide.
            _set_attr(doc, "url_key", url_key(str(body["name"])))
        key = _attr(doc, "url_key")
        for other in self.products.values():
            if other["id"] != doc["id"] and _attr(other, "url_key") == key:
                return _error(400, URL_KEY_TAKEN)
        extension = body.get("extension_attributes") or {}
        links = extension.get("category_links")
        if links is not None:
            for link in links:
                if int(link["category_id"]) not in self.categories:
                    return _error(
                        404,
                        "No such entity with %fieldName = %fieldValue",
                        {"fieldName": "id", "fieldValue": str(link["category_id"])},
                    )
        if "stock_item" in extension:
            self._stock_change(doc["extension_attributes"]["stock_item"], extension["stock_item"])
        if existing is not None:
            self._unlink(existing)
            del self.products[existing["sku"]]
        doc["updated_at"] = self._stamp()
        self.products[doc["sku"]] = doc
        if links is not None:
            doc["extension_attributes"]["category_links"] = [
                {
                    "position": int(link.get("position") or 0),
                    "category_id": str(link["category_id"]),
                }
                for link in links
            ]
        self._link(doc)
        self.writes += 1
        return Response.of_json(self._shown(doc))

    def _new_product(self, sku: str) -> dict[str, Any]:
        pid = next(self._ids)
        now = self._stamp()
        return {
            "id": pid, "sku": sku, "name": "", "attribute_set_id": 4, "price": 0, "status": 1,
            "visibility": 4, "type_id": "simple", "created_at": now, "updated_at": now,
            "extension_attributes": {
                "website_ids": [1], "category_links": [], "stock_item": self._stock(pid, 0),
            },
            "custom_attributes": [],
        }  # fmt: skip

    @staticmethod
    def _stock(product_id: int, qty: int) -> dict[str, Any]:
        return {
            "item_id": product_id, "product_id": product_id, "stock_id": 1, "qty": qty,
            "is_in_stock": qty > 0, "manage_stock": True, "use_config_manage_stock": True,
        }  # fmt: skip

    @staticmethod
    def _stock_change(item: dict[str, Any], body: dict[str, Any]) -> None:
        for name in ("qty", "is_in_stock", "manage_stock", "use_config_manage_stock"):
            if name in body:
                item[name] = body[name]

    def _find(self, sku: str) -> dict[str, Any] | None:
        # Magento's SKUs are unique without regard to case.
        wanted = sku.strip().lower()
        return next((p for p in self.products.values() if p["sku"].lower() == wanted), None)

    def _link(self, doc: dict[str, Any]) -> None:
        for link in doc["extension_attributes"]["category_links"]:
            skus = self.categories[int(link["category_id"])]["product_skus"]
            if doc["sku"] not in skus:
                skus.append(doc["sku"])

    def _unlink(self, doc: dict[str, Any]) -> None:
        for category in self.categories.values():
            if doc["sku"] in category["product_skus"]:
                category["product_skus"].remove(doc["sku"])

    def _shown(self, doc: dict[str, Any]) -> dict[str, Any]:
        shown = copy.deepcopy(doc)
        ids = [link["category_id"] for link in shown["extension_attributes"]["category_links"]]
        _set_attr(shown, "category_ids", ids)
        return shown

    # -- categories ------------------------------------------------------------------------

    def _categories(self, request: Request, method: str, parts: list[str]) -> Response | None:
        if len(parts) == 1 and method == "GET":
            return Response.of_json(self._tree(ROOT_CATEGORY))
        if len(parts) == 1 and method == "POST":
            return self._new_category(_body(request, "category"))
        if parts[1:] == ["list"] and method == "GET":
            rows = [self._category_shown(c) for c in self.categories.values()]
            search = parse(request.query)
            page, total = apply(search, rows, "id")
            return Response.of_json(
                {"items": page, "search_criteria": search.echo(), "total_count": total}
            )
        if len(parts) < 2 or not parts[1].isdigit():
            return None
        category = self.categories.get(int(parts[1]))
        if category is None:
            return _error(
                404,
                "No such entity with %fieldName = %fieldValue",
                {"fieldName": "id", "fieldValue": parts[1]},
            )
        if len(parts) == 2 and method == "GET":
            return Response.of_json(self._category_shown(category))
        if len(parts) == 3 and parts[2] == "products" and method == "GET":
            links = [
                {"sku": sku, "position": n, "category_id": str(category["id"])}
                for n, sku in enumerate(category["product_skus"])
            ]
            return Response.of_json(links)
        if len(parts) == 3 and parts[2] == "products" and method in ("POST", "PUT"):
            link = _body(request, "productLink")
            product = self._find(str((link or {}).get("sku") or ""))
            if product is None:
                return _error(404, NO_PRODUCT)
            links = product["extension_attributes"]["category_links"]
            if all(int(x["category_id"]) != category["id"] for x in links):
                links.append({"position": int(link.get("position") or 0) if link else 0,
                              "category_id": str(category["id"])})  # fmt: skip
            self._link(product)
            product["updated_at"] = self._stamp()
            self.writes += 1
            return Response.of_json(True)
        if len(parts) == 4 and parts[2] == "products" and method == "DELETE":
            product = self._find(parts[3])
            if product is None or product["sku"] not in category["product_skus"]:
                return _error(400, "The category doesn't contain the specified product.")
            links = product["extension_attributes"]["category_links"]
            links[:] = [x for x in links if int(x["category_id"]) != category["id"]]
            category["product_skus"].remove(product["sku"])
            product["updated_at"] = self._stamp()
            self.writes += 1
            return Response.of_json(True)
        return None

    def _new_category(self, body: dict[str, Any] | None) -> Response:
        if body is None or not str(body.get("name") or "").strip():
            return _error(400, REQUIRED, {"fieldName": "name"})
        parent_id = int(body.get("parent_id") or ROOT_CATEGORY)
        parent = self.categories.get(parent_id)
        if parent is None:
            return _error(
                404,
                "No such entity with %fieldName = %fieldValue",
                {"fieldName": "id", "fieldValue": str(parent_id)},
            )
        name = str(body["name"]).strip()
        key = url_key(name)
        for sibling in self.categories.values():
            if sibling["parent_id"] == parent_id and _attr(sibling, "url_key") == key:
                # Magento's words for a sibling with the same URL key.
                return _error(400, f"Could not save category: {URL_KEY_TAKEN}")
        cid = max(self.categories) + 1
        self.categories[cid] = {
            "id": cid, "parent_id": parent_id, "name": name,
            "is_active": bool(body.get("is_active", True)), "position": 1,
            "level": int(parent["level"]) + 1, "children": "",
            "path": f"{parent['path']}/{cid}", "include_in_menu": True,
            "custom_attributes": [{"attribute_code": "url_key", "value": key}],
            "product_skus": [],
        }  # fmt: skip
        self.writes += 1
        return Response.of_json(self._category_shown(self.categories[cid]))

    def _category_shown(self, category: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in category.items() if k != "product_skus"}
        shown["children"] = ",".join(
            str(c["id"]) for c in self.categories.values() if c["parent_id"] == category["id"]
        )
        shown["product_count"] = len(category["product_skus"])
        return copy.deepcopy(shown)

    def _tree(self, cid: int) -> dict[str, Any]:
        category = self.categories[cid]
        return {
            "id": cid, "parent_id": category["parent_id"], "name": category["name"],
            "is_active": category["is_active"], "position": category["position"],
            "level": category["level"], "product_count": len(category["product_skus"]),
            "children_data": [
                self._tree(c["id"]) for c in self.categories.values() if c["parent_id"] == cid
            ],
        }  # fmt: skip

    # -- customers -------------------------------------------------------------------------

    def _customer_write(self, request: Request, method: str, parts: list[str]) -> Response | None:
        if method == "POST" and len(parts) == 1:
            existing = None
        elif method == "PUT" and len(parts) == 2 and parts[1].isdigit():
            existing = self._customers.get(int(parts[1]))
            if existing is None:
                return _error(
                    404,
                    "No such entity with %fieldName = %fieldValue",
                    {"fieldName": "customerId", "fieldValue": parts[1]},
                )
        else:
            return None
        body = _body(request, "customer")
        if body is None:
            return _error(400, REQUIRED, {"fieldName": "customer"})
        for required, label in (("firstname", "Firstname"), ("lastname", "Lastname")):
            if not str(body.get(required) or "").strip():
                return _error(400, REQUIRED, {"fieldName": label})
        email = str(body.get("email") or "").strip()
        if "@" not in email:
            return _error(400, '"%fieldName" is not a valid email address.',
                          {"fieldName": "Email"})  # fmt: skip
        website = int(body.get("website_id") or 1)
        for other in self._customers.values():
            same = existing is not None and other["id"] == existing["id"]
            if (
                not same
                and other["email"].lower() == email.lower()
                and other["website_id"] == website
            ):
                return _error(400, EMAIL_TAKEN)
        given = body.get("addresses")
        for address in given or []:
            for required in ("street", "city", "country_id", "telephone", "postcode"):
                if not address.get(required):
                    return _error(400, REQUIRED, {"fieldName": required})
        now = self._stamp()
        if existing is None:
            cid = self._customer_id()
            doc: dict[str, Any] = {
                "id": cid, "group_id": int(body.get("group_id") or 1), "created_at": now,
                "store_id": 1, "website_id": website, "addresses": [], "default_billing": "",
            }  # fmt: skip
        else:
            doc = existing
        for name in ("email", "firstname", "lastname", "group_id"):
            if name in body:
                doc[name] = body[name]
        if given is not None:
            # Given addresses replace the customer's; the default flags name which is which.
            addresses = []
            doc["default_billing"] = ""
            doc.pop("default_shipping", None)
            for one in given:
                address = {**one, "id": int(one.get("id") or next(self._address_ids)),
                           "customer_id": doc["id"]}  # fmt: skip
                if address.get("default_billing"):
                    doc["default_billing"] = str(address["id"])
                if address.get("default_shipping"):
                    doc["default_shipping"] = str(address["id"])
                addresses.append(address)
            doc["addresses"] = addresses
        doc["updated_at"] = now
        self._customers[doc["id"]] = doc
        self.writes += 1
        return Response.of_json(copy.deepcopy(doc))


def _body(request: Request, key: str) -> dict[str, Any] | None:
    """The request's ``{key: {...}}`` object (Magento's REST wraps each entity by name)."""
    try:
        data = request.json()
    except ValueError:
        return None
    inner = data.get(key) if isinstance(data, dict) else None
    return inner if isinstance(inner, dict) else None
