"""Bad days for the database: a PostgreSQL connection killed under the app, SQLite writes blocked."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select, text

from app.config import normalise_database_url
from app.models import WebhookReceipt, db
from tests.factories import web_order


def _kill_app_connections(app: Flask) -> int:
    """Terminate every server process serving the app's pool, the way a failover or an admin would."""
    url = normalise_database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    killer = create_engine(url)
    with killer.begin() as conn:
        killed = conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )).scalar_one()
    killer.dispose()
    return int(killed)


ONLY_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # a server to kill
ONLY_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # its single-writer lock


@ONLY_POSTGRESQL
def test_killed_postgresql_connection_is_503_then_recovers(app: Flask, client: Any, post_webhook: Any) -> None:
    assert post_webhook(web_order()).status_code == 200  # the pool now holds a live connection
    db.session.rollback()
    assert _kill_app_connections(app) >= 1
    response = post_webhook(web_order())
    assert response.status_code == 503
    assert response.get_json()["error"] == "unavailable"
    assert post_webhook(web_order()).status_code == 200  # the next delivery finds a fresh connection
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(WebhookReceipt)) == 2


@ONLY_POSTGRESQL
def test_killed_postgresql_connection_is_503_on_the_api_and_healthz(app: Flask, client: Any) -> None:
    assert client.get("/healthz").status_code == 200
    db.session.rollback()
    _kill_app_connections(app)
    assert client.get("/healthz").status_code == 503
    assert client.get("/healthz").status_code == 200


@ONLY_SQLITE
def test_healthz_reports_degraded_while_sqlite_writes_are_blocked(app: Flask, client: Any) -> None:
    path = db.engine.url.database
    assert path
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another process holding the write lock, e.g. a stuck job
        response = client.get("/healthz")
        body = response.get_json()
        assert response.status_code == 200  # reads still work: nothing for a load balancer to pull
        assert body["status"] == "degraded"
        assert body["database_writes"] == "blocked"
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert client.get("/healthz").get_json()["database_writes"] == "ok"
