"""The embedded page in a real headless Chromium, served by a real server, talking to the Pinterest stand-in.

App Bridge and Polaris are fetched from Shopify's CDN in production; here their URLs are intercepted and
answered with small stand-ins (tests/standins/app_bridge.js, polaris.js). Screenshots go to
test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from app.merchant import home
from app.models import Event, ShopDeliveryState, db, now_utc
from app.shops import get_or_create_shop
from tests.conftest import API_KEY, API_SECRET, SHOP, require_or_skip
from tests.factories import web_order
from tests.jwt_helpers import ShopifyTokenEndpoint, session_token, use_session_secrets
from tests.standins.pinterest import PinterestStandin
from tests.standins.shopify_graphql import ShopifyAdminStandin

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
    db.session.merge(ShopDeliveryState(shop_id=shop.id,
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
                received_at=received, available_at=received, updated_at=received,
                delivered_at=None if failed or skipped else min(received + timedelta(seconds=35 + i * 7), now),
            ))
    db.session.commit()


def _open(page: Page, base_url: str, name: str | None = None, path: str = "/") -> None:
    page.goto(f"{base_url}{path}?embedded=1&shop={SHOP}&host=YWRtaW4uc2hvcGlmeS5jb20vc3RvcmUvZGVtby1zdG9yZQ"
              f"&id_token={session_token()}")
    expect(page.locator("body[data-ready=true]")).to_have_count(1)
    _axe(page)
    assert _internal_words(page) == []
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


# Words a merchant must never read: setting keys, enum values, code-style names.
SNAKE_CASE = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b")
QUOTED_CODE = re.compile(r"'(?:skip|web|offline|send|limited)'")


def _internal_words(page: Page) -> list[str]:
    """Internal identifiers in the page's visible text."""
    from app.settings import FIELDS

    found: list[str] = []
    # Left out: the pixel's code, shown to be copied, and Pinterest's own answer, one click away.
    for frame in page.frames:
        text = frame.evaluate("""() => [...document.querySelectorAll('pre, .pb-words p')].reduce(
            (text, pre) => text.replace(pre.innerText, ''), document.body ? document.body.innerText : '')""")
        found += SNAKE_CASE.findall(text) + QUOTED_CODE.findall(text)
        found += [key for key in FIELDS if re.search(rf"\b{key}\b", text) and "_" in key]
    return found


def _shot(page: Page, name: str) -> None:
    assert _internal_words(page) == [], name  # every state saved for a person is also scanned
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
    expect(page.locator("#setup-progress")).to_have_text("0 of 3 steps done")
    expect(page.locator(".pb-step")).to_have_text([
        re.compile("Connect Pinterest"), re.compile("Send a test event"), re.compile("First order delivered"),
        re.compile("Add the Pinterest Tag pixel.*Optional")])
    expect(page.locator(".pb-step[data-optional=true]")).to_have_count(1)
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
        "error", "Enter the ad account id: digits 0-9 only, at most 18.")
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
    expect(page.locator("#events tr.pb-order")).to_have_count(2)
    first = page.locator("#events tr.pb-order").first
    expect(first).to_contain_text("Line 1 has an invalid price.")
    expect(first).to_contain_text("Check Order value in Settings: new orders use it. Retrying sends the same details.")
    expect(first.locator("[data-retry]")).to_have_text("Retry this order")
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
    shop.settings.failure_streak, state.failure_class = 6, "pinterest"
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
    expect(page.locator("#status-text")).to_have_text(re.compile(
        r"^Pinbridge is not sending orders to Pinterest\. 2 orders received while off are held and will be sent "
        r"when you turn it back on\. Held orders are kept 72 hours: the oldest expires \w{3} \d{1,2}, "
        r"\d{1,2}:\d\d [AP]M UTC, and 1 order will expire within a day unless sending resumes\.$"))
    expect(page.locator("#status-action")).to_have_text("Turn sending on")
    expect(page.locator("#status-problems")).to_be_hidden()  # no second banner stacked above the page
    expect(page.locator("#metrics [data-key=waiting] .pb-metric-value")).to_have_text("2")


