"""Value, currency, content ids and contents of `custom_data`, as tables."""

from __future__ import annotations

from typing import Any

import pytest

from app.mapping import MappingOptions, map_checkout, map_order
from app.mapping.commerce import currency, custom_data, money, quantity
from tests.factories import money as money_set

from . import orders
from .helpers import schema_errors

BIG = 2**53 + 1


@pytest.mark.parametrize(("raw", "expected"), [
    ("45.62", "45.62"),                  # Shopify's decimal string, unchanged
    (" 12.50 ", "12.50"),                # trimmed; trailing zero kept
    ("0.00", "0.00"),                    # free order
    ("-0.00", "0.00"),                   # negative zero normalised
    ("1e3", "1000"),                     # exponent written out, never "1E+3"
    ("123456789012.34", "123456789012.34"),  # no float rounding
    ("0045.60", "45.60"),                # leading zeros dropped, as the decimal reads
    ("999999999999999.99", "999999999999999.99"),  # the largest 15 digits before the point
    ("1000000000000000", None),          # 10**15 written out: beyond any order total
    ("+5.00", "5.00"),                   # an explicit plus sign
    ("5.", "5"),                         # a point with no decimals
    (".5", "0.5"),                       # decimals with no units
    ("1.00000000001", None),             # eleven decimals: more precision than money has
    (45, "45"),                          # integer amount (reconciled data)
    (45.62, "45.62"),                    # float amount: its shortest text, not 45.6199999...
    ("-1.00", None),                     # negative: not a purchase value
    ("NaN", None),                       # not finite
    ("Infinity", None),                  # not finite
    (float("inf"), None),                # not finite
    ("1e-999999", None),                 # absurd precision: would print a million digits
    ("0.0000000001", "0.0000000001"),    # ten decimals still accepted
    ("1e15", None),                      # beyond any order total
    ("abc", None),                       # not a number
    ("", None),                          # empty
    (True, None),                        # boolean
    ({"amount": "1.00"}, None),          # object
])
def test_money(raw: Any, expected: str | None) -> None:
    assert money(raw) == expected


def _money_by_decimal(raw: str) -> str | None:
    """What `money` answers for text, read through Decimal every time (its fast path must agree)."""
    from decimal import Decimal, InvalidOperation
    try:
        amount = Decimal(raw.strip())
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0 or amount >= 10**15 or int(amount.as_tuple().exponent) < -10:
        return None
    return format(abs(amount), "f")


def test_money_plain_text_reads_as_its_decimal() -> None:
    import random
    rng = random.Random(7)
    digits = "0123456789"
    samples = ["0", "0.0", "00", "0.00000000001", "1" * 15, "1" * 16, "9" * 15 + "." + "9" * 10]
    for _ in range(5000):
        units = "".join(rng.choice(digits) for _ in range(rng.randint(1, 17)))
        decimals = "".join(rng.choice(digits) for _ in range(rng.randint(0, 12)))
        samples.append(units + ("." + decimals if decimals or rng.random() < 0.1 else ""))
    for raw in samples:
        assert money(raw) == _money_by_decimal(raw), raw


@pytest.mark.parametrize(("raw", "expected"), [
    ("USD", "USD"), ("aud", "AUD"), (" eur ", "EUR"),       # ISO-4217, upper-cased
    ("US", None), ("DOLLAR", None), (None, None), (840, None),  # not a three-letter code
])
def test_currency(raw: Any, expected: str | None) -> None:
    assert currency(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    (2, 2), ("3", 3), (0, 0), (-1, None), (True, None), (1.5, None), ("two", None), (None, None),
])
def test_quantity(raw: Any, expected: int | None) -> None:
    assert quantity(raw) == expected


