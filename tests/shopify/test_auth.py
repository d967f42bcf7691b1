"""Token exchange on the first verified page load, and offline tokens refreshed before they expire.

Shopify's token endpoint is stood in at the HTTP-client level (httpx.MockTransport): it is the one
process edge these tests cannot run for real.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import crypto
from app.models import Shop, db, now_utc
from app.shopify.auth import REFRESH_MARGIN, offline_token
from app.shops import get_or_create_shop
from tests.conftest import API_KEY, SHOP
from tests.jwt_helpers import (
    SESSION_SECRET,
    ShopifyTokenEndpoint,
    initial_data,
    session_token,
    token_endpoint,
    use_session_secrets,
)


@pytest.fixture(autouse=True)
def _secrets(app: Flask) -> None:
    use_session_secrets(app)


@pytest.fixture
def shopify(app: Flask) -> Iterator[ShopifyTokenEndpoint]:
    yield from token_endpoint(app)


def _load(client: FlaskClient, token: str | None = None) -> Any:
    db.session.rollback()
    return client.get(f"/?embedded=1&shop={SHOP}&host=abc&id_token={token or session_token()}")


def _shop() -> Shop:
    db.session.rollback()
    return get_or_create_shop(SHOP)


def test_first_load_exchanges_for_an_expiring_offline_token(client: FlaskClient,
                                                            shopify: ShopifyTokenEndpoint) -> None:
    token = session_token()
    assert _load(client, token).status_code == 200
    (sent,) = shopify.requests
    assert sent["url"] == f"https://{SHOP}/admin/oauth/access_token"
    assert sent["body"] == {
        "client_id": API_KEY, "client_secret": SESSION_SECRET,
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": token, "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token", "expiring": 1,
    }
    shop = _shop()
    assert shop.shopify_token_enc and "shpat_fake_0001" not in shop.shopify_token_enc
    assert crypto.decrypt(shop.shopify_token_enc) == "shpat_fake_0001"
    assert crypto.decrypt(shop.shopify_refresh_token_enc or "") == "shprt_fake_0001"
    assert shop.shopify_token_expires_at is not None
    assert timedelta(minutes=59) < shop.shopify_token_expires_at - now_utc() <= timedelta(minutes=60)
    assert shop.shopify_scope == "read_orders" and shop.token_exchange_error is None


def test_later_loads_reuse_the_stored_token(client: FlaskClient, shopify: ShopifyTokenEndpoint) -> None:
    _load(client)
    _load(client)
    assert len(shopify.requests) == 1


def test_load_near_expiry_exchanges_again(client: FlaskClient, shopify: ShopifyTokenEndpoint) -> None:
    _load(client)
    shop = _shop()
    shop.shopify_token_expires_at = now_utc() + timedelta(seconds=REFRESH_MARGIN - 10)
    db.session.commit()
    _load(client)
    assert len(shopify.requests) == 2
    assert crypto.decrypt(_shop().shopify_token_enc or "") == "shpat_fake_0002"


@pytest.mark.parametrize("answer, shown", [
    (httpx.Response(400, json={"error": "invalid_client"}), "Shopify refused the app's credentials"),
    (httpx.Response(400, json={"error": "invalid_request"}), "Shopify token exchange failed (exchange_error)"),
    (httpx.Response(503, text="unavailable"), "Shopify token exchange failed"),
])
def test_exchange_failure_is_recorded_and_shown_never_raised(
    client: FlaskClient, shopify: ShopifyTokenEndpoint, answer: httpx.Response, shown: str
) -> None:
    shopify.answers.append(answer)
    response = _load(client)
    assert response.status_code == 200
    assert shown in (_shop().token_exchange_error or "")
    assert shown in initial_data(response)["admin_api"]["error"]  # the page's Admin API banner says it
    assert _shop().shopify_token_enc is None


def test_network_failure_is_recorded(client: FlaskClient, app: Flask) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with httpx.Client(transport=httpx.MockTransport(refuse)) as broken:
        app.config["SHOPIFY_HTTP_CLIENT"] = broken
        assert _load(client).status_code == 200
    assert _shop().token_exchange_error == "Shopify could not be reached; Pinbridge tries again on the next page load."


def test_shopify_refusing_the_session_token_bounces_to_the_patch_page(
    client: FlaskClient, shopify: ShopifyTokenEndpoint
) -> None:
    shopify.answers.append(httpx.Response(400, json={"error": "invalid_subject_token"}))
    response = _load(client)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("http://localhost/auth/patch-id-token?")
    assert "shopify-reload=" in response.headers["Location"]


# -- offline_token -----------------------------------------------------------------------------
def _stored(app: Flask, *, expires_in: float, refresh_expires_in: float = 86_400) -> Shop:
    shop = get_or_create_shop(SHOP)
    now = now_utc()
    shop.shopify_token_enc = crypto.encrypt("shpat_stored")
    shop.shopify_token_expires_at = now + timedelta(seconds=expires_in)
    shop.shopify_refresh_token_enc = crypto.encrypt("shprt_stored")
    shop.shopify_refresh_expires_at = now + timedelta(seconds=refresh_expires_in)
    shop.shopify_scope = "read_orders"
    db.session.commit()
    return shop


def test_offline_token_is_used_as_is_while_fresh(app: Flask, shopify: ShopifyTokenEndpoint) -> None:
    shop = _stored(app, expires_in=3000)
    assert offline_token(shop) == "shpat_stored"
    assert shopify.requests == []


def test_offline_token_is_refreshed_before_it_expires(app: Flask, shopify: ShopifyTokenEndpoint) -> None:
    shop = _stored(app, expires_in=REFRESH_MARGIN - 60)
    assert offline_token(shop) == "shpat_fake_0001"
    db.session.commit()
    (sent,) = shopify.requests
    assert sent["url"] == f"https://{SHOP}/admin/oauth/access_token"
    assert sent["body"]["grant_type"] == "refresh_token" and sent["body"]["refresh_token"] == "shprt_stored"
    shop = _shop()
    assert crypto.decrypt(shop.shopify_refresh_token_enc or "") == "shprt_fake_0001"  # refresh tokens rotate
    assert shop.shopify_token_expires_at is not None and shop.shopify_token_expires_at > now_utc() + timedelta(
        minutes=59)


def test_failed_refresh_keeps_a_still_valid_token_and_records_why(app: Flask,
                                                                  shopify: ShopifyTokenEndpoint) -> None:
    shop = _stored(app, expires_in=120)
    shopify.answers.append(httpx.Response(400, json={"error": "invalid_grant"}))
    assert offline_token(shop) == "shpat_stored"
    assert shop.token_exchange_error


def test_expired_token_without_a_working_refresh_is_none(app: Flask, shopify: ShopifyTokenEndpoint) -> None:
    shop = _stored(app, expires_in=-60, refresh_expires_in=-1)
    assert offline_token(shop) is None
    assert shopify.requests == []  # an expired refresh token is not even tried
    assert "refresh token expired" in (shop.token_exchange_error or "")


def test_no_token_after_uninstall(app: Flask, shopify: ShopifyTokenEndpoint) -> None:
    shop = _stored(app, expires_in=3000)
    shop.installed = False
    assert offline_token(shop) is None
