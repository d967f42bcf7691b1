"""Mapping the inbox on several cores: a large batch shared with the mapping processes maps exactly as the
routing thread alone would, a dead process costs nothing but time, and the worker stops its processes."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import func, insert, select

from app.crypto import SealedBodies
from app.delivery.worker import Worker
from app.inbox import mappers, routing
from app.inbox import receipts as inbox_receipts
from app.inbox.mappers import POOL_FROM, SEALED_SHUT, Body, MappingPool, map_all
from app.mapping import MappedPurchase
from app.models import Event, WebhookReceipt, db, now_utc
from app.settings import MappingOptions
from app.vocabulary import EventSource
from tests.conftest import ENCRYPTION_KEY
from tests.factories import completed_checkout, web_order

SHOP = "many-cores.myshopify.com"
KEYS = [ENCRYPTION_KEY]
SEALED = SealedBodies(KEYS)


def body(payload: Any, *, order: bool = True, sealed: SealedBodies = SEALED, raw: bytes | None = None) -> Body:
    data = raw if raw is not None else json.dumps(payload).encode()
    return Body(sealed.seal(data, SHOP.encode()), SHOP, order, MappingOptions(), 1_780_000_000)


def mixed_batch(size: int) -> list[Body]:
    """Orders and completed checkouts, with a body cut short, one that is not an object and one no key opens."""
    bodies = []
    for n in range(size):
        order = web_order(id=9_000 + n, checkout_token=f"{n:032x}", cart_token=f"c{n:031x}",
                          email=f"buyer{n}@example.com")
        bodies.append(body(completed_checkout(order), order=False) if n % 7 == 3 else body(order))
    bodies[5] = body(None, raw=b'{"id": 9005, "line_items": [')  # cut short
    bodies[size // 2] = body(None, raw=b"[1, 2, 3]")
    bodies[-2] = body(web_order(), sealed=SealedBodies([Fernet.generate_key().decode()]))
    return bodies


@pytest.fixture
def pool() -> Iterator[MappingPool]:
    """Two mapping processes, started and up."""
    mapping_pool = MappingPool(2, KEYS)
    mapping_pool.start()
    assert mapping_pool.ready(timeout=60)
    yield mapping_pool
    mapping_pool.close()


def test_a_large_batch_shared_with_the_processes_maps_as_the_routing_thread_alone(pool: MappingPool) -> None:
    bodies = mixed_batch(POOL_FROM + 9)
    alone = map_all(SEALED, bodies)
    assert pool.map(SEALED, bodies) == alone
    assert pool._pool is not None and len(pool._pool._processes) == 2  # type: ignore[attr-defined]  # shared
    assert alone[5] is None and alone[len(bodies) // 2] is None and alone[-2] == SEALED_SHUT
    purchases = [result for result in alone if isinstance(result, MappedPurchase)]
    assert len(purchases) == len(bodies) - 3
    # In the receipts' order: each purchase is its own order's, orders and checkouts alike.
    assert [p.checkout_token for p in purchases] == [f"{n:032x}" for n in range(len(bodies))
                                                     if n not in (5, len(bodies) // 2, len(bodies) - 2)]
    assert {p.kind for p in purchases} == {EventSource.ORDER, EventSource.CHECKOUT}


def test_a_small_batch_and_one_while_the_processes_start_are_mapped_on_the_routing_thread(
        monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[Any] = []
    submit = ProcessPoolExecutor.submit

    def recorded(self: ProcessPoolExecutor, fn: Any, *args: Any) -> Any:
        if fn is not mappers._ready:  # the start's own look at each process
            sent.append(fn)
        return submit(self, fn, *args)

    monkeypatch.setattr(ProcessPoolExecutor, "submit", recorded)
    pool = MappingPool(1, KEYS)
    try:
        bodies = mixed_batch(POOL_FROM - 1)
        assert pool.map(SEALED, bodies) == map_all(SEALED, bodies)
        assert pool._pool is None  # no process was started for it
        bodies = mixed_batch(POOL_FROM * 4)
        assert pool.map(SEALED, bodies) == map_all(SEALED, bodies)  # the processes are starting: mapped here
        assert pool._pool is not None and sent == []
        assert pool.ready(timeout=60)
        assert pool.map(SEALED, bodies) == map_all(SEALED, bodies)
        assert sent  # once they are up, they take shares
    finally:
        pool.close()


def _die(bodies: list[Body]) -> list[Any]:
    """A share's work in a mapping process that dies at it (the kernel's OOM killer, a crash)."""
    os._exit(1)


def test_a_process_dying_mid_batch_costs_only_time(pool: MappingPool, caplog: pytest.LogCaptureFixture,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    bodies = mixed_batch(POOL_FROM * 4)
    alone = map_all(SEALED, bodies)
    started = pool._pool
    monkeypatch.setattr(mappers, "_map_share", _die)  # what the processes are sent to run
    with caplog.at_level(logging.ERROR, logger=mappers.__name__):
        assert pool.map(SEALED, bodies) == alone  # the dead processes' shares mapped on this thread
    assert any(getattr(r, "action", None) == "mapping_pool_failed" for r in caplog.records)
    monkeypatch.undo()
    assert pool.map(SEALED, bodies) == alone  # the next batch starts new processes, mapped here meanwhile
    assert pool._pool is not None and pool._pool is not started
    assert pool.ready(timeout=60)
    assert pool.map(SEALED, bodies) == alone  # and shared with them once they are up


def test_a_dead_pool_is_replaced(pool: MappingPool, caplog: pytest.LogCaptureFixture) -> None:
    bodies = mixed_batch(POOL_FROM * 2)
    alone = map_all(SEALED, bodies)
    started = pool._pool
    assert started is not None
    for process in list(started._processes.values()):  # type: ignore[attr-defined]
        os.kill(process.pid, signal.SIGKILL)
        process.join(10)
    with caplog.at_level(logging.ERROR, logger=mappers.__name__):
        assert pool.map(SEALED, bodies) == alone
    assert any(getattr(r, "action", None) == "mapping_pool_failed" for r in caplog.records)
    assert pool.map(SEALED, bodies) == alone and pool._pool is not None and pool._pool is not started


def _store(count: int) -> None:
    for n in range(count):
        order = web_order(id=70_000 + n, checkout_token=f"{n:032x}", cart_token=f"c{n:031x}")
        answer = inbox_receipts.accept(webhook_id=f"wh-cores-{n}", shop_domain=SHOP, topic="orders/create",
                                       triggered_at=None, api_version="2026-10", raw=json.dumps(order).encode())
        assert answer == "accepted"


def test_routing_with_the_processes_routes_each_receipt_once_and_holds_what_no_key_opens(app: Flask) -> None:
    _store(POOL_FROM + 8)
    stranger = SealedBodies([Fernet.generate_key().decode()])
    with app.app_context():
        db.session.execute(insert(WebhookReceipt).values(
            webhook_id="wh-cores-foreign", shop_domain=SHOP, topic="orders/create", received_at=now_utc(),
            outcome=inbox_receipts.WAITING, body=stranger.seal(json.dumps(web_order()).encode(), SHOP.encode())))
        db.session.commit()
        pool = MappingPool(1, KEYS)
        pool.start()
        assert pool.ready(timeout=60)
        try:
            assert routing.process_pending(mappers=pool) == POOL_FROM + 9
            assert pool._pool is not None  # the batch was shared
        finally:
            pool.close()
        outcomes = {webhook_id: outcome for webhook_id, outcome in db.session.execute(
            select(WebhookReceipt.webhook_id, WebhookReceipt.outcome))}
        held = db.session.scalar(
            select(WebhookReceipt.held_body).where(WebhookReceipt.webhook_id == "wh-cores-foreign"))
        events = db.session.scalar(select(func.count()).select_from(Event))
        db.session.rollback()
    assert outcomes.pop("wh-cores-foreign") != "queued" and held is not None
    assert set(outcomes.values()) == {"queued"} and len(outcomes) == POOL_FROM + 8
    assert events == POOL_FROM + 8


def test_the_worker_maps_with_its_processes_and_stops_them_when_it_stops(app: Flask,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    with app.app_context():
        _store(POOL_FROM + 4)
    app.config["ROUTING_PROCESSES"] = 1
    shared: list[int] = []
    share = MappingPool.map

    def counted(self: MappingPool, sealed: SealedBodies, bodies: list[Body]) -> list[Any]:
        results = share(self, sealed, bodies)
        shared.append(len(bodies) if self._pool is not None else 0)
        return results

    monkeypatch.setattr(MappingPool, "map", counted)
    worker = Worker(app, rand=lambda: 0.5)
    worker.mappers.start()  # as a long-running worker does when it starts (a single pass starts them if needed)
    assert worker.mappers.ready(timeout=60)
    try:
        worker.run(max_idle_loops=3)
    finally:
        worker.client.close()
    assert shared == [POOL_FROM + 4]  # one batch, shared with the running processes
    assert worker.mappers._pool is None  # closed
    with app.app_context():
        routed = db.session.scalar(select(func.count()).select_from(Event))
        waiting = db.session.scalar(
            select(func.count()).select_from(WebhookReceipt).where(WebhookReceipt.body.isnot(None)))
        db.session.rollback()
    assert routed == POOL_FROM + 4 and waiting == 0
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not multiprocessing.active_children()


def test_one_mapping_process_on_postgresql_none_on_sqlite_unless_configured() -> None:
    assert mappers.processes_for(None, "postgresql+psycopg://db.example.com/pinbridge") == 1
    assert mappers.processes_for(None, "sqlite:////srv/pinbridge.db") == 0
    assert mappers.processes_for(3, "sqlite:////srv/pinbridge.db") == 3
    assert mappers.processes_for(0, "postgresql://db.example.com/pinbridge") == 0


_KILLED_WORKER = """
import sys
from app.inbox.mappers import MappingPool
pool = MappingPool(1, [sys.argv[1]])
pool.start()
if sys.argv[2] == "up":
    assert pool.ready(timeout=60)
print(*[process.pid for process in pool._pool._processes.values()], flush=True)
sys.stdin.read()
"""


@pytest.mark.parametrize("when", ["up", "starting"])
def test_a_mapping_process_leaves_when_its_worker_is_killed(when: str) -> None:
    with subprocess.Popen([sys.executable, "-c", _KILLED_WORKER, ENCRYPTION_KEY, when], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as worker:
        try:
            assert worker.stdout is not None
            [pid] = [int(p) for p in worker.stdout.readline().split()]
            assert _alive(pid)  # the mapping process runs (or is still importing what it needs)
        finally:
            worker.kill()  # SIGKILL: the worker cannot stop its processes
            worker.wait(10)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rpartition(")")[2].split()[0] != "Z"  # a zombie has left already
    except FileNotFoundError:
        return False
