"""The vocabulary's strings are the database's, the API's and Pinterest's: pinned here as literals.

Columns typed with an enum stay VARCHAR, store the plain value, read back the member and refuse a word
outside their enum; a skipped purchase carries its reason as a code beside the sentence it stores.
"""

from __future__ import annotations

import enum
from typing import Any

import pytest
from sqlalchemy import String, select, text
from sqlalchemy.exc import StatementError

from app.mapping import MappingOptions, map_checkout, map_order
from app.models import Event, PinterestSettings, Shop, WebhookReceipt, db
from app.vocabulary import (
    PURCHASE_SOURCES,
    ActionSource,
    CheckOutcome,
    ConnectionStatus,
    ConsentRule,
    ContentIdSource,
    CurrencyMode,
    ErrorCode,
    EventIdSource,
    EventSource,
    EventStatus,
    FailureClass,
    OrderClass,
    ReceiptOutcome,
    SendChoice,
    SkipReason,
    ValueMode,
)
from tests.event_rows import add_event

WORDS: list[tuple[type[enum.StrEnum], tuple[str, ...]]] = [
    (EventStatus, ("pending", "sending", "delivered", "failed", "skipped")),
    (EventSource, ("order", "checkout", "reconcile", "verify")),
    (ActionSource, ("web", "offline")),                     # Pinterest's action_source (SPEC)
    (OrderClass, ("web", "pos", "draft", "subscription", "other_channels")),
    (SendChoice, ("web", "offline", "skip")),               # the send_* settings, in the API's order
    (ConsentRule, ("skip", "limited", "send")),
    (EventIdSource, ("cart_token", "checkout_token", "order_id")),
    (ContentIdSource, ("product_id", "variant_id", "sku")),
    (ValueMode, ("subtotal", "total")),
    (CurrencyMode, ("shop", "presentment")),
    (ConnectionStatus, ("unknown", "ok", "rejected", "unreadable")),
    (FailureClass, ("token", "ad_account", "rate_limited", "pinterest", "network", "rejected")),
    (ErrorCode, ("failed", "rejected", "expired", "credentials_rejected", "token_unreadable", "unavailable",
                 "not_configured", "internal_error")),
    (CheckOutcome, ("accepted", "not_processed", "rejected_token", "refused_ad_account", "token_unreadable",
                    "refused", "unavailable", "not_configured", "invalid_saved")),
    (ReceiptOutcome, ("accepted", "duplicate", "ignored", "waiting", "checkout_open", "unreadable_body", "queued",
                      "skipped", "replaced_checkout", "already_received", "already_sent", "shop_redacted",
                      "unknown_shop", "uninstalled", "customer_redacted", "data_request_recorded",
                      "shop_installed", "superseded")),
]


@pytest.mark.parametrize(("kind", "values"), WORDS, ids=[kind.__name__ for kind, _ in WORDS])
def test_each_word_is_the_string_stored_and_sent(kind: type[enum.StrEnum], values: tuple[str, ...]) -> None:
    assert tuple(member.value for member in kind) == values


def test_purchases_are_every_source_but_the_connection_test() -> None:
    assert set(PURCHASE_SOURCES) == {"order", "checkout", "reconcile"}


@pytest.mark.parametrize(("column", "length"), [
    (Event.__table__.c.status, 20),
    (Event.__table__.c.source, 20),
    (Event.__table__.c.action_source, 20),
    (WebhookReceipt.__table__.c.outcome, 40),
    (PinterestSettings.__table__.c.send_pos, 20),
    (PinterestSettings.__table__.c.marketing_refused, 20),
    (PinterestSettings.__table__.c.connection_status, 20),
])
def test_typed_columns_stay_varchar_of_their_length(column: Any, length: int) -> None:
    assert isinstance(column.type, String) and column.type.length == length
    assert not column.type.native_enum and not column.type.create_constraint  # no enum type, no CHECK to migrate


def test_a_typed_column_stores_the_plain_value_and_reads_back_the_member(app: Any, configure_shop: Any) -> None:
    shop: Shop = configure_shop()
    row = add_event(shop.id, status="skipped", action_source="offline")
    db.session.commit()
    stored = db.session.execute(text("SELECT status, source, action_source FROM events WHERE id = :id"),
                                {"id": row.id}).one()
    assert tuple(stored) == ("skipped", "order", "offline")
    db.session.expire_all()
    status, source = db.session.execute(select(Event.status, Event.source).where(Event.id == row.id)).one()
    assert status is EventStatus.SKIPPED and source is EventSource.ORDER


def test_a_word_outside_the_vocabulary_is_refused(app: Any, configure_shop: Any) -> None:
    shop: Shop = configure_shop()
    with pytest.raises(StatementError, match="not among the defined enum values"):
        add_event(shop.id, status="lost")
    db.session.rollback()


@pytest.mark.parametrize(("body", "mapper", "reason", "sentence"), [
    ({"token": "ch-1", "completed_at": None}, map_checkout, SkipReason.CHECKOUT_OPEN, "checkout not completed"),
    ([], map_order, SkipReason.NOT_AN_OBJECT, "the webhook body is not a JSON object"),
    ({"id": 1, "source_name": "pos", "processed_at": "2026-11-05T21:54:49Z", "cart_token": "c-1",
      "email": "buyer@example.com"}, map_order, SkipReason.CLASS_SKIPPED,
     "POS order: not sent (send_pos is 'skip'; choose 'web' or 'offline' to send these)"),
])
def test_a_skip_is_a_code_with_its_sentence(body: Any, mapper: Any, reason: SkipReason, sentence: str) -> None:
    mapped = mapper(body, MappingOptions())
    assert mapped.event is None
    assert (mapped.skip, mapped.skip_reason) == (reason, sentence)
