"""The embedded page in a real headless Chromium, served by a real server, talking to the Pinterest stand-in.

App Bridge and Polaris are fetched from Shopify's CDN in production; here their URLs are intercepted and
answered with small stand-ins (tests/standins/app_bridge.js, polaris.js). Screenshots go to
test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from app.models import Event, db, now_utc
from app.settings import get_or_create_shop
from tests.conftest import SHOP
from tests.jwt_helpers import ShopifyTokenEndpoint, session_token, use_session_secrets
from tests.standins.pinterest import PinterestStandin

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists() and os.environ.get("CI") != "true":
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
STANDINS = Path(__file__).resolve().parent / "standins"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run",
                 # The stand-in admin page is "public" (https://admin.shopify.com) and frames the loopback
                 # server; Chromium's local-network-access checks would block that.
                 "--disable-features=LocalNetworkAccessChecks"]
TOKEN = "pina_fake_conversion_token_7f3a"


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    use_session_secrets(app)
    endpoint = ShopifyTokenEndpoint()
    app.config["SHOPIFY_HTTP_CLIENT"] = endpoint.client()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()
    app.config["SHOPIFY_HTTP_CLIENT"].close()


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        tab = context.new_page()
        _stand_in_cdn(tab)
        yield tab
        context.close()
        browser.close()


def _stand_in_cdn(tab: Page) -> None:
    token = session_token(exp_in=900)
    bridge = (STANDINS / "app_bridge.js").read_text().replace("__SESSION_TOKEN__", token)
    polaris = (STANDINS / "polaris.js").read_text()

    def serve(body: str) -> Any:
        return lambda route: route.fulfill(status=200, content_type="text/javascript", body=body)

    tab.route("https://cdn.shopify.com/shopifycloud/app-bridge.js", serve(bridge))
    tab.route("https://cdn.shopify.com/shopifycloud/polaris.js", serve(polaris))
    tab.route("https://s.pinimg.com/**", lambda route: route.abort())


def _seed_history(shop_domain: str = SHOP) -> None:
    """Fourteen days of made-up orders: mostly delivered, a few failed or skipped."""
    shop = get_or_create_shop(shop_domain)
    now = now_utc()
    per_day = [3, 5, 2, 6, 4, 7, 5, 3, 8, 6, 4, 5, 7, 4]
    keys = ["em ph ip_ua address", "em ip_ua click_id", "em ph address", "ip_ua", "em ph ip_ua click_id address"]
    number = 1000
    for back, count in enumerate(reversed(per_day)):
        for i in range(count):
            number += 1
            received = now - timedelta(days=back, hours=i + 1)
            failed = back in (3, 9) and i == 0
            skipped = back == 6 and i == 1
            db.session.add(Event(
                shop_id=shop.id, event_id=f"Z2NwLXVzLWVhc3QxOjAxSkZBS0V{number}", source="order",
                order_id=str(5_912_345_678_900_000 + number), order_name=f"#{number}", value="45.00",
                currency="USD", match_keys=None if skipped else keys[number % len(keys)],
                status="failed" if failed else "skipped" if skipped else "delivered",
                error_message="Invalid parameter: custom_data.contents[0].item_price." if failed else None,
                skip_reason="no email or browser IP/user agent to match the buyer" if skipped else None,
                received_at=received, available_at=received,
                delivered_at=None if failed or skipped else received + timedelta(seconds=35 + i * 7),
            ))
    db.session.commit()


def _open(page: Page, base_url: str, name: str | None = None) -> None:
    page.goto(f"{base_url}/?embedded=1&shop={SHOP}&host=YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZGVtby1zdG9yZQ"
              f"&id_token={session_token()}")
    expect(page.locator("body[data-ready=true]")).to_have_count(1)
    if name:
        _shot(page, name)


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for frame in page.frames:  # toasts belong to the admin, not the page: keep them out of the picture
        frame.evaluate("() => document.getElementById('standin-toasts')?.remove()")
    page.wait_for_timeout(200)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _settings() -> Any:
    db.session.rollback()
    return get_or_create_shop(SHOP).settings


def test_merchant_configures_and_checks_the_connection(
    live_server: str, page: Page, pinterest: PinterestStandin, database_url: str
) -> None:
    _seed_history()
    _open(page, live_server, "home-not-configured")
    expect(page.locator("#status-banner")).to_have_attribute("data-state", "not_configured")
    expect(page.locator("#chart svg rect.pb-bar")).to_have_count(14 * 3)

    # A bad ad account id is refused field by field and nothing is saved.
    page.locator("s-text-field[name=ad_account_id] input").fill("12ab")
    page.locator("#save-button").click()
    expect(page.locator("s-text-field[name=ad_account_id]")).to_have_attribute(
        "error", "Enter the ad account id: digits only, at most 18.")
    assert _settings().ad_account_id is None

    page.locator("s-text-field[name=ad_account_id] input").fill("549755885175")
    page.locator("s-password-field[name=access_token] input").fill(TOKEN)
    page.locator("#save-button").click()
    expect(page.locator("s-password-field[name=access_token]")).to_have_attribute("placeholder", "•••• 7f3a")
    assert _settings().ad_account_id == "549755885175" and _settings().token_last4 == "7f3a"
    assert page.locator("s-password-field[name=access_token] input").input_value() == ""

    page.locator("#test-button").click()
    expect(page.locator("#verify-result")).to_have_text("Pinterest accepted the test event.")
    sent = pinterest.wait_for_requests(1)
    assert sent[0].test and sent[0].token == TOKEN and sent[0].ad_account_id == "549755885175"
    assert pinterest.violations == []
    expect(page.locator("#status-banner")).to_have_attribute("data-state", "working")
    first_row = page.locator("#events s-table-row").first
    expect(first_row).to_contain_text("Test event")
    expect(first_row).to_contain_text("Delivered")
    page.locator("#event-filter select").select_option("failed")
    expect(page.locator("#events s-table-row")).to_have_count(2)
    expect(page.locator("#events s-table-row").first).to_contain_text("item_price")
    page.locator("#event-filter select").select_option("")
    expect(page.locator("#coverage .pb-coverage-row[data-key=em] .pb-coverage-value")).not_to_have_text("—")

    # Switches and choices save as they change.
    page.locator("s-switch[name=test_mode] input").check()
    expect(page.locator("text=Saved").first).to_be_visible()
    page.locator("s-select[name=event_id_source] select").select_option("checkout_token")
    expect(page.locator("#snippet-advice")).to_contain_text("checkout token")
    page.wait_for_function("() => window.__toasts.length >= 3")
    settings = _settings()
    assert settings.test_mode is True and settings.event_id_source == "checkout_token"
    _shot(page, "home-working")


def test_pixel_snippet_fires_the_tag_with_the_server_event_id(
    live_server: str, page: Page, configure_shop: Any
) -> None:
    configure_shop(event_id_source="checkout_token")
    _open(page, live_server)
    page.locator("s-text-field[name=tag_id] input").fill("2613654212508")
    code = page.locator("#snippet").text_content() or ""
    assert 'pintrk("load", "2613654212508")' in code
    queue = page.evaluate(
        """(code) => {
            const subscribers = {};
            const analytics = { subscribe: (name, fn) => { subscribers[name] = fn; } };
            const init = { data: { cart: null } };
            new Function("analytics", "init", code)(analytics, init);
            subscribers.checkout_completed({ data: { checkout: {
                token: "c1f0a2b3c4d5e6f708192a3b4c5d6e7f", currencyCode: "USD",
                subtotalPrice: { amount: 90 }, totalPrice: { amount: 104.5 },
                order: { id: "gid://shopify/Order/5912345678901235" }, lineItems: [{ quantity: 2 }, { quantity: 1 }],
            } } });
            return window.pintrk.queue;
        }""",
        code,
    )
    track = next(args for args in queue if args[0] == "track")
    assert track[1] == "checkout"
    assert track[2]["event_id"] == "c1f0a2b3c4d5e6f708192a3b4c5d6e7f"
    assert track[2]["value"] == 90 and track[2]["order_quantity"] == 3
    assert track[2]["order_id"] == "5912345678901235"


def test_page_inside_a_stand_in_admin_frame(live_server: str, page: Page, configure_shop: Any,
                                            pinterest: PinterestStandin) -> None:
    """The page embedded the way the admin embeds it; the frame-ancestors policy lets the admin frame it."""
    configure_shop()
    _seed_history()
    pinterest.reject_token("pina_test_token_0001", status=401, message="Authentication failed.")
    src = (f"{live_server}/?embedded=1&shop={SHOP}&host=YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZGVtby1zdG9yZQ"
           f"&id_token={session_token()}")
    admin = (ROOT / "tests" / "standins" / "admin_frame.html").read_text().replace("__APP_URL__", src)
    page.route("https://admin.shopify.com/store/demo-store/apps/pinbridge",
               lambda route: route.fulfill(status=200, content_type="text/html", body=admin))
    page.goto("https://admin.shopify.com/store/demo-store/apps/pinbridge")
    frame = page.frame_locator("iframe#app")
    expect(frame.locator("body[data-ready=true]")).to_have_count(1)
    frame.locator("#test-button").click()
    expect(frame.locator("#verify-result")).to_contain_text("Pinterest rejected the token: Authentication failed.")
    expect(frame.locator("#status-banner")).to_have_attribute("data-state", "paused")
    assert _settings().paused
    frame.locator("body").evaluate("() => window.scrollTo(0, 0)")
    _shot(page, "admin-frame-rejected")
