"""Wake-ups: the worker learns of new work when it is committed, not at its next idle look.

The worker here looks on its own only every minute (WORKER_IDLE_SECONDS), far longer than any wait
below: each outcome polled for is reached because a wake-up came, from this process or another.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import wake
from app.delivery import Worker
from app.ingest import beacon
from app.models import db
from tests.conftest import SHOP
from tests.factories import web_order
from tests.processes import ROOT
from tests.standins.pinterest import PinterestStandin

IDLE = 60.0  # seconds between the worker's own looks: never reached by the waits below
WAIT = 20.0  # seconds an outcome is polled for


@pytest.fixture
def idle_app(app: Flask) -> Flask:
    app.config["WORKER_IDLE_SECONDS"] = IDLE
    return app


@pytest.fixture
def start_worker(idle_app: Flask) -> Iterator[Callable[[], Worker]]:
    """Start a worker running its real loop on a thread, listening for wake-ups (after the test's own writes:
    a SQLite test session that read before the worker wrote could not write any more)."""
    started: list[tuple[Worker, threading.Thread]] = []

    def _start() -> Worker:
        db.session.rollback()
        w = Worker(idle_app, rand=lambda: 0.5)
        loop = threading.Thread(target=w.run, daemon=True)
        loop.start()
        started.append((w, loop))
        assert until(lambda: w.listener is not None and w.listener.listening.is_set())
        return w

    yield _start
    for w, loop in started:
        w.stop()
        loop.join(30)
        w.client.close()
        assert not loop.is_alive()


def until(condition: Callable[[], Any], timeout: float = WAIT) -> Any:
    """Poll `condition` until it holds (its value) or `timeout` passes (its last value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(0.02)


def sent_event_ids(pinterest: PinterestStandin) -> list[str]:
    return [e["event_id"] for r in pinterest.requests for e in r.events]


def test_an_acknowledged_order_is_sent_without_waiting_for_the_idle_look(
        configure_shop: Any, post_webhook: Any, start_worker: Any, pinterest: PinterestStandin) -> None:
    configure_shop()
    start_worker()
    order = web_order()
    assert post_webhook(order, drain=False).status_code == 200
    assert until(lambda: sent_event_ids(pinterest)) == [order["cart_token"]]


def test_orders_keep_coming_and_each_is_sent(
        configure_shop: Any, post_webhook: Any, start_worker: Any, pinterest: PinterestStandin) -> None:
    configure_shop()
    orders = [web_order(id=2000 + n, checkout_token=f"{2000 + n:032x}", cart_token=f"c{2000 + n:031x}")
              for n in range(3)]
    start_worker()
    for order in orders:  # one at a time: each arrives while the worker waits again
        post_webhook(order, drain=False)
        assert until(lambda order=order: order["cart_token"] in sent_event_ids(pinterest))
    assert sorted(sent_event_ids(pinterest)) == sorted(o["cart_token"] for o in orders)


def test_a_beacon_releases_its_waiting_order_at_once(
        idle_app: Flask, configure_shop: Any, post_webhook: Any, client: FlaskClient, start_worker: Any,
        pinterest: PinterestStandin) -> None:
    idle_app.config["PIXEL_JOIN_SECONDS"] = 3600  # without the beacon the order would wait an hour
    beacon.limiter.reset()
    configure_shop()
    first = web_order(id=3001, checkout_token=f"{3001:032x}", cart_token=f"c{3001:031x}")
    second = web_order(id=3002, checkout_token=f"{3002:032x}", cart_token=f"c{3002:031x}")
    start_worker()

    def post_beacon(order: dict[str, Any]) -> None:
        body = {"checkout_token": order["checkout_token"], "event_id": order["cart_token"],
                "consent": {"marketing": True, "sale_of_data": True}}
        answer = client.post(f"/pixel?shop={SHOP}", data=json.dumps(body), headers={"Content-Type": "text/plain"},
                             environ_base={"REMOTE_ADDR": "198.51.100.7"})
        assert answer.status_code == 204

    post_webhook(first, drain=False)  # no pixel has reported yet: sent at once
    assert until(lambda: sent_event_ids(pinterest)) == [first["cart_token"]]
    post_beacon(first)  # the shop's pixel is known: the next web order waits for its beacon
    post_webhook(second, drain=False)
    db.session.rollback()
    assert until(lambda: _pending_for(second["cart_token"]))  # routed, waiting for its beacon
    assert sent_event_ids(pinterest) == [first["cart_token"]]
    post_beacon(second)
    assert until(lambda: second["cart_token"] in sent_event_ids(pinterest))
    beacon.limiter.reset()


def _pending_for(event_id: str) -> bool:
    from sqlalchemy import select

    from app.models import Event

    db.session.rollback()
    status = db.session.scalar(select(Event.status).where(Event.event_id == event_id))
    db.session.rollback()
    return status == "pending"


@pytest.fixture
def listener(app: Flask) -> Iterator[wake.Listener]:
    """A listener of this process, listening, with no wake-up noted yet on either channel."""
    started = wake.Listener(db.engine).start()
    try:
        assert until(started.listening.is_set)
        started.events[wake.INBOX].clear()
        started.events[wake.OUTBOX].clear()
        yield started
    finally:
        started.close()


def test_a_wake_up_from_another_process_reaches_the_listener(listener: wake.Listener) -> None:
    url = db.engine.url.render_as_string(hide_password=False)
    code = ("import sys; from sqlalchemy import create_engine; from app import wake; "
            "wake.send(create_engine(sys.argv[1]), wake.OUTBOX)")
    subprocess.run([sys.executable, "-c", code, url], cwd=ROOT, check=True, timeout=60)
    assert until(listener.events[wake.OUTBOX].is_set)
    assert not listener.events[wake.INBOX].is_set()  # each channel on its own


def test_a_wake_up_goes_with_the_commit_and_not_with_a_rollback(listener: wake.Listener) -> None:
    db.session.rollback()
    db.session.connection()
    wake.notify(wake.INBOX)
    db.session.rollback()
    db.session.connection()
    wake.notify(wake.OUTBOX)
    db.session.commit()
    assert until(listener.events[wake.OUTBOX].is_set)
    assert not listener.events[wake.INBOX].is_set()
