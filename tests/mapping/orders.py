"""Fixed, realistic Shopify order and checkout bodies for the golden mapping cases (fake personal values only).

Shapes follow real orders/create and checkouts/update bodies: ids above 2^53, base64 and hex cart tokens,
money as decimal strings with `*_set` shop/presentment pairs, null product ids on custom items. They are
built with tests/factories.py, the tests' one builder of Shopify bodies: each call returns a fresh dict;
keyword overrides replace top-level keys.
"""

from __future__ import annotations

from typing import Any

from tests.factories import address, build, line_item, money

CART_TOKEN = "Z2NwLXVzLWVhc3QxOjAxSkJaTUVRSjgzNUJUN1BTNjEzRFdRUFFQ"
CHECKOUT_TOKEN = "84ad78572dae52a8cbea7d55371afe89"
ORDER_ID = 5778367414385001234  # above 2^53: a float would corrupt it
CUSTOMER_ID = 7358220173425
USER_AGENT = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36"
)
STAFF_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Edg/131.0"
EPIK = "dj0yJnU9SzRjVkVidXhZdTl6cGZnWE5RQlRxZyZuPU1ZVVhQb2NiR0lYdFBWTjJFZGJIZUEmbT0mdD1BQUFBQUdjdFdmZw"
DRAFT_STATUS_URL = "https://example-shop.myshopify.com/91740864812/orders/e542393137f36f37/authenticate?key=67c3"
STATUS_URL = "https://example-shop.myshopify.com/59026964593/orders/676613a0027fc8240e16d67fdc9f5ac8/authenticate?key=a70b"


def web_order(**overrides: Any) -> dict[str, Any]:
    """An online-store order with a customer, both addresses, browser details and an epik landing page."""
    base = {
        "id": ORDER_ID,
        "admin_graphql_api_id": f"gid://shopify/Order/{ORDER_ID}",
        "name": "#1017", "order_number": 1017, "number": 17,
        "token": "676613a0027fc8240e16d67fdc9f5ac8",
        "cart_token": CART_TOKEN, "checkout_token": CHECKOUT_TOKEN, "checkout_id": 35550298931313,
        "source_name": "web", "test": False, "confirmed": True,
        "created_at": "2024-11-05T21:54:50-05:00", "processed_at": "2024-11-05T21:54:49-05:00",
        "updated_at": "2024-11-05T21:54:51-05:00", "cancelled_at": None,
        "email": " Buyer@Example.com ", "contact_email": "buyer@example.com", "phone": None,
        "customer_locale": "en-US", "taxes_included": False,
        "currency": "USD", "presentment_currency": "USD",
        "subtotal_price": "649.90", "subtotal_price_set": money("649.90", "USD"),
        "total_price": "702.33", "total_price_set": money("702.33", "USD"),
        "total_tax": "42.43", "total_discounts": "0.00", "total_line_items_price": "649.90",
        "financial_status": "paid", "fulfillment_status": None, "discount_codes": [],
        "landing_site": f"/products/hydrogen?utm_source=pinterest&epik={EPIK}",
        "referring_site": "https://www.pinterest.com/",
        "order_status_url": STATUS_URL,
        "browser_ip": "203.0.113.54",
        "client_details": {
            "accept_language": "en-US,en;q=0.9", "browser_height": 920, "browser_width": 1680,
            "browser_ip": "203.0.113.54", "session_hash": None, "user_agent": USER_AGENT,
        },
        "note": None, "note_attributes": [], "tags": "",
        "customer": {
            "id": CUSTOMER_ID, "email": "buyer@example.com", "first_name": "Zoë", "last_name": "Example",
            "phone": None, "state": "enabled", "currency": "USD",
            "default_address": address(
                id=8715246862449, customer_id=CUSTOMER_ID, first_name="Sam", last_name="Example",
                city="Johnson City", province_code="TN", zip="37604", country_code="US", default=True),
        },
        "billing_address": address(
            first_name="Zoë", last_name="Example", phone="(201) 555-0123", city="Yuma Proving Ground",
            province="Arizona", province_code="AZ", zip="85365-1234", country="United States",
            country_code="US"),
        "shipping_address": address(
            first_name="Sam", last_name="Example", phone="+1 201-555-0123", city="Johnson City",
            province="Tennessee", province_code="TN", zip="37604", country="United States",
            country_code="US"),
        "line_items": [
            line_item(14234727743601, 7234590408817, 41327142600817, "SNOW-HYD", "600.00", 1,
                      "The Collection Snowboard: Hydrogen", "Hydrogen Vendor"),
            line_item(14234727743602, 7234590638193, 41327143059569, "", "24.95", 2,
                      "Wax Kit", "Pinbridge Supply"),
        ],
        "shipping_lines": [{"title": "Standard", "price": "10.00"}],
    }
    return build(base, overrides)


