"""The proof: the real pixels against the server, for every web order shape, event id source and beacon case.

For each online-store order shape, each page a buyer may finish on (Shopify's current checkout with the cart
token in the thank-you address; the older checkout with the cart exposed in `init.data.cart`; the older
checkout without it), each event id source, and the beacon absent or first from the custom pixel or from the
app pixel, the served custom pixel is run in Node (tests/js/run_pixel.js) and the app pixel's real source
(tests/js/run_extension.js). The Tag's `checkout` is compared with the server's event for the same order: its
event_id after the worker's join (app/beacons.py adopts the beacon's id for a purchase not sent yet), and
with default settings its currency and value (within 0.01).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from app import outbox
from app.beacons import adopted_id
from app.mapping import MappingOptions, map_order
from app.mapping.types import EVENT_ID_SOURCES
from app.merchant.pixel import snippet
from app.models import PinterestSettings
from app.settings import mapping_options
from tests.factories import line_item, money
from tests.mapping import orders
from tests.merchant.test_pixel import NODE, pixel_inputs, pixel_money, run_pixel, tag_checkout
from tests.test_pixel_extension import app_beacons, case

pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is required to run the pixels")

HEX = re.compile(r"^[0-9a-f]{32}$")
TAG_ID = "2612345678901"


def _tax(shop: str, currency: str, presentment: str, presentment_currency: str, rate: float) -> dict[str, Any]:
    return {"title": "Tax", "rate": rate, "price": shop,
            "price_set": money(shop, currency, presentment, presentment_currency), "channel_liable": False}


def aud_shop_usd_buyer() -> dict[str, Any]:
    """Shop in AUD, buyer paying USD, tax on top, shipping: every amount in both currencies."""
    line = line_item(6456910643349, 6122640146581, 37319198802069, "PEN-1", "45.62", 1, "Fountain Pen", "Kaweco",
                     currency="AUD", presentment_price="34.67", presentment_currency="USD")
    line["tax_lines"] = [_tax("4.56", "AUD", "3.47", "USD", 0.1)]
    return orders.multi_currency_order(
        id=2998548365462, cart_token="75ea35352251e9eb2763191774ab3180",
        checkout_token="0b2d7460446787c61f6f2bec332d6128",
        total_tax="4.56", total_tax_set=money("4.56", "AUD", "3.47", "USD"),
        shipping_lines=[{"title": "Standard", "price": "10.00", "price_set": money("10.00", "AUD", "7.60", "USD"),
                         "tax_lines": []}],
        total_price="60.18", total_price_set=money("60.18", "AUD", "45.74", "USD"), line_items=[line])


def eur_shop_gbp_buyer_vat_included() -> dict[str, Any]:
    """Shop in EUR showing prices with 20% VAT, buyer paying GBP, a discount and shipping (VAT in both)."""
    line = line_item(16000000000201, 7000000000201, 4000000000201, "TEA-02", "125.00", 1, "Tea Chest", "Supply",
                     currency="EUR", presentment_price="107.50", presentment_currency="GBP")
    line["total_discount"] = "25.00"
    line["discount_allocations"] = [{"amount": "25.00", "discount_application_index": 0}]
    line["tax_lines"] = [_tax("16.67", "EUR", "14.33", "GBP", 0.2)]
    return orders.tax_inclusive_order(
        id=6300000000201, cart_token="Z2NwLWV1LXdlc3QxOjAxSkJaVEVBQ0hFU1RWQVRJTkNMVURFRA",
        checkout_token="9f8e7d6c5b4a39281706f5e4d3c2b1a0", currency="EUR", presentment_currency="GBP",
        discount_codes=[{"code": "TEA20", "amount": "25.00", "type": "percentage"}], total_discounts="25.00",
        subtotal_price="100.00", subtotal_price_set=money("100.00", "EUR", "86.00", "GBP"),
        total_tax="17.67", total_tax_set=money("17.67", "EUR", "15.19", "GBP"),
        shipping_lines=[{"title": "Courier", "price": "6.00", "price_set": money("6.00", "EUR", "5.16", "GBP"),
                         "tax_lines": [_tax("1.00", "EUR", "0.86", "GBP", 0.2)]}],
        total_price="106.00", total_price_set=money("106.00", "EUR", "91.16", "GBP"), line_items=[line])


# Every online-store order shape the fixtures know, plus both currencies on every amount.
SHAPES: dict[str, dict[str, Any]] = {
    "web, base64 cart token": orders.web_order(),
    "guest": orders.guest_order(),
    "discounted": orders.discounted_order(),
    "custom items": orders.custom_items_order(),
    "presentment currency, hex cart token": orders.multi_currency_order(),
    "documented example: tax lines, shipping": orders.documented_order(),
    "prices include tax, shipping": orders.tax_inclusive_order(),
    "AUD shop, USD buyer, shipping, tax on top": aud_shop_usd_buyer(),
    "EUR shop, GBP buyer, VAT included, discount, shipping": eur_shop_gbp_buyer_vat_included(),
    "hex cart token": orders.web_order(cart_token="5e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b"),
    "no cart token": orders.web_order(cart_token=None),
    "empty cart token": orders.web_order(cart_token=""),
    "no cart or checkout token": orders.web_order(cart_token=None, checkout_token=None),
    "test notification, no tokens": orders.notification_order(),
}


def pages(order: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any] | None]]:
    """The thank-you pages this order can end on: (address, init.data.cart)."""
    cart, token = order.get("cart_token"), order.get("checkout_token") or "x"
    older = f"https://shop.example/59026964593/checkouts/{token}/thank_you"
    if cart and not HEX.match(cart):
        return {"current checkout": (f"https://shop.example/checkouts/cn/{cart}/en-us/thank-you", None)}
    if cart:
        return {"older checkout, cart exposed": (older, {"id": f"gid://shopify/Cart/{cart}?key=0f0f"}),
                "older checkout, cart not exposed": (older, None)}
    return {"no cart token": (older, None)}


def checkout_completed(order: dict[str, Any], href: str, cart: dict[str, Any] | None) -> tuple[dict[str, Any], ...]:
    """`init` and the event Shopify gives a pixel: every amount in the buyer's money, as the checkout has it.

    The checkout's total is Shopify's sum of its parts (subtotal after discounts, shipping, and the tax
    unless prices include it): a few fixtures state totals that are not (they pin other rules), and a tax
    in the shop's money only is left out of the buyer's.
    """
    shipping = sum(float(((line.get("price_set") or {}).get("presentment_money") or {}).get("amount")
                         or line.get("price") or 0) for line in order.get("shipping_lines") or [])
    foreign = order.get("currency") != order.get("presentment_currency")
    tax = pixel_money(order, "total_tax") if order.get("total_tax_set") or not foreign else None
    subtotal = pixel_money(order, "subtotal_price")
    total = None
    if subtotal is not None:
        on_top = 0.0 if order.get("taxes_included") else (tax or {}).get("amount", 0.0)
        total = {"amount": round(subtotal["amount"] + shipping + on_top, 2), "currencyCode": subtotal["currencyCode"]}
    checkout = {
        "token": order.get("checkout_token"),
        "order": {"id": str(order["id"])},
        "email": order.get("email") or None,
        "currencyCode": order.get("presentment_currency"),
        "subtotalPrice": subtotal,
        "totalPrice": total,
        "totalTax": tax or {"amount": 0.0},
        "shippingLine": {"price": {"amount": round(shipping, 2)}},
        "lineItems": [{"quantity": line["quantity"]} for line in order.get("line_items") or []],
    }
    return pixel_inputs(checkout, href, cart)


def server_event_id(order: dict[str, Any], source: str, beacon_event_id: str | None) -> str | None:
    """The event_id Pinbridge sends: the mapping's, or the first beacon's when the worker adopts it."""
    mapped = map_order(order, MappingOptions(event_id_source=source))
    assert mapped.event is not None and mapped.event_id is not None
    claimed = outbox.Claimed(1, 1, mapped.event_id, mapped.event, False, 1, datetime.now(UTC))
    adopted = adopted_id(claimed, beacon_event_id, checkout_token=mapped.checkout_token, order_id=mapped.order_id,
                         taken=False)
    return adopted or mapped.event_id


def test_the_tag_and_the_server_agree_for_every_shape_source_and_beacon() -> None:
    counts: Counter[tuple[str, bool]] = Counter()
    differ_without_beacon: list[str] = []
    cases, expectations = [], []
    for name, order in SHAPES.items():
        for page, (href, cart) in pages(order).items():
            init, event = checkout_completed(order, href, cart)
            for source in EVENT_ID_SOURCES:
                code = snippet(source, tag_id=TAG_ID, app_url="https://app.example", shop="demo.myshopify.com")
                output = run_pixel(code, init, [{"name": "checkout_completed", "event": event}])
                tag = tag_checkout(output)
                custom_beacon = output["beacons"][0]["body"] if output["beacons"] else None
                cases.append(case(init, event, source=source))
                expectations.append((f"{name} / {page} / {source}", order, source, tag, custom_beacon))
    app_results = app_beacons(cases)
    for (label, order, source, tag, custom_beacon), app_sent in zip(expectations, app_results, strict=True):
        app_beacon = app_sent[0]["body"] if app_sent else None
        assert (custom_beacon is None) == (app_beacon is None), label
        # Without a beacon the shared chain alone decides; with one (from either pixel, whichever came first)
        # the server goes with the id the Tag fired with.
        plain = server_event_id(order, source, None)
        counts[("without beacon", tag["event_id"] == plain)] += 1
        if tag["event_id"] != plain:
            differ_without_beacon.append(label)
        for via, beacon in (("custom pixel's beacon", custom_beacon), ("app pixel's beacon", app_beacon)):
            if beacon is None:
                continue  # no checkout token: nothing to join, and the chain already agrees
            assert beacon["event_id"] == tag["event_id"], label
            assert server_event_id(order, source, beacon["event_id"]) == tag["event_id"], f"{label} / {via}"
            counts[(via, True)] += 1
        if custom_beacon is None:
            assert tag["event_id"] == plain, label
    # Only where the browser cannot read the cart token does the chain alone disagree; the beacon mends it.
    assert differ_without_beacon == [
        f"{name} / older checkout, cart not exposed / cart_token"
        for name, order in SHAPES.items() if "older checkout, cart not exposed" in pages(order)
    ]
    total = len(expectations)
    assert counts[("without beacon", True)] + counts[("without beacon", False)] == total == 54
    assert counts[("without beacon", False)] == 4  # the four shapes with a hex cart token, on that page
    assert counts[("custom pixel's beacon", True)] == counts[("app pixel's beacon", True)] == total - 6


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_with_default_settings_the_tag_and_the_server_send_the_same_money(name: str) -> None:
    order = SHAPES[name]
    settings = PinterestSettings(event_id_source="cart_token", content_id_source="product_id",
                                 value_mode="subtotal", limited_data_processing=False,
                                 send_pos="skip", send_draft="skip", send_subscription="skip",
                                 send_other_channels="web")
    # The defaults of a new shop, as the model gives them (not restated here).
    settings.currency_mode = PinterestSettings.__table__.c.currency_mode.default.arg  # type: ignore[attr-defined]
    server = map_order(order, mapping_options(settings)).event
    assert server is not None
    for href, cart in pages(order).values():
        init, event = checkout_completed(order, href, cart)
        tag = tag_checkout(run_pixel(snippet(tag_id=TAG_ID), init, [{"name": "checkout_completed", "event": event}]))
        assert tag["currency"] == server["custom_data"]["currency"], name
        if "value" not in server["custom_data"]:
            continue
        assert abs(Decimal(str(tag["value"])) - Decimal(server["custom_data"]["value"])) <= Decimal("0.01"), name
