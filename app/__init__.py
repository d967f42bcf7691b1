"""Pinbridge: Shopify orders to Pinterest Conversions API `checkout` events."""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

from flask import Flask, jsonify
from flask_migrate import Migrate
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import Pool
from werkzeug.exceptions import HTTPException

from .config import PROJECT_ROOT, load_config
from .logs import configure_logging
from .models import db

migrate = Migrate()
logger = logging.getLogger(__name__)
MAX_REQUEST_BYTES = 1024 * 1024  # every request but webhooks: settings, beacons and retries are small


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
    _private_sqlite_file(app.config["SQLALCHEMY_DATABASE_URI"])
    # Bodies larger than this are refused (413) before they are read; webhooks set their own 5 MiB.
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))

    from . import api, beacons, cli, health, home, webhooks

    app.register_blueprint(webhooks.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(beacons.bp)
    beacons.limiter.init_app(app)
    cli.register(app)

    @app.errorhandler(500)
    def internal_error(_exc: Exception) -> Any:
        db.session.rollback()
        return jsonify({"error": "internal_error", "message": "Something went wrong on our side."}), 500

    @app.errorhandler(OperationalError)
    def database_unavailable(_exc: OperationalError) -> Any:
        # A lost or refused database connection is a bad moment, not a bug: callers retry a 503.
        db.session.rollback()
        logger.error("database unavailable", extra={"action": "db_unavailable"})
        response = jsonify({"error": "unavailable", "message": "Database unavailable, retry later."})
        response.headers["Retry-After"] = "5"
        return response, 503

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        """4xx answers as short JSON, with the same frame policy as the pages (Werkzeug's HTML has none)."""
        if exc.code is None or exc.code < 400:
            return exc  # redirects stay redirects
        response = jsonify({"error": (exc.name or "error").lower().replace(" ", "_"),
                            "message": exc.description or exc.name})
        response.status_code = exc.code or 400
        for name, value in exc.get_headers():
            if name.lower() == "allow":
                response.headers[name] = value
        response.headers["Content-Security-Policy"] = f"frame-ancestors {home.ADMIN_ORIGIN};"
        return response

    return app


def _private_sqlite_file(url: str) -> None:
    """Create the SQLite file readable by its owner only (0600; a folder we create, 0700), tighten an old one.

    SQLite gives its -wal and -shm files the database file's mode.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return
    path = Path(parsed.database)
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        except OSError:
            return  # an unusable location: the first query reports it (503), not start-up
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            if name.stat().st_mode & 0o077:
                os.chmod(name, 0o600)
        except OSError:
            continue


def _engine_options(url: str) -> dict[str, Any]:
    # Database errors are logged without their SQL parameters, which can hold shop data.
    if url.startswith("sqlite"):
        # A writer waits for the lock instead of failing; the claim uses BEGIN IMMEDIATE.
        return {"connect_args": {"timeout": 30, "check_same_thread": False}, "hide_parameters": True}
    # No pool_pre_ping: it cost a round trip on every checkout, about a sixth of a webhook's time. A
    # connection that died with the server fails its first statement instead; SQLAlchemy then discards
    # the whole pool, the webhook answers 503 (Shopify retries) and the worker retries its claim.
    return {"pool_size": 5, "max_overflow": 5, "hide_parameters": True}


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
        if _green():
            raw = conn.connection.dbapi_connection
            try:
                if not _wait_for_write_lock(raw):
                    conn.exec_driver_sql("BEGIN IMMEDIATE")  # fails at once, reported the usual way
            finally:
                raw.execute(f"PRAGMA busy_timeout={int(SQLITE_LOCK_WAIT * 1000)}")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        _release_sqlite_writer(conn)
        raise


SQLITE_LOCK_WAIT = 30.0  # seconds a writer waits for another process's write lock (SQLite's busy timeout)


def _green() -> bool:
    """True in a gevent web worker, where a blocking C call would stop every connection of the process."""
    gevent_monkey = sys.modules.get("gevent.monkey")
    return bool(gevent_monkey and gevent_monkey.is_module_patched("threading"))


def _wait_for_write_lock(raw: Any) -> bool:
    """BEGIN IMMEDIATE, waiting for another process's write lock with sleeps other greenlets can use.

    SQLite's own busy handler sleeps inside C, which under gevent freezes the whole web process (and
    its /healthz) for as long as the worker holds the lock. False when the wait ran out (or failed
    otherwise): the caller's own BEGIN IMMEDIATE then raises the error the usual way.
    """
    deadline = time.monotonic() + SQLITE_LOCK_WAIT
    delay = 0.001
    raw.execute("PRAGMA busy_timeout=0")  # the caller restores it
    while True:
        try:
            raw.execute("BEGIN IMMEDIATE")
            return True
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                return False
        time.sleep(delay)  # patched by gevent: other greenlets run meanwhile
        delay = min(delay * 2, 0.02)


@sa_event.listens_for(Engine, "commit")
@sa_event.listens_for(Engine, "rollback")
def _release_sqlite_writer(conn: Any) -> None:
    # Only SQLite connections take the lock. An invalidated connection (killed by the server) has no
    # info to read: touching it raises, and the pool's invalidate hook below lets go instead.
    if conn.dialect.name != "sqlite" or conn.invalidated:
        return
    if conn.info.pop("holds_sqlite_writer", False):
        _SQLITE_WRITER.release()


@sa_event.listens_for(Pool, "checkin")
@sa_event.listens_for(Pool, "invalidate")
def _release_on_return(_dbapi_connection: Any, record: Any, *_: Any) -> None:
    """A connection that goes back to the pool (or dies) without COMMIT/ROLLBACK still lets go."""
    if record is not None and record.info.pop("holds_sqlite_writer", False):
        _SQLITE_WRITER.release()
