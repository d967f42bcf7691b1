// Home: the status in one sentence, the setup guide, and the numbers; refreshes itself while open.
"use strict";

(() => {
  const { initial, api, failureText, toast, el, busy, appUrl, plural, when, ago, words, ready } = Pinbridge;
  const state = { settings: initial.settings, filter: "", pixel: initial.pixel, overview: initial, stats: initial.stats,
                  tagTouched: false };
  const COVERAGE = { em: "Email", ph: "Phone", ip_ua: "IP address and browser", click_id: "Pinterest click id", address: "Address" };
  const STATUS = {
    delivered: ["success", "Delivered"], failed: ["critical", "Failed"], pending: ["caution", "Waiting"],
    sending: ["info", "Sending"], skipped: ["neutral", "Skipped"],
  };
  const TONE = { not_configured: "warning", paused: "critical", disabled: "warning", delayed: "warning",
                 working: "success", waiting: "info" };
  const SERIES = [["delivered", "Delivered"], ["pending", "Waiting"], ["failed", "Failed"], ["skipped", "Skipped"]];

  // -- status ------------------------------------------------------------------------------------
  function renderStatus(overview) {
    const h = overview.health;
    const banner = document.getElementById("status-banner");
    banner.setAttribute("tone", TONE[h.state] || "info");
    let heading = h.heading || "Status";
    if (h.state === "delayed" && h.since) heading += " since " + when(h.since);
    banner.setAttribute("heading", heading);
    banner.dataset.state = h.state;
    banner.dataset.reason = h.reason || "";
    let text = h.message;
    if (h.state === "working" && h.last_success_at) text += " Last order delivered " + ago(h.last_success_at) + ".";
    document.getElementById("status-text").textContent = text;
    const step = document.getElementById("status-step");
    step.hidden = !h.next_step;
    step.textContent = h.next_step || "";
    words(document.getElementById("status-words"), h.pinterest_message);
    const action = document.getElementById("status-action");
    action.hidden = !h.action;
    if (h.action) {
      action.textContent = h.action.label;
      action.dataset.target = h.action.target;
      action.setAttribute("variant", "primary");
    }
    renderExpiry(h);
    const admin = document.getElementById("admin-api-banner");
    admin.hidden = overview.admin_api.connected;
    document.getElementById("admin-api-text").textContent =
      "Orders still reach Pinterest as Shopify sends them. Checking Shopify for orders it never sent to Pinbridge " +
      "needs this connection: reload the page to connect. " + (overview.admin_api.error || "");
  }

  function renderExpiry(h) {
    const banner = document.getElementById("expiry-banner");
    const soon = h.expiring && h.expiring.count;
    banner.hidden = !soon;
    if (!soon) return;
    const fix = h.state === "disabled" ? " Turn sending back on to send them in time."
      : h.state === "paused" ? " Fix the connection to send them in time." : "";
    document.getElementById("expiry-text").textContent =
      `${plural(h.expiring.count, "waiting order")} will expire ${when(h.expiring.at)} if not sent by then: ` +
      `Pinbridge keeps trying an order for ${h.max_age_hours} hours after it arrives.${fix}`;
  }

  async function statusAction(event) {
    const target = event.currentTarget.dataset.target;
    if (target === "verify") { await sendTest(event.currentTarget); return; }
    window.location.href = appUrl("/settings", target);
  }

  // -- setup guide -------------------------------------------------------------------------------
  function renderSetup(overview) {
    const s = overview.setup;
    // Done once the pixel reported a purchase with a Tag id saved (before that, it cannot have fired the Tag).
    const pixelDone = !!(state.pixel && state.pixel.reported && state.pixel.tag_id_saved);
    const steps = [
      ["connect", s.connected, "Connect Pinterest", "Add your Pinterest ad account id and conversion access token.",
       el("s-button", { "data-go": "ad_account_id" }, "Open settings")],
      ["test", s.test_event, "Send a test event", "Checks that Pinterest accepts your ad account id and token. Nothing shows in your reports.",
       el("s-button", { id: "setup-test-button", disabled: !s.connected }, "Send test event")],
      ["pixel", pixelDone, "Add the Pinterest Tag pixel", pixelStepText(),
       el("s-button", { "data-scroll": "pixel" }, "Show the code")],
      ["order", s.first_order, "First order delivered", "Place a test order in your store, or wait for your next order. It appears below once Pinterest accepts it.", null],
    ];
    const done = steps.filter((step) => step[1]).length;
    const section = document.getElementById("setup");
    section.hidden = done === steps.length;
    section.dataset.done = String(done);
    document.getElementById("setup-progress").textContent = `${done} of ${steps.length} steps done`;
    document.getElementById("setup-steps").replaceChildren(...steps.map(([key, ok, title, text, button], i) =>
      el("li", { class: "pb-step", "data-step": key, "data-done": ok ? "true" : "false" },
        el("span", { class: "pb-step-mark", "aria-hidden": "true" }, ok ? "✓" : String(i + 1)),
        el("div", { class: "pb-step-body" },
          el("strong", {}, title, el("span", { class: "pb-visually-hidden" }, ok ? " (done)" : " (to do)")),
          el("p", {}, text), ok ? null : button))));
    const test = document.getElementById("setup-test-button");
    if (test) test.addEventListener("click", (e) => sendTest(e.currentTarget));
    for (const button of section.querySelectorAll("[data-go]")) {
      button.addEventListener("click", () => { window.location.href = appUrl("/settings", button.dataset.go); });
    }
    for (const button of section.querySelectorAll("[data-scroll]")) {
      button.addEventListener("click", () => document.getElementById(button.dataset.scroll).scrollIntoView({ behavior: "smooth" }));
    }
  }

  // The pixel step's words: what is still missing for the Tag and Pinbridge to send one id per purchase.
  function pixelStepText() {
    const p = state.pixel || {};
    const todo = [];
    if (!p.tag_id_saved) todo.push("save your Pinterest Tag id and paste Pinbridge's code into Settings → Customer events");
    if (p.app_pixel && !p.app_pixel.connected) todo.push("allow Pinbridge's app pixel");
    todo.push("tell Pinbridge which other Pinterest tracking the shop has, so each purchase is sent once");
    return todo.join("; ").replace(/^./, (c) => c.toUpperCase()) + ". This step is checked once the pixel reports a purchase.";
  }

  async function sendTest(button) {
    if (state.testing) return;  // the guide redraws its buttons on refresh; one test at a time
    state.testing = true;
    await busy(button, async () => {
      const result = await api("POST", "/api/settings/verify");
      if (result.status === 0 || result.status >= 500) { toast(failureText(result), true); return; }
      toast(result.data.message || "No answer.", !result.data.ok);
      await refresh();
    }).finally(() => { state.testing = false; });
  }

  // -- numbers -----------------------------------------------------------------------------------
  function renderMetrics(stats, health) {
    const t = stats.totals, p50 = stats.latency.p50_seconds;
    const items = [
      ["received", "Orders received", t.orders_received], ["delivered", "Delivered", t.delivered],
      ["waiting", "Waiting now", health ? health.waiting : t.pending], ["failed", "Failed", t.failed],
      ["skipped", "Skipped", t.skipped],
      ["delay", "Typical time to Pinterest", p50 === null ? "—" : p50 < 90 ? Math.round(p50) + " s" : Math.round(p50 / 60) + " min"],
    ];
    document.getElementById("metrics").replaceChildren(...items.map(([key, label, value]) =>
      el("div", { class: "pb-metric", "data-key": key }, el("span", { class: "pb-metric-label" }, label),
         el("strong", { class: "pb-metric-value" }, String(value)))));
  }

  function dayLabel(day, opts) {
    return new Date(day + "T12:00:00Z").toLocaleDateString(undefined, { timeZone: "UTC", ...opts });
  }

  function counted(d) { return d.shopify_orders !== null && d.shopify_orders !== undefined; }

  function renderChart(stats) {
    const daily = stats.daily;
    const height = (d) => d.orders_received + (d.missing || 0);
    const max = Math.max(1, ...daily.map((d) => Math.max(height(d), counted(d) ? d.shopify_orders : 0)));
    const empty = daily.every((d) => d.orders_received === 0 && !d.shopify_orders);
    const columns = daily.map((d) => {
      const parts = SERIES.filter(([key]) => d[key] > 0).map(([key]) =>
        el("span", { class: "pb-seg pb-" + key, style: `flex-grow: ${d[key]}` }));
      // Orders Shopify has for the day that never reached Pinbridge sit on top, hatched.
      if (d.missing) parts.push(el("span", { class: "pb-seg pb-missing", style: `flex-grow: ${d.missing}` }));
      const summary = `${dayLabel(d.day, { month: "short", day: "numeric" })}: ${d.orders_received} received, ` +
        SERIES.map(([key, label]) => `${d[key]} ${label.toLowerCase()}`).join(", ") +
        (counted(d) ? `. Shopify: ${d.shopify_orders}` : "") + (d.missing ? `, ${d.missing} not received` : "");
      // Shopify's count for the day: a line across the column at its height.
      const marker = counted(d) ? el("span", { class: "pb-shopify", "data-missing": d.missing ? "true" : "false",
        style: `bottom: calc(20px + (100% - 36px) * ${d.shopify_orders / max})` }) : null;
      return el("div", { class: "pb-col", title: summary, "data-day": d.day },
        el("span", { class: "pb-total" }, d.orders_received ? String(d.orders_received) : ""),
        // The number above the bar keeps 16 px of the column, so bars and markers share one scale.
        el("span", { class: "pb-stack", style: `height: calc((100% - 16px) * ${height(d) / max})` }, ...parts),
        marker, el("span", { class: "pb-x" }, dayLabel(d.day, { day: "numeric" })));
    });
    const chart = document.getElementById("chart");
    chart.replaceChildren(el("div", { class: "pb-bars", "aria-hidden": "true" }, ...columns));
    const t = stats.totals, shopify = stats.shopify || {};
    chart.setAttribute("aria-label", `Orders per day, last ${daily.length} days: ${t.orders_received} received, ` +
      `${t.delivered} delivered, ${t.pending} waiting, ${t.failed} failed, ${t.skipped} skipped.` +
      (shopify.days_counted ? ` Shopify has ${shopify.orders} orders on the days it counted.` : ""));
    chart.dataset.empty = String(empty);
    const legend = SERIES.map(([key, label]) => el("span", {}, el("i", { class: "pb-swatch pb-" + key }), label));
    if (shopify.days_counted) legend.push(el("span", {}, el("i", { class: "pb-swatch pb-swatch-shopify" }), "Shopify's count"));
    if (daily.some((d) => d.missing)) legend.push(el("span", {}, el("i", { class: "pb-swatch pb-missing" }), "Not received"));
    document.getElementById("legend").replaceChildren(...legend);
    renderCompleteness(stats);
    const range = `${dayLabel(daily[0].day, { month: "short", day: "numeric" })} to ` +
      `${dayLabel(daily[daily.length - 1].day, { month: "short", day: "numeric" })}.`;
    const notes = [range, empty ? "No orders in the last 14 days yet. They appear here as Shopify sends them."
                         : "Each bar is the orders Shopify sent to Pinbridge that day, by what happened to them" +
                           (shopify.days_counted ? "; the line across it is Shopify's own count." : ".")];
    if (t.recovered) notes.push(`${plural(t.recovered, "order")} never arrived from Shopify on time and were found by checking Shopify directly.`);
    notes.push(stats.timezone && stats.timezone !== "UTC" ? `Days in your store's time zone (${stats.timezone}).`
                                                           : "Days in UTC.");
    if (shopify.days_counted) notes.push("Shopify's count for a day is added once the day is over.");
    document.getElementById("chart-note").textContent = notes.join(" ");
  }

  // One sentence on whether every order Shopify has reached Pinbridge, and the days that fell short.
  function renderCompleteness(stats) {
    const s = stats.shopify || {}, box = document.getElementById("completeness");
    const short = (day) => dayLabel(day, { month: "short", day: "numeric" });
    const span = s.first_day === s.last_day ? `on ${short(s.first_day)}` : `from ${short(s.first_day)} to ${short(s.last_day)}`;
    const health = (state.overview && state.overview.health) || {};
    let text, tone = "unknown", gaps = [];
    if (s.days_counted && s.missing) {
      tone = "missing";
      text = `Shopify has ${plural(s.missing, "order")} ${span} that Pinbridge didn't receive, so ` +
        `${s.missing === 1 ? "it wasn't" : "they weren't"} sent to Pinterest.`;
      gaps = stats.daily.filter((d) => d.missing);
    } else if (s.days_counted) {
      tone = "complete";
      text = `Every order Shopify has ${span} reached Pinbridge: ${plural(s.orders, "order")}.`;
    } else if (!s.connected) {
      text = "Shopify's own order count isn't shown yet: Pinbridge can't read your orders in Shopify until it's connected.";
    } else if (health.state === "not_configured" || health.state === "disabled") {
      text = "Shopify's own order count per day is shown once Pinterest is connected and sending is on.";
    } else {
      text = "Shopify's own order count per day is shown here after Pinbridge next checks your orders in Shopify, " +
        "once a whole day has passed since you installed it.";
    }
    box.dataset.tone = tone;
    const children = [el("p", { id: "completeness-text" }, text)];  // replaceChildren would print a null as "null"
    if (gaps.length) {
      children.push(el("ul", { class: "pb-gaps" }, ...gaps.map((d) => el("li", { "data-day": d.day },
        el("strong", {}, short(d.day)), ` Shopify: ${d.shopify_orders} · Pinbridge received ${d.pinbridge_orders}`))));
    }
    box.replaceChildren(...children);
  }

  function renderCoverage(coverage) {
    const rows = Object.entries(COVERAGE).map(([key, label]) => {
      const share = coverage.share[key];
      const percent = share === null || share === undefined ? null : Math.round(share * 100);
      return el("div", { class: "pb-coverage-row", "data-key": key }, el("span", { class: "pb-coverage-label" }, label),
                el("span", { class: "pb-track" }, el("span", { class: "pb-fill", style: `width: ${percent || 0}%` })),
                el("span", { class: "pb-coverage-value" }, percent === null ? "—" : percent + "%"));
    });
    const note = coverage.delivered ? `Based on ${plural(coverage.delivered, "delivered order")}.` : "Shown once orders are delivered.";
    document.getElementById("coverage").replaceChildren(...rows, el("p", { class: "pb-note" }, note));
  }

  function detailsCell(ev) {
    const reason = ev.reason || (ev.status === "delivered" ? "Accepted by Pinterest" : ev.status === "pending" ? "About to be sent" : "—");
    const cell = el("div", { class: "pb-reason" }, el("span", {}, reason));
    const pinterest = ev.pinterest_message || ev.warning;
    if (pinterest && pinterest !== reason) {
      cell.append(el("details", { class: "pb-words" }, el("summary", {}, "Pinterest's answer"), el("p", {}, pinterest)));
    }
    return cell;
  }

  function renderEvents(events) {
    const box = document.getElementById("events");
    if (!events.length) {
      box.replaceChildren(el("p", { class: "pb-empty" }, state.filter ? "No orders with this status." :
        "No orders yet. They appear here as they come in, and so do test events."));
      return;
    }
    const head = el("s-table-header-row", {}, ...["Order", "Status", "Value", "Details"].map((t) => el("s-table-header", {}, t)));
    const rows = events.map((ev) => {
      const [tone, label] = STATUS[ev.status] || ["neutral", ev.status];
      const name = el("div", {}, el("span", { class: "pb-nowrap" }, ev.order_name || "—"));
      if (ev.test) name.append(" ", el("s-badge", {}, "Test"));
      name.append(el("div", { class: "pb-sub" }, when(ev.received_at)));
      return el("s-table-row", { "data-status": ev.status },
        el("s-table-cell", {}, name), el("s-table-cell", {}, el("s-badge", { tone }, label)),
        el("s-table-cell", {}, el("span", { class: "pb-nowrap" }, ev.value ? `${ev.value} ${ev.currency || ""}` : "—")),
        el("s-table-cell", {}, detailsCell(ev)));
    });
    box.replaceChildren(el("s-table", {}, head, el("s-table-body", {}, ...rows)));
  }

  function renderDataRequests(requests) {
    const box = document.getElementById("data-requests");
    if (!requests.length) { box.replaceChildren(el("p", { class: "pb-empty" }, "No customer data requests.")); return; }
    box.replaceChildren(el("ul", { class: "pb-requests" }, ...requests.map((r) => el("li", {},
      `${new Date(r.received_at).toLocaleDateString(undefined, { dateStyle: "medium" })}: a customer asked about ` +
      `${plural(r.orders_requested, "order")}. Pinbridge holds ${plural(r.events_held, "record")} about them, all hashed.`))));
  }

  // -- pixel -------------------------------------------------------------------------------------
  // The card says what reached Pinbridge (the pixel's message for a purchase), never what Pinterest received.
  function renderPixel() {
    const p = state.pixel;
    const card = document.getElementById("pixel-card");
    card.replaceChildren(el("s-banner", { id: "dedup-card", tone: p.tone, heading: p.headline,
                                          "data-tone": p.tone, "data-reported": p.reported ? "true" : "false" },
      el("s-paragraph", {}, p.advice),
      p.last_reported_at ? el("s-paragraph", {}, `Last message from the pixel ${ago(p.last_reported_at)}.`) : null));
    renderAppPixel(p.app_pixel);
    const field = document.getElementById("tag-id");
    const typed = (field.value || "").trim();
    const unsaved = typed !== (p.tag_id || "");
    const copy = document.getElementById("copy-button");
    // Never a placeholder on the clipboard: the code exists only for a saved Tag id, and only as saved.
    const canCopy = !!p.snippet && !unsaved;
    copy.toggleAttribute("disabled", !canCopy);
    copy.dataset.ready = canCopy ? "true" : "false";
    document.getElementById("tag-save").toggleAttribute("disabled", !unsaved);
    const pre = document.getElementById("snippet");
    pre.hidden = !p.snippet;
    pre.textContent = p.snippet || "";
    document.getElementById("snippet-advice").textContent = !p.snippet
      ? "Save your Pinterest Tag id to get the code: it is filled in for this shop, ready to paste."
      : unsaved ? "Save the Tag id to update the code below." : (p.advice_by_source || "");
  }

  function renderAppPixel(a) {
    const box = document.getElementById("app-pixel");
    if (!a) { box.replaceChildren(); return; }
    let tone, text, button = null;
    if (a.connected && a.up_to_date) {
      tone = "success"; text = "Pinbridge's app pixel is on: it reports the click id, the buyer's consent and the id the Tag used, with nothing to paste.";
    } else if (a.connected) {
      tone = "warning"; text = "Pinbridge's app pixel is on, with settings older than the shop's.";
      button = el("s-button", { id: "app-pixel-button" }, "Update the app pixel");
    } else if (a.shopify_error) {
      tone = "critical"; text = a.shopify_error;
      button = el("s-button", { id: "app-pixel-button" }, "Try again");
    } else if (!a.granted) {
      tone = "warning"; text = "Pinbridge's app pixel is off: Shopify needs your permission to let Pinbridge manage its pixel. " + a.declined_loses;
      button = el("s-button", { id: "app-pixel-button", variant: "primary" }, "Allow and switch on");
    } else {
      tone = "critical"; text = a.error || "Pinbridge's app pixel is not on yet.";
      button = el("s-button", { id: "app-pixel-button" }, "Try again");
    }
    box.replaceChildren(el("div", { class: "pb-answer", "data-tone": tone, id: "app-pixel-state",
                                    "data-connected": a.connected ? "true" : "false" },
      el("p", {}, text), button));
    if (button) button.addEventListener("click", (e) => switchOnAppPixel(e.currentTarget));
    // On, with older settings (the order reference changed): update it once, without asking.
    if (a.connected && !a.up_to_date && !state.appPixelUpdating) {
      state.appPixelUpdating = true;
      api("POST", "/api/pixel/connect", {}).then((result) => {
        if (!result.failed) { state.pixel = { ...state.pixel, app_pixel: result.data.app_pixel }; renderPixel(); }
      });
    }
  }

  // Ask Shopify for the optional scopes (App Bridge's Scopes API), then let the server create the pixel.
  async function switchOnAppPixel(button) {
    await busy(button, async () => {
      const a = state.pixel.app_pixel;
      if (!a.granted && window.shopify && window.shopify.scopes) {
        let answer;
        try { answer = await window.shopify.scopes.request(a.scopes); } catch (error) { answer = null; }
        if (!answer || answer.result !== "granted-all") {
          toast("Not allowed: the app pixel stays off. " + a.declined_loses, true);
          return;
        }
      }
      const result = await api("POST", "/api/pixel/connect", {});
      if (result.failed) { toast(failureText(result), true); return; }
      state.pixel = { ...state.pixel, app_pixel: result.data.app_pixel };
      toast(result.data.app_pixel.connected ? "Pinbridge's app pixel is on" : (result.data.app_pixel.error || "Not switched on"),
            !result.data.app_pixel.connected);
      renderPixel();
    });
  }

  async function saveTagId(button) {
    await busy(button, async () => {
      const value = (document.getElementById("tag-id").value || "").trim();
      const result = await api("PUT", "/api/settings", { tag_id: value });
      const field = document.getElementById("tag-id");
      if (result.status === 422) {
        field.setAttribute("error", (result.data.errors || {}).tag_id || "Check the Tag id.");
        return;
      }
      if (result.failed) { toast(failureText(result), true); return; }
      field.removeAttribute("error");
      state.settings = result.data;
      await loadPixel();
      toast(value ? "Tag id saved: copy the code below" : "Tag id removed");
      renderPixel();
      renderSetup(state.overview);
    });
  }

  async function copyCode() {
    const p = state.pixel;
    if (!p.snippet) return;
    const ok = await navigator.clipboard.writeText(p.snippet).then(() => true, () => false);
    toast(ok ? "Code copied: paste it in Settings → Customer events" : "Couldn't copy: select the code and copy it by hand.", !ok);
  }

  // Other Pinterest tracking: the usual sources of a second Tag or a second sender, and what to do for each.
  const OTHER_TRACKING = [
    ["pinterest_app", "Pinterest's own Shopify app (the Pinterest sales channel)",
     "Pinterest's app loads its own Tag and can send its own Conversions API purchases, with ids Pinbridge cannot know, so each purchase may be counted twice. " +
     "Check Settings → Customer events → App pixels: if Pinterest is listed and offers Disconnect, disconnect it there and keep the app for your catalogue. " +
     "Pinbridge found no public way to turn off the Pinterest app's server events without uninstalling it (which also stops the catalogue sync). " +
     "If you cannot turn its tracking off, choose one sender: keep Pinterest's app for purchases and turn Pinbridge's sending off in Settings, or keep Pinbridge and remove the Pinterest app's tracking."],
    ["theme", "Pinterest Tag code in the theme",
     "Online Store → Themes → … → Edit code: search for pintrk or s.pinimg.com/ct/core.js (theme.liquid, snippets) and remove the checkout tracking; Pinbridge's pixel fires the Tag's checkout."],
    ["gtm", "Google Tag Manager",
     "In the container, pause any \"Pinterest Tag\" tag or Custom HTML tag with pintrk that fires on purchase; keep only Pinbridge's."],
    ["other_pixel", "Another app's or custom pixel with the Pinterest Tag",
     "Settings → Customer events: disconnect any other custom or app pixel that fires the Pinterest Tag's checkout."],
    ["additional_scripts", "Additional scripts on the order status page",
     "Settings → Checkout → Order status page → Additional scripts: remove the Pinterest Tag. Shopify is retiring these scripts in 2026."],
  ];

  function renderOtherTracking() {
    const list = document.getElementById("other-tracking-list");
    if (list.childElementCount) return;
    list.replaceChildren(...OTHER_TRACKING.map(([key, label]) => el("label", { class: "pb-check" },
      el("input", { type: "checkbox", name: "other_tracking", value: key }), " ", label)));
    list.addEventListener("change", () => {
      const chosen = [...list.querySelectorAll("input:checked")].map((box) => box.value);
      const advice = document.getElementById("other-tracking-advice");
      advice.replaceChildren(...OTHER_TRACKING.filter(([key]) => chosen.includes(key)).map(([key, label, text]) =>
        el("div", { class: "pb-answer", "data-tone": key === "pinterest_app" ? "critical" : "", "data-source": key },
          el("p", {}, el("strong", {}, label + ": "), text))));
      if (!chosen.length) advice.replaceChildren();
    });
  }

  async function loadPixel() {
    const result = await api("GET", "/api/pixel");
    if (result.status !== 200) return;
    state.pixel = result.data;
    const field = document.getElementById("tag-id");
    if (!state.tagTouched) field.value = state.pixel.tag_id || "";
  }

  // -- refresh -----------------------------------------------------------------------------------
  async function refresh() {
    const [stats, events, overview] = await Promise.all([
      api("GET", "/api/stats?days=14"),
      api("GET", "/api/events?limit=10" + (state.filter ? "&status=" + state.filter : "")),
      api("GET", "/api/status"),
      loadPixel(),
    ]);
    const failed = [stats, events, overview].find((r) => r.failed);
    const error = document.getElementById("request-error");
    error.hidden = !failed;
    if (failed) document.getElementById("request-error-text").textContent = failureText(failed) + " The numbers below may be out of date.";
    if (overview.status === 200) { state.overview = overview.data; renderStatus(overview.data); renderDataRequests(overview.data.data_requests); }
    if (stats.status === 200) { state.stats = stats.data; renderChart(stats.data); renderCoverage(stats.data.coverage); }
    renderMetrics(state.stats, state.overview.health);
    if (events.status === 200) renderEvents(events.data.events);
    renderSetup(state.overview);
    renderPixel();
    document.body.dataset.refreshed = String(Date.now());
  }

  function wire() {
    document.getElementById("status-action").addEventListener("click", statusAction);
    document.getElementById("event-filter").addEventListener("change", (e) => { state.filter = e.currentTarget.value; refresh(); });
    document.getElementById("retry-button").addEventListener("click", (e) => busy(e.currentTarget, async () => {
      const result = await api("POST", "/api/events/retry", {});
      if (result.failed) { toast(failureText(result), true); return; }
      toast(result.data.retried ? `${plural(result.data.retried, "order")} will be sent again.` :
        `No failed orders from the last ${initial.max_age_hours} hours to retry.`);
      await refresh();
    }));
    const tag = document.getElementById("tag-id");
    const typed = () => { state.tagTouched = true; renderPixel(); };
    tag.addEventListener("input", typed);
    tag.addEventListener("change", typed);
    document.getElementById("tag-save").addEventListener("click", (e) => saveTagId(e.currentTarget));
    document.getElementById("copy-button").addEventListener("click", copyCode);
    // Keep the numbers current while the page is open and visible.
    setInterval(() => { if (document.visibilityState === "visible") refresh(); }, initial.poll_seconds * 1000);
    document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") refresh(); });
  }

  ready(() => {
    wire();
    document.getElementById("tag-id").value = initial.pixel.tag_id || "";
    renderStatus(initial);
    renderMetrics(initial.stats, initial.health);
    renderChart(initial.stats);
    renderCoverage(initial.stats.coverage);
    renderEvents(initial.events);
    renderDataRequests(initial.data_requests);
    renderSetup(initial);
    renderPixel();
    renderOtherTracking();
    document.body.dataset.ready = "true";
  });
})();
