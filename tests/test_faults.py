"""Nothing lost under faults: many workers, killed workers, long outages, poison batches, no database."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from app import create_app
from app.delivery import Worker
from app.models import Event, db
from tests.conftest import _test_config, webhook_headers
from tests.factories import web_order
from tests.processes import seed, start_worker, worker_env
from tests.standins.pinterest import PinterestStandin
from tests.test_delivery import Clock, drain


def status_counts() -> Counter[str]:
    db.session.rollback()
    return Counter(dict(db.session.execute(select(Event.status, func.count()).group_by(Event.status)).all()))


def wait_all(procs: list[subprocess.Popen[bytes]], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    codes = []
    for proc in procs:
        try:
            codes.append(proc.wait(timeout=max(0.1, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    return codes


def wait_signal_taken(pid: int, sig: int, timeout: float = 30.0) -> None:
    """Poll /proc until `sig` is no longer pending for process `pid`: its handler has been called."""
    bit = 1 << (sig - 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
        if not (int(status["ShdPnd"], 16) | int(status["SigPnd"], 16)) & bit:
            return
        time.sleep(0.01)
    raise TimeoutError(f"process {pid} never took signal {sig}")


def test_four_worker_processes_drain_every_event_once_in_per_shop_batches(
    app: Flask, database_url: str, pinterest: PinterestStandin, tmp_path: Path
) -> None:
    shops, per_shop = (200, 100) if database_url.startswith("postgresql") else (40, 50)
    owner = seed(shops, per_shop)
    env = worker_env(database_url, pinterest.base_url)
    procs = [start_worker(env, log=tmp_path / f"worker-{i}.log") for i in range(4)]
    assert wait_all(procs, timeout=240) == [0, 0, 0, 0]
    total = shops * per_shop
    assert status_counts() == {"delivered": total}
    counts = pinterest.event_id_counts
    assert len(counts) == total
    assert max(counts.values()) == 1, "an event was sent twice while its first worker was alive"
    assert pinterest.violations == []
    for request in pinterest.requests:  # every request carries one shop's events, to that shop's account
        assert {owner[e["event_id"]] for e in request.events} == {request.ad_account_id}
        assert len(request.events) <= 1000


def test_sigkill_mid_batch_loses_nothing_and_only_in_flight_events_repeat(
    app: Flask, database_url: str, pinterest: PinterestStandin, tmp_path: Path
) -> None:
    seed(1, 1500)
    env = worker_env(database_url, pinterest.base_url, LEASE_SECONDS=2)
    pinterest.hold()
    victim = start_worker(env, once=False, log=tmp_path / "victim.log")
    [in_flight] = pinterest.wait_for_requests(1, timeout=60)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    pinterest.release()  # Pinterest still processes what it had received
    rescuer = start_worker(env, once=False, log=tmp_path / "rescuer.log")
    deadline = time.monotonic() + 120
    while status_counts() != {"delivered": 1500} and time.monotonic() < deadline:
        time.sleep(0.2)
    rescuer.send_signal(signal.SIGTERM)
    assert wait_all([rescuer], timeout=60) == [0]
    assert status_counts() == {"delivered": 1500}
    counts = pinterest.event_id_counts
    assert len(counts) == 1500
    repeated = {event_id for event_id, n in counts.items() if n > 1}
    assert repeated == {e["event_id"] for e in in_flight.events}
    assert len(in_flight.events) == 1000


def test_sigterm_finishes_the_batch_in_flight_then_exits(
    app: Flask, database_url: str, pinterest: PinterestStandin, tmp_path: Path
) -> None:
    seed(1, 1500)
    env = worker_env(database_url, pinterest.base_url)
    pinterest.hold()
    proc = start_worker(env, once=False, log=tmp_path / "worker.log")
    [in_flight] = pinterest.wait_for_requests(1, timeout=60)
    proc.send_signal(signal.SIGTERM)
    wait_signal_taken(proc.pid, signal.SIGTERM)  # the batch is still held: the worker knows it must stop
    pinterest.release()
    assert wait_all([proc], timeout=60) == [0]
    assert status_counts() == {"delivered": 1000, "pending": 500}
    assert len(pinterest.requests) == 1
    assert max(pinterest.event_id_counts.values()) == 1
    log = (tmp_path / "worker.log").read_text()
    assert "worker stopped" in log


def test_long_outage_accumulates_then_delivers_everything_with_bounded_attempts(
    app: Flask, post_webhook: Any, configure_shop: Any, pinterest: PinterestStandin
) -> None:
    configure_shop()
    clock = Clock()
    worker = Worker(app, clock=clock, rand=lambda: 0.5)
    pinterest.set_mode("unavailable")
    orders = []
    for minute in range(0, 180, 2):  # three hours of 503, then 429, an order every two minutes
        if minute == 120:
            pinterest.set_mode("rate_limited", retry_after=120)
        order = web_order()
        orders.append(order)
        assert post_webhook(order).get_json() == {"status": "accepted"}
        drain(worker)
        clock.advance(120)
    assert status_counts() == {"pending": len(orders)}
    requests_during_outage = len(pinterest.requests)
    assert requests_during_outage < 40, "the worker hammered Pinterest instead of backing off"
    pinterest.set_mode("ok")
    for _ in range(20):
        clock.advance(900)
        drain(worker)
    assert status_counts() == {"delivered": len(orders)}
    assert set(pinterest.event_id_counts) == {o["cart_token"] for o in orders}
    db.session.rollback()
    attempts = list(db.session.scalars(select(Event.attempts)))
    # Backoff is visible: the oldest event was retried a few dozen times over three hours, not thousands,
    # and never more often than the shop as a whole was tried.
    assert 5 < max(attempts) <= requests_during_outage + 1
    worker.client.close()


def test_database_unreachable_gives_503_to_shopify_and_to_healthz(
    tmp_path: Path, pinterest: PinterestStandin
) -> None:
    for url in (f"sqlite:///{tmp_path}/missing-dir/none.db",
                "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=1"):
        broken = create_app(_test_config(url, tmp_path, pinterest.base_url))
        client = broken.test_client()
        body = b'{"id": 1, "email": "buyer@example.com"}'
        for topic in ("orders/create", "app/uninstalled"):  # the receipt's write, then the Flask route's
            response = client.post("/webhooks", data=body, headers=webhook_headers(body, topic))
            assert (topic, response.status_code) == (topic, 503)
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.get_json()["database"] == "unreachable"
        with broken.app_context():
            db.engine.dispose()



# -- a wrong ENCRYPTION_KEY: waiting bodies are held sealed, counted, and delivered once the key is back -------
def _metric(client: Any, name: str) -> float:
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def _use_keys(app: Flask, keys: list[str]) -> None:
    """Restart with another ENCRYPTION_KEY, as a deploy does: the app's sealed-body cipher is built again."""
    app.config["ENCRYPTION_KEYS"] = keys
    app.extensions.pop("pinbridge_receipts", None)


