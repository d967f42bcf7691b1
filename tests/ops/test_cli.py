"""Operator commands: configure-shop, status, events retry and reconcile's arguments and progress bar."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app import crypto
from app.models import ConnectionStatus, Event, PinterestSettings, Shop, db, now_utc
from app.ops.cli import parse_since
from app.shops import get_or_create_shop
from tests.conftest import API_KEY, API_SECRET, SHOP
from tests.factories import web_order
from tests.standins.shopify_graphql import ShopifyAdminStandin, graphql_order

OTHER = "second-store.myshopify.com"


def add_event(shop: Shop, status: str, *, received_at: datetime | None = None, source: str = "order",
              delivered_at: datetime | None = None) -> Event:
    when = received_at or now_utc()
    event = Event(shop_id=shop.id, event_id=f"evt-{status}-{when.timestamp()}-{id(object())}", source=source,
                  status=status, received_at=when, available_at=when + timedelta(hours=1),
                  payload={"event_name": "checkout"}, delivered_at=delivered_at,
                  error_code="failed" if status == "failed" else None)
    db.session.add(event)
    db.session.flush()
    return event


def test_configure_shop_reads_the_token_from_stdin_and_never_echoes_it(runner: Any) -> None:
    result = runner.invoke(args=["configure-shop", "--shop", "demo-store", "--ad-account-id", "549755885175",
                                 "--test-mode", "true"], input="pina_secret_from_stdin_0001\n")
    assert result.exit_code == 0, result.output
    assert "demo-store.myshopify.com: ad account 549755885175, token ••••0001, enabled, test mode." in result.output
    assert "pina_secret_from_stdin" not in result.output
    settings = db.session.scalar(select(PinterestSettings))
    assert crypto.decrypt(settings.access_token_enc or "") == "pina_secret_from_stdin_0001"


def test_configure_shop_refuses_bad_input_and_saves_nothing(runner: Any) -> None:
    result = runner.invoke(args=["configure-shop", "--shop", SHOP, "--ad-account-id", "12ab"], input="\n")
    assert result.exit_code == 2
    assert "ad_account_id" in result.output
    assert db.session.scalar(select(Shop)) is None


def test_status_shows_one_line_per_shop(runner: Any, configure_shop: Any) -> None:
    shop = configure_shop()
    delivered_at = datetime(2026, 11, 21, 8, 30, tzinfo=UTC)
    for status in ("pending", "pending", "sending", "failed", "skipped"):
        add_event(shop, status)
    add_event(shop, "delivered", delivered_at=delivered_at)
    shop.settings.connection_status = ConnectionStatus.REJECTED.value
    other = get_or_create_shop(OTHER)
    other.last_reconciled_at = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)
    db.session.commit()

    result = runner.invoke(args=["status"])

    assert result.exit_code == 0, result.output
    header, first, second = result.output.splitlines()
    assert header.split() == ["SHOP", "INSTALLED", "CONFIGURED", "ENABLED", "PAUSED", "PENDING", "FAILED",
                              "LAST", "DELIVERY", "LAST", "RECONCILED"]
    assert first.split() == [SHOP, "yes", "yes", "yes", "yes", "3", "1", "2026-11-21", "08:30", "UTC", "never"]
    assert second.split() == [OTHER, "yes", "no", "yes", "no", "0", "0", "never", "2026-11-22", "07:00", "UTC"]


def test_status_without_shops(runner: Any) -> None:
    assert runner.invoke(args=["status"]).output == "No shops yet.\n"


def test_events_retry_sends_recent_failed_events_again(runner: Any, configure_shop: Any, app: Flask) -> None:
    shop = configure_shop()
    recent = [add_event(shop, "failed") for _ in range(2)]
    too_old = add_event(shop, "failed", received_at=now_utc() - timedelta(hours=80))
    verify = add_event(shop, "failed", source="verify")
    elsewhere = add_event(get_or_create_shop(OTHER), "failed")
    db.session.commit()

    result = runner.invoke(args=["events", "retry", "--shop", SHOP])

    assert result.exit_code == 0, result.output
    assert f"{SHOP}: 2 failed event(s) queued to send now." in result.output
    assert "1 failed event(s) received more than 72 h ago were left as they are." in result.output
    db.session.rollback()
    status = {e.id: (e.status, e.error_code) for e in db.session.scalars(select(Event))}
    assert [status[e.id] for e in recent] == [("pending", None)] * 2
    assert status[too_old.id] == status[verify.id] == status[elsewhere.id] == ("failed", "failed")
    assert all(e.available_at <= now_utc() for e in db.session.scalars(select(Event).where(Event.id.in_(
        [r.id for r in recent]))))


def test_events_retry_pending_skips_the_backoff_wait(runner: Any, configure_shop: Any) -> None:
    shop = configure_shop()
    waiting = add_event(shop, "pending")  # available in an hour
    db.session.commit()
    result = runner.invoke(args=["events", "retry", "--shop", SHOP, "--status", "pending"])
    assert f"{SHOP}: 1 pending event(s) queued to send now." in result.output
    db.session.rollback()
    assert db.session.get(Event, waiting.id).available_at <= now_utc()


def test_events_retry_for_an_unknown_shop(runner: Any) -> None:
    result = runner.invoke(args=["events", "retry", "--shop", "nobody.myshopify.com"])
    assert result.exit_code == 2
    assert "No shop 'nobody.myshopify.com' is known to Pinbridge." in result.output


@pytest.mark.parametrize(("text", "expected"), [
    ("24h", datetime(2026, 11, 21, 9, 0, tzinfo=UTC)),                  # relative hours
    ("90m", datetime(2026, 11, 22, 7, 30, tzinfo=UTC)),                 # relative minutes
    ("3d", datetime(2026, 11, 19, 9, 0, tzinfo=UTC)),                   # relative days
    ("2026-11-20T10:00:00Z", datetime(2026, 11, 20, 10, 0, tzinfo=UTC)),  # ISO with Z
    ("2026-11-20T10:00:00-05:00", datetime(2026, 11, 20, 15, 0, tzinfo=UTC)),  # ISO with an offset
    ("2026-11-20 10:00", datetime(2026, 11, 20, 10, 0, tzinfo=UTC)),    # naive means UTC
])
def test_since_accepts_durations_and_iso_times(text: str, expected: datetime) -> None:
    assert parse_since(text, datetime(2026, 11, 22, 9, 0, tzinfo=UTC)) == expected


@pytest.mark.parametrize("args", [["--since", "yesterday"], ["--since", "2999-01-01T00:00:00Z"]])
def test_reconcile_refuses_a_bad_since(runner: Any, args: list[str]) -> None:
    result = runner.invoke(args=["reconcile", "--shop", SHOP, *args])
    assert result.exit_code == 2
    assert "--since" in result.output


@pytest.fixture
def admin(app: Flask, configure_shop: Any) -> Iterator[ShopifyAdminStandin]:
    standin = ShopifyAdminStandin(SHOP, client_id=API_KEY, client_secret=API_SECRET)
    client = standin.client()
    app.config["SHOPIFY_HTTP_CLIENT"] = client
    shop = configure_shop()
    shop.shopify_token_enc = crypto.encrypt("shpat_fake_valid_0001")
    shop.shopify_token_expires_at = now_utc() + timedelta(hours=1)
    db.session.commit()
    yield standin
    client.close()


def test_reconcile_shows_a_progress_bar_sized_by_the_order_count(runner: Any, admin: ShopifyAdminStandin) -> None:
    start = now_utc() - timedelta(hours=1)
    admin.add(*(graphql_order(web_order(), created_at=start + timedelta(minutes=i)) for i in range(12)))
    result = runner.invoke(args=["reconcile", "--shop", SHOP, "--since", "2h", "--progress"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Reconciling orders")  # off a terminal click prints only the label
    assert "12 orders seen, 0 already present, 12 enqueued, 0 skipped (2 pages, 3 requests)" in result.output
    assert [r.operation for r in admin.graphql()] == ["ReconcileOrderCount", "ReconcileOrders", "ReconcileOrders"]
