"""The worker end to end: signed webhooks in, exactly the right requests at the Pinterest stand-in."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event as sa_event
from sqlalchemy import select

from app import outbox
from app.delivery import Worker
from app.models import Event, PinterestSettings, ShopDeliveryState, db, now_utc
from tests.conftest import SHOP
from tests.factories import completed_checkout, shopify_time, web_order
from tests.standins.pinterest import PinterestStandin


class Clock:
    """Real time plus an offset the test moves forward by hand (webhooks stamp real time)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    @property
    def now(self) -> datetime:
        return now_utc() + self.offset

    @now.setter
    def now(self, value: datetime) -> None:
        self.offset = value - now_utc()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def worker(app: Flask, clock: Clock) -> Callable[..., Worker]:
    made: list[Worker] = []

    def _make(**kwargs: Any) -> Worker:
        w = Worker(app, clock=kwargs.pop("clock", clock), rand=lambda: 0.5, **kwargs)
        made.append(w)
        return w

    yield _make  # type: ignore[misc]
    for w in made:
        w.client.close()


def drain(w: Worker, rounds: int = 50) -> int:
    """Run the worker until nothing is ready; return events handled."""
    db.session.rollback()
    total = 0
    for _ in range(rounds):
        handled = w.run_once()
        total += handled
        if not handled:
            break
    return total


def statuses() -> dict[str, str]:
    db.session.rollback()
    return {e.event_id: e.status for e in db.session.scalars(select(Event))}


def test_orders_are_delivered_in_one_batch_exactly_as_mapped(
    post_webhook: Any, configure_shop: Any, worker: Any, pinterest: PinterestStandin
) -> None:
    configure_shop()
    orders = [web_order() for _ in range(5)]
    for order in orders:
        post_webhook(order)
    assert drain(worker()) == 5
    [request] = pinterest.requests
    assert pinterest.violations == []
    assert request.ad_account_id == "549755885175"
    assert request.token == "pina_test_token_0001"
    assert request.test is False
    assert [e["event_id"] for e in request.events] == [o["cart_token"] for o in orders]
    stored = {e.event_id: e.payload for e in db.session.scalars(select(Event))}
    assert all(stored[e["event_id"]] == e for e in request.events)
    assert set(statuses().values()) == {"delivered"}
    settings = db.session.scalar(select(PinterestSettings))
    assert settings.connection_status == "ok"


def test_test_orders_and_test_mode_go_out_as_test_events(
    post_webhook: Any, configure_shop: Any, worker: Any, pinterest: PinterestStandin
) -> None:
    configure_shop()
    live, test = web_order(), web_order(test=True)
    post_webhook(live)
    post_webhook(test)
    drain(worker())
    by_flag = {r.test: [e["event_id"] for e in r.events] for r in pinterest.requests}
    assert by_flag == {False: [live["cart_token"]], True: [test["cart_token"]]}
    configure_shop(test_mode=True)
    later = web_order()
    post_webhook(later)
    drain(worker())
    assert pinterest.requests[-1].test is True
    assert [e["event_id"] for e in pinterest.requests[-1].events] == [later["cart_token"]]


def test_batches_hold_at_most_1000_events(
    app: Flask, configure_shop: Any, worker: Any, pinterest: PinterestStandin
) -> None:
    from app import outbox
    from app.mapping import MappingOptions, map_order

    shop = configure_shop()
    now = now_utc()
    for _ in range(2300):
        outbox.enqueue(shop.id, map_order(web_order(), MappingOptions()), now=now)
    db.session.commit()
    assert drain(worker()) == 2300
    sizes = [len(r.events) for r in pinterest.requests]
    assert sizes == [1000, 1000, 300]
    assert pinterest.violations == []
    assert sum(pinterest.event_id_counts.values()) == 2300


def test_checkout_waits_for_its_order_and_is_sent_alone_if_it_never_comes(
    post_webhook: Any, configure_shop: Any, worker: Any, clock: Clock, pinterest: PinterestStandin
) -> None:
    configure_shop()
    order = web_order()
    post_webhook(completed_checkout(order), topic="checkouts/update")
    w = worker()
    assert drain(w) == 0  # inside the settle window
    clock.advance(121)
    assert drain(w) == 1
    [request] = pinterest.requests
    assert request.events[0]["event_id"] == order["cart_token"]
    post_webhook(order)  # the order, late: no second event for the same purchase
    assert drain(w) == 0
    assert len(pinterest.requests) == 1


