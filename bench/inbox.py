"""The inbox: how fast one worker routes waiting webhooks, and whether one shop's burst holds the others.

A burst of one shop's orders (a flash sale, or Shopify resending a backlog) lands in the inbox of a running
worker: once the worker is up (its heartbeat, its start-up work and mapping processes done), the sealed bodies
are stored in one transaction (INSERTs of 100, as the acknowledgement's group commit writes them). While it
works through the burst, another shop's order is stored every QUIET_EVERY seconds, as if just acknowledged.
Measured: receipts routed per second (decrypt, map, join, enqueue; from the first routed to the inbox empty),
and each quiet order's time from its receipt to the stand-in, beside the same quiet orders on an idle instance
(no burst).
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import procs
from .bodies import order_body
from .db import BenchDatabases, app_context, app_env, scalar, seed, shop_domain
from .freshness import percentile

QUIET_EVERY = 0.5  # seconds between two orders of the other shops
QUIET_SHOPS = 10  # the other shops, taking turns
POLL_EVERY = 0.25  # seconds between two looks at the inbox
SETTLE = 15.0  # seconds the last quiet orders get to reach the stand-in
CHUNK = 100  # receipts per INSERT, as the acknowledgement's group commit writes them at most


def _receipt_rows(box: Any, shop: str, orders: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
    from app.inbox.receipts import WAITING
    from app.models import now_utc

    return [{"webhook_id": f"bench-inbox-{uuid.uuid4().hex}", "shop_domain": shop, "topic": "orders/create",
             "received_at": now_utc(), "triggered_at": None, "api_version": "2026-10", "outcome": WAITING,
             "body": box.sealed.seal(raw, shop.encode())} for _, raw in orders]


def _orders(count: int, seed_n: int) -> list[tuple[str, bytes]]:
    return list(_each_order(count, seed_n))


def _each_order(count: int, seed_n: int) -> Iterator[tuple[str, bytes]]:
    """Order bodies one at a time (the quiet orders start at once, not after building all of them)."""
    rng = random.Random(seed_n)
    for n in range(count):
        order, cart_token = order_body(rng, n)
        yield cart_token, json.dumps(order, separators=(",", ":")).encode()


def _store_at_once(url: str, rows: list[dict[str, Any]]) -> None:
    from sqlalchemy import insert

    from app import wake
    from app.models import WebhookReceipt, db

    with app_context(url):
        for start in range(0, len(rows), CHUNK):
            db.session.execute(insert(WebhookReceipt), rows[start:start + CHUNK])
        db.session.commit()
        wake.send(db.engine, wake.INBOX)


BACKLOG_DELIVERED = "SELECT count(*) FROM events WHERE status = 'delivered' AND event_id LIKE 'seed-pending-%'"


def measure(url: str, burst: int, latency: float, logdir: Path, name: str, seed_n: int,
            backlog: int = 0, workers: int = 1) -> dict[str, Any]:
    """With `backlog`, the busy shop's events wait in the outbox instead (seeded), and the inbox is empty."""
    from flask import current_app

    from app.inbox import receipts

    busy = shop_domain(0)
    with app_context(url) as app:
        box = receipts.receipts_for(app)
        rows = _receipt_rows(box, busy, _orders(burst, seed_n))  # sealed before any worker starts
    standin = procs.Standin(latency, logdir)
    started = [procs.start_worker(app_env(url, standin.url), logdir, f"{name}-{n}") for n in range(workers)]
    ready_by = time.monotonic() + 60  # the burst and the quiet orders come once every worker has started
    while int(scalar(url, "SELECT count(*) FROM worker_heartbeats")) < workers and time.monotonic() < ready_by:
        time.sleep(0.05)
    if rows:  # the burst lands at once on running workers (one transaction, as one commit of the door's),
        for worker in started:  # once each is up: imports done, its mapping processes started
            procs.wait_until_quiet(worker.pid)
        _store_at_once(url, rows)
    del rows
    stored_at: dict[str, float] = {}
    done = threading.Event()

    def quiet_orders() -> None:
        with app_context(url):
            qbox = receipts.receipts_for(current_app._get_current_object())  # type: ignore[attr-defined]
            for n, (cart_token, raw) in enumerate(_each_order(10_000, seed_n + 1)):
                if done.wait(QUIET_EVERY):
                    return
                shop = shop_domain(1 + n % QUIET_SHOPS)
                receipts._store(qbox, _receipt_rows(qbox, shop, [(cart_token, raw)]))
                stored_at[cart_token] = time.time()

    quiet = threading.Thread(target=quiet_orders)
    quiet.start()
    first = empty = None
    backlog_from = backlog_to = 0
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline:
            waiting = int(scalar(url, "SELECT count(*) FROM webhook_receipts WHERE body IS NOT NULL"))
            now = time.monotonic()
            if burst and first is None and waiting < burst:
                first = now
            if backlog and first is None and stored_at:  # the backlog's drain, from the first quiet order
                first, backlog_from = now, int(scalar(url, BACKLOG_DELIVERED))
            if burst == 0 and len(stored_at) >= 20:
                if backlog and first is not None:
                    empty, backlog_to = now, int(scalar(url, BACKLOG_DELIVERED))
                break
            if burst and waiting <= 1 and first is not None:  # the burst is routed (a quiet order may wait)
                empty = now
                break
            time.sleep(POLL_EVERY)
        done.set()
        quiet.join()
        time.sleep(SETTLE if burst == 0 else min(SETTLE, 5.0))
    finally:
        done.set()
        for worker in started:
            worker.stop()
        summary = standin.stop()
    arrivals: dict[str, float] = summary.get("arrivals", {})
    waits = [arrivals[e] - t for e, t in stored_at.items() if e in arrivals]
    seconds = (empty - first) if (first is not None and empty is not None and empty > first) else float("nan")
    return {
        "burst": burst, "routed_per_s": burst / seconds if burst and seconds == seconds else float("nan"),
        "backlog": backlog, "backlog_delivered_per_s": ((backlog_to - backlog_from) / seconds
                                                        if backlog and seconds == seconds else float("nan")),
        "quiet_orders": len(stored_at), "quiet_delivered": len(waits),
        "quiet_p50_s": percentile(waits, 50), "quiet_p95_s": percentile(waits, 95),
        "quiet_max_s": max(waits) if waits else float("nan"),
        "peak_rss_worker_mb": max((w.peak_rss_mb or 0.0) for w in started),
        "peak_rss_mapping_mb": max((w.peak_child_rss_mb for w in started if w.peak_child_rss_mb), default=None),
    }


