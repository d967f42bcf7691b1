"""The served custom pixel, run in Node against Web Pixels-shaped events: the Tag gets the server's event_id."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from app.mapping import MappingOptions, map_order
from app.mapping.types import EVENT_ID_SOURCES
from app.merchant.pixel import snippet, version
from tests.conftest import require_or_skip
from tests.mapping import orders

RUNNER = Path(__file__).parents[1] / "js" / "run_pixel.js"
HEX_TOKEN = re.compile(r"^[0-9a-f]{32}$")
NODE = shutil.which("node")
require_or_skip(NODE is not None, "Node.js is required to run the pixel", module=True)

# Every online-store order shape the fixtures know, named for what makes it different.
ORDERS = {
    "web, base64 cart token": orders.web_order(),
    "guest": orders.guest_order(),
    "discounted": orders.discounted_order(),
    "custom items": orders.custom_items_order(),
    "presentment currency, hex cart token": orders.multi_currency_order(),
    "hex cart token": orders.web_order(cart_token="5e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b"),
    "no cart token": orders.web_order(cart_token=None),
    "empty cart token": orders.web_order(cart_token=""),
    "no cart or checkout token": orders.web_order(cart_token=None, checkout_token=None),
    "test notification, no tokens": orders.notification_order(),
    "prices include tax": orders.tax_inclusive_order(),
}


def pixel_money(order: dict[str, Any], field: str) -> dict[str, Any] | None:
    """An order's money field as a pixel sees it (Web Pixels' MoneyV2), in the buyer's currency when known."""
    money = (order.get(f"{field}_set") or {}).get("presentment_money")
    if money:
        return {"amount": float(money["amount"]), "currencyCode": money["currency_code"]}
    value = order.get(field)
    return {"amount": float(value), "currencyCode": order.get("presentment_currency")} if value else None


