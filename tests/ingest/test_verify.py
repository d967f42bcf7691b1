"""Verification of a delivery as pure functions over bytes and headers: signature, headers, freshness, parse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from app.ingest import verify
from app.ingest.verify import _url_host
from tests.conftest import SHOP, sign, webhook_headers

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
SECRETS = ["current-secret", "previous-secret"]


class Headers(dict[str, str]):
    """Header look-up as the WSGI path and Flask give it: case-insensitive names."""

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        for name, value in self.items():
            if name.lower() == key.lower():
                return value
        return default


def headers(body: bytes, **changes: str | None) -> Headers:
    sent = webhook_headers(body, secret=SECRETS[0])
    for key, value in changes.items():
        name = key.replace("_", "-")
        if value is None:
            sent.pop(name, None)
        else:
            sent[name] = value
    return Headers(sent)


# -- the signature ------------------------------------------------------------------------------------------
def test_verifier_compares_in_constant_time_against_every_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every candidate digest goes through `hmac.compare_digest`: an `==` would leak the digest by timing."""
    compared: list[tuple[bytes, bytes]] = []
    real = verify.hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compared.append((bytes(a), bytes(b)))
        return real(a, b)

    monkeypatch.setattr(verify.hmac, "compare_digest", spy)
    body = b'{"id": 1}'
    verify.verify_signature(body, sign(body, "s1"), ["s0", "s1"])
    assert sorted(compared) == sorted([(sign(body, "s0").encode(), sign(body, "s1").encode()),
                                       (sign(body, "s1").encode(), sign(body, "s1").encode())])
    compared.clear()
    with pytest.raises(verify.WebhookRejected) as exc:
        verify.verify_signature(body, sign(body, "s2"), ["s0", "s1"])
    assert (exc.value.status, exc.value.code) == (401, "invalid_hmac")
    assert sorted(compared) == sorted([(sign(body, "s0").encode(), sign(body, "s2").encode()),
                                       (sign(body, "s1").encode(), sign(body, "s2").encode())])



# -- the headers, then the body -----------------------------------------------------------------------------
def test_a_signed_order_is_read_for_its_acknowledgement_only() -> None:
    body = b'{"id": 1, "email": "buyer@example.com", "order_status_url": "https://demo-store.myshopify.com/1/x"}'
    delivery = verify.verify_delivery(headers(body, **{"X-Shopify-Webhook-Id": "wh-1"}), body, SECRETS, 43200)
    assert (delivery.webhook_id, delivery.topic, delivery.shop_domain, delivery.api_version) == (
        "wh-1", "orders/create", SHOP, "2026-10")
    assert delivery.payload == {"order_status_url": "https://demo-store.myshopify.com/1/x"}  # no email parsed
    assert delivery.raw == body


@pytest.mark.parametrize(("changes", "body", "code", "status"), [
    ({"X-Shopify-Hmac-Sha256": None}, b"{}", "missing_hmac", 400),
    ({"X-Shopify-Topic": "  "}, b"{}", "missing_topic", 400),
    ({"X-Shopify-Shop-Domain": None}, b"{}", "missing_shop", 400),
    ({"X-Shopify-Shop-Domain": "not a shop"}, b"{}", "missing_shop", 400),
    ({}, b"[1, 2]", "invalid_json", 400),                                     # JSON, but not an object
    ({}, b"{'id': 1}", "invalid_json", 400),
    ({"X-Shopify-Topic": "app/uninstalled"}, b"[]", "invalid_json", 400),
    ({}, b'{"shop_domain": "victim-store.myshopify.com"}', "shop_mismatch", 400),
    ({"X-Shopify-Triggered-At": "2020-01-01T00:00:00Z"}, b"{}", "stale", 400),
])
def test_each_refusal_has_its_code_and_status(changes: dict[str, str | None], body: bytes, code: str,
                                             status: int) -> None:
    sent = headers(body, **changes)
    if "X-Shopify-Hmac-Sha256" not in changes:
        sent["X-Shopify-Hmac-Sha256"] = sign(body, SECRETS[0])
    with pytest.raises(verify.WebhookRejected) as refused:
        verify.verify_delivery(sent, body, SECRETS, 43200)
    assert (refused.value.code, refused.value.status) == (code, status)


