"""POST /pixel and the worker's join: click id, browser and consent from the storefront, nothing more."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select

from app import beacons
from app.inbox import routing
from app.ingest import beacon
from app.merchant import dedup, pixel
from app.models import Event, PixelBeacon, Shop, db, now_utc
from app.ops.retention import purge_beacons
from app.outbox import notes as outbox_notes
from tests import test_delivery
from tests.conftest import SHOP
from tests.factories import web_order
from tests.jwt_helpers import bearer, use_session_secrets
from tests.standins.pinterest import PinterestStandin
from tests.test_delivery import Clock, drain

# The worker fixtures of the delivery tests, shared.
clock = test_delivery.clock
worker = test_delivery.worker

EPIK = "dj0yJnU9SzRjVkVidXhZdTl6cGZnWE5RQlRxZyZu"
AGENT = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"


@pytest.fixture(autouse=True)
def _fresh_limits(app: Flask) -> Iterator[None]:
    beacon.limiter.reset()
    yield
    beacon.limiter.reset()


@pytest.fixture
def post_beacon(client: FlaskClient) -> Callable[..., Any]:
    def _post(body: Any, *, shop: str = SHOP, ip: str = "198.51.100.7", **headers: str) -> Any:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return client.post(f"/pixel?shop={shop}", data=data, environ_base={"REMOTE_ADDR": ip},
                           headers={"Content-Type": "text/plain", "User-Agent": AGENT,
                                    "Origin": "https://shop.example", **headers})

    return _post


def beacon_for(order: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"checkout_token": order["checkout_token"], "event_id": order["cart_token"], "click_id": EPIK,
            "consent": {"marketing": True, "sale_of_data": True}, **fields}


def stored() -> list[PixelBeacon]:
    db.session.rollback()
    return list(db.session.scalars(select(PixelBeacon)))


def only_event() -> Event:
    db.session.rollback()
    return db.session.scalars(select(Event)).one()


# -- the endpoint ------------------------------------------------------------------------------------------
def test_a_beacon_is_stored_and_marks_the_shop_as_reporting(configure_shop: Any, post_beacon: Any) -> None:
    configure_shop()
    order = web_order()
    answer = post_beacon(beacon_for(order))
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    [row] = stored()
    assert (row.checkout_token, row.tag_event_id, row.click_id) == (order["checkout_token"], order["cart_token"], EPIK)
    assert (row.consent_marketing, row.consent_sale_of_data) == (True, True)
    assert (row.user_agent, row.ip) == (AGENT, "198.51.100.7")
    assert db.session.scalar(select(Shop.pixel_seen_at).filter_by(domain=SHOP)) is not None


def test_preflight_is_answered_for_any_storefront(client: FlaskClient) -> None:
    answer = client.options("/pixel?shop=demo-store.myshopify.com", headers={"Origin": "https://shop.example"})
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"


@pytest.mark.parametrize("body, status, code", [
    (b"{not json", 400, "invalid_json"),                                          # malformed
    (b"[1, 2]", 400, "invalid_fields"),                                           # not an object
    ({"checkout_token": "84ad78572dae52a8", "order_id": 1}, 400, "invalid_fields"),  # unknown field
    ({"event_id": "x"}, 400, "invalid_checkout_token"),                           # no checkout token
    ({"checkout_token": "short"}, 400, "invalid_checkout_token"),                 # too short
    ({"checkout_token": "84ad7857 2dae52a8"}, 400, "invalid_checkout_token"),     # whitespace
    ({"checkout_token": "84ad78572dae52a8", "event_id": "a b"}, 400, "invalid_event_id"),
    ({"checkout_token": "84ad78572dae52a8", "click_id": "<script>"}, 400, "invalid_click_id"),
    ({"checkout_token": "84ad78572dae52a8", "consent": {"marketing": "yes"}}, 400, "invalid_consent"),
    ({"checkout_token": "84ad78572dae52a8", "consent": {"email": True}}, 400, "invalid_consent"),
    (b"{" + b'"a":' * 5000 + b"1" + b"}" * 5000, 413, "too_large"),               # oversized / deep
    (b"\xff\xfe\x00", 400, "invalid_json"),                                       # not UTF-8
])
def test_bad_beacons_are_refused_and_store_nothing(
    configure_shop: Any, post_beacon: Any, body: Any, status: int, code: str
) -> None:
    configure_shop()
    answer = post_beacon(body)
    assert (answer.status_code, answer.get_json()["error"]) == (status, code)
    assert stored() == []


def test_unknown_and_uninstalled_shops_are_refused(configure_shop: Any, post_beacon: Any) -> None:
    order = web_order()
    assert post_beacon(beacon_for(order), shop="nobody.myshopify.com").status_code == 404
    assert post_beacon(beacon_for(order), shop="not a shop").status_code == 400
    shop = configure_shop()
    shop.installed = False
    db.session.commit()
    assert post_beacon(beacon_for(order)).status_code == 404
    assert stored() == []


def test_a_flood_is_limited_per_client_and_per_shop(app: Flask, configure_shop: Any, post_beacon: Any) -> None:
    configure_shop()
    app.config.update(PIXEL_RATE_LIMIT_CLIENT="5 per minute", PIXEL_RATE_LIMIT_SHOP="8 per minute")
    codes = [post_beacon(beacon_for(web_order(checkout_token=f"{n:032x}"))).status_code for n in range(7)]
    assert codes == [204] * 5 + [429] * 2
    # Another client gets through until the shop's own limit is reached.
    codes = [post_beacon(beacon_for(web_order(checkout_token=f"{n:032x}")), ip=f"198.51.100.{n}").status_code
             for n in range(10, 15)]
    assert codes[0] == 204 and codes[-2:] == [429, 429]
    assert 6 <= len(stored()) <= 8


def test_only_the_first_beacon_for_a_checkout_counts(configure_shop: Any, post_beacon: Any) -> None:
    configure_shop()
    order = web_order()
    assert post_beacon(beacon_for(order)).status_code == 204
    replay = beacon_for(order, click_id="forgedclickid0000", consent={"marketing": False})
    assert post_beacon(replay, ip="192.0.2.66").status_code == 204
    [row] = stored()
    assert (row.click_id, row.consent_marketing, row.ip) == (EPIK, True, "198.51.100.7")


def test_without_marketing_consent_nothing_identifying_is_kept(configure_shop: Any, post_beacon: Any) -> None:
    configure_shop()
    order = web_order()
    post_beacon({"checkout_token": order["checkout_token"], "click_id": EPIK, "event_id": "x1234567",
                 "consent": {"marketing": False, "sale_of_data": False}})
    [row] = stored()
    assert (row.click_id, row.tag_event_id, row.user_agent, row.ip) == (None, None, None, None)
    assert row.consent_marketing is False


def test_behind_a_proxy_only_the_trusted_hop_gives_the_address(app: Flask, configure_shop: Any,
                                                                 post_beacon: Any) -> None:
    configure_shop()
    app.config["TRUSTED_PROXY_HOPS"] = 1
    post_beacon(beacon_for(web_order()), ip="10.0.0.2", **{"X-Forwarded-For": "192.0.2.1, 203.0.113.9"})
    assert [row.ip for row in stored()] == ["203.0.113.9"]


# -- the worker's join -------------------------------------------------------------------------------------
def test_the_worker_adds_the_click_id_and_records_that_the_tag_used_our_id(
    configure_shop: Any, post_webhook: Any, post_beacon: Any, worker: Any, pinterest: PinterestStandin
) -> None:
    configure_shop()
    order = web_order(landing_site="/products/hydrogen", client_details=None, browser_ip=None)
    post_beacon(beacon_for(order))
    post_webhook(order)
    assert drain(worker()) == 1
    [sent] = pinterest.requests[0].events
    assert sent["event_id"] == order["cart_token"]
    assert sent["user_data"]["click_id"] == EPIK
    assert (sent["user_data"]["client_user_agent"], sent["user_data"]["client_ip_address"]) == (AGENT, "198.51.100.7")
    event = only_event()
    assert (event.status, event.tag_event_id, event.tag_matched) == ("delivered", order["cart_token"], True)
    assert "click_id" in event.match_keys.split() and "ip_ua" in event.match_keys.split()


def test_a_click_id_the_order_already_has_is_kept(
    configure_shop: Any, post_webhook: Any, post_beacon: Any, worker: Any, pinterest: PinterestStandin
) -> None:
    configure_shop()
    order = web_order()  # its landing page carries ?epik=
    post_beacon(beacon_for(order, click_id="anotherclickid00", event_id="not-the-same-id"))
    post_webhook(order)
    drain(worker())
    [sent] = pinterest.requests[0].events
    assert sent["user_data"]["click_id"] != "anotherclickid00"
    assert only_event().tag_matched is False


@pytest.mark.parametrize("consent, rule, outcome", [
    ({"marketing": False, "sale_of_data": True}, {}, "skipped"),                            # default: not sent
    ({"marketing": False, "sale_of_data": True}, {"marketing_refused": "limited"}, "LDP"),
    ({"marketing": False, "sale_of_data": True}, {"marketing_refused": "send"}, None),
    ({"marketing": True, "sale_of_data": False}, {}, "LDP"),                                # default: LDP
    ({"marketing": True, "sale_of_data": False}, {"sale_of_data_refused": "skip"}, "skipped"),
    ({"marketing": True, "sale_of_data": True}, {}, None),
])
def test_consent_decides_whether_and_how_the_order_is_sent(
    configure_shop: Any, post_webhook: Any, post_beacon: Any, worker: Any, pinterest: PinterestStandin,
    consent: dict[str, bool], rule: dict[str, str], outcome: str | None,
) -> None:
    configure_shop(**rule)
    order = web_order()
    post_beacon(beacon_for(order, consent=consent))
    post_webhook(order)
    drain(worker())
    if outcome == "skipped":
        assert pinterest.requests == []
        event = only_event()
        assert (event.status, event.payload) == ("skipped", None)
        assert "did not allow" in (event.skip_reason or "")
    else:
        [sent] = pinterest.requests[0].events
        assert sent["custom_data"].get("opt_out_type") == outcome
        assert "opt_out_type" not in sent  # Pinterest refuses it outside custom_data
        assert only_event().status == "delivered"


def test_an_order_waits_for_its_beacon_only_where_the_pixel_reports(
    app: Flask, configure_shop: Any, post_webhook: Any, post_beacon: Any, worker: Any, clock: Clock,
    pinterest: PinterestStandin,
) -> None:
    configure_shop()
    first, second, third = (web_order(id=n, checkout_token=f"{n:032x}", cart_token=f"c{n:031x}")
                            for n in (1001, 1002, 1003))
    post_webhook(first)                       # no pixel has reported yet: sent at once
    w = worker()
    assert drain(w) == 1
    post_beacon(beacon_for(first))            # now the shop's pixel is known
    post_webhook(second)                      # its beacon has not come: it waits
    assert drain(w) == 0
    post_beacon(beacon_for(second))           # the beacon releases it at once
    assert drain(w) == 1
    post_webhook(third)                       # a beacon that never comes: sent after the join window
    assert drain(w) == 0
    clock.advance(app.config["PIXEL_JOIN_SECONDS"] + 1)
    assert drain(w) == 1
    assert [len(r.events) for r in pinterest.requests] == [1, 1, 1]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite serialises the two writes
def test_a_beacon_that_lands_while_its_order_is_queued_still_releases_it(
    app: Flask, configure_shop: Any, post_webhook: Any, post_beacon: Any, worker: Any, pinterest: PinterestStandin,
) -> None:
    # The worker queuing the order and the beacon's request run at once: the worker saw no beacon, and the
    # beacon's release saw no order yet. The worker looks again once its order is committed.
    configure_shop()
    first, second = (web_order(id=n, checkout_token=f"{n:032x}", cart_token=f"c{n:031x}") for n in (1011, 1012))
    post_webhook(first)
    w = worker()
    assert drain(w) == 1
    post_beacon(beacon_for(first))            # the shop's pixel is known: new web orders wait for theirs
    post_webhook(second, drain=False)
    looked, beacon_stored = threading.Event(), threading.Event()

    def pause_after_the_look(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if (threading.current_thread().name == "router" and "pixel_beacons" in statement
                and second["checkout_token"] in str(parameters) and not looked.is_set()):
            looked.set()                      # the worker found no beacon for the second order
            assert beacon_stored.wait(30)

    def route() -> None:
        with app.app_context():
            routing.drain()

    event.listen(db.engine, "after_cursor_execute", pause_after_the_look)
    try:
        router = threading.Thread(target=route, name="router")
        router.start()
        assert looked.wait(30)
        assert post_beacon(beacon_for(second)).status_code == 204  # stored while the order is being queued
        beacon_stored.set()
        router.join(timeout=30)
    finally:
        event.remove(db.engine, "after_cursor_execute", pause_after_the_look)
    assert not router.is_alive()
    assert drain(w) == 1                      # released at once, not after the join window
    assert [len(r.events) for r in pinterest.requests] == [1, 1]


def test_a_joined_batch_costs_a_few_statements_not_one_per_event(
    monkeypatch: pytest.MonkeyPatch, configure_shop: Any, post_webhook: Any, post_beacon: Any, worker: Any,
    pinterest: PinterestStandin,
) -> None:
    """The join reads a batch's beacons in one SELECT and writes its notes in one UPDATE, whatever its size."""
    configure_shop()
    orders = [web_order(landing_site="/", client_details=None, browser_ip=None) for _ in range(24)]
    post_webhook(orders[0])                   # before the pixel reports: no beacon, sent without waiting
    refused, limited, own_click = orders[1], orders[2], orders[3]
    for order in orders[1:]:
        if order is refused:
            post_beacon(beacon_for(order, consent={"marketing": False, "sale_of_data": True}))
        elif order is limited:
            post_beacon(beacon_for(order, consent={"marketing": True, "sale_of_data": False}))
        elif order is own_click:
            post_beacon(beacon_for(order, event_id="not-our-event-id"))
        else:
            post_beacon(beacon_for(order))
    own_click.update(landing_site="/products/hydrogen?epik=ordersownclickid00",  # its own click id and browser
                     client_details=web_order()["client_details"], browser_ip=web_order()["browser_ip"])
    for order in orders[1:]:
        post_webhook(order)
    statements: list[str] = []
    batches: list[int] = []
    real_join = beacons.join

    def counted(items: list[Any], worker_id: str, now: Any, **options: Any) -> beacons.Joined:
        def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements.append(statement)

        batches.append(len(items))
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            return real_join(items, worker_id, now, **options)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)

    monkeypatch.setattr(beacons, "join", counted)
    assert drain(worker()) == 24
    assert batches == [24]
    # The join only reads, one SELECT for the whole batch: its notes and the withheld event are written
    # with Pinterest's answer, the notes by the same UPDATE that marks the events delivered.
    reads = [s for s in statements if s.strip().upper() not in ("BEGIN", "ROLLBACK")]
    assert len(reads) == 1 and reads[0].lstrip().upper().startswith("SELECT"), statements

    sent = {e["event_id"]: e for e in pinterest.requests[0].events}
    assert len(pinterest.requests) == 1 and len(sent) == 23  # the buyer who refused marketing is withheld
    assert refused["cart_token"] not in sent
    assert sent[limited["cart_token"]]["custom_data"]["opt_out_type"] == "LDP"
    own = sent[own_click["cart_token"]]["user_data"]
    assert own["click_id"] == "ordersownclickid00"
    assert (own["client_user_agent"], own["client_ip_address"]) != (AGENT, "198.51.100.7")
    assert "click_id" not in sent[orders[0]["cart_token"]]["user_data"]
    joined = orders[4:]
    assert all(sent[o["cart_token"]]["user_data"]["click_id"] == EPIK for o in joined)
    assert all(sent[o["cart_token"]]["user_data"]["client_user_agent"] == AGENT for o in joined)
    db.session.rollback()
    events = {e.event_id: e for e in db.session.scalars(select(Event))}
    assert (events[orders[0]["cart_token"]].tag_event_id, events[orders[0]["cart_token"]].tag_matched) == (None, None)
    assert events[refused["cart_token"]].status == "skipped"
    assert events[own_click["cart_token"]].tag_matched is False
    for order in [limited, *joined]:
        row = events[order["cart_token"]]
        assert (row.status, row.tag_event_id, row.tag_matched) == ("delivered", order["cart_token"], True)
        assert {"click_id", "ip_ua"} <= set((row.match_keys or "").split())
        assert row.updated_at >= row.received_at


