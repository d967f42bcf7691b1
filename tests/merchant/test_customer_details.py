"""Deciding from recent online orders whether Shopify withholds customers' contact details (pure, a table)."""

from __future__ import annotations

from typing import Any

import pytest

from app.mapping import MappingOptions, map_order
from app.merchant.customer_details import MIN_ORDERS, Code, RecentWebOrders, decide
from tests.mapping import orders

R = RecentWebOrders


@pytest.mark.parametrize(("recent", "code", "withheld"), [
    # No orders yet, or too few to tell a shop of guests from a withheld field.
    (R(0), Code.TOO_FEW_ORDERS, ()),
    (R(MIN_ORDERS - 1), Code.TOO_FEW_ORDERS, ()),
    # Level 1 only: not one order with an email, phone or address.
    (R(MIN_ORDERS), Code.WITHHELD, ("email", "phone", "address")),
    (R(500), Code.WITHHELD, ("email", "phone", "address")),
    # Level 2: emails on nearly all, phones on few (many checkouts never ask), addresses on most.
    (R(50, email=48, phone=10, address=49), Code.PRESENT, ()),
    # Phones never arrive but emails and addresses do: many checkouts never ask for a phone. No warning.
    (R(40, email=40, phone=0, address=35), Code.PRESENT, ()),
    # A single email proves the field is granted: guests paying by phone explain the rest.
    (R(20, email=1, phone=3, address=20), Code.PRESENT, ()),
    # Level 2 granted without the email field.
    (R(20, email=0, phone=5, address=20), Code.EMAIL_WITHHELD, ("email",)),
    (R(20, email=0, phone=0, address=18), Code.EMAIL_WITHHELD, ("email",)),
    # Emails arrive, addresses never: Level 2 without the address field, or a shop selling digital goods.
    (R(20, email=20, phone=0, address=0), Code.ADDRESS_WITHHELD, ("address",)),
])
def test_decide(recent: RecentWebOrders, code: Code, withheld: tuple[str, ...]) -> None:
    verdict = decide(recent)
    assert verdict.code == code
    assert verdict.withheld == withheld
    assert verdict.warn is bool(withheld)
    assert (verdict.message is not None) is bool(withheld)


@pytest.mark.parametrize("recent", [R(12), R(20, email=0, phone=5, address=20), R(20, email=20)])
def test_every_warning_says_what_it_costs_and_the_next_step(recent: RecentWebOrders) -> None:
    message = decide(recent).message
    assert message is not None
    assert f"last {recent.orders} online orders" in message
    assert "0%" in message  # what the page's match quality shows
    assert "credit" in message or "match" in message  # what it costs
    assert "Level 2 protected customer data access" in message
    assert "Next step:" in message and "Protected customer data access" in message


def test_the_level_1_sentence() -> None:
    message = decide(R(12)).message
    assert message == (
        "None of your last 12 online orders came with the customer's email, phone or address: Shopify leaves "
        "them out because Pinbridge has only Level 1 protected customer data access. Your orders still reach "
        "Pinterest, but matched on the shopper's browser and Pinterest click alone, so Pinterest can credit "
        "fewer of them to your ads (Email, Phone and Address show 0%). Next step: whoever runs Pinbridge for "
        "your shop asks Shopify for Level 2 protected customer data access (name, email, phone and address) in "
        "the app's settings in the Partner or Dev Dashboard (API access → Protected customer data access); once "
        "Shopify grants it, new orders arrive with them.")


def test_counts_come_from_the_match_keys_rows_stats_already_groups_by() -> None:
    rows = [("em ph ip_ua address", 3), ("ip_ua click_id", 5), (None, 2), ("em", 1), ("ph address name", 4)]
    assert RecentWebOrders.from_match_keys(rows) == R(15, email=4, phone=7, address=7)
    assert RecentWebOrders.from_match_keys([]) == R(0)


def _level_1(order: dict[str, Any]) -> dict[str, Any]:
    """An orders/create body as Shopify sends it to an app with Level 1 only: no name, email, phone, address."""
    body = {key: value for key, value in order.items()
            if key not in ("email", "contact_email", "phone", "billing_address", "shipping_address")}
    body["customer"] = {"id": order["customer"]["id"], "state": "enabled", "currency": "USD"}
    return body


def test_orders_shopify_sends_with_level_1_only_are_recognised_end_to_end() -> None:
    """The real mapping's match keys for Level 1 bodies, fed through the same counting, give WITHHELD."""
    options = MappingOptions()
    full = map_order(orders.web_order(), options)
    cut = map_order(_level_1(orders.web_order()), options)
    assert full.event is not None and cut.event is not None  # still sent: browser IP and user agent match
    assert {"em", "ph", "address"} <= set(full.match_keys)
    assert set(cut.match_keys) == {"ip_ua", "click_id", "external_id"}

    level_2 = RecentWebOrders.from_match_keys([(" ".join(full.match_keys), MIN_ORDERS)])
    level_1 = RecentWebOrders.from_match_keys([(" ".join(cut.match_keys), MIN_ORDERS)])
    assert decide(level_2).code == Code.PRESENT
    assert decide(level_1).code == Code.WITHHELD


def test_a_recovered_order_without_level_2_has_nothing_pinterest_matches_on() -> None:
    """What docs/deploy.md says of reconciliation: with Level 2 a recovered order carries the order's email,
    phone and address; with Level 1 alone the Admin API leaves them out (ACCESS_DENIED comes back as null),
    and with no user agent either, the order is recorded skipped rather than sent."""
    from app.shopify.translate import order_from_graphql
    from tests.standins.shopify_graphql import graphql_order

    node = graphql_order(orders.web_order())
    level_2 = map_order(order_from_graphql(node), MappingOptions())
    assert level_2.event is not None and {"em", "ph", "address"} <= set(level_2.match_keys)
    assert "ip_ua" not in level_2.match_keys  # the Admin API has no user agent

    denied = {**node, "email": None, "phone": None, "billingAddress": None, "shippingAddress": None,
              "customer": {**node["customer"], "firstName": None, "lastName": None, "defaultEmailAddress": None,
                           "defaultPhoneNumber": None, "defaultAddress": None}}
    level_1 = map_order(order_from_graphql(denied), MappingOptions())
    assert level_1.event is None and level_1.skip_reason is not None
    assert "em" not in level_1.match_keys and "address" not in level_1.match_keys
