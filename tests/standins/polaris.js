// Stand-in for https://cdn.shopify.com/shopifycloud/polaris.js in browser tests (no internet here).
// Just enough of the Polaris web components for the page to work and look like the admin: the same
// element names, attributes and properties (value, checked, error, tone, heading), styled with Polaris
// colours and spacing. Not Shopify's code.
(function () {
  "use strict";
  const FONT = '-apple-system, BlinkMacSystemFont, "San Francisco", "Segoe UI", Roboto, "Helvetica Neue", sans-serif';
  const TONES = {
    success: ["#cdfee1", "#0c5132"], critical: ["#fedad9", "#8e1f0b"], warning: ["#ffeb78", "#4f4700"],
    caution: ["#ffef9d", "#4f4700"], info: ["#e0f0ff", "#00527c"], neutral: ["#e3e3e3", "#303030"],
  };
  const global = document.createElement("style");
  global.textContent = `
    html { background: #f1f1f1; }
    body { font-family: ${FONT}; font-size: 13px; line-height: 20px; color: #303030; background: #f1f1f1; }
    s-option { display: none; }
    s-paragraph { display: block; margin: 0 0 8px; }
    s-table { display: table; width: 100%; border-collapse: collapse; border: 1px solid #e3e3e3; border-radius: 8px; overflow: hidden; }
    s-table-header-row { display: table-row; background: #f7f7f7; }
    s-table-header { display: table-cell; padding: 8px 12px; font-size: 12px; font-weight: 550; color: #616161; border-bottom: 1px solid #e3e3e3; }
    s-table-body { display: table-row-group; }
    s-table-row { display: table-row; }
    s-table-row:hover { background: #fafafa; }
    s-table-cell { display: table-cell; padding: 8px 12px; border-bottom: 1px solid #ebebeb; vertical-align: middle; }
    s-table-row:last-child s-table-cell { border-bottom: 0; }
    s-badge { display: inline-block; padding: 2px 8px; border-radius: 8px; font-size: 12px; font-weight: 550; white-space: nowrap; }
    ${Object.entries(TONES).map(([t, [bg, fg]]) => `s-badge[tone="${t}"] { background: ${bg}; color: ${fg}; }`).join("\n")}
    s-badge:not([tone]) { background: #e3e3e3; }
    s-section[hidden], s-banner[hidden], s-paragraph[hidden], s-button[hidden] { display: none; }
  `;
  document.head.append(global);

  function define(name, render, props) {
    const element = class extends HTMLElement {
      static get observedAttributes() { return ["heading", "tone", "error", "placeholder", "label", "details", "hidden", "variant", "loading", "disabled"]; }
      connectedCallback() {
        if (this.shadowRoot) return;
        this.attachShadow({ mode: "open" });
        render(this, this.shadowRoot);
      }
      attributeChangedCallback() { if (this.shadowRoot && this._update) this._update(); }
    };
    if (props) copyProps(element.prototype, props);
    customElements.define(name, element);
  }

  function copyProps(target, source) {
    for (const key of Object.getOwnPropertyNames(source)) {
      Object.defineProperty(target, key, Object.getOwnPropertyDescriptor(source, key));
    }
  }

  define("s-page", (host, root) => {
    root.innerHTML = `<style>:host{display:block;max-width:${host.getAttribute("inlineSize") === "large" ? 1200 : 960}px;margin:0 auto;padding:20px 24px 48px}
      h1{font-size:20px;line-height:28px;font-weight:700;margin:4px 0 16px}
      ::slotted(*){margin-bottom:16px}</style><h1></h1><slot name="primary-action"></slot><slot></slot>`;
    root.querySelector("h1").textContent = host.getAttribute("heading") || "";
  });

  define("s-section", (host, root) => {
    root.innerHTML = `<style>:host{display:block;background:#fff;border-radius:12px;padding:16px;margin-bottom:16px;
      box-shadow:0 1px 0 0 rgba(26,26,26,.07),inset 0 -1px 0 0 #d4d4d4,inset 1px 0 0 0 #e3e3e3,inset -1px 0 0 0 #e3e3e3,inset 0 1px 0 0 #e3e3e3}
      h2{font-size:14px;line-height:20px;font-weight:650;margin:0 0 12px}</style><h2></h2><slot></slot>`;
    root.querySelector("h2").textContent = host.getAttribute("heading") || "";
  });

  define("s-banner", (host, root) => {
    root.innerHTML = `<style>:host{display:block;border-radius:12px;padding:12px 16px 12px 44px;margin-bottom:16px;position:relative}
      :host([hidden]){display:none}
      .icon{position:absolute;left:16px;top:13px;width:18px;height:18px;border-radius:50%;font:700 12px/18px sans-serif;text-align:center;color:#fff}
      strong{display:block;font-weight:650;margin-bottom:2px}
      .actions{display:flex;flex-wrap:wrap;gap:8px;margin-top:8px}.actions:empty{display:none}</style><span class="icon"></span><strong></strong><slot></slot>
      <div class="actions"><slot name="primary-action"></slot><slot name="secondary-actions"></slot></div>`;
    host._update = () => {
      const tone = host.getAttribute("tone") || "info";
      const [bg, fg] = TONES[tone] || TONES.info;
      host.style.background = bg; host.style.color = fg;
      const icon = root.querySelector(".icon");
      icon.style.background = fg; icon.textContent = tone === "success" ? "✓" : tone === "critical" || tone === "warning" ? "!" : "i";
      root.querySelector("strong").textContent = host.getAttribute("heading") || "";
    };
    host._update();
  });

  define("s-button", (host, root) => {
    root.innerHTML = `<style>:host{display:inline-block}
      button{font:550 13px/20px ${FONT};padding:6px 12px;border-radius:8px;border:0;cursor:pointer;background:#fff;color:#303030;
        box-shadow:0 -1px 0 0 #b5b5b5 inset,0 0 0 1px rgba(0,0,0,.1) inset,0 .5px 0 1.5px #fff inset}
      button:hover{background:#f7f7f7}
      button.primary{background:#303030;color:#fff;box-shadow:0 -1px 0 1px rgba(0,0,0,.8) inset,0 0 0 1px #303030 inset,0 .5px 0 1.5px rgba(255,255,255,.25) inset}
      button.primary:hover{background:#1a1a1a}
      button:disabled{opacity:.55;cursor:default}
      .spinner{display:none;width:12px;height:12px;margin-right:6px;border:2px solid currentColor;border-right-color:transparent;border-radius:50%;vertical-align:-2px}
      button[aria-busy=true] .spinner{display:inline-block}</style><button type="button"><span class="spinner" aria-hidden="true"></span><slot></slot></button>`;
    host._update = () => {
      const button = root.querySelector("button");
      button.className = host.getAttribute("variant") || "";
      button.disabled = host.hasAttribute("disabled") || host.hasAttribute("loading");
      button.setAttribute("aria-busy", host.hasAttribute("loading") ? "true" : "false");
    };
    host._update();
  });

  const FIELD_CSS = `<style>:host{display:block}
    label{display:block;margin-bottom:4px}
    input,select{box-sizing:border-box;width:100%;font:13px/20px ${FONT};padding:5px 12px;min-height:32px;border-radius:8px;
      border:1px solid #8a8a8a;border-top-color:#898f94;background:#fdfdfd;color:#303030}
    input:focus,select:focus{outline:2px solid #005bd3;outline-offset:1px}
    .details{color:#616161;margin-top:4px}
    .error{color:#8e1f0b;margin-top:4px;display:none}
    :host([error]) input,:host([error]) select{border-color:#8e1f0b;background:#fff4f4}
    :host([error]) .error{display:block}</style>`;

  function textField(type) {
    return (host, root) => {
      root.innerHTML = `${FIELD_CSS}<label></label><input type="${type}"><div class="error"></div><div class="details"></div>`;
      const input = root.querySelector("input");
      input.value = host._pending !== undefined ? host._pending : host.getAttribute("value") || "";
      input.addEventListener("change", () => host.dispatchEvent(new Event("change", { bubbles: true })));
      host._update = () => {
        root.querySelector("label").textContent = host.getAttribute("label") || "";
        input.placeholder = host.getAttribute("placeholder") || "";
        input.setAttribute("aria-label", host.getAttribute("label") || "");
        root.querySelector(".details").textContent = host.getAttribute("details") || "";
        root.querySelector(".error").textContent = host.getAttribute("error") || "";
      };
      host._update();
    };
  }
  const valueProps = {
    get value() { const input = this.shadowRoot && this.shadowRoot.querySelector("input,select"); return input ? input.value : (this._pending ?? this.getAttribute("value") ?? ""); },
    set value(v) { const input = this.shadowRoot && this.shadowRoot.querySelector("input,select"); if (input) input.value = v; else this._pending = v; },
  };
  const fieldProps = {}; copyProps(fieldProps, valueProps);
  define("s-text-field", textField("text"), fieldProps);
  define("s-password-field", textField("password"), fieldProps);

  define("s-select", (host, root) => {
    root.innerHTML = `${FIELD_CSS}<label></label><select></select><div class="error"></div><div class="details"></div>`;
    const select = root.querySelector("select");
    // The parser upgrades the element before its s-option children exist: build options as they arrive.
    // The chosen value is kept apart (`_chosen`): the options may arrive over several parser chunks, and a
    // value read back from a half-built list would lose the choice.
    const build = () => {
      const current = host._chosen ?? host._pending ?? host.getAttribute("value");
      select.replaceChildren(...[...host.querySelectorAll("s-option")].map((option) => {
        const native = document.createElement("option");
        native.value = option.getAttribute("value"); native.textContent = option.textContent;
        native.selected = option.hasAttribute("selected");
        return native;
      }));
      if (current !== null) select.value = current;
    };
    build();
    new MutationObserver(build).observe(host, { childList: true, subtree: true, characterData: true });
    select.addEventListener("change", () => {
      host._chosen = select.value;
      host.dispatchEvent(new Event("change", { bubbles: true }));
    });
    host._update = () => {
      root.querySelector("label").textContent = host.getAttribute("label") || "";
      select.setAttribute("aria-label", host.getAttribute("label") || "");
      root.querySelector(".details").textContent = host.getAttribute("details") || "";
      root.querySelector(".error").textContent = host.getAttribute("error") || "";
    };
    host._update();
  }, {
    get value() { const select = this.shadowRoot && this.shadowRoot.querySelector("select"); return select ? select.value : (this._pending ?? this.getAttribute("value") ?? ""); },
    set value(v) { this._chosen = v; const select = this.shadowRoot && this.shadowRoot.querySelector("select"); if (select) select.value = v; else this._pending = v; },
  });

  define("s-switch", (host, root) => {
    root.innerHTML = `<style>:host{display:block}
      label{display:flex;gap:10px;align-items:flex-start;cursor:pointer}
      input{appearance:none;flex:none;width:32px;height:18px;margin:1px 0 0;border-radius:9px;background:#b5b5b5;position:relative;cursor:pointer;transition:background .15s}
      input::after{content:"";position:absolute;top:2px;left:2px;width:14px;height:14px;border-radius:50%;background:#fff;transition:left .15s}
      input:checked{background:#303030} input:checked::after{left:16px}
      .label{font-weight:550} .details{color:#616161}</style>
      <label><input type="checkbox" role="switch"><span><span class="label"></span><div class="details"></div></span></label>`;
    const input = root.querySelector("input");
    input.checked = host._pendingChecked ?? host.hasAttribute("checked");
    input.addEventListener("change", () => host.dispatchEvent(new Event("change", { bubbles: true })));
    host._update = () => {
      root.querySelector(".label").textContent = host.getAttribute("label") || "";
      input.setAttribute("aria-label", host.getAttribute("label") || "");
      root.querySelector(".details").textContent = host.getAttribute("details") || "";
    };
    host._update();
  }, {
    get checked() { const input = this.shadowRoot && this.shadowRoot.querySelector("input"); return input ? input.checked : this.hasAttribute("checked"); },
    set checked(v) { const input = this.shadowRoot && this.shadowRoot.querySelector("input"); if (input) input.checked = !!v; else this._pendingChecked = !!v; },
  });
})();