# -- the server adopts the Tag's id ------------------------------------------------------------------------
HEX_CART = "5e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b"  # an older checkout: its thank-you address lacks the cart token


def test_a_purchase_not_sent_yet_goes_with_the_id_the_tag_fired_with(
    configure_shop: Any, post_webhook: Any, post_beacon: Any, worker: Any, pinterest: PinterestStandin
) -> None:
    configure_shop()
    order = web_order(cart_token=HEX_CART)
    post_beacon(beacon_for(order, event_id=order["checkout_token"]))  # the Tag fell back to the checkout token
    post_webhook(order)
    assert drain(worker()) == 1
    [sent] = pinterest.requests[0].events
    assert sent["event_id"] == order["checkout_token"]
    event = only_event()
    assert (event.status, event.event_id, event.tag_event_id, event.tag_matched) == (
        "delivered", order["checkout_token"], order["checkout_token"], True)
    assert event.payload["event_id"] == order["checkout_token"]
    # The same order again (a redelivery, reconciliation) is still the same purchase.
    assert post_webhook(web_order(**{**order, "id": order["id"]})).status_code == 200
    assert drain(worker()) == 0 and len(pinterest.requests) == 1


def test_the_order_id_form_is_adopted_too(
    configure_shop: Any, post_webhook: Any, post_beacon: Any, worker: Any, pinterest: PinterestStandin,
) -> None:
    configure_shop()
    order = web_order()  # a pixel pasted with event id source "order id", the shop on the cart token
    post_beacon(beacon_for(order, event_id=f"order-{order['id']}"))
    post_webhook(order)
    drain(worker())
    assert pinterest.requests[0].events[0]["event_id"] == f"order-{order['id']}"
    assert only_event().tag_matched is True


