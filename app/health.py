"""GET /healthz (is the database answering, is a worker alive) and GET /metrics (Prometheus)."""

from __future__ import annotations

import hmac
import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import func, select, text

from . import metrics
from .models import WorkerHeartbeat, db, now_utc

bp = Blueprint("health", __name__)

WORKER_STALE_AFTER = 120  # seconds without a heartbeat before the worker counts as stale


@bp.get("/healthz")
def healthz() -> Any:
    """200 whenever the database answers (the web can take webhooks); the body says how the worker is."""
    started = time.perf_counter()
    try:
        db.session.execute(text("SELECT 1"))
        newest = db.session.scalar(select(func.max(WorkerHeartbeat.last_seen_at)))
        db.session.rollback()
    except Exception:
        db.session.rollback()
        return jsonify({"status": "unavailable", "database": "unreachable"}), 503
    database_ms = round((time.perf_counter() - started) * 1000, 1)
    age = (now_utc() - newest).total_seconds() if newest else None
    stale_after = int(current_app.config.get("WORKER_STALE_SECONDS", WORKER_STALE_AFTER))
    worker = "none" if age is None else "ok" if age <= stale_after else "stale"
    return jsonify({
        # Webhooks are still accepted and stored without a worker; events wait, nothing is lost.
        "status": "ok" if worker == "ok" else "degraded",
        "database": "ok",
        "database_ms": database_ms,
        "worker": worker,
        "worker_heartbeat_age_seconds": None if age is None else round(age, 1),
        "worker_stale_after_seconds": stale_after,
    }), 200


@bp.get("/metrics")
def prometheus_metrics() -> Response:
    """Prometheus text format: this process's (or every process's) counters plus database gauges."""
    token = current_app.config.get("METRICS_TOKEN")
    if token and not hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {token}"):
        return Response("metrics need the METRICS_TOKEN bearer token\n", status=401,
                        headers={"WWW-Authenticate": "Bearer"})
    body, content_type = metrics.render(request.headers.get("Accept"))
    return Response(body, status=200, headers={"Content-Type": content_type})
