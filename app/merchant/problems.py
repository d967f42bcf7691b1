"""What needs the merchant besides sending itself: failed orders, orders Shopify never sent, missing customer
details, an out-of-date pixel, orders about to expire, no Admin API access. Each with its count and one step.

`gather` reads the facts; each problem is a plain dict (`key`, `tone`, `heading`, `message`, `count`,
`action`), listed worst first in `RANK` order. `status.combine` picks the one the status line names.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import func, select

from app.merchant import customer_details, explain, stats
from app.models import Event, EventStatus, Shop, db
from app.shopify import recovery
from app.shopify.daily import day_span
from app.vocabulary import ActionSource, EventSource

FAILED_WINDOW = timedelta(days=1)
DETAILS_WINDOW = timedelta(days=7)  # recent online orders that tell whether Shopify sends customer details
PIXEL_WINDOW = timedelta(days=1)  # a pixel pasted again stops counting as out of date within a day
RANK = ("failed", "missing", "customer_details", "pixel", "expiring", "admin_api")
PROTECTED_DATA_GUIDE = "https://shopify.dev/docs/apps/launch/protected-customer-data"


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def gather(shop: Shop, now: datetime, zone: tzinfo, facts: dict[str, Any], state: str) -> list[dict[str, Any]]:
    """Every current problem other than the sending state itself, worst first."""
    found = [
        failed_recently(shop.id, now),
        missing_orders(shop, now, zone),
        missing_customer_details(shop.id, now),
        pixel_out_of_date(shop, now),
        None if state in ("paused", "disabled", "not_configured") else expiring(facts, zone),
        admin_api(shop),
    ]
    return sorted((p for p in found if p is not None), key=lambda p: RANK.index(p["key"]))


def failed_recently(shop_id: int, now: datetime) -> dict[str, Any] | None:
    """Orders that failed for good in the last day (refused by Pinterest or too old to send)."""
    total, expired = (int(n or 0) for n in db.session.execute(
        select(func.count(), func.count().filter(Event.error_code == "expired"))
        .where(Event.shop_id == shop_id, Event.status == EventStatus.FAILED.value,
               Event.source.in_(stats.PURCHASE_SOURCES), Event.updated_at >= now - FAILED_WINDOW)).one())
    refused = total - expired
    if not total:
        return None
    parts = []
    if refused:
        parts.append(f"Pinterest refused {_plural(refused, 'order')}")
    if expired:
        parts.append(f"{_plural(expired, 'order')} couldn't be sent in time")
    return {"key": "failed", "tone": "critical", "count": total,
            "heading": f"{_plural(total, 'order')} failed in the last day",
            "message": " and ".join(parts) + ". Each failed order below says why and what to do.",
            "action": {"label": "Show failed orders", "target": "failed-orders"}}


def missing_orders(shop: Shop, now: datetime, zone: tzinfo) -> dict[str, Any] | None:
    """Days Shopify has orders for that never reached Pinbridge, and which of them can still be recovered."""
    rows = stats.daily(shop.id, recovery.SHOWN_DAYS, now, zone)
    stats.add_shopify_counts(shop.id, rows, now, zone)
    gaps = [r for r in rows if r.get("missing")]
    if not gaps:
        return None
    runs = {r["day"]: r for r in recovery.recent(shop.id, now)}
    open_days, checked, recoverable = [], [], []
    for gap in gaps:
        run = runs.get(gap["day"])
        if run and run["status"] in recovery.OPEN:
            open_days.append(gap)
        elif run and run["status"] == recovery.DONE and not run["found"]:
            checked.append(gap)  # Shopify was read again for this day and had nothing more to send
        elif _recoverable(date.fromisoformat(gap["day"]), zone, now):
            recoverable.append(gap)
    count = sum(g["missing"] for g in open_days + recoverable)
    if not count:
        return None
    which = "that day's" if len(recoverable) == 1 else "those days'"
    names = [explain.local_day(date.fromisoformat(g["day"])) for g in open_days + recoverable]
    days = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    heading = f"Shopify has {_plural(count, 'order')} Pinbridge never received"
    if open_days and not recoverable:
        return {"key": "missing", "tone": "info", "count": count, "heading": heading, "action": None,
                "message": f"Pinbridge is reading your orders for {days} from Shopify and will send the "
                           "missing ones to Pinterest."}
    return {"key": "missing", "tone": "warning", "count": count, "heading": heading,
            "days": [g["day"] for g in recoverable],
            "message": f"On {days}, Shopify didn't send {'this order' if count == 1 else 'these orders'} to "
                       "Pinbridge, so Pinterest doesn't know about "
                       f"{'it' if count == 1 else 'them'}. Pinbridge can read "
                       f"{which} orders from Shopify and send "
                       "the missing ones.",
            "action": {"label": "Recover missing orders", "target": "recover"}}


def _recoverable(day: date, zone: tzinfo, now: datetime) -> bool:
    try:
        recovery.recoverable_span(day, zone, now)
    except recovery.NotRecoverable:
        return False
    return day_span(day, zone)[0] <= now


def missing_customer_details(shop_id: int, now: datetime) -> dict[str, Any] | None:
    """Shopify leaving email, phone or address out of recent online orders (protected customer data)."""
    rows = db.session.execute(
        select(Event.match_keys, func.count())
        .where(Event.shop_id == shop_id, Event.action_source == ActionSource.WEB,
               Event.source.in_((EventSource.ORDER, EventSource.CHECKOUT)),
               Event.received_at >= now - DETAILS_WINDOW)
        .group_by(Event.match_keys)).all()
    recent = customer_details.RecentWebOrders.from_match_keys((keys, int(n)) for keys, n in rows)
    verdict = customer_details.decide(recent)
    if not verdict.warn:
        return None
    what = {"email": "emails", "address": "addresses"}.get(verdict.withheld[0]) if len(verdict.withheld) == 1 \
        else "customer details"
    return {"key": "customer_details", "tone": "warning", "count": recent.orders,
            "heading": f"Shopify isn't sending {what} with your orders", "message": verdict.message,
            "withheld": list(verdict.withheld),
            "action": {"label": "Shopify's guide to customer data access", "url": PROTECTED_DATA_GUIDE}}


def pixel_out_of_date(shop: Shop, now: datetime) -> dict[str, Any] | None:
    """The Tag fired with another order reference than Pinbridge's: Pinterest may count those twice.

    With no Tag id saved the page has no code to paste again, and its pixel card names the missing Tag id:
    so does this problem, never an out-of-date pixel.
    """
    different = int(db.session.scalar(select(func.count()).where(
        Event.shop_id == shop.id, Event.tag_matched.is_(False), Event.received_at >= now - PIXEL_WINDOW)) or 0)
    if not different:
        return None
    twice = (f"{_plural(different, 'purchase')}, so Pinterest may count {'it' if different == 1 else 'them'} "
             "twice.")
    if not (shop.settings and shop.settings.tag_id):
        return {"key": "pixel", "tone": "warning", "count": different,
                "heading": "No Pinterest Tag id saved",
                "message": "In the last day a Pinterest Tag fired with a different order reference than Pinbridge "
                           f"for {twice} Save your Pinterest Tag id, then copy Pinbridge's code into Settings → "
                           "Customer events.",
                "action": {"label": "Save your Tag id", "target": "pixel"}}
    return {"key": "pixel", "tone": "warning", "count": different,
            "heading": "Your Pinterest Tag pixel is out of date",
            "message": f"In the last day the Tag used a different order reference than Pinbridge for {twice} "
                       "Copy the code below again and replace your custom pixel in Shopify with it.",
            "action": {"label": "Show the pixel code", "target": "pixel"}}


def expiring(facts: dict[str, Any], zone: tzinfo) -> dict[str, Any] | None:
    """Waiting orders within a day of the time Pinterest stops accepting them."""
    soon = facts["expiring"]
    if not soon["count"] or not facts.get("first_expiry"):
        return None
    at = explain.local_time(facts["first_expiry"], zone)
    return {"key": "expiring", "tone": "warning", "count": soon["count"],
            "heading": f"{_plural(soon['count'], 'waiting order')} will expire soon",
            "message": f"The first expires {at}: Pinbridge keeps trying an order for "
                       f"{facts['max_age'] // 3600} hours after it arrives, then Pinterest won't accept it.",
            "action": None}


def admin_api(shop: Shop) -> dict[str, Any] | None:
    """No Admin API token: orders Shopify never sent can't be found."""
    if shop.shopify_token_enc:
        return None
    # Listed, never the status itself: sending works without it.
    return {"key": "admin_api", "tone": "info", "count": None, "listed_only": True,
            "heading": "Pinbridge can't read your orders in Shopify yet",
            "message": "Orders still reach Pinterest as Shopify sends them. Finding orders Shopify never sent "
                       "needs this connection.",
            "action": {"label": "Reload to connect", "target": "reload"}}