def test_a_beacon_cannot_give_a_purchase_an_id_that_is_not_its_own(
    configure_shop: Any, post_webhook: Any, post_beacon: Any, worker: Any, pinterest: PinterestStandin
) -> None:
    configure_shop()
    first, second = web_order(), web_order(cart_token=HEX_CART)
    post_webhook(first)
    drain(worker())
    # Another purchase's ids, and an id of no purchase: the server's id stands, and the mismatch is noted.
    post_beacon(beacon_for(second, event_id=first["cart_token"]))
    post_webhook(second)
    drain(worker())
    sent = pinterest.requests[-1].events[0]
    assert sent["event_id"] == HEX_CART
    db.session.rollback()
    row = db.session.scalars(select(Event).filter_by(order_id=str(second["id"]))).one()
    assert (row.event_id, row.tag_event_id, row.tag_matched) == (HEX_CART, first["cart_token"], False)


def test_an_id_another_event_holds_is_not_adopted(
    configure_shop: Any, post_webhook: Any, post_beacon: Any, worker: Any, pinterest: PinterestStandin
) -> None:
    configure_shop(event_id_source="checkout_token")
    first = web_order()
    post_webhook(first)  # sent as its checkout token
    drain(worker())
    configure_shop(event_id_source="cart_token")
    second = web_order(checkout_token=first["checkout_token"], cart_token=HEX_CART, id=first["id"] + 10_000)
    post_beacon(beacon_for(second, event_id=first["checkout_token"]))
    post_webhook(second)
    drain(worker())
    assert pinterest.event_id_counts[first["checkout_token"]] == 1


