"""Tables: shops, their Pinterest settings, webhook receipts, the event outbox and operational records."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from app.vocabulary import (
    CHECKOUT_TOPICS,
    ORDER_TOPICS,
    PURCHASE_TOPICS,
    ActionSource,
    ConnectionStatus,
    ConsentRule,
    ContentIdSource,
    CurrencyMode,
    EventIdSource,
    EventSource,
    EventStatus,
    FailureClass,
    ReceiptOutcome,
    SendChoice,
    Topic,
    ValueMode,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def now_utc() -> datetime:
    """The one source of timestamps: timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Store UTC timestamps; always hand back timezone-aware datetimes (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


def _values(kind: type[enum.StrEnum]) -> list[str]:
    return [member.value for member in kind]


def enum_column(kind: type[enum.StrEnum], length: int) -> Enum:
    """A VARCHAR(length) column holding one of `kind`'s values (app/vocabulary.py), read back as its member.

    No CHECK constraint and no database enum type: the schema is a plain VARCHAR (no migration), and a value
    outside `kind` is refused when written, so every stored value reads back.
    """
    return Enum(kind, native_enum=False, create_constraint=False, validate_strings=True,
                values_callable=_values, length=length)


class Shop(db.Model):  # type: ignore[name-defined]
    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), unique=True)  # "example.myshopify.com"
    installed: Mapped[bool] = mapped_column(Boolean, default=True)
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    uninstalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Shopify expiring offline token (encrypted) and its refresh token (encrypted).
    shopify_token_enc: Mapped[str | None] = mapped_column(Text)
    shopify_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    shopify_refresh_token_enc: Mapped[str | None] = mapped_column(Text)
    shopify_refresh_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    shopify_scope: Mapped[str | None] = mapped_column(String(255))
    token_exchange_error: Mapped[str | None] = mapped_column(Text)
    last_reconciled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the storefront pixel first reported a purchase: from then on web orders wait for its beacon.
    pixel_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the merchant dismissed the setup guide on the page (remembered for every staff member).
    setup_dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The version of the custom pixel the merchant pasted, as its beacons last reported it (app/merchant/pixel.py).
    pixel_version: Mapped[str | None] = mapped_column(String(16))
    # Pinbridge's app pixel in this shop (app/shopify/web_pixel.py): its id, the settings last given to
    # Shopify (JSON), when Shopify last answered, and Shopify's refusal in plain words (None: it worked).
    web_pixel_id: Mapped[str | None] = mapped_column(String(255))
    web_pixel_settings: Mapped[str | None] = mapped_column(Text)
    web_pixel_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    web_pixel_error: Mapped[str | None] = mapped_column(Text)

    settings: Mapped[PinterestSettings | None] = relationship(
        back_populates="shop", uselist=False, cascade="all, delete-orphan"
    )

    @property
    def handle(self) -> str:
        return self.domain.removesuffix(".myshopify.com")


class PinterestSettings(db.Model):  # type: ignore[name-defined]
    __tablename__ = "pinterest_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), unique=True)
    ad_account_id: Mapped[str | None] = mapped_column(String(18))
    access_token_enc: Mapped[str | None] = mapped_column(Text)
    token_last4: Mapped[str | None] = mapped_column(String(4))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    test_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    event_id_source: Mapped[EventIdSource] = mapped_column(
        enum_column(EventIdSource, 20), default=EventIdSource.CART_TOKEN)
    content_id_source: Mapped[ContentIdSource] = mapped_column(
        enum_column(ContentIdSource, 20), default=ContentIdSource.PRODUCT_ID)
    value_mode: Mapped[ValueMode] = mapped_column(enum_column(ValueMode, 20), default=ValueMode.SUBTOTAL)
    # New shops: the buyer's currency, the only money the Tag sees, so both report the same value (docs/pixel.md).
    # Shops created before keep what they had (the column's stored value; no server default changes it).
    currency_mode: Mapped[CurrencyMode] = mapped_column(enum_column(CurrencyMode, 20),
                                                        default=CurrencyMode.PRESENTMENT)
    include_offline_orders: Mapped[bool] = mapped_column(Boolean, default=False)
    limited_data_processing: Mapped[bool] = mapped_column(Boolean, default=False)
    connection_status: Mapped[ConnectionStatus] = mapped_column(
        enum_column(ConnectionStatus, 20), default=ConnectionStatus.UNKNOWN)
    connection_message: Mapped[str | None] = mapped_column(Text)
    connection_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    credentials_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # While Pinterest is unavailable for this account, the whole shop waits (not each event on its own).
    backoff_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The shop's one count of failures in a row (app/shop_state.py): the next backoff is measured by it.
    failure_streak: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    tag_id: Mapped[str | None] = mapped_column(String(20))  # the Pinterest Tag id the pixel loads
    # What the buyer's refusals mean for the server event (see app/beacons.py).
    marketing_refused: Mapped[ConsentRule] = mapped_column(
        enum_column(ConsentRule, 20), default=ConsentRule.SKIP, server_default=ConsentRule.SKIP.value)
    sale_of_data_refused: Mapped[ConsentRule] = mapped_column(
        enum_column(ConsentRule, 20), default=ConsentRule.LIMITED, server_default=ConsentRule.LIMITED.value)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc, onupdate=now_utc)
    # How each order class (app/mapping/order_class.py) is sent.
    send_pos: Mapped[SendChoice] = mapped_column(
        enum_column(SendChoice, 20), default=SendChoice.SKIP, server_default=SendChoice.SKIP.value)
    send_draft: Mapped[SendChoice] = mapped_column(
        enum_column(SendChoice, 20), default=SendChoice.SKIP, server_default=SendChoice.SKIP.value)
    send_subscription: Mapped[SendChoice] = mapped_column(
        enum_column(SendChoice, 20), default=SendChoice.SKIP, server_default=SendChoice.SKIP.value)
    send_other_channels: Mapped[SendChoice] = mapped_column(
        enum_column(SendChoice, 20), default=SendChoice.WEB, server_default=SendChoice.WEB.value)
    # A web order dated long before it arrived (imported, back-dated).
    send_backdated: Mapped[SendChoice] = mapped_column(
        enum_column(SendChoice, 20), default=SendChoice.OFFLINE, server_default=SendChoice.OFFLINE.value)
    # The shop's country (ISO alpha-2, from the Admin API), to read national phone numbers.
    shop_country: Mapped[str | None] = mapped_column(String(2))

    shop: Mapped[Shop] = relationship(back_populates="settings")

    @property
    def configured(self) -> bool:
        return bool(self.ad_account_id and self.access_token_enc)

    @property
    def paused(self) -> bool:
        return self.connection_status in (ConnectionStatus.REJECTED, ConnectionStatus.UNREADABLE)


