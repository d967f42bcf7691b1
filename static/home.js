// Pinbridge settings and health page. Plain JavaScript, no build step.
// App Bridge (window.shopify) supplies session tokens; Polaris web components render the controls.
"use strict";

const initial = JSON.parse(document.getElementById("initial-data").textContent);
const state = { settings: initial.settings, filter: "" };
const FLAGS = ["enabled", "test_mode", "include_offline_orders", "limited_data_processing"];
const CHOICES = ["event_id_source", "content_id_source", "value_mode", "currency_mode"];
const COVERAGE = { em: "Email", ph: "Phone", ip_ua: "IP + browser", click_id: "Pinterest click id", address: "Address" };
const STATUS = {
  delivered: ["success", "Delivered"], failed: ["critical", "Failed"], pending: ["attention", "Waiting"],
  sending: ["info", "Sending"], skipped: ["neutral", "Skipped"],
};
const BANNER = {
  not_configured: ["warning", "Not configured"], paused: ["critical", "Delivery paused"],
  disabled: ["warning", "Sending is off"], delayed: ["warning", "Delivery delayed"],
  working: ["success", "Working"], waiting: ["info", "Connected"],
};
const SVG = "http://www.w3.org/2000/svg";

// -- talking to the server -----------------------------------------------------------------------
async function api(method, path, body, retried) {
  const token = await window.shopify.idToken();
  const response = await fetch(path, {
    method,
    headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401 && response.headers.get("X-Shopify-Retry-Invalid-Session-Request") && !retried) {
    return api(method, path, body, true);  // the token went stale: App Bridge hands out a fresh one
  }
  const data = await response.json().catch(() => ({}));
  return { status: response.status, data };
}

function toast(message, isError) {
  if (window.shopify && window.shopify.toast) window.shopify.toast.show(message, { isError: !!isError });
}

function field(name) { return document.querySelector(`[name="${name}"]`); }

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) node.append(child);
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

// -- settings ------------------------------------------------------------------------------------
function showErrors(errors) {
  for (const name of ["ad_account_id", "access_token", ...FLAGS, ...CHOICES]) {
    const input = field(name);
    if (!input) continue;
    if (errors[name]) input.setAttribute("error", errors[name]); else input.removeAttribute("error");
  }
}

function applySettings(settings, clearToken) {
  state.settings = settings;
  const token = field("access_token");
  if (clearToken) token.value = "";
  token.setAttribute("placeholder", settings.has_access_token ? "•••• " + (settings.access_token_last4 || "") : "Paste the token");
  renderSnippet();
}

async function save(changes, clearToken) {
  const { status, data } = await api("PUT", "/api/settings", changes);
  if (status === 422) {
    showErrors(data.errors || {});
    toast("Not saved: check the highlighted fields.", true);
    return false;
  }
  if (status !== 200) { toast("Not saved: the server answered " + status + ".", true); return false; }
  showErrors({});
  applySettings(data, clearToken);
  toast("Saved");
  await refresh();
  return true;
}

async function saveConnection() {
  const changes = { ad_account_id: field("ad_account_id").value.trim() };
  const token = field("access_token").value.trim();
  if (token) changes.access_token = token;
  return save(changes, true);
}

async function verify() {
  const answer = document.getElementById("verify-result");
  answer.textContent = "Sending a test event…";
  answer.dataset.tone = "";
  const { data } = await api("POST", "/api/settings/verify");
  answer.textContent = data.message || "No answer.";
  answer.dataset.tone = data.ok ? "success" : "critical";
  if (data.settings) applySettings(data.settings, false);
  await refresh();
}

// -- dashboard -----------------------------------------------------------------------------------
function renderBanner(overview) {
  const [tone, heading] = BANNER[overview.health.state] || ["info", "Status"];
  const banner = document.getElementById("status-banner");
  banner.setAttribute("tone", tone);
  banner.setAttribute("heading", heading);
  banner.dataset.state = overview.health.state;
  document.getElementById("status-text").textContent = overview.health.message;
  const admin = document.getElementById("admin-api-banner");
  admin.hidden = overview.admin_api.connected;
  document.getElementById("admin-api-text").textContent =
    "Orders still reach Pinterest through webhooks. Recovering orders whose webhook never arrived " +
    "(reconciliation) needs the Admin API; reload this page to connect. " + (overview.admin_api.error || "");
}

