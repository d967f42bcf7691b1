"""Schema migrations that move data, run from the previous head over rows on each database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from app import create_app
from app.models import db
from tests.conftest import BACKENDS, _test_config, new_pg_database

SHOPS = [  # domain, failure_streak, consecutive_failures, failure_class
    ("calm.myshopify.com", 0, 0, None),            # nothing failing
    ("backing-off.myshopify.com", 3, 3, "pinterest"),  # Pinterest down: both counts bumped together
    ("paused.myshopify.com", 0, 1, "token"),       # a rejected token pauses without a backoff
    ("saved-again.myshopify.com", 0, 2, "network"),  # new credentials reset the streak, not the run
]


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables yet, of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrating.db'}"
        return
    with new_pg_database("pinbridge_migrate") as url:
        yield url


@pytest.fixture
def migrating_app(empty_database: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(_test_config(empty_database, tmp_path, "http://127.0.0.1:9/v5"))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def _seed_before_the_merge() -> None:
    with db.engine.begin() as conn:
        for i, (domain, streak, consecutive, failure) in enumerate(SHOPS, start=1):
            conn.execute(text("INSERT INTO shops (id, domain, installed, installed_at) "
                              "VALUES (:id, :domain, :yes, CURRENT_TIMESTAMP)"),
                         {"id": i, "domain": domain, "yes": True})
            conn.execute(text(
                "INSERT INTO pinterest_settings (shop_id, enabled, test_mode, event_id_source, content_id_source, "
                "value_mode, currency_mode, include_offline_orders, limited_data_processing, connection_status, "
                "failure_streak, updated_at) VALUES (:id, :yes, :no, 'cart_token', 'product_id', 'subtotal', "
                "'shop', :no, :no, 'ok', :streak, CURRENT_TIMESTAMP)"),
                {"id": i, "yes": True, "no": False, "streak": streak})
            conn.execute(text(
                "INSERT INTO shop_delivery_states (shop_id, consecutive_failures, failure_class, failure_message, "
                "iana_timezone) VALUES (:id, :consecutive, :failure, :message, 'Europe/Amsterdam')"),
                {"id": i, "consecutive": consecutive, "failure": failure,
                 "message": "Service Unavailable" if failure else None})


def _columns(table: str) -> set[str]:
    return {column["name"] for column in inspect(db.engine).get_columns(table)}


def test_one_failure_streak_keeps_the_backoff_count_and_every_run_under_way(migrating_app: Flask) -> None:
    upgrade(revision="0011")
    _seed_before_the_merge()

    upgrade(revision="0012")

    assert "consecutive_failures" not in _columns("shop_delivery_states")
    with db.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT s.domain, p.failure_streak, d.failure_class, d.failure_message, d.iana_timezone FROM shops s "
            "JOIN pinterest_settings p ON p.shop_id = s.id JOIN shop_delivery_states d ON d.shop_id = s.id "
            "ORDER BY s.id")).all()
    assert [(r.domain, r.failure_streak, r.failure_class) for r in rows] == [
        (domain, streak, failure) for domain, streak, _consecutive, failure in SHOPS]
    assert [r.failure_message for r in rows] == [None, "Service Unavailable", "Service Unavailable",
                                                 "Service Unavailable"]
    assert {r.iana_timezone for r in rows} == {"Europe/Amsterdam"}


def test_downgrading_rebuilds_the_second_count_from_the_streak(migrating_app: Flask) -> None:
    upgrade(revision="0011")
    _seed_before_the_merge()
    upgrade(revision="0012")

    downgrade(revision="0011")

    with db.engine.connect() as conn:
        counts = conn.execute(text(
            "SELECT consecutive_failures FROM shop_delivery_states ORDER BY shop_id")).scalars().all()
    # A run under way counts at least one failure; the streak when the backoff counted more.
    assert counts == [0, 3, 1, 1]
