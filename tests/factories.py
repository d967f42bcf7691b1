"""The tests' one builder of Shopify webhook bodies (orders/create, checkouts/update), fake values only.

Every body comes out of `build`: a deep copy of its defaults with keyword overrides replacing top-level
keys, so each call returns a fresh dict a test may change. Money is always a `money()` pair. Two kinds:

- `web_order()` and `completed_checkout()` below: new ids and tokens on every call, for tests that post many
  orders and must not see them deduplicated; a short shape (the fields the mapping reads);
- the fixed, realistic orders of tests/mapping/orders.py (the golden mapping cases): every field Shopify
  sends, with `address()` and `line_item()`.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

_ids = itertools.count(1)

ORDER_ID_BASE = 5_912_345_678_901_234  # above 2**53, as real order ids are
_SHOP_ZONE = timezone(timedelta(hours=-5))  # Shopify writes times in the shop's offset


def shopify_time(seconds_ago: float = 0.0) -> str:
    """A time as Shopify writes it ("2026-11-20T10:15:00-05:00"), `seconds_ago` before now.

    Fresh bodies are dated a few minutes ago, as a real webhook is: Pinterest takes events from the last
    7 days only, and an order dated long before it arrives is back-dated (app/mapping/timing.py).
    """
    moment = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return moment.astimezone(_SHOP_ZONE).isoformat(timespec="seconds")


# -- the pieces -------------------------------------------------------------------------------------
def build(defaults: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A new body: a deep copy of `defaults` with `overrides` (deep-copied too) replacing top-level keys."""
    body = copy.deepcopy(dict(defaults))
    body.update(copy.deepcopy(dict(overrides)))
    return body


def money(shop: str, currency: str, presentment: str | None = None, presentment_currency: str | None = None
          ) -> dict[str, Any]:
    """A `*_set` pair: the amount in the shop's currency and in the buyer's (the same unless given)."""
    return {
        "shop_money": {"amount": shop, "currency_code": currency},
        "presentment_money": {"amount": presentment or shop,
                              "currency_code": presentment_currency or currency},
    }


def address(**fields: Any) -> dict[str, Any]:
    """A customer, billing or shipping address with every field Shopify sends; unset ones are null."""
    base = {
        "first_name": None, "last_name": None, "address1": "1 Example Street", "address2": "",
        "company": None, "phone": None, "city": None, "province": None, "province_code": None,
        "zip": None, "country": None, "country_code": None, "name": None, "latitude": None, "longitude": None,
    }
    return {**base, **fields}


def line_item(line_id: int, product_id: int | None, variant_id: int | None, sku: str | None, price: str,
              quantity: int, title: str, vendor: str | None, currency: str = "USD",
              presentment_price: str | None = None,
              presentment_currency: str | None = None) -> dict[str, Any]:
    """One orders/create line item with every field Shopify sends."""
    return {
        "id": line_id, "admin_graphql_api_id": f"gid://shopify/LineItem/{line_id}",
        "product_id": product_id, "variant_id": variant_id, "sku": sku, "title": title,
        "name": title, "variant_title": None, "vendor": vendor, "quantity": quantity,
        "current_quantity": quantity, "price": price,
        "price_set": money(price, currency, presentment_price, presentment_currency),
        "total_discount": "0.00", "discount_allocations": [], "gift_card": False, "taxable": True,
        "properties": [], "requires_shipping": True, "fulfillable_quantity": quantity,
    }


# -- new ids on every call --------------------------------------------------------------------------
def _buyer_address() -> dict[str, Any]:
    """The address fresh orders give for billing and shipping (a short one: the fields the mapping reads)."""
    return {
        "first_name": "Dana", "last_name": "Example", "address1": "1 Test Street", "address2": None,
        "city": "Portland", "province": "Oregon", "province_code": "OR", "zip": "97201-1234",
        "country": "United States", "country_code": "US", "phone": "+1 555-0100", "company": None,
    }