@pytest.mark.parametrize(("value_mode", "currency_mode", "value", "currency_code", "item_price"), [
    ("subtotal", "shop", "45.62", "AUD", "45.62"),         # default: shop money, after discounts
    ("subtotal", "presentment", "34.67", "USD", "34.67"),  # buyer's currency
    ("total", "shop", "60.33", "AUD", "45.62"),            # with shipping and tax
    ("total", "presentment", "45.85", "USD", "34.67"),     # with shipping and tax, buyer's currency
])
def test_value_and_currency_for_every_mode(value_mode: str, currency_mode: str, value: str,
                                           currency_code: str, item_price: str) -> None:
    options = MappingOptions(value_mode=value_mode, currency_mode=currency_mode)
    mapped = map_order(orders.multi_currency_order(), options)
    assert (mapped.value, mapped.currency) == (value, currency_code)
    assert mapped.event is not None
    data = mapped.event["custom_data"]
    assert (data["value"], data["currency"]) == (value, currency_code)
    assert data["contents"][0]["item_price"] == item_price


@pytest.mark.parametrize(("body", "currency_mode", "value", "currency_code"), [
    # No *_set at all (old API versions): presentment falls back to the shop money pair.
    ({"currency": "AUD", "presentment_currency": "USD", "subtotal_price": "45.62"},
     "presentment", "45.62", "AUD"),
    # Reconciled from GraphQL: only *_set, no bare field.
    ({"currency": "AUD", "subtotal_price_set": {"shop_money": {"amount": "45.62", "currency_code": "AUD"}}},
     "shop", "45.62", "AUD"),
    # presentment_money without its currency code: presentment_currency names it.
    ({"currency": "AUD", "presentment_currency": "USD",
      "subtotal_price_set": {"presentment_money": {"amount": "34.67"}}}, "presentment", "34.67", "USD"),
    # Junk money: no value, the currency of the chosen mode is still sent.
    ({"currency": "AUD", "presentment_currency": "USD", "subtotal_price": "n/a"}, "presentment", None, "USD"),
    ({"currency": "AUD", "subtotal_price": ["45.62"]}, "shop", None, "AUD"),
    ({"subtotal_price": "45.62"}, "shop", "45.62", None),  # no currency known: Pinterest uses the account's
])
def test_money_fallbacks(body: dict[str, Any], currency_mode: str, value: str | None,
                         currency_code: str | None) -> None:
    data = custom_data(body, MappingOptions(currency_mode=currency_mode), checkout=False, order_id=None)
    assert data.get("value") == value
    assert data.get("currency") == currency_code


@pytest.mark.parametrize(("currency_mode", "expected"), [
    ("shop", ("34.67", "USD")),          # checkout amounts are presentment money: paired with USD, not AUD
    ("presentment", ("34.67", "USD")),
])
def test_checkout_money_is_presentment_money(currency_mode: str, expected: tuple[str, str]) -> None:
    body = orders.completed_checkout(currency="AUD", presentment_currency="USD", subtotal_price="34.67")
    mapped = map_checkout(body, MappingOptions(currency_mode=currency_mode))
    assert (mapped.value, mapped.currency) == expected


@pytest.mark.parametrize(("currency_mode", "expected"), [
    ("shop", ("45.62", "AUD")),          # the checkout names shop money too: the shop's currency, as README says
    ("presentment", ("34.67", "USD")),
])
def test_checkout_with_shop_money_sets_follows_currency_mode(currency_mode: str, expected: tuple[str, str]) -> None:
    body = orders.completed_checkout(currency="AUD", presentment_currency="USD", subtotal_price="34.67",
                                     subtotal_price_set=money_set("45.62", "AUD", "34.67", "USD"))
    mapped = map_checkout(body, MappingOptions(currency_mode=currency_mode))
    assert (mapped.value, mapped.currency) == expected


def test_line_price_in_another_currency_is_left_out() -> None:
    order = orders.multi_currency_order()
    del order["line_items"][0]["price_set"]  # only the shop (AUD) price is known
    mapped = map_order(order, MappingOptions(currency_mode="presentment"))
    assert mapped.event is not None
    assert mapped.currency == "USD"
    assert "item_price" not in mapped.event["custom_data"]["contents"][0]