def _with_backlog(size: int) -> Any:
    def build(url: str) -> None:
        seed(url, pending=size, shops=1)  # every pending event the busy shop's (shop 0)
        seed(url, prefix="others")  # the other shops configured, nothing of theirs waiting
    return build


def run(dbs: BenchDatabases, kinds: list[str], burst: int, latency: float, logdir: Path,
        round_no: int, backlog: int = 0) -> dict[str, Any]:
    """On each database: the quiet orders alone (an idle instance), behind one shop's burst in the inbox,
    and (with `backlog`) behind that many of one shop's events waiting in the outbox."""
    out: dict[str, Any] = {}
    cases = [("idle", 0, "shops"), ("burst", burst, "shops")] + ([("backlog", 0, "backlog")] if backlog else [])
    for kind in kinds:
        # PostgreSQL routes in several workers side by side (each locks what it reads); SQLite has one writer.
        extra = [("burst_2_workers", burst, "shops")] if kind == "postgresql" else []
        for label, size, template in cases + extra:
            build = _with_backlog(backlog) if template == "backlog" else (lambda u: seed(u))
            url = dbs.copy(dbs.template(kind, f"inbox-{template}", build))
            try:
                out.setdefault(kind, {})[label] = measure(
                    url, size, latency, logdir, f"inbox-{kind}-{label}", seed_n=3000 + round_no,
                    backlog=backlog if label == "backlog" else 0, workers=2 if label.endswith("2_workers") else 1)
            finally:
                dbs.drop(url)
    return out
