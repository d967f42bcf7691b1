"""What was bought: value, currency, content ids, contents and item count as Pinterest `custom_data`.

Money is read as Decimal and written as a plain decimal string; Shopify's decimal strings never pass
through a float.

Orders: bare money fields (`subtotal_price`, `price`) are in the SHOP currency; `*_set.presentment_money`
holds the buyer's currency. Checkouts: bare money fields are in the PRESENTMENT currency (Shopify's
checkout resource) and there is usually no `*_set`; a checkout in "shop" mode whose currencies differ is
therefore sent in the buyer's currency, because an amount is only ever paired with its own currency.

Value ("subtotal" mode) has one definition for every shop: the subtotal after discounts, before tax and
shipping. Shopify's `subtotal_price` is after discounts and before shipping, but for shops whose prices
include tax (`taxes_included: true`) it includes that tax, so:

    value = subtotal_price - included line tax      (taxes_included: true)
    value = subtotal_price                          (otherwise; tax is added on top)
    included line tax = sum(line_items[].tax_lines[].price)          when the lines carry tax lines,
                      = total_tax - sum(shipping_lines[].tax_lines[].price)   otherwise

all read in the chosen money (shop or presentment, `*_set`) and computed in Decimal. If the included tax
cannot be read in the value's currency, no value is sent rather than a tax-inclusive one. "total" mode
sends `total_price` (with tax and shipping) unchanged.

What else adds to a subtotal or total without being a product sold (README, "What Pinterest receives"):
- Duties (import taxes): charged on top they are outside `subtotal_price`; when prices include them
  (`duties_included: true`, Admin `Order.dutiesIncluded`) the subtotal holds them, so they come off like
  included tax: `original_total_duties_set`, else `current_total_duties_set`, else the lines' `duties`.
  Unreadable in the value's currency: no value. None named: nothing to take off.
- Tips: outside `subtotal_price` already; a tip listed among `line_items` (no product, variant or SKU;
  titled "Tip", or priced at exactly `total_tip_received`) is neither a content nor an item.
- Gift cards: one sold is a product (a line with `gift_card: true`): content, item and value. One redeemed
  is a way of paying, not a discount: it changes no subtotal or total, so no value.
- Shipping and additional fees (`*_total_additional_fees_set`): outside the subtotal; "total" has them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from app.mapping.fields import as_dict, as_list, dig, first, ident, text, unique
from app.mapping.types import MappingOptions
from app.vocabulary import ContentIdSource, CurrencyMode, ValueMode

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_MAX_AMOUNT = Decimal(10) ** 15
_MAX_DECIMALS = 10
_VALUE_FIELDS = {ValueMode.SUBTOTAL: "subtotal_price", ValueMode.TOTAL: "total_price"}
_ID_FALLBACK = (ContentIdSource.PRODUCT_ID, ContentIdSource.VARIANT_ID, ContentIdSource.SKU)
# How Shopify writes nearly every amount ("45.60"): already what `money` returns, read without Decimal.
_PLAIN_AMOUNT = re.compile(r"(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,10})?")


def money(value: Any) -> str | None:
    """A non-negative finite amount as a plain decimal string ("45.62"), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        # Only reconciled data could hold a float; its shortest repr is the text it was written as.
        value = repr(value)
    if isinstance(value, int):
        value = str(value) if abs(value) < _MAX_AMOUNT else None
    raw = text(value)
    if raw is None or len(raw) > 40:
        return None
    if _PLAIN_AMOUNT.fullmatch(raw):  # below 10**15, at most 10 decimals, no sign, no leading zero
        return raw
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0 or amount >= _MAX_AMOUNT:
        return None
    if int(amount.as_tuple().exponent) < -_MAX_DECIMALS:  # "1e-999999" would print a million zeros
        return None
    return format(abs(amount), "f")  # abs() turns "-0.00" into "0.00"


def currency(value: Any) -> str | None:
    """An ISO-4217 code in upper case, or None."""
    raw = text(value)
    return raw.upper() if raw and _CURRENCY.match(raw.upper()) else None


def _shop_money(body: dict[str, Any], field: str, bare_currency: str | None) -> tuple[str | None, str | None]:
    """Shop money of an order: the bare field, else `<field>_set.shop_money`."""
    shop = as_dict(dig(body, f"{field}_set", "shop_money"))
    amount = money(body.get(field))
    if amount is not None:
        return amount, bare_currency or currency(shop.get("currency_code"))
    return money(shop.get("amount")), currency(shop.get("currency_code")) or bare_currency


