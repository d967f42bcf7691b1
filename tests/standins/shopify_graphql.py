"""Shopify's Admin GraphQL endpoint and OAuth token endpoint, behind an `httpx.MockTransport`.

Install `standin.client()` as the app's `SHOPIFY_HTTP_CLIENT`: shopifyapp's `admin_graphql_request` and its
token refresh then talk to this object instead of Shopify. It serves the three reconciliation queries
(orders page with the shop's time zone and country, remaining line items, order count) from `orders`,
applies the `created_at` window of the search query, pages with opaque cursors and answers like Shopify
does when a token is unknown (401) or the cost bucket is empty (200 with a THROTTLED error). Refresh
tokens rotate on every use.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

GRAPHQL_PATH = re.compile(r"^/admin/api/([0-9]{4}-[0-9]{2}|unstable)/graphql\.json$")
OPERATION = re.compile(r"\b(?:query|mutation)\s+(\w+)")
LINE_PAGE = re.compile(r"lineItems\(first:\s*(\d+)")
WINDOW = re.compile(r"created_at:(>=|<)'([^']+)'")
MAX_FIRST = 250  # Shopify's page size limit
THROTTLED_BODY = {
    "errors": [{"message": "Throttled", "extensions": {
        "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
    "extensions": {"cost": {"requestedQueryCost": 762, "actualQueryCost": None, "throttleStatus": {
        "maximumAvailable": 2000.0, "currentlyAvailable": 12, "restoreRate": 100.0}}},
}


@dataclass(frozen=True)
class Recorded:
    kind: str  # "graphql" | "token"
    operation: str | None
    variables: dict[str, Any]
    token: str | None  # the access token sent (fake values only)


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:{index}".encode()).decode()


def _index(cursor: str | None) -> int:
    return int(base64.b64decode(cursor).decode().split(":")[1]) + 1 if cursor else 0


class ShopifyAdminStandin:
    """One shop's Admin API as far as reconciliation uses it."""

    def __init__(self, shop: str = "demo-store.myshopify.com", *, client_id: str, client_secret: str,
                 access_token: str = "shpat_fake_valid_0001", refresh_token: str = "shprt_fake_0001") -> None:
        self.host, self.client_id, self.client_secret = shop, client_id, client_secret
        self.orders: list[dict[str, Any]] = []
        self.valid_tokens = {access_token}
        self.refresh_token: str | None = refresh_token
        self.script: list[str] = []  # one-shot answers: "throttled", "http_429", "server_error", "unauthorized"
        self.requests: list[Recorded] = []
        self.refreshes = 0
        self.errors: list[dict[str, Any]] = []  # GraphQL errors sent beside the data (ACCESS_DENIED, ...)
        self.no_data = False  # answer with the errors only
        self.country = "US"  # the shop's address country
        self.timezone = "UTC"  # the shop's IANA time zone (Shop.ianaTimezone)
        self.count_precision = "EXACT"  # "AT_LEAST" when Shopify stops counting at the limit
        # Web pixels (app/shopify/web_pixel.py): the installation's scopes, this app's pixel, one-shot refusals.
        self.scopes = ["read_orders"]
        self.web_pixel: dict[str, Any] | None = None
        self.pixel_errors: list[dict[str, Any]] = []  # userErrors for the next create or update
        self._denied: list[dict[str, Any]] = []  # this request's ACCESS_DENIED (a scope not granted)

    # -- driving it from a test -------------------------------------------------------------------
    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handle))

    def add(self, *nodes: dict[str, Any]) -> None:
        self.orders.extend(nodes)
        self.orders.sort(key=lambda node: _when(node["createdAt"]))

    def revoke(self, token: str) -> None:
        self.valid_tokens.discard(token)

    def graphql(self, operation: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if r.kind == "graphql" and operation in (None, r.operation)]

    # -- HTTP ---------------------------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.host != self.host or request.method != "POST":
            return httpx.Response(404, json={"errors": "Not Found"})
        body = json.loads(request.content or b"{}")
        if request.url.path == "/admin/oauth/access_token":
            return self._token(body)
        if not GRAPHQL_PATH.match(request.url.path):
            return httpx.Response(404, json={"errors": "Not Found"})
        query, variables = body.get("query", ""), body.get("variables") or {}
        token = request.headers.get("X-Shopify-Access-Token")
        operation = (OPERATION.search(query) or [None, None])[1]
        self.requests.append(Recorded("graphql", operation, variables, token))
        scripted = self.script.pop(0) if token in self.valid_tokens and self.script else None
        if token not in self.valid_tokens or scripted == "unauthorized":
            return httpx.Response(401, json={"errors": "[API] Invalid API key or access token "
                                                       "(unrecognized login or wrong password)"})
        if scripted == "throttled":
            return httpx.Response(200, json=THROTTLED_BODY)
        if scripted == "http_429":
            return httpx.Response(429, headers={"Retry-After": "0"}, json={"errors": "Exceeded 2 calls/second"})
        if scripted == "server_error":
            return httpx.Response(503, json={"errors": "Service Unavailable"})
        answer: dict[str, Any] = {"data": None if self.no_data else self._answer(operation, query, variables),
                                  "extensions": self._cost()}
        denied, self._denied = self._denied, []
        if self.errors or denied:
            answer["errors"] = self.errors + denied
        return httpx.Response(200, json=answer)

    def _answer(self, operation: str | None, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        if operation == "ReconcileOrders":
            return {"shop": {"ianaTimezone": self.timezone, "shopAddress": {"countryCodeV2": self.country}},
                    "orders": self._orders_page(query, variables)}
        if operation == "ReconcileOrderLines":
            return {"order": self._more_lines(variables)}
        if operation == "ReconcileOrderCount":
            return {"ordersCount": {"count": len(self._window(variables["query"])),
                                    "precision": self.count_precision}}
        if operation == "PinbridgeAppAccess":
            return {"currentAppInstallation": {"accessScopes": [{"handle": h} for h in self.scopes]}}
        if operation in ("PinbridgeWebPixel", "PinbridgeWebPixelCreate", "PinbridgeWebPixelUpdate"):
            return self._web_pixel(operation, variables)
        raise AssertionError(f"unexpected GraphQL operation {operation!r}")

    def _web_pixel(self, operation: str, variables: dict[str, Any]) -> dict[str, Any]:
        if operation == "PinbridgeWebPixel":
            return {"webPixel": self.web_pixel}
        field = "webPixelCreate" if operation == "PinbridgeWebPixelCreate" else "webPixelUpdate"
        if not {"write_pixels", "read_customer_events"} <= set(self.scopes):
            self._denied = [{"message": f"Access denied for {field} field. Required access: `write_pixels` "
                                       "access scope.", "extensions": {"code": "ACCESS_DENIED"}}]
            return {field: None}
        errors, self.pixel_errors = self.pixel_errors, []
        settings = variables["webPixel"]["settings"]
        if not errors and field == "webPixelCreate" and self.web_pixel is not None:
            errors = [{"code": "TAKEN", "field": ["webPixel"], "message": "Input value is already taken"}]
        if not errors and field == "webPixelUpdate" and (self.web_pixel is None
                                                         or self.web_pixel["id"] != variables["id"]):
            errors = [{"code": "NOT_FOUND", "field": ["id"], "message": "No web pixel was found"}]
        if errors:
            return {field: {"webPixel": None, "userErrors": errors}}
        self.web_pixel = {"id": (self.web_pixel or {}).get("id") or "gid://shopify/WebPixel/1", "settings": settings}
        return {field: {"webPixel": self.web_pixel, "userErrors": []}}

    def _window(self, search: str) -> list[dict[str, Any]]:
        bounds = WINDOW.findall(search)
        assert bounds, f"search query without a created_at window: {search!r}"
        chosen = self.orders
        for operator, value in bounds:
            limit = _when(value)
            if operator == ">=":
                chosen = [o for o in chosen if _when(o["createdAt"]) >= limit]
            else:
                chosen = [o for o in chosen if _when(o["createdAt"]) < limit]
        return chosen

    def _orders_page(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        first = int(variables["first"])
        assert 0 < first <= MAX_FIRST
        line_page = int((LINE_PAGE.search(query) or [0, MAX_FIRST])[1])
        matching = self._window(variables["query"])
        start = _index(variables.get("after"))
        page = matching[start:start + first]
        nodes = [self._with_lines(node, line_page) for node in page]
        last = start + len(page) - 1
        return {"pageInfo": {"hasNextPage": last + 1 < len(matching),
                             "endCursor": _cursor(last) if page else None},
                "nodes": nodes}

    @staticmethod
    def _with_lines(node: dict[str, Any], limit: int, start: int = 0) -> dict[str, Any]:
        lines = node.get("lineItems", {}).get("nodes", [])
        shown = lines[start:start + limit]
        last = start + len(shown) - 1
        return {**node, "lineItems": {"nodes": shown, "pageInfo": {
            "hasNextPage": last + 1 < len(lines), "endCursor": _cursor(last) if shown else None}}}

    def _more_lines(self, variables: dict[str, Any]) -> dict[str, Any] | None:
        node = next((o for o in self.orders if o["id"] == variables["id"]), None)
        if node is None:
            return None
        return {"lineItems": self._with_lines(node, 100, _index(variables.get("after")))["lineItems"]}

    @staticmethod
    def _cost() -> dict[str, Any]:
        return {"cost": {"requestedQueryCost": 120, "actualQueryCost": 40, "throttleStatus": {
            "maximumAvailable": 2000.0, "currentlyAvailable": 1960, "restoreRate": 100.0}}}

    def _token(self, body: dict[str, Any]) -> httpx.Response:
        self.requests.append(Recorded("token", body.get("grant_type"), {}, None))
        if body.get("client_id") != self.client_id or body.get("client_secret") != self.client_secret:
            return httpx.Response(401, json={"error": "invalid_client"})
        if body.get("grant_type") != "refresh_token" or body.get("refresh_token") != self.refresh_token:
            return httpx.Response(400, json={"error": "invalid_grant",
                                             "error_description": "refresh token is invalid or expired"})
        self.refreshes += 1
        access = f"shpat_fake_refreshed_{self.refreshes:04d}"
        self.refresh_token = f"shprt_fake_rotated_{self.refreshes:04d}"
        self.valid_tokens.add(access)
        return httpx.Response(200, json={
            "access_token": access, "scope": "read_orders", "expires_in": 3600,
            "refresh_token": self.refresh_token, "refresh_token_expires_in": 7_776_000,
        })


# -- order nodes shaped like the Admin API's ------------------------------------------------------------
def _money_set(shop: Any, presentment: Any = None) -> dict[str, Any]:
    presentment = presentment or shop
    return {"shopMoney": {"amount": shop["amount"], "currencyCode": shop["currency_code"]},
            "presentmentMoney": {"amount": presentment["amount"], "currencyCode": presentment["currency_code"]}}


def _address(address: dict[str, Any] | None) -> dict[str, Any] | None:
    if address is None:
        return None
    return {"firstName": address.get("first_name"), "lastName": address.get("last_name"),
            "city": address.get("city"), "provinceCode": address.get("province_code"), "zip": address.get("zip"),
            "country": address.get("country"), "countryCodeV2": address.get("country_code"),
            "phone": address.get("phone")}


def _tax_lines(lines: Any) -> list[dict[str, Any]]:
    """Webhook `tax_lines` as GraphQL `taxLines` (both monies; the shop's when no `price_set`)."""
    out = []
    for line in lines or []:
        price_set = line.get("price_set") or {}
        shop = price_set.get("shop_money") or {"amount": line.get("price"), "currency_code": None}
        out.append({"priceSet": _money_set(shop, price_set.get("presentment_money"))})
    return out


def _legacy(kind: str, value: Any) -> dict[str, Any] | None:
    return {"id": f"gid://shopify/{kind}/{value}", "legacyResourceId": str(value)} if value else None


def _line(line: dict[str, Any]) -> dict[str, Any]:
    price = line.get("price_set") or {}
    return {"sku": line.get("sku"), "title": line.get("title"), "name": line.get("name"),
            "vendor": line.get("vendor"), "quantity": line.get("quantity"),
            "product": _legacy("Product", line.get("product_id")),
            "variant": _legacy("ProductVariant", line.get("variant_id")),
            "originalUnitPriceSet": _money_set(price["shop_money"], price.get("presentment_money")),
            "taxLines": _tax_lines(line.get("tax_lines")),
            "isGiftCard": bool(line.get("gift_card")), "requiresShipping": bool(line.get("requires_shipping"))}


def graphql_order(order: dict[str, Any], *, created_at: datetime | None = None) -> dict[str, Any]:
    """The Admin GraphQL `Order` node for a webhook-shaped order (tests.factories), values fake."""
    customer = order.get("customer")
    when = created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if created_at else order["created_at"]
    landing = order.get("landing_site")
    return {
        "id": f"gid://shopify/Order/{order['id']}", "legacyResourceId": str(order["id"]),
        "name": order.get("name"), "email": order.get("email"), "phone": order.get("phone"),
        "createdAt": when, "processedAt": when if created_at else order.get("processed_at"),
        "test": order.get("test", False), "sourceName": order.get("source_name"),
        "currencyCode": order.get("currency"), "presentmentCurrencyCode": order.get("presentment_currency"),
        "statusPageUrl": order.get("order_status_url"),
        "cartToken": order.get("cart_token"), "checkoutToken": order.get("checkout_token"),
        "clientIp": (order.get("client_details") or {}).get("browser_ip"),
        "customAttributes": [{"key": a["name"], "value": a["value"]} for a in order.get("note_attributes", [])],
        "customerJourneySummary": {"firstVisit": None, "lastVisit": {
            "landingPage": f"https://demo-store.myshopify.com{landing}"}} if landing else None,
        "subtotalPriceSet": _money_set(order["subtotal_price_set"]["shop_money"],
                                       order["subtotal_price_set"]["presentment_money"]),
        "totalPriceSet": _money_set(order["total_price_set"]["shop_money"],
                                    order["total_price_set"]["presentment_money"]),
        "totalTaxSet": _money_set(order["total_tax_set"]["shop_money"], order["total_tax_set"]["presentment_money"])
        if order.get("total_tax_set") else None,
        "taxesIncluded": bool(order.get("taxes_included")), "customerLocale": order.get("customer_locale"),
        "dutiesIncluded": bool(order.get("duties_included")),
        "originalTotalDutiesSet": _money_set(order["original_total_duties_set"]["shop_money"],
                                             order["original_total_duties_set"]["presentment_money"])
        if order.get("original_total_duties_set") else None,
        "totalTipReceivedSet": _money_set({"amount": order["total_tip_received"], "currency_code": order["currency"]},
                                          None) if order.get("total_tip_received") else None,
        "shippingLines": {"nodes": [{"taxLines": _tax_lines(line.get("tax_lines"))}
                                    for line in order.get("shipping_lines") or []]},
        "customer": None if customer is None else {
            "id": f"gid://shopify/Customer/{customer['id']}", "legacyResourceId": str(customer["id"]),
            "firstName": customer.get("first_name"), "lastName": customer.get("last_name"),
            "defaultEmailAddress": {"emailAddress": customer["email"]} if customer.get("email") else None,
            "defaultPhoneNumber": {"phoneNumber": customer["phone"]} if customer.get("phone") else None,
            "defaultAddress": _address(customer.get("default_address")),
        },
        "billingAddress": _address(order.get("billing_address")),
        "shippingAddress": _address(order.get("shipping_address")),
        "lineItems": {"nodes": [_line(line) for line in order.get("line_items", [])]},
    }
