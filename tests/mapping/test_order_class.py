"""The per-class send settings through the JSON API, the older include_offline_orders switch, and the
migration that carries that switch over."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.config import normalise_database_url
from app.models import PinterestSettings, db
from app.settings import mapping_options
from app.shops import get_or_create_shop
from tests.conftest import SHOP, _test_config, new_pg_database
from tests.jwt_helpers import bearer, use_session_secrets

SEND_KEYS = ("send_pos", "send_draft", "send_subscription", "send_other_channels")


@pytest.fixture(autouse=True)
def _secrets(app: Flask) -> None:
    use_session_secrets(app)


def _put(client: FlaskClient, body: Any) -> Any:
    return client.put("/api/settings", json=body, headers=bearer(shop=SHOP))


def _stored() -> PinterestSettings:
    db.session.rollback()
    settings = get_or_create_shop(SHOP).settings
    assert settings is not None
    return settings


def test_defaults_count_only_shopper_actions_online(client: FlaskClient) -> None:
    view = client.get("/api/settings", headers=bearer()).get_json()
    assert {key: view[key] for key in SEND_KEYS} == {
        "send_pos": "skip", "send_draft": "skip", "send_subscription": "skip", "send_other_channels": "web"}
    assert view["include_offline_orders"] is False


def test_each_class_setting_round_trips_and_reaches_the_mapping(client: FlaskClient) -> None:
    body = {"send_pos": "offline", "send_draft": "web", "send_subscription": "offline",
            "send_other_channels": "skip"}
    saved = _put(client, body).get_json()
    read = client.get("/api/settings", headers=bearer()).get_json()
    for view in (saved, read):
        assert {key: view[key] for key in SEND_KEYS} == body
        assert view["include_offline_orders"] is True          # POS goes out as offline
    options = mapping_options(_stored())
    assert [options.send_as(k) for k in ("pos", "draft", "subscription", "other_channels", "web")] == [
        "offline", "web", "offline", "skip", "web"]


@pytest.mark.parametrize("value", ["offline-ish", None, True, "WEB"])
def test_an_unknown_choice_is_422(client: FlaskClient, value: Any) -> None:
    response = _put(client, {"send_subscription": value})
    assert response.status_code == 422
    assert "send_subscription" in response.get_json()["errors"]
    assert _stored().send_subscription == "skip"


def test_the_older_switch_sets_pos_and_draft(client: FlaskClient) -> None:
    on = _put(client, {"include_offline_orders": True}).get_json()
    assert (on["send_pos"], on["send_draft"], on["include_offline_orders"]) == ("offline", "offline", True)
    mixed = _put(client, {"include_offline_orders": False, "send_draft": "web"}).get_json()
    assert (mixed["send_pos"], mixed["send_draft"], mixed["include_offline_orders"]) == ("skip", "web", False)
    assert mixed["send_subscription"] == "skip"                # never touched by the switch


@pytest.fixture
def empty_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A database with no tables yet, on the backend this run tests (the shared ones are migrated already)."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    with new_pg_database("pinbridge_migrate") as url:
        yield url


def test_the_migration_keeps_offline_orders_on_for_shops_that_had_them(tmp_path: Path, empty_database: str) -> None:
    from flask_migrate import downgrade, upgrade

    from app import create_app

    url = empty_database
    app = create_app(_test_config(url, tmp_path, "http://127.0.0.1:9/v5"))
    with app.app_context():
        assert db.engine.dialect.name == make_url(normalise_database_url(url)).get_backend_name()
        upgrade(revision="0003")
        with db.engine.begin() as conn:
            for shop_id, flag in ((1, True), (2, False)):
                conn.execute(text("INSERT INTO shops (id, domain, installed, installed_at) "
                                  "VALUES (:id, :d, :t, '2026-11-01 00:00:00')"),
                             {"id": shop_id, "d": f"s{shop_id}.myshopify.com", "t": True})
                conn.execute(text("INSERT INTO pinterest_settings (shop_id, enabled, test_mode, event_id_source,"
                                  " content_id_source, value_mode, currency_mode, include_offline_orders,"
                                  " limited_data_processing, connection_status, updated_at) VALUES (:id, :t, :f,"
                                  " 'cart_token', 'product_id', 'subtotal', 'shop', :flag, :f, 'unknown',"
                                  " '2026-11-01 00:00:00')"), {"id": shop_id, "flag": flag, "t": True, "f": False})
        upgrade(revision="0004")
        engine = create_engine(normalise_database_url(url))
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT shop_id, send_pos, send_draft, send_subscription, "
                                     "send_other_channels FROM pinterest_settings ORDER BY shop_id")).all()
        engine.dispose()
        assert [tuple(row) for row in rows] == [(1, "offline", "offline", "skip", "web"),
                                               (2, "skip", "skip", "skip", "web")]
        downgrade(revision="0003")
        db.engine.dispose()