def _seed_pixel_reports(same: int, different: int) -> None:
    """Web purchases of the last days whose beacon said which id the Tag fired with."""
    shop = get_or_create_shop(SHOP)
    shop.pixel_seen_at = now_utc() - timedelta(days=3)
    for n in range(same + different):
        when = now_utc() - timedelta(hours=n + 1)
        db.session.add(Event(
            shop_id=shop.id, event_id=f"Z2NwLXVzLWVhc3QxOjAxSkZQSVhFTC{n:04d}", source="order", action_source="web",
            order_id=str(5_912_345_678_950_000 + n), order_name=f"#{2000 + n}", value="45.00", currency="USD",
            match_keys="em ip_ua click_id", status="delivered", received_at=when, available_at=when, delivered_at=when,
            tag_event_id="another-id" if n < different else f"Z2NwLXVzLWVhc3QxOjAxSkZQSVhFTC{n:04d}",
            tag_matched=n >= different))
    db.session.commit()


def test_the_dedup_card_without_a_tag_id_warns_and_offers_no_code(
    live_server: str, page: Page, configure_shop: Any
) -> None:
    configure_shop()
    _seed_pixel_reports(3, 0)  # the pixel reported 3 of 3 with our id, but no Tag id is saved
    _open(page, live_server)
    card = page.locator("#dedup-card")
    expect(card).to_have_attribute("tone", "warning")
    expect(card).to_have_attribute("heading", "No Pinterest Tag id saved")
    expect(page.locator("#copy-button")).to_have_attribute("disabled", "")
    expect(page.locator("#snippet")).to_be_hidden()
    expect(page.locator("#snippet-advice")).to_contain_text("Save your Pinterest Tag id to get the code")
    expect(page.locator("#app-pixel-state")).to_contain_text("Shopify needs your permission")
    page.locator("#pixel").scroll_into_view_if_needed()
    _shot(page, "11-pixel-no-tag-id")


def test_the_tag_id_is_saved_and_copy_code_copies_the_servers_code(
    live_server: str, page: Page, configure_shop: Any
) -> None:
    configure_shop()
    _open(page, live_server)
    page.evaluate("() => { navigator.clipboard.writeText = async (text) => { window.__copied = text; }; }")
    page.locator("s-text-field[name=tag_id] input").fill("2613654212508")
    expect(page.locator("#copy-button")).to_have_attribute("disabled", "")  # typed, not saved: nothing to copy
    page.locator("#tag-save").click()
    expect(page.locator("#snippet")).to_contain_text('"tagId": "2613654212508"')
    expect(page.locator("#copy-button")).to_have_attribute("data-ready", "true")
    assert _settings().tag_id == "2613654212508"
    page.locator("#copy-button").click()
    page.wait_for_function("() => typeof window.__copied === 'string'")
    copied = page.evaluate("() => window.__copied")
    assert '"tagId": "2613654212508"' in copied and "YOUR_PINTEREST_TAG_ID" not in copied
    assert page.evaluate("() => window.__toasts.map((t) => t.message)")[-1].startswith("Code copied")
    _open(page, live_server)  # after a reload the Tag id is still there
    expect(page.locator("s-text-field[name=tag_id] input")).to_have_value("2613654212508")
    code = page.locator("#snippet").text_content() or ""
    queue = page.evaluate(
        """(code) => {
            const subscribers = {};
            const analytics = { subscribe: (name, fn) => { subscribers[name] = fn; } };
            const browser = { cookie: { get: async () => "" } };
            const init = { data: { cart: null } };
            const fetch = async () => ({});
            new Function("analytics", "init", "browser", "fetch", code)(analytics, init, browser, fetch);
            subscribers.checkout_completed({ data: { checkout: {
                token: "c1f0a2b3c4d5e6f708192a3b4c5d6e7f", currencyCode: "USD",
                subtotalPrice: { amount: 90 }, totalPrice: { amount: 104.5 }, totalTax: { amount: 7.5 },
                shippingLine: { price: { amount: 7 } },
                order: { id: "gid://shopify/Order/5912345678901235" }, lineItems: [{ quantity: 2 }, { quantity: 1 }],
            } } });
            return window.pintrk.queue;
        }""",
        code,
    )
    track = next(args for args in queue if args[0] == "track")
    assert track[1] == "checkout" and track[2]["event_id"] == "c1f0a2b3c4d5e6f708192a3b4c5d6e7f"
    assert track[2]["value"] == 90 and track[2]["order_quantity"] == 3
    assert ["load", "2613654212508"] in queue


