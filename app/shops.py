"""The Shop row: its domain, install and uninstall, Admin API tokens, time zone and pixel state.

Every write to `shops` goes through this module, so a reader finds each of the row's transitions with one
search. The merchant's Pinterest settings are a row of their own, owned by app/settings.py.
"""

from __future__ import annotations

import re

from sqlalchemy.orm import joinedload

from app.models import PinterestSettings, Shop, db, now_utc

SHOP_DOMAIN_RE = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")


SHOP_DOMAIN_RE = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
def normalise_shop_domain(value: str) -> str | None:
    """`example`, `example.myshopify.com` or `https://example.myshopify.com/` → `example.myshopify.com`."""
    value = (value or "").strip().lower()
    value = re.sub(r"^https?://", "", value).rstrip("/")
    if value and "." not in value:
        value += ".myshopify.com"
    return value if SHOP_DOMAIN_RE.match(value) else None


def get_or_create_shop(domain: str) -> Shop:
    """The shop row for a domain, created (with default settings) on first sight."""
    shop = db.session.execute(
        db.select(Shop).options(joinedload(Shop.settings)).filter_by(domain=domain)
    ).scalar_one_or_none()
    if shop is None:
        shop = Shop(domain=domain, installed=True, installed_at=now_utc())
        shop.settings = PinterestSettings()
        db.session.add(shop)
        db.session.flush()
    elif shop.settings is None:
        shop.settings = PinterestSettings()
        db.session.flush()
    return shop


def find_shop(domain: str) -> Shop | None:
    return db.session.execute(db.select(Shop).filter_by(domain=domain)).scalar_one_or_none()


