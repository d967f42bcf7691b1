"""Attacks on POST /webhooks: unsigned floods, bodies built to be expensive, replays across shops and time.

Each test sends what an attacker would, then asserts the 4xx the attacker gets and that nothing of the
merchant's changed.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from app.inbox import routing
from app.ingest import verify
from app.models import Event, Shop, WebhookReceipt, db, now_utc
from tests.conftest import SHOP, process_inbox, sign, webhook_headers
from tests.factories import completed_checkout, web_order

OTHER = "victim-store.myshopify.com"


def count(model: Any, **where: Any) -> int:
    db.session.rollback()
    return int(db.session.scalar(select(func.count()).select_from(model).filter_by(**where)) or 0)


@pytest.fixture
def no_parsing(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Record every body the webhook path hands to the JSON parser."""
    parsed: list[bytes] = []
    real = orjson.loads

    def spy(raw: Any, *args: Any, **kwargs: Any) -> Any:
        parsed.append(raw)
        return real(raw, *args, **kwargs)

    class SpyDecoder:  # the acknowledgement path's parser (verify.parse_purchase)
        def decode(self, raw: Any) -> Any:
            parsed.append(raw)
            return real_decoder.decode(raw)

    real_decoder = verify._PURCHASE_DECODER
    monkeypatch.setattr(verify.orjson, "loads", spy)
    monkeypatch.setattr(verify, "_PURCHASE_DECODER", SpyDecoder())
    return parsed


# -- verify before parse ----------------------------------------------------------------------------
def _unsigned(body: bytes) -> dict[str, str]:
    headers = webhook_headers(body)
    headers["X-Shopify-Hmac-Sha256"] = sign(body, "an-attacker-guess")
    return headers


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": ' + b"9" * 5000 + b"}",                                    # int() over Python's digit limit
        json.dumps({"k" + str(i): ["x" * 40] * 3 for i in range(30_000)}).encode(),  # ~5 MiB of JSON
        b"[" * 100_000,                                                   # nesting that overflows a parser
    ],
)
def test_unsigned_bodies_are_refused_without_being_parsed(client: Any, no_parsing: list[bytes], body: bytes) -> None:
    assert len(body) <= 5 * 1024 * 1024
    response = client.post("/webhooks", data=body, headers=_unsigned(body))
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_hmac"
    assert body not in no_parsing
    assert count(WebhookReceipt) == count(Event) == count(Shop) == 0


def test_signed_huge_integer_is_never_a_500(app: Any, post_webhook: Any, no_parsing: list[bytes]) -> None:
    # Still JSON (RFC 8259 sets no limit on a number's digits), so the order is acknowledged; the worker's
    # parser cannot hold the number and records the body as unreadable, as it would a corrupted one.
    body = b'{"id": ' + b"9" * 5000 + b"}"
    response = post_webhook(body, drain=False)
    assert body in no_parsing  # signed bodies do reach the parser
    assert response.status_code == 200
    assert process_inbox(app) == 1
    assert [r.outcome for r in db.session.scalars(select(WebhookReceipt))] == [routing.UNREADABLE]
    assert count(Event) == 0
    # Refused by the Flask route too when it parses the whole body itself (a topic other than an order's).
    other = post_webhook(body, "app/uninstalled")
    assert (other.status_code, other.get_json()["error"]) == (400, "invalid_json")


@pytest.mark.parametrize(
    ("signature", "status", "code"),
    [
        (None, 400, "missing_hmac"),                  # no header: refused before the body is read
        ("", 400, "missing_hmac"),
        ("short", 401, "invalid_hmac"),               # cannot be a SHA-256 digest: no hashing at all
        ("é" * 44, 401, "invalid_hmac"),              # not ASCII
        ("A" * 43 + "=", 401, "invalid_hmac"),        # right shape, wrong value
    ],
)
def test_broken_signatures_map_to_fixed_codes(post_webhook: Any, signature: str | None, status: int,
                                              code: str) -> None:
    response = post_webhook(web_order(), headers={"X-Shopify-Hmac-Sha256": signature})
    assert (response.status_code, response.get_json()["error"]) == (status, code)
    assert count(WebhookReceipt) == 0


def test_webhooks_keep_their_own_5_mib_limit(post_webhook: Any) -> None:
    order = web_order(note="n" * (3 * 1024 * 1024))  # over the app-wide 1 MiB, under the webhooks' 5 MiB
    assert post_webhook(order).status_code == 200


def test_signature_is_checked_on_raw_bytes_not_a_re_serialisation(post_webhook: Any) -> None:
    body = b'{"id":  1,\n "note": "caf\\u00e9", "created_at": "2026-11-20T10:00:00Z"}'
    assert post_webhook(body).status_code == 200


