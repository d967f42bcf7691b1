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

from app import beacon_join, outbox
from app.inbox import routing
from app.ingest import beacon
from app.models import Event, PixelBeacon, Shop, db, now_utc
from app.ops.retention import purge_beacons
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
    real_join = beacon_join.join

    def counted(items: list[Any], worker_id: str, now: Any) -> beacon_join.Joined:
        def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements.append(statement)

        batches.append(len(items))
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            return real_join(items, worker_id, now)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)

    monkeypatch.setattr(beacon_join, "join", counted)
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


@pytest.mark.parametrize("sqlite_version", [None, (3, 31, 0)])  # (3, 31): SQLite without UPDATE ... FROM
def test_notes_without_a_tag_id_are_recorded_on_any_sqlite(
    monkeypatch: pytest.MonkeyPatch, configure_shop: Any, post_webhook: Any, post_beacon: Any, worker: Any,
    pinterest: PinterestStandin, sqlite_version: tuple[int, ...] | None,
) -> None:
    if sqlite_version:
        monkeypatch.setattr(outbox.sqlite3, "sqlite_version_info", sqlite_version)
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
def test_the_summary_counts_purchases_the_tag_reported_with_our_id(
    app: Flask, client: FlaskClient, configure_shop: Any, post_webhook: Any, post_beacon: Any, worker: Any,
) -> None:
    configure_shop(tag_id="2612345678901")
    orders = [web_order(id=n, checkout_token=f"{n:032x}", cart_token=f"c{n:031x}", landing_site="/")
              for n in range(1, 5)]
    post_beacon(beacon_for(orders[0]))
    post_beacon(beacon_for(orders[1], event_id=f"{2:032x}"))  # the Tag used the checkout token
    post_beacon(beacon_for(orders[2], click_id=None))
    for order in orders:
        post_webhook(order)
    drain(worker())
    use_session_secrets(app)  # webhooks above were signed with the app secret; the page's token now
    body = client.get("/api/pixel", headers=bearer()).get_json()
    assert body["headline"] == "Counted once: the Tag reported 2 of 4 purchases in the last 14 days with the same id"
    assert (body["purchases"], body["tag_same_id"], body["tag_different_id"], body["with_click_id"]) == (4, 2, 1, 2)
    assert body["reported"] is True and body["tag_id"] == "2612345678901"
    assert '"tagId": "2612345678901"' in body["snippet"] and f"/pixel?shop={SHOP}" in body["snippet"]
    assert "different id for 1 of 4" in body["advice"]


def test_before_the_pixel_reports_the_page_says_how_to_install_it(
    app: Flask, client: FlaskClient, configure_shop: Any
) -> None:
    use_session_secrets(app)
    configure_shop()
    body = client.get("/api/pixel", headers=bearer()).get_json()
    assert body["reported"] is False and body["purchases"] == 0
    assert body["advice"].startswith("Add your Pinterest Tag id")
    configure_shop(tag_id="2612345678901")
    body = client.get("/api/pixel", headers=bearer()).get_json()
    assert body["advice"].startswith("The pixel has not reported a purchase yet")


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
