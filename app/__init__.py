"""Pinbridge: Shopify orders to Pinterest Conversions API `checkout` events."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import orjson
from flask import Flask, jsonify
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from app import database
from app.config import PROJECT_ROOT, load_config
from app.logs import configure_logging
from app.models import db

logger = logging.getLogger(__name__)
# Set by gunicorn in each web process (app/ops/gunicorn_conf.py): it serves requests, it runs no database commands.
SERVES_REQUESTS_ONLY = "PINBRIDGE_SERVES_REQUESTS_ONLY"
WORKER_POOL = 20  # pooled connections of a process that serves no requests (the worker): see _engine_options
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
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = _engine_options(
        app.config["SQLALCHEMY_DATABASE_URI"], serves_requests=os.environ.get(SERVES_REQUESTS_ONLY) == "1")
    _private_sqlite_file(app.config["SQLALCHEMY_DATABASE_URI"])
    # Bodies larger than this are refused (413) before they are read; webhooks set their own 5 MiB.
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES

    db.init_app(app)
    database.init_app(app)
    if os.environ.get(SERVES_REQUESTS_ONLY) != "1":
        # `flask db …` and the tests' migrations; a web process never runs them and saves Alembic's 9 MB.
        from flask_migrate import Migrate

        Migrate(app, db, directory=str(PROJECT_ROOT / "migrations"))

    from app.ingest import beacon, pixel_wsgi, webhooks, wsgi
    from app.merchant import api, home
    from app.ops import cli, doctor, health

    app.register_blueprint(webhooks.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(beacon.bp)
    app.register_blueprint(doctor.bp)
    beacon.limiter.init_app(app)
    cli.register(app)
    wsgi.install(app)
    pixel_wsgi.install(app)

    @app.errorhandler(500)
    def internal_error(_exc: Exception) -> Any:
        database.discard()
        return jsonify({"error": "internal_error", "message": "Something went wrong on our side."}), 500

    @app.errorhandler(OperationalError)
    def database_unavailable(_exc: OperationalError) -> Any:
        # A lost or refused database connection is a bad moment, not a bug: callers retry a 503.
        database.discard()
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


def _json_dumps(value: Any) -> str:
    """JSON columns written by orjson (a stored Pinterest event in 1.2 µs instead of 9); the standard library
    for what orjson refuses (an integer past 64 bits)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def _json_loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _engine_options(url: str, *, serves_requests: bool) -> dict[str, Any]:
    """How the process's engine connects and pools; `serves_requests` for a web process, else the worker's
    (or a command's, which opens a connection or two of the same pool).

    A web process keeps 5 pooled connections and 5 more at a peak. The worker's threads each take one
    for a moment: up to 16 senders reading their shop and recording an answer, the claim loop, the
    inbox and the periodic thread. With ten, nineteen threads could wait for one another's connections
    (QueuePool makes a thread wait when all are out). In the benchmark the larger pool moved freshness
    within the noise of a slow hour; docs/performance-notes.md has the runs.
    """
    # Database errors are logged without their SQL parameters, which can hold shop data.
    json_options = {"json_serializer": _json_dumps, "json_deserializer": _json_loads}
    pool = {"pool_size": 5, "max_overflow": 5} if serves_requests else {"pool_size": WORKER_POOL, "max_overflow": 5}
    if url.startswith("sqlite"):
        # A writer waits for the lock instead of failing; the claim uses BEGIN IMMEDIATE.
        return {"connect_args": {"timeout": 30, "check_same_thread": False}, "hide_parameters": True,
                **pool, **json_options}
    # No pool_pre_ping: it cost a round trip on every checkout, about a sixth of a webhook's time. A
    # connection that died with the server fails its first statement instead; SQLAlchemy then discards
    # the whole pool, the webhook answers 503 (Shopify retries) and the worker retries its claim.
    return {**pool, "hide_parameters": True, **json_options}
