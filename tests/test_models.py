"""The schema's own rules (app/models.py): UTC timestamps, enum columns, text cleaned alike on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import String, Text, select, text
from sqlalchemy.exc import StatementError

from app.models import CleanString, Event, PinterestSettings, Shop, db
from app.vocabulary import ConnectionStatus, EventStatus
from tests.event_rows import add_event


def test_a_time_is_stored_as_its_instant_and_read_back_in_utc(configure_shop: Any) -> None:
    shop = configure_shop()
    paris = datetime(2026, 3, 29, 3, 30, tzinfo=timezone(timedelta(hours=2)))
    row_id = add_event(shop.id, status="pending", received_at=paris).id
    db.session.commit()
    db.session.expunge_all()
    stored = db.session.scalar(select(Event.received_at).where(Event.id == row_id))
    db.session.rollback()
    assert stored == paris and stored.tzinfo is UTC and stored.hour == 1


def test_a_time_without_a_zone_is_refused(configure_shop: Any) -> None:
    shop = configure_shop()
    with pytest.raises(StatementError, match="naive datetime"):
        add_event(shop.id, received_at=datetime(2026, 3, 29, 3, 30))  # noqa: DTZ001 - the point of the test
    db.session.rollback()


def test_an_enum_column_reads_back_its_member_and_refuses_other_words(configure_shop: Any) -> None:
    shop_id = configure_shop().id
    row_id = add_event(shop_id, status=EventStatus.SKIPPED).id
    db.session.commit()
    db.session.expunge_all()
    assert db.session.scalar(select(Event.status).where(Event.id == row_id)) is EventStatus.SKIPPED
    assert db.session.execute(text("SELECT status FROM events")).scalar_one() == "skipped"  # a plain word
    db.session.rollback()
    with pytest.raises(StatementError):
        add_event(shop_id, status="sent")
    db.session.rollback()


def test_every_plain_text_column_is_cleaned_before_it_is_stored() -> None:
    plain = [f"{table.name}.{column.name}" for table in db.metadata.tables.values() for column in table.columns
             if type(column.type) in (String, Text)]
    assert plain == []
    assert isinstance(Shop.__table__.c.domain.type, CleanString)


def test_text_with_a_nul_or_too_long_is_stored_alike_on_both_databases(configure_shop: Any) -> None:
    shop = configure_shop()
    row_id = add_event(shop.id, order_name="#10\x0001", currency="USDX", skip_reason="kept\x00 whole" * 3).id
    db.session.commit()
    db.session.expunge_all()
    row = db.session.execute(select(Event.order_name, Event.currency, Event.skip_reason)
                             .where(Event.id == row_id)).one()
    db.session.rollback()
    assert tuple(row) == ("#1001", "USD", "kept whole" * 3)


@pytest.mark.parametrize(("account", "token", "status", "configured", "paused"), [
    ("549755885175", "stored", ConnectionStatus.OK, True, False),
    (None, "stored", ConnectionStatus.UNKNOWN, False, False),
    ("549755885175", None, ConnectionStatus.UNKNOWN, False, False),
    ("549755885175", "stored", ConnectionStatus.REJECTED, True, True),
    ("549755885175", "stored", ConnectionStatus.UNREADABLE, True, True),
])
def test_settings_are_configured_with_both_credentials_and_paused_by_a_refusal(
        account: str | None, token: str | None, status: ConnectionStatus, configured: bool, paused: bool) -> None:
    settings = PinterestSettings(ad_account_id=account, access_token_enc=token, connection_status=status)
    assert (settings.configured, settings.paused) == (configured, paused)