def test_an_event_that_may_have_reached_pinterest_keeps_its_id(
    configure_shop: Any, post_webhook: Any, post_beacon: Any, worker: Any, clock: Any, pinterest: PinterestStandin
) -> None:
    configure_shop()
    order = web_order(cart_token=HEX_CART)
    post_webhook(order)  # the pixel has not reported yet: sent at once, and Pinterest times out
    pinterest.respond_next(503)
    w = worker()
    drain(w)
    post_beacon(beacon_for(order, event_id=order["checkout_token"]))
    clock.offset += timedelta(hours=1)
    drain(w)
    assert [r.events[0]["event_id"] for r in pinterest.requests] == [HEX_CART, HEX_CART]
    event = only_event()
    assert (event.status, event.event_id, event.tag_matched) == ("delivered", HEX_CART, False)


def test_an_adopted_id_is_kept_when_the_first_attempt_is_retried(
    configure_shop: Any, post_webhook: Any, post_beacon: Any, worker: Any, clock: Any, pinterest: PinterestStandin
) -> None:
    configure_shop()
    order = web_order(cart_token=HEX_CART)
    post_beacon(beacon_for(order, event_id=order["checkout_token"]))
    post_webhook(order)
    pinterest.respond_next(503)
    w = worker()
    drain(w)
    assert only_event().event_id == order["checkout_token"]
    clock.offset += timedelta(hours=1)
    drain(w)
    assert [r.events[0]["event_id"] for r in pinterest.requests] == [order["checkout_token"]] * 2
    assert only_event().status == "delivered"


