"""Hostile input to the JSON API and the embedded pages: always a 4xx, never a 500, nothing changed."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.models import PinterestSettings, db
from app.shops import get_or_create_shop
from tests.conftest import SHOP
from tests.jwt_helpers import bearer, use_session_secrets

ADMIN_ONLY = "frame-ancestors https://admin.shopify.com;"


@pytest.fixture(autouse=True)
def _secrets(app: Flask) -> None:
    use_session_secrets(app)


@pytest.fixture
def saved(client: FlaskClient) -> None:
    response = client.put("/api/settings", json={"ad_account_id": "549755885175"}, headers=bearer())
    assert response.status_code == 200


def _ad_account() -> str | None:
    db.session.rollback()
    settings: PinterestSettings | None = get_or_create_shop(SHOP).settings
    db.session.rollback()
    return settings.ad_account_id if settings else None


# -- /api bodies and parameters ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,                          # nesting that overflows the JSON parser
        b'{"ad_account_id": ' + b"1" * 5000 + b"}",  # an integer past Python's digit limit
        b"{not json",
        b"\xff\xfe",
    ],
)
def test_unreadable_settings_bodies_are_400(client: FlaskClient, saved: None, body: bytes) -> None:
    response = client.put("/api/settings", data=body, headers={**bearer(), "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_json"
    assert _ad_account() == "549755885175"


def test_deeply_nested_retry_body_is_400(client: FlaskClient) -> None:
    response = client.post("/api/events/retry", data=b"{" * 50_000, headers=bearer())
    assert response.status_code == 400


@pytest.mark.parametrize(
    "query",
    [
        "limit=²",          # str.isdigit() is true, int() refuses it
        "limit=٣",          # Arabic-Indic three: a digit to Python, not to us
        "limit=" + "9" * 5000,
        "limit=-1",
        "limit=%00",
    ],
)
def test_odd_numbers_in_the_query_are_field_errors(client: FlaskClient, query: str) -> None:
    response = client.get(f"/api/events?{query}", headers=bearer())
    assert response.status_code == 422
    assert "limit" in response.get_json()["errors"]


def test_a_30_mib_body_is_refused_without_being_read(client: FlaskClient, saved: None) -> None:
    class CountingStream(io.BytesIO):
        read_bytes = 0

        def read(self, size: int | None = -1) -> bytes:
            chunk = super().read(size)
            CountingStream.read_bytes += len(chunk)
            return chunk

    size = 30 * 1024 * 1024
    stream = CountingStream(b"{" + b" " * (size - 2) + b"}")
    response = client.put("/api/settings", input_stream=stream, content_length=size,
                          headers={**bearer(), "Content-Type": "application/json"})
    assert response.status_code == 413
    assert CountingStream.read_bytes < 2 * 1024 * 1024
    assert _ad_account() == "549755885175"


# -- frame policy -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("shop", "policy"),
    [
        ("evil.example", ADMIN_ONLY),
        ("demo-store.myshopify.com; script-src *", ADMIN_ONLY),
        ("demo-store.myshopify.com https://evil.example", ADMIN_ONLY),
        ("https://evil.example/", ADMIN_ONLY),
        ("", ADMIN_ONLY),
        ("Demo-Store.myshopify.com", "frame-ancestors https://demo-store.myshopify.com https://admin.shopify.com;"),
        ("demo-store", "frame-ancestors https://demo-store.myshopify.com https://admin.shopify.com;"),
    ],
)
def test_patch_id_token_policy_names_only_a_validated_shop(client: FlaskClient, shop: str, policy: str) -> None:
    response = client.get("/auth/patch-id-token", query_string={"shop": shop, "shopify-reload": "/"})
    assert response.headers["Content-Security-Policy"] == policy
    assert response.status_code in (200, 400)


@pytest.mark.parametrize("shop", ["demo-store.myshopify.com\r\nSet-Cookie: a=b", "demo\nstore", "x\x00"])
def test_control_characters_in_the_query_are_400(client: FlaskClient, shop: str) -> None:
    response = client.get("/auth/patch-id-token", query_string={"shop": shop, "shopify-reload": "/"})
    assert response.status_code == 400
    assert response.headers["Content-Security-Policy"] == ADMIN_ONLY
    assert "Set-Cookie" not in response.headers


def test_control_characters_on_the_home_page_never_500(client: FlaskClient) -> None:
    response = client.get("/", query_string={"shop": "demo-store.myshopify.com\r\nX-Evil: 1", "id_token": "x"})
    assert response.status_code < 500
    assert "X-Evil" not in response.headers


@pytest.mark.parametrize(("method", "path", "status"), [("GET", "/no-such-page", 404), ("DELETE", "/healthz", 405),
                                                        ("GET", "/api/nothing-here", 404)])
def test_error_pages_carry_the_frame_policy(client: FlaskClient, method: str, path: str, status: int) -> None:
    response = client.open(path, method=method)
    assert response.status_code == status
    assert response.headers["Content-Security-Policy"] == ADMIN_ONLY
    assert response.is_json


def test_405_keeps_its_allow_header(client: FlaskClient) -> None:
    response = client.open("/healthz", method="DELETE")
    assert "GET" in response.headers["Allow"]