def guest_order(**overrides: Any) -> dict[str, Any]:
    """A guest checkout on the online store: no customer record, billing address only, no phone."""
    return web_order(**{
        "id": 5778367414386, "name": "#1018", "email": "guest@example.com", "contact_email": None,
        "customer": None, "shipping_address": None, "landing_site": "/",
        "cart_token": "088f00482e00dfb0628480ccde9afcdd",
        "checkout_token": "640ac4541c951dfd7641899c3102c0b1",
        "billing_address": address(
            first_name="Ólafur", last_name="Ørsted", city="Reykjavík", province_code=None, zip="101",
            country_code="IS"),
        **overrides,
    })


def draft_order(**overrides: Any) -> dict[str, Any]:
    """A draft order created by staff: no cart token, the staff browser in client_details, HKD."""
    base = web_order(
        id=6200360403244, name="#1070", source_name="shopify_draft_order", app_id=1354745,
        cart_token=None, checkout_token="213b73cfcfb647ab742d1b784d0f8ee1",
        processed_at="2025-01-23T22:16:37-05:00", created_at="2025-01-23T22:16:37-05:00",
        email="buyer@example.com", contact_email="buyer@example.com", landing_site=None,
        browser_ip="203.0.113.236",
        client_details={"browser_ip": "203.0.113.236", "user_agent": STAFF_AGENT, "accept_language": None},
        currency="HKD", presentment_currency="HKD",
        subtotal_price="284.00", subtotal_price_set=money("284.00", "HKD"),
        total_price="304.00", total_price_set=money("304.00", "HKD"),
        discount_codes=[{"code": "0124C", "amount": "15.00", "type": "fixed_amount"}],
        customer={"id": 8658316394796, "email": "buyer@example.com", "first_name": "Alex", "last_name": "",
                  "phone": None, "default_address": address(country_code="HK", phone="+1 555 0115 6855")},
        billing_address=address(first_name="Alex", last_name="", phone="+1 555 0115 6855",
                                 country_code="HK"),
        shipping_address=address(first_name="Alex", last_name="", phone="+1 555 0115 6855",
                                  country_code="HK"),
        order_status_url=DRAFT_STATUS_URL, customer_locale="zh-TW",
        line_items=[
            line_item(15518818468140, 9782123692332, 50398373085484, "", "99.00", 1, "測試商品", "Example Co",
                      currency="HKD"),
            line_item(15518818500908, 9797441945900, 50451770802476, "", "100.00", 2, "Green Snowboard",
                      "Example Co", currency="HKD"),
        ],
    )
    return build(base, overrides)


def draft_order_without_customer(**overrides: Any) -> dict[str, Any]:
    """A draft order with no customer and an empty email: only the staff browser is known."""
    return draft_order(**{
        "id": 6200407294252, "name": "#1071", "email": "", "contact_email": None, "customer": None,
        "billing_address": None, "shipping_address": None,
        "checkout_token": "ae0ed4e40b4fe3c339cc9be09ea0d41b",
        **overrides,
    })


def pos_order(**overrides: Any) -> dict[str, Any]:
    """A point-of-sale order: no tokens, a staff device, the buyer's email typed in for a receipt."""
    return web_order(**{
        "id": 6300000000001, "name": "#1101", "source_name": "pos", "location_id": 2369353187477,
        "cart_token": None, "checkout_token": None, "checkout_id": None, "landing_site": None,
        "referring_site": None, "client_details": None, "browser_ip": None, "order_status_url": None,
        "email": "buyer@example.com", "contact_email": None, "phone": "+44 20 7946 0000",
        "customer": {"id": 8800000000001, "email": "buyer@example.com", "first_name": "Maße",
                     "last_name": "Østergaard", "phone": "020 7946 0000"},
        "billing_address": address(first_name="Maße", last_name="Østergaard", phone="020 7946 0000",
                                    city="London", province_code="ENG", zip="SW1A 1AA", country_code="GB"),
        "shipping_address": None,
        "currency": "GBP", "presentment_currency": "GBP",
        "subtotal_price": "30.00", "subtotal_price_set": money("30.00", "GBP"),
        "total_price": "36.00", "total_price_set": money("36.00", "GBP"),
        "line_items": [line_item(16000000000001, 7000000000001, 4000000000001, "MUG-01", "15.00", 2,
                                 "Enamel Mug", "Pinbridge Supply", currency="GBP")],
        **overrides,
    })


