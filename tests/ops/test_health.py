"""GET /healthz (the database, its writes, the worker) and GET /metrics (closed to all but the scraper's token)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import update

from app.delivery import Worker
from app.models import WorkerHeartbeat, db, now_utc


def test_healthz_reports_the_database_and_the_newest_heartbeat(client: FlaskClient, worker: Worker) -> None:
    fresh = client.get("/healthz")
    assert fresh.status_code == 200
    assert fresh.get_json() | {"database_ms": 0} == {
        "status": "degraded", "database": "ok", "database_ms": 0, "database_writes": "ok", "worker": "none",
        "worker_heartbeat_age_seconds": None, "worker_stale_after_seconds": 120}
    worker.run_once()
    alive = client.get("/healthz").get_json()
    assert (alive["status"], alive["worker"]) == ("ok", "ok")
    assert 0 <= alive["worker_heartbeat_age_seconds"] < 60
    db.session.execute(update(WorkerHeartbeat).values(last_seen_at=now_utc() - timedelta(minutes=10)))
    db.session.commit()
    stale = client.get("/healthz")
    assert stale.status_code == 200  # webhooks are still taken; events wait for a worker
    assert (stale.get_json()["status"], stale.get_json()["worker"]) == ("degraded", "stale")
    assert stale.get_json()["worker_heartbeat_age_seconds"] >= 600


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
