"""POST /webhooks: statuses of SPEC 4.1, deduplication, and what is committed before the 200."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from app.models import Event, Shop, WebhookReceipt, db
from tests.conftest import OLD_API_SECRET, SHOP, sign
from tests.factories import completed_checkout, web_order


def count(model: Any) -> int:
    db.session.rollback()
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def events() -> list[Event]:
    db.session.rollback()
    return list(db.session.scalars(select(Event).order_by(Event.id)))


def test_order_is_accepted_and_committed_with_its_receipt(post_webhook: Any) -> None:
    order = web_order()
    response = post_webhook(order, webhook_id="wh-1")
    assert response.status_code == 200
    assert response.get_json() == {"status": "accepted"}
    [receipt] = db.session.scalars(select(WebhookReceipt)).all()
    assert (receipt.webhook_id, receipt.topic, receipt.shop_domain, receipt.outcome) == (
        "wh-1", "orders/create", SHOP, "queued")
    [event] = events()
    assert receipt.event_row_id == event.id
    assert event.status == "pending"
    assert event.event_id == order["cart_token"]
    assert event.order_id == str(order["id"])
    assert event.payload["custom_data"]["order_id"] == str(order["id"])


def test_redelivery_is_duplicate_and_creates_nothing(post_webhook: Any) -> None:
    order = web_order()
    assert post_webhook(order, webhook_id="wh-dup").get_json() == {"status": "accepted"}
    again = post_webhook(order, webhook_id="wh-dup")
    assert again.status_code == 200
    assert again.get_json() == {"status": "duplicate"}
    assert (count(WebhookReceipt), count(Event)) == (1, 1)


def test_same_order_under_a_new_webhook_id_gives_no_second_event(post_webhook: Any) -> None:
    order = web_order()
    post_webhook(order)
    assert post_webhook(order).get_json() == {"status": "accepted"}
    assert (count(WebhookReceipt), count(Event)) == (2, 1)
    outcomes = sorted(db.session.scalars(select(WebhookReceipt.outcome)))
    assert outcomes == ["already_received", "queued"]


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"X-Shopify-Hmac-Sha256": "bm90IHRoZSByaWdodCBobWFj"}, 401),  # wrong signature
        ({"X-Shopify-Hmac-Sha256": None}, 400),                         # no signature at all
        ({"X-Shopify-Topic": None}, 400),                               # no topic
        ({"X-Shopify-Shop-Domain": None}, 400),                         # no shop
        ({"X-Shopify-Shop-Domain": "not a shop"}, 400),                 # shop header that is no shop
    ],
)
def test_broken_headers_are_refused_and_store_nothing(post_webhook: Any, change: dict, status: int) -> None:
    response = post_webhook(web_order(), headers=change)
    assert response.status_code == status
    assert (count(WebhookReceipt), count(Event), count(Shop)) == (0, 0, 0)


def test_signature_over_other_bytes_is_401(client: Any) -> None:
    body = json.dumps(web_order()).encode()
    headers = {"X-Shopify-Topic": "orders/create", "X-Shopify-Shop-Domain": SHOP,
               "X-Shopify-Hmac-Sha256": sign(body + b" "), "X-Shopify-Webhook-Id": "x"}
    assert client.post("/webhooks", data=body, headers=headers).status_code == 401
    assert count(WebhookReceipt) == 0


def test_old_secret_is_accepted_during_rotation_and_nothing_older(post_webhook: Any) -> None:
    assert post_webhook(web_order(), secret=OLD_API_SECRET).status_code == 200
    assert post_webhook(web_order(), secret="retired-long-ago").status_code == 401
    assert count(Event) == 1


@pytest.mark.parametrize(
    "body",
    [b"[1, 2, 3]", b"not json", b"", b'"a string"', b"null", b"\xff\xfe{}", b"[" * 5000 + b"]" * 5000],
)
def test_signed_body_that_is_not_a_json_object_is_400(post_webhook: Any, body: bytes) -> None:
    response = post_webhook(body)
    assert response.status_code in (400, 401)  # undecodable bytes cannot match a text signature
    assert response.status_code == 400 or body.startswith(b"\xff")
    assert count(WebhookReceipt) == 0


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(client: Any, method: str) -> None:
    assert client.open("/webhooks", method=method).status_code == 405


def test_body_over_5_mib_is_413(post_webhook: Any) -> None:
    big = web_order(note="x" * (5 * 1024 * 1024))
    assert post_webhook(big).status_code == 413
    assert count(WebhookReceipt) == 0


def test_unknown_topic_is_ignored_but_recorded(post_webhook: Any) -> None:
    response = post_webhook({"id": 1}, topic="products/update")
    assert response.get_json() == {"status": "ignored"}
    assert count(Event) == 0
    assert db.session.scalar(select(WebhookReceipt.outcome)) == "ignored"


def test_open_checkout_creates_no_event(post_webhook: Any) -> None:
    checkout = completed_checkout(completed_at=None)
    assert post_webhook(checkout, topic="checkouts/update").get_json() == {"status": "accepted"}
    assert count(Event) == 0
    assert db.session.scalar(select(WebhookReceipt.outcome)) == "checkout_open"


def test_completed_checkout_waits_and_its_order_replaces_it(post_webhook: Any) -> None:
    order = web_order()
    post_webhook(completed_checkout(order), topic="checkouts/update")
    [waiting] = events()
    assert waiting.source == "checkout"
    assert (waiting.available_at - waiting.received_at).total_seconds() == pytest.approx(120)
    post_webhook(order)
    [event] = events()
    assert event.id == waiting.id
    assert event.source == "order"
    assert event.order_id == str(order["id"])
    assert event.available_at <= event.received_at.__class__.now(event.received_at.tzinfo)
    assert db.session.scalar(
        select(WebhookReceipt.outcome).where(WebhookReceipt.topic == "orders/create")) == "replaced_checkout"


def test_checkout_after_its_order_adds_nothing(post_webhook: Any) -> None:
    order = web_order()
    post_webhook(order)
    post_webhook(completed_checkout(order), topic="checkouts/update")
    [event] = events()
    assert event.source == "order"


def test_order_without_identifiers_is_skipped_with_reason(post_webhook: Any) -> None:
    order = web_order(email=None, contact_email=None, customer=None, client_details=None, browser_ip=None)
    assert post_webhook(order).status_code == 200
    [event] = events()
    assert event.status == "skipped"
    assert event.payload is None
    assert event.skip_reason


def test_no_plaintext_personal_data_is_stored(post_webhook: Any) -> None:
    order = web_order(email="Private.Buyer@Example.com", phone="+1 555 010 9999")
    post_webhook(order)
    [event] = events()
    stored = json.dumps(event.payload) + (event.email_refs or "") + (event.customer_ref or "")
    for secret in ("private.buyer@example.com", "Private.Buyer", "5550109999", "Dana", "Portland", "Test Street"):
        assert secret.lower() not in stored.lower()


def test_mapping_crash_is_recorded_as_skipped(post_webhook: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: Any) -> Any:
        raise ValueError("unexpected")

    monkeypatch.setattr("app.mapping.purchase._map_order", boom)
    assert post_webhook(web_order()).status_code == 200
    [event] = events()
    assert event.status == "skipped"
    assert "unexpected error (ValueError)" in (event.skip_reason or "")


def test_order_replaces_its_checkout_even_when_their_event_ids_differ(
    post_webhook: Any, configure_shop: Any
) -> None:
    configure_shop(event_id_source="order_id")
    order = web_order()
    post_webhook(completed_checkout(order), topic="checkouts/update")
    [waiting] = events()
    assert waiting.event_id == order["cart_token"]  # a checkout has no order id yet
    post_webhook(order)
    [event] = events()
    assert (event.id, event.source, event.event_id) == (waiting.id, "order", f"order-{order['id']}")


def test_same_order_under_another_event_id_is_still_one_event(post_webhook: Any, configure_shop: Any) -> None:
    order = web_order()
    post_webhook(order)
    configure_shop(event_id_source="order_id")  # the merchant changes the id source between deliveries
    post_webhook(order)
    [event] = events()
    assert event.event_id == order["cart_token"]
