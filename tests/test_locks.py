"""Named leases: one holder at a time, extended by its holder, free again when it runs out or is given back."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from app import locks
from app.clock import database_now
from app.models import Lock, db


def test_one_holder_at_a_time_until_the_lease_runs_out(app: Flask) -> None:
    now = database_now()
    assert locks.acquire("reconcile", "worker-a", now, 60)
    assert not locks.acquire("reconcile", "worker-b", now + timedelta(seconds=59), 60)
    assert locks.acquire("reconcile", "worker-a", now + timedelta(seconds=30), 60)  # the holder extends it
    assert not locks.acquire("reconcile", "worker-b", now + timedelta(seconds=89), 60)
    assert locks.acquire("reconcile", "worker-b", now + timedelta(seconds=91), 60)  # ran out: b takes it
    db.session.rollback()
    [row] = db.session.scalars(select(Lock)).all()
    assert (row.name, row.holder) == ("reconcile", "worker-b")


def test_names_are_independent(app: Flask) -> None:
    now = database_now()
    assert locks.acquire("reconcile", "worker-a", now, 60)
    assert locks.acquire("retention", "worker-b", now, 60)


def test_renew_only_while_still_held(app: Flask) -> None:
    now = database_now()
    assert locks.acquire("retention", "worker-a", now, 10)
    assert locks.renew("retention", "worker-a", now + timedelta(seconds=5), 10)
    assert not locks.acquire("retention", "worker-b", now + timedelta(seconds=14), 10)  # renewed to +15
    assert locks.acquire("retention", "worker-b", now + timedelta(seconds=16), 10)
    assert not locks.renew("retention", "worker-a", now + timedelta(seconds=17), 10)  # lost it


def test_release_frees_it_for_the_next_but_only_by_its_holder(app: Flask) -> None:
    now = database_now()
    assert locks.acquire("reconcile", "worker-a", now, 600)
    locks.release("reconcile", "worker-b")  # not b's to give back
    assert not locks.acquire("reconcile", "worker-b", now, 600)
    locks.release("reconcile", "worker-a")
    assert locks.acquire("reconcile", "worker-b", now, 600)
