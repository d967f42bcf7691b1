"""The Shop row: a domain as the merchant types it, and the row made on first sight."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.models import PinterestSettings, Shop, db
from app.shops import find_shop, get_or_create_shop, normalise_shop_domain


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