def multi_currency_order(**overrides: Any) -> dict[str, Any]:
    """Shop currency AUD, buyer paid in USD: bare fields are AUD, presentment_money is USD."""
    return web_order(**{
        "id": 2998548365461, "name": "#1029",
        "cart_token": "75ea35352251e9eb2763191774ab3179",
        "checkout_token": "0b2d7460446787c61f6f2bec332d6127",
        "processed_at": "2020-12-27T08:18:45+11:00", "created_at": "2020-12-27T08:18:47+11:00",
        "landing_site": "/?_bt=eyJfcmFpbHMiOnsibWVzc2FnZSI6IkJBaEpJ--7ddc3637",
        "currency": "AUD", "presentment_currency": "USD",
        "subtotal_price": "45.62", "subtotal_price_set": money("45.62", "AUD", "34.67", "USD"),
        "total_price": "60.33", "total_price_set": money("60.33", "AUD", "45.85", "USD"),
        "customer": {"id": 4206822293653, "email": "buyer@example.com", "first_name": "Kim",
                     "last_name": "Tester", "phone": None},
        "billing_address": address(first_name="Kim", last_name="Tester", city="Canberra",
                                    province_code="ACT", zip="2601", country_code="AU",
                                    phone="02 5550 1234"),
        "shipping_address": address(first_name="Kim", last_name="Tester", city="Canberra",
                                     province_code="ACT", zip="2601", country_code="AU"),
        "line_items": [line_item(6456910643349, 6122640146581, 37319198802069, "", "45.62", 1,
                                 "Classic Fountain Pen", "Kaweco", currency="AUD",
                                 presentment_price="34.67", presentment_currency="USD")],
        **overrides,
    })


def discounted_order(**overrides: Any) -> dict[str, Any]:
    """A 20% discount code: subtotal is after the discount, line prices are before it."""
    lines = [line_item(14234727743700, 7234590408817, 41327142600817, "SNOW-HYD", "600.00", 1,
                       "The Collection Snowboard: Hydrogen", "Hydrogen Vendor")]
    lines[0]["total_discount"] = "120.00"
    lines[0]["discount_allocations"] = [{"amount": "120.00", "discount_application_index": 0}]
    return web_order(**{
        "id": 5778367414387, "name": "#1019", "landing_site": None,
        "note_attributes": [{"name": "_epik", "value": "epik-from-cart-attribute"}],
        "discount_codes": [{"code": "WINTER20", "amount": "120.00", "type": "percentage"}],
        "total_discounts": "120.00",
        "subtotal_price": "480.00", "subtotal_price_set": money("480.00", "USD"),
        "total_price": "518.40", "total_price_set": money("518.40", "USD"),
        "line_items": lines,
        **overrides,
    })


def custom_items_order(**overrides: Any) -> dict[str, Any]:
    """Custom line items without product or variant; one has a SKU, one has nothing but a title."""
    return web_order(**{
        "id": 5778367414388, "name": "#1020", "landing_site": None,
        "subtotal_price": "35.00", "subtotal_price_set": money("35.00", "USD"),
        "total_price": "35.00", "total_price_set": money("35.00", "USD"),
        "line_items": [
            line_item(14234727743800, None, None, "GIFT-WRAP", "5.00", 1, "Gift wrapping", None),
            line_item(14234727743801, None, None, "", "30.00", 1, "Custom engraving", ""),
        ],
        **overrides,
    })


def empty_order() -> dict[str, Any]:
    """Every field present but null or empty."""
    return {key: None for key in web_order()} | {
        "line_items": [], "note_attributes": [], "discount_codes": [], "email": "", "phone": "",
        "cart_token": "", "name": "", "source_name": "",
    }


def merchant_test_order(**overrides: Any) -> dict[str, Any]:
    """A merchant's test order (Bogus gateway): `test: true`."""
    return web_order(**{
        "id": 5778367414389, "name": "#1021", "test": True, "gateway": "bogus",
        "cart_token": "0b5a4f1c2d3e4f5a6b7c8d9e0f1a2b3c",
        "checkout_token": "1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f",
        **overrides,
    })


