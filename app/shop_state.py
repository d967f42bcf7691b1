"""A shop's delivery state: ok, backing off or paused, and its recent record with Pinterest.

Two rows hold it: the shop's `PinterestSettings` (connection status, the failure streak, backoff) decide
whether the worker sends; its `ShopDeliveryState` (last success, the current failure's class, message and
start) tells the merchant's page honestly whether orders are reaching Pinterest. The failure streak is
stored once, `PinterestSettings.failure_streak`; a run of failures is under way while the state row names
its class. This module is the only writer of
both: the worker, the connection check and a save of new credentials call in here. Every write is one
guarded UPDATE with atomic counters, inside the caller's write transaction, so concurrent workers never
lose a count.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import bindparam, case, func, null, or_, update
from sqlalchemy.exc import IntegrityError

from app.database import writing
from app.models import ConnectionStatus, PinterestSettings, ShopDeliveryState, db
from app.pinterest import AdAccountRefused, PinterestError, TokenRejected, Unavailable
from app.statements import built, upsert_insert
from app.vocabulary import FailureClass

MAX_MESSAGE_CHARS = 500
MAX_CONNECTION_MESSAGE_CHARS = 1000
PAUSED = (ConnectionStatus.REJECTED, ConnectionStatus.UNREADABLE)


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
            db.session.add(ShopDeliveryState(shop_id=shop_id))
    except IntegrityError:
        pass


def record_failure(shop_id: int, failure: FailureClass, message: str, now: datetime) -> None:
    """One more failed request for this shop: its class and message; the run's start is kept.

    The streak itself is counted by the backoff that follows (`back_off`). Inside the caller's transaction.
    """
    _ensure_row(shop_id)
    table = ShopDeliveryState
    db.session.execute(
        update(table).where(table.shop_id == shop_id)
        .values(failure_class=failure.value,
                failure_message=message[:MAX_MESSAGE_CHARS], last_failure_at=now,
                failing_since=func.coalesce(table.failing_since, now))
        .execution_options(synchronize_session=False)
    )


def record_success(shop_id: int, now: datetime, *, delivered: bool = True) -> None:
    """Pinterest answered a batch of this shop's orders: the failure run and the backoff are over.

    `delivered` is False when Pinterest answered but processed none of the batch's events (each one
    refused on its own): Pinterest is reachable, yet no order got through.

    Recorded after every batch the worker sends, so its two statements are built once (`built`): one
    guarded UPDATE of the settings, which matches only while there is something to end, and one upsert of
    the state row, which creates it on the shop's first success.
    """
    conn = db.session.connection()
    conn.execute(built(_end_failures), {"shop": shop_id, "ok": ConnectionStatus.OK.value, "now": now})
    conn.execute(built(_succeeded if delivered else _answered), {"shop_id": shop_id, "now": now})


def _end_failures(_dialect: Any) -> Any:
    """An unknown connection becomes ok, and a failure streak ends with its backoff (each SET reads the old row)."""
    table = PinterestSettings.__table__
    unknown = table.c.connection_status == ConnectionStatus.UNKNOWN.value
    failing = table.c.failure_streak > 0
    return (
        update(table).where(table.c.shop_id == bindparam("shop"), or_(unknown, failing))
        .values(connection_status=case((unknown, bindparam("ok")), else_=table.c.connection_status),
                connection_message=case((unknown, null()), else_=table.c.connection_message),
                connection_checked_at=case((unknown, bindparam("now", type_=table.c.connection_checked_at.type)),
                                           else_=table.c.connection_checked_at),
                failure_streak=0,
                backoff_until=case((failing, null()), else_=table.c.backoff_until))
    )


def _state_upsert(dialect: Any, *, delivered: bool) -> Any:
    """The shop's state row without a failure; with `delivered`, its last success moved to now (never back:
    an older batch's answer may be recorded after a newer one's)."""
    table = ShopDeliveryState.__table__
    statement = upsert_insert(table, dialect).values(
        shop_id=bindparam("shop_id"),
        last_success_at=bindparam("now", type_=table.c.last_success_at.type) if delivered else null())
    cleared: dict[str, Any] = {"failure_class": null(), "failure_message": null(), "failing_since": null()}
    if delivered:
        newer = statement.excluded.last_success_at
        cleared["last_success_at"] = case(
            (or_(table.c.last_success_at.is_(None), table.c.last_success_at < newer), newer),
            else_=table.c.last_success_at)
    return statement.on_conflict_do_update(index_elements=[table.c.shop_id], set_=cleared)


def _succeeded(dialect: Any) -> Any:
    return _state_upsert(dialect, delivered=True)


def _answered(dialect: Any) -> Any:
    return _state_upsert(dialect, delivered=False)


def record_credentials_ok(shop_id: int, now: datetime) -> None:
    """A test event went through: the credentials work, which also lifts a pause from an earlier rejection."""
    _settings_update(shop_id, connection_status=ConnectionStatus.OK.value, connection_message=None,
                     connection_checked_at=now)
    table = ShopDeliveryState
    db.session.execute(
        update(table).where(table.shop_id == shop_id, table.failure_class.in_([c.value for c in PAUSING]))
        .values(failure_class=None, failure_message=None, failing_since=None)
        .execution_options(synchronize_session=False)
    )


# -- whether the worker sends: the shop's PinterestSettings row ---------------------------------------------
def _settings_update(shop_id: int, *guards: Any, **values: Any) -> int:
    """One guarded UPDATE of the shop's settings row; returns whether it matched.

    `fetch` keeps a settings object the caller holds in sync, so a page answering after the write shows it.
    """
    result = db.session.execute(
        update(PinterestSettings).where(PinterestSettings.shop_id == shop_id, *guards).values(**values)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def back_off(shop_id: int, until: datetime) -> None:
    """One more failure in a row: the whole shop waits until `until`, so new orders don't each probe Pinterest."""
    _settings_update(shop_id, failure_streak=PinterestSettings.failure_streak + 1, backoff_until=until)