def test_per_event_failures_are_recorded_not_retried(
    post_webhook: Any, configure_shop: Any, worker: Any, pinterest: PinterestStandin
) -> None:
    configure_shop()
    good, bad = web_order(), web_order(cart_token="bad-cart-token")
    pinterest.fail_events(lambda ev: ev["event_id"] == "bad-cart-token", message="Event time is too old.")
    post_webhook(good)
    post_webhook(bad)
    w = worker()
    drain(w)
    assert statuses() == {good["cart_token"]: "delivered", "bad-cart-token": "failed"}
    failed = db.session.scalar(select(Event).filter_by(event_id="bad-cart-token"))
    assert failed.error_message == "Event time is too old."
    assert drain(w) == 0
    assert len(pinterest.requests) == 1


def test_whole_batch_400_is_split_until_the_bad_event_is_isolated(
    post_webhook: Any, configure_shop: Any, worker: Any, pinterest: PinterestStandin
) -> None:
    configure_shop()
    orders = [web_order() for _ in range(7)]
    poison = orders[4]["cart_token"]
    pinterest.reject_batches_containing(lambda ev: ev["event_id"] == poison, message="Invalid currency.")
    for order in orders:
        post_webhook(order)
    drain(worker())
    result = statuses()
    assert result.pop(poison) == "failed"
    assert set(result.values()) == {"delivered"}
    assert db.session.scalar(select(Event.error_message).filter_by(event_id=poison)) == "Invalid currency."
    assert sum(pinterest.event_id_counts.values()) == 6


def test_outage_backs_off_then_delivers_everything(
    post_webhook: Any, configure_shop: Any, worker: Any, clock: Clock, pinterest: PinterestStandin
) -> None:
    configure_shop()
    order = web_order()
    post_webhook(order)
    pinterest.respond_next(503, times=2)
    pinterest.respond_next(429, retry_after=30)
    w = worker()
    drain(w)
    event = db.session.scalar(select(Event))
    assert (event.status, event.attempts, event.error_code) == ("pending", 1, "unavailable")
    first_wait = (event.available_at - clock.now).total_seconds()
    assert first_wait > 0
    assert drain(w) == 0  # not before the backoff
    clock.advance(first_wait + 1)
    drain(w)
    event = db.session.scalar(select(Event))
    second_wait = (event.available_at - clock.now).total_seconds()
    assert second_wait > first_wait  # exponential
    clock.advance(second_wait + 1)
    drain(w)  # 429 with Retry-After: 30
    event = db.session.scalar(select(Event))
    assert (event.available_at - clock.now).total_seconds() >= 29.5  # Retry-After: 30, less test run time
    clock.advance(31)
    drain(w)
    assert statuses() == {order["cart_token"]: "delivered"}
    assert db.session.scalar(select(Event.attempts)) == 4
    assert pinterest.event_id_counts[order["cart_token"]] == 1


def test_rejected_token_pauses_only_that_shop_until_new_credentials(
    post_webhook: Any, configure_shop: Any, worker: Any, pinterest: PinterestStandin
) -> None:
    configure_shop()
    configure_shop("other-store.myshopify.com", access_token="pina_test_token_0002")
    pinterest.reject_token("pina_test_token_0001", status=401, message="Authentication failed.")
    mine, theirs = web_order(), web_order()
    post_webhook(mine)
    post_webhook(theirs, shop="other-store.myshopify.com")
    w = worker()
    drain(w)
    assert statuses() == {mine["cart_token"]: "pending", theirs["cart_token"]: "delivered"}
    settings = db.session.scalar(
        select(PinterestSettings).where(PinterestSettings.token_last4 == "0001"))
    assert (settings.connection_status, settings.connection_message) == ("rejected", "Authentication failed.")
    post_webhook(web_order())
    assert drain(w) == 0  # paused: nothing is sent with a token Pinterest refused
    configure_shop(access_token="pina_test_token_0003")
    assert drain(w) == 2
    assert set(statuses().values()) == {"delivered"}
    assert pinterest.requests[-1].token == "pina_test_token_0003"


def test_unconfigured_shop_keeps_events_until_configured(
    post_webhook: Any, configure_shop: Any, worker: Any, pinterest: PinterestStandin
) -> None:
    post_webhook(web_order())
    w = worker()
    assert drain(w) == 0
    configure_shop()
    assert drain(w) == 1
    assert len(pinterest.requests) == 1


def test_events_expire_72_hours_after_receipt(
    post_webhook: Any, worker: Any, clock: Clock
) -> None:
    post_webhook(web_order(created_at=shopify_time(3600), processed_at=shopify_time(3600)))
    w = worker()
    clock.now = now_utc() + timedelta(hours=71)
    drain(w)
    assert set(statuses().values()) == {"pending"}  # a fresh order: Pinbridge's 72 hours count from receipt
    w.periodic[2].last = float("-inf")
    clock.now = now_utc() + timedelta(hours=73)
    drain(w)
    event = db.session.scalar(select(Event))
    assert (event.status, event.error_code) == ("failed", "expired")