def notification_order(**overrides: Any) -> dict[str, Any]:
    """Like Shopify's "Send test notification" body: no tokens, no client_details, an id above 2^53."""
    return web_order(**{
        "id": 820982911946154508, "name": "#9999", "test": True,
        "cart_token": None, "checkout_token": None, "checkout_id": None,
        "client_details": None, "browser_ip": None, "landing_site": None,
        "processed_at": "2025-04-03T08:42:11+02:00", "created_at": "2025-04-03T08:42:11+02:00",
        "email": "buyer@example.com", "contact_email": "jon@example.com",
        "currency": "EUR", "presentment_currency": "EUR",
        "subtotal_price": "159.00", "subtotal_price_set": money("159.00", "EUR"),
        "total_price": "159.00", "total_price_set": money("159.00", "EUR"),
        "customer": {"id": 115310627314723950, "email": "buyer@example.com", "first_name": "Jordan",
                     "last_name": "Sample", "phone": None},
        "customer_locale": "nl",
        # As in Shopify's own test notification: a country name but no codes, and a number that is no
        # real phone number anywhere.
        "billing_address": address(first_name="Jordan", last_name="Sample", phone="+1 555 0187 9177",
                                    city="Doorn", zip="3941 LG", province="Utrecht", country="Nederland",
                                    country_code=None, province_code=None),
        "shipping_address": None,
        "line_items": [line_item(866550311766439012, 8142655586607, 48539281359172, "8721042355331", "159.00",
                                 1, "Dune muurverf", None, currency="EUR")],
        **overrides,
    })


def checkout(**overrides: Any) -> dict[str, Any]:
    """A checkouts/update body for the same purchase as web_order(); open until completed_at is set."""
    base = {
        "id": 35550298931313, "token": CHECKOUT_TOKEN, "cart_token": CART_TOKEN, "name": "#35550298931313",
        "source_name": "web", "created_at": "2024-11-05T21:50:00-05:00",
        "updated_at": "2024-11-05T21:54:49-05:00",
        "completed_at": None, "closed_at": None,
        "email": "buyer@example.com", "phone": None, "currency": "USD", "presentment_currency": "USD",
        "customer_locale": "en-US", "taxes_included": False, "sms_marketing_phone": None,
        "subtotal_price": "649.90", "total_price": "702.33", "total_tax": "42.43", "total_discounts": "0.00",
        "landing_site": f"/products/hydrogen?epik={EPIK}", "referring_site": "https://www.pinterest.com/",
        "abandoned_checkout_url": "https://example-shop.myshopify.com/checkouts/ac/abc/recover?key=def",
        "note_attributes": [], "discount_codes": [], "buyer_accepts_marketing": False,
        "customer": {"id": CUSTOMER_ID, "email": "buyer@example.com", "first_name": "Zoë",
                     "last_name": "Example", "phone": None},
        "billing_address": address(first_name="Zoë", last_name="Example", phone="(201) 555-0123",
                                    city="Yuma Proving Ground", province_code="AZ", zip="85365-1234",
                                    country_code="US"),
        "shipping_address": [],  # seen in real bodies: an empty array instead of null
        "line_items": [
            {"key": "41327142600817", "product_id": 7234590408817, "variant_id": 41327142600817,
             "sku": "SNOW-HYD", "title": "The Collection Snowboard: Hydrogen", "presentment_title":
             "The Collection Snowboard: Hydrogen", "vendor": "Hydrogen Vendor", "quantity": 1,
             "price": "600.00", "variant_price": "600.00", "line_price": "600.00"},
            {"key": "41327143059569", "product_id": 7234590638193, "variant_id": 41327143059569,
             "sku": "", "title": "Wax Kit", "vendor": "Pinbridge Supply", "quantity": 2,
             "price": "24.95", "variant_price": "24.95", "line_price": "49.90"},
        ],
    }
    return build(base, overrides)


def completed_checkout(**overrides: Any) -> dict[str, Any]:
    """The same checkout once paid: completed_at set, one second before the order's processed_at."""
    return checkout(**{"completed_at": "2024-11-05T21:54:48-05:00", **overrides})


def _tax_line(amount: str, currency: str = "USD", rate: float = 0.06) -> dict[str, Any]:
    return {"title": "State tax", "rate": rate, "price": amount, "price_set": money(amount, currency),
            "channel_liable": False}


