"""/api/*: session-token checks, settings with validation, shop isolation, verify, stats, events, retry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import crypto
from app.models import DailyStat, Event, PinterestSettings, ShopDeliveryState, db, now_utc
from app.settings import STORED_INVALID
from app.shops import get_or_create_shop
from tests.conftest import API_KEY, SHOP
from tests.event_rows import add_event
from tests.jwt_helpers import OLD_SESSION_SECRET, OTHER_SHOP, bearer, session_token, use_session_secrets
from tests.standins.pinterest import PinterestStandin

RETRY = "X-Shopify-Retry-Invalid-Session-Request"


@pytest.fixture(autouse=True)
def _secrets(app: Flask) -> None:
    use_session_secrets(app)


def _put(client: FlaskClient, body: Any, shop: str = SHOP) -> Any:
    return client.put("/api/settings", json=body, headers=bearer(shop=shop))


def _settings(shop: str = SHOP) -> PinterestSettings:
    db.session.rollback()
    settings = get_or_create_shop(shop).settings
    assert settings is not None
    return settings


# -- session tokens ----------------------------------------------------------------------------
# Tokens are signed when each test runs (they live one minute), so the tables hold how to build them.
@pytest.mark.parametrize("headers, code, retry", [
    (lambda: {}, "missing_session_token", False),                                        # no header
    (lambda: {"Authorization": "Basic dXNlcjpwYXNz"}, "invalid_session_token", True),    # not a bearer
    (lambda: bearer("not.a.jwt"), "invalid_session_token", True),                        # garbage
    (lambda: bearer(exp_in=-30), "expired_session_token", True),                         # past the leeway
    (lambda: bearer(aud="some-other-app"), "wrong_audience", True),                      # another app's
    (lambda: bearer(secret="shpss_" + "ba5ec7e7" * 6), "invalid_signature", True),       # wrong secret
    (lambda: bearer(nbf_in=120), "invalid_session_token", True),                         # not valid yet
    (lambda: bearer(drop=("dest",)), "invalid_session_token", True),                     # no destination
    (lambda: bearer(dest="https://evil.example.com"), "invalid_destination", True),      # not a shop
    (lambda: bearer(iss="https://other-store.myshopify.com/admin"), "invalid_issuer", True),  # other shop
])
def test_untrusted_session_tokens_get_401(client: FlaskClient, headers: Callable[[], dict[str, str]],
                                          code: str, retry: bool) -> None:
    response = client.get("/api/settings", headers=headers())
    assert response.status_code == 401
    assert response.get_json()["error"] == code
    assert (response.headers.get(RETRY) == "1") is retry


@pytest.mark.parametrize("claims", [
    {"exp_in": -5},                      # expired 5 s ago: inside the 10 s clock-skew allowance
    {"secret": OLD_SESSION_SECRET},      # signed with the previous secret during rotation
    {"drop": ("iss", "sub")},            # optional claims may be absent
])
def test_acceptable_session_tokens(client: FlaskClient, claims: dict[str, Any]) -> None:
    assert client.get("/api/settings", headers=bearer(session_token(**claims))).status_code == 200


def test_shop_comes_from_the_token_never_from_parameters(client: FlaskClient) -> None:
    assert _put(client, {"ad_account_id": "111"}).status_code == 200
    other = client.get(f"/api/settings?shop={SHOP}", headers=bearer(shop=OTHER_SHOP)).get_json()
    assert other["ad_account_id"] is None
    assert _put(client, {"ad_account_id": "222", "shop": SHOP}, shop=OTHER_SHOP).status_code == 422
    assert _put(client, {"ad_account_id": "222"}, shop=OTHER_SHOP).status_code == 200
    assert _settings(SHOP).ad_account_id == "111" and _settings(OTHER_SHOP).ad_account_id == "222"


def test_no_shopify_call_is_needed(client: FlaskClient, app: Flask) -> None:
    app.config["SHOPIFY_HTTP_CLIENT"] = None  # no token exchange ever happened: the API still works
    assert _put(client, {"ad_account_id": "549755885175", "access_token": "pina_x_9999"}).status_code == 200
    status = client.get("/api/status", headers=bearer()).get_json()
    assert status["admin_api"]["connected"] is False


# -- settings ----------------------------------------------------------------------------------
def test_settings_round_trip_keeps_the_token_write_only(client: FlaskClient) -> None:
    body = {"ad_account_id": "549755885175", "access_token": "pina_secret_value_abcd", "test_mode": True,
            "event_id_source": "checkout_token", "value_mode": "total"}
    saved = _put(client, body).get_json()
    read = client.get("/api/settings", headers=bearer()).get_json()
    for view in (saved, read):
        assert "pina_secret_value_abcd" not in str(view)
        assert view["has_access_token"] is True and view["access_token_last4"] == "abcd"
        assert view["test_mode"] is True and view["event_id_source"] == "checkout_token"
    stored = _settings()
    assert stored.access_token_enc != "pina_secret_value_abcd"
    assert crypto.decrypt(stored.access_token_enc or "") == "pina_secret_value_abcd"


def test_partial_update_changes_only_what_is_sent(client: FlaskClient) -> None:
    _put(client, {"ad_account_id": "549755885175", "access_token": "pina_a_0001", "value_mode": "total"})
    after = _put(client, {"limited_data_processing": True}).get_json()
    assert after["value_mode"] == "total" and after["ad_account_id"] == "549755885175"
    assert after["limited_data_processing"] is True and after["access_token_last4"] == "0001"


@pytest.mark.parametrize("body, field", [
    ({"ad_account_id": "12ab"}, "ad_account_id"),                   # not digits
    ({"ad_account_id": "1" * 19}, "ad_account_id"),                 # longer than 18
    ({"access_token": "   "}, "access_token"),                      # blank
    ({"access_token": "has spaces in it"}, "access_token"),         # not a token
    ({"ad_account_id": "１２３４５６７８９０"}, "ad_account_id"),         # full-width digits: not 0-9
    ({"ad_account_id": "١٢٣٤٥٦٧٨٩"}, "ad_account_id"),              # Arabic-Indic digits
    ({"ad_account_id": "𝟏𝟐𝟑"}, "ad_account_id"),                    # mathematical bold digits
    ({"ad_account_id": "123\n456"}, "ad_account_id"),                # a newline inside
    ({"tag_id": "２６１４"}, "tag_id"),                              # full-width digits
    ({"tag_id": "𝟐𝟔𝟏𝟒"}, "tag_id"),                                # mathematical bold digits
    ({"access_token": "pina_abc\u200bdef"}, "access_token"),         # a zero-width space inside
    ({"access_token": "pina_äbc"}, "access_token"),                 # a letter no Bearer token holds
    ({"access_token": "pina=abc"}, "access_token"),                 # `=` only as padding at the end
    ({"enabled": "yes"}, "enabled"),                                # not a boolean
    ({"event_id_source": "email"}, "event_id_source"),              # not a choice
    ({"currency_mode": None}, "currency_mode"),                     # null is not a choice
    ({"shop": OTHER_SHOP}, "shop"),                                 # unknown setting
    ([1, 2], "_"),                                                  # not an object
])
def test_invalid_settings_are_422_per_field_and_nothing_is_saved(client: FlaskClient, body: Any,
                                                                field: str) -> None:
    _put(client, {"ad_account_id": "549755885175"})
    sent = {**body, "test_mode": True} if isinstance(body, dict) else body
    response = _put(client, sent)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert _settings().test_mode is False and _settings().ad_account_id == "549755885175"


# -- verify ------------------------------------------------------------------------------------
def test_verify_without_credentials_says_what_to_do(client: FlaskClient, pinterest: PinterestStandin) -> None:
    response = client.post("/api/settings/verify", headers=bearer())
    assert response.status_code == 409
    assert response.get_json()["message"] == "Save the ad account id and the access token first."
    assert pinterest.requests == []


def test_verify_sends_one_test_event_and_reports_acceptance(client: FlaskClient, configure_shop: Any,
                                                            pinterest: PinterestStandin) -> None:
    configure_shop()
    body = client.post("/api/settings/verify", headers=bearer()).get_json()
    assert body["ok"] is True and body["message"] == "Pinterest accepted the test event."
    (sent,) = pinterest.wait_for_requests(1)
    assert sent.test is True and sent.ad_account_id == "549755885175" and len(sent.events) == 1
    assert pinterest.violations == []
    assert _settings().connection_status == "ok"
    events = client.get("/api/events", headers=bearer()).get_json()["events"]
    assert [(e["source"], e["status"], e["test"]) for e in events] == [("verify", "delivered", True)]


def test_rejected_token_pauses_and_a_later_success_resumes(client: FlaskClient, configure_shop: Any,
                                                           pinterest: PinterestStandin) -> None:
    configure_shop()
    pinterest.reject_token("pina_test_token_0001", status=401, message="Authentication failed.")
    body = client.post("/api/settings/verify", headers=bearer()).get_json()
    assert body == {**body, "ok": False, "outcome": "rejected_token",
                    "message": "Pinterest didn't accept the access token. Create a new conversion access token "
                               "in Pinterest Ads Manager, paste it here and save.",
                    "pinterest_message": "Authentication failed."}
    assert _settings().paused and _settings().connection_message == "Authentication failed."
    health = client.get("/api/status", headers=bearer()).get_json()["health"]
    assert health["state"] == "paused" and health["reason"] == "token"
    assert health["message"].startswith("Pinterest no longer accepts your conversion access token.")
    assert health["action"] == {"label": "Update access token", "target": "access_token"}
    assert health["pinterest_message"] == "Authentication failed."
    pinterest.accept_token("pina_test_token_0001")
    assert client.post("/api/settings/verify", headers=bearer()).get_json()["ok"] is True
    assert not _settings().paused
    assert client.get("/api/status", headers=bearer()).get_json()["health"]["state"] == "working"


def test_a_403_points_at_the_ad_account_not_the_token(client: FlaskClient, configure_shop: Any,
                                                      pinterest: PinterestStandin) -> None:
    configure_shop(ad_account_id="549755885175")
    pinterest.reject_token("pina_test_token_0001", status=403, message="Not authorized to access ad account.")
    body = client.post("/api/settings/verify", headers=bearer()).get_json()
    assert body["outcome"] == "refused_ad_account"
    assert "isn't allowed to send conversions for ad account 549755885175" in body["message"]
    assert body["pinterest_message"] == "Not authorized to access ad account."
    health = client.get("/api/status", headers=bearer()).get_json()["health"]
    assert health["state"] == "paused" and health["reason"] == "ad_account"
    assert health["action"] == {"label": "Check ad account id", "target": "ad_account_id"}
    assert "ad account id is wrong" in health["message"]


def test_unreachable_pinterest_is_reported_and_changes_nothing(client: FlaskClient, configure_shop: Any,
                                                               pinterest: PinterestStandin) -> None:
    configure_shop()
    pinterest.set_mode("unavailable")
    body = client.post("/api/settings/verify", headers=bearer()).get_json()
    assert body["outcome"] == "unavailable"
    assert body["message"] == ("Pinterest is having trouble on its side. Try the test again in a minute; "
                               "orders are kept meanwhile.")
    assert _settings().connection_status == "unknown"


def test_tokens_and_ids_of_every_documented_character_are_accepted(client: FlaskClient) -> None:
    body = {"ad_account_id": "000549755885175", "tag_id": "2614000000001",
            "access_token": "pina_AbC-0.9~x+y/z=="}
    assert _put(client, body).status_code == 200
    assert crypto.decrypt(_settings().access_token_enc or "") == "pina_AbC-0.9~x+y/z=="


@pytest.mark.parametrize("column, value, field", [
    ("access_token_enc", "pina_abc\u200bdef", "access_token"),    # saved before tokens were checked
    ("ad_account_id", "１２３４５６", "ad_account_id"),             # saved when `\d` took any digit
])
def test_verify_reports_saved_credentials_that_no_longer_validate(
        client: FlaskClient, configure_shop: Any, pinterest: PinterestStandin, column: str, value: str,
        field: str) -> None:
    configure_shop()
    settings = _settings()
    setattr(settings, column, crypto.encrypt(value) if column == "access_token_enc" else value)
    db.session.commit()
    response = client.post("/api/settings/verify", headers=bearer())
    assert response.status_code == 200
    body = response.get_json()
    assert body["ok"] is False and body["outcome"] == "invalid_saved"
    assert body["message"] == STORED_INVALID[field]
    assert pinterest.requests == []
    health = client.get("/api/status", headers=bearer()).get_json()["health"]
    assert health["state"] == "paused" and health["message"].startswith(STORED_INVALID[field])
    configure_shop()  # saving valid credentials again lifts the pause
    assert client.post("/api/settings/verify", headers=bearer()).get_json()["ok"] is True


def test_stats_count_per_day_with_coverage_and_latency(client: FlaskClient) -> None:
    shop = get_or_create_shop(SHOP)
    now = now_utc()
    yesterday = now - timedelta(days=1)
    add_event(shop.id, received_at=now - timedelta(minutes=3), match_keys="em ph ip_ua", delay=10)
    add_event(shop.id, received_at=now - timedelta(minutes=2), match_keys="em click_id address", delay=20)
    add_event(shop.id, received_at=now - timedelta(minutes=1), source="reconcile", match_keys="ip_ua", delay=90)
    add_event(shop.id, received_at=yesterday, status="failed", error_message="Invalid event.")
    add_event(shop.id, received_at=yesterday, status="skipped", skip_reason="no email")
    add_event(shop.id, received_at=yesterday, status="sending")
    add_event(shop.id, received_at=now - timedelta(days=20))                       # outside the window
    add_event(shop.id, source="verify", match_keys="em")                          # a test from the page
    add_event(get_or_create_shop(OTHER_SHOP).id)                                  # another shop
    db.session.commit()
    body = client.get("/api/stats?days=14", headers=bearer()).get_json()
    assert len(body["daily"]) == 14 and body["daily"][-1]["day"] == now.date().isoformat()
    today, before = body["daily"][-1], body["daily"][-2]
    assert (today["orders_received"], today["delivered"], today["recovered"]) == (3, 3, 1)
    assert (before["failed"], before["skipped"], before["pending"]) == (1, 1, 1)
    assert body["totals"]["orders_received"] == 6
    assert body["coverage"]["delivered"] == 3
    assert body["coverage"]["share"] == {"em": 0.6667, "ph": 0.3333, "ip_ua": 0.6667, "click_id": 0.3333,
                                         "address": 0.3333}
    assert body["latency"] == {"p50_seconds": 20.0, "p95_seconds": 90.0, "samples": 3}


@pytest.mark.parametrize("query", ["days=0", "days=91", "days=abc", "days=-1", "days=²"])  # ² is a digit to Python
def test_stats_days_are_validated(client: FlaskClient, query: str) -> None:
    response = client.get(f"/api/stats?{query}", headers=bearer())
    assert response.status_code == 422 and "days" in response.get_json()["errors"]


def test_events_list_has_no_personal_data_and_filters(client: FlaskClient) -> None:
    shop = get_or_create_shop(SHOP)
    add_event(shop.id, customer_ref="c" * 64, email_refs="e" * 64)
    add_event(shop.id, status="failed", error_message="Invalid parameter.")
    db.session.commit()
    events = client.get("/api/events", headers=bearer()).get_json()["events"]
    assert len(events) == 2
    assert set(events[0]) == {"event_id", "order_name", "source", "status", "test", "value", "currency",
                              "message", "error_code", "match_keys", "attempts", "received_at",
                              "delivered_at", "next_attempt_at", "reason", "pinterest_message", "warning",
                              "next_step", "waiting"}
    assert "c" * 64 not in str(events) and "e" * 64 not in str(events)
    failed = client.get("/api/events?status=failed&limit=5", headers=bearer()).get_json()["events"]
    assert [e["message"] for e in failed] == ["Invalid parameter."]
    bad = client.get("/api/events?status=lost&limit=500", headers=bearer())
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"status", "limit"}


def test_retry_moves_failed_events_back_to_pending_for_this_shop_only(client: FlaskClient) -> None:
    shop, other = get_or_create_shop(SHOP), get_or_create_shop(OTHER_SHOP)
    mine = add_event(shop.id, status="failed", error_code="failed", error_message="Invalid.")
    picked = add_event(shop.id, status="failed")
    old = add_event(shop.id, status="failed", received_at=now_utc() - timedelta(days=4))
    test = add_event(shop.id, status="failed", source="verify")
    theirs = add_event(other.id, status="failed")
    ids = {name: ev.id for name, ev in
           {"mine": mine, "picked": picked, "old": old, "test": test, "theirs": theirs}.items()}
    picked_event_id = picked.event_id
    db.session.commit()
    one = client.post("/api/events/retry", json={"event_ids": [picked_event_id]}, headers=bearer())
    assert one.get_json() == {"retried": 1}
    assert client.post("/api/events/retry", headers=bearer()).get_json() == {"retried": 1}
    db.session.rollback()
    status = {name: db.session.get(Event, row_id).status for name, row_id in ids.items()}
    assert status == {"mine": "pending", "picked": "pending", "old": "failed", "test": "failed",
                      "theirs": "failed"}
    assert db.session.get(Event, ids["mine"]).error_message is None
    assert client.post("/api/events/retry", json={"event_ids": "all"}, headers=bearer()).status_code == 422


@pytest.mark.parametrize("setup, state", [
    ({}, "not_configured"),
    ({"configured": True}, "waiting"),
    ({"configured": True, "enabled": False}, "disabled"),
    ({"configured": True, "connection_status": "ok"}, "working"),
    ({"configured": True, "connection_status": "rejected"}, "paused"),
    ({"configured": True, "connection_status": "ok", "late": True}, "delayed"),     # nothing picked it up
    ({"configured": True, "connection_status": "ok", "failing": 90}, "delayed"),    # 90 s of 503s
    ({"configured": True, "connection_status": "ok", "failing": 20}, "working"),    # a blip, not yet
])
def test_status_banner_states(client: FlaskClient, configure_shop: Any, setup: dict[str, Any],
                              state: str) -> None:
    if setup.get("configured"):
        shop = configure_shop(enabled=setup.get("enabled", True))
        shop.settings.connection_status = setup.get("connection_status", "unknown")
        if setup.get("late"):
            add_event(shop.id, status="pending", available_at=now_utc() - timedelta(hours=1),
                      error_message="Pinterest did not answer in time.")
        if setup.get("failing"):
            since = now_utc() - timedelta(seconds=setup["failing"])
            add_event(shop.id, status="pending", available_at=now_utc() + timedelta(seconds=30))
            db.session.add(ShopDeliveryState(shop_id=shop.id, failure_class="pinterest",
                                             failure_message="Service Unavailable", failing_since=since,
                                             last_failure_at=now_utc()))
        db.session.commit()
    health = client.get("/api/status", headers=bearer()).get_json()["health"]
    assert health["state"] == state
    if state == "delayed":
        assert health["waiting"] == 1
        assert "1 order is waiting and will be sent automatically." in health["message"]
        assert health["since"] is not None
    if setup.get("failing") == 90:
        assert health["message"].startswith("Pinterest is having trouble on its side.")
        assert health["pinterest_message"] == "Service Unavailable"


def test_waiting_orders_are_counted_and_expiry_is_announced(client: FlaskClient, configure_shop: Any) -> None:
    shop = configure_shop(enabled=False)
    now = now_utc()
    add_event(shop.id, status="pending", received_at=now - timedelta(hours=60))   # expires in 12 h
    add_event(shop.id, status="pending", received_at=now - timedelta(hours=2))
    db.session.commit()
    health = client.get("/api/status", headers=bearer()).get_json()["health"]
    assert health["state"] == "disabled" and health["waiting"] == 2
    assert "2 orders received while off are held and will be sent when you turn it back on." in health["message"]
    assert health["expiring"]["count"] == 1 and health["max_age_hours"] == 72
    expires = datetime.fromisoformat(health["expiring"]["at"].replace("Z", "+00:00"))
    assert abs((expires - (now + timedelta(hours=12))).total_seconds()) < 5
    totals = client.get("/api/stats?days=7", headers=bearer()).get_json()["totals"]
    assert totals["pending"] == 2


def test_days_follow_the_shop_time_zone(client: FlaskClient) -> None:
    shop = get_or_create_shop(SHOP)
    db.session.add(ShopDeliveryState(shop_id=shop.id, iana_timezone="Pacific/Auckland"))
    late_utc = now_utc().replace(hour=23, minute=30, second=0, microsecond=0) - timedelta(days=2)
    add_event(shop.id, received_at=late_utc)  # 23:30 UTC is the next morning in Auckland
    db.session.commit()
    body = client.get("/api/stats?days=7", headers=bearer()).get_json()
    assert body["timezone"] == "Pacific/Auckland"
    local_day = late_utc.astimezone(ZoneInfo("Pacific/Auckland")).date().isoformat()
    assert [r["day"] for r in body["daily"] if r["orders_received"]] == [local_day]


def test_failed_orders_carry_a_readable_reason_and_pinterest_words(client: FlaskClient) -> None:
    shop = get_or_create_shop(SHOP)
    add_event(shop.id, status="failed", error_code="failed",
              error_message="Invalid parameter: custom_data.contents[1].item_price is required.")
    db.session.commit()
    [event] = client.get("/api/events?status=failed", headers=bearer()).get_json()["events"]
    assert event["reason"] == "Line 2 has no price."
    assert event["pinterest_message"] == "Invalid parameter: custom_data.contents[1].item_price is required."


def test_api_key_is_the_audience(client: FlaskClient) -> None:
    assert client.get("/api/settings", headers=bearer(aud=API_KEY)).status_code == 200


def test_stats_add_the_counts_kept_for_purged_events(client: FlaskClient) -> None:
    shop = get_or_create_shop(SHOP)
    day = now_utc() - timedelta(days=5)
    db.session.add(DailyStat(shop_id=shop.id, day=day.date(), orders_received=7, delivered=5, failed=1,
                             skipped=1, recovered=2))
    add_event(shop.id, received_at=day, status="pending")  # still waiting, so retention kept it
    db.session.commit()
    body = client.get("/api/stats?days=7", headers=bearer()).get_json()
    row = next(r for r in body["daily"] if r["day"] == day.date().isoformat())
    assert row == {"day": day.date().isoformat(), "orders_received": 8, "delivered": 5, "failed": 1,
                   "skipped": 1, "pending": 1, "recovered": 2,
                   "shopify_orders": None, "pinbridge_orders": 0, "missing": None}  # no Shopify count


def test_stats_put_shopify_s_count_beside_each_day_in_the_shop_s_zone(client: FlaskClient) -> None:
    from app.models import ShopifyDailyOrders
    from app.shopify.daily import day_span

    zone = ZoneInfo("Australia/Brisbane")
    shop = get_or_create_shop(SHOP)
    shop.shopify_token_enc = crypto.encrypt("shpat_fake_valid_0001")
    db.session.add(ShopDeliveryState(shop_id=shop.id, iana_timezone="Australia/Brisbane"))
    now = now_utc()
    today = now.astimezone(zone).date()
    counted, unknown = today - timedelta(days=3), today - timedelta(days=2)
    start, end = day_span(counted, zone)
    for moment in (start + timedelta(hours=2), end - timedelta(minutes=30)):  # 23:30 in Brisbane is 13:30 UTC
        add_event(shop.id, received_at=moment, occurred_at=moment)
    db.session.add_all([
        ShopifyDailyOrders(shop_id=shop.id, day=counted, orders=5, timezone="Australia/Brisbane", counted_at=now),
        ShopifyDailyOrders(shop_id=shop.id, day=unknown, orders=9, timezone="Europe/Amsterdam",  # an old zone
                           counted_at=now),
    ])
    db.session.commit()
    body = client.get("/api/stats?days=7", headers=bearer()).get_json()
    assert body["timezone"] == "Australia/Brisbane"
    rows = {r["day"]: r for r in body["daily"]}
    assert (rows[counted.isoformat()]["shopify_orders"], rows[counted.isoformat()]["orders_received"],
            rows[counted.isoformat()]["missing"]) == (5, 2, 3)
    assert rows[unknown.isoformat()]["shopify_orders"] is None and rows[unknown.isoformat()]["missing"] is None
    assert rows[today.isoformat()]["shopify_orders"] is None
    assert {k: body["shopify"][k] for k in ("connected", "days_counted", "orders", "received", "missing")} == {
        "connected": True, "days_counted": 1, "orders": 5, "received": 2, "missing": 3}
    # Another shop sees none of it.
    other = client.get("/api/stats?days=7", headers=bearer(shop=OTHER_SHOP)).get_json()
    assert other["timezone"] == "UTC" and other["shopify"]["days_counted"] == 0
    assert all(r["shopify_orders"] is None for r in other["daily"])