@dataclass(frozen=True)
class Pricing:
    """How to read money from one body: which currency mode, and what its bare fields are in."""

    currency_mode: CurrencyMode
    checkout: bool
    shop_currency: str | None
    presentment_currency: str | None

    def amount(self, body: dict[str, Any], field: str) -> tuple[str | None, str | None]:
        """(amount, currency) of one money field in the configured currency, falling back to shop money."""
        presentment = self.currency_mode == CurrencyMode.PRESENTMENT
        if self.checkout:
            set_key = "presentment_money" if presentment else "shop_money"
            chosen = as_dict(dig(body, f"{field}_set", set_key))
            amount = money(chosen.get("amount"))
            if amount is not None:
                fallback = self.presentment_currency if presentment else self.shop_currency
                return amount, currency(chosen.get("currency_code")) or fallback
            return money(body.get(field)), self.presentment_currency or self.shop_currency
        if presentment:
            presented = as_dict(dig(body, f"{field}_set", "presentment_money"))
            amount = money(presented.get("amount"))
            if amount is not None:
                return amount, currency(presented.get("currency_code")) or self.presentment_currency
        return _shop_money(body, field, self.shop_currency)

    def fallback_currency(self) -> str | None:
        """The currency to name when the value itself is unknown."""
        if self.checkout or self.currency_mode == CurrencyMode.PRESENTMENT:
            return first((self.presentment_currency, self.shop_currency))
        return first((self.shop_currency, self.presentment_currency))


def _sku(line: dict[str, Any]) -> str | None:
    sku = text(line.get("sku"))
    return sku if sku and len(sku) <= 256 else None


_ID_READERS: dict[ContentIdSource, Callable[[dict[str, Any]], str | None]] = {
    ContentIdSource.PRODUCT_ID: lambda line: ident(line.get("product_id")),
    ContentIdSource.VARIANT_ID: lambda line: ident(line.get("variant_id")),
    ContentIdSource.SKU: _sku,
}


def _content_id(line: dict[str, Any], source: ContentIdSource) -> str | None:
    """The catalog id of a line: the configured source first, then product -> variant -> sku."""
    for name in (source, *_ID_FALLBACK):  # the configured source is read once more at most, when it has none
        reader = _ID_READERS.get(name)
        found = reader(line) if reader else None
        if found is not None:
            return found
    return None


def quantity(value: Any) -> int | None:
    """A non-negative whole quantity (ints or digit strings), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdecimal() and len(value.strip()) <= 9:
        value = int(value.strip())
    return value if isinstance(value, int) and 0 <= value < 10**9 else None


def _content(line: dict[str, Any], content_id: str | None, price: str | None) -> dict[str, Any]:
    """One `contents[]` entry; keys without a value are left out, never sent as null."""
    entry: dict[str, Any] = {}
    if content_id is not None:
        entry["id"] = content_id
    if price is not None:
        entry["item_price"] = price
    count = quantity(line.get("quantity"))
    if count is not None:
        entry["quantity"] = count
    name = text(line.get("title")) or text(line.get("name")) or text(line.get("presentment_title"))
    if name:
        entry["item_name"] = name[:512]
    brand = text(line.get("vendor"))
    if brand:
        entry["item_brand"] = brand[:256]
    return entry


def _line_price(line: dict[str, Any], pricing: Pricing, event_currency: str | None) -> str | None:
    """Unit price before discounts, only when it is in the event's currency."""
    price, price_currency = pricing.amount(line, "price")
    if price is None and pricing.checkout:
        price = money(line.get("variant_price"))
    if price_currency and event_currency and price_currency != event_currency:
        return None
    return price


def _tax_sum(pricing: Pricing, holders: list[Any], value_currency: str | None) -> Decimal | None:
    """Sum of the `tax_lines` of these lines in the value's currency; None if one cannot be read so."""
    total = Decimal(0)
    for holder in holders:
        for tax_line in as_list(as_dict(holder).get("tax_lines")):
            amount, tax_currency = pricing.amount(as_dict(tax_line), "price")
            if amount is None or (tax_currency and value_currency and tax_currency != value_currency):
                return None
            total += Decimal(amount)
    return total


def _has_tax_lines(lines: list[Any]) -> bool:
    return any(as_list(as_dict(line).get("tax_lines")) for line in lines)


def included_tax(body: dict[str, Any], pricing: Pricing, value_currency: str | None) -> Decimal | None:
    """The tax inside the subtotal of a tax-inclusive body (see the module docstring); None if unknown."""
    lines = as_list(body.get("line_items"))
    if _has_tax_lines(lines):
        return _tax_sum(pricing, lines, value_currency)
    total_tax, tax_currency = pricing.amount(body, "total_tax")
    if total_tax is None or (tax_currency and value_currency and tax_currency != value_currency):
        return None
    shipping_tax = _tax_sum(pricing, as_list(body.get("shipping_lines")), value_currency)
    if shipping_tax is None:
        return None
    return Decimal(total_tax) - shipping_tax