def test_worker_killed_mid_batch_loses_nothing(
    post_webhook: Any, configure_shop: Any, worker: Any, clock: Clock, pinterest: PinterestStandin
) -> None:
    from app import outbox

    configure_shop()
    order = web_order()
    post_webhook(order)
    db.session.rollback()
    claimed = outbox.claim("dead-worker", clock.now, lease_seconds=60, limit=1000)
    assert len(claimed) == 1  # claimed, then the process died before sending
    w = worker()
    assert drain(w) == 0
    clock.advance(61)
    w.periodic[1].last = float("-inf")
    assert drain(w) == 1
    assert pinterest.event_id_counts == {order["cart_token"]: 1}


def test_late_result_from_a_worker_that_lost_its_lease_is_ignored(
    post_webhook: Any, configure_shop: Any, clock: Clock
) -> None:
    from app import outbox

    configure_shop()
    post_webhook(web_order())
    db.session.rollback()
    [first] = outbox.claim("slow-worker", clock.now, lease_seconds=60, limit=10)
    clock.advance(61)
    outbox.reclaim_expired_leases(clock.now)
    [second] = outbox.claim("fresh-worker", clock.now, lease_seconds=60, limit=10)
    assert first.row_id == second.row_id
    assert outbox.mark_failed({first.row_id: ("failed", "late")}, "slow-worker", clock.now) == 0
    assert outbox.mark_delivered([second.row_id], "fresh-worker", clock.now, {}) == 1
    db.session.commit()
    assert db.session.scalar(select(Event.status)) == "delivered"


def test_disabled_shop_holds_orders_and_sends_them_when_turned_back_on(
        post_webhook: Any, configure_shop: Any, worker: Any) -> None:
    shop = configure_shop(enabled=False)
    post_webhook(web_order())
    assert drain(worker()) == 0
    assert set(statuses().values()) == {"pending"}
    db.session.rollback()
    shop = db.session.merge(shop)
    shop.settings.enabled = True
    db.session.commit()
    assert drain(worker()) == 1
    assert set(statuses().values()) == {"delivered"}


def test_shop_is_the_one_in_the_header(post_webhook: Any) -> None:
    post_webhook(web_order())
    db.session.rollback()
    event = db.session.scalar(select(Event))
    assert event.shop.domain == SHOP


def test_an_outage_is_recorded_per_shop_and_ends_with_the_next_delivery(
        post_webhook: Any, configure_shop: Any, worker: Any, pinterest: PinterestStandin, clock: Clock) -> None:
    shop = configure_shop()
    post_webhook(web_order())
    pinterest.set_mode("unavailable")
    w = worker()
    drain(w)
    clock.advance(3600)
    drain(w)
    db.session.rollback()
    state = db.session.get(ShopDeliveryState, shop.id)
    assert shop.settings.failure_streak == 2 and state.failure_class == "pinterest"
    assert state.failing_since is not None and state.last_success_at is None
    first_failure = state.failing_since
    pinterest.set_mode("ok")
    clock.advance(3600)
    assert drain(w) == 1
    db.session.rollback()
    state = db.session.get(ShopDeliveryState, shop.id)
    assert shop.settings.failure_streak == 0
    assert state.failure_class is None and state.failing_since is None
    assert state.last_success_at is not None and state.last_success_at > first_failure


@pytest.mark.parametrize("status, failure", [
    (401, "token"),        # the token is revoked
    (403, "ad_account"),   # the token may not use this ad account
])
def test_a_credentials_refusal_records_which_credential(
        post_webhook: Any, configure_shop: Any, worker: Any, pinterest: PinterestStandin,
        status: int, failure: str) -> None:
    shop = configure_shop()
    pinterest.reject_token("pina_test_token_0001", status=status, message="Refused.")
    post_webhook(web_order())
    drain(worker())
    db.session.rollback()
    assert db.session.get(ShopDeliveryState, shop.id).failure_class == failure
    assert set(statuses().values()) == {"pending"}


def test_a_slow_periodic_job_does_not_hold_up_claims(
        post_webhook: Any, configure_shop: Any, worker: Any, pinterest: PinterestStandin) -> None:
    configure_shop()
    order = web_order()
    post_webhook(order)
    db.session.rollback()
    w = worker()
    finish, started = threading.Event(), threading.Event()

    def reconcile_for_a_long_time(_now: datetime) -> None:
        started.set()
        finish.wait(30)  # seconds: far longer than the delivery may take

    [job] = [job for job in w.periodic if job.name == "reconcile"]
    job.run = reconcile_for_a_long_time
    loop = threading.Thread(target=w.run)
    loop.start()
    try:
        deadline = time.monotonic() + 10
        while not pinterest.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.is_set() and not finish.is_set()
        assert [e["event_id"] for r in pinterest.requests for e in r.events] == [order["cart_token"]]
    finally:
        finish.set()
        w.stop()
        loop.join(30)
    assert not loop.is_alive()
    assert statuses() == {order["cart_token"]: "delivered"}