def web_order(**overrides: Any) -> dict[str, Any]:
    """An online-store orders/create body shaped like Shopify's, values fake."""
    n = next(_ids)
    order_id = ORDER_ID_BASE + n
    order: dict[str, Any] = {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{1000 + n}",
        "order_number": 1000 + n,
        "email": f"buyer{n}@example.com",
        "contact_email": f"buyer{n}@example.com",
        "phone": None,
        "created_at": shopify_time(120),
        "processed_at": shopify_time(120),
        "updated_at": shopify_time(118),
        "cart_token": f"Z2NwLXVzLWVhc3QxOjAxSkJaTUVRVEVTVENBUlQ{n:06d}",
        "checkout_token": f"{n:032x}",
        "checkout_id": 35_550_298_931_313 + n,
        "token": f"{n + 7:032x}",
        "source_name": "web",
        "test": False,
        "currency": "USD",
        "presentment_currency": "USD",
        "subtotal_price": "90.00",
        "total_price": "104.50",
        "total_tax": "7.50",
        "total_discounts": "10.00",
        "subtotal_price_set": money("90.00", "USD"),
        "total_price_set": money("104.50", "USD"),
        "browser_ip": "203.0.113.10",
        "client_details": {"browser_ip": "203.0.113.10", "user_agent": "Mozilla/5.0 (iPhone) TestAgent",
                           "accept_language": "en-US"},
        "landing_site": "/products/mug?utm_source=pinterest&epik=dj0yJnU9TESTCLICKID",
        # A custom storefront domain names no shop, so tests may post one order body for any of their shops
        # (a *.myshopify.com host here must match X-Shopify-Shop-Domain).
        "order_status_url": f"https://shop.example/orders/{n:032x}/authenticate?key=fake",
        "note_attributes": [],
        "discount_codes": [{"code": "WELCOME10", "amount": "10.00", "type": "fixed_amount"}],
        "line_items": [
            {"id": 1_300_000 + n, "product_id": 7_001_002_003_004, "variant_id": 42_001_002_003_004,
             "sku": "MUG-BLUE", "title": "Blue Mug", "name": "Blue Mug - Large", "vendor": "Demo Ceramics",
             "quantity": 2, "price": "25.00", "price_set": money("25.00", "USD")},
            {"id": 1_400_000 + n, "product_id": 7_001_002_003_005, "variant_id": 42_001_002_003_005,
             "sku": "", "title": "Linen Throw", "name": "Linen Throw", "vendor": "Demo Home",
             "quantity": 1, "price": "50.00", "price_set": money("50.00", "USD")},
        ],
        "customer": {"id": 6_001_002_003_000 + n, "email": f"buyer{n}@example.com", "first_name": "Dana",
                     "last_name": "Example", "phone": None},
        "billing_address": _buyer_address(),
        "shipping_address": _buyer_address(),
    }
    return build(order, overrides)


def completed_checkout(order: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    """The checkouts/update body Shopify sends when the order's checkout completes."""
    order = order or web_order()
    checkout = {
        "id": order["checkout_id"],
        "token": order["checkout_token"],
        "cart_token": order["cart_token"],
        "email": order["email"],
        "created_at": shopify_time(420),
        "updated_at": order["processed_at"],
        "completed_at": order["processed_at"],
        "currency": order["currency"],
        "presentment_currency": order["presentment_currency"],
        "subtotal_price": order["subtotal_price"],
        "total_price": order["total_price"],
        "source_name": "web",
        "landing_site": order["landing_site"],
        "note_attributes": [],
        "line_items": [
            {"product_id": li["product_id"], "variant_id": li["variant_id"], "sku": li["sku"],
             "title": li["title"], "vendor": li["vendor"], "quantity": li["quantity"], "price": li["price"]}
            for li in order["line_items"]
        ],
        "customer": copy.deepcopy(order["customer"]),
        "billing_address": copy.deepcopy(order["billing_address"]),
        "shipping_address": copy.deepcopy(order["shipping_address"]),
    }
    return build(checkout, overrides)
