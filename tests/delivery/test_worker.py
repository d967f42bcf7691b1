"""The worker's loop: periodic jobs when due, failures that stop nothing, heartbeats, stopping, busy shops."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.delivery import Periodic, Worker
from app.models import Event, WorkerHeartbeat, db
from tests.factories import web_order
from tests.standins.pinterest import PinterestStandin
from tests.test_delivery import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def worker(app: Flask, clock: Clock) -> Iterator[Worker]:
    w = Worker(app, clock=clock, rand=lambda: 0.5, worker_id="loop-under-test")
    yield w
    w.client.close()


def job(worker: Worker, name: str) -> Periodic:
    [found] = [j for j in worker.periodic if j.name == name]
    return found


def recording(calls: list[datetime]) -> Any:
    return lambda now: calls.append(now)


def test_quick_jobs_run_when_due_with_the_workers_clock(worker: Worker, clock: Clock) -> None:
    often: list[datetime] = []
    rarely: list[datetime] = []
    worker.periodic = [Periodic("often", 0.0, recording(often)), Periodic("rarely", 3600.0, recording(rarely))]
    clock.advance(90)  # the clock the worker was given, not the machine's
    for _ in range(3):
        assert worker.run_once() == 0
    assert len(often) == 3 and len(rarely) == 1
    assert abs((rarely[0] - clock.now).total_seconds()) < 60  # measured by the given clock


def test_a_failing_job_is_logged_and_the_claims_go_on(worker: Worker, post_webhook: Any, configure_shop: Any,
                                                      pinterest: PinterestStandin,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    configure_shop()
    order = web_order()
    post_webhook(order)

    def broken(_now: datetime) -> None:
        raise RuntimeError("disk full")

    worker.periodic = [Periodic("broken", 0.0, broken)]
    db.session.rollback()
    assert worker.run_once() == 1
    assert [e["event_id"] for r in pinterest.requests for e in r.events] == [order["cart_token"]]
    assert any(getattr(r, "action", None) == "periodic_failed" and getattr(r, "job", None) == "broken"
               for r in caplog.records)


def test_the_heartbeat_is_written_and_refreshed(worker: Worker, clock: Clock) -> None:
    beat = job(worker, "heartbeat")
    worker.periodic = [beat]
    worker.run_once()
    db.session.rollback()
    [first] = db.session.scalars(select(WorkerHeartbeat)).all()
    assert first.worker_id == "loop-under-test" and first.started_at == first.last_seen_at
    clock.advance(30)
    beat.last = float("-inf")  # due again
    worker.run_once()
    db.session.rollback()
    [again] = db.session.scalars(select(WorkerHeartbeat)).all()
    assert (again.last_seen_at - again.started_at).total_seconds() >= 30


def test_every_job_the_worker_runs(worker: Worker) -> None:
    assert [(j.name, j.slow) for j in worker.periodic] == [
        ("heartbeat", False), ("reclaim_leases", False), ("expire", False), ("reconcile", True),
        ("recover_days", True), ("retention", True), ("reopen_held", False)]


def test_run_stops_when_asked_and_the_slow_jobs_have_run_once(worker: Worker) -> None:
    slow_runs: list[datetime] = []
    quick_runs: list[datetime] = []
    worker.periodic = [Periodic("quick", 0.0, recording(quick_runs)),
                       Periodic("slow", 3600.0, recording(slow_runs), slow=True)]
    loop = threading.Thread(target=worker.run)
    loop.start()
    try:
        assert _wait_for(lambda: quick_runs and slow_runs)
    finally:
        worker.stop()
        loop.join(timeout=30)
    assert not loop.is_alive()
    assert len(slow_runs) == 1


def test_sigterm_asks_the_loop_to_stop(worker: Worker) -> None:
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        worker.install_signal_handlers()
        os.kill(os.getpid(), signal.SIGTERM)
        assert _wait_for(worker.stopping.is_set)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def test_run_routes_the_inbox_and_delivers(worker: Worker, post_webhook: Any, configure_shop: Any,
                                           pinterest: PinterestStandin) -> None:
    configure_shop()
    orders = [web_order() for _ in range(3)]
    for order in orders:
        post_webhook(order, drain=False)  # left in the inbox for the worker's own routing
    loop = threading.Thread(target=worker.run)
    loop.start()
    try:
        assert _wait_for(lambda: len(pinterest.event_id_counts) == 3)
    finally:
        worker.stop()
        loop.join(timeout=30)
    assert set(pinterest.event_id_counts) == {o["cart_token"] for o in orders}
    db.session.rollback()
    assert set(db.session.scalars(select(Event.status))) == {"delivered"}


def test_a_shop_with_a_batch_in_flight_is_not_claimed_again(worker: Worker, post_webhook: Any,
                                                            configure_shop: Any) -> None:
    shop = configure_shop()
    post_webhook(web_order())
    db.session.rollback()
    assert worker._claim_next(busy_shops={shop.id}) == []
    assert [c.shop_id for c in worker._claim_next()] == [shop.id]


def _wait_for(condition: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_one_look_at_the_inbox_routes_every_shop_waiting_not_one_short_batch(worker: Worker) -> None:
    """While two shops wait a batch is short (a share each); the look goes on until nothing waits."""
    from app.inbox import fair, routing
    from tests.inbox.test_fair import BUSY, QUIET, burst, outcomes

    burst(BUSY, routing.batch_size() * 3)
    burst(QUIET, 4, first_id=90_000)
    assert worker._route_inbox() == routing.batch_size() * 3 + 4
    assert set(outcomes(BUSY)) == set(outcomes(QUIET)) == {"queued"}
    assert len(worker.inbox) == 0
    assert fair.SHARED_BATCH < routing.batch_size()  # the case above: short batches first
