"""Retention: old events and webhook receipts are deleted; the dashboard's daily counts are kept.

Events (already hashed, but still about customers) are deleted `EVENT_RETENTION_DAYS` after the UTC day
they were received, whole days at a time, once they are final (delivered, failed or skipped). Before a
batch is deleted its counts are added to `daily_stats`, which the dashboard reads for days whose events
are gone. Webhook receipts only deduplicate redeliveries (Shopify retries for hours, not weeks) and go
after `RECEIPT_RETENTION_DAYS`. One worker at a time does this, under the `retention` lease.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select

from app import beacons, locks
from app.clock import HEARTBEAT_FUTURE_TOLERANCE
from app.database import writing
from app.inbox import records
from app.models import DailyStat, Event, EventStatus, ShopifyDailyOrders, WorkerHeartbeat, db
from app.vocabulary import PURCHASE_SOURCES, EventSource

logger = logging.getLogger(__name__)

BATCH = 2000  # rows per transaction, so neither database holds its locks for long
RUN_EVERY = 3600.0  # seconds
LEASE_NAME = "retention"
LEASE_SECONDS = 600
HEARTBEAT_KEEP = timedelta(days=1)  # rows of workers that stopped are forgotten after this
FINAL = (EventStatus.DELIVERED, EventStatus.FAILED, EventStatus.SKIPPED)
_COUNTED = {EventStatus.DELIVERED: "delivered", EventStatus.FAILED: "failed", EventStatus.SKIPPED: "skipped"}


@dataclass(frozen=True)
class Purged:
    events: int
    receipts: int
    heartbeats: int
    beacons: int = 0
    shopify_days: int = 0


def event_cutoff(now: datetime, days: int) -> datetime:
    """Start of the UTC day `days` ago: events received before it are purged, whole days at a time."""
    first_kept = (now - timedelta(days=days)).date()
    return datetime(first_kept.year, first_kept.month, first_kept.day, tzinfo=now.tzinfo)


def purge_events(now: datetime, days: int) -> int:
    """Fold final events received before the cutoff into daily_stats, then delete them."""
    cutoff, total = event_cutoff(now, days), 0
    while True:
        with writing():
            rows = db.session.execute(
                select(Event.id, Event.shop_id, Event.received_at, Event.status, Event.source)
                .where(Event.received_at < cutoff, Event.status.in_(FINAL))
                .order_by(Event.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            ).all()
            if rows:
                _fold_into_daily_stats(rows)
                db.session.execute(delete(Event).where(Event.id.in_([r.id for r in rows]))
                                   .execution_options(synchronize_session=False))
        total += len(rows)
        if len(rows) < BATCH:
            return total


def _fold_into_daily_stats(rows: Sequence[Any]) -> None:
    counts: dict[tuple[int, date], Counter[str]] = {}
    for row in rows:
        if row.source not in PURCHASE_SOURCES:  # `verify` test events are never counted
            continue
        tally = counts.setdefault((row.shop_id, row.received_at.date()), Counter())
        tally["orders_received"] += 1
        tally[_COUNTED[row.status]] += 1
        if row.source == EventSource.RECONCILE:
            tally["recovered"] += 1
    for (shop_id, day), tally in counts.items():
        stat = db.session.execute(
            select(DailyStat).where(DailyStat.shop_id == shop_id, DailyStat.day == day)
        ).scalar_one_or_none()
        if stat is None:
            stat = DailyStat(shop_id=shop_id, day=day, orders_received=0, delivered=0, failed=0, skipped=0,
                             recovered=0)
            db.session.add(stat)
        for field, count in tally.items():
            setattr(stat, field, getattr(stat, field) + count)
    db.session.flush()


def purge_receipts(now: datetime, days: int) -> int:
    """Delete webhook receipts older than `days`; a body still waiting for the worker is kept (inbox/records.py)."""
    return records.purge(now, days)


def purge_heartbeats(now: datetime) -> int:
    """Forget workers that stopped long ago, so health and metrics describe the living ones.

    `now` is the database's time. Rows stamped more than HEARTBEAT_FUTURE_TOLERANCE ahead of it come from
    a clock that was wrong; they go too (a running worker writes its row again within seconds).
    """
    with writing():
        count = int(db.session.execute(
            delete(WorkerHeartbeat).where(or_(WorkerHeartbeat.last_seen_at < now - HEARTBEAT_KEEP,
                                              WorkerHeartbeat.last_seen_at > now + HEARTBEAT_FUTURE_TOLERANCE))
            .execution_options(synchronize_session=False)
        ).rowcount or 0)  # type: ignore[attr-defined]
    return count


def purge_shopify_counts(now: datetime, days: int) -> int:
    """Shopify's daily order counts go with the events they are compared with (a day before the cutoff)."""
    first_kept = event_cutoff(now, days).date() - timedelta(days=1)  # a shop's day may start the UTC day before
    with writing():
        return int(db.session.execute(
            delete(ShopifyDailyOrders).where(ShopifyDailyOrders.day < first_kept)
            .execution_options(synchronize_session=False)
        ).rowcount or 0)  # type: ignore[attr-defined]


def purge_beacons(now: datetime) -> int:
    """Pixel beacons are needed only until their order is sent: they go after a day."""
    with writing():
        return beacons.purge(now)


def purge(now: datetime, *, event_days: int, receipt_days: int) -> Purged:
    """Everything retention does, once."""
    result = Purged(purge_events(now, event_days), purge_receipts(now, receipt_days), purge_heartbeats(now),
                    purge_beacons(now), purge_shopify_counts(now, event_days))
    if result.events or result.receipts or result.heartbeats or result.beacons or result.shopify_days:
        logger.info("old records purged", extra={"action": "retention_purged", **vars(result)})
    return result


class Retention:
    """The worker's periodic job: purge once an hour, one worker at a time."""

    def __init__(self, config: Any, worker_id: str) -> None:
        self.event_days = int(config["EVENT_RETENTION_DAYS"])
        self.receipt_days = int(config["RECEIPT_RETENTION_DAYS"])
        self.worker_id = worker_id

    def __call__(self, now: datetime) -> Purged | None:
        if not locks.acquire(LEASE_NAME, self.worker_id, now, LEASE_SECONDS):
            return None
        try:
            return purge(now, event_days=self.event_days, receipt_days=self.receipt_days)
        finally:
            locks.release(LEASE_NAME, self.worker_id)