def _drain_with_a_new_worker(app: Flask) -> None:
    """A worker process started after the keys changed: its periodic jobs all run on its first look."""
    restarted = Worker(app, rand=lambda: 0.5)
    try:
        drain(restarted)
    finally:
        restarted.client.close()


def test_bodies_a_wrong_key_cannot_open_are_kept_counted_and_delivered_once_the_key_is_back(
    app: Flask, client: Any, post_webhook: Any, configure_shop: Any, pinterest: PinterestStandin,
) -> None:
    from cryptography.fernet import Fernet

    from app.inbox import unreadable
    from app.models import WebhookReceipt
    from tests.jwt_helpers import bearer, use_session_secrets

    configure_shop()
    right = list(app.config["ENCRYPTION_KEYS"])
    orders = [web_order() for _ in range(10)]
    for order in orders:
        post_webhook(order, drain=False)
    use_session_secrets(app)  # the page's session tokens from here on

    _use_keys(app, [Fernet.generate_key().decode()])  # a wrong key deployed
    _drain_with_a_new_worker(app)
    assert pinterest.requests == []
    db.session.rollback()
    receipts = list(db.session.scalars(select(WebhookReceipt)))
    assert len(receipts) == 10
    assert all(r.body is None and r.held_body is not None and r.outcome == "unreadable_body" for r in receipts)
    assert _metric(client, "pinbridge_inbox_bodies") == 0
    assert _metric(client, "pinbridge_inbox_unreadable_bodies") == 10
    status = client.get("/api/status", headers=bearer()).get_json()
    assert status["unreadable_orders"] == {"count": 10,
                                           "message": "10 orders could not be read: the encryption key changed."}

    _drain_with_a_new_worker(app)  # the same wrong key again: nothing is tried twice under one key set
    with app.app_context():
        assert unreadable.reopen() == 0 and unreadable.count() == 10
    _use_keys(app, [Fernet.generate_key().decode()])  # another wrong key: tried once more, still held
    _drain_with_a_new_worker(app)
    with app.app_context():
        assert unreadable.count() == 10

    _use_keys(app, [Fernet.generate_key().decode(), *right])  # the right key is back, as an older key
    _drain_with_a_new_worker(app)
    _drain_with_a_new_worker(app)  # and a second worker after it: nothing more is sent
    assert status_counts() == {"delivered": 10}
    assert pinterest.event_id_counts == {order["cart_token"]: 1 for order in orders}
    assert pinterest.violations == []
    assert _metric(client, "pinbridge_inbox_unreadable_bodies") == 0
    assert client.get("/api/status", headers=bearer()).get_json()["unreadable_orders"] == {"count": 0,
                                                                                          "message": None}
    db.session.rollback()
    assert {r.outcome for r in db.session.scalars(select(WebhookReceipt))} == {"queued"}
