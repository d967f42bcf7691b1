"""Pinbridge: Shopify orders to Pinterest Conversions API `checkout` events."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask, jsonify
from flask_migrate import Migrate
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

from .config import PROJECT_ROOT, load_config
from .logs import configure_logging
from .models import db

migrate = Migrate()


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults and environment, then the test override; nothing happens at import time."""
    configure_logging()
    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
    )
    if test_config is None:
        app.config.from_mapping(load_config())
    else:
        base = load_config(environ=test_config.get("ENVIRON", {}), instance_dir=test_config.get("INSTANCE_DIR"))
        base.update(test_config)
        app.config.from_mapping(base)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = _engine_options(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config.setdefault("MAX_CONTENT_LENGTH", None)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))

    from . import api, cli, health, home, webhooks

    app.register_blueprint(webhooks.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(api.bp)
    cli.register(app)

    @app.errorhandler(500)
    def internal_error(_exc: Exception) -> Any:
        db.session.rollback()
        return jsonify({"error": "internal_error", "message": "Something went wrong on our side."}), 500

    return app


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        # A writer waits for the lock instead of failing; the claim uses BEGIN IMMEDIATE.
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    # No pool_pre_ping: it cost a round trip on every checkout, about a sixth of a webhook's time. A
    # connection that died with the server fails its first statement instead; SQLAlchemy then discards
    # the whole pool, the webhook answers 503 (Shopify retries) and the worker retries its claim.
    return {"pool_size": 5, "max_overflow": 5}


@sa_event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets web and worker processes share one SQLite file; autocommit-off is driven by SQLAlchemy."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see _sqlite_begin)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


# One SQLite writer at a time per process. Threads that queue on this lock wake the moment it is free;
# left to SQLite, they would poll in its busy handler with sleeps of up to 100 ms, which under concurrent
# webhooks made the slowest acknowledgements wait more than a second. Other processes still meet SQLite's
# own lock (and its busy timeout).
_SQLITE_WRITER = threading.Lock()


@sa_event.listens_for(Engine, "begin")
def _sqlite_begin(conn: Any) -> None:
    """Open SQLite transactions explicitly; IMMEDIATE when the session asked for a write lock."""
    if conn.dialect.name != "sqlite":
        return
    immediate = conn.get_execution_options().get("sqlite_immediate", False)
    if not immediate:
        conn.exec_driver_sql("BEGIN")
        return
    _SQLITE_WRITER.acquire()
    conn.info["holds_sqlite_writer"] = True
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        _release_sqlite_writer(conn)
        raise


@sa_event.listens_for(Engine, "commit")
@sa_event.listens_for(Engine, "rollback")
def _release_sqlite_writer(conn: Any) -> None:
    if conn.info.pop("holds_sqlite_writer", False):
        _SQLITE_WRITER.release()


@sa_event.listens_for(Pool, "checkin")
@sa_event.listens_for(Pool, "invalidate")
def _release_on_return(_dbapi_connection: Any, record: Any, *_: Any) -> None:
    """A connection that goes back to the pool (or dies) without COMMIT/ROLLBACK still lets go."""
    if record is not None and record.info.pop("holds_sqlite_writer", False):
        _SQLITE_WRITER.release()