def test_a_later_forged_beacon_changes_nothing(
    configure_shop: Any, post_webhook: Any, post_beacon: Any, worker: Any, pinterest: PinterestStandin
) -> None:
    configure_shop()
    order = web_order()
    post_beacon(beacon_for(order))
    post_beacon(beacon_for(order, event_id=order["checkout_token"], click_id="forgedclickid000",
                           consent={"marketing": False, "sale_of_data": False}))
    post_webhook(order)
    drain(worker())
    [sent] = pinterest.requests[0].events
    assert sent["event_id"] == order["cart_token"] and sent["user_data"]["click_id"] != "forgedclickid000"
    assert "opt_out_type" not in sent["custom_data"]
    assert only_event().tag_matched is True


@pytest.mark.parametrize("sqlite_version", [None, (3, 31, 0)])  # (3, 31): SQLite without UPDATE ... FROM
def test_notes_without_a_tag_id_are_recorded_on_any_sqlite(
    monkeypatch: pytest.MonkeyPatch, configure_shop: Any, post_webhook: Any, post_beacon: Any, worker: Any,
    pinterest: PinterestStandin, sqlite_version: tuple[int, ...] | None,
) -> None:
    if sqlite_version:
        monkeypatch.setattr(outbox_notes.sqlite3, "sqlite_version_info", sqlite_version)
    configure_shop(marketing_refused="send")
    orders = [web_order(landing_site="/") for _ in range(2)]
    for order in orders:  # marketing refused: the beacon keeps no Tag id, click id or browser
        post_beacon(beacon_for(order, consent={"marketing": False, "sale_of_data": True}))
        post_webhook(order)
    assert drain(worker()) == 2
    assert len(pinterest.requests[0].events) == 2
    db.session.rollback()
    rows = list(db.session.scalars(select(Event)))
    assert [(e.status, e.tag_event_id, e.tag_matched) for e in rows] == [("delivered", None, None)] * 2
    assert all(e.match_keys and "click_id" not in e.match_keys for e in rows)