def test_without_a_webhook_id_identical_deliveries_share_one() -> None:
    body = b'{"id": 1}'
    first = verify.verify_delivery(headers(body, **{"X-Shopify-Webhook-Id": None}), body, SECRETS, 43200)
    again = verify.verify_delivery(headers(body, **{"X-Shopify-Webhook-Id": None}), body, SECRETS, 43200)
    other = verify.verify_delivery(headers(b'{"id": 2}', **{"X-Shopify-Webhook-Id": None}), b'{"id": 2}',
                                   SECRETS, 43200)
    assert first.webhook_id == again.webhook_id != other.webhook_id
    assert first.webhook_id.startswith("sha256:")


# -- freshness ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "expected"), [
    ("2026-11-20T10:00:00.123456789Z", datetime(2026, 11, 20, 10, 0, 0, 123456, tzinfo=UTC)),  # nanoseconds cut
    ("2026-11-20T10:00:00Z", NOW),
    ("2026-11-20T12:00:00+02:00", NOW),
    ("2026-11-20T10:00:00", NOW),                     # no zone: UTC
    ("2026-13-20T10:00:00Z", None),                   # no such month
    ("yesterday", None),
    ("", None),
    (None, None),
])
def test_triggered_at_is_read_or_left_alone(value: str | None, expected: datetime | None) -> None:
    assert verify.parse_triggered_at(value) == expected


@pytest.mark.parametrize(("age", "refused"), [
    (timedelta(hours=-11, minutes=-59), False),       # a late retry inside the window
    (timedelta(hours=-12, seconds=-1), True),         # older than the window
    (timedelta(minutes=14), False),                   # Shopify's clock a little ahead
    (timedelta(minutes=16), True),                    # far in the future
])
def test_freshness_window(age: timedelta, refused: bool) -> None:
    stamp = (NOW + age).strftime("%Y-%m-%dT%H:%M:%SZ")
    if refused:
        with pytest.raises(verify.WebhookRejected):
            verify.check_freshness(stamp, NOW, 12 * 3600)
    else:
        verify.check_freshness(stamp, NOW, 12 * 3600)
    verify.check_freshness(stamp, NOW, 0)  # a window of 0 checks nothing


# -- the shop a payload names -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"shop_domain": "A.myshopify.com"}, "a.myshopify.com"),
        ({"myshopify_domain": "a.myshopify.com", "domain": "shop.example"}, "a.myshopify.com"),
        ({"order_status_url": "https://a.myshopify.com/1/orders/x"}, "a.myshopify.com"),
        ({"order_status_url": "https://shop.example/1/orders/x"}, None),       # custom domain: not comparable
        ({"abandoned_checkout_url": "https://checkout.local/1/checkouts/x"}, None),
        ({"order_status_url": "http://[::1"}, None),                           # unreadable URL
        ({"shop_domain": None, "order_status_url": 5}, None),
        ({"shop_domain": "evil.example"}, "evil.example"),                    # names a non-shop: mismatch
    ],
)
def test_payload_shop_table(payload: dict[str, Any], expected: str | None) -> None:
    assert verify.payload_shop(payload) == expected



@pytest.mark.parametrize("url", [
    "https://demo-store.myshopify.com/123/orders/abc/authenticate?key=x", "HTTPS://Demo-Store.MyShopify.com:443/x",
    "https://user:pw@demo-store.myshopify.com/x", " https://demo-store.myshopify.com", "demo-store.myshopify.com/x",
    "ftp://demo-store.myshopify.com/", "https://shop.example/x", "https://demo-store.myshopify.com?x",
    "https://demo-store.myshopify.com#top", "", "https://", "http://a.myshopify.com\\@evil.example/",
])
def test_the_url_host_the_shop_check_reads_is_the_one_urlsplit_reads(url: str) -> None:
    assert _url_host(url) == (urlsplit(url.strip()).hostname or "").lower()
