"""GET /healthz (the database, its writes, the worker) and GET /metrics (closed to all but the scraper's token)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.clock import database_now
from app.database import writing
from app.models import WorkerHeartbeat, db


def _beat(seconds_ago: float) -> None:
    with writing():
        stamp = database_now() - timedelta(seconds=seconds_ago)
        db.session.add(WorkerHeartbeat(worker_id=f"worker-{seconds_ago}", last_seen_at=stamp, started_at=stamp))


def test_without_a_worker_the_web_is_up_but_degraded(client: Any) -> None:
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 200  # webhooks are still taken and stored
    assert {k: body[k] for k in ("status", "database", "database_writes", "worker",
                                 "worker_heartbeat_age_seconds", "worker_stale_after_seconds")} == {
        "status": "degraded", "database": "ok", "database_writes": "ok", "worker": "none",
        "worker_heartbeat_age_seconds": None, "worker_stale_after_seconds": 120}
    assert body["database_ms"] >= 0


def test_a_live_worker_makes_it_ok_and_a_silent_one_stale(app: Any, client: Any) -> None:
    _beat(10)
    body = client.get("/healthz").get_json()
    assert (body["status"], body["worker"]) == ("ok", "ok")
    assert 10 <= body["worker_heartbeat_age_seconds"] < 60
    app.config["WORKER_STALE_SECONDS"] = 5
    body = client.get("/healthz").get_json()
    assert (body["status"], body["worker"], body["worker_stale_after_seconds"]) == ("degraded", "stale", 5)


def test_metrics_are_open_without_a_token(client: Any) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert b"# TYPE" in response.data


def test_metrics_token_is_required_when_configured(app: Any, client: Any) -> None:
    app.config["METRICS_TOKEN"] = "scrape-token-for-tests"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-for-tests"})
    assert ok.status_code == 200
    assert b"# TYPE" in ok.data


def test_production_keeps_metrics_closed_until_a_token_is_set(app: Any, client: Any) -> None:
    app.config["APP_ENV"] = "production"
    response = client.get("/metrics")
    assert (response.status_code, response.data) == (403, b"metrics are off until METRICS_TOKEN is set\n")
