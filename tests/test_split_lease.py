"""Splitting a rejected batch can take far longer than the lease: the worker keeps its lease meanwhile, so
its events are neither handed back to the queue mid-split nor claimed and sent all over again."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select, update

from app import outbox
from app.delivery import Worker
from app.mapping import MappingOptions, map_order
from app.models import Event, db, now_utc
from tests.factories import web_order
from tests.standins.pinterest import PinterestStandin

LEASE = 3  # seconds
LATENCY = 0.3  # seconds per Pinterest request: 32 events with 2 bad ones take 17 requests, about 5 s


def test_a_split_longer_than_the_lease_sends_nothing_twice(
    app: Flask, configure_shop: Any, pinterest: PinterestStandin
) -> None:
    app.config["LEASE_SECONDS"] = LEASE
    shop = configure_shop()
    orders = [web_order() for _ in range(32)]
    now = now_utc()
    for order in orders:
        outbox.enqueue(shop.id, map_order(order, MappingOptions()), now=now)
    db.session.commit()
    poison = {orders[3]["cart_token"], orders[20]["cart_token"]}
    pinterest.reject_batches_containing(lambda ev: ev["event_id"] in poison, message="Invalid currency.")
    pinterest.latency = LATENCY

    worker = Worker(app, rand=lambda: 0.5)
    [reaper] = [job for job in worker.periodic if job.name == "reclaim_leases"]
    reaped_at: list[datetime] = []
    reap = reaper.run
    reaper.run = lambda now: (reaped_at.append(now), reap(now))[1]  # the real reaper, its times noted
    started = worker.clock()
    worker.run(max_idle_loops=1)  # the real loop: it reaps expired leases while the batch is being split
    worker.client.close()

    # The reaper looked, by the database's clock, well after the first lease would have run out.
    assert max(reaped_at) > started + timedelta(seconds=1.5 * LEASE)
    db.session.rollback()
    events = {e.event_id: e for e in db.session.scalars(select(Event))}
    assert {e.attempts for e in events.values()} == {1}  # claimed once: never reclaimed and started over
    assert {eid for eid, e in events.items() if e.status == "failed"} == poison
    assert {e.status for eid, e in events.items() if eid not in poison} == {"delivered"}
    counts = pinterest.event_id_counts
    assert len(counts) == 30 and set(counts.values()) == {1}  # every good event processed exactly once
    # 1 request for the batch, then 2 per level of halving down to each bad event (16, 8, 4, 2, 1 and
    # 8, 4, 2, 1 below the first split's two rejected halves): nothing was sent again from the start.
    assert len(pinterest.requests) == 1 + 2 + 2 * 4 * 2
    assert pinterest.violations == []


def test_renewing_returns_only_the_events_still_held(app: Flask, configure_shop: Any) -> None:
    shop = configure_shop()
    now = now_utc()
    for _ in range(3):
        outbox.enqueue(shop.id, map_order(web_order(), MappingOptions()), now=now)
    db.session.commit()
    claimed = outbox.claim("slow-worker", now, lease_seconds=60, limit=10)
    ids = [c.row_id for c in claimed]
    db.session.execute(update(Event).where(Event.id == ids[0]).values(claimed_by="other-worker"))
    db.session.execute(update(Event).where(Event.id == ids[1]).values(status="delivered", claimed_by=None))
    db.session.commit()

    assert outbox.renew_lease(ids, "slow-worker", now, 600) == {ids[2]}
    db.session.commit()
    expires = dict(db.session.execute(select(Event.id, Event.lease_expires_at)).all())
    assert (expires[ids[2]] - now).total_seconds() == 600
    assert (expires[ids[0]] - now).total_seconds() == 60  # another worker's lease is left alone