def test_the_dedup_card_warns_with_the_share_then_turns_green_from_95_percent(
    live_server: str, page: Page, configure_shop: Any
) -> None:
    configure_shop(tag_id="2613654212508")
    _seed_pixel_reports(1, 3)  # the Tag used another id for 3 of 4 purchases
    _open(page, live_server)
    card = page.locator("#dedup-card")
    expect(card).to_have_attribute("tone", "warning")
    expect(card).to_have_attribute("heading", re.compile(r"arrived for 4 purchases .*: 1 of them \(25%\)"))
    expect(card).to_contain_text("For 3 of 4 the Tag fired with another id")
    page.locator("#pixel").scroll_into_view_if_needed()
    _shot(page, "11-pixel-warning")
    db.session.execute(db.update(Event).values(tag_matched=True))
    db.session.commit()
    _open(page, live_server)
    expect(card).to_have_attribute("tone", "success")
    expect(page.locator(".pb-step[data-step=pixel]")).to_have_attribute("data-done", "true")
    page.locator("#pixel").scroll_into_view_if_needed()
    _shot(page, "11-pixel-installed")
    _phone(page, "11-pixel-installed-390")


def test_switching_the_app_pixel_on_asks_for_the_scopes_and_shows_shopifys_answer(
    app: Flask, live_server: str, page: Page, configure_shop: Any
) -> None:
    configure_shop(tag_id="2613654212508")
    # Shopify: the token endpoint for the page's token exchange, the Admin API for the pixel's mutations.
    exchange = ShopifyTokenEndpoint()
    admin = ShopifyAdminStandin(SHOP, client_id=API_KEY, client_secret=API_SECRET, access_token="shpat_fake_0001")
    admin.pixel_errors = [{"code": "NO_EXTENSION", "field": None, "message": "No extension found"}]
    previous = app.config["SHOPIFY_HTTP_CLIENT"]
    app.config["SHOPIFY_HTTP_CLIENT"] = httpx.Client(transport=httpx.MockTransport(
        lambda request: exchange.handler(request) if request.url.path == "/admin/oauth/access_token"
        else admin.handle(request)))
    previous.close()
    _open(page, live_server)
    page.evaluate("() => { window.__scopesAnswer = 'declined-all'; }")
    page.locator("#app-pixel-button").click()
    page.wait_for_function("() => window.__toasts.some((t) => t.message.startsWith('Not allowed'))")
    assert page.evaluate("() => window.__scopeRequests") == [["write_pixels", "read_customer_events"]]
    assert admin.graphql() == []  # declined: Shopify's Admin API is not asked
    admin.scopes = ["read_orders", "write_pixels", "read_customer_events"]  # what the dialog grants
    page.evaluate("() => { window.__scopesAnswer = 'granted-all'; }")
    page.locator("#app-pixel-button").click()
    state = page.locator("#app-pixel-state")
    expect(state).to_have_attribute("data-tone", "critical")
    expect(state).to_contain_text("the app's extension has not been deployed")
    page.locator("#pixel").scroll_into_view_if_needed()
    _shot(page, "11-pixel-app-pixel-refused")
    page.locator("#app-pixel-button").click()  # deployed since: try again
    expect(state).to_have_attribute("data-tone", "success")
    expect(state).to_contain_text("Pinbridge's app pixel is on")
    assert admin.web_pixel is not None and '"eventIdSource": "cart_token"' in admin.web_pixel["settings"]


