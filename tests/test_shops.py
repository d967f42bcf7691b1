"""The Shop row: a domain as the merchant types it, the row made on first sight, the pixel seen once."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.database import writing
from app.models import PinterestSettings, Shop, db, now_utc
from app.shops import (
    find_shop,
    get_or_create_shop,
    normalise_shop_domain,
    pixel_seen,
    pixel_seen_after,
    pixel_seen_sqlite,
)


@pytest.mark.parametrize(("typed", "domain"), [
    ("demo-store", "demo-store.myshopify.com"),                       # the handle alone
    ("demo-store.myshopify.com", "demo-store.myshopify.com"),
    ("  Demo-Store.MyShopify.com ", "demo-store.myshopify.com"),
    ("https://demo-store.myshopify.com/", "demo-store.myshopify.com"),
    ("http://demo-store.myshopify.com", "demo-store.myshopify.com"),
    ("shop.example", None),                                           # a custom domain is not the shop's id
    ("demo-store.myshopify.com/admin", None),
    ("-demo.myshopify.com", None),
    ("demo store", None),
    ("evil.example/.myshopify.com", None),
    ("", None),
])
def test_normalise_shop_domain(typed: str, domain: str | None) -> None:
    assert normalise_shop_domain(typed) == domain


def test_a_shop_is_made_once_with_default_settings(app: Flask) -> None:
    assert find_shop("demo-store.myshopify.com") is None
    shop = get_or_create_shop("demo-store.myshopify.com")
    db.session.commit()
    assert shop.installed and shop.installed_at is not None
    assert shop.settings is not None and not shop.settings.configured
    again = get_or_create_shop("demo-store.myshopify.com")
    db.session.commit()
    assert again.id == shop.id
    assert find_shop("demo-store.myshopify.com") is not None
    assert db.session.scalar(select(func.count()).select_from(Shop)) == 1


def test_a_shop_whose_settings_were_removed_gets_them_back(app: Flask) -> None:
    shop = get_or_create_shop("demo-store.myshopify.com")
    db.session.commit()
    db.session.delete(shop.settings)
    db.session.commit()
    db.session.expire_all()
    assert get_or_create_shop("demo-store.myshopify.com").settings is not None
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(PinterestSettings)) == 1


def _seen(*shop_ids: int) -> list[datetime | None]:
    db.session.rollback()
    return [db.session.scalar(select(Shop.pixel_seen_at).where(Shop.id == shop_id)) for shop_id in shop_ids]


def test_pixel_seen_is_set_once_whichever_form_writes_it(app: Flask) -> None:
    """The ORM transition and its SQL forms for the beacon's fast path: set at the first beacon, never moved."""
    earliest, first, later = now_utc() - timedelta(hours=3), now_utc() - timedelta(hours=2), now_utc()
    seen, new, other = (get_or_create_shop(f"{name}.myshopify.com") for name in ("seen", "new", "other"))
    db.session.commit()
    ids = (int(seen.id), int(new.id), int(other.id))
    with writing():
        pixel_seen(ids[0], earliest)
    with writing():
        pixel_seen(ids[0], later)
    assert _seen(*ids) == [earliest, None, None]

    stamp = Shop.__table__.c.pixel_seen_at.type.bind_processor(db.engine.dialect)
    with writing():
        conn = db.session.connection()
        if conn.dialect.name == "postgresql":
            beacons = "(VALUES (%s, %s::timestamptz), (%s, %s::timestamptz), (%s, %s::timestamptz))"
            conn.exec_driver_sql(f"WITH new (shop_id, received_at) AS {beacons}, {pixel_seen_after('new')} "
                                 "SELECT count(*) FROM seen", (ids[0], first, ids[1], later, ids[1], first))
        else:
            conn.exec_driver_sql(pixel_seen_sqlite(2), (stamp(first) if stamp else first, ids[0], ids[1]))
    assert _seen(*ids) == [earliest, first, None]  # the shop seen before keeps its time; the other is untouched