function renderMetrics(stats) {
  const t = stats.totals, p50 = stats.latency.p50_seconds;
  const items = [
    ["Orders received", t.orders_received], ["Delivered", t.delivered], ["Failed", t.failed],
    ["Skipped", t.skipped], ["Recovered", t.recovered],
    ["Median delay", p50 === null ? "—" : p50 < 90 ? Math.round(p50) + " s" : Math.round(p50 / 60) + " min"],
  ];
  document.getElementById("metrics").replaceChildren(...items.map(([label, value]) =>
    el("div", { class: "pb-metric" }, el("span", { class: "pb-metric-label" }, label),
       el("strong", { class: "pb-metric-value" }, String(value)))));
}

function renderChart(daily) {
  const width = 720, height = 200, left = 32, bottom = 24, top = 8;
  const max = Math.max(4, ...daily.map((d) => Math.max(d.orders_received, d.delivered, d.failed)));
  const step = (width - left) / daily.length, bar = Math.min(10, (step - 6) / 3);
  const y = (v) => top + (height - top - bottom) * (1 - v / max);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "pb-chart-svg" });
  for (const tick of [0, Math.round(max / 2), max]) {
    chart.append(svg("line", { x1: left, x2: width, y1: y(tick), y2: y(tick), class: "pb-grid" }));
    chart.append(svg("text", { x: left - 6, y: y(tick) + 4, class: "pb-axis", "text-anchor": "end" }, tick));
  }
  daily.forEach((d, i) => {
    const x = left + i * step + (step - 3 * bar) / 2;
    [["orders_received", "pb-received"], ["delivered", "pb-delivered"], ["failed", "pb-failed"]].forEach(([key, cls], j) => {
      const rect = svg("rect", { x: x + j * bar, y: y(d[key]), width: bar - 1, height: Math.max(0, y(0) - y(d[key])),
                                 rx: 2, class: "pb-bar " + cls });
      rect.append(svg("title", {}, `${d.day}: ${d[key]} ${key.replace("_", " ")}`));
      chart.append(rect);
    });
    if (i % 2 === daily.length % 2 || daily.length <= 7) {
      const label = new Date(d.day + "T00:00:00Z").toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
      chart.append(svg("text", { x: left + i * step + step / 2, y: height - 6, class: "pb-axis", "text-anchor": "middle" }, label));
    }
  });
  document.getElementById("chart").replaceChildren(chart);
}

function renderCoverage(coverage) {
  const rows = Object.entries(COVERAGE).map(([key, label]) => {
    const share = coverage.share[key];
    const percent = share === null ? null : Math.round(share * 100);
    const fill = el("span", { class: "pb-fill", style: `width: ${percent || 0}%` });
    return el("div", { class: "pb-coverage-row", "data-key": key }, el("span", { class: "pb-coverage-label" }, label),
              el("span", { class: "pb-track" }, fill), el("span", { class: "pb-coverage-value" }, percent === null ? "—" : percent + "%"));
  });
  const note = coverage.delivered ? `Based on ${coverage.delivered} delivered events.` : "Shown once events are delivered.";
  document.getElementById("coverage").replaceChildren(...rows, el("p", { class: "pb-note" }, note));
}