def test_other_pinterest_tracking_leads_to_one_sender(live_server: str, page: Page, configure_shop: Any) -> None:
    configure_shop(tag_id="2613654212508")
    _open(page, live_server)
    page.locator("input[name=other_tracking][value=pinterest_app]").check()
    page.locator("input[name=other_tracking][value=theme]").check()
    advice = page.locator("#other-tracking-advice")
    expect(advice.locator("[data-source=pinterest_app]")).to_contain_text(
        "no public way to turn off the Pinterest app's server events")
    expect(advice.locator("[data-source=theme]")).to_contain_text("pintrk")
    _axe(page)
    page.locator("#other-tracking").scroll_into_view_if_needed()
    _shot(page, "11-pixel-other-tracking")


def test_page_inside_a_stand_in_admin_frame(live_server: str, page: Page, configure_shop: Any,
                                            pinterest: PinterestStandin) -> None:
    """The page embedded the way the admin embeds it; the frame-ancestors policy lets the admin frame it."""
    configure_shop()  # no order delivered yet: the guide's test step still offers its button
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
    db.session.merge(ShopDeliveryState(shop_id=shop.id, iana_timezone=zone_name,
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
                updated_at=when,
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


# -- every problem named with its next step ---------------------------------------------------------------
def _working(configure_shop: Any, **overrides: Any) -> Any:
    """A configured shop Pinterest accepts, with its Admin API token and a recent delivery."""
    from tests.shopify.test_reconcile import give_admin_token

    shop = configure_shop(**overrides)
    shop.settings.connection_status = "ok"
    give_admin_token(shop)
    db.session.merge(ShopDeliveryState(shop_id=shop.id,
                                       last_success_at=now_utc() - timedelta(minutes=2)))
    db.session.commit()
    return shop


def _order(shop: Any, number: int, **values: Any) -> None:
    now = now_utc()
    row = {"shop_id": shop.id, "event_id": f"cart-{number:04d}-c1f0a2b3c4d5", "source": "order",
           "order_id": str(5_912_345_678_700_000 + number), "order_name": f"#{number}", "value": "52.00",
           "currency": "USD", "action_source": "web", "status": "delivered", "match_keys": "em ph ip_ua address",
           "received_at": now - timedelta(minutes=30), "available_at": now - timedelta(minutes=30),
           "delivered_at": now - timedelta(minutes=29), **values}
    db.session.add(Event(**row))


def _rows(page: Page) -> Any:
    return page.locator("#events tr.pb-order")


def _orders_readable_on_a_phone(page: Page, name: str) -> None:
    """At 390 px each order is a card: every cell names its column and fits on the screen."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(150)
    cells = page.evaluate("""() => [...document.querySelectorAll('#events td')].map((td) => ({
        label: getComputedStyle(td, '::before').content, right: td.getBoundingClientRect().right,
        width: td.getBoundingClientRect().width }))""")
    assert cells and all(c["label"].strip('"') in ("Order", "Status", "Value", "Details") for c in cells)
    assert max(c["right"] for c in cells) <= 390 and min(c["width"] for c in cells) > 200
    page.locator("#events").screenshot(path=str(ARTIFACTS / f"{name}-orders-390.png"))
    page.set_viewport_size({"width": 1280, "height": 900})
    _phone(page, f"{name}-390")


def test_every_problem_is_named_with_its_next_step(
    live_server: str, page: Page, configure_shop: Any, pinterest: PinterestStandin
) -> None:
    shop = _working(configure_shop, tag_id="2613654212508")  # the Tag id saved: a pasted pixel can be out of date
    for i in range(12):  # recent web orders without email, phone or address: Level 1 customer data only
        _order(shop, 7001 + i, match_keys="ip_ua click_id", tag_matched=i != 0, tag_event_id="tag-id")
    now = now_utc()
    _order(shop, 7100, status="failed", delivered_at=None, error_code="failed", updated_at=now - timedelta(minutes=5),
           match_keys="ip_ua click_id", error_message="Invalid parameter: custom_data.contents[0].item_price.")
    _order(shop, 7101, status="skipped", delivered_at=None, action_source="offline", match_keys=None,
           skip_reason="Pos order: not sent (send_pos is 'skip'; choose 'web' or 'offline' to send these)")
    db.session.commit()

    _open(page, live_server, "15-problems")
    expect(_banner(page)).to_have_attribute("data-state", "attention")
    expect(_banner(page)).to_have_attribute("heading", "1 order failed in the last day")
    expect(page.locator("#status-text")).to_have_text(
        "Pinterest refused 1 order. Each failed order below says why and what to do.")
    expect(page.locator("#status-action")).to_have_text("Show failed orders")
    # The others are listed under it, not stacked as banners.
    # (the pixel section's own card is a banner about the Tag, below the numbers, not a status)
    expect(page.locator("s-banner:visible:not(#pixel s-banner)")).to_have_count(1)
    expect(page.locator("#status-problem-list li")).to_have_count(2)
    expect(page.locator("[data-problem=customer_details]")).to_contain_text(
        "Shopify isn't sending customer details with your orders")
    expect(page.locator("[data-problem=customer_details]")).to_contain_text("Level 2 protected customer data")
    expect(page.locator("[data-problem=pixel]")).to_contain_text("Your Pinterest Tag pixel is out of date")
    expect(page.locator("[data-problem=pixel] button")).to_have_text("Show the pixel code")

    page.locator("#status-action").click()
    expect(_rows(page)).to_have_count(1)
    failed = _rows(page).first
    expect(failed).to_contain_text("Line 1 has an invalid price.")
    expect(failed).to_contain_text("Check Order value in Settings: new orders use it.")
    expect(failed).to_contain_text("contact Pinterest support with the order reference below")
    expect(failed.locator(".pb-ref")).to_have_text("Order reference: cart-7100-c1f0a2b3c4d5")
    expect(failed.locator(".pb-words")).not_to_have_attribute("open", "")  # Pinterest's words: one click away
    _shot(page, "15-problems-failed-order")
    failed.locator("[data-retry]").click()
    expect(_rows(page)).to_have_count(0)  # sent again: no longer failed
    # With the failed order retried, the worst left is the customer details Shopify withholds.
    expect(_banner(page)).to_have_attribute("data-reason", "customer_details", timeout=20_000)
    page.locator("#event-filter select").select_option("")
    expect(_banner(page)).to_have_attribute("heading", "Shopify isn't sending customer details with your orders")
    expect(page.locator("#status-action")).to_have_text("Shopify's guide to customer data access")
    expect(page.locator("tr.pb-order[data-status=pending]")).to_contain_text("About to be sent.")
    pos = page.locator("tr.pb-order[data-status=skipped]")
    expect(pos).to_contain_text("Not sent: in Settings, Point of sale orders is set to Don't send.")
    # Match quality never shows a silent 0%: the rows Shopify leaves empty say why.
    expect(page.locator("#coverage .pb-coverage-why")).to_have_count(3)
    expect(page.locator("#coverage [data-key=em]")).to_contain_text("0%Shopify isn't sending this")
    _shot(page, "16-customer-details")
    _orders_readable_on_a_phone(page, "16-customer-details")
    pos.locator("button", has_text="Open settings").click()
    page.wait_for_url(re.compile(r"/settings\?.*#send_pos$"))
    expect(page.locator("body[data-ready=true]")).to_have_count(1)


def test_waiting_orders_say_why_they_wait(live_server: str, page: Page, configure_shop: Any) -> None:
    shop = _working(configure_shop)
    state = db.session.get(ShopDeliveryState, shop.id)
    state.iana_timezone = "America/New_York"
    now = now_utc()
    waiting = {"status": "pending", "delivered_at": None}
    _order(shop, 7201, **waiting, received_at=now - timedelta(hours=70), available_at=now - timedelta(hours=70))
    _order(shop, 7202, **waiting, available_at=now + timedelta(minutes=4), attempts=2, error_code="unavailable",
           error_message="Service Unavailable")
    _order(shop, 7203, **waiting, received_at=now, available_at=now + timedelta(seconds=20))
    _order(shop, 7204, **waiting, source="checkout", received_at=now, available_at=now + timedelta(seconds=110))
    shop.settings.connection_status = "rejected"
    db.session.commit()

    # Paused: every held order says so, and the status says when the oldest expires, in the shop's zone.
    _open(page, live_server, "17-waiting-paused")
    expect(_banner(page)).to_have_attribute("data-state", "paused")
    expect(page.locator("#status-text")).to_contain_text(re.compile(
        r"4 orders are waiting and will be sent once this is fixed\. Held orders are kept 72 hours: the oldest "
        r"expires \w{3} \d{1,2}, \d{1,2}:\d\d [AP]M E[SD]T, and 1 order will expire within a day unless sending "
        r"resumes\."))
    expect(page.locator("tr.pb-order[data-status=pending]")).to_have_count(4)
    for row in page.locator("tr.pb-order[data-status=pending]").all():
        expect(row).to_contain_text("Held until the Pinterest connection is fixed.")

    # Off: held because sending is off, never "About to be sent".
    settings = _settings()
    settings.connection_status, settings.enabled = "ok", False
    db.session.commit()
    _open(page, live_server, "18-waiting-off")
    expect(_banner(page)).to_have_attribute("data-state", "disabled")
    expect(page.locator("#status-text")).to_contain_text("Held orders are kept 72 hours: the oldest expires")
    for row in page.locator("tr.pb-order[data-status=pending]").all():
        expect(row).to_contain_text("Held while sending is off. Sent when you turn sending on.")
    expect(page.locator("#events")).not_to_contain_text("About to be sent")

    # On: each order's own reason.
    settings = _settings()
    settings.enabled = True
    db.session.commit()
    _open(page, live_server, "19-waiting-reasons")
    expect(page.locator("tr.pb-order", has_text="#7202")).to_contain_text(re.compile(
        r"Pinterest didn't answer\. Sent again automatically at \w{3} \d{1,2}, \d{1,2}:\d\d [AP]M E[SD]T\."))
    expect(page.locator("tr.pb-order", has_text="#7203")).to_contain_text(
        "Waiting a few seconds for your pixel's report")
    expect(page.locator("tr.pb-order", has_text="#7204")).to_contain_text(
        "Waiting up to a few minutes for Shopify's order")
    expect(page.locator("tr.pb-order", has_text="#7201")).to_contain_text("Late: sending is behind.")
    # The 70-hour-old order is listed under the status with the time it expires.
    expect(page.locator("[data-problem=expiring]")).to_contain_text("1 waiting order will expire soon")
    _orders_readable_on_a_phone(page, "19-waiting-reasons")


def test_the_setup_guide_can_be_dismissed_and_the_optional_step_never_blocks(
    live_server: str, page: Page, configure_shop: Any
) -> None:
    shop = _working(configure_shop)
    _order(shop, 7301)
    db.session.commit()
    _open(page, live_server)
    expect(page.locator("#setup")).to_be_visible()
    expect(page.locator("#setup-progress")).to_have_text("Pinbridge is set up. One optional step is left.")
    expect(page.locator(".pb-step[data-step=pixel]")).to_have_attribute("data-done", "false")
    expect(page.locator(".pb-step[data-step=pixel]")).to_contain_text("Optional")
    _shot(page, "20-setup-optional-left")
    page.locator("#setup-dismiss").click()
    expect(page.locator("#setup")).to_be_hidden()
    expect(page.locator("#setup-restore")).to_be_visible()
    db.session.rollback()
    assert get_or_create_shop(SHOP).setup_dismissed_at is not None
    _open(page, live_server, "21-setup-dismissed")  # remembered: a new visit keeps it dismissed
    expect(page.locator("#setup")).to_be_hidden()
    page.locator("#setup-show").click()
    expect(page.locator("#setup")).to_be_visible()


def test_a_day_shopify_has_more_orders_for_is_recovered_on_the_page(
    app: Flask, live_server: str, page: Page, configure_shop: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zoneinfo import ZoneInfo

    from app.shopify import recovery
    from app.shopify.daily import day_span
    from tests.conftest import API_KEY
    from tests.shopify.test_reconcile import TOKEN, give_admin_token
    from tests.standins.shopify_graphql import ShopifyAdminStandin, graphql_order

    monkeypatch.setattr(home, "POLL_SECONDS", 1)
    configure_shop()
    per_day = _seed_completeness(SHOP, "America/New_York", gaps={2: 2})
    shop = get_or_create_shop(SHOP)
    shop.settings.connection_status = "ok"
    shop.installed_at = now_utc() - timedelta(days=20)
    give_admin_token(shop)
    # Shopify has that day's orders, two of which never reached Pinbridge.
    admin = ShopifyAdminStandin(SHOP, client_id=API_KEY, client_secret=app.config["SHOPIFY_API_SECRET"],
                                access_token=TOKEN)
    admin.timezone = "America/New_York"
    zone = ZoneInfo("America/New_York")
    day = now_utc().astimezone(zone).date() - timedelta(days=2)
    start, _end = day_span(day, zone)
    known = db.session.scalars(select(Event).where(Event.occurred_at >= start, Event.occurred_at < _end)).all()
    assert len(known) == per_day[-3]
    for ev in known:  # what Pinbridge has, as Shopify knows it
        order = web_order(id=int(ev.order_id), cart_token=ev.event_id)
        admin.add(graphql_order(order, created_at=ev.occurred_at))
    admin.add(*(graphql_order(web_order(), created_at=start + timedelta(hours=1 + i)) for i in range(2)))
    app.config["SHOPIFY_HTTP_CLIENT"] = admin.client()

    _open(page, live_server, "22-missing-orders")
    expect(_banner(page)).to_have_attribute("data-reason", "missing")
    expect(_banner(page)).to_have_attribute("heading", "Shopify has 2 orders Pinbridge never received")
    expect(page.locator("#status-action")).to_have_text("Recover missing orders")
    page.locator("#status-action").click()
    item = page.locator(f"#completeness li[data-day='{day.isoformat()}']")
    expect(item).to_have_attribute("data-recovery", "requested")
    expect(item).to_contain_text(f"Shopify: {per_day[-3] + 2} · Pinbridge received {per_day[-3]}")
    expect(item.locator(".pb-recovery")).to_contain_text("Waiting to check Shopify for")
    _shot(page, "23-recovery-requested")

    assert recovery.Recoveries()(now_utc()) == 1  # the worker's run
    db.session.rollback()
    expect(item).to_have_attribute("data-recovery", "done", timeout=15_000)
    expect(item.locator(".pb-recovery")).to_have_text(re.compile(
        r"^Found 2 orders Shopify never sent for \w{3} \d{1,2}\. They're being sent to Pinterest now\.$"))
    recovered = db.session.scalars(select(Event).where(Event.source == "reconcile")).all()
    assert len(recovered) == 2
    expect(_banner(page)).not_to_have_attribute("data-reason", "missing", timeout=15_000)
    _shot(page, "24-recovery-done")
    _phone(page, "24-recovery-done-390")
    app.config["SHOPIFY_HTTP_CLIENT"].close()
