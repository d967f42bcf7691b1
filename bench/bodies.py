"""Signed `orders/create` webhooks shaped like Shopify's (10–20 KB, fake values), each with a unique webhook id.

A real order webhook carries far more than the mapping reads: tax lines, price sets in two currencies,
discount allocations, shipping lines, fulfillment details per line item. These bodies carry them too, so
the app parses and verifies what Shopify really sends.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.factories import web_order

from .db import API_SECRET, SHOPS, shop_domain

MIN_BYTES, MAX_BYTES = 10 * 1024, 20 * 1024


@dataclass(frozen=True)
class SignedWebhook:
    webhook_id: str
    event_id: str  # the cart token, which the default event_id_source turns into Pinterest's event_id
    shop: str
    body: bytes
    headers: dict[str, str]
    checkout_token: str | None = None  # set for orders whose pixel beacon the benchmark posts


def _money(amount: str) -> dict[str, Any]:
    return {"shop_money": {"amount": amount, "currency_code": "USD"},
            "presentment_money": {"amount": amount, "currency_code": "USD"}}


def _line_item(rng: random.Random, n: int, i: int) -> dict[str, Any]:
    price = f"{rng.randint(5, 120)}.{rng.randint(0, 99):02d}"
    quantity = rng.randint(1, 3)
    return {
        "id": 14_000_000_000 + n * 10 + i, "admin_graphql_api_id": f"gid://shopify/LineItem/{14_000_000_000 + n}",
        "product_id": 7_001_002_003_000 + rng.randint(0, 500), "variant_id": 42_001_002_003_000 + rng.randint(0, 5000),
        "sku": f"SKU-{rng.randint(1000, 9999)}", "title": f"Product {rng.randint(1, 500)}",
        "name": f"Product {rng.randint(1, 500)} - Size {rng.choice('SML')}", "variant_title": "Size M / Blue",
        "vendor": "Demo Goods", "quantity": quantity, "current_quantity": quantity, "fulfillable_quantity": quantity,
        "price": price, "price_set": _money(price), "total_discount": "0.00", "total_discount_set": _money("0.00"),
        "grams": rng.randint(100, 3000), "requires_shipping": True, "taxable": True, "gift_card": False,
        "product_exists": True, "fulfillment_service": "manual", "fulfillment_status": None,
        "variant_inventory_management": "shopify", "properties": [{"name": "Gift wrap", "value": "No"}],
        "tax_lines": [{"title": "State Tax", "price": "1.62", "rate": 0.065, "channel_liable": False,
                       "price_set": _money("1.62")},
                      {"title": "County Tax", "price": "0.25", "rate": 0.01, "channel_liable": False,
                       "price_set": _money("0.25")}],
        "discount_allocations": [{"amount": "1.00", "discount_application_index": 0,
                                  "amount_set": _money("1.00")}],
        "duties": [], "attributed_staffs": [], "origin_location": {
            "id": 3_000_000_000 + rng.randint(0, 9), "country_code": "US", "province_code": "OR",
            "name": "Demo Warehouse", "address1": "1 Warehouse Way", "address2": "", "city": "Portland",
            "zip": "97201"},
    }


def order_body(rng: random.Random, n: int, *, pixel: bool = False) -> tuple[dict[str, Any], str]:
    """One order of 10–20 KB and its cart token.

    With `pixel` the order has its own checkout token and no click id in its landing page, so a click id
    that reaches Pinterest can only have come from the pixel's beacon.
    """
    cart_token = f"bench-{uuid.UUID(int=rng.getrandbits(128)).hex}"
    order = web_order(cart_token=cart_token)
    if pixel:
        order["checkout_token"] = uuid.UUID(int=rng.getrandbits(128)).hex
        order["landing_site"] = "/products/mug?utm_source=pinterest"
    order.update({
        "line_items": [_line_item(rng, n, i) for i in range(rng.randint(4, 9))],
        "tax_lines": [{"title": "State Tax", "price": "6.50", "rate": 0.065, "price_set": _money("6.50")}],
        "shipping_lines": [{"id": 4_000_000_000 + n, "title": "Standard", "code": "Standard", "price": "5.00",
                            "price_set": _money("5.00"), "source": "shopify", "tax_lines": [],
                            "discount_allocations": [], "discounted_price": "5.00",
                            "discounted_price_set": _money("5.00")}],
        "discount_applications": [{"type": "discount_code", "value": "10.0", "value_type": "fixed_amount",
                                   "allocation_method": "across", "target_selection": "all",
                                   "target_type": "line_item", "code": "WELCOME10"}],
        "payment_gateway_names": ["shopify_payments"], "financial_status": "paid", "fulfillment_status": None,
        "confirmed": True, "buyer_accepts_marketing": False, "taxes_included": False, "tags": "",
        "total_weight": 2300, "total_line_items_price": "100.00", "total_line_items_price_set": _money("100.00"),
        "total_tax_set": _money("7.50"), "total_discounts_set": _money("10.00"),
        "total_shipping_price_set": _money("5.00"), "current_total_price": "104.50",
        "current_total_price_set": _money("104.50"), "fulfillments": [], "refunds": [],
    })
    raw = json.dumps(order, separators=(",", ":"))
    while len(raw) < MIN_BYTES:  # fewer line items than average: add one more
        order["line_items"].append(_line_item(rng, n, len(order["line_items"])))
        raw = json.dumps(order, separators=(",", ":"))
    while len(raw) > MAX_BYTES:
        order["line_items"].pop()
        raw = json.dumps(order, separators=(",", ":"))
    return order, cart_token


def sign(body: bytes, secret: str = API_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def signed_webhooks(count: int, *, seed: int, pixel: bool = False) -> list[SignedWebhook]:
    """`count` signed orders/create deliveries spread over the benchmark's shops (see `order_body`)."""
    rng = random.Random(seed)
    out = []
    # Shopify's nanosecond format, stamped now: the app refuses deliveries triggered too long ago.
    triggered_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
    for n in range(count):
        order, cart_token = order_body(rng, n, pixel=pixel)
        body = json.dumps(order, separators=(",", ":")).encode()
        shop = shop_domain(n % SHOPS)
        webhook_id = str(uuid.UUID(int=rng.getrandbits(128)))
        headers = {
            "Content-Type": "application/json", "X-Shopify-Topic": "orders/create",
            "X-Shopify-Hmac-Sha256": sign(body), "X-Shopify-Shop-Domain": shop,
            "X-Shopify-Webhook-Id": webhook_id, "X-Shopify-API-Version": "2026-10",
            "X-Shopify-Triggered-At": triggered_at, "X-Shopify-Event-Id": webhook_id,
        }
        out.append(SignedWebhook(webhook_id, cart_token, shop, body, headers,
                                 order["checkout_token"] if pixel else None))
    return out


def write_wrk_requests(hooks: list[SignedWebhook], path: Path, host: str = "127.0.0.1") -> Path:
    """Raw HTTP/1.1 requests, each preceded by its length on a line, for bench/ack.lua to replay in order."""
    with open(path, "wb") as fh:
        for hook in hooks:
            head = "POST /webhooks HTTP/1.1\r\n" f"Host: {host}\r\n" f"Content-Length: {len(hook.body)}\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in hook.headers.items()) + "\r\n"
            raw = head.encode() + hook.body
            fh.write(f"{len(raw)}\n".encode() + raw)
    return path
