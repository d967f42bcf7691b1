"""GET /: verification with shopifyapp, the patch-id-token bounce, iframe headers and the page's head."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.models import db
from app.shops import get_or_create_shop
from tests.conftest import API_KEY, SHOP, require_or_skip
from tests.jwt_helpers import ShopifyTokenEndpoint, initial_data, session_token, token_endpoint, use_session_secrets

FRAME_POLICY = f"frame-ancestors https://{SHOP} https://admin.shopify.com;"


@pytest.fixture(autouse=True)
def shopify(app: Flask) -> Iterator[ShopifyTokenEndpoint]:
    use_session_secrets(app)
    yield from token_endpoint(app)


def _get(client: FlaskClient, query: str, **headers: str) -> Any:
    db.session.rollback()
    return client.get("/" + query, headers=headers)


def test_verified_load_renders_the_page_with_iframe_headers(client: FlaskClient) -> None:
    response = _get(client, f"?embedded=1&shop={SHOP}&host=abc&id_token={session_token()}")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == FRAME_POLICY
    assert "app-bridge.js" in response.headers["Link"] and "polaris.js" in response.headers["Link"]
    html = response.get_data(as_text=True)
    meta = html.index(f'<meta name="shopify-api-key" content="{API_KEY}">')
    bridge = html.index('<script src="https://cdn.shopify.com/shopifycloud/app-bridge.js"></script>')
    polaris = html.index('<script src="https://cdn.shopify.com/shopifycloud/polaris.js"></script>')
    assert meta < bridge < polaris < html.index("</head>")
    assert "cdn.jsdelivr" not in html and "unpkg" not in html  # the chart is ours, served with the app


def test_page_never_contains_the_pinterest_token(client: FlaskClient, configure_shop: Any) -> None:
    configure_shop(access_token="pina_very_secret_token_9876")
    response = client.get(f"/settings?shop={SHOP}&id_token={session_token()}")
    html = response.get_data(as_text=True)
    assert "pina_very_secret_token_9876" not in html
    assert "•••• 9876" in html
    assert "pina_very_secret_token_9876" not in _get(client, f"?shop={SHOP}&id_token={session_token()}").get_data(
        as_text=True)
    assert initial_data(response)["settings"]["access_token_last4"] == "9876"


@pytest.mark.parametrize("query", [
    f"?embedded=1&shop={SHOP}&host=abc",                                     # no id_token (e.g. a reload)
    f"?embedded=1&shop={SHOP}&host=abc&id_token={session_token(exp_in=-60)}",  # stale token
    f"?embedded=1&shop={SHOP}&host=abc&id_token=garbage",                    # not a token
])
def test_missing_or_stale_id_token_goes_to_the_patch_page(client: FlaskClient, query: str) -> None:
    response = _get(client, query)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/auth/patch-id-token"
    params = parse_qs(location.query)
    assert params["shop"] == [SHOP] and "id_token" not in params
    assert params["shopify-reload"][0].startswith("/?embedded=1")


def test_patch_page_loads_app_bridge_to_fetch_a_fresh_token(client: FlaskClient) -> None:
    response = client.get(f"/auth/patch-id-token?shop={SHOP}&shopify-reload=%2F%3Fshop%3D{SHOP}")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == FRAME_POLICY
    assert f'data-api-key="{API_KEY}"' in response.get_data(as_text=True)
    assert client.get("/auth/patch-id-token").status_code == 400


def test_wrong_audience_is_refused(client: FlaskClient) -> None:
    response = _get(client, f"?shop={SHOP}&id_token={session_token(aud='another-app')}")
    assert response.status_code == 401
    assert response.headers["Content-Security-Policy"] == FRAME_POLICY


def test_outside_the_admin_the_page_says_where_to_open_it(client: FlaskClient) -> None:
    response = _get(client, "")
    assert response.status_code == 200
    assert "runs inside your Shopify admin" in response.get_data(as_text=True)
    assert response.headers["Content-Security-Policy"] == "frame-ancestors https://admin.shopify.com;"


def test_tls_terminating_proxy_keeps_the_redirect_on_https(client: FlaskClient) -> None:
    response = _get(client, f"?shop={SHOP}", **{"X-Forwarded-Proto": "https"})
    assert response.headers["Location"].startswith("https://localhost/auth/patch-id-token?")


def test_a_verified_load_reinstalls_an_uninstalled_shop(client: FlaskClient) -> None:
    shop = get_or_create_shop(SHOP)
    shop.installed = False
    db.session.commit()
    assert _get(client, f"?shop={SHOP}&id_token={session_token()}").status_code == 200
    db.session.rollback()
    assert get_or_create_shop(SHOP).installed is True


def test_page_offers_the_pixel_only_with_the_saved_tag_id(client: FlaskClient, configure_shop: Any) -> None:
    configure_shop(event_id_source="checkout_token")
    page = _get(client, f"?shop={SHOP}&id_token={session_token()}")
    data = initial_data(page)
    assert data["settings"]["event_id_source"] == "checkout_token"
    # No Tag id saved: no code to copy (never a placeholder), and the card says why nothing is counted.
    assert data["pixel"]["snippet"] is None and data["pixel"]["tone"] == "warning"
    assert data["pixel"]["headline"] == "No Pinterest Tag id saved"
    assert 'name="tag_id"' in page.get_data(as_text=True)  # the one Tag id field, beside the code
    configure_shop(tag_id="2612345678901", value_mode="total")
    data = initial_data(_get(client, f"?shop={SHOP}&id_token={session_token()}"))
    code = data["pixel"]["snippet"]
    assert 'analytics.subscribe("checkout_completed"' in code and "YOUR_PINTEREST_TAG_ID" not in code
    assert '"tagId": "2612345678901"' in code and '"eventIdSource": "checkout_token"' in code
    assert '"valueMode": "total"' in code and f"/pixel?shop={SHOP}" in code
    assert f'"version": "{data["pixel"]["version"]}"' in code
    assert "checkout token" in data["pixel"]["advice_by_source"]


def test_app_config_declares_scopes_topics_and_version() -> None:
    """shopify.app.toml is what Shopify installs from: embedded, read-only scopes, every topic to /webhooks."""
    import tomllib

    from app.config import DEFAULTS, PROJECT_ROOT

    config = tomllib.loads((PROJECT_ROOT / "shopify.app.toml").read_text())
    assert config["embedded"] is True
    assert config["access_scopes"]["scopes"] == "read_orders"
    assert config["webhooks"]["api_version"] == DEFAULTS["SHOPIFY_API_VERSION"]
    subscriptions = config["webhooks"]["subscriptions"]
    assert {s["uri"] for s in subscriptions} == {"/webhooks"}
    topics = {t for s in subscriptions for t in s.get("topics", [])}
    compliance = {t for s in subscriptions for t in s.get("compliance_topics", [])}
    assert topics == {"orders/create", "checkouts/create", "checkouts/update", "app/uninstalled"}
    assert compliance == {"customers/data_request", "customers/redact", "shop/redact"}


def test_settings_page_is_verified_like_home_and_has_a_save_bar(client: FlaskClient) -> None:
    response = client.get(f"/settings?shop={SHOP}&id_token={session_token()}")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == FRAME_POLICY
    html = response.get_data(as_text=True)
    assert '<ui-save-bar id="settings-save-bar">' in html
    assert '<a href="/settings">Settings</a>' in html and '<a href="/" rel="home">Home</a>' in html
    assert 'name="ad_account_id"' in html and 'name="enabled"' in html
    # Every setting the API offers has its field: order classes, what a consent refusal means. The Tag id has
    # one field, on the home page beside the code it fills in.
    assert 'name="tag_id"' not in html
    for name in ("send_pos", "send_draft", "send_subscription", "send_other_channels"):
        assert f'name="{name}"' in html, name
    # The older include_offline_orders switch stays an API shortcut; the page offers only the per-class choices.
    assert 'name="include_offline_orders"' not in html and "Include POS" not in html
    assert client.get(f"/settings?shop={SHOP}").status_code == 302  # no session token: the bounce


def test_home_shows_status_and_numbers_not_the_mapping_options(client: FlaskClient) -> None:
    html = _get(client, f"?shop={SHOP}&id_token={session_token()}").get_data(as_text=True)
    assert 'id="status-banner"' in html and 'id="setup"' in html and 'id="metrics"' in html
    assert 'name="event_id_source"' not in html and 'name="access_token"' not in html


POLARIS = Path(__file__).resolve().parents[2] / "node_modules" / "@shopify" / "polaris-types" / "dist"


def test_only_polaris_elements_and_tones_that_exist() -> None:
    """Every s-* element and every tone/variant the page uses is one @shopify/polaris-types declares."""
    require_or_skip(POLARIS.exists(), "npm packages are not installed (make test installs them)")
    import json
    import re

    from app.config import PROJECT_ROOT

    declared = {d["tagName"] for m in json.loads((POLARIS / "custom-elements.json").read_text())["modules"]
                for d in m.get("declarations", []) if d.get("tagName")}
    types = (POLARIS / "polaris.d.ts").read_text()
    tones = set(re.findall(r"'([a-z-]+)'", re.search(r"type ToneKeyword = ([^;]+);", types).group(1)))
    variants = set(re.findall(r"'([a-z]+)'", re.search(r"variant\?: ('auto' \| 'primary'[^;]+);", types).group(1)))
    sources = "".join((PROJECT_ROOT / d / f).read_text() for d, f in [
        ("templates", "home.html"), ("templates", "settings.html"), ("templates", "_layout.html"),
        ("static", "home.js"), ("static", "settings.js"), ("static", "common.js")])
    used = set(re.findall(r"<(s-[a-z-]+)", sources)) | set(re.findall(r'el\("(s-[a-z-]+)"', sources))
    assert used and used <= declared
    used_tones = set(re.findall(r'tone="([a-z]+)"', sources))
    status_table = sources.split("const STATUS = {")[1].split("};")[0]
    used_tones |= set(re.findall(r'\["(\w+)", "[A-Z][a-z]+"\]', status_table))  # [tone, label]
    used_tones |= set(re.findall(r'\b\w+: "(\w+)"', sources.split("const TONE = {")[1].split("}")[0]))
    assert used_tones and used_tones <= tones, used_tones - tones
    assert set(re.findall(r'setAttribute\("variant", "(\w+)"\)', sources)) <= variants
