"""GET /healthz: is the database answering, and when did a worker last check in."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import func, select, text

from .models import WorkerHeartbeat, db, now_utc

bp = Blueprint("health", __name__)

WORKER_STALE_AFTER = 120  # seconds


@bp.get("/healthz")
def healthz() -> Any:
    try:
        db.session.execute(text("SELECT 1"))
        newest = db.session.scalar(select(func.max(WorkerHeartbeat.last_seen_at)))
        db.session.rollback()
    except Exception:
        db.session.rollback()
        return jsonify({"status": "unavailable", "database": "unreachable"}), 503
    age = (now_utc() - newest).total_seconds() if newest else None
    worker = "ok" if age is not None and age <= WORKER_STALE_AFTER else "stale" if age is not None else "none"
    return jsonify({"status": "ok", "database": "ok", "worker": worker,
                    "worker_heartbeat_age_seconds": None if age is None else round(age, 1)}), 200