def lift_backoff(shop_id: int, *, reset_streak: bool = False) -> None:
    """Let the shop send at once; `reset_streak` also forgets the failures so far (see outbox.requeue)."""
    values: dict[str, Any] = {"backoff_until": None}
    if reset_streak:
        values["failure_streak"] = 0
    _settings_update(shop_id, **values)


def pause(shop_id: int, status: ConnectionStatus, message: str, now: datetime, *,
          seen_update: datetime | None) -> bool:
    """Stop sending for the shop until its credentials are saved again; False if they already were.

    `seen_update` is the `credentials_updated_at` of the credentials that failed: a merchant who saved new
    ones meanwhile must not find them paused for the old ones' fault.
    """
    if status not in PAUSED:
        raise ValueError(f"{status} does not pause a shop")
    stamp = PinterestSettings.credentials_updated_at
    guard = stamp.is_(None) if seen_update is None else stamp == seen_update
    return bool(_settings_update(shop_id, guard, connection_status=status.value,
                                 connection_message=message[:MAX_CONNECTION_MESSAGE_CHARS],
                                 connection_checked_at=now))


def record_checked(shop_id: int, now: datetime) -> None:
    """The connection was checked and the answer changes nothing (Pinterest unavailable, a refused request)."""
    _settings_update(shop_id, connection_checked_at=now)


def credentials_saved(shop_id: int) -> None:
    """New credentials: nothing is known about them yet, and no rejection, backoff or streak of the old ones holds."""
    _settings_update(shop_id, connection_status=ConnectionStatus.UNKNOWN.value, connection_message=None,
                     backoff_until=None, failure_streak=0)


# -- the merchant's record: ShopDeliveryState -----------------------------------------------------------------
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
