"""The embedded page in a real headless Chromium, served by a real server, talking to the Pinterest stand-in.

App Bridge and Polaris are fetched from Shopify's CDN in production; here their URLs are intercepted and
answered with small stand-ins (tests/standins/app_bridge.js, polaris.js). Screenshots go to
test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from app.merchant import home
from app.models import Event, ShopDeliveryState, db, now_utc
from app.shops import get_or_create_shop
from tests.conftest import SHOP, require_or_skip
from tests.factories import web_order
from tests.ingest.test_beacon import beacon_for
from tests.jwt_helpers import SESSION_SECRET, ShopifyTokenEndpoint, session_token, use_session_secrets
from tests.standins.pinterest import PinterestStandin

CHROMIUM = Path("/usr/bin/chromium")
require_or_skip(CHROMIUM.exists(), "chromium is not installed (apt-get install chromium)", module=True)

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
    db.session.merge(ShopDeliveryState(shop_id=shop.id, consecutive_failures=0,
                                       last_success_at=now_utc() - timedelta(minutes=4)))
    now = now_utc()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    per_day = [3, 5, 2, 6, 4, 7, 5, 3, 8, 6, 4, 5, 7, 4]
    keys = ["em ph ip_ua address", "em ip_ua click_id", "em ph address", "ip_ua", "em ph ip_ua click_id address"]
    number = 1000
    for back, count in enumerate(reversed(per_day)):
        for i in range(count):
            number += 1
            # Spread over the part of each UTC day that has passed today, so every order stays on its own day
            # of the 14-day chart whatever the hour the suite runs at.
            received = today - timedelta(days=back) + (now - today) * (i + 1) / (count + 1)
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
                delivered_at=None if failed or skipped else min(received + timedelta(seconds=35 + i * 7), now),
            ))
    db.session.commit()


def _open(page: Page, base_url: str, name: str | None = None, path: str = "/") -> None:
    page.goto(f"{base_url}{path}?embedded=1&shop={SHOP}&host=YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZGVtby1zdG9yZQ"
              f"&id_token={session_token()}")
    expect(page.locator("body[data-ready=true]")).to_have_count(1)
    _axe(page)
    if name:
        _shot(page, name)


AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


def _axe(page: Page) -> None:
    """axe-core inside the page: no serious or critical accessibility finding."""
    if not AXE.exists():
        pytest.fail("axe-core is missing: run make test, which installs node_modules")
    page.add_script_tag(content=AXE.read_text())
    violations = page.evaluate("""async () => (await axe.run(document, { resultTypes: ["violations"] }))
        .violations.filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`)""")
    assert violations == []


def _phone(page: Page, name: str) -> None:
    """The same page at 390 px wide, as on a phone."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(150)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    _axe(page)
    _shot(page, name)
    page.set_viewport_size({"width": 1280, "height": 900})


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for frame in page.frames:  # toasts belong to the admin, not the page: keep them out of the picture
        frame.evaluate("() => document.getElementById('standin-toasts')?.remove()")
    page.wait_for_timeout(200)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _settings() -> Any:
    db.session.rollback()
    return get_or_create_shop(SHOP).settings


def _banner(page: Page) -> Any:
    return page.locator("#status-banner")


def test_first_open_shows_the_setup_guide_and_an_empty_chart(live_server: str, page: Page) -> None:
    _open(page, live_server, "1-first-open")
    expect(_banner(page)).to_have_attribute("data-state", "not_configured")
    expect(_banner(page)).to_have_attribute("heading", "Connect Pinterest to start")
    expect(page.locator("#setup-progress")).to_have_text("0 of 4 steps done")
    expect(page.locator(".pb-step")).to_have_text([
        re.compile("Connect Pinterest"), re.compile("Send a test event"), re.compile("Add the Pinterest Tag pixel"),
        re.compile("First order delivered")])
    expect(page.locator("#setup-test-button")).to_have_attribute("disabled", "")
    expect(page.locator("#chart-note")).to_contain_text("No orders in the last 14 days yet.")
    expect(page.locator("#events")).to_contain_text("No orders yet.")
    _phone(page, "1-first-open-390")
    page.locator("#status-action").click()
    page.wait_for_url(re.compile(r"/settings\?.*#ad_account_id$"))
    expect(page.locator("body[data-ready=true]")).to_have_count(1)


def test_settings_wait_for_a_slow_polaris_before_reading_the_form(live_server: str, page: Page) -> None:
    # A slow CDN: Polaris arrives seconds late. Read before its controls are upgraded (or while a select's
    # options are still arriving), every select and switch would look changed and the save bar would open.
    polaris = (STANDINS / "polaris.js").read_text()

    def slow(route: Any) -> None:
        time.sleep(2.5)
        route.fulfill(status=200, content_type="text/javascript", body=polaris)

    page.route("https://cdn.shopify.com/shopifycloud/polaris.js", slow)
    _open(page, live_server, path="/settings")
    assert page.evaluate("() => window.__saveBar") == []
    expect(page.locator("body[data-dirty=false]")).to_have_count(1)


def test_settings_refuse_invalid_input_and_test_typed_credentials(
    live_server: str, page: Page, pinterest: PinterestStandin
) -> None:
    _open(page, live_server, "2-settings-empty", path="/settings")
    assert page.evaluate("() => window.__saveBar") == []
    page.locator("s-text-field[name=ad_account_id] input").fill("12ab")
    expect(page.locator("#settings-save-bar")).to_have_attribute("data-shown", "")
    page.locator("#save-bar-save").click()
    expect(page.locator("s-text-field[name=ad_account_id]")).to_have_attribute(
        "error", "Enter the ad account id: digits only, at most 18.")
    expect(page.locator("#form-error")).to_be_visible()
    assert _settings().ad_account_id is None
    _shot(page, "3-settings-invalid")

    # Typed but unsaved credentials: the button says it saves first, then tests what was saved.
    page.locator("s-text-field[name=ad_account_id] input").fill("549755885175")
    page.locator("s-password-field[name=access_token] input").fill(TOKEN)
    expect(page.locator("#test-button")).to_have_text("Save and send test event")
    page.locator("#test-button").dblclick()  # a double click sends one test event, not two
    expect(page.locator("#verify-text")).to_have_text("Pinterest accepted the test event.")
    expect(page.locator("#settings-save-bar")).not_to_have_attribute("data-shown", "")
    sent = pinterest.wait_for_requests(1)
    page.wait_for_timeout(300)
    assert len(pinterest.requests) == 1
    assert sent[0].test and sent[0].token == TOKEN and sent[0].ad_account_id == "549755885175"
    assert _settings().ad_account_id == "549755885175" and _settings().token_last4 == "7f3a"
    expect(page.locator("s-password-field[name=access_token]")).to_have_attribute("placeholder", "•••• 7f3a")
    expect(page.locator("#test-button")).to_have_text("Send test event")
    _axe(page)
    _shot(page, "4-test-accepted")

    # Refused: a plain sentence and the next step, with Pinterest's own words one click away.
    pinterest.reject_token(TOKEN, status=401, message="Authentication failed.")
    page.locator("#test-button").click()
    expect(page.locator("#verify-text")).to_have_text(
        "Pinterest didn't accept the access token. Create a new conversion access token in Pinterest Ads Manager, "
        "paste it here and save.")
    page.locator("#verify-words summary").click()
    expect(page.locator("#verify-words p")).to_have_text("Authentication failed.")
    _shot(page, "5-test-refused")

    # Switches and choices wait for the save bar; Discard puts them back.
    page.locator("s-switch[name=test_mode] input").check()
    expect(page.locator("#settings-save-bar")).to_have_attribute("data-shown", "")
    page.locator("#save-bar-discard").click()
    expect(page.locator("#settings-save-bar")).not_to_have_attribute("data-shown", "")
    assert page.locator("s-switch[name=test_mode] input").is_checked() is False
    page.locator("s-select[name=event_id_source] select").select_option("checkout_token")
    page.locator("#save-bar-save").click()
    expect(page.locator("#settings-save-bar")).not_to_have_attribute("data-shown", "")
    assert _settings().event_id_source == "checkout_token" and _settings().test_mode is False
    _phone(page, "5-settings-390")


def test_pos_and_draft_orders_are_chosen_only_by_their_selects(
    live_server: str, page: Page, configure_shop: Any
) -> None:
    # The older include_offline_orders switch is an API shortcut for both selects; shown beside them, a
    # merchant couldn't tell which one wins, so the page shows and sends only the per-class choices.
    configure_shop(include_offline_orders=True)  # an API client set both to offline
    _open(page, live_server, path="/settings")
    expect(page.locator("[name=include_offline_orders]")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text("Include POS")
    expect(page.locator("#order-classes s-select")).to_have_count(4)
    expect(page.locator("s-select[name=send_pos] select")).to_have_value("offline")
    expect(page.locator("s-select[name=send_draft] select")).to_have_value("offline")
    expect(page.locator("body[data-dirty=false]")).to_have_count(1)  # the alias GET returns marks nothing changed

    page.locator("s-select[name=send_pos] select").select_option("skip")
    page.locator("s-select[name=send_draft] select").select_option("web")
    expect(page.locator("#settings-save-bar")).to_have_attribute("data-shown", "")
    _shot(page, "5-settings-order-classes")
    with page.expect_response(lambda r: r.request.method == "PUT" and "/api/settings" in r.url) as saving:
        page.locator("#save-bar-save").click()
    answer = saving.value
    assert answer.status == 200, (answer.request.post_data, answer.text())
    assert answer.request.post_data_json == {"send_pos": "skip", "send_draft": "web"}
    expect(page.locator("#settings-save-bar")).not_to_have_attribute("data-shown", "")
    assert (_settings().send_pos, _settings().send_draft) == ("skip", "web")

    page.reload()
    expect(page.locator("body[data-ready=true]")).to_have_count(1)
    expect(page.locator("s-select[name=send_pos] select")).to_have_value("skip")
    expect(page.locator("s-select[name=send_draft] select")).to_have_value("web")
    expect(page.locator("body[data-dirty=false]")).to_have_count(1)


def test_a_healthy_week(live_server: str, page: Page, configure_shop: Any) -> None:
    configure_shop()
    _seed_history()
    settings = _settings()
    settings.connection_status = "ok"
    db.session.commit()
    _open(page, live_server, "6-healthy-week")
    expect(_banner(page)).to_have_attribute("data-state", "working")
    expect(page.locator("#status-text")).to_contain_text("Orders are reaching Pinterest. Last order delivered")
    expect(page.locator("#chart .pb-col")).to_have_count(14)
    expect(page.locator("#metrics [data-key=received] .pb-metric-value")).to_have_text("69")
    expect(page.locator("#metrics [data-key=failed] .pb-metric-value")).to_have_text("2")
    expect(page.locator("#metrics [data-key=waiting] .pb-metric-value")).to_have_text("0")
    # The setup guide is checked from real data: connected, tested, orders delivered; the pixel has not reported.
    expect(page.locator(".pb-step[data-done=true]")).to_have_count(3)
    expect(page.locator(".pb-step[data-step=pixel]")).to_have_attribute("data-done", "false")
    page.locator("#event-filter select").select_option("failed")
    expect(page.locator("#events s-table-row")).to_have_count(2)
    first = page.locator("#events s-table-row").first
    expect(first).to_contain_text("Line 1 has an invalid price.")
    first.locator("summary").click()
    expect(first.locator(".pb-words p")).to_have_text("Invalid parameter: custom_data.contents[0].item_price.")
    for word in ("ip_ua", "exchange_error", "event(s)"):
        assert word not in page.locator("body").inner_text()
    _axe(page)
    _shot(page, "6-healthy-week-failed-filter")
    page.locator("#event-filter select").select_option("")
    _phone(page, "6-healthy-week-390")


def test_an_outage_turns_the_banner_within_one_refresh(
    live_server: str, page: Page, configure_shop: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(home, "POLL_SECONDS", 1)
    shop = configure_shop()
    _seed_history()
    _open(page, live_server)
    expect(_banner(page)).to_have_attribute("data-state", "working")
    # Pinterest starts answering 503: five orders wait, the failures began three minutes ago.
    now = now_utc()
    for i in range(5):
        db.session.add(Event(shop_id=shop.id, event_id=f"outage-{i}", source="order", order_name=f"#{2001 + i}",
                             status="pending", value="30.00", currency="USD", received_at=now - timedelta(minutes=i),
                             available_at=now + timedelta(minutes=2), error_code="unavailable",
                             error_message="Service Unavailable"))
    state = db.session.get(ShopDeliveryState, shop.id)
    state.consecutive_failures, state.failure_class = 6, "pinterest"
    state.failure_message, state.failing_since = "Service Unavailable", now - timedelta(minutes=3)
    db.session.commit()
    expect(_banner(page)).to_have_attribute("data-state", "delayed", timeout=10_000)  # no reload: it polls
    expect(_banner(page)).to_have_attribute("heading", re.compile("^Sending delayed since "))
    expect(page.locator("#status-text")).to_have_text(
        "Pinterest is having trouble on its side. 5 orders are waiting and will be sent automatically.")
    expect(page.locator("#metrics [data-key=waiting] .pb-metric-value")).to_have_text("5")
    expect(page.locator("#completeness")).to_have_text(re.compile(r"^Shopify's own order count .*installed it\.$"))
    page.locator("#status-words summary").click()
    expect(page.locator("#status-words p")).to_have_text("Service Unavailable")
    _axe(page)
    _shot(page, "7-outage")


@pytest.mark.parametrize("status, reason, action, field", [
    (401, "token", "Update access token", "access_token"),        # token revoked
    (403, "ad_account", "Check ad account id", "ad_account_id"),  # token valid, wrong ad account
])
def test_paused_says_which_credential_and_leads_to_its_field(
    live_server: str, page: Page, configure_shop: Any, pinterest: PinterestStandin,
    status: int, reason: str, action: str, field: str
) -> None:
    configure_shop()
    pinterest.reject_token("pina_test_token_0001", status=status, message="Refused by Pinterest.")
    _open(page, live_server)
    page.locator("#setup-test-button").click()
    expect(_banner(page)).to_have_attribute("data-state", "paused")
    expect(_banner(page)).to_have_attribute("data-reason", reason)
    expect(page.locator("#status-action")).to_have_text(action)
    text = page.locator("#status-text")
    if reason == "token":
        expect(text).to_contain_text("Pinterest no longer accepts your conversion access token.")
    else:
        expect(text).to_contain_text("doesn't allow it to send conversions for ad account 549755885175")
    expect(text).to_contain_text("New orders will wait and be sent once this is fixed.")
    _axe(page)
    _shot(page, f"8-paused-{status}")
    page.locator("#status-action").click()
    page.wait_for_url(re.compile(rf"/settings\?.*#{field}$"))
    expect(page.locator("body[data-ready=true]")).to_have_count(1)
    page.wait_for_function(f"() => document.activeElement && document.activeElement.getAttribute('name') === '{field}'")
    expect(page.locator("#paused-banner")).to_contain_text("New orders will wait and be sent once this is fixed.")
    _axe(page)
    _shot(page, f"8-paused-{status}-settings")


def test_turning_off_asks_first_and_the_page_says_orders_are_held(
    live_server: str, page: Page, configure_shop: Any
) -> None:
    shop = configure_shop()
    _seed_history()
    _open(page, live_server, path="/settings")
    page.locator("s-switch[name=enabled] input").uncheck()
    page.locator("#save-bar-save").click()
    expect(page.locator("#confirm-off")).to_be_visible()
    _shot(page, "9-confirm-off")
    page.locator("#confirm-off-cancel").click()
    assert _settings().enabled is True
    with page.expect_response(lambda r: r.request.method == "PUT" and "/api/settings" in r.url) as saving:
        page.locator("#save-bar-save").click()
        page.locator("#confirm-off-ok").click()
    answer = saving.value
    assert answer.status == 200, (answer.request.post_data, answer.text())
    expect(page.locator("#settings-save-bar")).not_to_have_attribute("data-shown", "")
    assert _settings().enabled is False
    # Two orders arrive while off; one of them is 60 hours old and expires in 12 hours.
    now = now_utc()
    for i, age in enumerate((timedelta(hours=60), timedelta(minutes=10))):
        db.session.add(Event(shop_id=shop.id, event_id=f"held-{i}", source="order", order_name=f"#{3001 + i}",
                             status="pending", value="20.00", currency="USD", received_at=now - age,
                             available_at=now - age))
    db.session.commit()
    _open(page, live_server, "10-off")
    expect(_banner(page)).to_have_attribute("data-state", "disabled")
    expect(page.locator("#status-text")).to_have_text(
        "Pinbridge is not sending orders to Pinterest. 2 orders received while off are held and will be sent "
        "when you turn it back on.")
    expect(page.locator("#status-action")).to_have_text("Turn sending on")
    expect(page.locator("#expiry-text")).to_contain_text("1 waiting order will expire")
    expect(page.locator("#expiry-text")).to_contain_text("Turn sending back on to send them in time.")
    expect(page.locator("#metrics [data-key=waiting] .pb-metric-value")).to_have_text("2")


def test_pixel_installed_checks_the_step_and_shows_the_count(
    live_server: str, page: Page, client: Any, configure_shop: Any, post_webhook: Any, worker: Any
) -> None:
    # Real reports: the pixel's beacons and the orders' webhooks go through the app, the worker joins them,
    # and /api/pixel answers from what is stored.
    configure_shop(tag_id="2613654212508")
    orders = [web_order(id=n, checkout_token=f"{n:032x}", cart_token=f"c{n:031x}", landing_site="/")
              for n in range(1, 5)]
    for order, event_id in ((orders[0], orders[0]["cart_token"]), (orders[1], orders[1]["cart_token"]),
                            (orders[2], f"{3:032x}")):  # the third Tag used the checkout token
        beacon = {**beacon_for(order), "event_id": event_id}
        response = client.post(f"/pixel?shop={SHOP}", data=json.dumps(beacon).encode(),
                               headers={"Content-Type": "text/plain", "Origin": "https://shop.example"})
        assert response.status_code in (200, 204)
    for order in orders:
        assert post_webhook(order, secret=SESSION_SECRET).status_code == 200
    while worker.run_once():
        pass
    _open(page, live_server)
    expect(page.locator(".pb-step[data-step=pixel]")).to_have_attribute("data-done", "true")
    expect(page.locator("#pixel-card")).to_contain_text(
        "The Tag reported 2 of 4 purchases in the last 14 days with the same id")
    expect(page.locator("#pixel-card")).to_contain_text("different id for 1 of 4")
    expect(page.locator("#snippet")).to_contain_text('"tagId": "2613654212508"')
    _axe(page)
    page.locator("#pixel").scroll_into_view_if_needed()
    _shot(page, "11-pixel-installed")


def test_pixel_snippet_fires_the_tag_with_the_server_event_id(
    live_server: str, page: Page, configure_shop: Any
) -> None:
    configure_shop(event_id_source="checkout_token")
    _open(page, live_server)
    page.locator("s-text-field[name=tag_id] input").fill("2613654212508")
    code = page.locator("#snippet").text_content() or ""
    assert '"tagId": "2613654212508"' in code
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
    frame.locator("#setup-test-button").click()
    expect(frame.locator("#status-banner")).to_have_attribute("data-state", "paused")
    expect(frame.locator("#status-text")).to_contain_text("Pinterest no longer accepts your conversion access token.")
    assert _settings().paused
    frame.locator("body").evaluate("() => window.scrollTo(0, 0)")
    _shot(page, "12-admin-frame-paused")


def test_failed_requests_are_shown_not_left_spinning(
    live_server: str, page: Page, configure_shop: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(home, "POLL_SECONDS", 1)
    configure_shop()
    _open(page, live_server, path="/settings")
    page.route("**/api/settings/verify", lambda route: route.abort())
    page.locator("#test-button").click()
    expect(page.locator("#verify-text")).to_have_text(
        "The test wasn't sent. Pinbridge couldn't be reached. Check your internet connection and try again.")
    expect(page.locator("#test-button")).not_to_have_attribute("loading", "")
    _open(page, live_server)
    page.route("**/api/stats*", lambda route: route.fulfill(status=500, body="{}", content_type="application/json"))
    expect(page.locator("#request-error")).to_be_visible(timeout=10_000)
    expect(page.locator("#request-error-text")).to_have_text(
        "Something went wrong on Pinbridge's side. Try again in a minute. The numbers below may be out of date.")
    _shot(page, "13-request-failed")


def _seed_completeness(shop_domain: str, zone_name: str, gaps: dict[int, int]) -> list[int]:
    """Fourteen days of orders in the shop's zone, and Shopify's count for each whole day (plus `gaps`).

    Every order is placed in the part of its local day that has passed, so none moves to another day
    whatever the hour the suite runs at. Returns the orders per day, oldest first.
    """
    from zoneinfo import ZoneInfo

    from app import crypto
    from app.models import ShopifyDailyOrders
    from app.shopify.daily import day_span

    zone = ZoneInfo(zone_name)
    shop = get_or_create_shop(shop_domain)
    shop.shopify_token_enc = crypto.encrypt("shpat_fake_valid_0001")
    now = now_utc()
    db.session.merge(ShopDeliveryState(shop_id=shop.id, consecutive_failures=0, iana_timezone=zone_name,
                                       last_success_at=now - timedelta(minutes=4)))
    today = now.astimezone(zone).date()
    per_day = [4, 6, 3, 7, 5, 8, 6, 4, 9, 7, 5, 6, 8, 3]
    number = 4000
    for back, count in enumerate(reversed(per_day)):
        day = today - timedelta(days=back)
        start, end = day_span(day, zone)
        passed = min(end, now) - start
        for i in range(count):
            number += 1
            when = start + passed * (i + 1) / (count + 1)
            status = "failed" if (back, i) in ((4, 0), (9, 1)) else "skipped" if (back, i) == (6, 2) else \
                "pending" if back == 0 and i == count - 1 else "delivered"
            db.session.add(Event(
                shop_id=shop.id, event_id=f"Y2FydC1jb21wbGV0ZW5lc3Mt{number}", source="order",
                order_id=str(5_912_345_678_800_000 + number), order_name=f"#{number}", value="38.00",
                currency="USD", match_keys="em ph address", status=status, received_at=when, occurred_at=when,
                available_at=max(when, now) if status == "pending" else when,  # about to be sent, not late
                delivered_at=when + timedelta(seconds=40) if status == "delivered" else None,
                error_message="Invalid parameter: custom_data.contents[0].item_price." if status == "failed" else None,
                skip_reason="no email or browser IP/user agent to match the buyer" if status == "skipped" else None))
        if back > 0:  # today is not over: Shopify's count for it comes tomorrow
            db.session.add(ShopifyDailyOrders(shop_id=shop.id, day=day, orders=count + gaps.get(back, 0),
                                              timezone=zone_name, counted_at=now))
    db.session.commit()
    return per_day


def test_completeness_against_shopify_names_the_orders_that_never_arrived(
    live_server: str, page: Page, configure_shop: Any
) -> None:
    configure_shop()
    _seed_completeness(SHOP, "America/New_York", gaps={2: 2, 8: 1})
    settings = _settings()
    settings.connection_status = "ok"
    db.session.commit()
    _open(page, live_server, "14-completeness-gap")
    text = page.locator("#completeness-text")
    expect(text).to_contain_text("Shopify has 3 orders from ")
    expect(text).to_contain_text("that Pinbridge didn't receive, so they weren't sent to Pinterest.")
    expect(page.locator("#completeness .pb-gaps li")).to_have_count(2)
    expect(page.locator("#completeness .pb-gaps li").first).to_contain_text(re.compile(
        r"Shopify: 9 · Pinbridge received 8"))  # eight days back: 8 received, one more in Shopify
    expect(page.locator("#chart .pb-shopify")).to_have_count(13)  # every whole day; today is not over
    expect(page.locator("#chart .pb-shopify[data-missing=true]")).to_have_count(2)
    expect(page.locator("#legend")).to_contain_text("Shopify's count")
    expect(page.locator("#chart-note")).to_contain_text("Days in your store's time zone (America/New_York).")
    for word in ("ip_ua", "event(s)", "reconcil", "shopify_orders"):
        assert word not in page.locator("body").inner_text()
    # Labels on the chart stay readable: 11 px or more.
    sizes = page.evaluate("() => [...document.querySelectorAll('#chart .pb-x, #chart .pb-total, #legend span')]"
                          ".map((n) => parseFloat(getComputedStyle(n).fontSize))")
    assert sizes and min(sizes) >= 11
    _phone(page, "14-completeness-gap-390")
    page.set_viewport_size({"width": 390, "height": 844})
    sizes = page.evaluate("() => [...document.querySelectorAll('#chart .pb-x, #chart .pb-total, #completeness li')]"
                          ".map((n) => parseFloat(getComputedStyle(n).fontSize))")
    assert min(sizes) >= 11
    page.locator("#numbers").screenshot(path=str(ARTIFACTS / "14-completeness-gap-390-chart.png"))
