"""`GET /metrics` content (app/ops/scrape.py): the database's gauges at scrape time, the format asked for, and
every process's counters added up in multiprocess mode.

`scrape` and `value` read a scrape back; the tests of the counters and alert gauges use them too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from app.models import Shop, db, now_utc
from app.ops import scrape as scrape_module
from app.shops import get_or_create_shop
from tests.conftest import API_KEY, API_SECRET, ENCRYPTION_KEY, SHOP
from tests.event_rows import add_event

PROJECT = Path(__file__).resolve().parents[2]
OTHER = "second-store.myshopify.com"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples_of(text: str) -> Samples:
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def scrape(client: FlaskClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return samples_of(response.get_data(as_text=True))


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _render_at(now: Any, accept: str | None = None) -> tuple[Samples, str]:
    db.session.rollback()
    body, content_type = scrape_module.render(accept, now)
    return samples_of(body.decode()), content_type


def test_queue_depth_and_ages_are_per_shop_at_the_scrape_time(app: Flask, configure_shop: Any) -> None:
    shop = configure_shop()
    now = now_utc()
    for minutes, status in [(30, "pending"), (10, "sending"), (90, "delivered"), (120, "failed")]:
        add_event(shop.id, status=status, received_at=now - timedelta(minutes=minutes))
    shop.last_reconciled_at = now - timedelta(hours=2)
    idle = get_or_create_shop(OTHER)
    db.session.commit()
    samples, _ = _render_at(now)
    assert value(samples, "pinbridge_events", status="pending") == 1
    assert value(samples, "pinbridge_events", status="delivered") == 1
    assert value(samples, "pinbridge_queue_depth", shop=SHOP) == 2  # pending and sending
    assert value(samples, "pinbridge_oldest_pending_age_seconds", shop=SHOP) == pytest.approx(30 * 60)
    assert value(samples, "pinbridge_reconcile_age_seconds", shop=SHOP) == pytest.approx(2 * 3600)
    assert ("pinbridge_queue_depth", frozenset({("shop", OTHER)})) in samples  # installed, nothing waiting: 0
    assert value(samples, "pinbridge_oldest_pending_age_seconds", shop=OTHER) == 0
    assert ("pinbridge_reconcile_age_seconds", frozenset({("shop", OTHER)})) not in samples  # never reconciled
    assert value(samples, "pinbridge_database_up") == 1

    idle.installed = False  # an uninstalled shop with nothing waiting is no longer reported
    db.session.commit()
    samples, _ = _render_at(now)
    assert ("pinbridge_queue_depth", frozenset({("shop", OTHER)})) not in samples
    assert value(samples, "pinbridge_queue_depth", shop=SHOP) == 2


def test_an_event_received_after_the_scrape_time_is_not_negative_age(app: Flask, configure_shop: Any) -> None:
    shop: Shop = configure_shop()
    now = now_utc()
    add_event(shop.id, status="pending", received_at=now + timedelta(seconds=5))  # another process's clock
    db.session.commit()
    samples, _ = _render_at(now)
    assert value(samples, "pinbridge_oldest_pending_age_seconds", shop=SHOP) == 0


def test_a_database_that_does_not_answer_is_one_gauge_not_a_failed_scrape(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: Any, now: Any) -> Any:
        raise RuntimeError("the database is away")
        yield  # a generator, as the real one

    monkeypatch.setattr(scrape_module.DatabaseCollector, "_families", refuse)
    samples, _ = _render_at(now_utc())
    assert value(samples, "pinbridge_database_up") == 0
    assert not [key for key in samples if key[0] in {"pinbridge_events", "pinbridge_queue_depth"}]


def test_the_scraper_gets_the_format_it_asks_for(app: Flask) -> None:
    _, content_type = _render_at(now_utc())
    assert content_type.startswith("text/plain; version=0.0.4")
    db.session.rollback()
    body, content_type = scrape_module.render("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert body.decode().endswith("# EOF\n")


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
    samples = samples_of(output)
    assert value(samples, "pinbridge_webhooks_total", topic="orders/create", outcome="accepted") == 2
    assert value(samples, "pinbridge_database_up") == 1
    assert ("pinbridge_events", frozenset({("status", "pending")})) in samples
