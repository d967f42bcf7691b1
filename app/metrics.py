"""Prometheus metrics for `GET /metrics`.

Counters and histograms live in each process (webhooks in the web processes, Pinterest calls in the
workers). When `PROMETHEUS_MULTIPROC_DIR` is set, prometheus-client keeps them in files in that directory
and every scrape adds up all processes sharing it. What describes the database (events by status, queue
depth and the age of the oldest pending event per shop, worker heartbeat, reconciliation) is computed from
the database at scrape time, so any web process gives the same answer. Labels carry topics, outcomes,
status codes and shop domains only: never personal data or secrets.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any, cast

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from . import inbox, unreadable
from .clock import heartbeat_age
from .models import Event, EventStatus, Shop, Topic, db, now_utc
from .pinterest import PinterestClient, PinterestError

logger = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)
KNOWN_TOPICS = frozenset(Topic)
_WAITING = (EventStatus.PENDING.value, EventStatus.SENDING.value)

WEBHOOKS = Counter("pinbridge_webhooks", "Webhook deliveries answered, by topic and outcome.",
                   ["topic", "outcome"], registry=REGISTRY)
WEBHOOK_ACK_SECONDS = Histogram(
    "pinbridge_webhook_ack_seconds", "Time from receiving a webhook to answering it.", ["topic"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0), registry=REGISTRY)
PINTEREST_RESPONSES = Counter("pinbridge_pinterest_responses", "Pinterest answers by HTTP status code "
                              "(`network` when no answer came).", ["code"], registry=REGISTRY)
PINTEREST_SECONDS = Histogram("pinbridge_pinterest_request_seconds", "Duration of requests to Pinterest.",
                              buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0), registry=REGISTRY)
BATCH_SIZE = Histogram("pinbridge_batch_size_events", "Events per request to Pinterest.",
                       buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000), registry=REGISTRY)
DELIVERY_LATENCY = Histogram(
    "pinbridge_delivery_latency_seconds", "Time from receiving a purchase to Pinterest processing its event.",
    buckets=(1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600, 72 * 3600), registry=REGISTRY)
RECONCILED_ORDERS = Counter("pinbridge_reconciled_orders", "Orders checked by reconciliation, by outcome.",
                            ["outcome"], registry=REGISTRY)


def topic_label(topic: str | None) -> str:
    """Topics come from a request header: anything unexpected is `other`, so labels stay few."""
    return topic if topic in KNOWN_TOPICS else "other"


def webhook_answered(topic: str | None, outcome: str, started: float) -> None:
    """Count one answered webhook and how long the answer took (`started` from time.perf_counter())."""
    key = (topic_label(topic), outcome[:40])
    children = _ANSWERED.get(key)
    if children is None:  # a few topics × outcomes: the labelled children are looked up once each
        children = _ANSWERED[key] = (WEBHOOKS.labels(topic=key[0], outcome=key[1]),
                                     WEBHOOK_ACK_SECONDS.labels(topic=key[0]))
    children[0].inc()
    children[1].observe(max(0.0, time.perf_counter() - started))


_ANSWERED: dict[tuple[str, str], tuple[Any, Any]] = {}


def delivered(items: list[Any], delivered_ids: list[int], now: datetime) -> None:
    """Observe receipt-to-acceptance latency of the events Pinterest just processed."""
    done = set(delivered_ids)
    for item in items:
        if item.row_id in done:
            DELIVERY_LATENCY.observe(max(0.0, (now - item.received_at).total_seconds()))


class InstrumentedPinterestClient:
    """Wraps the Pinterest client: counts answers by status code, batch sizes and request time."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def send_events(self, ad_account_id: str, access_token: str, events: list[dict[str, Any]],
                    **kwargs: Any) -> Any:
        BATCH_SIZE.observe(len(events))
        started = time.perf_counter()
        try:
            results = self._client.send_events(ad_account_id, access_token, events, **kwargs)
        except PinterestError as exc:
            PINTEREST_RESPONSES.labels(code=str(exc.status) if exc.status else "network").inc()
            raise
        finally:
            PINTEREST_SECONDS.observe(time.perf_counter() - started)
        PINTEREST_RESPONSES.labels(code="200").inc()
        return results

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def instrument(client: PinterestClient) -> PinterestClient:
    """The same client, counting what it sends and what Pinterest answers."""
    return cast(PinterestClient, InstrumentedPinterestClient(client))


class DatabaseCollector(Collector):
    """Gauges read from the database at scrape time, with cheap indexed queries."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now

    def collect(self) -> Iterator[Metric]:
        now = self.now or now_utc()
        up = GaugeMetricFamily("pinbridge_database_up", "1 when the database answered this scrape.")
        try:
            families = list(self._families(now))
        except Exception:
            db.session.rollback()
            logger.exception("metrics query failed", extra={"action": "metrics_db_failed"})
            up.add_metric([], 0)
            yield up
            return
        db.session.rollback()
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self, now: datetime) -> Iterator[Metric]:
        by_status = GaugeMetricFamily("pinbridge_events", "Events in the outbox by status.",
                                      labels=["status"])
        counts = dict(db.session.execute(select(Event.status, func.count()).group_by(Event.status)).all())
        for status in EventStatus:
            by_status.add_metric([status.value], counts.get(status.value, 0))
        yield by_status
        yield from self._queues(now)
        heartbeat = GaugeMetricFamily("pinbridge_worker_heartbeat_age_seconds",
                                      "Seconds since the newest worker heartbeat (absent: no worker yet).")
        age = heartbeat_age(self.now)  # the database's clock unless a scrape time was given
        if age is not None:
            heartbeat.add_metric([], age)
        yield heartbeat
        waiting, oldest = inbox.backlog(self.now)
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
