// Settings: the Pinterest connection, sending on/off and what is sent, saved through App Bridge's save bar.
"use strict";

(() => {
  const { initial, api, failureText, toast, busy, words, ready } = Pinbridge;
  const SAVE_BAR = "settings-save-bar";
  // include_offline_orders is an API shortcut for send_pos and send_draft: the page offers only those two.
  const SWITCHES = ["enabled", "test_mode", "limited_data_processing"];
  const SELECTS = ["event_id_source", "content_id_source", "value_mode", "currency_mode",
                   "send_pos", "send_draft", "send_subscription", "send_other_channels", "send_backdated"];
  const TEXTS = ["ad_account_id"];  // the Tag id is saved on the home page, beside the pixel code
  const CONNECTION = ["ad_account_id", "access_token"];
  let saved = initial.settings;
  let shown = false;

  function field(name) { return document.querySelector(`[name="${name}"]`); }
  function present(names) { return names.filter((name) => field(name) && name in saved); }

  function read() {
    const values = {};
    for (const name of present(SWITCHES)) values[name] = !!field(name).checked;
    for (const name of present(SELECTS)) values[name] = field(name).value;
    for (const name of present(TEXTS)) values[name] = (field(name).value || "").trim();
    const token = (field("access_token").value || "").trim();
    if (token) values.access_token = token;
    return values;
  }

  function changes() {
    const now = read(), diff = {};
    for (const [name, value] of Object.entries(now)) {
      const before = saved[name] === null || saved[name] === undefined ? "" : saved[name];
      if (name === "access_token" || value !== before) diff[name] = value;
    }
    return diff;
  }

  function connectionDirty() { return CONNECTION.some((name) => name in changes()); }

  function updateSaveBar() {
    const dirty = Object.keys(changes()).length > 0;
    if (dirty !== shown && window.shopify && window.shopify.saveBar) {
      window.shopify.saveBar[dirty ? "show" : "hide"](SAVE_BAR);
    }
    shown = dirty;
    document.body.dataset.dirty = String(dirty);
    const test = document.getElementById("test-button");
    test.textContent = connectionDirty() ? "Save and send test event" : "Send test event";
  }

  function showErrors(errors) {
    for (const name of [...SWITCHES, ...SELECTS, ...TEXTS, "access_token"]) {
      const input = field(name);
      if (!input) continue;
      if (errors[name]) input.setAttribute("error", errors[name]); else input.removeAttribute("error");
    }
    const banner = document.getElementById("form-error");
    const count = Object.keys(errors).length;
    banner.hidden = !count;
    document.getElementById("form-error-text").textContent = count ? "Check the highlighted fields and save again." : "";
  }

  function fill(settings) {
    for (const name of present(SWITCHES)) field(name).checked = !!settings[name];
    for (const name of present(SELECTS)) field(name).value = settings[name];
    for (const name of present(TEXTS)) field(name).value = settings[name] || "";
    const token = field("access_token");
    token.value = "";
    token.setAttribute("placeholder", settings.has_access_token ? "•••• " + (settings.access_token_last4 || "") : "Paste the token");
  }

  function confirmTurningOff() {
    const dialog = document.getElementById("confirm-off");
    return new Promise((resolve) => {
      const done = (answer) => { dialog.close(); resolve(answer); };
      document.getElementById("confirm-off-ok").onclick = () => done(true);
      document.getElementById("confirm-off-cancel").onclick = () => done(false);
      dialog.oncancel = (e) => { e.preventDefault(); done(false); };
      dialog.showModal();
      document.getElementById("confirm-off-cancel").focus();
    });
  }

  // Save what changed; false when nothing was saved (invalid input, request failed, or the merchant said no).
  async function save() {
    const diff = changes();
    if (!Object.keys(diff).length) return true;
    if (diff.enabled === false && !(await confirmTurningOff())) return false;
    const saveButton = document.getElementById("save-bar-save");
    saveButton.setAttribute("loading", "");
    saveButton.setAttribute("disabled", "");
    try {
      const result = await api("PUT", "/api/settings", diff);
      if (result.status === 422) {
        showErrors(result.data.errors || {});
        toast("Not saved: check the highlighted fields.", true);
        return false;
      }
      if (result.failed) {
        showErrors({});
        document.getElementById("form-error").hidden = false;
        document.getElementById("form-error-text").textContent = "Your changes weren't saved. " + failureText(result);
        return false;
      }
      showErrors({});
      const paused = document.getElementById("paused-banner");
      if (paused && CONNECTION.some((name) => name in diff)) paused.hidden = true;  // new credentials resume sending
      saved = result.data;
      // Pinbridge's app pixel carries the order reference: bring it up to date (only if it is on).
      if ("event_id_source" in diff) api("POST", "/api/pixel/connect?if_on=1", {});
      fill(saved);
      updateSaveBar();
      // A pasted pixel made for the previous settings is out of date: say so, never a bare "Saved".
      toast(result.data.pixel_notice || (diff.enabled === true ? "Saved. Held orders will be sent now." : "Saved"),
            !!result.data.pixel_notice);
      return true;
    } finally {
      saveButton.removeAttribute("loading");
      saveButton.removeAttribute("disabled");
    }
  }

  function discard() {
    fill(saved);
    showErrors({});
    updateSaveBar();
  }

  async function sendTest(button) {
    const box = document.getElementById("verify-result");
    await busy(button, async () => {
      if (connectionDirty() && !(await save())) return;  // the test uses the saved credentials
      box.hidden = false;
      box.dataset.tone = "";
      document.getElementById("verify-text").textContent = "Sending a test event…";
      words(document.getElementById("verify-words"), null);
      const result = await api("POST", "/api/settings/verify");
      if (result.status === 0 || result.status >= 500 || result.status === 401) {
        box.dataset.tone = "critical";
        document.getElementById("verify-text").textContent = "The test wasn't sent. " + failureText(result);
        return;
      }
      box.dataset.tone = result.data.ok ? "success" : "critical";
      document.getElementById("verify-text").textContent = result.data.message || "No answer.";
      words(document.getElementById("verify-words"), result.data.pinterest_message);
    });
  }

  function wire() {
    for (const name of [...SWITCHES, ...SELECTS, ...TEXTS, "access_token"]) {
      const input = field(name);
      if (!input) continue;
      input.addEventListener("change", updateSaveBar);
      input.addEventListener("input", updateSaveBar);
    }
    document.getElementById("save-bar-save").addEventListener("click", () => save());
    document.getElementById("save-bar-discard").addEventListener("click", discard);
    document.getElementById("test-button").addEventListener("click", (e) => sendTest(e.currentTarget));
  }

  function focusFromHash() {
    const name = window.location.hash.slice(1);
    const target = name && field(name);
    if (!target) return;
    target.scrollIntoView({ block: "center" });
    const inner = target.shadowRoot && target.shadowRoot.querySelector("input,select");
    (inner || target).focus();
  }

  ready(() => {
    wire();
    updateSaveBar();
    focusFromHash();
    document.body.dataset.ready = "true";
  });
})();
