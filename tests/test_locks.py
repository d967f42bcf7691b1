"""Named leases: one holder at a time, extended by its holder, free again when it runs out or is given back."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from flask import Flask

from app import locks
from app.clock import database_now
from app.models import Lock, db, now_utc


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


def lease_holder(name: str, now: datetime) -> str | None:
    """Who holds the lease `name` at `now`, read from its row in the locks table."""
    db.session.rollback()
    lock = db.session.get(Lock, name)
    if lock is None or lock.holder is None or lock.expires_at is None or lock.expires_at <= now:
        return None
    return lock.holder


def test_only_one_holder_of_a_lease(app: Flask) -> None:
    now = now_utc()
    assert locks.acquire("reconciler", "worker-a", now, 60)
    assert not locks.acquire("reconciler", "worker-b", now, 60)
    assert locks.acquire("reconciler", "worker-a", now, 60)  # the holder extends it
    assert locks.renew("reconciler", "worker-a", now, 60)
    later = now + timedelta(seconds=61)  # worker-a died: its lease runs out
    assert locks.acquire("reconciler", "worker-b", later, 60)
    assert not locks.renew("reconciler", "worker-a", later, 60)
    assert lease_holder("reconciler", later) == "worker-b"


def test_workers_racing_for_a_lease_get_it_once(app: Flask) -> None:
    """Eight threads with their own sessions and connections ask at the same moment."""
    barrier, results, now = threading.Barrier(8), [], now_utc()

    def contend(name: str) -> None:
        with app.app_context():
            barrier.wait()
            results.append(locks.acquire("race", name, now, 60))
            db.session.remove()

    threads = [threading.Thread(target=contend, args=(f"worker-{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
