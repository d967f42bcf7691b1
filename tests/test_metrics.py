"""/metrics after real traffic: signed webhooks in, a worker sending to the Pinterest stand-in, and (for
multiprocess mode) counters written by separate processes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from app.delivery import Worker
from tests.conftest import API_KEY, API_SECRET, ENCRYPTION_KEY, SHOP
from tests.factories import web_order
from tests.standins.pinterest import PinterestStandin
from tests.test_delivery import Clock, drain

PROJECT = Path(__file__).resolve().parent.parent


def scrape(client: FlaskClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def worker(app: Any) -> Iterator[Worker]:
    w = Worker(app, clock=Clock(), rand=lambda: 0.5, worker_id="metrics-worker")
    yield w
    w.client.close()


def test_metrics_after_real_traffic(
    client: FlaskClient, post_webhook: Any, configure_shop: Any, worker: Worker, pinterest: PinterestStandin
) -> None:
    configure_shop()
    before = scrape(client)
    orders = [web_order() for _ in range(3)]
    for order in orders:
        post_webhook(order, webhook_id=f"hook-{order['id']}")
    post_webhook(orders[0], webhook_id=f"hook-{orders[0]['id']}")  # Shopify redelivers
    assert post_webhook(web_order(), secret="not-the-secret").status_code == 401
    post_webhook({"id": 1}, topic="products/update")  # a topic Pinbridge ignores

    waiting = scrape(client)
    assert value(waiting, "pinbridge_events", status="pending") == 3
    assert value(waiting, "pinbridge_queue_depth", shop=SHOP) == 3
    assert value(waiting, "pinbridge_oldest_pending_age_seconds", shop=SHOP) >= 0

    pinterest.respond_next(503)  # the first batch meets an outage
    assert drain(worker) == 3
    worker.clock.advance(3600)  # type: ignore[attr-defined]
    assert drain(worker) == 3
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("pinbridge_webhooks_total", topic="orders/create", outcome="accepted") == 3
    assert delta("pinbridge_webhooks_total", topic="orders/create", outcome="duplicate") == 1
    rejected = [k for k in after if k[0] == "pinbridge_webhooks_total" and ("topic", "orders/create") in k[1]
                and any(v.startswith("rejected_") for _, v in k[1])]
    assert sum(after[k] - before.get(k, 0) for k in rejected) == 1
    assert delta("pinbridge_webhooks_total", topic="other", outcome="ignored") == 1
    assert delta("pinbridge_webhook_ack_seconds_count", topic="orders/create") == 5
    assert delta("pinbridge_pinterest_responses_total", code="503") == 1
    assert delta("pinbridge_pinterest_responses_total", code="200") == 1
    assert delta("pinbridge_batch_size_events_count") == 2
    assert delta("pinbridge_batch_size_events_sum") == 6
    assert delta("pinbridge_delivery_latency_seconds_count") == 3
    assert value(after, "pinbridge_events", status="delivered") == 3
    assert value(after, "pinbridge_events", status="pending") == 0
    assert value(after, "pinbridge_queue_depth", shop=SHOP) == 0
    assert value(after, "pinbridge_oldest_pending_age_seconds", shop=SHOP) == 0
    assert value(after, "pinbridge_database_up") == 1
    assert ("pinbridge_worker_heartbeat_age_seconds", frozenset()) in after
    body = client.get("/metrics").get_data(as_text=True)
    openmetrics = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert openmetrics.headers["Content-Type"].startswith("application/openmetrics-text")
    assert openmetrics.get_data(as_text=True).endswith("# EOF\n")
    assert "@" not in body and "buyer" not in body and "pina_" not in body  # no emails, no tokens


def test_multiprocess_mode_adds_up_every_process(database_url: str, tmp_path: Path) -> None:
    """Two processes count webhooks; a third, serving /metrics, reports the sum and the database gauges."""
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder), "DATABASE_URL": database_url,
           "SHOPIFY_API_KEY": API_KEY, "SHOPIFY_API_SECRET": API_SECRET, "ENCRYPTION_KEY": ENCRYPTION_KEY}
    count = ("import time; from app import metrics; "
             "metrics.webhook_answered('orders/create', 'accepted', time.perf_counter())")
    serve = ("from app import create_app; from app.ops import scrape; app = create_app(); "
             "ctx = app.app_context(); ctx.push(); print(scrape.render()[0].decode())")
    for code in (count, count):
        subprocess.run([sys.executable, "-c", code], env=env, cwd=PROJECT, check=True, timeout=60)
    output = subprocess.run([sys.executable, "-c", serve], env=env, cwd=PROJECT, check=True, timeout=60,
                            capture_output=True, text=True).stdout
    samples = {(s.name, frozenset(s.labels.items())): s.value
               for family in text_string_to_metric_families(output) for s in family.samples}
    assert value(samples, "pinbridge_webhooks_total", topic="orders/create", outcome="accepted") == 2
    assert value(samples, "pinbridge_database_up") == 1
    assert ("pinbridge_events", frozenset({("status", "pending")})) in samples
