"""Benchmark databases: created fresh (SQLite file or PostgreSQL database), migrated, seeded, dropped after.

Seeded states are built once per size into a template (a copied SQLite file, a PostgreSQL
`CREATE DATABASE ... TEMPLATE`), so every run starts from the same rows without re-inserting them.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text, update

from app import create_app
from app.config import normalise_database_url
from app.mapping import MappingOptions, map_order
from app.models import Event, PixelBeacon, Shop, WebhookReceipt, db, now_utc
from app.settings import apply_settings
from app.shops import get_or_create_shop
from tests.factories import web_order

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
API_KEY = "bench-api-key"
API_SECRET = "bench-api-secret-not-real"
ENCRYPTION_KEY = base64.urlsafe_b64encode(b"pinbridge-bench-key-not-secret!!").decode()
SHOPS = 50
INSERT_CHUNK = 5000  # rows per executemany


def shop_domain(n: int) -> str:
    return f"bench-store-{n:03d}.myshopify.com"


def ad_account(n: int) -> str:
    return f"{900_000_000_000 + n}"


def _pg_admin() -> Any:
    return create_engine(normalise_database_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")


def pg_available() -> bool:
    try:
        engine = _pg_admin()
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


class BenchDatabases:
    """Every database this run creates, so all of them are dropped at the end, whatever happens."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.tag = uuid.uuid4().hex[:8]
        self.pg_names: list[str] = []
        self.templates: dict[tuple[str, str], str] = {}
        self.counter = 0

    def _new_url(self, kind: str) -> str:
        self.counter += 1
        name = f"pinbridge_bench_{self.tag}_{self.counter}"
        if kind == "sqlite":
            return f"sqlite:///{self.workdir / (name + '.db')}"
        return self._create_pg(name, "")

    def _create_pg(self, name: str, template_clause: str) -> str:
        engine = _pg_admin()
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{template_clause}'))
        engine.dispose()
        self.pg_names.append(name)
        return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name

    def template(self, kind: str, key: str, build: Any) -> str:
        """A migrated and seeded database built once; `build(url)` seeds it."""
        if (kind, key) not in self.templates:
            url = self._new_url(kind)
            migrate(url)
            build(url)
            if kind == "sqlite":
                engine = create_engine(url)
                with engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                engine.dispose()
            self.templates[(kind, key)] = url
        return self.templates[(kind, key)]

    def copy(self, template_url: str) -> str:
        """A fresh database holding exactly the template's rows."""
        self.counter += 1
        name = f"pinbridge_bench_{self.tag}_{self.counter}"
        if template_url.startswith("sqlite"):
            source = Path(template_url.removeprefix("sqlite:///"))
            target = self.workdir / (name + ".db")
            shutil.copyfile(source, target)
            return f"sqlite:///{target}"
        return self._create_pg(name, f' TEMPLATE "{template_url.rsplit("/", 1)[1]}"')

    def drop(self, url: str) -> None:
        if url.startswith("sqlite"):
            path = Path(url.removeprefix("sqlite:///"))
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            return
        name = url.rsplit("/", 1)[1]
        engine = _pg_admin()
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()
        if name in self.pg_names:
            self.pg_names.remove(name)

    def drop_all(self) -> None:
        for name in list(self.pg_names):
            self.drop(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
        for (kind, _key), url in list(self.templates.items()):
            if kind == "sqlite":
                self.drop(url)
        self.templates.clear()


def app_env(database_url: str, pinterest_url: str = "http://127.0.0.1:9/v5", **extra: Any) -> dict[str, str]:
    """The environment every Pinbridge process of a benchmark runs with (fake secrets, production defaults)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "WEB_CONCURRENCY", "GUNICORN_"))}
    env.update({
        "APP_ENV": "development", "FLASK_APP": "app", "DATABASE_URL": database_url,
        "PINTEREST_API_URL": pinterest_url, "SHOPIFY_API_KEY": API_KEY, "SHOPIFY_API_SECRET": API_SECRET,
        "ENCRYPTION_KEY": ENCRYPTION_KEY, "PYTHONUNBUFFERED": "1",
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env


def migrate(url: str) -> None:
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=ROOT, env=app_env(url),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@contextmanager
def app_context(url: str) -> Iterator[Any]:
    app = create_app({"ENVIRON": app_env(url)})
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def _insert(model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), INSERT_CHUNK):
        db.session.execute(insert(model), rows[start:start + INSERT_CHUNK])


def beacon_click_id(checkout_token: str) -> str:
    """The fake `_epik` click id the benchmarks' pixel reports for a checkout token."""
    return f"dj0yJnU9bench-{checkout_token}"


def seed(url: str, *, pending: int = 0, history: int = 0, shops: int = SHOPS, prefix: str = "seed",
         beacons: bool = False, pixel_seen: bool = False) -> None:
    """Configure `shops` shops; add `pending` events to send and `history` delivered events with receipts.

    Events are spread evenly over the shops; history rows are a week old, as a live shop's table would be.
    With `beacons`, every pending event is a web order with a checkout token whose pixel beacon is stored
    (and the order itself carries no click id, so the beacon's is the one sent). `pixel_seen` marks the
    shops' pixel as having reported, so new web orders wait for their beacon.
    """
    template = map_order(web_order(), MappingOptions()).event
    assert template is not None
    if beacons:
        template["user_data"].pop("click_id", None)
    encoded = json.dumps(template)
    with app_context(url):
        shop_ids = []
        for s in range(shops):
            shop = get_or_create_shop(shop_domain(s))
            apply_settings(shop, {"ad_account_id": ad_account(s), "access_token": f"pina_bench_token_{s:04d}"})
            db.session.flush()
            shop_ids.append(shop.id)
        now = now_utc()
        if beacons or pixel_seen:
            db.session.execute(update(Shop).where(Shop.id.in_(shop_ids)).values(pixel_seen_at=now))
        db.session.commit()
        old = now - timedelta(days=7)
        for kind, count, when in (("history", history, old), ("pending", pending, now)):
            rows, receipts, stored_beacons = [], [], []
            for i in range(count):
                event_id = f"{prefix}-{kind}-{i:07d}"
                payload = json.loads(encoded)
                payload["event_id"] = event_id
                row = {"shop_id": shop_ids[i % shops], "event_id": event_id, "source": "order",
                       "payload": payload, "status": "pending", "received_at": when, "available_at": when,
                       "updated_at": when, "attempts": 0, "test": False, "match_keys": "em ip_ua"}
                if kind == "pending" and beacons:
                    checkout_token = f"{prefix}-co-{i:07d}"
                    row.update(action_source="web", checkout_token=checkout_token)
                    stored_beacons.append({
                        # One in ten Tags fired with the checkout token (an older checkout whose thank-you
                        # address hides the cart token): the worker adopts that id for the event.
                        "shop_id": row["shop_id"], "checkout_token": checkout_token,
                        "tag_event_id": checkout_token if i % 10 == 0 else event_id,
                        "click_id": beacon_click_id(checkout_token), "consent_marketing": True,
                        "consent_sale_of_data": True, "user_agent": "Mozilla/5.0 (iPhone) BenchAgent",
                        "ip": None, "received_at": now})
                if kind == "history":
                    row.update(status="delivered", delivered_at=when, attempts=1, last_attempt_at=when)
                    receipts.append({"webhook_id": f"{prefix}-wh-{i:07d}", "shop_domain": shop_domain(i % shops),
                                     "topic": "orders/create", "received_at": when, "outcome": "queued"})
                rows.append(row)
            _insert(Event, rows)
            if receipts:
                _insert(WebhookReceipt, receipts)
            if stored_beacons:
                _insert(PixelBeacon, stored_beacons)
            db.session.commit()
        if not url.startswith("sqlite"):
            db.session.execute(text("ANALYZE"))
            db.session.commit()


def scalar(url: str, sql: str, **params: Any) -> Any:
    engine = create_engine(normalise_database_url(url))
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()
    finally:
        engine.dispose()


def rows(url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(normalise_database_url(url))
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())
    finally:
        engine.dispose()
