"""A saved token the configured ENCRYPTION_KEY cannot decrypt: told as such, never sent, never called a rejection."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app import crypto
from app.delivery import Worker
from app.models import Event, db
from app.settings import STORED_INVALID
from tests.conftest import SHOP, stored_settings
from tests.factories import web_order
from tests.jwt_helpers import bearer, use_session_secrets
from tests.standins.pinterest import PinterestStandin
from tests.test_delivery import drain

UNREADABLE = "Pinbridge cannot read the stored token: the encryption key changed. Paste the token again."


def _token_from_a_lost_key() -> None:
    """The token on file was encrypted with a key that is no longer in ENCRYPTION_KEY."""
    settings = stored_settings()
    settings.access_token_enc = crypto.encrypt("pina_test_token_0001", [Fernet.generate_key().decode()])
    db.session.commit()


def test_worker_pauses_the_shop_with_the_true_reason_and_sends_nothing(
    app: Flask, client: FlaskClient, post_webhook: Any, configure_shop: Any, worker: Worker,
    pinterest: PinterestStandin,
) -> None:
    configure_shop()
    order = web_order()
    post_webhook(order)
    _token_from_a_lost_key()

    assert drain(worker) == 1  # claimed, then handed back

    assert pinterest.requests == []
    settings = stored_settings()
    assert (settings.connection_status, settings.connection_message) == ("unreadable", UNREADABLE)
    assert settings.paused
    event = db.session.scalar(select(Event))
    assert (event.status, event.error_code, event.error_message) == ("pending", "token_unreadable", UNREADABLE)
    assert drain(worker) == 0  # paused: not claimed again and again

    use_session_secrets(app)
    health = client.get("/api/status", headers=bearer()).get_json()["health"]
    assert health["state"] == "paused"
    assert health["message"].startswith("Pinbridge cannot read the stored token: the encryption key changed.")
    assert "Pinterest rejected" not in health["message"]

    configure_shop(access_token="pina_test_token_0001")  # the merchant pastes the token again
    assert drain(worker) == 1
    assert pinterest.event_id_counts == {order["cart_token"]: 1}
    assert stored_settings().connection_status == "ok"


def test_check_connection_reports_the_unreadable_token_without_calling_pinterest(
    app: Flask, client: FlaskClient, configure_shop: Any, pinterest: PinterestStandin
) -> None:
    configure_shop()
    _token_from_a_lost_key()
    use_session_secrets(app)

    body = client.post("/api/settings/verify", headers=bearer()).get_json()

    assert body == {**body, "ok": False, "outcome": "token_unreadable", "message": UNREADABLE}
    assert pinterest.requests == []
    assert stored_settings().connection_status == "unreadable"


def test_cli_retry_says_the_token_must_be_saved_again(
    runner: Any, post_webhook: Any, configure_shop: Any, worker: Worker
) -> None:
    configure_shop()
    post_webhook(web_order())
    _token_from_a_lost_key()
    drain(worker)

    result = runner.invoke(args=["events", "retry", "--shop", SHOP, "--status", "pending"])

    assert "none will be sent while delivery is paused until the token is saved again" in result.output


def test_worker_pauses_for_a_saved_token_that_no_longer_validates(
    post_webhook: Any, configure_shop: Any, worker: Worker, pinterest: PinterestStandin,
) -> None:
    configure_shop()
    order = web_order()
    post_webhook(order)
    settings = stored_settings()
    settings.access_token_enc = crypto.encrypt("pina_test\u200btoken")  # saved before tokens were checked
    db.session.commit()

    assert drain(worker) == 1  # claimed, then handed back: no request the client would refuse

    assert pinterest.requests == []
    settings = stored_settings()
    assert (settings.connection_status, settings.connection_message) == (
        "unreadable", STORED_INVALID["access_token"])
    assert db.session.scalar(select(Event.status)) == "pending"
    configure_shop(access_token="pina_test_token_0001")
    assert drain(worker) == 1
    assert pinterest.event_id_counts == {order["cart_token"]: 1}
