"""The database's clock, and the worker heartbeat's age measured by it."""

from __future__ import annotations

from datetime import UTC, timedelta

from flask import Flask

from app.clock import database_now, heartbeat_age
from app.database import writing
from app.models import WorkerHeartbeat, db, now_utc


def test_database_now_is_aware_utc_and_close_to_this_hosts(app: Flask) -> None:
    now = database_now()
    assert now.tzinfo is UTC
    assert abs((now - now_utc()).total_seconds()) < 300  # the database runs on this host, clocks agree
    later = database_now()
    assert later >= now


def test_asking_the_time_opens_no_transaction(app: Flask) -> None:
    db.session.rollback()
    database_now()
    assert not db.session().in_transaction()  # a write may begin with BEGIN IMMEDIATE right after
    with writing():
        inside = database_now()  # inside a transaction: read on its connection
        assert db.session().in_transaction()
    assert inside.tzinfo is UTC


def _beat(worker: str, seconds_ago: float) -> None:
    with writing():
        stamp = database_now() - timedelta(seconds=seconds_ago)
        db.session.add(WorkerHeartbeat(worker_id=worker, last_seen_at=stamp, started_at=stamp))


def test_heartbeat_age_is_the_newest_believable_heartbeats(app: Flask) -> None:
    assert heartbeat_age() is None
    _beat("old", 600)
    _beat("recent", 30)
    now = database_now()
    age = heartbeat_age(now)
    assert age is not None and 30 <= age < 60
    _beat("from-the-future", -3600)  # a clock an hour ahead: proves nothing
    assert heartbeat_age(now) == age
    _beat("slightly-ahead", -2)      # within the tolerance: counted, and never a negative age
    assert heartbeat_age(now) == 0.0