function renderEvents(events) {
  const box = document.getElementById("events");
  if (!events.length) {
    box.replaceChildren(el("p", { class: "pb-empty" }, "No events yet. They appear here as orders come in, or when you send a test event."));
    return;
  }
  const head = el("s-table-header-row", {}, ...["Order", "Status", "Value", "Received", "Matched on", "Pinterest's answer"]
    .map((text) => el("s-table-header", {}, text)));
  const rows = events.map((ev) => {
    const [tone, label] = STATUS[ev.status] || ["neutral", ev.status];
    const name = el("span", { class: "pb-nowrap" }, ev.order_name || ev.event_id || "—");
    if (ev.test) name.append(el("s-badge", { class: "pb-test" }, "Test"));
    const when = ev.received_at ? new Date(ev.received_at).toLocaleString(undefined, { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" }) : "—";
    return el("s-table-row", { "data-status": ev.status },
      el("s-table-cell", {}, name), el("s-table-cell", {}, el("s-badge", { tone }, label)),
      el("s-table-cell", {}, el("span", { class: "pb-nowrap" }, ev.value ? `${ev.value} ${ev.currency || ""}` : "—")),
      el("s-table-cell", {}, el("span", { class: "pb-nowrap" }, when)),
      el("s-table-cell", {}, ev.match_keys.join(", ") || "—"),
      el("s-table-cell", {}, ev.message || (ev.status === "delivered" ? "Accepted" : "—")));
  });
  box.replaceChildren(el("s-table", {}, head, el("s-table-body", {}, ...rows)));
}

function renderDataRequests(requests) {
  const box = document.getElementById("data-requests");
  if (!requests.length) { box.replaceChildren(el("p", { class: "pb-empty" }, "No customer data requests.")); return; }
  box.replaceChildren(el("ul", { class: "pb-requests" }, ...requests.map((r) => el("li", {},
    `${new Date(r.received_at).toLocaleDateString(undefined, { dateStyle: "medium" })}: ` +
    `${r.orders_requested} order(s) asked about, ${r.events_held} event(s) held, all hashed.`))));
}

function renderSnippet() {
  const s = state.settings;
  const tag = document.getElementById("tag-id").value.trim().replace(/[^0-9A-Za-z_-]/g, "");
  const code = initial.snippets[`${s.event_id_source}|${s.value_mode}`];
  document.getElementById("snippet").textContent = code.replace(initial.tag_placeholder, tag || initial.tag_placeholder);
  document.getElementById("snippet-advice").textContent = initial.snippet_advice[s.event_id_source];
}

async function refresh() {
  const [stats, events, overview] = await Promise.all([
    api("GET", "/api/stats?days=14"),
    api("GET", "/api/events?limit=10" + (state.filter ? "&status=" + state.filter : "")),
    api("GET", "/api/status"),
  ]);
  if (stats.status === 200) { renderMetrics(stats.data); renderChart(stats.data.daily); renderCoverage(stats.data.coverage); }
  if (events.status === 200) renderEvents(events.data.events);
  if (overview.status === 200) { renderBanner(overview.data); renderDataRequests(overview.data.data_requests); }
}

// -- wiring --------------------------------------------------------------------------------------
function wire() {
  document.getElementById("save-button").addEventListener("click", () => saveConnection());
  document.getElementById("test-button").addEventListener("click", () => verify());
  for (const name of FLAGS) field(name).addEventListener("change", (e) => save({ [name]: e.currentTarget.checked }));
  for (const name of CHOICES) field(name).addEventListener("change", (e) => save({ [name]: e.currentTarget.value }));
  document.getElementById("event-filter").addEventListener("change", (e) => { state.filter = e.currentTarget.value; refresh(); });
  document.getElementById("retry-button").addEventListener("click", async () => {
    const { data } = await api("POST", "/api/events/retry", {});
    toast(data.retried ? `${data.retried} event(s) will be sent again.` : "No failed events to retry.");
    await refresh();
  });
  document.getElementById("tag-id").addEventListener("input", renderSnippet);
  document.getElementById("tag-id").addEventListener("change", renderSnippet);
  document.getElementById("copy-button").addEventListener("click", async () => {
    await navigator.clipboard.writeText(document.getElementById("snippet").textContent).catch(() => null);
    toast("Code copied");
  });
}

function start() {
  wire();
  renderBanner(initial);
  renderMetrics(initial.stats);
  renderChart(initial.stats.daily);
  renderCoverage(initial.stats.coverage);
  renderEvents(initial.events);
  renderDataRequests(initial.data_requests);
  renderSnippet();
  document.body.dataset.ready = "true";
}

if (window.customElements && customElements.whenDefined) {
  // Let Polaris upgrade the form controls first, so their value/checked properties exist.
  Promise.race([customElements.whenDefined("s-text-field"), new Promise((r) => setTimeout(r, 1500))]).then(start);
} else {
  start();
}