# -- orders dated long before they arrived (app/mapping/timing.py) ----------------------------------------
DAY = 24 * 3600


def _sent_events(pinterest: PinterestStandin) -> list[dict[str, Any]]:
    return [event for request in pinterest.requests for event in request.events]


@pytest.mark.parametrize(("processed_ago", "created_ago", "setting", "expected"), [
    (10 * DAY, 0, None, None),               # imported ten days back: Pinterest takes 7 days, so not sent
    (8 * DAY, 8 * DAY, None, None),          # a webhook eight days late (a test body, a replay): not sent
    (3 * DAY, 0, None, "offline"),           # imported three days back: an offline conversion, as Pinterest reports it
    (3 * DAY, 0, "skip", None),              # ...or skipped, when the merchant says so
    (3 * DAY, 0, "web", "web"),              # ...or web, as before
    (2 * 3600, 60, None, "offline"),         # back-dated two hours at creation: Pinterest would call it offline
    (3 * 3600, 3 * 3600, None, "web"),       # a webhook Shopify retried for three hours: still the web order it was
    (20 * 60, 20 * 60, None, "web"),         # an ordinary order
])
def test_orders_dated_long_before_they_arrived_are_classified(
    post_webhook: Any, configure_shop: Any, worker: Any, pinterest: PinterestStandin, processed_ago: int,
    created_ago: int, setting: str | None, expected: str | None,
) -> None:
    configure_shop(**({"send_backdated": setting} if setting else {}))
    order = web_order(processed_at=shopify_time(processed_ago), created_at=shopify_time(created_ago))
    post_webhook(order)
    drain(worker())
    db.session.rollback()
    event = db.session.scalar(select(Event))
    sent = _sent_events(pinterest)
    if expected is None:
        assert sent == [] and event.status == "skipped"
        assert "imported or back-dated" in (event.skip_reason or "")
        assert ("7 days" in event.skip_reason) == (processed_ago > 7 * DAY)
        return
    (payload,) = sent
    assert (event.status, payload["action_source"]) == ("delivered", expected)
    assert payload["event_time"] == int(datetime.fromisoformat(order["processed_at"]).timestamp())
    if expected == "offline":  # no storefront, no browser: neither belongs to an order nobody placed online now
        assert "event_source_url" not in payload and "client_user_agent" not in payload["user_data"]


def test_expiry_counts_from_the_order_date_where_pinterest_window_does(
    app: Flask, client: Any, post_webhook: Any, worker: Any, clock: Clock,
) -> None:
    from app.merchant import status
    from app.outbox import EXPIRED_BY_PINTEREST

    # Received now, dated six and a half days ago: Pinterest's 7 days end in twelve hours, not in 72.
    dated = (now_utc() - timedelta(days=6, hours=12)).replace(microsecond=0)
    post_webhook(web_order(processed_at=dated.isoformat(), created_at=now_utc().isoformat()))
    w = worker()  # not configured: the order waits
    drain(w)
    db.session.rollback()
    event = db.session.scalar(select(Event))
    health = status.health(None, event.shop_id, now_utc())
    assert health["expiring"]["count"] == 1
    assert health["expiring"]["at"] == (dated + timedelta(days=7)).isoformat().replace("+00:00", "Z")
    clock.now = now_utc() + timedelta(hours=13)
    w.periodic[2].last = float("-inf")
    drain(w)
    db.session.rollback()
    event = db.session.scalar(select(Event))
    assert (event.status, event.error_code, event.error_message) == ("failed", "expired", EXPIRED_BY_PINTEREST)


def test_a_batch_reads_its_shop_s_settings_once(
        post_webhook: Any, configure_shop: Any, worker: Any, pinterest: PinterestStandin, clock: Clock) -> None:
    configure_shop()
    for _ in range(3):
        post_webhook(web_order())
    w = worker()
    db.session.rollback()
    claimed = outbox.claim(w.worker_id, clock(), lease_seconds=60, limit=50)
    assert len(claimed) == 3
    reads: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "pinterest_settings" in statement:
            reads.append(statement)

    sa_event.listen(db.engine, "before_cursor_execute", seen)
    try:
        w.deliver(claimed)
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", seen)
    assert len(reads) == 1, reads  # credentials, consent rules and failure streak at once
    assert len(pinterest.requests) == 1 and set(statuses().values()) == {"delivered"}
