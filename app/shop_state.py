"""A shop's delivery state: last success, the current run of Pinterest failures, its class and start.

The worker and the connection check call in here after each answer from Pinterest; the merchant's page
reads the row to say honestly whether orders are reaching Pinterest. Every write is one guarded UPDATE
with atomic counters, inside the caller's write transaction, so concurrent workers never lose a count.
"""

from __future__ import annotations

import enum
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import case, func, literal, update
from sqlalchemy.exc import IntegrityError

from .db_util import writing
from .models import ShopDeliveryState, db
from .pinterest import AdAccountRefused, PinterestError, TokenRejected, Unavailable

MAX_MESSAGE_CHARS = 500


class FailureClass(enum.StrEnum):
    TOKEN = "token"              # 401: the access token is not accepted
    AD_ACCOUNT = "ad_account"    # 403: the token may not send for this ad account
    RATE_LIMITED = "rate_limited"  # 429: Pinterest asks us to slow down
    PINTEREST = "pinterest"      # 5xx or an answer we could not read: Pinterest's side
    NETWORK = "network"          # no answer at all: timeout or connection failure
    REJECTED = "rejected"        # 400/422: the request itself was refused


PAUSING = frozenset({FailureClass.TOKEN, FailureClass.AD_ACCOUNT})


def classify(error: PinterestError) -> FailureClass:
    """Which kind of failure an error from the Pinterest client is (pure)."""
    if isinstance(error, TokenRejected):
        return FailureClass.TOKEN
    if isinstance(error, AdAccountRefused):
        return FailureClass.AD_ACCOUNT
    if isinstance(error, Unavailable):
        if error.status is None:
            return FailureClass.NETWORK
        if error.status == 429:
            return FailureClass.RATE_LIMITED
        return FailureClass.PINTEREST
    if error.status in (401, 403):  # a CredentialsRejected raised without its subclass
        return FailureClass.TOKEN if error.status == 401 else FailureClass.AD_ACCOUNT
    return FailureClass.REJECTED


def _ensure_row(shop_id: int) -> None:
    """Create the shop's row on first use; a concurrent creator wins harmlessly."""
    if db.session.get(ShopDeliveryState, shop_id) is not None:
        return
    try:
        with db.session.begin_nested():
            db.session.add(ShopDeliveryState(shop_id=shop_id, consecutive_failures=0))
    except IntegrityError:
        pass


def record_failure(shop_id: int, failure: FailureClass, message: str, now: datetime) -> None:
    """One more failed request for this shop; the run's start is kept. Inside the caller's transaction."""
    _ensure_row(shop_id)
    table = ShopDeliveryState
    db.session.execute(
        update(table).where(table.shop_id == shop_id)
        .values(consecutive_failures=table.consecutive_failures + 1, failure_class=failure.value,
                failure_message=message[:MAX_MESSAGE_CHARS], last_failure_at=now,
                failing_since=func.coalesce(table.failing_since, now))
        .execution_options(synchronize_session=False)
    )


def record_success(shop_id: int, now: datetime, *, delivered: bool = True) -> None:
    """Pinterest answered a batch of this shop's orders: the failure run is over.

    `delivered` is False when Pinterest answered but processed none of the batch's events (each one
    refused on its own): Pinterest is reachable, yet no order got through.
    """
    _ensure_row(shop_id)
    table = ShopDeliveryState
    values: dict[str, object] = {"consecutive_failures": 0, "failure_class": None, "failure_message": None,
                                 "failing_since": None}
    if delivered:
        # never move backwards when an older batch's answer is recorded after a newer one
        stamp = literal(now, type_=table.__table__.c.last_success_at.type)
        values["last_success_at"] = case((table.last_success_at.is_(None), stamp),
                                         (table.last_success_at < stamp, stamp), else_=table.last_success_at)
    db.session.execute(update(table).where(table.shop_id == shop_id).values(**values)
                       .execution_options(synchronize_session=False))


def record_credentials_ok(shop_id: int) -> None:
    """A test event went through: a token or ad-account failure no longer describes the shop."""
    table = ShopDeliveryState
    db.session.execute(
        update(table).where(table.shop_id == shop_id, table.failure_class.in_([c.value for c in PAUSING]))
        .values(consecutive_failures=0, failure_class=None, failure_message=None, failing_since=None)
        .execution_options(synchronize_session=False)
    )


def set_timezone(shop_id: int, name: str) -> bool:
    """Remember the shop's IANA time zone (from the Admin API) for per-day counts. Commits."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    with writing():
        _ensure_row(shop_id)
        db.session.execute(update(ShopDeliveryState).where(ShopDeliveryState.shop_id == shop_id)
                           .values(iana_timezone=name).execution_options(synchronize_session=False))
    return True


def get(shop_id: int) -> ShopDeliveryState | None:
    return db.session.get(ShopDeliveryState, shop_id)


def zone(state: ShopDeliveryState | None) -> ZoneInfo:
    """The shop's time zone, UTC when unknown."""
    try:
        return ZoneInfo(state.iana_timezone) if state and state.iana_timezone else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
