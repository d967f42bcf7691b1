"""JSON-line logs: one object per line with the record's extras and the request id, never personal data."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
from typing import Any

from flask import Flask

from app.delivery import Worker
from app.logs import JSONFormatter, current_request_id, request_id_scope
from tests.conftest import API_SECRET
from tests.factories import web_order
from tests.test_delivery import drain


def line(record: logging.LogRecord) -> dict[str, object]:
    text = JSONFormatter().format(record)
    assert "\n" not in text
    parsed: dict[str, object] = json.loads(text)
    return parsed


def record(msg: str = "batch delivered", **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("app.delivery.send", logging.INFO, __file__, 1, msg, None, None)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_a_line_carries_the_message_and_the_callers_extras() -> None:
    entry = line(record(action="batch_delivered", shop_id=7, delivered=3))
    assert {k: entry[k] for k in ("level", "logger", "message", "action", "shop_id", "delivered")} == {
        "level": "INFO", "logger": "app.delivery.send", "message": "batch delivered",
        "action": "batch_delivered", "shop_id": 7, "delivered": 3}
    assert str(entry["time"]).endswith("+00:00")
    assert "request_id" not in entry  # outside a request
    assert not {"args", "msg", "levelno", "pathname", "thread"} & set(entry)  # the record's own fields stay out


def test_values_json_cannot_hold_are_still_written() -> None:
    entry = line(record(big=2**70, keyed={1: "one"}, when=object))
    assert entry["big"] == 2**70 and entry["keyed"] == {"1": "one"} and "object" in str(entry["when"])


def test_an_exception_is_kept_on_its_line() -> None:
    try:
        raise ValueError("unexpected")
    except ValueError:
        rec = record()
        rec.exc_info = sys.exc_info()
    assert "ValueError: unexpected" in str(line(rec)["exception"])


def test_each_request_outside_flask_has_its_own_id() -> None:
    assert current_request_id() is None
    seen: dict[str, str | None] = {}
    with request_id_scope() as rid:
        assert current_request_id() == rid and len(rid) == 16
        assert line(record())["request_id"] == rid
        thread = threading.Thread(target=lambda: seen.setdefault("other", current_request_id()))
        thread.start()
        thread.join()
    assert seen == {"other": None}  # another thread serves another request
    assert current_request_id() is None


def test_a_flask_request_keeps_one_id_for_all_its_lines(app: Flask) -> None:
    # Each request served has an app context of its own (the test's is set aside the way a server's is absent).
    with app.app_context(), app.test_request_context("/healthz"):
        first = current_request_id()
        assert first is not None and current_request_id() == first
        assert line(record())["request_id"] == first
    with app.app_context(), app.test_request_context("/healthz"):
        assert current_request_id() not in (None, first)


def test_logs_are_json_lines_with_a_request_id_and_no_personal_data(
    post_webhook: Any, configure_shop: Any, worker: Worker
) -> None:
    configure_shop()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        order = web_order(email="dana.private@example.com", phone="+1 555 0100")
        post_webhook(order)
        drain(worker)
    finally:
        root.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    received = [line for line in lines if line.get("action") == "webhook_received"]
    assert len(received) == 1 and len(received[0]["request_id"]) == 16
    assert any(line.get("action") == "batch_delivered" for line in lines)
    text = stream.getvalue()
    # The phone in either form (a bare "555" also turns up inside random hex request ids).
    for secret in ("dana.private", "555 0100", "5550100", "Dana", "Portland", "pina_test_token", "1 Test Street",
                   API_SECRET):
        assert secret not in text
