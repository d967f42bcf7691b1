"""Clock skew drills: a worker whose own clock is wrong changes nothing, because leases, expiry, retention
and heartbeats are measured by the database's clock.

The skewed worker is a real `flask worker --once` process whose wall clock is moved forward
(tests/skewed_clock.py); the database, and this test process, keep the right time.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select

from app import outbox
from app.clock import database_now, heartbeat_age
from app.database import writing
from app.delivery import Worker
from app.mapping import MappingOptions, map_order
from app.models import Event, WorkerHeartbeat, db, now_utc
from app.ops import retention
from tests.factories import web_order
from tests.ops.test_scrape import scrape, value
from tests.processes import ROOT, worker_env
from tests.standins.pinterest import PinterestStandin

LEASE = 20  # seconds: shorter than the 30 s skew, as in the fault this drill reproduces


def run_skewed_worker(database_url: str, pinterest: PinterestStandin, skew_seconds: float, log: Path) -> None:
    """`flask worker --once` in a process whose clock is `skew_seconds` ahead; it must exit cleanly."""
    env = worker_env(database_url, pinterest.base_url, LEASE_SECONDS=LEASE,
                     PINBRIDGE_CLOCK_SKEW_SECONDS=skew_seconds)
    with open(log, "wb") as out:
        code = subprocess.run([sys.executable, "-m", "tests.skewed_clock", "worker", "--once"], cwd=ROOT,
                              env=env, stdout=out, stderr=subprocess.STDOUT, timeout=120).returncode
    assert code == 0, log.read_text()


def enqueue_orders(shop: Any, count: int) -> list[str]:
    now = now_utc() - timedelta(seconds=1)
    ids = []
    for _ in range(count):
        result = outbox.enqueue(shop.id, map_order(web_order(), MappingOptions()), now=now)
        ids.append(db.session.get(Event, result.event_row_id).event_id)
    db.session.commit()
    return ids


def rows() -> list[Event]:
    db.session.rollback()
    return list(db.session.scalars(select(Event).order_by(Event.id)))


def test_database_now_is_the_databases_utc_time_and_leaves_no_transaction(app: Flask) -> None:
    db.session.rollback()
    before = now_utc()
    now = database_now()
    after = now_utc()
    assert now.tzinfo is UTC
    # Same host: the database's clock agrees with ours (SQLite keeps milliseconds only).
    assert before - timedelta(seconds=1) <= now <= after + timedelta(seconds=1)
    assert not db.session().in_transaction()  # a write (BEGIN IMMEDIATE) may start right after
    with writing():
        assert database_now() >= now  # inside a transaction: asked in it


def test_worker_30s_ahead_does_not_take_over_another_workers_events(
    app: Flask, database_url: str, configure_shop: Any, pinterest: PinterestStandin, tmp_path: Path
) -> None:
    app.config["LEASE_SECONDS"] = LEASE
    shop = configure_shop()
    event_ids = enqueue_orders(shop, 5)
    first = Worker(app, worker_id="worker-on-time", rand=lambda: 0.5)
    claimed = first._claim_next()  # in flight: claimed under a 20 s lease, not yet sent
    assert len(claimed) == 5

    run_skewed_worker(database_url, pinterest, 30, tmp_path / "ahead.log")

    assert pinterest.requests == []  # the worker 30 s ahead neither reclaimed nor sent them
    assert {(e.status, e.claimed_by) for e in rows()} == {("sending", "worker-on-time")}
    first.deliver(claimed)
    first.client.close()
    assert pinterest.sent_event_id_counts == {event_id: 1 for event_id in event_ids}  # nothing sent twice
    assert {e.status for e in rows()} == {"delivered"}


def test_worker_73h_ahead_expires_nothing_purges_no_live_heartbeat_and_cannot_fake_health(
    app: Flask, client: FlaskClient, database_url: str, configure_shop: Any, pinterest: PinterestStandin,
    tmp_path: Path,
) -> None:
    shop = configure_shop()
    pinterest.set_mode("unavailable", retry_after=None)  # events stay waiting, as in an outage
    enqueue_orders(shop, 3)
    with writing():
        now = database_now()
        db.session.add(WorkerHeartbeat(worker_id="live-worker", last_seen_at=now, started_at=now))

    run_skewed_worker(database_url, pinterest, 73 * 3600, tmp_path / "ahead.log")

    events = rows()
    assert [(e.status, e.error_code) for e in events] == [("pending", "unavailable")] * 3  # not "expired"
    db_now = database_now()
    assert all(e.available_at <= db_now + timedelta(hours=1) for e in events)  # backoff by the database's clock
    beats = {b.worker_id: b.last_seen_at for b in db.session.scalars(select(WorkerHeartbeat))}
    assert "live-worker" in beats  # not purged as "gone for a day"
    assert len(beats) == 2 and max(beats.values()) <= db_now  # its own heartbeat is not in the future

    # Every worker has stopped: once the heartbeats age past the limit, health must say so.
    app.config["WORKER_STALE_SECONDS"] = 1
    deadline = time.monotonic() + 30
    while (body := client.get("/healthz").get_json())["worker"] != "stale" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (body["status"], body["worker"]) == ("degraded", "stale")
    assert body["worker_heartbeat_age_seconds"] >= 1
    assert value(scrape(client), "pinbridge_worker_heartbeat_age_seconds") >= 1


def test_a_heartbeat_from_the_future_does_not_count_and_retention_removes_it(
    app: Flask, client: FlaskClient
) -> None:
    with writing():
        ahead = database_now() + timedelta(hours=73)
        db.session.add(WorkerHeartbeat(worker_id="wrong-clock", last_seen_at=ahead, started_at=ahead))

    body = client.get("/healthz").get_json()
    assert (body["status"], body["worker"], body["worker_heartbeat_age_seconds"]) == ("degraded", "none", None)
    assert ("pinbridge_worker_heartbeat_age_seconds", frozenset()) not in scrape(client)

    with writing():
        now = database_now()
        db.session.add(WorkerHeartbeat(worker_id="on-time", last_seen_at=now, started_at=now))
    assert client.get("/healthz").get_json()["worker"] == "ok"
    assert retention.purge_heartbeats(database_now()) == 1
    db.session.rollback()
    assert list(db.session.scalars(select(WorkerHeartbeat.worker_id))) == ["on-time"]
    db.session.execute(delete(WorkerHeartbeat))
    db.session.commit()
    assert heartbeat_age() is None
