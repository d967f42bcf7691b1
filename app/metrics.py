"""Prometheus counters and histograms, recorded by the request path and the worker alike.

They live in each process (webhooks in the web processes, Pinterest calls in the
workers). When `PROMETHEUS_MULTIPROC_DIR` is set, prometheus-client keeps them in files in that directory
and every scrape adds up all processes sharing it. The gauges read from the database at scrape time are in
app/ops/scrape.py. Labels carry topics, outcomes,
status codes and shop domains only: never personal data or secrets.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any, cast

from prometheus_client import CollectorRegistry, Counter, Histogram

from app.models import EventStatus, Topic
from app.pinterest import PinterestClient, PinterestError

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

    def send_events(self, ad_account_id: str, access_token: str, events: list[Any],
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