class WebhookReceipt(db.Model):  # type: ignore[name-defined]
    """One verified webhook delivery: its identity and what Pinbridge did with it."""

    __tablename__ = "webhook_receipts"
    __table_args__ = (
        # The inbox: receipts whose body still waits for the worker. Partial, so it stays as small as the queue.
        Index("ix_webhook_receipts_inbox", "id", postgresql_where=text("body IS NOT NULL"),
              sqlite_where=text("body IS NOT NULL")),
        # Bodies no configured key could open (app/inbox/unreadable.py): rare, so the index is tiny.
        Index("ix_webhook_receipts_held", "id", postgresql_where=text("held_body IS NOT NULL"),
              sqlite_where=text("held_body IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(255), unique=True)
    # No index on the shop or the time: each index is one more page every webhook's commit writes, for
    # a shop's redaction and the retention purge, both rare, which read the table instead.
    shop_domain: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    triggered_at: Mapped[str | None] = mapped_column(String(64))
    api_version: Mapped[str | None] = mapped_column(String(20))
    outcome: Mapped[ReceiptOutcome] = mapped_column(enum_column(ReceiptOutcome, 40))
    detail: Mapped[str | None] = mapped_column(Text)
    event_row_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"))
    # An order or checkout body waiting for the worker: sealed with the app's key (LZ4, then AES-256-GCM:
    # app/crypto.py), set to NULL once mapped (app/inbox/routing.py). Personal data is never stored here
    # in plaintext.
    body: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    # A body no configured key could open, kept sealed until retention; `held_keys` names the key set that
    # tried (app/inbox/unreadable.py).
    held_body: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    held_keys: Mapped[str | None] = mapped_column(String(16))


class Event(db.Model):  # type: ignore[name-defined]
    """The outbox: one Pinterest `checkout` event per purchase, with its delivery state."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("shop_id", "event_id", name="uq_events_shop_id_event_id"),
        Index("ix_events_claim", "status", "available_at"),
        Index("ix_events_shop_status", "shop_id", "status"),
        Index("ix_events_received_at", "received_at"),
        Index("ix_events_shop_checkout_token", "shop_id", "checkout_token"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    event_id: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[EventSource] = mapped_column(enum_column(EventSource, 20))
    order_id: Mapped[str | None] = mapped_column(String(32), index=True)
    order_name: Mapped[str | None] = mapped_column(String(64))
    checkout_token: Mapped[str | None] = mapped_column(String(64))  # joins a checkout to its order
    customer_ref: Mapped[str | None] = mapped_column(String(64), index=True)  # sha256 of customer id
    email_refs: Mapped[str | None] = mapped_column(Text)  # space-separated em hashes, for redaction
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    action_source: Mapped[ActionSource | None] = mapped_column(enum_column(ActionSource, 20))
    value: Mapped[str | None] = mapped_column(String(32))
    currency: Mapped[str | None] = mapped_column(String(3))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the Pinterest event, hashed already
    match_keys: Mapped[str | None] = mapped_column(String(100))  # e.g. "em ph ip_ua address"
    status: Mapped[EventStatus] = mapped_column(enum_column(EventStatus, 20), default=EventStatus.PENDING)
    skip_reason: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(Text)
    warning_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    available_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc, onupdate=now_utc)
    # The event_id the storefront Tag sent for this purchase, as its beacon reported it, and whether it
    # equals ours (None: no beacon joined).
    tag_event_id: Mapped[str | None] = mapped_column(String(255))
    tag_matched: Mapped[bool | None] = mapped_column(Boolean)

    shop: Mapped[Shop] = relationship()


class DataRequest(db.Model):  # type: ignore[name-defined]
    """A `customers/data_request` received from Shopify, shown to the merchant."""

    __tablename__ = "data_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    customer_ref: Mapped[str | None] = mapped_column(String(64))
    orders_requested: Mapped[int] = mapped_column(Integer, default=0)
    events_held: Mapped[int] = mapped_column(Integer, default=0)


class DailyStat(db.Model):  # type: ignore[name-defined]
    """Per-shop daily counts that outlive purged event payloads."""

    __tablename__ = "daily_stats"
    __table_args__ = (UniqueConstraint("shop_id", "day", name="uq_daily_stats_shop_id_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    orders_received: Mapped[int] = mapped_column(Integer, default=0)
    delivered: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    recovered: Mapped[int] = mapped_column(Integer, default=0)


class WorkerHeartbeat(db.Model):  # type: ignore[name-defined]
    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)


class Lock(db.Model):  # type: ignore[name-defined]
    """A named lease used to run one job (e.g. the reconciler) at a time across workers."""

    __tablename__ = "locks"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(100))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())



class PixelBeacon(db.Model):  # type: ignore[name-defined]
    """What the storefront pixel reported at checkout_completed; kept a day, joined by checkout token."""

    __tablename__ = "pixel_beacons"
    __table_args__ = (UniqueConstraint("shop_id", "checkout_token", name="uq_pixel_beacons_shop_id_checkout_token"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    checkout_token: Mapped[str] = mapped_column(String(64))
    tag_event_id: Mapped[str | None] = mapped_column(String(255))
    click_id: Mapped[str | None] = mapped_column(String(512))
    consent_marketing: Mapped[bool | None] = mapped_column(Boolean)
    consent_sale_of_data: Mapped[bool | None] = mapped_column(Boolean)
    user_agent: Mapped[str | None] = mapped_column(String(512))
    ip: Mapped[str | None] = mapped_column(String(45))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc, index=True)


class ShopDeliveryState(db.Model):  # type: ignore[name-defined]
    """What delivery to Pinterest has done lately for one shop; written only by `shop_state`."""

    __tablename__ = "shop_delivery_states"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failure_class: Mapped[FailureClass | None] = mapped_column(enum_column(FailureClass, 20))  # the latest failure's
    failure_message: Mapped[str | None] = mapped_column(Text)  # Pinterest's own words, cut short
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    iana_timezone: Mapped[str | None] = mapped_column(String(64))  # the shop's time zone, when known


class ShopifyDailyOrders(db.Model):  # type: ignore[name-defined]
    """How many orders Shopify has for one whole calendar day of the shop, as reconciliation counted them.

    Only complete days are stored (the day had ended, and its whole span was counted), so a row is never a
    partial count; a later count of the same day replaces it. `timezone` is the shop's zone the day was cut
    in: after the merchant changes it, rows of the old zone are ignored and counted again.
    """

    __tablename__ = "shopify_daily_orders"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    orders: Mapped[int] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64))
    counted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)


class DayRecovery(db.Model):  # type: ignore[name-defined]
    """A merchant's request to look in Shopify for one day's orders that never arrived, and its outcome.

    `status` goes requested → running → done | failed, each step a guarded update in
    app/shopify/recovery.py; the worker runs it, the page shows its progress and result.
    """

    __tablename__ = "day_recoveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="requested")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now_utc)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    seen: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    found: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error_code: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(Text)


__all__ = [
    "DataRequest", "DailyStat", "DayRecovery", "Event", "EventSource", "EventStatus", "ConnectionStatus", "Lock",
    "PinterestSettings", "PixelBeacon", "Shop", "ShopDeliveryState", "ShopifyDailyOrders", "WebhookReceipt",
    "Topic", "WorkerHeartbeat", "db",
    "now_utc", "ORDER_TOPICS", "CHECKOUT_TOPICS", "PURCHASE_TOPICS",
]


class CleanString(TypeDecorator[str]):
    """Text from outside, stored alike on every database: NUL characters removed, cut to the column's length.

    PostgreSQL refuses both (a NUL in text, a value longer than varchar(n)) where SQLite stores them, so a
    hostile or odd webhook would otherwise fail on one database only, as a 500 that loses the delivery.
    """

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return clean_text(value, getattr(self.impl, "length", None))


class CleanText(CleanString):
    impl = Text
    cache_ok = True


def clean_text(value: Any, length: int | None = None) -> Any:
    """`value` without NUL characters and at most `length` characters long; anything not a str as is."""
    if not isinstance(value, str):
        return value
    if "\x00" in value:
        value = value.replace("\x00", "")
    return value[:length] if length else value


def _clean_text_columns(metadata: MetaData) -> None:
    """Give every plain String/Text column the cleaning type (the schema, and so migrations, stay the same)."""
    for table in metadata.tables.values():
        for column in table.columns:
            if type(column.type) is String:
                column.type = CleanString(column.type.length)
            elif type(column.type) is Text:
                column.type = CleanText()


_clean_text_columns(Base.metadata)

