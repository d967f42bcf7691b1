"""The status line: one state naming the worst problem with its next step, the rest listed under it; and the
setup guide's single rule. Through GET /api/status, with the facts written as rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import crypto
from app.merchant.status import combine
from app.models import ShopDeliveryState, db, now_utc
from tests.event_rows import add_event
from tests.jwt_helpers import bearer, use_session_secrets


@pytest.fixture(autouse=True)
def _secrets(app: Flask) -> None:
    use_session_secrets(app)


def _problem(key: str, **extra: Any) -> dict[str, Any]:
    return {"key": key, "tone": "warning", "heading": key, "message": key + ".", "action": None, **extra}


@pytest.mark.parametrize("state, found, shown, listed", [
    ("working", [], "working", []),                                          # nothing needs the merchant
    ("working", [_problem("failed"), _problem("pixel")], "attention", ["pixel"]),   # worst one named
    ("working", [_problem("admin_api", listed_only=True)], "working", ["admin_api"]),  # sending works
    ("working", [_problem("admin_api", listed_only=True), _problem("pixel")], "attention", ["admin_api"]),
    ("paused", [_problem("failed")], "paused", ["failed"]),                 # the pause comes first
    ("disabled", [_problem("missing")], "disabled", ["missing"]),
    ("delayed", [_problem("customer_details")], "delayed", ["customer_details"]),
])
def test_one_status_names_the_worst_problem(state: str, found: list[dict[str, Any]], shown: str,
                                            listed: list[str]) -> None:
    result = combine({"state": state, "heading": "x", "message": "x."}, found)
    assert result["state"] == shown
    assert [p["key"] for p in result["problems"]] == listed
    if shown == "attention":
        assert result["reason"] == found[[p.get("listed_only") for p in found].index(None)]["key"]


def _health(client: FlaskClient) -> dict[str, Any]:
    db.session.commit()
    return client.get("/api/status", headers=bearer()).get_json()["health"]


def _working_shop(configure_shop: Any, **settings: Any) -> Any:
    shop = configure_shop(**settings)
    shop.shopify_token_enc = crypto.encrypt("shpat_fake_valid_0001")
    db.session.merge(ShopDeliveryState(shop_id=shop.id,
                                       last_success_at=now_utc() - timedelta(minutes=3)))
    db.session.commit()
    return shop


def test_a_failed_order_in_the_last_day_turns_working_into_its_count_and_step(
    client: FlaskClient, configure_shop: Any
) -> None:
    shop = _working_shop(configure_shop)
    assert _health(client)["state"] == "working"
    old = now_utc() - timedelta(days=3)
    add_event(shop.id, status="failed", received_at=old, updated_at=old, error_message="Bad request.")
    assert _health(client)["state"] == "working"  # failed days ago: shown in the table, not the status
    add_event(shop.id, status="failed", error_message="Invalid parameter: custom_data.contents[0].item_price.")
    add_event(shop.id, status="failed", error_code="expired", error_message="Not delivered within 72 hours.")
    health = _health(client)
    assert (health["state"], health["reason"], health["heading"]) == ("attention", "failed",
                                                                      "2 orders failed in the last day")
    assert health["message"] == ("Pinterest refused 1 order and 1 order couldn't be sent in time. Each failed "
                                 "order below says why and what to do.")
    assert health["action"] == {"label": "Show failed orders", "target": "failed-orders"}


def test_customer_details_missing_is_named_with_its_cost_and_next_step(
    client: FlaskClient, configure_shop: Any
) -> None:
    shop = _working_shop(configure_shop)
    for _ in range(12):  # Level 1 only: browser and click id, never email, phone or address
        add_event(shop.id, match_keys="ip_ua click_id", action_source="web")
    health = _health(client)
    assert (health["state"], health["reason"]) == ("attention", "customer_details")
    assert health["heading"] == "Shopify isn't sending customer details with your orders"
    assert "Level 2 protected customer data" in health["message"]
    assert "Email, Phone and Address show 0%" in health["message"]
    assert health["action"]["url"].startswith("https://shopify.dev/")


def test_an_out_of_date_pixel_is_listed_under_a_worse_problem(client: FlaskClient, configure_shop: Any) -> None:
    shop = _working_shop(configure_shop, tag_id="2612345678901")
    add_event(shop.id, action_source="web", tag_matched=False, tag_event_id="another-id")
    add_event(shop.id, status="failed", error_message="Bad request.")
    health = _health(client)
    assert health["reason"] == "failed"
    assert [(p["key"], p["heading"]) for p in health["problems"]] == [
        ("pixel", "Your Pinterest Tag pixel is out of date")]


def test_with_no_tag_id_saved_the_pixel_problem_is_the_missing_tag_id_as_the_pixel_card_says(
    client: FlaskClient, configure_shop: Any
) -> None:
    """A Tag fired with another id, but no Tag id is saved: the page offers no code to paste again yet."""
    shop = _working_shop(configure_shop)  # saved without a Tag id
    add_event(shop.id, action_source="web", tag_matched=False, tag_event_id="another-id")
    health = _health(client)
    card = client.get("/api/pixel", headers=bearer()).get_json()
    assert (card["tag_id_saved"], card["headline"]) == (False, "No Pinterest Tag id saved")
    assert (health["state"], health["reason"], health["heading"]) == ("attention", "pixel", card["headline"])
    assert "out of date" not in health["heading"] + health["message"]
    assert health["message"] == ("In the last day a Pinterest Tag fired with a different order reference than "
                                 "Pinbridge for 1 purchase, so Pinterest may count it twice. Save your Pinterest "
                                 "Tag id, then copy Pinbridge's code into Settings → Customer events.")
    assert health["action"] == {"label": "Save your Tag id", "target": "pixel"}


def test_paused_and_off_say_when_held_orders_expire(client: FlaskClient, configure_shop: Any) -> None:
    from zoneinfo import ZoneInfo

    from app.merchant.explain import local_time

    shop = _working_shop(configure_shop)
    db.session.get(ShopDeliveryState, shop.id).iana_timezone = "America/New_York"
    shop.settings.enabled = False
    first = now_utc() - timedelta(hours=60)
    add_event(shop.id, status="pending", received_at=first, available_at=first)
    add_event(shop.id, status="pending", received_at=now_utc() - timedelta(hours=1))
    health = _health(client)
    expires = local_time(first + timedelta(hours=72), ZoneInfo("America/New_York"))
    assert health["state"] == "disabled"
    assert health["message"].endswith(f"Held orders are kept 72 hours: the oldest expires {expires}, and 1 order "
                                      "will expire within a day unless sending resumes.")
    assert expires.endswith(("EST", "EDT"))
    assert "expiring" not in [p["key"] for p in health["problems"]]  # said once, in the status itself


def test_the_setup_guide_follows_one_rule_and_its_dismissal_is_remembered(
    client: FlaskClient, configure_shop: Any
) -> None:
    shop = _working_shop(configure_shop)
    shop.settings.connection_status = "ok"
    db.session.commit()
    setup = client.get("/api/status", headers=bearer()).get_json()["setup"]
    assert (setup["connected"], setup["test_event"], setup["first_order"], setup["pixel"]) == (True, True, True, False)
    assert setup["optional"] == ["pixel"] and setup["dismissed"] is False

    # Pinterest refuses the token: the steps that build on it un-tick together.
    shop.settings.connection_status = "rejected"
    db.session.commit()
    setup = client.get("/api/status", headers=bearer()).get_json()["setup"]
    assert (setup["connected"], setup["test_event"], setup["first_order"], setup["refused"]) == (
        False, False, False, True)

    assert client.put("/api/setup", json={"dismissed": True}, headers=bearer()).get_json() == {"dismissed": True}
    assert client.get("/api/status", headers=bearer()).get_json()["setup"]["dismissed"] is True
    assert client.put("/api/setup", json={"dismissed": "yes"}, headers=bearer()).status_code == 422
    assert client.put("/api/setup", json={"dismissed": False}, headers=bearer()).status_code == 200
    assert client.get("/api/status", headers=bearer()).get_json()["setup"]["dismissed"] is False


def test_orders_shopify_has_are_named_until_a_check_of_their_day_finds_nothing(
    client: FlaskClient, configure_shop: Any
) -> None:
    from app.models import DayRecovery, ShopifyDailyOrders

    shop = _working_shop(configure_shop)
    now = now_utc()
    day, old = (now - timedelta(days=2)).date(), (now - timedelta(days=10)).date()
    for when in (day, old):
        moment = now.replace(year=when.year, month=when.month, day=when.day, hour=12, minute=0)
        add_event(shop.id, received_at=moment, occurred_at=moment)
        db.session.add(ShopifyDailyOrders(shop_id=shop.id, day=when, orders=3, timezone="UTC", counted_at=now))
    health = _health(client)
    # Two days fall short; only the one Pinterest would still accept is offered.
    assert (health["reason"], health["heading"]) == ("missing", "Shopify has 2 orders Pinbridge never received")
    assert health["days"] == [day.isoformat()] and health["action"]["target"] == "recover"

    db.session.add(DayRecovery(shop_id=shop.id, day=day, status="running", requested_at=now, started_at=now))
    health = _health(client)  # being recovered: the status says so, with nothing for the merchant to do
    assert (health["reason"], health["tone"], health["action"]) == ("missing", "info", None)
    assert health["message"].startswith("Pinbridge is reading your orders for ")

    recovery = db.session.query(DayRecovery).one()
    recovery.status, recovery.finished_at, recovery.seen, recovery.found = "done", now, 3, 0
    health = _health(client)
    assert health["state"] == "working" and health["problems"] == []  # Shopify had nothing more to send
