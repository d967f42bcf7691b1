"""Operator and merchant controls over a shop's backoff, and how long Pinterest may make a shop wait."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.delivery import Worker
from app.models import ConnectionStatus, Event, PinterestSettings, db, now_utc
from app.retry import MAX_RETRY_AFTER
from app.settings import apply_settings
from app.shops import get_or_create_shop
from tests.conftest import SHOP, stored_settings
from tests.factories import web_order
from tests.jwt_helpers import bearer, use_session_secrets
from tests.standins.pinterest import PinterestStandin
from tests.test_delivery import drain


def _backed_off_for_an_hour(post_webhook: Any, worker: Worker, pinterest: PinterestStandin) -> str:
    """One order whose first attempt met a 429 asking for an hour: the shop now waits."""
    order = web_order()
    post_webhook(order)
    pinterest.respond_next(429, retry_after=3600)
    assert drain(worker) == 1
    settings = stored_settings()
    assert settings.backoff_until is not None and settings.backoff_until > now_utc() + timedelta(minutes=59)
    assert drain(worker) == 0  # waiting for the backoff
    return str(order["cart_token"])


def test_retry_pending_lifts_the_backoff_and_the_events_go_now(
    post_webhook: Any, configure_shop: Any, worker: Worker, pinterest: PinterestStandin, runner: Any
) -> None:
    configure_shop()
    event_id = _backed_off_for_an_hour(post_webhook, worker, pinterest)

    result = runner.invoke(args=["events", "retry", "--shop", SHOP, "--status", "pending"])

    assert result.exit_code == 0, result.output
    assert result.output == f"{SHOP}: 1 pending event(s) queued to send now.\n"
    assert stored_settings().backoff_until is None
    assert drain(worker) == 1  # now, not in an hour
    assert pinterest.sent_event_id_counts == {event_id: 2}  # the refused attempt, then the one that counted
    assert pinterest.event_id_counts == {event_id: 1}
    assert db.session.scalar(select(Event.status)) == "delivered"


def test_retry_failed_lifts_the_backoff_too(
    post_webhook: Any, configure_shop: Any, worker: Worker, pinterest: PinterestStandin, runner: Any
) -> None:
    configure_shop()
    _backed_off_for_an_hour(post_webhook, worker, pinterest)
    post_webhook(web_order())
    db.session.execute(update(Event).where(Event.status == "pending").values(status="failed", error_code="failed"))
    db.session.commit()

    result = runner.invoke(args=["events", "retry", "--shop", SHOP])

    assert result.output == f"{SHOP}: 2 failed event(s) queued to send now.\n"
    assert drain(worker) == 2
    assert {s for (s,) in db.session.execute(select(Event.status))} == {"delivered"}


@pytest.mark.parametrize(("change", "reason"), [
    ({"connection_status": ConnectionStatus.REJECTED.value},
     "delivery is paused until new Pinterest credentials are saved"),
    ({"enabled": False}, "sending to Pinterest is turned off"),
])
def test_retry_says_when_the_events_still_cannot_go(
    post_webhook: Any, configure_shop: Any, worker: Worker, pinterest: PinterestStandin, runner: Any,
    change: dict[str, Any], reason: str,
) -> None:
    configure_shop()
    _backed_off_for_an_hour(post_webhook, worker, pinterest)
    db.session.execute(update(PinterestSettings).values(**change))
    db.session.commit()

    result = runner.invoke(args=["events", "retry", "--shop", SHOP, "--status", "pending"])

    assert "queued to send now" not in result.output
    assert result.output.startswith(f"{SHOP}: 1 pending event(s) are ready, but none will be sent while {reason}")
    assert drain(worker) == 0
    assert len(pinterest.requests) == 1


def test_saving_new_credentials_lifts_the_backoff(
    post_webhook: Any, configure_shop: Any, worker: Worker, pinterest: PinterestStandin
) -> None:
    configure_shop()
    _backed_off_for_an_hour(post_webhook, worker, pinterest)

    configure_shop(access_token="pina_test_token_0002")

    settings = stored_settings()
    assert (settings.backoff_until, settings.failure_streak) == (None, 0)
    assert drain(worker) == 1
    assert pinterest.requests[-1].token == "pina_test_token_0002"


def test_unchanged_settings_keep_the_backoff(
    post_webhook: Any, configure_shop: Any, worker: Worker, pinterest: PinterestStandin
) -> None:
    configure_shop()
    _backed_off_for_an_hour(post_webhook, worker, pinterest)

    apply_settings(get_or_create_shop(SHOP), {"include_offline_orders": True})
    db.session.commit()
    assert stored_settings().backoff_until is not None
    assert drain(worker) == 0


def test_api_retry_lifts_the_backoff(
    app: Flask, client: FlaskClient, post_webhook: Any, configure_shop: Any, worker: Worker,
    pinterest: PinterestStandin,
) -> None:
    configure_shop()
    _backed_off_for_an_hour(post_webhook, worker, pinterest)
    use_session_secrets(app)
    db.session.execute(update(Event).values(status="failed", error_code="failed"))
    db.session.commit()

    assert client.post("/api/events/retry", headers=bearer()).get_json() == {"retried": 1}

    assert stored_settings().backoff_until is None
    assert drain(worker) == 1


@pytest.mark.parametrize("header", [99_999_999, "Fri, 01 Jan 2100 00:00:00 GMT"])
def test_an_absurd_retry_after_is_capped_at_an_hour(
    post_webhook: Any, configure_shop: Any, worker: Worker, pinterest: PinterestStandin, header: Any
) -> None:
    configure_shop()
    post_webhook(web_order())
    pinterest.respond_next(429, retry_after=header)
    before = now_utc()
    drain(worker)
    db.session.rollback()
    event, settings = db.session.scalar(select(Event)), stored_settings()
    assert event.status == "pending"
    for moment in (event.available_at, settings.backoff_until):
        wait = (moment - before).total_seconds()
        assert MAX_RETRY_AFTER - 5 <= wait <= MAX_RETRY_AFTER + 5  # an hour, not three years
