"""Pinbridge switches its own app pixel on: webPixelCreate / webPixelUpdate through shopifyapp, scopes asked for."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.models import Shop, db
from app.shopify import web_pixel
from tests.jwt_helpers import bearer, use_session_secrets
from tests.shopify.test_reconcile import TOKEN, against_admin_schema, give_admin_token
from tests.standins.shopify_graphql import ShopifyAdminStandin

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = {"ACCESS_QUERY": web_pixel.ACCESS_QUERY, "PIXEL_QUERY": web_pixel.PIXEL_QUERY,
             "CREATE_MUTATION": web_pixel.CREATE_MUTATION, "UPDATE_MUTATION": web_pixel.UPDATE_MUTATION}


@pytest.fixture
def shop(app: Flask, configure_shop: Any, admin: ShopifyAdminStandin) -> Shop:
    record: Shop = configure_shop()
    give_admin_token(record)
    use_session_secrets(app)
    return record


def connect(client: FlaskClient) -> dict[str, Any]:
    response = client.post("/api/pixel/connect", headers=bearer())
    assert response.status_code == 200
    return dict(response.get_json()["app_pixel"])


def settings_sent(admin: ShopifyAdminStandin, operation: str) -> list[dict[str, Any]]:
    return [json.loads(r.variables["webPixel"]["settings"]) for r in admin.graphql(operation)]


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_every_web_pixel_document_is_valid_for_the_admin_schema(name: str) -> None:
    errors, deprecated = against_admin_schema(DOCUMENTS[name])
    assert errors == []
    assert deprecated == []


def test_the_settings_sent_are_the_ones_the_extension_defines(shop: Shop) -> None:
    toml = tomllib.loads((ROOT / "extensions" / "pinbridge-beacon" / "shopify.extension.toml").read_text())
    assert set(web_pixel.desired_settings(shop, "https://app.example/")) == set(toml["settings"]["fields"])


def test_without_the_scopes_nothing_is_created_and_the_page_says_why(
    client: FlaskClient, shop: Shop, admin: ShopifyAdminStandin
) -> None:
    state = connect(client)
    assert (state["granted"], state["connected"]) == (False, False)
    assert state["error"] == web_pixel.NOT_GRANTED and "custom pixel pasted by hand" in state["declined_loses"]
    assert admin.graphql("PinbridgeWebPixelCreate") == []


def test_once_granted_the_pixel_is_created_then_updated_when_a_setting_it_carries_changes(
    client: FlaskClient, shop: Shop, admin: ShopifyAdminStandin, configure_shop: Any
) -> None:
    admin.scopes = ["read_orders", "write_pixels", "read_customer_events"]
    state = connect(client)
    assert (state["granted"], state["connected"], state["up_to_date"], state["error"]) == (True, True, True, None)
    assert settings_sent(admin, "PinbridgeWebPixelCreate") == [
        {"appUrl": "http://localhost", "eventIdSource": "cart_token"}]
    assert all(r.token == TOKEN for r in admin.graphql())
    connect(client)  # nothing changed: no second create, no update
    assert len(admin.graphql("PinbridgeWebPixelCreate")) == 1 and admin.graphql("PinbridgeWebPixelUpdate") == []
    configure_shop(event_id_source="checkout_token")
    body = client.get("/api/pixel", headers=bearer()).get_json()
    assert body["app_pixel"]["up_to_date"] is False
    assert connect(client)["up_to_date"] is True
    assert settings_sent(admin, "PinbridgeWebPixelUpdate") == [
        {"appUrl": "http://localhost", "eventIdSource": "checkout_token"}]
    assert admin.graphql("PinbridgeWebPixelUpdate")[0].variables["id"] == "gid://shopify/WebPixel/1"


def test_a_pixel_created_before_is_found_and_updated(client: FlaskClient, shop: Shop,
                                                     admin: ShopifyAdminStandin) -> None:
    admin.scopes = ["read_orders", "write_pixels", "read_customer_events"]
    admin.web_pixel = {"id": "gid://shopify/WebPixel/7", "settings": json.dumps({"appUrl": "https://old.example",
                                                                                  "eventIdSource": "order_id"})}
    assert connect(client)["connected"] is True
    assert admin.graphql("PinbridgeWebPixelUpdate")[0].variables["id"] == "gid://shopify/WebPixel/7"
    db.session.rollback()
    assert db.session.get(Shop, shop.id).web_pixel_id == "gid://shopify/WebPixel/7"  # type: ignore[union-attr]


def test_shopify_refusals_are_shown_in_plain_words(client: FlaskClient, shop: Shop,
                                                   admin: ShopifyAdminStandin) -> None:
    admin.scopes = ["read_orders", "write_pixels", "read_customer_events"]
    admin.pixel_errors = [{"code": "NO_EXTENSION", "field": None, "message": "No extension found"}]
    state = connect(client)
    assert state["connected"] is False and "npm run deploy" in state["error"]
    assert connect(client)["connected"] is True  # deployed since: the next try works


def test_the_app_asks_only_read_orders_and_the_pixel_scopes_as_optional() -> None:
    config = tomllib.loads((ROOT / "shopify.app.toml").read_text())
    scopes = config["access_scopes"]
    assert scopes["scopes"] == "read_orders"
    assert sorted(scopes["optional_scopes"]) == sorted(web_pixel.PIXEL_SCOPES)


def test_after_a_settings_save_only_an_existing_pixel_is_updated(
    client: FlaskClient, shop: Shop, admin: ShopifyAdminStandin, configure_shop: Any
) -> None:
    admin.scopes = ["read_orders", "write_pixels", "read_customer_events"]
    answer = client.post("/api/pixel/connect?if_on=1", headers=bearer()).get_json()["app_pixel"]
    assert answer["connected"] is False and admin.graphql() == []  # never switched on: nothing asked of Shopify
    assert connect(client)["connected"] is True
    configure_shop(event_id_source="order_id")
    answer = client.post("/api/pixel/connect?if_on=1", headers=bearer()).get_json()["app_pixel"]
    assert answer["up_to_date"] is True
    assert settings_sent(admin, "PinbridgeWebPixelUpdate")[-1]["eventIdSource"] == "order_id"


def test_new_shops_report_the_buyers_currency_and_existing_choices_stay(configure_shop: Any) -> None:
    """The pixel sees only the buyer's money, so a new shop sends that; a shop that chose its own keeps it."""
    from app.shops import get_or_create_shop

    fresh = get_or_create_shop("new-shop.myshopify.com")
    db.session.commit()
    assert fresh.settings is not None and fresh.settings.currency_mode == "presentment"
    chosen = configure_shop(currency_mode="shop")
    db.session.rollback()
    assert db.session.get(Shop, chosen.id).settings.currency_mode == "shop"  # type: ignore[union-attr]
