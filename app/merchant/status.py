"""The page's status line and setup guide: what the merchant needs to know now, from the shop's facts.

`health` reads the facts (settings, delivery state, waiting orders, the worker's heartbeat), `decide`
turns them into one sending state with its sentence, and `combine` puts it together with the other problems
`problems.gather` found: the worst one is the status, the rest are listed under it. Both are pure and
tested as tables.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, or_, select

from app import shop_state
from app.crypto import UNREADABLE_TOKEN_MESSAGE
from app.mapping.timing import PINTEREST_MAX_EVENT_AGE
from app.merchant import explain, problems
from app.merchant.stats import iso
from app.models import ConnectionStatus, Event, EventStatus, PinterestSettings, Shop, WorkerHeartbeat, db
from app.vocabulary import PURCHASE_SOURCES, EventSource, FailureClass

STUCK_AFTER = 120  # seconds an order may sit past its send time before the page stops saying "working"
FAILING_AFTER = 60  # seconds of continuous Pinterest failures before the page says "delayed"
HEARTBEAT_STALE = 120  # seconds without a worker heartbeat before sending is called stopped
EXPIRY_WARNING = 24 * 3600  # seconds before expiry the page starts warning
WAITING = (EventStatus.PENDING, EventStatus.SENDING)


def _waiting_facts(shop_id: int, now: datetime, max_age: int) -> dict[str, Any]:
    """Orders still to be sent: how many, since when, how many are overdue, how many expire soon."""
    purchase = (Event.shop_id == shop_id, Event.status.in_(WAITING), Event.source.in_(PURCHASE_SOURCES))
    count, oldest = db.session.execute(select(func.count(), func.min(Event.received_at)).where(*purchase)).one()
    overdue = db.session.scalar(select(func.count()).where(
        *purchase, Event.available_at <= now - timedelta(seconds=STUCK_AFTER)))
    warn_from = now - timedelta(seconds=max(0, max_age - EXPIRY_WARNING))
    # Pinterest's own window counts from the order's date: an order received late expires sooner.
    window_from = now - timedelta(seconds=max(0, PINTEREST_MAX_EVENT_AGE - EXPIRY_WARNING))
    expiring, first, first_dated = db.session.execute(
        select(func.count(), func.min(Event.received_at), func.min(Event.occurred_at)).where(
            *purchase, or_(Event.received_at <= warn_from, Event.occurred_at <= window_from))).one()
    ends = [when for when in (first + timedelta(seconds=max_age) if first else None,
                              first_dated + timedelta(seconds=PINTEREST_MAX_EVENT_AGE) if first_dated else None)
            if when is not None]
    return {"waiting": int(count or 0), "oldest_waiting_at": oldest, "overdue": int(overdue or 0),
            "max_age": max_age, "first_expiry": min(ends) if ends else None,
            "expiring": {"count": int(expiring or 0), "at": iso(min(ends)) if expiring and ends else None}}


def _heartbeat(now: datetime) -> datetime | None:
    return db.session.scalar(select(func.max(WorkerHeartbeat.last_seen_at)))


def health(settings: PinterestSettings | None, shop_id: int, now: datetime,
           max_age: int | None = None, *, shop: Shop | None = None) -> dict[str, Any]:
    """The status, computed from what happened: a state, a sentence, the next step, the numbers, and (given
    the shop) every other problem, the worst of which the status names when sending itself is fine."""
    max_age = max_age or int(current_app.config["EVENT_MAX_AGE_SECONDS"])
    facts = _waiting_facts(shop_id, now, max_age)
    state = shop_state.get(shop_id)
    facts["zone"] = shop_state.zone(state)
    base = {"waiting": facts["waiting"], "oldest_waiting_at": iso(facts["oldest_waiting_at"]),
            "expiring": facts["expiring"], "max_age_hours": max_age // 3600,
            "last_success_at": iso(state.last_success_at if state else None),
            "failure_class": state.failure_class if state else None,
            "failing_since": iso(state.failing_since if state else None),
            "pinterest_message": None, "action": None}
    primary = decide(settings, state, facts, _heartbeat(now), now)
    found = problems.gather(shop, now, facts["zone"], facts, primary["state"]) if shop is not None else []
    return {**base, **combine(primary, found)}


def combine(primary: dict[str, Any], found: list[dict[str, Any]]) -> dict[str, Any]:
    """One status: the sending state when it needs the merchant, else the worst other problem; the rest
    listed under it. "Working" is said only when nothing needs the merchant (pure)."""
    named = [p for p in found if not p.get("listed_only")]
    if primary["state"] in ("working", "waiting") and named:
        worst = named[0]
        rest = [p for p in found if p is not worst]
        return {**primary, "state": "attention", "reason": worst["key"], "tone": worst["tone"],
                "heading": worst["heading"], "message": worst["message"], "action": worst.get("action"),
                "days": worst.get("days"), "withheld": worst.get("withheld"), "problems": rest}
    return {**primary, "problems": found}


def _held(facts: dict[str, Any]) -> str:
    n = facts["waiting"]
    return f"{n} order{'s' if n != 1 else ''}"


def _kept(facts: dict[str, Any]) -> str:
    """How long held orders are kept, when the oldest expires (in the shop's zone) and how many expire soon."""
    oldest, max_age = facts.get("oldest_waiting_at"), facts.get("max_age")
    if not facts["waiting"] or oldest is None or not max_age:
        return ""
    at = explain.local_time(oldest + timedelta(seconds=max_age), facts.get("zone") or UTC)
    soon = facts["expiring"]["count"]
    tail = (f", and {soon} order{'s' if soon != 1 else ''} will expire within a day unless sending resumes."
            if soon else ".")
    return f" Held orders are kept {max_age // 3600} hours: the oldest expires {at}{tail}"


def decide(settings: PinterestSettings | None, state: Any, facts: dict[str, Any],
           heartbeat: datetime | None, now: datetime) -> dict[str, Any]:
    """Pick the one state the merchant must know about first (pure over the facts passed in)."""
    waiting = facts["waiting"]
    if settings is None or not settings.configured:
        return {"state": "not_configured", "heading": "Connect Pinterest to start",
                "message": "Add your Pinterest ad account id and conversion access token. Orders are "
                           "recorded meanwhile" + (f": {_held(facts)} will be sent once you connect."
                                                   if waiting else "."),
                "action": {"label": "Connect Pinterest", "target": "ad_account_id"}}
    failure = state.failure_class if state else None
    if settings.connection_status == ConnectionStatus.UNREADABLE:
        kept = (f"{_held(facts)} are waiting and will be sent once you save it." if waiting
                else "New orders will wait and be sent once you save it.")
        return {"state": "paused", "reason": "unreadable", "heading": "Sending paused",
                "message": f"{settings.connection_message or UNREADABLE_TOKEN_MESSAGE} {kept}{_kept(facts)}",
                "action": {"label": "Paste the token again", "target": "access_token"}}
    if settings.paused:
        reason = failure if failure in shop_state.PAUSING else FailureClass.TOKEN
        kept = (f"{_held(facts)} are waiting and will be sent once this is fixed." if waiting
                else "New orders will wait and be sent once this is fixed.")
        sentence, _ = explain.FAILURE_TEXT[reason]
        if reason == FailureClass.AD_ACCOUNT:
            sentence = (f"Your access token works, but Pinterest doesn't allow it to send conversions for ad "
                        f"account {settings.ad_account_id}. This usually means the ad account id is wrong.")
        target = "access_token" if reason == FailureClass.TOKEN else "ad_account_id"
        label = "Update access token" if reason == FailureClass.TOKEN else "Check ad account id"
        return {"state": "paused", "reason": reason, "heading": "Sending paused",
                "message": f"{sentence} {kept}{_kept(facts)}",
                "pinterest_message": settings.connection_message or (state.failure_message if state else None),
                "action": {"label": label, "target": target}}
    if not settings.enabled:
        held = (f"{_held(facts)} received while off are held and will be sent when you turn it back on."
                if waiting else "Orders received while off are held and sent when you turn it back on.")
        return {"state": "disabled", "heading": "Sending is off",
                "message": f"Pinbridge is not sending orders to Pinterest. {held}{_kept(facts)}",
                "action": {"label": "Turn sending on", "target": "enabled"}}
    failing = (state is not None and failure is not None and failure not in shop_state.PAUSING
               and state.failing_since is not None
               and (now - state.failing_since).total_seconds() >= FAILING_AFTER)
    stalled = facts["overdue"] > 0
    if failing or stalled:
        if failing:
            sentence, step = explain.FAILURE_TEXT.get(failure or FailureClass.PINTEREST,
                                                      explain.FAILURE_TEXT[FailureClass.PINTEREST])
            since = state.failing_since
        else:
            beat_ok = heartbeat is not None and (now - heartbeat).total_seconds() < HEARTBEAT_STALE
            sentence = ("Sending is running late on Pinbridge's side." if beat_ok
                        else "Pinbridge's sending service isn't running right now.")
            step = "Nothing to do: orders are kept and will be sent once it catches up."
            since = facts["oldest_waiting_at"]
        verb = "is" if waiting == 1 else "are"
        wait = (f"{_held(facts)} {verb} waiting and will be sent automatically." if waiting
                else "New orders will wait and be sent automatically.")
        return {"state": "delayed", "heading": "Sending delayed", "since": iso(since),
                "message": f"{sentence} {wait}", "next_step": None if failing else step,
                "pinterest_message": state.failure_message if failing and state else None}
    if state is not None and state.last_success_at is not None:
        return {"state": "working", "heading": "Working",
                "message": "Orders are reaching Pinterest." + (
                    f" {_held(facts)} about to be sent." if waiting else "")}
    if settings.connection_status == ConnectionStatus.OK:
        return {"state": "working", "heading": "Connected",
                "message": "Pinterest accepted your settings. Orders are sent as soon as they come in."}
    return {"state": "waiting", "heading": "Check your connection",
            "message": "Send a test event to check that Pinterest accepts your ad account id and token.",
            "action": {"label": "Send test event", "target": "verify"}}


def setup_steps(shop: Shop, settings: PinterestSettings | None) -> dict[str, Any]:
    """The setup guide. One rule for every step: it is done when its own evidence exists and the steps it
    builds on are done, so a token Pinterest refuses un-ticks the connection, the test and the first order
    together. The pixel is optional: it never blocks completion."""
    shop_id = shop.id
    refused = bool(settings is not None and settings.paused)
    connected = bool(settings is not None and settings.configured) and not refused
    delivered = bool(db.session.scalar(select(func.count()).where(
        Event.shop_id == shop_id, Event.source.in_(PURCHASE_SOURCES),
        Event.status == EventStatus.DELIVERED.value, Event.test.is_(False))))
    if not delivered:
        state = shop_state.get(shop_id)
        delivered = state is not None and state.last_success_at is not None
    # Pinterest accepting the credentials is the test's evidence, whether a test event or an order showed it.
    accepted = settings is not None and settings.connection_status == ConnectionStatus.OK
    tested = connected and (delivered or accepted or bool(db.session.scalar(select(func.count()).where(
        Event.shop_id == shop_id, Event.source == EventSource.VERIFY, Event.status == EventStatus.DELIVERED))))
    return {"connected": connected, "test_event": tested, "first_order": connected and delivered,
            "pixel": shop.pixel_seen_at is not None, "refused": refused,
            "required": ["connected", "test_event", "first_order"], "optional": ["pixel"],
            "dismissed": shop.setup_dismissed_at is not None}