def documented_order(**overrides: Any) -> dict[str, Any]:
    """Shaped like Shopify's documented orders/create example: browser_ip "0.0.0.0", tax lines on the
    line items and the shipping line, a customer with a default address (values fake)."""
    lines = [line_item(14234727743900, 632910392, 808950810, "IPOD2008PINK", "199.00", 1, "IPod Nano - 8GB",
                       "Apple")]
    lines[0]["tax_lines"] = [_tax_line("11.94")]
    return web_order(**{
        "id": 450789469, "name": "#9999", "browser_ip": "0.0.0.0",
        "client_details": {"browser_ip": "0.0.0.0", "user_agent": USER_AGENT, "accept_language": None},
        "customer_locale": "en", "taxes_included": False,
        "subtotal_price": "199.00", "subtotal_price_set": money("199.00", "USD"),
        "total_price": "221.94", "total_price_set": money("221.94", "USD"),
        "total_tax": "11.94", "total_tax_set": money("11.94", "USD"),
        "shipping_lines": [{"title": "Generic Shipping", "price": "10.00", "price_set": money("10.00", "USD"),
                            "tax_lines": []}],
        "line_items": lines,
        **overrides,
    })


def tax_inclusive_order(**overrides: Any) -> dict[str, Any]:
    """A UK shop showing prices with 20% VAT: subtotal 120.00 holds 20.00 VAT; shipping 6.00 holds 1.00."""
    lines = [line_item(16000000000101, 7000000000101, 4000000000101, "TEA-01", "120.00", 1, "Tea Set",
                       "Pinbridge Supply", currency="GBP")]
    lines[0]["tax_lines"] = [_tax_line("20.00", "GBP", 0.2)]
    return web_order(**{
        "id": 6300000000101, "name": "#1201", "currency": "GBP", "presentment_currency": "GBP",
        "taxes_included": True, "customer_locale": "en-GB",
        "subtotal_price": "120.00", "subtotal_price_set": money("120.00", "GBP"),
        "total_price": "126.00", "total_price_set": money("126.00", "GBP"),
        "total_tax": "21.00", "total_tax_set": money("21.00", "GBP"),
        "shipping_lines": [{"title": "Royal Mail", "price": "6.00", "price_set": money("6.00", "GBP"),
                            "tax_lines": [_tax_line("1.00", "GBP", 0.2)]}],
        "billing_address": address(first_name="Maße", last_name="Østergaard", phone="020 7946 0958",
                                    city="London", province_code="ENG", zip="SW1A 1AA", country_code="GB"),
        "shipping_address": None,
        "line_items": lines,
        **overrides,
    })


def tip_order(**overrides: Any) -> dict[str, Any]:
    """An online-store order of 649.90 with a 5.00 tip, which Shopify lists among the line items."""
    tip = line_item(14234727743650, None, None, None, "5.00", 1, "Tip", None)
    tip.update(requires_shipping=False, taxable=False)
    base = web_order()
    return web_order(**{
        "total_tip_received": "5.00",
        "total_price": "707.33", "total_price_set": money("707.33", "USD"),
        "line_items": [*base["line_items"], tip],
        **overrides,
    })


def duties_order(*, included: bool, **overrides: Any) -> dict[str, Any]:
    """A US shop selling to Canada: 100.00 of goods and 10.00 of import duties, charged on top or inside prices."""
    goods = "110.00" if included else "100.00"
    line = line_item(14234727743660, 7234590408860, 41327142600860, "BOOT-01", goods, 1, "Hiking Boot",
                     "Pinbridge Supply")
    line["duties"] = [{"id": "2", "harmonized_system_code": "640399", "country_code_of_origin": "US",
                       "shop_money": {"amount": "10.00", "currency_code": "USD"},
                       "presentment_money": {"amount": "13.70", "currency_code": "CAD"}, "tax_lines": []}]
    return web_order(**{
        "duties_included": included,
        "subtotal_price": goods, "subtotal_price_set": money(goods, "USD"),
        "total_price": "120.00", "total_price_set": money("120.00", "USD"),
        "original_total_duties_set": money("10.00", "USD", "13.70", "CAD"),
        "current_total_duties_set": money("10.00", "USD", "13.70", "CAD"),
        "line_items": [line],
        **overrides,
    })


def gift_card_order(**overrides: Any) -> dict[str, Any]:
    """A 50.00 gift card bought with 24.95 of goods; the goods paid partly with another gift card."""
    card = line_item(14234727743670, 7234590408870, 41327142600870, "", "50.00", 1, "Gift Card", "Pinbridge")
    card.update(gift_card=True, requires_shipping=False, taxable=False)
    wax = line_item(14234727743671, 7234590638193, 41327143059569, "", "24.95", 1, "Wax Kit", "Pinbridge Supply")
    return web_order(**{
        "subtotal_price": "74.95", "subtotal_price_set": money("74.95", "USD"),
        "total_price": "74.95", "total_price_set": money("74.95", "USD"),
        "payment_gateway_names": ["gift_card", "shopify_payments"],
        "total_outstanding": "0.00",
        "line_items": [card, wax],
        **overrides,
    })
