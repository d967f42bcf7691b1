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
                 working: "success", waiting: "info", attention: "warning" };
  const SERIES = [["delivered", "Delivered"], ["pending", "Waiting"], ["failed", "Failed"], ["skipped", "Skipped"]];

  // A moment in the shop's time zone, named, as the status's own times are written.
  function shopTime(iso) {
    if (!iso) return "—";
    const zone = (state.stats && state.stats.timezone) || "UTC";
    const options = { month: "short", day: "numeric", hour: "numeric", minute: "2-digit", timeZoneName: "short" };
    try { return new Date(iso).toLocaleString(undefined, { ...options, timeZone: zone }); }
    catch (error) { return when(iso); }
  }

  // -- status ------------------------------------------------------------------------------------
  function renderStatus(overview) {
    const h = overview.health;
    const banner = document.getElementById("status-banner");
    banner.setAttribute("tone", h.tone || TONE[h.state] || "info");
    let heading = h.heading || "Status";
    if (h.state === "delayed" && h.since) heading += " since " + shopTime(h.since);
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
      action.dataset.target = h.action.target || "";
      action.dataset.url = h.action.url || "";
      action.dataset.days = (h.days || []).join(" ");
      action.setAttribute("variant", "primary");
    }
    renderProblems(h.problems || []);
  }

  // Every other current problem, listed under the status: heading, sentence and its own next step.
  function renderProblems(problems) {
    const box = document.getElementById("status-problems");
    box.hidden = !problems.length;
    document.getElementById("status-problems-title").textContent =
      problems.length === 1 ? "Also needs your attention:" : `Also needs your attention (${problems.length}):`;
    document.getElementById("status-problem-list").replaceChildren(...problems.map((p) =>
      el("li", { class: "pb-problem", "data-problem": p.key },
        el("strong", {}, p.heading), el("span", { class: "pb-problem-text" }, " " + p.message), problemAction(p))));
  }

  function problemAction(p) {
    const a = p.action;
    if (!a) return null;
    if (a.url) return el("span", {}, " ", el("a", { class: "pb-link", href: a.url, target: "_blank", rel: "noopener" }, a.label));
    const button = el("button", { type: "button", class: "pb-link-button", "data-target": a.target,
                                  "data-days": (p.days || []).join(" ") }, a.label);
    button.addEventListener("click", (e) => runAction(e.currentTarget, a.target, p.days || [], a.url));
    return el("span", {}, " ", button);
  }

  async function statusAction(event) {
    const button = event.currentTarget;
    const days = button.dataset.days ? button.dataset.days.split(" ") : [];
    await runAction(button, button.dataset.target, days, button.dataset.url);
  }

  // One place that knows what each next step does on this page.
  async function runAction(button, target, days, url) {
    if (url) { window.open(url, "_blank", "noopener"); return; }
    if (target === "verify") { await sendTest(button); return; }
    if (target === "failed-orders") { showFailedOrders(); return; }
    if (target === "recover") { await busy(button, () => recoverDays(days)); return; }
    if (target === "pixel") { document.getElementById("pixel").scrollIntoView({ behavior: "smooth" }); return; }
    if (target === "reload") { window.location.reload(); return; }
    window.location.href = appUrl("/settings", target);
  }

  function showFailedOrders() {
    const filter = document.getElementById("event-filter");
    filter.value = "failed";
    const select = filter.querySelector("select");
    if (select) select.value = "failed";
    state.filter = "failed";
    refresh().then(() => document.getElementById("events").scrollIntoView({ behavior: "smooth" }));
  }

  // -- recovering a day's orders from Shopify -------------------------------------------------------
  async function recoverDays(days) {
    const asked = [];
    for (const day of days) {
      const result = await api("POST", "/api/recoveries", { day });
      if (result.status === 202) asked.push(day);
      else if (result.data && (result.data.message || (result.data.errors && result.data.errors.day))) {
        toast(result.data.message || result.data.errors.day, true);
      } else toast(failureText(result), true);
    }
    if (asked.length) toast(`Checking Shopify for ${plural(asked.length, "day")} of orders`);
    await refresh();
  }

  function recoveryFor(day) {
    return ((state.overview && state.overview.recoveries) || []).find((r) => r.day === day) || null;
  }

  // What a day's recovery is doing, or has done, in one sentence.
  function recoveryText(r) {
    const day = dayLabel(r.day, { month: "short", day: "numeric" });
    if (r.status === "requested") return `Waiting to check Shopify for ${day}…`;
    if (r.status === "running") return `Checking Shopify for ${day}'s orders…`;
    if (r.status === "failed") return r.message;
    if (!r.found) return `Checked ${r.seen === 1 ? "the 1 order" : "all " + r.seen + " orders"} Shopify has for ${day}: none was missing.`;
    return `Found ${plural(r.found, "order")} Shopify never sent for ${day}. ${r.found === 1 ? "It's" : "They're"} being sent to Pinterest now.`;
  }

  // -- setup guide -------------------------------------------------------------------------------
  // Shopify's setup-guide pattern: required steps first, the optional one marked, progress counting only
  // the required ones, and a dismissal the server remembers.
  function renderSetup(overview) {
    const s = overview.setup;
    // Done once the pixel reported a purchase with a Tag id saved (before that, it cannot have fired the Tag).
    const pixelDone = !!((s.pixel || (state.pixel && state.pixel.reported)) && state.pixel && state.pixel.tag_id_saved);
    const steps = [
      ["connect", s.connected, false, "Connect Pinterest",
       s.refused ? "Pinterest refused your saved token or ad account id. Update them in Settings."
                 : "Add your Pinterest ad account id and conversion access token.",
       el("s-button", { "data-go": "ad_account_id" }, "Open settings")],
      ["test", s.test_event, false, "Send a test event", "Checks that Pinterest accepts your ad account id and token. Nothing shows in your reports.",
       el("s-button", { id: "setup-test-button", disabled: !s.connected }, "Send test event")],
      ["order", s.first_order, false, "First order delivered", "Place a test order in your store, or wait for your next order. It appears below once Pinterest accepts it.", null],
      ["pixel", pixelDone, true, "Add the Pinterest Tag pixel", pixelStepText(),
       el("s-button", { "data-scroll": "pixel" }, "Show the code")],
    ];
    const required = steps.filter((step) => !step[2]);
    const done = required.filter((step) => step[1]).length;
    const complete = done === required.length;
    const section = document.getElementById("setup");
    section.hidden = s.dismissed || (complete && pixelDone);
    document.getElementById("setup-restore").hidden = !s.dismissed;
    section.dataset.done = String(done);
    section.dataset.complete = String(complete);
    document.getElementById("setup-progress").textContent = complete
      ? "Pinbridge is set up. One optional step is left." : `${done} of ${required.length} steps done`;
    document.getElementById("setup-steps").replaceChildren(...steps.map(([key, ok, optional, title, text, button], i) =>
      el("li", { class: "pb-step", "data-step": key, "data-done": ok ? "true" : "false", "data-optional": optional ? "true" : "false" },
        el("span", { class: "pb-step-mark", "aria-hidden": "true" }, ok ? "✓" : String(i + 1)),
        el("div", { class: "pb-step-body" },
          el("strong", {}, title, optional ? el("s-badge", { class: "pb-optional" }, "Optional") : null,
             el("span", { class: "pb-visually-hidden" }, ok ? " (done)" : " (to do)")),
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

  async function dismissSetup(dismissed, button) {
    await busy(button, async () => {
      const result = await api("PUT", "/api/setup", { dismissed });
      if (result.failed) { toast(failureText(result), true); return; }
      state.overview.setup.dismissed = dismissed;
      renderSetup(state.overview);
      if (!dismissed) document.getElementById("setup").scrollIntoView({ behavior: "smooth" });
    });
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
      children.push(el("ul", { class: "pb-gaps" }, ...gaps.map((d) => gapItem(d, short))));
    }
    // Days checked again lately that no longer fall short: what the check found stays in view for a day.
    const gapDays = new Set(gaps.map((d) => d.day));
    const recent = ((state.overview && state.overview.recoveries) || []).filter((r) => !gapDays.has(r.day) &&
      (!r.finished_at || Date.now() - new Date(r.finished_at).getTime() < 86400000));
    if (recent.length) {
      children.push(el("ul", { class: "pb-gaps pb-recovered" }, ...recent.map((r) =>
        el("li", { "data-day": r.day, "data-recovery": r.status },
          el("strong", {}, short(r.day)), el("span", { class: "pb-recovery", role: "status" }, recoveryText(r))))));
    }
    box.replaceChildren(...children);
  }

  // A day Shopify has more orders for: the counts, and recovering them (or how that went).
  function gapItem(d, short) {
    const r = recoveryFor(d.day);
    const item = el("li", { "data-day": d.day, "data-recovery": r ? r.status : "none" },
      el("strong", {}, short(d.day)), ` Shopify: ${d.shopify_orders} · Pinbridge received ${d.pinbridge_orders}`);
    if (r) item.append(el("div", { class: "pb-recovery", role: "status" }, recoveryText(r)));
    const open = r && (r.status === "requested" || r.status === "running");
    // The day is too old once it ended more than 7 days ago (Pinterest accepts orders up to 7 days old).
    const tooOld = (Date.now() - new Date(d.day + "T00:00:00Z").getTime()) / 86400000 > 8;
    if (open) return item;
    if (tooOld) {
      if (!r) item.append(el("div", { class: "pb-recovery" }, "Too old to send: Pinterest accepts orders up to 7 days old."));
      return item;
    }
    const button = el("button", { type: "button", class: "pb-link-button", "data-recover": d.day },
      r && r.status === "failed" ? "Try again" : r ? "Check again" : "Recover these orders");
    button.addEventListener("click", (e) => busy(e.currentTarget, () => recoverDays([d.day])));
    item.append(" ", button);
    return item;
  }

  // The customer-details problem, wherever the status put it: the details Shopify leaves out.
  function withheldDetails() {
    const h = (state.overview && state.overview.health) || {};
    const all = [h.state === "attention" ? { key: h.reason, withheld: h.withheld } : null, ...(h.problems || [])];
    const found = all.find((p) => p && p.key === "customer_details");
    return new Set((found && found.withheld) || []);
  }

  function renderCoverage(coverage) {
    const withheld = withheldDetails();
    const detail = { em: "email", ph: "phone", address: "address" };
    const rows = Object.entries(COVERAGE).map(([key, label]) => {
      const share = coverage.share[key];
      const percent = share === null || share === undefined ? null : Math.round(share * 100);
      const row = el("div", { class: "pb-coverage-row", "data-key": key }, el("span", { class: "pb-coverage-label" }, label),
                el("span", { class: "pb-track" }, el("span", { class: "pb-fill", style: `width: ${percent || 0}%` })),
                el("span", { class: "pb-coverage-value" }, percent === null ? "—" : percent + "%"));
      // Never a silent 0%: say when it's Shopify leaving the detail out.
      if (withheld.has(detail[key])) row.append(el("p", { class: "pb-coverage-why" }, "Shopify isn't sending this: see the note at the top of the page."));
      return row;
    });
    const note = coverage.delivered ? `Based on ${plural(coverage.delivered, "delivered order")}.` : "Shown once orders are delivered.";
    document.getElementById("coverage").replaceChildren(...rows, el("p", { class: "pb-note" }, note));
  }

  // The reason in the merchant's words, its next step, and Pinterest's own words one click away.
  function detailsCell(ev) {
    const reason = ev.reason || (ev.status === "delivered" ? "Accepted by Pinterest." : "—");
    const cell = el("div", { class: "pb-reason" }, el("span", { class: "pb-reason-text" }, reason));
    const step = ev.next_step;
    if (step) {
      cell.append(el("p", { class: "pb-next" }, step.text));
      const actions = el("div", { class: "pb-row-actions" });
      if (step.retry) {
        const retry = el("button", { type: "button", class: "pb-link-button", "data-retry": ev.event_id }, "Retry this order");
        retry.addEventListener("click", (e) => retryOrders(e.currentTarget, [ev.event_id]));
        actions.append(retry);
      }
      if (step.target) {
        const go = el("button", { type: "button", class: "pb-link-button" }, step.label || "Open settings");
        go.addEventListener("click", () => { window.location.href = appUrl("/settings", step.target); });
        actions.append(go);
      }
      if (actions.childNodes.length) cell.append(actions);
      if (step.reference) cell.append(el("p", { class: "pb-sub pb-ref" }, "Order reference: ", el("code", {}, step.reference)));
    }
    const pinterest = ev.pinterest_message || ev.warning;
    if (pinterest && pinterest !== reason) {
      cell.append(el("details", { class: "pb-words" }, el("summary", {}, "Pinterest's answer"), el("p", {}, pinterest)));
    }
    return cell;
  }

  async function retryOrders(button, ids) {
    await busy(button, async () => {
      const result = await api("POST", "/api/events/retry", ids ? { event_ids: ids } : {});
      if (result.failed) { toast(failureText(result), true); return; }
      toast(result.data.retried ? `${plural(result.data.retried, "order")} will be sent again.` :
        `No failed orders from the last ${initial.max_age_hours} hours to retry.`);
      await refresh();
    });
  }

  // A plain table: on a phone each row becomes a card whose cells keep their column's name.
  function renderEvents(events) {
    const box = document.getElementById("events");
    if (!events.length) {
      box.replaceChildren(el("p", { class: "pb-empty" }, state.filter ? "No orders with this status." :
        "No orders yet. They appear here as they come in, and so do test events."));
      return;
    }
    const columns = ["Order", "Status", "Value", "Details"];
    const head = el("thead", {}, el("tr", {}, ...columns.map((t) => el("th", { scope: "col" }, t))));
    const rows = events.map((ev) => {
      const [tone, label] = STATUS[ev.status] || ["neutral", "Other"];
      const name = el("div", {}, el("span", { class: "pb-nowrap pb-order-name" }, ev.order_name || "—"));
      if (ev.test) name.append(" ", el("s-badge", {}, "Test"));
      name.append(el("div", { class: "pb-sub" }, shopTime(ev.received_at)));
      return el("tr", { class: "pb-order", "data-status": ev.status },
        el("td", { "data-label": columns[0] }, name),
        el("td", { "data-label": columns[1] }, el("s-badge", { tone }, label)),
        el("td", { "data-label": columns[2] }, el("span", { class: "pb-nowrap" }, ev.value ? `${ev.value} ${ev.currency || ""}` : "—")),
        el("td", { "data-label": columns[3] }, detailsCell(ev)));
    });
    box.replaceChildren(el("table", { class: "pb-orders" }, el("caption", { class: "pb-visually-hidden" }, "Recent orders"),
      head, el("tbody", {}, ...rows)));
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
    followRecoveries();
    document.body.dataset.refreshed = String(Date.now());
  }

  // While Shopify is being read for a day, look again every few seconds rather than every poll.
  function followRecoveries() {
    const open = ((state.overview && state.overview.recoveries) || [])
      .some((r) => r.status === "requested" || r.status === "running");
    if (open && !state.following) {
      state.following = setTimeout(() => { state.following = null; refresh(); }, 2000);
    }
  }

  function wire() {
    document.getElementById("status-action").addEventListener("click", statusAction);
    document.getElementById("event-filter").addEventListener("change", (e) => { state.filter = e.currentTarget.value; refresh(); });
    document.getElementById("retry-button").addEventListener("click", (e) => retryOrders(e.currentTarget, null));
    document.getElementById("setup-dismiss").addEventListener("click", (e) => dismissSetup(true, e.currentTarget));
    document.getElementById("setup-show").addEventListener("click", (e) => dismissSetup(false, e.currentTarget));
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