@pytest.mark.parametrize(("source", "product_id", "variant_id", "sku", "expected"), [
    ("product_id", 111, 222, "SKU-1", "111"),        # configured source
    ("product_id", None, 222, "SKU-1", "222"),       # bundle component: -> variant
    ("product_id", None, None, "SKU-1", "SKU-1"),    # custom item with SKU: -> sku
    ("product_id", None, None, "", None),            # custom item, empty SKU: no id
    ("product_id", None, None, None, None),          # nothing
    ("variant_id", 111, 222, "SKU-1", "222"),        # configured source
    ("variant_id", 111, None, "SKU-1", "111"),       # null variant (2026 sample): -> product
    ("variant_id", None, None, "SKU-1", "SKU-1"),    # -> sku
    ("sku", 111, 222, "SKU-1", "SKU-1"),             # configured source
    ("sku", 111, 222, "", "111"),                    # empty SKU (common): -> product
    ("sku", None, 222, "   ", "222"),                # blank SKU: -> variant
    ("product_id", BIG, 222, "", str(BIG)),          # above 2^53, exact
    ("product_id", str(BIG), 222, "", str(BIG)),     # as a digit string
    ("product_id", float(BIG), 222, "", "222"),      # a float id is refused
    ("product_id", "gid://shopify/Product/111", None, "", "111"),  # reconciled GraphQL id
    ("bogus", 111, 222, "SKU-1", "111"),             # unknown setting: default chain
])
def test_content_id_source(source: str, product_id: Any, variant_id: Any, sku: Any,
                           expected: str | None) -> None:
    line = {"product_id": product_id, "variant_id": variant_id, "sku": sku, "price": "5.00", "quantity": 1}
    body = {"currency": "USD", "subtotal_price": "5.00", "line_items": [line]}
    data = custom_data(body, MappingOptions(content_id_source=source), checkout=False, order_id=None)
    assert data.get("content_ids") == ([expected] if expected else None)
    assert data["contents"][0].get("id") == expected
    assert "None" not in repr(data)


def test_content_ids_are_distinct_and_num_items_sums_quantities() -> None:
    lines = [
        {"product_id": 1, "quantity": 2, "price": "1.00"},
        {"product_id": 1, "quantity": 3, "price": "1.00"},    # same product twice (two variants)
        {"product_id": 2, "quantity": "4", "price": "1.00"},  # digit-string quantity
        {"product_id": 3, "quantity": -1, "price": "1.00"},   # junk quantity: not counted, key left out
        "junk line",                                          # not an object: ignored
    ]
    data = custom_data({"line_items": lines}, MappingOptions(), checkout=False, order_id="9")
    assert data["content_ids"] == ["1", "2", "3"]
    assert data["num_items"] == 9
    assert data["contents"][3] == {"id": "3", "item_price": "1.00"}
    assert data["order_id"] == "9"


@pytest.mark.parametrize(("line", "expected"), [
    ({"title": "Wax Kit", "vendor": "Pinbridge Supply", "quantity": 1, "price": "2.00"},
     {"item_name": "Wax Kit", "item_brand": "Pinbridge Supply", "quantity": 1, "item_price": "2.00"}),
    ({"title": None, "name": "Wax Kit - Large", "vendor": "", "quantity": 1},   # name when no title; "" brand
     {"item_name": "Wax Kit - Large", "quantity": 1}),
    ({"presentment_title": "Wax Kit", "price": None, "variant_price": "2.00"},  # checkout line
     {"item_name": "Wax Kit"}),
    ({"title": 7, "vendor": ["x"], "quantity": None, "price": "free"}, None),  # all junk: entry left out
])
def test_contents_leave_out_missing_keys(line: dict[str, Any], expected: dict[str, Any] | None) -> None:
    data = custom_data({"line_items": [line]}, MappingOptions(), checkout=False, order_id=None)
    assert data.get("contents") == ([expected] if expected else None)


def test_checkout_line_uses_variant_price_when_price_missing() -> None:
    body = {"presentment_currency": "USD", "line_items": [{"product_id": 1, "variant_price": "2.50"}]}
    data = custom_data(body, MappingOptions(), checkout=True, order_id=None)
    assert data["contents"] == [{"id": "1", "item_price": "2.50"}]


@pytest.mark.parametrize(("ldp", "expected"), [(True, "LDP"), (False, None)])
def test_limited_data_processing(ldp: bool, expected: str | None) -> None:
    data = custom_data(orders.web_order(), MappingOptions(limited_data_processing=ldp), checkout=False,
                       order_id="1")
    assert data.get("opt_out_type") == expected


