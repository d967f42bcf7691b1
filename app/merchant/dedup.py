"""The "Counted once" card: of the recent purchases the pixel reported, how many carried the server's id.

What Pinbridge can know is what reached it: the pixel's message (the beacon) for a checkout, saying which
id the Tag fired with. Whether Pinterest received the Tag's event, and what it made of it, Pinbridge never
sees, so the card speaks of what arrived. Only the first beacon for a checkout is stored (app/ingest/beacon.py),
so a later one, forged or not, cannot change a purchase's count.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import request
from sqlalchemy import func, select

from app.merchant import pixel
from app.models import Event, EventStatus, PixelBeacon, Shop, db
from app.vocabulary import ActionSource, EventSource

SUMMARY_DAYS = 14
GOOD_SHARE = 0.95  # at least this share of reported purchases with the server's id: success tone


def summary(shop: Shop, now: datetime) -> dict[str, Any]:
    """The card in numbers and plain words, with its tone ("success" or "warning")."""
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
    settings = shop.settings
    tag_id = settings.tag_id if settings else None
    reported = same + different  # purchases whose beacon said which id the Tag fired with
    share = same / reported if reported else None
    outdated = pasted_pixel_outdated(shop)
    good = bool(tag_id) and share is not None and share >= GOOD_SHARE and not outdated
    headline, advice = _words(shop, tag_id, purchases, reported, same, share, outdated)
    return {
        "reported": shop.pixel_seen_at is not None,
        "last_reported_at": last.isoformat() if last else None,
        "window_days": SUMMARY_DAYS,
        "purchases": purchases,
        "tag_reported": reported,
        "tag_same_id": same,
        "tag_different_id": different,
        "share": None if share is None else round(share, 4),
        "with_click_id": clicks,
        "tag_id_saved": bool(tag_id),
        "pixel_outdated": outdated,
        "tone": "success" if good else "warning",
        "headline": headline,
        "advice": advice,
    }


def pasted_pixel_outdated(shop: Shop) -> bool:
    """Whether the custom pixel the beacons report was made from other settings than the shop's now.

    Never without a Tag id saved: the page then offers no code to paste again, and says the Tag id is missing.
    """
    settings = shop.settings
    if not shop.pixel_version or settings is None or not settings.tag_id:
        return False
    return shop.pixel_version != pixel.version(settings.event_id_source, settings.value_mode, tag_id=settings.tag_id)


def _percent(share: float) -> str:
    return f"{int(share * 100)}%"  # rounded down: 94.9% never reads as 95%


def _words(shop: Shop, tag_id: str | None, purchases: int, reported: int, same: int, share: float | None,
           outdated: bool) -> tuple[str, str]:
    days = f"in the last {SUMMARY_DAYS} days"
    if not tag_id:
        return ("No Pinterest Tag id saved",
                "Save your Pinterest Tag id below, then copy the code into Settings → Customer events. Until "
                "then Pinbridge's pixel does not fire the Tag, so nothing here can be counted.")
    if outdated:
        return ("The pasted pixel is out of date",
                "The pixel in Settings → Customer events was made for other settings (Tag id, order reference "
                "or value) than the shop's now, so the Tag and Pinbridge may send different ids or values. "
                "Copy the code below and replace the custom pixel's code with it.")
    if shop.pixel_seen_at is None or reported == 0:
        return ("No purchase reported by the pixel yet",
                "Pinbridge has not received the pixel's message for any purchase " + days + ". Paste the code "
                "into Settings → Customer events, save, select Connect, then place a test order.")
    assert share is not None
    purchases_word = "purchase" if reported == 1 else "purchases"
    saying = ("it says" if same else "it does not say") if reported == 1 else f"{same} of them ({_percent(share)}) say"
    headline = (f"The pixel's message arrived for {reported} {purchases_word} {days}: {saying} "
                "the Tag fired with Pinbridge's id")
    if share >= GOOD_SHARE:
        missing = purchases - reported
        tail = (f" The pixel's message did not arrive for {missing} of {purchases} purchases (buyers who refused "
                "cookies or left before the thank-you page); Pinbridge sent those from the server alone."
                if missing > 0 else "")
        return headline, "Where the message arrived, the Tag and Pinbridge used the same id." + tail
    return (headline,
            f"For {reported - same} of {reported} the Tag fired with another id, so Pinterest may count those "
            "purchases twice. Copy the code below into Settings → Customer events again, and remove any other "
            "Pinterest Tag checkout code (theme, Google Tag Manager, another app) — see \"Other Pinterest "
            "tracking\" below.")


def pixel_view(shop: Shop, now: datetime) -> dict[str, Any]:
    """GET /api/pixel and the page's first render: the code to copy (never with a placeholder) and the card."""
    settings = shop.settings
    tag_id = settings.tag_id if settings else None
    source = settings.event_id_source if settings else "cart_token"
    value_mode = settings.value_mode if settings else "subtotal"
    code = pixel.snippet(source, value_mode, tag_id=tag_id, app_url=request.host_url, shop=shop.domain) \
        if tag_id else None
    return {
        "snippet": code,
        "tag_id": tag_id,
        "version": pixel.version(source, value_mode, tag_id=tag_id),
        "pasted_version": shop.pixel_version,
        "advice_by_source": pixel.ADVICE.get(source, ""),
        **summary(shop, now),
    }
