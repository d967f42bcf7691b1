"""POST /pixel in front of Flask: concurrent beacons share one write, and each gets its own answer."""

from __future__ import annotations

import io
import json
import threading
import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app import beacons
from app.ingest import beacon, pixel_wsgi
from app.models import Event, PixelBeacon, Shop, db, now_utc
from tests.conftest import SHOP
from tests.factories import web_order


@pytest.fixture(autouse=True)
def _fresh_limits(app: Flask) -> Any:
    beacon.limiter.reset()
    yield
    beacon.limiter.reset()


def body(token: str, **fields: Any) -> bytes:
    return json.dumps({"checkout_token": token, "consent": {"marketing": True, "sale_of_data": True},
                       **fields}).encode()


def post(app: Flask, data: bytes, *, ip: str = "198.51.100.7", agent: str = "Mozilla/5.0 Bench") -> Any:
    return app.test_client().post(f"/pixel?shop={SHOP}", data=data, environ_base={"REMOTE_ADDR": ip},
                                  headers={"Content-Type": "text/plain", "User-Agent": agent})


def test_concurrent_beacons_share_a_write_and_each_gets_its_answer(
        app: Flask, configure_shop: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    configure_shop()
    db.session.rollback()
    batches: list[int] = []
    real_write = pixel_wsgi.BeaconStore._write

    def slow_write(self: pixel_wsgi.BeaconStore, rows: list[dict[str, Any]]) -> set[Any]:
        batches.append(len(rows))
        time.sleep(0.05)  # a slow disk: others queue meanwhile
        return real_write(self, rows)

    monkeypatch.setattr(pixel_wsgi.BeaconStore, "_write", slow_write)
    answers: dict[int, int] = {}

    def send(n: int) -> None:
        token = "samecheckout01" if n in (3, 4) else f"checkout{n:08d}"
        answers[n] = post(app, body(token), ip=f"198.51.100.{n + 1}").status_code

    threads = [threading.Thread(target=send, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(answers.values()) == [204] * 20  # a repeat is answered like a new one
    db.session.rollback()
    assert len(db.session.scalars(select(PixelBeacon)).all()) == 19
    assert sum(batches) == 20 and len(batches) < 20  # beacons shared writes
    assert db.session.scalar(select(Shop.pixel_seen_at).filter_by(domain=SHOP)) is not None


def test_a_beacon_releases_its_order_through_the_shared_write(
        app: Flask, configure_shop: Any, post_webhook: Any) -> None:
    shop = configure_shop()
    shop.pixel_seen_at = shop.installed_at
    db.session.commit()
    order = web_order(id=4242, checkout_token=f"{4242:032x}", cart_token=f"c{4242:031x}")
    post_webhook(order)
    db.session.rollback()
    waiting = db.session.scalars(select(Event)).one()
    waits_until = waiting.available_at
    assert waits_until > waiting.received_at  # it waits for its beacon
    db.session.rollback()
    assert post(app, body(order["checkout_token"])).status_code == 204
    released = db.session.scalars(select(Event)).one()
    assert released.available_at <= now_utc() < waits_until  # it may go now


def test_a_user_agent_longer_than_its_column_is_cut_not_refused(app: Flask, configure_shop: Any) -> None:
    configure_shop()
    db.session.rollback()
    assert post(app, body("longagent0001"), agent="A" * 2000).status_code == 204
    db.session.rollback()
    [row] = db.session.scalars(select(PixelBeacon)).all()
    assert row.user_agent == "A" * beacons.USER_AGENT_LENGTH


def test_a_beacon_without_a_length_is_left_to_the_route(app: Flask, configure_shop: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    configure_shop()
    db.session.rollback()
    shared: list[int] = []
    monkeypatch.setattr(pixel_wsgi.BeaconStore, "_write", lambda self, rows: shared.append(len(rows)))
    answer = app.test_client().post(f"/pixel?shop={SHOP}", input_stream=io.BytesIO(body("chunkedbody01")),
                                    headers={"Content-Type": "text/plain", "Transfer-Encoding": "chunked"},
                                    environ_base={"REMOTE_ADDR": "198.51.100.9"},
                                    environ_overrides={"CONTENT_LENGTH": "", "wsgi.input_terminated": True})
    assert (answer.status_code, answer.get_json()["error"]) == (413, "too_large")  # the route's answer
    assert shared == []


def test_a_beacon_on_a_whole_second_is_stored_as_the_orm_stores_a_time(app: Flask, configure_shop: Any,
                                                                       monkeypatch: Any) -> None:
    """The shared write binds times as SQLAlchemy does on this database: on SQLite "….000000" at a whole
    second, so beacons compare and sort with every other stored time."""
    from sqlalchemy import text

    configure_shop()
    db.session.rollback()
    at = now_utc().replace(microsecond=0)
    monkeypatch.setattr(pixel_wsgi, "now_utc", lambda: at)
    assert post(app, body("wholesecond01")).status_code == 204
    db.session.rollback()
    stored = db.session.execute(text("SELECT received_at FROM pixel_beacons")).scalar_one()
    if db.engine.dialect.name == "sqlite":
        assert stored == at.strftime("%Y-%m-%d %H:%M:%S.000000")
    else:
        assert stored == at
