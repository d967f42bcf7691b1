"""The operator command that configures a shop from the shell, and what never reaches the logs."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from sqlalchemy import select

from app import crypto
from app.delivery import Worker
from app.models import PinterestSettings, Shop, db
from tests.factories import web_order
from tests.standins.pinterest import PinterestStandin


def test_token_is_read_from_stdin_and_stored_encrypted(runner: Any) -> None:
    result = runner.invoke(
        args=["configure-shop", "--shop", "demo-store", "--ad-account-id", "549755885175", "--test-mode", "true"],
        input="pina_cli_token_9876\n",
    )
    assert result.exit_code == 0, result.output
    assert "demo-store.myshopify.com" in result.output
    assert "••••9876" in result.output
    assert "pina_cli_token_9876" not in result.output
    db.session.rollback()
    settings = db.session.scalar(select(PinterestSettings))
    assert settings.shop.domain == "demo-store.myshopify.com"
    assert (settings.ad_account_id, settings.test_mode, settings.token_last4) == ("549755885175", True, "9876")
    assert "pina_cli_token_9876" not in (settings.access_token_enc or "")
    assert crypto.decrypt(settings.access_token_enc or "") == "pina_cli_token_9876"


def test_reconfiguring_without_a_token_keeps_the_old_one(runner: Any) -> None:
    runner.invoke(args=["configure-shop", "--shop", "demo-store", "--ad-account-id", "1"], input="pina_first\n")
    result = runner.invoke(args=["configure-shop", "--shop", "demo-store", "--value-mode", "total"], input="\n")
    assert result.exit_code == 0, result.output
    db.session.rollback()
    settings = db.session.scalar(select(PinterestSettings))
    assert settings.value_mode == "total"
    assert crypto.decrypt(settings.access_token_enc or "") == "pina_first"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shop", "demo-store", "--ad-account-id", "12ab"], "ad_account_id"),   # not digits
        (["--shop", "demo-store", "--ad-account-id", "1" * 19], "ad_account_id"),  # longer than 18
        (["--shop", "not a shop!"], "--shop"),                                     # no such shop domain
    ],
)
def test_invalid_input_saves_nothing(runner: Any, args: list[str], message: str) -> None:
    result = runner.invoke(args=["configure-shop", *args], input="pina_token\n")
    assert result.exit_code != 0
    assert message in result.output
    db.session.rollback()
    assert db.session.scalar(select(Shop)) is None


def test_logs_carry_no_personal_data_or_secrets(
    app: Any, post_webhook: Any, configure_shop: Any, pinterest: PinterestStandin, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    configure_shop(access_token="pina_secret_token_5555")
    order = web_order(email="Secret.Buyer@example.com", phone="+1 555 010 4242")
    post_webhook(order)
    post_webhook(b"not json")
    pinterest.respond_next(503)
    worker = Worker(app)
    db.session.rollback()
    worker.run_once()
    pinterest.reject_token("pina_secret_token_5555", message="Authentication failed.")
    worker.periodic.clear()
    db.session.execute(db.update(PinterestSettings).values(backoff_until=None))
    db.session.commit()
    db.session.execute(db.text("UPDATE events SET available_at = received_at"))
    db.session.commit()
    worker.run_once()
    worker.client.close()
    logged = caplog.text + json.dumps([r.__dict__ for r in caplog.records], default=str)
    for secret in ("secret.buyer@example.com", "Secret.Buyer", "5550104242", "555 010 4242",
                   "pina_secret_token_5555", "Dana", "Portland", "203.0.113.10", "TestAgent"):
        assert secret.lower() not in logged.lower(), secret
    assert "webhook received" in caplog.text
    assert "delivery will retry" in caplog.text
