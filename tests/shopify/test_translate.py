"""An Admin GraphQL order read as its webhook: the mapping gives the same event from both."""

from __future__ import annotations

from typing import Any

import pytest

from app.mapping import MappedPurchase, MappingOptions, map_order
from app.shopify.translate import order_from_graphql
from tests.factories import web_order
from tests.mapping import orders as golden
from tests.mapping.helpers import schema_errors
from tests.standins.shopify_graphql import graphql_order


def _mapped_both_ways(
    order: dict[str, Any], options: MappingOptions
) -> tuple[MappedPurchase, MappedPurchase, dict[str, Any]]:
    """The order mapped from its webhook and from Admin GraphQL, and the event expected from GraphQL: the webhook's
    without the browser's user agent, the one identifier reconciliation lacks (GraphQL gives the order's IP)."""
    from_webhook = map_order(order, options)
    from_graphql = map_order(order_from_graphql(graphql_order(order)), options)
    assert from_webhook.event is not None and from_graphql.event is not None
    expected = dict(from_webhook.event)
    expected["user_data"] = {k: v for k, v in expected["user_data"].items() if k != "client_user_agent"}
    return from_webhook, from_graphql, expected


@pytest.mark.parametrize("options", [
    MappingOptions(),                                             # defaults: cart token, product ids, subtotal
    MappingOptions(event_id_source="order_id", value_mode="total"),  # order-<id> and total price
    MappingOptions(content_id_source="sku", currency_mode="presentment"),
    MappingOptions(content_id_source="variant_id", limited_data_processing=True),
])
def test_a_graphql_order_maps_to_the_same_event_as_its_webhook(options: MappingOptions) -> None:
    order = web_order(note_attributes=[{"name": "_epik", "value": "dj0yJnU9ATTRIBUTE"}])
    from_webhook, from_graphql, expected = _mapped_both_ways(order, options)
    assert from_graphql.event == expected
    assert (from_graphql.order_id, from_graphql.event_id) == (from_webhook.order_id, from_webhook.event_id)
    assert from_graphql.order_id == str(order["id"])  # above 2**53, never through a float


@pytest.mark.parametrize("order", [
    golden.documented_order(),         # Shopify's documented example: "0.0.0.0" is no buyer's IP
    golden.tax_inclusive_order(),      # VAT inside the subtotal: same pre-tax value from both
    golden.duties_order(included=True),  # duties inside prices: they come off from both
    golden.tip_order(),                # a tip among the lines: no content, no item from either
    golden.gift_card_order(),          # a gift card sold: a product from both
    golden.web_order(),                # customer default address, both addresses, epik landing page
    golden.multi_currency_order(),
    golden.web_order(billing_address={"city": "Doorn", "zip": "3941 LG", "country": "Nederland",
                                      "country_code": None, "phone": "06 12345678"}),  # country by name
], ids=["documented", "tax-inclusive", "duties-included", "tip", "gift-card", "web", "multi-currency",
        "country-name"])
@pytest.mark.parametrize("options", [MappingOptions(), MappingOptions(currency_mode="presentment")])
def test_a_recovered_order_maps_like_its_webhook(order: dict[str, Any], options: MappingOptions) -> None:
    _from_webhook, from_graphql, expected = _mapped_both_ways(order, options)
    assert from_graphql.event == expected
    assert from_graphql.event == expected and schema_errors(from_graphql.event) == []


def test_a_draft_order_keeps_the_staff_browser_out() -> None:
    draft = web_order(source_name="shopify_draft_order", cart_token=None)
    mapped = map_order(order_from_graphql(graphql_order(draft)), MappingOptions(send_draft="offline"))
    assert mapped.event is not None and mapped.event["action_source"] == "offline"
    assert "client_ip_address" not in mapped.event["user_data"]
