// Shared helpers for Pinbridge's pages. Plain JavaScript, no build step.
// App Bridge (window.shopify) supplies session tokens and toasts; Polaris web components render the controls.
"use strict";

const Pinbridge = (() => {
  const initial = JSON.parse(document.getElementById("initial-data").textContent);

  // Every request answers { status, data, failed }: failed is true for network errors and non-2xx answers,
  // so no caller can leave a "Sending…" on screen for ever.
  async function api(method, path, body, retried) {
    let response;
    try {
      const token = await window.shopify.idToken();
      response = await fetch(path, {
        method,
        headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      return { status: 0, data: {}, failed: true };
    }
    if (response.status === 401 && response.headers.get("X-Shopify-Retry-Invalid-Session-Request") && !retried) {
      return api(method, path, body, true);  // the token went stale: App Bridge hands out a fresh one
    }
    const data = await response.json().catch(() => ({}));
    return { status: response.status, data, failed: response.status < 200 || response.status >= 300 };
  }

  function failureText(result) {
    if (result.status === 0) return "Pinbridge couldn't be reached. Check your internet connection and try again.";
    if (result.status === 401) return "Your Shopify session ended. Reload the page to continue.";
    if (result.status === 429) return "Too many requests in a row. Wait a minute and try again.";
    return "Something went wrong on Pinbridge's side. Try again in a minute.";
  }

  function toast(message, isError) {
    if (window.shopify && window.shopify.toast) window.shopify.toast.show(message, { isError: !!isError });
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  // Run `work` with the button showing Polaris' loading state; a second click meanwhile does nothing.
  async function busy(button, work) {
    if (button.hasAttribute("loading")) return undefined;
    button.setAttribute("loading", "");
    button.setAttribute("disabled", "");
    try {
      return await work();
    } finally {
      button.removeAttribute("loading");
      button.removeAttribute("disabled");
    }
  }

  // A link to another page of the app, keeping the admin's query (shop, host, session token).
  function appUrl(path, hash) {
    return path + window.location.search + (hash ? "#" + hash : "");
  }

  function plural(n, one, many) { return `${n} ${n === 1 ? one : (many || one + "s")}`; }

  function when(iso) {
    if (!iso) return "—";
    return new Date(iso).toLocaleString(undefined, { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });
  }

  function ago(iso) {
    if (!iso) return "";
    const minutes = Math.round((Date.now() - new Date(iso).getTime()) / 60000);
    if (minutes < 1) return "less than a minute ago";
    if (minutes < 60) return plural(minutes, "minute") + " ago";
    const hours = Math.round(minutes / 60);
    if (hours < 48) return plural(hours, "hour") + " ago";
    return plural(Math.round(hours / 24), "day") + " ago";
  }

  function words(details, text) {
    // Pinterest's own words, one click away.
    details.hidden = !text;
    details.querySelector("p").textContent = text || "";
  }

  // The Polaris form controls this page reads: their value/checked properties exist only once upgraded.
  const CONTROLS = ["s-text-field", "s-password-field", "s-select", "s-switch", "s-button"];

  function ready(start) {
    if (!(window.customElements && customElements.whenDefined)) return start();
    const used = CONTROLS.filter((name) => document.querySelector(name));
    // Wait for every control on the page, not just one, and long enough for a slow CDN: reading a control
    // before Polaris upgrades it gives undefined and the page would think the merchant changed something.
    const defined = Promise.all(used.map((name) => customElements.whenDefined(name)));
    Promise.race([defined, new Promise((r) => setTimeout(r, 10000))]).then(start);
  }

  return { initial, api, failureText, toast, el, busy, appUrl, plural, when, ago, words, ready };
})();