# -- what the page shows, and forgetting -------------------------------------------------------------------
def test_the_card_warns_with_the_share_when_the_tag_used_another_id(
    app: Flask, client: FlaskClient, configure_shop: Any, post_webhook: Any, post_beacon: Any, worker: Any,
) -> None:
    configure_shop(tag_id="2612345678901")
    orders = [web_order(id=n, checkout_token=f"{n:032x}", cart_token=f"c{n:031x}", landing_site="/")
              for n in range(1, 6)]
    post_beacon(beacon_for(orders[0]))
    post_beacon(beacon_for(orders[1], event_id=f"{2:032x}"))  # the Tag used the checkout token: adopted
    post_beacon(beacon_for(orders[2], click_id=None))
    post_beacon(beacon_for(orders[3], event_id="an-id-of-no-purchase"))  # not this purchase's: not adopted
    for order in orders:
        post_webhook(order)
    drain(worker())
    use_session_secrets(app)  # webhooks above were signed with the app secret; the page's token now
    body = client.get("/api/pixel", headers=bearer()).get_json()
    assert (body["purchases"], body["tag_reported"], body["tag_same_id"], body["tag_different_id"]) == (5, 4, 3, 1)
    assert body["with_click_id"] == 3 and body["share"] == 0.75
    assert body["tone"] == "warning"
    assert body["headline"] == ("The pixel's message arrived for 4 purchases in the last 14 days: 3 of them (75%) "
                                "say the Tag fired with Pinbridge's id")
    assert "For 1 of 4 the Tag fired with another id" in body["advice"]
    assert body["reported"] is True and body["tag_id"] == "2612345678901"
    assert '"tagId": "2612345678901"' in body["snippet"] and f"/pixel?shop={SHOP}" in body["snippet"]