def test_no_line_items_leaves_out_item_keys() -> None:
    data = custom_data({"currency": "USD", "subtotal_price": "1.00", "line_items": []}, MappingOptions(),
                       checkout=False, order_id=None)
    assert data == {"currency": "USD", "value": "1.00"}


def _tax(amount: str, presentment: str | None = None, code: str = "GBP", p_code: str | None = None) -> dict:
    return {"title": "VAT", "rate": 0.2, "price": amount, "price_set": {
        "shop_money": {"amount": amount, "currency_code": code},
        "presentment_money": {"amount": presentment or amount, "currency_code": p_code or code}}}


def _gb_order(**overrides: Any) -> dict[str, Any]:
    """A UK shop showing prices with 20% VAT: subtotal 120.00 includes 20.00 tax; shipping 6.00 incl. 1.00."""
    line = {"product_id": 1, "quantity": 1, "price": "120.00", "tax_lines": [_tax("20.00", "23.00", "GBP", "EUR")]}
    body = {"currency": "GBP", "presentment_currency": "EUR", "taxes_included": True,
            "subtotal_price": "120.00",
            "subtotal_price_set": {"shop_money": {"amount": "120.00", "currency_code": "GBP"},
                                   "presentment_money": {"amount": "138.00", "currency_code": "EUR"}},
            "total_price": "126.00", "total_tax": "21.00",
            "total_tax_set": {"shop_money": {"amount": "21.00", "currency_code": "GBP"},
                              "presentment_money": {"amount": "24.15", "currency_code": "EUR"}},
            "shipping_lines": [{"price": "6.00", "tax_lines": [_tax("1.00", "1.15", "GBP", "EUR")]}],
            "line_items": [line]}
    body.update(overrides)
    return body


@pytest.mark.parametrize(("body", "options", "expected"), [
    # GB, tax-inclusive: 120.00 - 20.00 line VAT (was "120.00").
    (_gb_order(), MappingOptions(), "100.00"),
    # The same in the buyer's money: 138.00 - 23.00.
    (_gb_order(), MappingOptions(currency_mode="presentment"), "115.00"),
    # No line tax lines: total_tax 21.00 minus shipping VAT 1.00.
    (_gb_order(line_items=[{"product_id": 1, "quantity": 1, "price": "120.00"}]), MappingOptions(), "100.00"),
    # ...in presentment money: 24.15 - 1.15.
    (_gb_order(line_items=[{"product_id": 1, "quantity": 1, "price": "120.00"}]),
     MappingOptions(currency_mode="presentment"), "115.00"),
    # Two lines, a discount already in the subtotal: 99.99 - (8.33 + 8.34), exact decimals.
    (_gb_order(subtotal_price="99.99", subtotal_price_set=None, line_items=[
        {"product_id": 1, "price": "60.00", "tax_lines": [_tax("8.33")]},
        {"product_id": 2, "price": "60.00", "tax_lines": [_tax("8.34")]}]), MappingOptions(), "83.32"),
    # Tax-exclusive shop (US): the subtotal is already before tax.
    (_gb_order(taxes_included=False), MappingOptions(), "120.00"),
    # "total" mode stays the total, tax and shipping included.
    (_gb_order(), MappingOptions(value_mode="total"), "126.00"),
    # Tax only known in another currency: no value rather than a tax-inclusive one.
    (_gb_order(line_items=[{"product_id": 1, "tax_lines": [{"price_set": {"presentment_money": {
        "amount": "23.00", "currency_code": "EUR"}}}]}]), MappingOptions(), None),
    # taxes_included as a string is not a JSON true: as a tax-exclusive shop.
    (_gb_order(taxes_included="true"), MappingOptions(), "120.00"),
])
def test_value_is_before_tax_for_tax_inclusive_shops(body: dict[str, Any], options: MappingOptions,
                                                      expected: str | None) -> None:
    data = custom_data(body, options, checkout=False, order_id=None)
    assert data.get("value") == expected


def test_tax_inclusive_checkout_value() -> None:
    body = orders.completed_checkout(taxes_included=True, subtotal_price="120.00", total_tax="21.00",
                                     currency="GBP", presentment_currency="GBP",
                                     line_items=[{"product_id": 1, "quantity": 1, "price": "120.00",
                                                  "tax_lines": [{"price": "20.00", "rate": 0.2}]}])
    mapped = map_checkout(body, MappingOptions())
    assert (mapped.value, mapped.currency) == ("100.00", "GBP")


