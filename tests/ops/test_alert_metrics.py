"""The per-shop gauges the alerting rules read: paused, sending off, unreadable bodies, Shopify orders missing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from flask.testing import FlaskClient

from app.models import Event, PinterestSettings, ShopifyDailyOrders, WebhookReceipt, db, now_utc
from app.ops.alert_metrics import ShopAlerts
from app.shops import get_or_create_shop
from tests.conftest import SHOP
from tests.ops.test_scrape import scrape, value

OTHER = "second-store.myshopify.com"


def test_a_paused_shop_and_one_turned_off(client: FlaskClient, configure_shop: Any) -> None:
    configure_shop()
    second = configure_shop(OTHER, enabled=False)
    settings = db.session.get(PinterestSettings, configure_shop().settings.id)
    assert settings is not None
    settings.connection_status = "rejected"
    db.session.commit()
    samples = scrape(client)
    assert value(samples, "pinbridge_shop_paused", shop=SHOP, reason="rejected") == 1
    assert value(samples, "pinbridge_shop_paused", shop=OTHER, reason="unknown") == 0
    assert ("pinbridge_shop_paused", frozenset({("shop", OTHER), ("reason", "unknown")})) in samples
    assert value(samples, "pinbridge_shop_sending_enabled", shop=SHOP) == 1
    assert ("pinbridge_shop_sending_enabled", frozenset({("shop", OTHER)})) in samples
    assert value(samples, "pinbridge_shop_sending_enabled", shop=OTHER) == 0
    # An uninstalled shop is nobody's alert.
    second.installed = False
    db.session.commit()
    assert ("pinbridge_shop_sending_enabled", frozenset({("shop", OTHER)})) not in scrape(client)


def receipt(webhook_id: str, outcome: str, received_at: datetime, shop: str = SHOP,
            held: bytes | None = None) -> WebhookReceipt:
    return WebhookReceipt(webhook_id=webhook_id, shop_domain=shop, topic="orders/create", outcome=outcome,
                          received_at=received_at, held_body=held)


def test_unreadable_bodies_held_sealed(client: FlaskClient) -> None:
    now = now_utc()
    db.session.add_all([
        receipt("w-1", "unreadable_body", now - timedelta(minutes=5), held=b"sealed"),
        receipt("w-2", "unreadable_body", now - timedelta(days=20), held=b"sealed"),  # held until retention
        receipt("w-3", "unreadable_body", now - timedelta(hours=30)),  # deleted by a privacy request: not held
        receipt("w-4", "accepted", now),
        receipt("w-5", "unreadable_body", now, shop=OTHER, held=b"sealed"),
    ])
    db.session.commit()
    samples = scrape(client)
    assert value(samples, "pinbridge_unreadable_bodies", shop=SHOP) == 2
    assert value(samples, "pinbridge_unreadable_bodies", shop=OTHER) == 1


def add_order(shop_id: int, occurred_at: datetime, n: int, source: str = "order") -> None:
    db.session.add(Event(shop_id=shop_id, event_id=f"evt-{source}-{occurred_at.isoformat()}-{n}", source=source,
                         status="delivered", received_at=occurred_at, occurred_at=occurred_at,
                         available_at=occurred_at, payload={}))


def test_orders_shopify_counted_that_never_arrived(app: Flask) -> None:
    zone = ZoneInfo("Australia/Brisbane")  # UTC+10, no daylight saving
    now = datetime(2026, 12, 10, 6, 0, tzinfo=UTC)  # 16:00 on Dec 10 in Brisbane
    shop = get_or_create_shop(SHOP)
    db.session.flush()
    counts = {9: 5, 8: 4, 7: 3, 5: 7}  # Dec 6 was never counted: the run is Dec 7-9
    for day, orders in counts.items():
        db.session.add(ShopifyDailyOrders(shop_id=shop.id, day=datetime(2026, 12, day).date(), orders=orders,
                                          timezone="Australia/Brisbane", counted_at=now))
    for day, ours in {9: 5, 8: 2, 7: 3, 6: 9, 5: 0}.items():
        noon = datetime(2026, 12, day, 12, 0, tzinfo=zone).astimezone(UTC)
        for n in range(ours):
            add_order(shop.id, noon + timedelta(minutes=n), n, source="reconcile" if n == 0 else "order")
    add_order(shop.id, datetime(2026, 12, 8, 23, 30, tzinfo=zone).astimezone(UTC), 99, source="verify")  # a test
    db.session.commit()
    [missing] = [f for f in ShopAlerts(now).families() if f.name == "pinbridge_shopify_orders_missing"]
    assert [(s.labels, s.value) for s in missing.samples] == [({"shop": SHOP}, 2)]  # Dec 8: 4 counted, 2 here


def test_no_count_yet_no_sample(app: Flask) -> None:
    get_or_create_shop(SHOP)
    db.session.commit()
    families = {f.name: f for f in ShopAlerts(now_utc()).families()}
    assert families["pinbridge_shopify_orders_missing"].samples == []
    assert families["pinbridge_unreadable_bodies"].samples == []
