"""The inbox's request-path write: a verified webhook acknowledged with one sealed receipt, in shared commits."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from app.inbox import receipts as inbox_receipts
from app.models import db
from tests.conftest import SHOP, process_inbox
from tests.factories import completed_checkout, web_order
from tests.inbox.rows import event_count, receipts


def test_the_request_stores_only_an_encrypted_body(post_webhook: Any) -> None:
    order = web_order(email="buyer@example.com")
    response = post_webhook(order, webhook_id="wh-in-1", drain=False)
    assert response.get_json() == {"status": "accepted"}
    [receipt] = receipts()
    assert receipt.outcome == inbox_receipts.WAITING and receipt.body is not None
    assert b"buyer@example.com" not in receipt.body and b"example.com" not in receipt.body
    assert event_count() == 0  # nothing mapped on the request path


def test_a_redelivery_while_waiting_is_a_duplicate(app: Flask, post_webhook: Any) -> None:
    order = web_order()
    assert post_webhook(order, webhook_id="wh-in-3", drain=False).get_json() == {"status": "accepted"}
    assert post_webhook(order, webhook_id="wh-in-3", drain=False).get_json() == {"status": "duplicate"}
    process_inbox(app)
    assert post_webhook(order, webhook_id="wh-in-3").get_json() == {"status": "duplicate"}
    assert (len(receipts()), event_count()) == (1, 1)


def test_an_open_checkout_is_recorded_without_a_body(app: Flask, post_webhook: Any) -> None:
    checkout = completed_checkout(completed_at=None)
    assert post_webhook(checkout, "checkouts/update", drain=False).get_json() == {"status": "accepted"}
    [receipt] = receipts()
    assert (receipt.outcome, receipt.body) == ("checkout_open", None)
    assert process_inbox(app) == 0 and event_count() == 0


def _deliver_at_once(app: Flask, count: int, webhook_id: Callable[[int], str]) -> dict[int, str | BaseException]:
    """`count` webhooks accepted from threads while the test holds the group commit's leader seat, so all of
    them queue; then the seat is let go and they are written as the batches the group commit makes."""
    commits = inbox_receipts.receipts_for(app).commits
    answers: dict[int, str | BaseException] = {}

    def deliver(n: int) -> None:
        with app.app_context():
            try:
                answers[n] = inbox_receipts.accept(
                    webhook_id=webhook_id(n), shop_domain=SHOP, topic="orders/create", triggered_at=None,
                    api_version="2026-10", raw=json.dumps(web_order()).encode())
            except Exception as exc:
                answers[n] = exc

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(count)]
    with commits._leader:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while len(commits._queue) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(commits._queue) == count
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return answers


def test_concurrent_webhooks_share_a_commit_and_each_gets_its_own_answer(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twenty deliveries at once (two of them the same webhook id): one commit, every answer right."""
    batches: list[int] = []
    real_store = inbox_receipts._store

    def counted(receipts: inbox_receipts.Receipts, rows: list[dict[str, Any]]) -> set[str]:
        batches.append(len(rows))
        return real_store(receipts, rows)

    monkeypatch.setattr(inbox_receipts, "_store", counted)
    answers = _deliver_at_once(app, 20, lambda n: "wh-same" if n in (3, 4) else f"wh-group-{n}")
    assert sorted(map(str, answers.values())) == ["accepted"] * 19 + ["duplicate"]
    assert batches == [20]  # the receipts shared one commit
    assert len(receipts()) == 19
    assert process_inbox(app) == 19 and event_count() == 19


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # a server whose connection can be cut
def test_a_failed_commit_answers_every_webhook_in_it(app: Flask, post_webhook: Any) -> None:
    from sqlalchemy.exc import OperationalError

    from tests.test_hostile_database import _kill_app_connections

    assert post_webhook(web_order(), drain=False).get_json() == {"status": "accepted"}  # the writer is connected
    db.session.rollback()
    assert _kill_app_connections(app) >= 1  # the server drops it, as in a failover
    answers = _deliver_at_once(app, 5, lambda n: f"wh-lost-{n}")
    assert all(isinstance(answer, OperationalError) for answer in answers.values()), answers  # each a 503
    assert len(answers) == 5
    assert post_webhook(web_order(), drain=False).get_json() == {"status": "accepted"}  # nothing left stuck
    assert len(receipts()) == 2


def test_the_fast_insert_stores_a_receipt_as_the_orm_would(app: Flask) -> None:
    """The acknowledgement's driver-level INSERT and the ORM's write the same stored values, a time on a whole
    second included (SQLite keeps times as text: "….000000", never a shorter form that sorts apart)."""
    from sqlalchemy import insert, text

    from app.models import WebhookReceipt, now_utc

    with app.app_context():
        box = inbox_receipts.receipts_for(app)
        at = now_utc().replace(microsecond=0)
        row = {"shop_domain": SHOP, "topic": "orders/create", "received_at": at, "triggered_at": None,
               "api_version": "2026-10", "outcome": inbox_receipts.WAITING, "body": b"sealed"}
        db.session.execute(insert(WebhookReceipt).values(**row, webhook_id="by-orm"))
        db.session.commit()
        inbox_receipts._store(box, [{**row, "webhook_id": "by-driver"}])
        columns = "shop_domain, topic, received_at, triggered_at, api_version, outcome, body"
        stored = {r.webhook_id: tuple(r)[1:] for r in db.session.execute(
            text(f"SELECT webhook_id, {columns} FROM webhook_receipts"))}
        assert stored["by-driver"] == stored["by-orm"]
