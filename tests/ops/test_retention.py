"""Retention: old events leave, their daily counts stay for the dashboard; old receipts and heartbeats leave."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app import locks
from app.database import reading
from app.merchant.stats import daily
from app.models import DailyStat, Event, Shop, WebhookReceipt, WorkerHeartbeat, db
from app.ops import retention

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=40)
_SERIAL = itertools.count(1)  # unique event ids (an id() of a freed object can repeat)


def add_event(shop: Shop, received_at: datetime, status: str = "delivered", source: str = "order") -> Event:
    event = Event(shop_id=shop.id, event_id=f"evt-{received_at.timestamp()}-{status}-{source}-{next(_SERIAL)}",
                  source=source, status=status, received_at=received_at, available_at=received_at,
                  payload={"event_name": "checkout"}, order_id="5912345678901234567", email_refs="ab" * 32)
    db.session.add(event)
    db.session.flush()
    return event


def count(model: Any) -> int:
    with reading():
        return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def shop(configure_shop: Any) -> Shop:
    record: Shop = configure_shop()
    return record


def test_old_final_events_become_daily_counts(shop: Shop) -> None:
    for status, source in [("delivered", "order"), ("delivered", "order"), ("failed", "checkout"),
                           ("skipped", "reconcile"), ("delivered", "reconcile"), ("delivered", "verify")]:
        add_event(shop, OLD + timedelta(hours=3), status, source)
    stuck = add_event(shop, OLD - timedelta(days=1), "pending")  # not final: never deleted under the worker
    cutoff = retention.event_cutoff(NOW, 30)
    assert cutoff == datetime(2026, 10, 23, tzinfo=UTC)  # whole UTC days go at once
    add_event(shop, cutoff - timedelta(seconds=1))
    just_after = add_event(shop, cutoff + timedelta(seconds=1))
    recent = add_event(shop, NOW - timedelta(days=2))
    db.session.commit()

    assert retention.purge_events(NOW, 30) == 7

    kept = set(db.session.scalars(select(Event.id)))
    assert kept == {stuck.id, just_after.id, recent.id}
    stats = {s.day: s for s in db.session.scalars(select(DailyStat))}
    day = stats[OLD.date()]
    # verify (test) events are never counted; reconciled orders count as recovered
    assert (day.orders_received, day.delivered, day.failed, day.skipped, day.recovered) == (5, 3, 1, 1, 2)
    assert stats[(cutoff - timedelta(days=1)).date()].orders_received == 1  # the last purged day
    dashboard = {row["day"]: row for row in daily(shop.id, 60, NOW)}
    assert dashboard[OLD.date().isoformat()] | {"pending": 0} == {
        "day": OLD.date().isoformat(), "orders_received": 5, "delivered": 3, "failed": 1, "skipped": 1,
        "pending": 0, "recovered": 2}

    db.session.rollback()  # the app's writes refuse to start inside the test's read
    assert retention.purge_events(NOW, 30) == 0  # nothing left to fold twice
    db.session.rollback()
    assert db.session.get(DailyStat, day.id).orders_received == 5


def test_purging_runs_in_batches_and_adds_up(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retention, "BATCH", 3)
    for hour in range(7):
        add_event(shop, OLD + timedelta(hours=hour))
    db.session.commit()
    assert retention.purge_events(NOW, 30) == 7
    assert count(Event) == 0
    [stat] = db.session.scalars(select(DailyStat))
    assert (stat.orders_received, stat.delivered) == (7, 7)


def test_receipts_go_after_their_own_period_and_never_block_an_event_purge(shop: Shop) -> None:
    old_event = add_event(shop, OLD)
    for days, name in [(15, "old"), (13, "recent")]:
        db.session.add(WebhookReceipt(webhook_id=f"hook-{name}", shop_domain=shop.domain, topic="orders/create",
                                      received_at=NOW - timedelta(days=days), outcome="queued",
                                      event_row_id=old_event.id))
    db.session.commit()
    assert retention.purge(NOW, event_days=30, receipt_days=14) == retention.Purged(1, 1, 0)
    [receipt] = db.session.scalars(select(WebhookReceipt))
    assert (receipt.webhook_id, receipt.event_row_id) == ("hook-recent", None)


def test_heartbeats_of_stopped_workers_are_forgotten(app: Flask) -> None:
    db.session.add_all([
        WorkerHeartbeat(worker_id="gone", last_seen_at=NOW - timedelta(days=2), started_at=NOW - timedelta(days=3)),
        WorkerHeartbeat(worker_id="alive", last_seen_at=NOW, started_at=NOW - timedelta(hours=1)),
    ])
    db.session.commit()
    assert retention.purge_heartbeats(NOW) == 1
    assert list(db.session.scalars(select(WorkerHeartbeat.worker_id))) == ["alive"]


def test_the_periodic_job_uses_the_configured_days_and_one_worker_at_a_time(app: Flask, shop: Shop) -> None:
    app.config["EVENT_RETENTION_DAYS"] = 7
    add_event(shop, NOW - timedelta(days=9))
    db.session.commit()
    assert locks.acquire("retention", "worker-a", NOW, 600)
    assert retention.Retention(app.config, "worker-b")(NOW) is None
    assert count(Event) == 1
    locks.release("retention", "worker-a")
    assert retention.Retention(app.config, "worker-b")(NOW) == retention.Purged(1, 0, 0)
    assert count(Event) == 0
