"""JSON-line logs: one object per line with the record's extras and the request id."""

from __future__ import annotations

import json
import logging
import sys
import threading

from flask import Flask

from app.logs import JSONFormatter, current_request_id, request_id_scope


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