def _duty_amount(duty: dict[str, Any], pricing: Pricing) -> tuple[str | None, str | None]:
    """A line's duty: `price_set` as GraphQL gives it, or `shop_money` / `presentment_money` as REST does."""
    if "price_set" in duty or "price" in duty:
        return pricing.amount(duty, "price")
    holder = {"price_set": {key: duty.get(key) for key in ("shop_money", "presentment_money")}}
    return pricing.amount(holder, "price")


def included_duties(body: dict[str, Any], pricing: Pricing, value_currency: str | None) -> Decimal | None:
    """The duties inside the subtotal of a duties-included body; 0 when it names none; None if unreadable."""
    for field in ("original_total_duties", "current_total_duties"):
        if body.get(f"{field}_set") is not None or body.get(field) is not None:
            amount, duty_currency = pricing.amount(body, field)
            if amount is None or (duty_currency and value_currency and duty_currency != value_currency):
                return None
            return Decimal(amount)
    total = Decimal(0)
    for line in as_list(body.get("line_items")):
        for duty in as_list(as_dict(line).get("duties")):
            amount, duty_currency = _duty_amount(as_dict(duty), pricing)
            if amount is None or (duty_currency and value_currency and duty_currency != value_currency):
                return None
            total += Decimal(amount)
    return total


def order_value(body: dict[str, Any], pricing: Pricing, value_mode: ValueMode) -> tuple[str | None, str | None]:
    """(value, currency): subtotal after discounts, before tax, duties and shipping; or the total."""
    value, value_currency = pricing.amount(body, _VALUE_FIELDS.get(value_mode, "subtotal_price"))
    if value is None or value_mode == ValueMode.TOTAL:
        return value, value_currency
    amount = Decimal(value)
    if body.get("taxes_included") is True:
        tax = included_tax(body, pricing, value_currency)
        if tax is None:
            return None, value_currency
        amount -= tax
    if body.get("duties_included") is True:
        duties = included_duties(body, pricing, value_currency)
        if duties is None:
            return None, value_currency
        amount -= duties
    if amount == Decimal(value):
        return value, value_currency
    return format(max(amount, Decimal(0)), "f"), value_currency


TIP_TITLES = frozenset({"tip", "tips", "gratuity"})


def is_tip(line: dict[str, Any], tip_total: str | None) -> bool:
    """A tip listed among the line items: no product, variant or SKU, titled as a tip or priced as the tip."""
    if ident(line.get("product_id")) or ident(line.get("variant_id")) or _sku(line) or line.get("gift_card") is True:
        return False
    title = first(text(line.get(key)) for key in ("title", "name"))
    if title is not None and title.casefold() in TIP_TITLES:
        return True
    price, count = money(line.get("price")), quantity(line.get("quantity"))
    return (tip_total is not None and Decimal(tip_total) > 0 and price is not None and count is not None
            and line.get("requires_shipping") is not True and Decimal(price) * count == Decimal(tip_total))


def sold_lines(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The line items that are products sold: every object but a tip."""
    tip_total = money(body.get("total_tip_received"))
    return [line for line in as_list(body.get("line_items")) if isinstance(line, dict) and not is_tip(line, tip_total)]


def custom_data(body: dict[str, Any], options: MappingOptions, *, checkout: bool,
                order_id: str | None) -> dict[str, Any]:
    """Pinterest `custom_data` for an order or checkout body."""
    pricing = Pricing(options.currency_mode, checkout, currency(body.get("currency")),
                      currency(body.get("presentment_currency")))
    value, event_currency = order_value(body, pricing, options.value_mode)
    if value is None:
        event_currency = pricing.fallback_currency()

    lines = sold_lines(body)
    ids = [_content_id(line, options.content_id_source) for line in lines]
    contents = [
        _content(line, content_id, _line_price(line, pricing, event_currency))
        for line, content_id in zip(lines, ids, strict=True)
    ]
    data: dict[str, Any] = {
        "currency": event_currency,
        "value": value,
        "content_ids": unique(ids) or None,
        "contents": [entry for entry in contents if entry] or None,
        "num_items": sum(quantity(line.get("quantity")) or 0 for line in lines) if lines else None,
        "order_id": order_id,
        "opt_out_type": "LDP" if options.limited_data_processing else None,
    }
    return {key: item for key, item in data.items() if item is not None}
