"""The "Counted once" card: recent web purchases counted by how the Tag reported them, and the advice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from app.merchant import pixel
from app.merchant.dedup import pasted_pixel_outdated, summary
from app.models import db, now_utc
from app.shops import get_or_create_shop
from tests.conftest import SHOP
from tests.event_rows import add_event

NO_TAG = ("Save your Pinterest Tag id below, then copy the code into Settings → Customer events. Until then "
          "Pinbridge's pixel does not fire the Tag, so nothing here can be counted.")
NOT_SEEN = ("Pinbridge has not received the pixel's message for any purchase in the last 14 days. Paste the code "
            "into Settings → Customer events, save, select Connect, then place a test order.")
SOME_MISSING = ("Where the message arrived, the Tag and Pinbridge used the same id. The pixel's message did not "
                "arrive for 1 of 3 purchases (buyers who refused cookies or left before the thank-you page); "
                "Pinbridge sent those from the server alone.")
ALL_SAME = "Where the message arrived, the Tag and Pinbridge used the same id."


def web(shop_id: int, *, tag_matched: bool | None, days_ago: float = 1, **fields: Any) -> None:
    add_event(shop_id, action_source="web", tag_matched=tag_matched,
              received_at=now_utc() - timedelta(days=days_ago), **fields)


@pytest.fixture
def shop(app: Flask, configure_shop: Any) -> Any:
    configure_shop(tag_id="2612345678901")
    shop = get_or_create_shop(SHOP)
    shop.pixel_seen_at = now_utc() - timedelta(days=2)
    db.session.commit()
    return shop


def test_counts_recent_web_purchases_by_how_the_tag_reported_them(shop: Any) -> None:
    web(shop.id, tag_matched=True, match_keys="em click_id")
    web(shop.id, tag_matched=True)
    web(shop.id, tag_matched=None, match_keys="em ip_ua click_id")       # the Tag never reported it
    web(shop.id, tag_matched=True, days_ago=15)                          # older than the window
    web(shop.id, tag_matched=None, status="skipped")                     # not sent: not counted
    web(shop.id, tag_matched=None, source="verify")                      # the connection check's test event
    add_event(shop.id, action_source="offline", tag_matched=None)        # not a web purchase
    db.session.commit()
    card = summary(shop, now_utc())
    assert {k: card[k] for k in ("reported", "window_days", "purchases", "tag_same_id", "tag_different_id",
                                 "with_click_id")} == {
        "reported": True, "window_days": 14, "purchases": 3, "tag_same_id": 2, "tag_different_id": 0,
        "with_click_id": 2}
    assert card["headline"] == ("The pixel's message arrived for 2 purchases in the last 14 days: 2 of them (100%) say "
                               "the Tag fired with Pinbridge's id")
    assert card["advice"] == SOME_MISSING


def test_one_purchase_is_said_in_the_singular(shop: Any) -> None:
    web(shop.id, tag_matched=True)
    db.session.commit()
    card = summary(shop, now_utc())
    assert card["headline"] == ("The pixel's message arrived for 1 purchase in the last 14 days: it says the Tag "
                               "fired with Pinbridge's id")
    assert card["advice"] == ALL_SAME


def test_a_different_id_is_the_advice_that_comes_first(shop: Any) -> None:
    web(shop.id, tag_matched=True)
    web(shop.id, tag_matched=False)
    web(shop.id, tag_matched=None)
    db.session.commit()
    assert summary(shop, now_utc())["advice"] == (
        "For 1 of 2 the Tag fired with another id, so Pinterest may count those purchases twice. Copy the code "
        "below into Settings → Customer events again, and remove any other Pinterest Tag checkout code (theme, "
        "Google Tag Manager, another app) — see \"Other Pinterest tracking\" below.")


def test_before_the_tag_id_or_the_pixel_the_advice_says_what_to_do(app: Flask, configure_shop: Any) -> None:
    configure_shop()
    shop = get_or_create_shop(SHOP)
    card = summary(shop, now_utc())
    assert (card["reported"], card["last_reported_at"], card["purchases"], card["advice"]) == (False, None, 0, NO_TAG)
    configure_shop(tag_id="2612345678901")
    db.session.expire_all()
    assert summary(get_or_create_shop(SHOP), now_utc())["advice"] == NOT_SEEN


def test_with_no_tag_id_saved_no_pasted_pixel_is_out_of_date(app: Flask, configure_shop: Any) -> None:
    """The page offers no code without a Tag id: the card names the missing Tag id, never an out-of-date pixel."""
    configure_shop(tag_id="2612345678901")
    shop = get_or_create_shop(SHOP)
    shop.pixel_version = pixel.version(tag_id="2612345678901")  # pasted while the Tag id was saved
    db.session.commit()
    assert pasted_pixel_outdated(shop) is False
    configure_shop(tag_id="")  # the Tag id removed
    db.session.expire_all()
    shop = get_or_create_shop(SHOP)
    assert shop.settings.tag_id is None
    card = summary(shop, now_utc())
    assert (card["tag_id_saved"], card["pixel_outdated"], card["headline"]) == (
        False, False, "No Pinterest Tag id saved")
    assert pasted_pixel_outdated(shop) is False
