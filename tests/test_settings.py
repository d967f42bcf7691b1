"""A shop's Pinterest settings: the validation table, what saving does, and what the API may show."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flask import Flask

from app.mapping import MappingOptions
from app.models import db, now_utc
from app.settings import apply_settings, mapping_options, settings_view, validate_settings
from app.shops import get_or_create_shop
from tests.conftest import ENCRYPTION_KEY, SHOP, stored_settings

AD_ACCOUNT_ERROR = "Enter the ad account id: digits 0-9 only, at most 18."
TOKEN_MISSING = "Paste the conversion access token from Pinterest Ads Manager."
TOKEN_ODD = "That does not look like a Pinterest access token."
TAG_ERROR = "Enter the Pinterest Tag id: digits 0-9 only, as shown in Ads Manager → Conversions."
FLAG_ERROR = "Use true or false."


@pytest.mark.parametrize(("data", "clean"), [
    ({"ad_account_id": "549755885175"}, {"ad_account_id": "549755885175"}),
    ({"ad_account_id": 549755885175}, {"ad_account_id": "549755885175"}),       # a number, as JSON may send it
    ({"ad_account_id": " 549755885175 "}, {"ad_account_id": "549755885175"}),   # pasted with spaces
    ({"ad_account_id": "1" * 18}, {"ad_account_id": "1" * 18}),
    ({"access_token": " pina_abc "}, {"access_token": "pina_abc"}),
    ({"access_token": "p" * 2048}, {"access_token": "p" * 2048}),
    ({"tag_id": "2612345678901"}, {"tag_id": "2612345678901"}),
    ({"tag_id": ""}, {"tag_id": None}),                                          # cleared
    ({"test_mode": True, "enabled": False}, {"test_mode": True, "enabled": False}),
    ({"event_id_source": "order_id"}, {"event_id_source": "order_id"}),
    ({"send_pos": "web"}, {"send_pos": "web"}),
    ({"include_offline_orders": True},                                           # the older switch
     {"include_offline_orders": True, "send_pos": "offline", "send_draft": "offline"}),
    ({"include_offline_orders": False, "send_draft": "web"},                     # an explicit choice wins
     {"include_offline_orders": False, "send_pos": "skip", "send_draft": "web"}),
    ({}, {}),
])
def test_valid_settings(data: dict[str, Any], clean: dict[str, Any]) -> None:
    assert validate_settings(data) == (clean, {})


@pytest.mark.parametrize(("data", "errors"), [
    ({"ad_account_id": "act_123"}, {"ad_account_id": AD_ACCOUNT_ERROR}),
    ({"ad_account_id": "1" * 19}, {"ad_account_id": AD_ACCOUNT_ERROR}),
    ({"ad_account_id": True}, {"ad_account_id": AD_ACCOUNT_ERROR}),             # a bool is not a number here
    ({"ad_account_id": None}, {"ad_account_id": AD_ACCOUNT_ERROR}),
    ({"access_token": "   "}, {"access_token": TOKEN_MISSING}),
    ({"access_token": 12345}, {"access_token": TOKEN_MISSING}),
    ({"access_token": "pina abc"}, {"access_token": TOKEN_ODD}),                # two words pasted
    ({"access_token": "p" * 2049}, {"access_token": TOKEN_ODD}),
    ({"tag_id": "tag-1"}, {"tag_id": TAG_ERROR}),
    ({"tag_id": False}, {"tag_id": TAG_ERROR}),
    ({"enabled": "yes"}, {"enabled": FLAG_ERROR}),
    ({"enabled": 1}, {"enabled": FLAG_ERROR}),
    ({"value_mode": "gross"}, {"value_mode": "Choose one of: subtotal, total."}),
    ({"send_subscription": "WEB"}, {"send_subscription": "Choose one of: web, offline, skip."}),
    ({"colour": "red"}, {"colour": "Unknown setting."}),
    ({"ad_account_id": "549755885175", "enabled": "no"}, {"enabled": FLAG_ERROR}),  # nothing half-applied
])
def test_invalid_settings_name_each_field_and_clean_nothing(data: dict[str, Any], errors: dict[str, str]) -> None:
    assert validate_settings(data) == ({}, errors)


@pytest.mark.parametrize("data", [None, [], "enabled", 3])
def test_a_body_that_is_not_an_object(data: Any) -> None:
    assert validate_settings(data) == ({}, {"_": "Send a JSON object of settings."})


def _save(**data: Any) -> None:
    clean, errors = validate_settings(data)
    assert not errors
    apply_settings(get_or_create_shop(SHOP), clean)
    db.session.commit()


def test_the_token_is_stored_encrypted_and_shown_only_by_its_last_four(app: Flask) -> None:
    _save(ad_account_id="549755885175", access_token="pina_test_token_0001")
    settings = stored_settings()
    assert settings.access_token_enc and "pina_test_token_0001" not in settings.access_token_enc
    assert Fernet(ENCRYPTION_KEY.encode()).decrypt(settings.access_token_enc.encode()) == b"pina_test_token_0001"
    view = settings_view(settings)
    assert (view["has_access_token"], view["access_token_last4"], view["configured"]) == (True, "0001", True)
    assert "pina_test_token_0001" not in repr(view) and "access_token_enc" not in view


def test_new_credentials_clear_a_rejection_and_the_backoff(app: Flask) -> None:
    _save(ad_account_id="549755885175", access_token="pina_test_token_0001")
    settings = stored_settings()
    first_saved = settings.credentials_updated_at
    settings.connection_status, settings.connection_message = "rejected", "Authentication failed."
    settings.failure_streak, settings.backoff_until = 4, now_utc() + timedelta(hours=1)
    db.session.commit()

    _save(enabled=True)  # not a credential: the rejection stands
    assert (stored_settings().connection_status, stored_settings().failure_streak) == ("rejected", 4)

    _save(access_token="pina_test_token_0002")
    settings = stored_settings()
    assert (settings.connection_status, settings.connection_message) == ("unknown", None)
    assert (settings.failure_streak, settings.backoff_until) == (0, None)
    assert first_saved is not None and settings.credentials_updated_at is not None
    assert settings.credentials_updated_at >= first_saved


def test_the_same_ad_account_again_is_not_a_change(app: Flask) -> None:
    _save(ad_account_id="549755885175", access_token="pina_test_token_0001")
    stamp = stored_settings().credentials_updated_at
    _save(ad_account_id="549755885175")
    assert stored_settings().credentials_updated_at == stamp
    _save(ad_account_id="549755885176")
    assert stored_settings().credentials_updated_at != stamp


def test_mapping_options_follow_the_saved_choices(app: Flask) -> None:
    assert mapping_options(None) == MappingOptions()
    _save(event_id_source="order_id", value_mode="total", currency_mode="presentment", send_pos="offline",
          limited_data_processing=True)
    options = mapping_options(stored_settings())
    assert (options.event_id_source, options.value_mode, options.currency_mode, options.send_pos,
            options.limited_data_processing) == ("order_id", "total", "presentment", "offline", True)
