"""Shared fixtures: the app on SQLite and PostgreSQL, signed webhooks, the Pinterest stand-in, a worker.

Layout: tests/<package>/test_<module>.py tests app/<package>/<module>.py (tests/test_<module>.py for a module
at the top of app/); tests named for a theme rather than a module (test_faults, test_hostile_*, test_browser,
test_webhook_fuzz, test_clock_skew, ...) stay at the top.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from app import create_app
from app.config import normalise_database_url
from app.delivery import Worker
from app.models import PinterestSettings, db
from tests.standins.pinterest import PinterestStandin

API_KEY = "test-api-key"
API_SECRET = "test-api-secret-not-real"
OLD_API_SECRET = "test-api-secret-previous"
# A fixed, obviously fake Fernet key: worker processes started by tests must decrypt what tests stored.
ENCRYPTION_KEY = base64.urlsafe_b64encode(b"pinbridge-test-key-not-a-secret!").decode()
SHOP = "demo-store.myshopify.com"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"

# CI runs the property tests on a fixed sequence of examples, so a landing never hangs on a new random case;
# local runs keep exploring (and remember failures in .hypothesis/).
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI") == "true":
    hypothesis_settings.load_profile("ci")


# -- what a test needs from the machine ---------------------------------------------------------------
def require_or_skip(condition: object, reason: str, *, module: bool = False) -> None:
    """Skip when the machine lacks something a test needs, but fail under CI, where everything must be there.

    `module=True` at import time skips (or fails) the whole module.
    """
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=module)


# -- which databases --------------------------------------------------------------------------------
def _pg_admin_url() -> str | None:
    """PostgreSQL to test against: required under CI, used whenever reachable otherwise."""
    url = os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG_URL
    try:
        engine = create_engine(normalise_database_url(url), connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return url
    except Exception as exc:
        if os.environ.get("CI") == "true":
            raise RuntimeError(f"CI=true but PostgreSQL at TEST_DATABASE_URL is unreachable: {exc}") from exc
        return None


PG_ADMIN_URL = _pg_admin_url()
BACKENDS = ["sqlite"] + (["postgresql"] if PG_ADMIN_URL else [])


def _migrate(url: str, tmp: Path) -> None:
    app = create_app(_test_config(url, tmp, "http://127.0.0.1:9/v5"))
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()


def _test_config(url: str, tmp: Path, pinterest_url: str) -> dict[str, Any]:
    return {
        "TESTING": True,
        "ENVIRON": {"SHOPIFY_API_KEY": API_KEY, "SHOPIFY_API_SECRET": API_SECRET,
                    "ENCRYPTION_KEY": ENCRYPTION_KEY, "DATABASE_URL": url},
        "INSTANCE_DIR": tmp,
        "SHOPIFY_API_KEY": API_KEY,
        "SHOPIFY_API_SECRET": API_SECRET,
        "SHOPIFY_API_SECRET_OLD": OLD_API_SECRET,
        "ENCRYPTION_KEY": ENCRYPTION_KEY,
        "ENCRYPTION_KEYS": [ENCRYPTION_KEY],
        "DATABASE_URL": url,
        "SQLALCHEMY_DATABASE_URI": url,
        "PINTEREST_API_URL": pinterest_url,
        "CHECKOUT_SETTLE_SECONDS": 120,
        "WORKER_IDLE_SECONDS": 0.01,
        # In-process workers map on their inbox thread: a mapping process is an interpreter to start for
        # each of the suite's hundreds of worker runs. tests/inbox/test_mappers.py runs them.
        "ROUTING_PROCESSES": 0,
    }


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrations are exercised once per run)."""
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "template.db"
    _migrate(f"sqlite:///{path}", folder)
    return path


@contextmanager
def new_pg_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database of this test process (its URL), dropped afterwards with its connections."""
    assert PG_ADMIN_URL
    admin = make_url(normalise_database_url(PG_ADMIN_URL))
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(scope="session")
def pg_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh PostgreSQL database for this test process, migrated once."""
    with new_pg_database("pinbridge_test") as url:
        _migrate(url, tmp_path_factory.mktemp("pg"))
        yield url


def _truncate_pg(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [t.name for t in db.metadata.sorted_tables]
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each database test runs once on SQLite and once on PostgreSQL (when available)."""
    if request.param == "sqlite":
        target = tmp_path / "pinbridge.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("pg_database")
    _truncate_pg(normalise_database_url(url))
    return url


# -- the app ---------------------------------------------------------------------------------------
@pytest.fixture
def pinterest() -> Iterator[PinterestStandin]:
    with PinterestStandin() as standin:
        yield standin


@pytest.fixture
def app(database_url: str, tmp_path: Path, pinterest: PinterestStandin) -> Iterator[Flask]:
    flask_app = create_app(_test_config(database_url, tmp_path, pinterest.base_url))
    with flask_app.app_context():
        yield flask_app
        db.session.remove()
        db.engine.dispose()


class SessionSafeClient(FlaskClient):
    """A test client whose requests never inherit a transaction the test's own reads left open.

    Requests share the test's app context (and so its session); in production every request starts
    with no transaction, which is what `begin_write` relies on.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        db.session.rollback()
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    app.test_client_class = SessionSafeClient
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


@pytest.fixture
def worker(app: Flask) -> Iterator[Worker]:
    """A delivery worker on the test's app with fixed jitter (modules needing another kind define their own)."""
    w = Worker(app, rand=lambda: 0.5)
    yield w
    w.client.close()


# -- signed webhooks -------------------------------------------------------------------------------
def sign(body: bytes, secret: str = API_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def webhook_headers(body: bytes, topic: str = "orders/create", shop: str = SHOP,
                    webhook_id: str | None = None, secret: str = API_SECRET) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(body, secret),
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-API-Version": "2026-10",
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z"),
    }


@pytest.fixture
def post_webhook(client: FlaskClient) -> Callable[..., Any]:
    """Post a payload signed like Shopify does; break one thing through keyword overrides."""

    def _post(payload: Any, topic: str = "orders/create", *, shop: str = SHOP, webhook_id: str | None = None,
              secret: str = API_SECRET, headers: dict[str, str | None] | None = None, drain: bool = True) -> Any:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        sent = webhook_headers(body, topic, shop, webhook_id, secret)
        for key, value in (headers or {}).items():
            if value is None:
                sent.pop(key, None)
            else:
                sent[key] = value
        response = client.post("/webhooks", data=body, headers=sent)
        if drain:
            process_inbox(client.application)
        return response

    return _post


def process_inbox(app: Flask) -> int:
    """Route what the webhook inbox holds, as the worker would between two claims."""
    from app.inbox import routing

    with app.app_context():
        return routing.drain()


@pytest.fixture
def configure_shop(app: Flask, pinterest: PinterestStandin) -> Callable[..., Any]:
    """Give a shop Pinterest credentials (and any other settings) directly."""
    from app.settings import apply_settings, validate_settings
    from app.shops import get_or_create_shop

    def _configure(shop: str = SHOP, **overrides: Any) -> Any:
        data = {"ad_account_id": "549755885175", "access_token": "pina_test_token_0001", **overrides}
        clean, errors = validate_settings(data)
        assert not errors, errors
        record = get_or_create_shop(shop)
        apply_settings(record, clean)
        db.session.commit()
        return record

    return _configure


def stored_settings() -> PinterestSettings:
    """The Pinterest settings row as the database has it now (the test's own read is ended first)."""
    db.session.rollback()
    settings = db.session.scalar(select(PinterestSettings))
    assert settings is not None
    return settings