# -- what adds to a subtotal or total without being a product sold (README, "What Pinterest receives") ----
@pytest.mark.parametrize(("body", "options", "value", "items", "contents"), [
    # Duties charged on top: outside the subtotal already.
    (orders.duties_order(included=False), MappingOptions(), "100.00", 1, 1),
    # Duties inside prices: 110.00 holds 10.00 of duties, which come off (was "110.00").
    (orders.duties_order(included=True), MappingOptions(), "100.00", 1, 1),
    # ...in the buyer's money when the value is: 13.70 CAD of duties.
    (orders.duties_order(included=True, subtotal_price_set=money_set("110.00", "USD", "150.70", "CAD"),
                         presentment_currency="CAD"),
     MappingOptions(currency_mode="presentment"), "137.00", 1, 1),
    # Only the lines name them (no order total): read from the lines' duties.
    (orders.duties_order(included=True, original_total_duties_set=None, current_total_duties_set=None),
     MappingOptions(), "100.00", 1, 1),
    # Duties inside prices but none charged (no duty total, no line duties): nothing comes off.
    (orders.duties_order(included=True, original_total_duties_set=None, current_total_duties_set=None,
                         line_items=[{"product_id": 1, "quantity": 1, "price": "110.00"}]),
     MappingOptions(), "110.00", 1, 1),
    # Duties only known in another currency: no value rather than one with duties in it.
    (orders.duties_order(included=True, original_total_duties_set={"presentment_money": {
        "amount": "13.70", "currency_code": "CAD"}}), MappingOptions(), None, 1, 1),
    # Duties and VAT both inside prices: 132.00 holds 20.00 VAT and 12.00 duties.
    (orders.duties_order(included=True, taxes_included=True, subtotal_price="132.00",
                         subtotal_price_set=money_set("132.00", "USD"),
                         original_total_duties_set=money_set("12.00", "USD"),
                         line_items=[{"product_id": 1, "quantity": 1, "price": "132.00",
                                      "tax_lines": [{"price": "20.00"}]}]), MappingOptions(), "100.00", 1, 1),
    # "total" is what the buyer paid: duties, tax and shipping in it.
    (orders.duties_order(included=True), MappingOptions(value_mode="total"), "120.00", 1, 1),
    # A tip listed as a line: not a content, not an item; the subtotal never held it.
    (orders.tip_order(), MappingOptions(), "649.90", 3, 2),
    # The tip line in another language: found by its price, which is the order's tip.
    (orders.tip_order(line_items=[*orders.web_order()["line_items"],
                                  {"title": "Trinkgeld", "price": "5.00", "quantity": 1, "product_id": None,
                                   "variant_id": None, "sku": None, "requires_shipping": False}]),
     MappingOptions(), "649.90", 3, 2),
    # "total" includes the tip (what the buyer paid), still not as an item.
    (orders.tip_order(), MappingOptions(value_mode="total"), "707.33", 3, 2),
    # A custom item with no product is still a product sold (no tip on the order to match).
    (orders.custom_items_order(), MappingOptions(), "35.00", 2, 2),
    # A gift card sold is a product: content, item and value; the one redeemed is payment, not a discount.
    (orders.gift_card_order(), MappingOptions(), "74.95", 2, 2),
    # Shipping and additional fees are outside the subtotal.
    (orders.web_order(original_total_additional_fees_set=money_set("4.00", "USD"),
                      current_total_additional_fees_set=money_set("4.00", "USD")), MappingOptions(), "649.90", 3, 2),
])
def test_value_and_items_hold_only_products_sold(body: dict[str, Any], options: MappingOptions,
                                                  value: str | None, items: int, contents: int) -> None:
    mapped = map_order(body, options)
    assert mapped.event is not None and schema_errors(mapped.event) == []
    data = mapped.event["custom_data"]
    assert (data.get("value"), data["num_items"], len(data["contents"])) == (value, items, contents)
    assert all("tip" not in entry.get("item_name", "").lower() for entry in data["contents"])