# -- replays across shops -------------------------------------------------------------------------------
@pytest.fixture
def victim(configure_shop: Any) -> int:
    """A configured, installed shop the attacker wants to hurt."""
    shop = configure_shop(OTHER)
    return int(shop.id)


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("shop/redact", {"shop_id": 1, "shop_domain": SHOP}),
        ("customers/redact", {"shop_domain": SHOP, "customer": {"id": 1}, "orders_to_redact": [1]}),
        ("app/uninstalled", {"id": 1, "domain": "shop.example", "myshopify_domain": SHOP}),
        ("orders/create", web_order(order_status_url=f"https://{SHOP}/1/orders/abc/authenticate?key=k")),
        ("checkouts/update", completed_checkout(abandoned_checkout_url=f"https://{SHOP}/1/checkouts/ac/x/recover")),
    ],
)
def test_a_body_signed_for_one_shop_changes_nothing_for_another(post_webhook: Any, victim: int, topic: str,
                                                                payload: dict[str, Any]) -> None:
    before = count(Event, shop_id=victim)
    response = post_webhook(payload, topic, shop=OTHER)
    assert (response.status_code, response.get_json()["error"]) == (400, "shop_mismatch")
    shop = db.session.get(Shop, victim)
    assert shop is not None and shop.installed and shop.settings is not None
    assert count(Event, shop_id=victim) == before
    assert count(WebhookReceipt) == 0


def test_custom_storefront_domains_keep_working(post_webhook: Any, victim: int) -> None:
    order = web_order(order_status_url="https://shop.example/73193881903/orders/abc/authenticate?key=k")
    assert post_webhook(order, shop=OTHER).get_json() == {"status": "accepted"}
    assert count(Event, shop_id=victim) == 1


def test_matching_payload_shop_is_accepted(post_webhook: Any, victim: int) -> None:
    order = web_order(order_status_url=f"https://{OTHER.upper()}/1/orders/abc/authenticate?key=k")
    assert post_webhook(order, shop=OTHER).status_code == 200
    assert post_webhook({"customer": {"id": 9}, "shop_domain": OTHER}, "customers/data_request",
                        shop=OTHER).status_code == 200


# -- replays across time ------------------------------------------------------------------------------
def _stamp(delta: timedelta) -> str:
    return (now_utc() + delta).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


@pytest.mark.parametrize(
    ("triggered_at", "status"),
    [
        (_stamp(timedelta(hours=-13)), 400),          # older than Shopify's retries last
        (_stamp(timedelta(hours=2)), 400),            # far in the future
        (_stamp(timedelta(hours=-4)), 200),           # a late Shopify retry
        (_stamp(timedelta(minutes=5)), 200),          # Shopify's clock slightly ahead
        ("yesterday-ish", 200),                       # unreadable: cannot judge, accepted
    ],
)
def test_triggered_at_window(post_webhook: Any, triggered_at: str, status: int) -> None:
    response = post_webhook(web_order(), headers={"X-Shopify-Triggered-At": triggered_at})
    assert response.status_code == status
    assert count(WebhookReceipt) == (1 if status == 200 else 0)


def test_missing_triggered_at_is_accepted(post_webhook: Any) -> None:
    assert post_webhook(web_order(), headers={"X-Shopify-Triggered-At": None}).status_code == 200


def test_replayed_shop_redact_for_an_installed_shop_deletes_nothing(post_webhook: Any, victim: int) -> None:
    response = post_webhook({"shop_id": 1, "shop_domain": OTHER}, "shop/redact", shop=OTHER)
    assert response.get_json() == {"status": "ignored"}
    assert count(Shop, domain=OTHER) == 1
    receipt = db.session.execute(select(WebhookReceipt)).scalar_one()
    assert receipt.outcome == "shop_installed"


def test_uninstall_triggered_before_the_latest_install_changes_nothing(post_webhook: Any, victim: int) -> None:
    shop = db.session.get(Shop, victim)
    assert shop is not None
    shop.installed_at = now_utc() - timedelta(minutes=10)
    db.session.commit()
    old = _stamp(timedelta(hours=-1))
    response = post_webhook({"myshopify_domain": OTHER}, "app/uninstalled", shop=OTHER,
                            headers={"X-Shopify-Triggered-At": old})
    assert response.get_json() == {"status": "ignored"}
    db.session.rollback()
    assert db.session.get(Shop, victim).installed is True  # type: ignore[union-attr]
    fresh = post_webhook({"myshopify_domain": OTHER}, "app/uninstalled", shop=OTHER)
    assert fresh.get_json() == {"status": "accepted"}
    db.session.rollback()
    assert db.session.get(Shop, victim).installed is False  # type: ignore[union-attr]
