"""The "Counted once" card: how many recent web purchases the Tag reported with the server's id."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from app.models import Event, EventStatus, PixelBeacon, Shop, db
from app.vocabulary import ActionSource, EventSource

SUMMARY_DAYS = 14


def summary(shop: Shop, now: datetime) -> dict[str, Any]:
    """How many recent web purchases the Tag reported with the server's id, in numbers and plain words."""
    since = now - timedelta(days=SUMMARY_DAYS)
    row = db.session.execute(
        select(
            func.count(),
            func.count().filter(Event.tag_matched.is_(True)),
            func.count().filter(Event.tag_matched.is_(False)),
            func.count().filter(Event.match_keys.like("%click_id%")),
        ).where(Event.shop_id == shop.id, Event.action_source == ActionSource.WEB, Event.source != EventSource.VERIFY,
                Event.status != EventStatus.SKIPPED, Event.received_at >= since)
    ).one()
    purchases, same, different, clicks = (int(value or 0) for value in row)
    last = db.session.scalar(select(func.max(PixelBeacon.received_at)).where(PixelBeacon.shop_id == shop.id))
    last = last or shop.pixel_seen_at
    return {
        "reported": shop.pixel_seen_at is not None,
        "last_reported_at": last.isoformat() if last else None,
        "window_days": SUMMARY_DAYS,
        "purchases": purchases,
        "tag_same_id": same,
        "tag_different_id": different,
        "with_click_id": clicks,
        "headline": (f"Counted once: the Tag reported {same} of {purchases} "
                     f"{'purchase' if purchases == 1 else 'purchases'} in the last {SUMMARY_DAYS} days "
                     "with the same id"),
        "advice": _advice(shop, purchases, same, different),
    }


def _advice(shop: Shop, purchases: int, same: int, different: int) -> str:
    settings = shop.settings
    if settings is None or not settings.tag_id:
        return "Add your Pinterest Tag id in settings, then paste the pixel into Settings → Customer events."
    if shop.pixel_seen_at is None:
        return ("The pixel has not reported a purchase yet. Paste it into Settings → Customer events, save, "
                "select Connect, then place a test order.")
    if different:
        return (f"The Tag used a different id for {different} of {purchases} purchases, so Pinterest may count "
                "them twice. Paste the pixel again so it matches your current settings, and remove any other "
                "Pinterest Tag checkout code from your theme.")
    if purchases and same < purchases:
        return ("Some purchases were not reported by the Tag: buyers who refused cookies or left before the "
                "thank-you page. Pinbridge sent them from the server, so they are counted once.")
    return "The Tag and Pinbridge use the same id for every purchase, so Pinterest counts each one once."
