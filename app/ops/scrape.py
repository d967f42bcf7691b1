"""`GET /metrics` content: this process's (or every process's) counters plus gauges read from the database.

What describes the database (events by status, queue depth and the age of the oldest pending event per shop,
worker heartbeat, reconciliation) is computed at scrape time, so any web process gives the same answer.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from app.clock import heartbeat_age
from app.database import reading
from app.inbox import routing, unreadable
from app.metrics import REGISTRY
from app.models import Event, EventStatus, Shop, db, now_utc
from app.ops.alert_metrics import ShopAlerts

logger = logging.getLogger(__name__)
_WAITING = (EventStatus.PENDING.value, EventStatus.SENDING.value)


class DatabaseCollector(Collector):
    """Gauges read from the database at scrape time, with cheap indexed queries."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now

    def collect(self) -> Iterator[Metric]:
        now = self.now or now_utc()
        up = GaugeMetricFamily("pinbridge_database_up", "1 when the database answered this scrape.")
        try:
            with reading():
                families = list(self._families(now))
        except Exception:
            logger.exception("metrics query failed", extra={"action": "metrics_db_failed"})
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self, now: datetime) -> Iterator[Metric]:
        by_status = GaugeMetricFamily("pinbridge_events", "Events in the outbox by status.",
                                      labels=["status"])
        counts = dict(db.session.execute(select(Event.status, func.count()).group_by(Event.status)).all())
        for status in EventStatus:
            by_status.add_metric([status.value], counts.get(status, 0))
        yield by_status
        yield from self._queues(now)
        heartbeat = GaugeMetricFamily("pinbridge_worker_heartbeat_age_seconds",
                                      "Seconds since the newest worker heartbeat (absent: no worker yet).")
        age = heartbeat_age(self.now)  # the database's clock unless a scrape time was given
        if age is not None:
            heartbeat.add_metric([], age)
        yield heartbeat
        waiting, oldest = routing.backlog(self.now)
        inbox_size = GaugeMetricFamily("pinbridge_inbox_bodies",
                                       "Webhook bodies (encrypted) waiting for the worker to map them.")
        inbox_size.add_metric([], waiting)
        yield inbox_size
        inbox_age = GaugeMetricFamily("pinbridge_inbox_oldest_age_seconds",
                                      "Age of the oldest webhook body waiting for the worker (0 when none).")
        inbox_age.add_metric([], oldest or 0.0)
        yield inbox_age
        held = GaugeMetricFamily("pinbridge_inbox_unreadable_bodies",
                                 "Webhook bodies no configured ENCRYPTION_KEY opens, kept sealed until one does.")
        held.add_metric([], unreadable.count())
        yield held
        yield from ShopAlerts(now).families()  # paused, sending off, unreadable bodies, orders missing

    def _queues(self, now: datetime) -> Iterator[Metric]:
        depth = GaugeMetricFamily("pinbridge_queue_depth", "Events waiting to be sent (pending or sending).",
                                  labels=["shop"])
        oldest = GaugeMetricFamily("pinbridge_oldest_pending_age_seconds",
                                   "Age of the oldest waiting event, 0 when none waits.", labels=["shop"])
        reconciled = GaugeMetricFamily("pinbridge_reconcile_age_seconds",
                                       "Seconds since the shop's orders were last reconciled.",
                                       labels=["shop"])
        waiting = {
            shop_id: (count, first)
            for shop_id, count, first in db.session.execute(
                select(Event.shop_id, func.count(), func.min(Event.received_at))
                .where(Event.status.in_(_WAITING)).group_by(Event.shop_id)
            )
        }
        shops = db.session.execute(
            select(Shop.id, Shop.domain, Shop.installed, Shop.last_reconciled_at)
        ).all()
        for shop_id, domain, installed, last_reconciled in shops:
            count, first = waiting.get(shop_id, (0, None))
            if not installed and not count:
                continue
            depth.add_metric([domain], count)
            oldest.add_metric([domain], _age(now, first))
            if last_reconciled is not None:
                reconciled.add_metric([domain], _age(now, last_reconciled))
        yield depth
        yield oldest
        yield reconciled


def _age(now: datetime, then: Any) -> float:
    return max(0.0, (now - then).total_seconds()) if then is not None else 0.0


class _ProcessMetrics(Collector):
    """This process's counters and histograms, for a scrape without multiprocess mode."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def render(accept: str | None = None, now: datetime | None = None) -> tuple[bytes, str]:
    """One scrape in the format the scraper asked for (Prometheus text 0.0.4 by default): body, content type."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_ProcessMetrics())
    registry.register(DatabaseCollector(now))
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
