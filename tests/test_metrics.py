"""The counters and histograms (app/metrics.py) in /metrics after real traffic: signed webhooks in, a worker
sending to the Pinterest stand-in. The scrape itself (database gauges, formats, multiprocess mode) is
tests/ops/test_scrape.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from app.delivery import Worker
from tests.conftest import SHOP
from tests.factories import web_order
from tests.ops.test_scrape import scrape, value
from tests.standins.pinterest import PinterestStandin
from tests.test_delivery import Clock, drain


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
