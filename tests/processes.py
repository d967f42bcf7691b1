"""Real worker processes and bulk-seeded outboxes for the fault and scale-out tests."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from app.mapping import MappingOptions, map_order
from app.models import Event, db, now_utc
from app.settings import apply_settings
from app.shops import get_or_create_shop
from tests.conftest import API_KEY, API_SECRET, ENCRYPTION_KEY
from tests.factories import web_order

ROOT = Path(__file__).resolve().parent.parent


def shop_domain(n: int) -> str:
    return f"load-store-{n:03d}.myshopify.com"


def ad_account(n: int) -> str:
    return f"{900_000_000_000 + n}"


def seed(shops: int, per_shop: int, *, prefix: str = "evt") -> dict[str, str]:
    """Configure `shops` shops and insert `per_shop` pending events each; return event_id → ad account."""
    template = map_order(web_order(), MappingOptions()).event
    assert template is not None
    now = now_utc()
    owner: dict[str, str] = {}
    for s in range(shops):
        shop = get_or_create_shop(shop_domain(s))
        apply_settings(shop, {"ad_account_id": ad_account(s), "access_token": f"pina_load_token_{s:04d}"})
        db.session.flush()
        rows = []
        for i in range(per_shop):
            event_id = f"{prefix}-{s:03d}-{i:05d}"
            payload = copy.deepcopy(template)
            payload["event_id"] = event_id
            rows.append({"shop_id": shop.id, "event_id": event_id, "source": "order", "payload": payload,
                         "status": "pending", "received_at": now, "available_at": now, "updated_at": now,
                         "attempts": 0, "test": False, "match_keys": "em ip_ua"})
            owner[event_id] = ad_account(s)
        db.session.execute(insert(Event), rows)
    db.session.commit()
    return owner


def worker_env(database_url: str, pinterest_url: str, **extra: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "COV_"))}
    env.update({
        "APP_ENV": "development", "FLASK_APP": "app", "DATABASE_URL": database_url,
        "PINTEREST_API_URL": pinterest_url, "SHOPIFY_API_KEY": API_KEY, "SHOPIFY_API_SECRET": API_SECRET,
        "ENCRYPTION_KEY": ENCRYPTION_KEY, "WORKER_IDLE_SECONDS": "0.05", "PYTHONUNBUFFERED": "1",
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env


def start_worker(env: dict[str, str], *, once: bool = True, log: Path | None = None) -> subprocess.Popen[bytes]:
    """`flask --app app worker` as its own process, the way the Procfile runs it."""
    args = [sys.executable, "-m", "flask", "--app", "app", "worker"] + (["--once"] if once else [])
    if log is None:
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
