"""Recovering one day's orders: the merchant's request (POST /api/recoveries), the worker's run against a
GraphQL stand-in at the HTTP-client level, and what the page is told (GET /api/status)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.models import DayRecovery, Event, Shop, ShopifyDailyOrders, db, now_utc
from app.shopify import recovery
from tests.conftest import SHOP
from tests.event_rows import add_event
from tests.factories import web_order
from tests.jwt_helpers import OTHER_SHOP, bearer, use_session_secrets
from tests.shopify.test_reconcile import TOKEN, give_admin_token
from tests.standins.shopify_graphql import ShopifyAdminStandin, graphql_order


@pytest.fixture(autouse=True)
def _secrets(app: Flask) -> None:
    use_session_secrets(app)


@pytest.fixture
def shop(configure_shop: Any, admin: ShopifyAdminStandin) -> Shop:
    record: Shop = configure_shop()
    give_admin_token(record)
    return record


def _ask(client: FlaskClient, day: Any, shop: str = SHOP) -> Any:
    return client.post("/api/recoveries", json={"day": day}, headers=bearer(shop=shop))


def _recoveries(client: FlaskClient) -> list[dict[str, Any]]:
    return client.get("/api/status", headers=bearer()).get_json()["recoveries"]


def test_a_day_is_read_from_shopify_and_only_its_missing_orders_are_sent(
    client: FlaskClient, shop: Shop, admin: ShopifyAdminStandin
) -> None:
    yesterday = (now_utc() - timedelta(days=1)).date()
    start = now_utc().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    made = [web_order() for _ in range(5)]
    admin.add(*(graphql_order(o, created_at=start + timedelta(hours=2 + i)) for i, o in enumerate(made)))
    admin.add(graphql_order(web_order(), created_at=start - timedelta(hours=3)))  # the day before: not read
    for order in made[:2]:  # these two arrived by webhook
        add_event(shop.id, event_id=order["cart_token"], order_id=str(order["id"]))
    shop.installed_at = now_utc() - timedelta(days=10)  # Shopify's count is kept only for days installed
    db.session.commit()

    answer = _ask(client, yesterday.isoformat())
    assert answer.status_code == 202
    assert answer.get_json()["status"] == "requested" and answer.get_json()["day"] == yesterday.isoformat()
    assert _ask(client, yesterday.isoformat()).get_json()["status"] == "requested"  # asked twice: one request
    assert db.session.scalar(select(db.func.count()).select_from(DayRecovery)) == 1
    assert admin.graphql("ReconcileOrders") == []  # the web request never waits on Shopify

    assert recovery.Recoveries()(now_utc()) == 1
    db.session.rollback()
    [shown] = _recoveries(client)
    assert (shown["status"], shown["seen"], shown["found"], shown["message"]) == ("done", 5, 3, None)
    recovered = db.session.scalars(select(Event).where(Event.source == "reconcile")).all()
    assert sorted(e.event_id for e in recovered) == sorted(o["cart_token"] for o in made[2:])
    # The day's count comes with it, so the page's "not received" figure updates too.
    counted = db.session.get(ShopifyDailyOrders, (shop.id, yesterday))
    assert counted is not None and counted.orders == 5

    assert recovery.Recoveries()(now_utc()) == 0  # nothing left to run
    again = _ask(client, yesterday.isoformat())
    assert again.status_code == 202 and again.get_json()["status"] == "requested"  # a new check of the day


def test_a_refused_shopify_token_fails_the_request_with_a_next_step(
    client: FlaskClient, shop: Shop, admin: ShopifyAdminStandin
) -> None:
    admin.revoke(TOKEN)
    shop.shopify_refresh_token_enc = None
    db.session.commit()
    assert _ask(client, (now_utc() - timedelta(days=2)).date().isoformat()).status_code == 202
    assert recovery.Recoveries()(now_utc()) == 1
    db.session.rollback()
    [shown] = _recoveries(client)
    assert shown["status"] == "failed"
    assert shown["message"] == ("Pinbridge can't read your orders in Shopify. Reload the page to reconnect, "
                                "then try again.")


@pytest.mark.parametrize("day, error", [
    ("yesterday", "Send a day as YYYY-MM-DD."),                                     # not a date
    ("2026-02-30", "Send a day as YYYY-MM-DD."),                                    # no such day
    (None, "Send a day as YYYY-MM-DD."),
    ("+10", "Send a day as YYYY-MM-DD."),
    ("future", "This day hasn't started yet."),
    ("old", "Pinterest accepts orders up to 7 days old, so this day can't be sent any more."),
])
def test_days_that_cannot_be_recovered_are_refused(client: FlaskClient, shop: Shop, day: Any, error: str) -> None:
    today = now_utc().date()
    value = {"future": (today + timedelta(days=2)).isoformat(),
             "old": (today - timedelta(days=9)).isoformat()}.get(day, day)
    answer = _ask(client, value)
    assert answer.status_code == 422 and answer.get_json() == {"errors": {"day": error}}
    assert db.session.scalar(select(db.func.count()).select_from(DayRecovery)) == 0


def test_without_the_admin_api_the_page_is_told_to_reconnect(client: FlaskClient, configure_shop: Any) -> None:
    configure_shop()
    answer = _ask(client, date.today().isoformat())
    assert answer.status_code == 409 and "Reload the page to connect" in answer.get_json()["message"]


def test_a_shop_sees_only_its_own_recoveries(client: FlaskClient, shop: Shop, configure_shop: Any) -> None:
    configure_shop(OTHER_SHOP)
    give_admin_token(db.session.scalar(select(Shop).where(Shop.domain == OTHER_SHOP)))
    assert _ask(client, now_utc().date().isoformat(), shop=OTHER_SHOP).status_code == 202
    assert _recoveries(client) == []


def test_a_run_whose_worker_died_is_taken_over(client: FlaskClient, shop: Shop, admin: ShopifyAdminStandin) -> None:
    assert _ask(client, now_utc().date().isoformat()).status_code == 202
    row = db.session.scalars(select(DayRecovery)).one()
    row.status, row.started_at = "running", now_utc() - timedelta(seconds=recovery.STALE_AFTER + 5)
    db.session.commit()
    assert recovery.Recoveries()(now_utc()) == 1
    db.session.rollback()
    assert _recoveries(client)[0]["status"] == "done"


def test_the_worker_runs_a_request_on_its_own(app: Flask, client: FlaskClient, shop: Shop,
                                              admin: ShopifyAdminStandin) -> None:
    from app.delivery import Worker

    start = now_utc().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    admin.add(graphql_order(web_order(), created_at=start + timedelta(hours=5)))
    shop.last_reconciled_at = now_utc()  # the hourly run is not due: only the merchant's request reads Shopify
    db.session.commit()
    assert _ask(client, start.date().isoformat()).status_code == 202
    worker = Worker(app, worker_id="worker-a")
    worker.run_once()
    worker.client.close()
    db.session.rollback()
    [shown] = _recoveries(client)
    assert (shown["status"], shown["found"]) == ("done", 1)
    assert len(admin.graphql("ReconcileOrders")) == 1
