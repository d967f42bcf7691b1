"""shopify.app.toml asks Shopify only for fields Shopify documents for each topic.

A name Shopify does not send for a topic is at best noise in `include_fields` and at worst a sign that the
mapping expects data that never comes. The lists below are the top-level keys of Shopify's own bodies:
- orders/create: the body Shopify's admin sends as "Send test notification" (API 2025 era), which has every
  key of the documented orders/create example that the mapping reads;
- checkouts/create and checkouts/update: the sample payload of Shopify's webhook reference, version 2026-07
  (the same shape for both topics). Checkout money is bare amounts in the buyer's currency: there is no
  `*_set`, no `order_id`, and no top-level `id` in it.
"""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from app.config import PROJECT_ROOT

DOCUMENTED = {
    "orders/create": frozenset({
        "admin_graphql_api_id", "app_id", "billing_address", "browser_ip", "buyer_accepts_marketing",
        "cancel_reason", "cancelled_at", "cart_token", "checkout_id", "checkout_token", "client_details",
        "closed_at", "company", "confirmation_number", "confirmed", "contact_email", "created_at", "currency",
        "current_shipping_price_set", "current_subtotal_price", "current_subtotal_price_set",
        "current_total_additional_fees_set", "current_total_discounts", "current_total_discounts_set",
        "current_total_duties_set", "current_total_price", "current_total_price_set", "current_total_tax",
        "current_total_tax_set", "customer", "customer_locale", "device_id", "discount_applications",
        "discount_codes", "duties_included", "email", "estimated_taxes", "financial_status",
        "fulfillment_status", "fulfillments", "id", "landing_site", "landing_site_ref", "line_items",
        "location_id", "merchant_business_entity_id", "merchant_of_record_app_id", "name", "note",
        "note_attributes", "number", "order_number", "order_status_url", "original_total_additional_fees_set",
        "original_total_duties_set", "payment_gateway_names", "payment_terms", "phone", "po_number",
        "presentment_currency", "processed_at", "reference", "referring_site", "refunds", "returns",
        "shipping_address", "shipping_lines", "source_identifier", "source_name", "source_url",
        "subtotal_price", "subtotal_price_set", "tags", "tax_exempt", "tax_lines", "taxes_included", "test",
        "token", "total_cash_rounding_payment_adjustment_set", "total_cash_rounding_refund_adjustment_set",
        "total_discounts", "total_discounts_set", "total_line_items_price", "total_line_items_price_set",
        "total_outstanding", "total_price", "total_price_set", "total_shipping_price_set", "total_tax",
        "total_tax_set", "total_tip_received", "total_weight", "updated_at", "user_id",
    }),
    "checkouts/update": frozenset({
        "abandoned_checkout_url", "billing_address", "buyer_accepts_marketing", "buyer_accepts_sms_marketing",
        "cart_token", "closed_at", "completed_at", "created_at", "currency", "customer", "customer_locale",
        "device_id", "discount_codes", "email", "gateway", "landing_site", "line_items", "location_id", "name",
        "note", "note_attributes", "phone", "presentment_currency", "referring_site", "reservation_token",
        "shipping_address", "shipping_lines", "sms_marketing_phone", "source", "source_identifier",
        "source_name", "source_url", "subtotal_price", "tax_lines", "taxes_included", "token",
        "total_discounts", "total_duties", "total_line_items_price", "total_price", "total_tax",
        "total_weight", "updated_at", "user_id",
    }),
}
DOCUMENTED["checkouts/create"] = DOCUMENTED["checkouts/update"]

SUBSCRIPTIONS = tomllib.loads((PROJECT_ROOT / "shopify.app.toml").read_text())["webhooks"]["subscriptions"]


def subscription(topic: str) -> dict[str, Any]:
    [found] = [s for s in SUBSCRIPTIONS if topic in s.get("topics", [])]
    return found


@pytest.mark.parametrize("topic", sorted(DOCUMENTED))
def test_include_fields_name_only_documented_fields(topic: str) -> None:
    fields = subscription(topic)["include_fields"]
    assert sorted(set(fields) - DOCUMENTED[topic]) == []
    assert len(fields) == len(set(fields)), "a field is listed twice"


def test_checkouts_are_not_asked_for_fields_their_payload_does_not_have() -> None:
    """The four names an earlier configuration asked for: orders have them, checkouts do not."""
    fields = set(subscription("checkouts/update")["include_fields"])
    for name in ("order_id", "subtotal_price_set", "total_price_set", "total_tax_set"):
        assert name not in fields
        assert name in DOCUMENTED["orders/create"] or name == "order_id"
