"""An Admin GraphQL order node in the shape of an `orders/create` webhook, so `map_order` reads both alike.

Pure: no Flask, no database. Only the fields the mapping reads are carried over; shop money is taken
from each `*Set` (the shop's currency), as the webhook's plain amounts are.
"""

from __future__ import annotations

from typing import Any


def _money_set(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    out = {}
    for graph_key, hook_key in (("shopMoney", "shop_money"), ("presentmentMoney", "presentment_money")):
        money = value.get(graph_key)
        if isinstance(money, dict):
            out[hook_key] = {"amount": money.get("amount"), "currency_code": money.get("currencyCode")}
    return out


def _shop_amount(money_set: dict[str, Any] | None) -> Any:
    return ((money_set or {}).get("shop_money") or {}).get("amount")


def _address(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    return {"first_name": value.get("firstName"), "last_name": value.get("lastName"),
            "city": value.get("city"), "province_code": value.get("provinceCode"), "zip": value.get("zip"),
            "country": value.get("country"), "country_code": value.get("countryCodeV2"),
            "phone": value.get("phone")}


def _tax_lines(value: Any) -> list[dict[str, Any]]:
    """GraphQL `taxLines` as webhook `tax_lines` (price in shop money, price_set with both)."""
    lines = value if isinstance(value, list) else []
    out = []
    for line in lines:
        price = _money_set(line.get("priceSet")) if isinstance(line, dict) else None
        if price:
            out.append({"price": _shop_amount(price), "price_set": price})
    return out


def _legacy_id(value: Any) -> Any:
    return value.get("legacyResourceId") if isinstance(value, dict) else None


def _line(node: dict[str, Any]) -> dict[str, Any]:
    price = _money_set(node.get("originalUnitPriceSet")) or {}
    return {
        "product_id": _legacy_id(node.get("product")), "variant_id": _legacy_id(node.get("variant")),
        "sku": node.get("sku"), "title": node.get("title"), "name": node.get("name"),
        "vendor": node.get("vendor"), "quantity": node.get("quantity"),
        "price": _shop_amount(price), "price_set": price or None,
        "tax_lines": _tax_lines(node.get("taxLines")),
        "gift_card": node.get("isGiftCard"), "requires_shipping": node.get("requiresShipping"),
    }


def _customer(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    email, phone = value.get("defaultEmailAddress"), value.get("defaultPhoneNumber")
    return {"id": value.get("legacyResourceId"), "first_name": value.get("firstName"),
            "last_name": value.get("lastName"),
            "email": email.get("emailAddress") if isinstance(email, dict) else None,
            "phone": phone.get("phoneNumber") if isinstance(phone, dict) else None,
            "default_address": _address(value.get("defaultAddress"))}


def _landing_page(journey: Any) -> str | None:
    """The visit that brought the buyer (the one carrying a Pinterest click id if any), as landing_site."""
    if not isinstance(journey, dict):
        return None
    visits = [v for v in (journey.get("lastVisit"), journey.get("firstVisit")) if isinstance(v, dict)]
    pages = [v["landingPage"] for v in visits if isinstance(v.get("landingPage"), str)]
    return next((page for page in pages if "epik=" in page), pages[0] if pages else None)


def order_from_graphql(node: dict[str, Any]) -> dict[str, Any]:
    """The `orders/create` body shape `map_order` reads, from an Admin GraphQL Order node.

    GraphQL has no browser user agent for an order, so a reconciled order matches on identifiers
    (email, phone, address, click id, IP) but never on IP + user agent.
    """
    line_items, custom = node.get("lineItems"), node.get("customAttributes")
    lines: dict[str, Any] = line_items if isinstance(line_items, dict) else {}
    shipping = node.get("shippingLines")
    shipping_nodes = (shipping.get("nodes") if isinstance(shipping, dict) else None) or []
    attributes: list[Any] = custom if isinstance(custom, list) else []
    subtotal, total = _money_set(node.get("subtotalPriceSet")), _money_set(node.get("totalPriceSet"))
    return {
        "id": node.get("legacyResourceId") or node.get("id"),
        "admin_graphql_api_id": node.get("id"),
        "name": node.get("name"), "email": node.get("email"), "phone": node.get("phone"),
        "created_at": node.get("createdAt"), "processed_at": node.get("processedAt"),
        "test": node.get("test"), "source_name": node.get("sourceName"),
        "currency": node.get("currencyCode"), "presentment_currency": node.get("presentmentCurrencyCode"),
        "subtotal_price": _shop_amount(subtotal), "subtotal_price_set": subtotal,
        "total_price": _shop_amount(total), "total_price_set": total,
        "taxes_included": node.get("taxesIncluded"), "customer_locale": node.get("customerLocale"),
        "total_tax": _shop_amount(_money_set(node.get("totalTaxSet"))),
        "total_tax_set": _money_set(node.get("totalTaxSet")),
        # Duties inside prices come off the value; a tip listed among the lines is no product.
        "duties_included": node.get("dutiesIncluded"),
        "original_total_duties_set": _money_set(node.get("originalTotalDutiesSet")),
        "total_tip_received": _shop_amount(_money_set(node.get("totalTipReceivedSet"))),
        "shipping_lines": [{"tax_lines": _tax_lines(n.get("taxLines"))} for n in shipping_nodes
                           if isinstance(n, dict)],
        "cart_token": node.get("cartToken"), "checkout_token": node.get("checkoutToken"),
        "order_status_url": node.get("statusPageUrl"),
        "client_details": {"browser_ip": node.get("clientIp"), "user_agent": None},
        "landing_site": _landing_page(node.get("customerJourneySummary")),
        "note_attributes": [{"name": a.get("key"), "value": a.get("value")} for a in attributes
                            if isinstance(a, dict)],
        "line_items": [_line(n) for n in lines.get("nodes") or [] if isinstance(n, dict)],
        "customer": _customer(node.get("customer")),
        "billing_address": _address(node.get("billingAddress")),
        "shipping_address": _address(node.get("shippingAddress")),
    }


