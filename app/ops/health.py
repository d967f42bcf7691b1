"""GET /healthz (is the database answering, is a worker alive) and GET /metrics (Prometheus)."""

from __future__ import annotations

import hmac
import sqlite3
import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import text

from app.clock import heartbeat_age
from app.database import reading
from app.models import db
from app.ops import scrape

bp = Blueprint("health", __name__)

WORKER_STALE_AFTER = 120  # seconds without a heartbeat before the worker counts as stale
WRITE_PROBE_SECONDS = 0.5  # how long SQLite's write lock may stay taken before writes count as blocked


@bp.get("/healthz")
def healthz() -> Any:
    """200 whenever the database answers (the web can take webhooks); the body says how the worker is."""
    started = time.perf_counter()
    try:
        with reading():
            db.session.execute(text("SELECT 1"))
            age = heartbeat_age()  # by the database's clock; a heartbeat from the future does not count
    except Exception:
        return jsonify({"status": "unavailable", "database": "unreachable"}), 503
    database_ms = round((time.perf_counter() - started) * 1000, 1)
    writes = _sqlite_writes()
    stale_after = int(current_app.config.get("WORKER_STALE_SECONDS", WORKER_STALE_AFTER))
    worker = "none" if age is None else "ok" if age <= stale_after else "stale"
    return jsonify({
        # Webhooks are still accepted and stored without a worker; events wait, nothing is lost.
        # With SQLite's write lock held elsewhere they wait for it instead, and may time out.
        "status": "ok" if worker == "ok" and writes == "ok" else "degraded",
        "database": "ok",
        "database_writes": writes,
        "database_ms": database_ms,
        "worker": worker,
        "worker_heartbeat_age_seconds": None if age is None else round(age, 1),
        "worker_stale_after_seconds": stale_after,
    }), 200


def _sqlite_writes() -> str:
    """`blocked` when SQLite's write lock stays taken for WRITE_PROBE_SECONDS, else `ok` (always on PostgreSQL).

    A separate connection with no busy timeout asks for the lock and lets go at once; it polls with
    sleeps so an ordinary short write elsewhere is waited out, and nothing here queues behind it.
    """
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return "ok"
    deadline = time.monotonic() + WRITE_PROBE_SECONDS
    while True:
        try:
            probe = sqlite3.connect(url.database, timeout=0, isolation_level=None)
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
                return "ok"
            finally:
                probe.close()
        except sqlite3.OperationalError:
            if time.monotonic() >= deadline:
                return "blocked"
            time.sleep(0.02)


@bp.get("/metrics")
def prometheus_metrics() -> Response:
    """Prometheus text format: this process's (or every process's) counters plus database gauges."""
    token = current_app.config.get("METRICS_TOKEN")
    if not token and current_app.config.get("APP_ENV") == "production":
        # The scrape names every shop: in production it is never public.
        return Response("metrics are off until METRICS_TOKEN is set\n", status=403)
    if token and not hmac.compare_digest(request.headers.get("Authorization", "").encode(),
                                         f"Bearer {token}".encode()):
        return Response("metrics need the METRICS_TOKEN bearer token\n", status=401,
                        headers={"WWW-Authenticate": "Bearer"})
    body, content_type = scrape.render(request.headers.get("Accept"))
    return Response(body, status=200, headers={"Content-Type": content_type})
