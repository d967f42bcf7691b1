"""What both webhook doors share: the body's read deadline, and every answer logged and counted alike."""

from __future__ import annotations

import logging
import sys
import time
from contextlib import nullcontext

import pytest

from app.ingest import answer
from app.ingest.verify import WebhookRejected
from app.metrics import REGISTRY


def answered(topic: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("pinbridge_webhooks_total", {"topic": topic, "outcome": outcome}) or 0.0


def test_without_gevent_or_a_limit_the_read_has_no_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "gevent.monkey", raising=False)
    assert isinstance(answer.read_deadline(10.0), nullcontext)
    assert isinstance(answer.read_deadline(0.0), nullcontext)  # 0 turns the deadline off


def test_a_refusal_is_logged_with_its_code_and_counted_under_its_topic(caplog: pytest.LogCaptureFixture) -> None:
    before = answered("orders/create", "rejected_invalid_hmac")
    caplog.set_level(logging.INFO, logger="app.ingest.webhooks")
    answer.refused(WebhookRejected("invalid_hmac", "HMAC does not match."), "orders/create", time.perf_counter())
    assert answered("orders/create", "rejected_invalid_hmac") == before + 1
    [record] = [r for r in caplog.records if getattr(r, "action", None) == "webhook_rejected"]
    assert record.code == "invalid_hmac"  # type: ignore[attr-defined]


def test_an_unavailable_database_is_an_error_line_and_its_own_count(caplog: pytest.LogCaptureFixture) -> None:
    before = answered("checkouts/update", "unavailable")
    answer.unavailable("checkouts/update", time.perf_counter())
    assert answered("checkouts/update", "unavailable") == before + 1
    assert [r.levelname for r in caplog.records if getattr(r, "action", None) == "webhook_db_unavailable"] == [
        "ERROR"]
    assert answer.UNAVAILABLE == {"error": "unavailable", "message": "Database unavailable, retry later."}