def pixel_event(order: dict[str, Any], *, email: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """`init` and the `checkout_completed` event Shopify gives a custom pixel for this order.

    Shopify's current checkout shows the thank-you page at /checkouts/cn/<cart token>/…; orders from the
    older checkout (hex cart tokens) end on /<shop id>/checkouts/<checkout token>/thank_you, with the cart
    still exposed to pixels as init.data.cart.
    """
    cart = order.get("cart_token")
    checkout_token = order.get("checkout_token")
    if cart and not HEX_TOKEN.match(cart):
        href, init_cart = f"https://shop.example/checkouts/cn/{cart}/en-us/thank-you", None
    else:
        href = f"https://shop.example/59026964593/checkouts/{checkout_token or 'x'}/thank_you"
        init_cart = {"id": f"gid://shopify/Cart/{cart}?key=0f0f"} if cart else None
    shipping = sum(Decimal(str(line.get("price") or 0)) for line in order.get("shipping_lines") or [])
    tax = pixel_money(order, "total_tax")
    if order.get("currency") != order.get("presentment_currency"):
        # The fixtures give tax and shipping in shop money only; in the buyer's currency, the checkout's
        # total is its subtotal plus tax (shipping folded in), which is all the pixel needs.
        total, subtotal = pixel_money(order, "total_price"), pixel_money(order, "subtotal_price")
        assert total and subtotal
        tax, shipping = {"amount": round(total["amount"] - subtotal["amount"], 2)}, Decimal(0)
    checkout = {
        "token": checkout_token,
        "order": {"id": str(order["id"])},
        "email": (order.get("email") or None) if email else None,
        "currencyCode": order.get("presentment_currency"),
        "subtotalPrice": pixel_money(order, "subtotal_price"),
        "totalPrice": pixel_money(order, "total_price"),
        "totalTax": tax or {"amount": 0.0},
        "shippingLine": {"price": {"amount": float(shipping)}},
        "lineItems": [{"quantity": line["quantity"]} for line in order.get("line_items") or []],
    }
    return pixel_inputs(checkout, href, init_cart)


def pixel_inputs(
    checkout: dict[str, Any], href: str, cart: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`init` and the `checkout_completed` event Shopify gives a pixel: this checkout, on the thank-you page at
    `href`, with `init.data.cart` (None when Shopify does not expose it), marketing and sale of data allowed."""
    init = {"data": {"cart": cart}, "context": {"document": {"location": {"href": href}}},
            "customerPrivacy": {"marketingAllowed": True, "saleOfDataAllowed": True}}
    event = {"name": "checkout_completed", "context": {"document": {"location": {"href": href}}},
             "data": {"checkout": checkout}}
    return init, event


def run_pixel(code: str, init: dict[str, Any], events: list[dict[str, Any]],
              cookies: dict[str, str] | None = None) -> dict[str, Any]:
    result = subprocess.run(
        [NODE or "node", str(RUNNER)], check=True, capture_output=True, timeout=30,
        input=json.dumps({"snippet": code, "init": init, "cookies": cookies or {}, "events": events}).encode(),
    )
    return json.loads(result.stdout)


def tag_checkout(output: dict[str, Any]) -> dict[str, Any]:
    tracks = [call for call in output["pintrk"] if call[0] == "track"]
    assert len(tracks) == 1, output
    assert tracks[0][1] == "checkout"
    return dict(tracks[0][2])


@pytest.mark.parametrize("source", EVENT_ID_SOURCES)
def test_the_tag_sends_the_server_event_id_for_every_order_shape(source: str) -> None:
    code = snippet(source, tag_id="2612345678901", app_url="https://app.example", shop="demo.myshopify.com")
    matched = 0
    for name, order in ORDERS.items():
        server = map_order(order, MappingOptions(event_id_source=source)).event
        assert server is not None, name
        init, event = pixel_event(order)
        tag = tag_checkout(run_pixel(code, init, [{"name": "checkout_completed", "event": event}]))
        assert tag["event_id"] == server["event_id"], name
        assert tag["order_id"] == str(order["id"]), name
        matched += 1
    assert matched == len(ORDERS) == 11


def test_default_settings_use_the_cart_token_on_both_sides() -> None:
    order = orders.web_order()
    init, event = pixel_event(order)
    tag = tag_checkout(run_pixel(snippet(tag_id="1"), init, [{"name": "checkout_completed", "event": event}]))
    assert tag["event_id"] == orders.CART_TOKEN == map_order(order, MappingOptions()).event_id


@pytest.mark.parametrize("value_mode", ["subtotal", "total"])
@pytest.mark.parametrize("make_order", [orders.web_order, orders.tax_inclusive_order])
def test_value_and_currency_agree_with_the_server(value_mode: str, make_order: Any) -> None:
    order = make_order()
    server = map_order(order, MappingOptions(value_mode=value_mode)).event
    assert server is not None
    init, event = pixel_event(order)
    tag = tag_checkout(run_pixel(snippet(value_mode=value_mode, tag_id="1"), init,
                                 [{"name": "checkout_completed", "event": event}]))
    assert Decimal(str(tag["value"])) == Decimal(server["custom_data"]["value"])
    assert tag["currency"] == server["custom_data"]["currency"]
    assert tag["order_quantity"] == sum(line["quantity"] for line in order["line_items"])


def test_presentment_currency_orders_report_what_the_buyer_paid() -> None:
    order = orders.multi_currency_order()
    server = map_order(order, MappingOptions(currency_mode="presentment")).event
    assert server is not None
    init, event = pixel_event(order)
    tag = tag_checkout(run_pixel(snippet(tag_id="1"), init, [{"name": "checkout_completed", "event": event}]))
    assert tag["currency"] == server["custom_data"]["currency"] == "USD"
    assert Decimal(str(tag["value"])) == Decimal(server["custom_data"]["value"])


def test_enhanced_match_loads_the_tag_with_the_checkout_email() -> None:
    init, event = pixel_event(orders.web_order())
    output = run_pixel(snippet(tag_id="2612345678901"), init, [{"name": "checkout_completed", "event": event}])
    assert ["load", "2612345678901", {"em": "buyer@example.com"}] in output["pintrk"]
    assert output["scripts"] == ["https://s.pinimg.com/ct/core.js"]
    init, event = pixel_event(orders.web_order(), email=False)
    output = run_pixel(snippet(tag_id="2612345678901"), init, [{"name": "checkout_completed", "event": event}])
    assert ["load", "2612345678901"] in output["pintrk"]


def test_the_beacon_reports_the_tag_id_click_id_and_consent() -> None:
    order = orders.web_order()
    init, event = pixel_event(order)
    output = run_pixel(snippet(tag_id="1", app_url="https://app.example/", shop="demo.myshopify.com"), init,
                       [{"name": "checkout_completed", "event": event}], cookies={"_epik": orders.EPIK})
    assert [beacon["url"] for beacon in output["beacons"]] == ["https://app.example/pixel?shop=demo.myshopify.com"]
    assert output["beacons"][0]["body"] == {
        "checkout_token": orders.CHECKOUT_TOKEN, "event_id": orders.CART_TOKEN, "click_id": orders.EPIK,
        "consent": {"marketing": True, "sale_of_data": True}, "pixel": version(tag_id="1"),
    }
    # A simple request (text/plain, no credentials): no CORS preflight from the storefront.
    assert output["beacons"][0]["options"]["headers"] == {"Content-Type": "text/plain"}


def test_without_marketing_consent_the_tag_stays_off_and_the_beacon_carries_only_the_refusal() -> None:
    init, event = pixel_event(orders.web_order())
    refused = {"name": "visitorConsentCollected",
               "event": {"customerPrivacy": {"marketingAllowed": False, "saleOfDataAllowed": False}}}
    output = run_pixel(snippet(tag_id="1"), init, [refused, {"name": "checkout_completed", "event": event}],
                       cookies={"_epik": orders.EPIK})
    assert output["pintrk"] == [] and output["scripts"] == []
    assert output["beacons"][0]["body"] == {
        "checkout_token": orders.CHECKOUT_TOKEN, "consent": {"marketing": False, "sale_of_data": False},
        "pixel": version(tag_id="1"),
    }


def test_code_without_a_tag_id_never_fires_the_tag_and_reports_no_tag_id() -> None:
    """The page never offers such code; if it ran anyway, the Tag must not load a placeholder id."""
    init, event = pixel_event(orders.web_order())
    output = run_pixel(snippet(app_url="https://app.example", shop="demo.myshopify.com"), init,
                       [{"name": "checkout_completed", "event": event}])
    assert output["pintrk"] == [] and output["scripts"] == []
    assert "event_id" not in output["beacons"][0]["body"]  # the card does not count a Tag that never fired
