"""Text PostgreSQL refuses but SQLite stores (NUL characters, values longer than the column): cleaned alike.

Every test runs on both databases; each body is signed, so Shopify would retry a 500 until it dropped it.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from app.models import Event, Shop, WebhookReceipt, clean_text, db
from tests.conftest import SHOP
from tests.factories import completed_checkout, web_order


def _one(model: Any) -> Any:
    db.session.rollback()
    return db.session.execute(select(model)).scalars().one()


def test_nul_in_order_name_cart_token_and_checkout_token(post_webhook: Any) -> None:
    order = web_order(name="#10\x0001", cart_token="cart\x00token", checkout_token="chk\x00tok",
                      note="a note\x00with a nul")
    order["line_items"][0]["title"] = "Mug\x00"
    response = post_webhook(order)
    assert response.get_json() == {"status": "accepted"}
    event = _one(Event)
    assert event.order_name == "#1001"
    assert event.checkout_token == "chktok"
    assert "\x00" not in (event.event_id or "")


def test_nul_in_a_checkout_token(post_webhook: Any) -> None:
    checkout = completed_checkout(token="tok\x00en", cart_token="c\x00art")
    assert post_webhook(checkout, "checkouts/update").status_code == 200
    assert db.session.scalar(select(func.count()).select_from(WebhookReceipt)) == 1


def test_nul_in_redacted_order_ids_and_customer(post_webhook: Any, configure_shop: Any) -> None:
    configure_shop()
    payload = {"shop_domain": SHOP, "customer": {"id": "7\x0042", "email": "a\x00@example.com"},
               "orders_to_redact": ["59\x0012", 5912345678909999]}
    for topic in ("customers/redact", "customers/data_request"):
        assert post_webhook(payload, topic).status_code == 200


@pytest.mark.parametrize(
    ("header", "value", "column", "length"),
    [
        ("X-Shopify-API-Version", "2026-10" + "-beta" * 20, "api_version", 20),
        ("X-Shopify-Triggered-At", "T" * 200, "triggered_at", 64),
        ("X-Shopify-Topic", "orders/" + "x" * 300, "topic", 100),
        ("X-Shopify-Webhook-Id", "w" * 400, "webhook_id", 255),
    ],
)
def test_over_long_headers_are_bounded(post_webhook: Any, header: str, value: str, column: str,
                                       length: int) -> None:
    assert post_webhook(web_order(), headers={header: value}).status_code == 200
    stored = getattr(_one(WebhookReceipt), column)
    assert stored == value[:length]


def test_over_long_shop_domain_is_bounded(post_webhook: Any) -> None:
    shop = "s" * 300 + ".myshopify.com"
    order = web_order(order_status_url="https://shop.example/1/orders/x")
    assert post_webhook(order, shop=shop).status_code == 200
    assert _one(Shop).domain == shop[:255]
    assert _one(WebhookReceipt).shop_domain == shop[:255]


@pytest.mark.parametrize(
    ("value", "length", "expected"),
    [
        ("abc", 2, "ab"),
        ("a\x00b\x00", None, "ab"),
        ("\x00" * 10 + "xyz", 2, "xy"),      # NULs go before the cut, so the cut keeps real characters
        (None, 5, None),
        (12, 1, 12),                         # not text: left to the column's own type
    ],
)
def test_clean_text_table(value: Any, length: int | None, expected: Any) -> None:
    assert clean_text(value, length) == expected
