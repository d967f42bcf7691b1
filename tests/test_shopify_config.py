"""shopify.app.toml: what Shopify sends Pinbridge is exactly what the mapping needs."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from app.config import PROJECT_ROOT
from app.mapping import MappingOptions, map_checkout, map_order
from app.mapping.types import CURRENCY_MODES, EVENT_ID_SOURCES, VALUE_MODES
from tests.mapping import orders

CONFIG = tomllib.loads((PROJECT_ROOT / "shopify.app.toml").read_text())
SUBSCRIPTIONS = CONFIG["webhooks"]["subscriptions"]
ORDERS = [orders.web_order(), orders.guest_order(), orders.draft_order(), orders.pos_order(),
          orders.multi_currency_order(), orders.discounted_order(), orders.custom_items_order(),
          orders.merchant_test_order(), orders.notification_order(), orders.documented_order(),
          orders.tax_inclusive_order()]
CHECKOUTS = [orders.completed_checkout(), orders.checkout()]
OPTIONS = [MappingOptions(event_id_source=e, value_mode=v, currency_mode=c, include_offline_orders=True)
           for e in EVENT_ID_SOURCES for v in VALUE_MODES for c in CURRENCY_MODES]


def subscription(topic: str) -> dict[str, Any]:
    [found] = [s for s in SUBSCRIPTIONS if topic in s.get("topics", [])]
    return found


def cut(body: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key in fields}


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_orders_cut_to_the_declared_fields_map_to_the_same_event(options: MappingOptions) -> None:
    fields = subscription("orders/create")["include_fields"]
    for order in ORDERS:
        assert map_order(cut(order, fields), options) == map_order(order, options), order.get("name")


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_checkouts_cut_to_the_declared_fields_map_to_the_same_event(options: MappingOptions) -> None:
    fields = subscription("checkouts/update")["include_fields"]
    for body in CHECKOUTS:
        assert map_checkout(cut(body, fields), options) == map_checkout(body, options)


def test_only_completed_checkouts_are_delivered() -> None:
    assert subscription("checkouts/create") is subscription("checkouts/update")
    assert subscription("checkouts/update")["filter"] == "completed_at:*"
    assert "filter" not in subscription("orders/create")


def test_the_shop_check_has_what_it_compares() -> None:
    """The cross-shop check reads the shop's own host from these URLs: they must stay in the bodies."""
    assert "order_status_url" in subscription("orders/create")["include_fields"]
    assert "abandoned_checkout_url" in subscription("checkouts/update")["include_fields"]