def test_success_only_from_95_percent_with_a_tag_id_and_a_later_forged_beacon_cannot_flip_it(
    configure_shop: Any, post_webhook: Any, post_beacon: Any, worker: Any,
) -> None:
    def card() -> dict[str, Any]:
        db.session.rollback()
        shop = db.session.scalars(select(Shop)).one()
        return dedup.summary(shop, now_utc())

    configure_shop()
    orders = [web_order(landing_site="/") for _ in range(20)]
    for n, order in enumerate(orders):  # one browser address each, under the per-client limit
        post_beacon(beacon_for(order), ip=f"198.51.100.{n + 10}")
        post_beacon(beacon_for(order, event_id="forged-other-id-00"), ip=f"198.51.100.{n + 10}")  # second: ignored
        post_webhook(order)
    drain(worker())
    body = card()
    assert (body["tag_reported"], body["tag_same_id"]) == (20, 20)
    # 20 of 20 with our id, but no Tag id saved: the Tag cannot have fired from Pinbridge's code.
    assert body["tone"] == "warning" and body["headline"] == "No Pinterest Tag id saved"
    configure_shop(tag_id="2612345678901")
    body = card()
    assert body["tone"] == "success" and "20 of them (100%)" in body["headline"]
    assert "Pinterest counted" not in body["headline"] + body["advice"]  # what arrived, not what Pinterest did
    for expected in ("success", "warning"):  # 20 of 21: 95.2%; 20 of 22: 90.9%
        order = web_order(landing_site="/")
        post_beacon(beacon_for(order, event_id="an-id-of-no-purchase"))
        post_webhook(order)
        assert drain(worker()) == 1
        assert card()["tone"] == expected
    assert "(90%)" in card()["headline"]


def test_the_page_says_when_the_pasted_pixel_is_out_of_date(
    app: Flask, client: FlaskClient, configure_shop: Any, post_beacon: Any,
) -> None:
    configure_shop(tag_id="2612345678901")
    order = web_order()
    post_beacon(beacon_for(order, pixel=pixel.version(tag_id="2612345678901")))
    use_session_secrets(app)
    body = client.get("/api/pixel", headers=bearer()).get_json()
    assert body["pixel_outdated"] is False and body["pasted_version"] == body["version"]
    answer = client.put("/api/settings", headers=bearer(), json={"event_id_source": "order_id"}).get_json()
    assert "copy the code from Pinbridge's home page" in answer["pixel_notice"]
    body = client.get("/api/pixel", headers=bearer()).get_json()
    assert body["pixel_outdated"] is True and body["tone"] == "warning"
    assert body["headline"] == "The pasted pixel is out of date"
    # The app pixel's beacon carries no version; the custom pixel's, arriving second, still updates it.
    later = web_order()
    post_beacon(beacon_for(later))
    post_beacon(beacon_for(later, pixel=pixel.version("order_id", tag_id="2612345678901")))
    assert client.get("/api/pixel", headers=bearer()).get_json()["pixel_outdated"] is False
    assert post_beacon(beacon_for(web_order(), pixel="not-a-version")).status_code == 400


def test_before_the_pixel_reports_the_page_says_how_to_install_it(
    app: Flask, client: FlaskClient, configure_shop: Any
) -> None:
    use_session_secrets(app)
    configure_shop()
    body = client.get("/api/pixel", headers=bearer()).get_json()
    assert body["reported"] is False and body["purchases"] == 0 and body["snippet"] is None
    assert body["advice"].startswith("Save your Pinterest Tag id")
    configure_shop(tag_id="2612345678901")
    body = client.get("/api/pixel", headers=bearer()).get_json()
    assert body["headline"] == "No purchase reported by the pixel yet" and body["tone"] == "warning"
    assert "YOUR_PINTEREST_TAG_ID" not in body["snippet"]


def test_beacons_go_after_a_day_and_with_a_redacted_customer(
    configure_shop: Any, post_webhook: Any, post_beacon: Any,
) -> None:
    configure_shop()
    order = web_order()
    post_beacon(beacon_for(order))
    post_webhook(order)
    assert purge_beacons(now_utc()) == 0
    assert purge_beacons(now_utc() + timedelta(days=1, minutes=1)) == 1
    post_beacon(beacon_for(order))
    assert len(stored()) == 1
    redact = {"shop_id": 1, "shop_domain": SHOP, "customer": {"id": order["customer"]["id"],
                                                              "email": "buyer@example.com"},
              "orders_to_redact": [order["id"]]}
    assert post_webhook(redact, "customers/redact").status_code == 200
    assert stored() == []
