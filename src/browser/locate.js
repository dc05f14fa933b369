// The in-page half of the browser driver: finds an element the way a person would (visible
// label, role + accessible name, visible text), checks it is actionable, and acts or reports
// where to click. The first request to a document installs it (window.__cignaSetupLocate), so
// a navigation needs no injection step and later requests send only their arguments.
// Accessible names follow the ARIA accname rules closely enough for forms: aria-labelledby,
// aria-label, <label>, value of submit inputs, then content.
//
// Returns one of:
//   {status: "ok", value?}               done (or the state already holds)
//   {status: "click", x, y}              the caller clicks there with the real mouse, then asks again
//   {status: "type"}                     the field is focused and emptied: the caller types
//   {status: "wait", reason, seen}       not actionable yet (missing, hidden, disabled, covered…)
//   {status: "fail", reason, seen}       can never succeed (wrong kind of element, option missing…)
(async (req) => {
  const MAX_SEEN = 25;

  // Whitespace folded: how text reads. Values (a password shown on a page) are read this way.
  const squash = (s) => (s || "").replace(/[\s\u00a0\u200b]+/g, " ").trim();
  // Also without required markers and trailing colons: how names compare ("First name *").
  const norm = (s) =>
    squash(s)
      .replace(/^\*\s*/, "")
      .replace(/[\s*:]+$/, "")
      .trim();
  const key = (s) => norm(s).toLowerCase();

  // Every element, through open shadow roots and same-origin frames.
  function* allElements(root) {
    for (const el of root.querySelectorAll("*")) {
      yield el;
      if (el.shadowRoot) yield* allElements(el.shadowRoot);
      if (el.tagName === "IFRAME" || el.tagName === "FRAME") {
        let doc = null;
        try {
          doc = el.contentDocument;
        } catch (_) {
          doc = null;
        }
        if (doc) yield* allElements(doc);
      }
    }
  }

  const styleOf = (el) => el.ownerDocument.defaultView.getComputedStyle(el);

  function boxVisible(el) {
    if (!el || !el.isConnected) return false;
    if (
      el.checkVisibility &&
      !el.checkVisibility({
        checkOpacity: true,
        checkVisibilityCSS: true,
        opacityProperty: true,
        visibilityProperty: true,
      })
    )
      return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  }

  // Custom-styled checkboxes hide the native input and show the label instead: such an input
  // counts as visible, and is clicked through its label.
  function clickTarget(el) {
    if (boxVisible(el)) return el;
    if (isToggle(el) && el.labels) {
      for (const l of el.labels) if (boxVisible(l)) return l;
    }
    return null;
  }
  const visible = (el) => clickTarget(el) !== null;

  const isToggle = (el) =>
    el.tagName === "INPUT" && (el.type === "checkbox" || el.type === "radio");

  function enabled(el) {
    if (el.disabled) return false;
    if (el.closest && el.closest("fieldset[disabled]")) return false;
    for (let n = el; n && n.getAttribute; n = n.parentElement) {
      if (n.getAttribute("aria-disabled") === "true") return false;
    }
    return true;
  }

  const INPUT_ROLES = {
    button: "button",
    submit: "button",
    reset: "button",
    image: "button",
    checkbox: "checkbox",
    radio: "radio",
    range: "slider",
    number: "spinbutton",
    search: "searchbox",
  };

  function roleOf(el) {
    const explicit = (el.getAttribute("role") || "").trim().split(/\s+/)[0];
    if (explicit) return explicit;
    switch (el.tagName) {
      case "BUTTON":
        return "button";
      case "A":
      case "AREA":
        return el.hasAttribute("href") ? "link" : "";
      case "INPUT": {
        const t = (el.getAttribute("type") || "text").toLowerCase();
        if (t === "hidden") return "";
        return INPUT_ROLES[t] || "textbox";
      }
      case "TEXTAREA":
        return "textbox";
      case "SELECT":
        return el.multiple || el.size > 1 ? "listbox" : "combobox";
      case "OPTION":
        return "option";
      case "H1":
      case "H2":
      case "H3":
      case "H4":
      case "H5":
      case "H6":
        return "heading";
      case "SUMMARY":
        return "button";
      case "TH":
        return el.getAttribute("scope") === "row" ? "rowheader" : "columnheader";
      case "TD":
        return "cell";
      default:
        return el.isContentEditable && el.getAttribute("contenteditable") !== null
          ? "textbox"
          : "";
    }
  }

  const CONTROL_ROLES = new Set([
    "textbox",
    "searchbox",
    "combobox",
    "listbox",
    "checkbox",
    "radio",
    "switch",
    "spinbutton",
    "slider",
  ]);
  const CLICKABLE_ROLES = new Set([
    "button",
    "link",
    "menuitem",
    "menuitemcheckbox",
    "menuitemradio",
    "tab",
    "option",
    "treeitem",
  ]);
  const NAME_FROM_CONTENT = new Set([
    "button",
    "link",
    "menuitem",
    "menuitemcheckbox",
    "menuitemradio",
    "tab",
    "option",
    "treeitem",
    "heading",
    "cell",
    "columnheader",
    "rowheader",
    "checkbox",
    "radio",
    "switch",
    "tooltip",
  ]);

  // Visible text of a subtree, skipping form controls' own contents (a <select> inside a
  // wrapping label must not lend its options to the label's text).
  function textOf(node, skipControls) {
    let out = "";
    const walk = (n) => {
      if (n.nodeType === 3) {
        out += n.data;
        return;
      }
      if (n.nodeType !== 1) return;
      const tag = n.tagName;
      if (tag === "SCRIPT" || tag === "STYLE" || tag === "TEMPLATE") return;
      if (skipControls && (tag === "SELECT" || tag === "TEXTAREA" || tag === "INPUT"))
        return;
      if (tag === "BR") {
        out += " ";
        return;
      }
      const st = styleOf(n);
      if (st.display === "none" || st.visibility === "hidden") return;
      if (tag === "IMG" || (tag === "INPUT" && n.type === "image")) {
        out += " " + (n.getAttribute("alt") || "") + " ";
        return;
      }
      const block = st.display !== "inline";
      if (block) out += " ";
      const kids = n.shadowRoot ? n.shadowRoot.childNodes : n.childNodes;
      for (const c of kids) walk(c);
      if (block) out += " ";
    };
    walk(node);
    return squash(out);
  }

  function byIdRefs(el, attr) {
    const ids = (el.getAttribute(attr) || "").trim();
    if (!ids) return null;
    const root = el.getRootNode();
    const parts = ids
      .split(/\s+/)
      .map((id) => (root.getElementById ? root.getElementById(id) : null) || el.ownerDocument.getElementById(id))
      .filter(Boolean)
      .map((n) => textOf(n, true));
    const t = norm(parts.join(" "));
    return t || null;
  }

  function accName(el) {
    const byRef = byIdRefs(el, "aria-labelledby");
    if (byRef) return byRef;
    const aria = norm(el.getAttribute("aria-label"));
    if (aria) return aria;
    const role = roleOf(el);
    if (el.labels && el.labels.length && el.tagName !== "BUTTON") {
      const t = norm(Array.from(el.labels, (l) => textOf(l, true)).join(" "));
      if (t) return t;
    }
    if (el.tagName === "INPUT") {
      const t = (el.type || "").toLowerCase();
      if (t === "submit" || t === "button" || t === "reset")
        return norm(el.value) || (t === "submit" ? "Submit" : t === "reset" ? "Reset" : "");
      if (t === "image") return norm(el.getAttribute("alt"));
    }
    if (NAME_FROM_CONTENT.has(role) || el.tagName === "LABEL") {
      const t = textOf(el, true);
      if (t) return t;
    }
    return norm(el.getAttribute("title")) || norm(el.getAttribute("placeholder"));
  }

  const describe = (el) => {
    const role = roleOf(el) || el.tagName.toLowerCase();
    const name = accName(el);
    return name ? `${role} "${name}"` : role;
  };

  const sameName = (el, want) => key(accName(el)) === key(want);

  // A name equal to `want`, or starting with it followed by a non-word character ("12-3456789
  // Zuub Dental" starts with "12-3456789").
  const namePrefixed = (name, want) => {
    const n = key(name);
    const w = key(want);
    return n === w || (n.startsWith(w) && /^[^a-z0-9]/.test(n.slice(w.length)));
  };

  function controls() {
    const out = [];
    for (const el of allElements(document)) {
      if (CONTROL_ROLES.has(roleOf(el))) out.push(el);
    }
    return out;
  }

  function candidates(target) {
    const all = [];
    switch (target.kind) {
      case "label":
        for (const el of controls()) if (sameName(el, target.name)) all.push(el);
        break;
      case "role":
        for (const el of allElements(document))
          if (roleOf(el) === target.role && sameName(el, target.name)) all.push(el);
        break;
      case "clickable":
        for (const el of allElements(document))
          if (CLICKABLE_ROLES.has(roleOf(el)) && sameName(el, target.name)) all.push(el);
        break;
      default:
        throw new Error("unknown target kind " + target.kind);
    }
    return all;
  }

  // What a person would see instead, for the error message.
  function seenFor(target) {
    const names = new Set();
    const want =
      target.kind === "label"
        ? (r) => CONTROL_ROLES.has(r)
        : target.kind === "role"
          ? (r) => r === target.role
          : (r) => CLICKABLE_ROLES.has(r);
    for (const el of allElements(document)) {
      if (names.size >= MAX_SEEN) break;
      if (want(roleOf(el)) && visible(el)) names.add(describe(el));
    }
    return Array.from(names);
  }

  const headings = () => {
    const out = [];
    for (const el of allElements(document)) {
      if (out.length >= 8) break;
      if (roleOf(el) === "heading" && boxVisible(el)) out.push(`heading "${textOf(el)}"`);
    }
    return out;
  };

  function findOne(target) {
    const all = candidates(target);
    const shown = all.filter(visible);
    if (shown.length === 1) return { el: shown[0] };
    if (shown.length > 1) {
      return {
        wait: `${shown.length} visible elements match`,
        seen: shown.map(describe),
      };
    }
    if (all.length) {
      return { wait: `${all.length} matching element(s), none visible`, seen: seenFor(target) };
    }
    return { wait: "nothing matches", seen: seenFor(target) };
  }

  // Whatever the dismiss list names and is visible (a cookie banner's button), clicked away.
  function dismissTarget() {
    for (const d of req.dismiss || []) {
      for (const el of candidates(d)) {
        const at = clickTarget(el);
        if (at && enabled(el)) return at;
      }
    }
    return null;
  }

  function frameOffset(el) {
    let x = 0;
    let y = 0;
    let win = el.ownerDocument.defaultView;
    while (win && win.frameElement) {
      const r = win.frameElement.getBoundingClientRect();
      x += r.left + win.frameElement.clientLeft;
      y += r.top + win.frameElement.clientTop;
      win = win.parent;
    }
    return { x, y };
  }

  // Scrolls el into view and checks that a click at its centre lands on it (not on a banner).
  function pointFor(el) {
    const r0 = el.getBoundingClientRect();
    const win = el.ownerDocument.defaultView;
    if (r0.top < 0 || r0.left < 0 || r0.bottom > win.innerHeight || r0.right > win.innerWidth) {
      el.scrollIntoView({ block: "center", inline: "center", behavior: "instant" });
    }
    const r = el.getBoundingClientRect();
    const x = r.left + r.width / 2;
    const y = r.top + r.height / 2;
    const root = el.getRootNode();
    const hit = (root.elementFromPoint ? root : el.ownerDocument).elementFromPoint(x, y);
    const lands =
      hit &&
      (hit === el ||
        el.contains(hit) ||
        (hit.contains(el) && hit.tagName === "LABEL") ||
        (el.labels && Array.from(el.labels).some((l) => l === hit || l.contains(hit))));
    if (!lands) return { covered: hit };
    const off = frameOffset(el);
    return { x: x + off.x, y: y + off.y };
  }

  function clickReply(el) {
    const at = pointFor(el);
    if (at.covered) {
      const d = dismissTarget();
      if (d) {
        const p = pointFor(d);
        if (!p.covered) return { status: "click", x: p.x, y: p.y, el: d, dismissing: describe(d) };
      }
      return {
        status: "wait",
        reason: `covered by ${at.covered ? describe(at.covered) : "nothing (off screen)"}`,
        seen: [],
      };
    }
    // Evidence for the caller that the press reached this element, and not what content
    // rendering late moved under the mouse.
    window.__cignaPressLanded = false;
    const landed = () => {
      window.__cignaPressLanded = true;
    };
    el.addEventListener("mousedown", landed, { once: true, capture: true });
    el.addEventListener("click", landed, { once: true, capture: true });
    return { status: "click", x: at.x, y: at.y, el };
  }

  function scrollAgreements() {
    let n = 0;
    for (const el of allElements(document)) {
      if (el.scrollHeight > el.clientHeight + 2 && boxVisible(el)) {
        const oy = styleOf(el).overflowY;
        if (oy === "auto" || oy === "scroll") {
          el.scrollTop = el.scrollHeight;
          el.dispatchEvent(new Event("scroll"));
          n++;
        }
      }
    }
    window.scrollTo(0, document.documentElement.scrollHeight);
    return n;
  }

  function setNativeValue(el, value) {
    const proto = Object.getPrototypeOf(el);
    const desc = Object.getOwnPropertyDescriptor(proto, "value");
    if (desc && desc.set) desc.set.call(el, value);
    else el.value = value;
  }

  function pageText() {
    let t = document.body ? document.body.innerText : "";
    for (const el of allElements(document)) {
      if (el.shadowRoot) t += " " + textOf(el.shadowRoot);
    }
    return norm(t).toLowerCase();
  }

  // The value shown next to a label: "Temporary Password" followed by its value, however the
  // page lays it out (dt/dd, th/td, "Label: value" in one element, a read-only field).
  function valueNextTo(label) {
    const want = key(label);
    let best = null;
    for (const el of allElements(document)) {
      if (!boxVisible(el) || ["SCRIPT", "STYLE", "HTML", "BODY"].includes(el.tagName)) continue;
      const t = key(textOf(el, true));
      if (t === want || (t.startsWith(want) && /^[\s:]/.test(t.slice(want.length)))) {
        // The innermost element carrying the label wins.
        if (!best || best.contains(el)) best = el;
      }
    }
    if (!best) return null;
    if (best.tagName === "LABEL" && best.control) return best.control.value || null;
    const own = textOf(best, true);
    if (key(own) !== want) {
      // "Label: value" in one element: what follows the label, markers and all.
      const rest = own.slice(own.toLowerCase().indexOf(want) + want.length).replace(/^[\s:]+/, "");
      if (rest) return rest;
    }
    for (let n = best; n && n !== document.body; n = n.parentElement) {
      for (let s = n.nextElementSibling; s; s = s.nextElementSibling) {
        if (!boxVisible(s)) continue;
        if (s.matches("input, textarea")) return s.value || null;
        const field = s.querySelector("input:not([type=hidden]), textarea");
        if (field && !textOf(s, true)) return field.value || null;
        const t = textOf(s, true);
        if (t) return t;
      }
      // Climb only while the label is alone in its container.
      if (n.parentElement && textOf(n.parentElement, true) !== textOf(n, true)) break;
    }
    return null;
  }

  // Errors the page shows next to fields: a control marked aria-invalid, with the text of its
  // aria-errormessage / aria-describedby, or of an error-looking element right after it.
  function fieldErrors() {
    const out = [];
    for (const el of controls()) {
      if (el.getAttribute("aria-invalid") !== "true" || !visible(el)) continue;
      let message = byIdRefs(el, "aria-errormessage") || "";
      if (!message) {
        const ids = (el.getAttribute("aria-describedby") || "").trim().split(/\s+/).filter(Boolean);
        const root = el.getRootNode();
        message = squash(
          ids
            .map((id) => (root.getElementById ? root.getElementById(id) : null))
            .filter((n) => n && boxVisible(n))
            .map((n) => textOf(n))
            .join(" "),
        );
      }
      if (!message) {
        for (let n = el.nextElementSibling; n; n = n.nextElementSibling) {
          if (boxVisible(n) && (n.getAttribute("role") === "alert" || /error|invalid/i.test(n.className))) {
            message = textOf(n);
            break;
          }
        }
      }
      out.push({ field: accName(el), message: message || "(no message shown)" });
    }
    return out;
  }
  const errorKey = (e) => `${e.field}|${e.message}`;

  // Why the expected page will not come: a text the flow says means refusal (`unless`), or an
  // error next to a field that was not there when the last click was made.
  function refusal() {
    const text = pageText();
    // The portal's own error page (HTTP 5xx): worth a reload, not a failed step.
    for (const t of req.transient || []) {
      if (text.includes(key(t))) {
        return { status: "fail", reason: `the portal showed an error page ("${norm(t)}")`, said: norm(t), transient: true, seen: headings() };
      }
    }
    // A refusal already shown when the last click was made (the page before a form's answer
    // arrives, or a retry on the page that refused before) is not this click's answer.
    const atClick = window.__cignaTextAtClick || "";
    for (const u of req.unless || []) {
      if (text.includes(key(u)) && !atClick.includes(key(u))) {
        let said = norm(u);
        for (const el of allElements(document)) {
          const t = textOf(el);
          if (boxVisible(el) && key(t).includes(key(u)) && t.length < 400) said = t;
        }
        return { status: "fail", reason: `the page says "${said}"`, said, seen: [] };
      }
    }
    const before = new Set(window.__cignaErrorsAtClick || []);
    const fresh = fieldErrors().filter((e) => !before.has(errorKey(e)));
    if (fresh.length) {
      const e = fresh[0];
      return {
        status: "fail",
        reason: fresh.map((e) => `the page shows an error next to "${e.field}": "${e.message}"`).join("; "),
        said: e.message,
        field: e.field,
        seen: [],
      };
    }
    return null;
  }

  function attempt() {
    if (req.op === "landed") {
      // A new document (undefined) means the click navigated: it landed.
      return { status: "ok", value: window.__cignaPressLanded === false ? "no" : "yes" };
    }
    if (!document.body || document.readyState === "loading") {
      return { status: "wait", reason: "the page is still loading", seen: [] };
    }
    const t = req.target;
    switch (req.op) {
      case "expect": {
        const text = pageText();
        if ([req.text, ...(req.or || [])].some((t) => text.includes(key(t)))) return { status: "ok" };
        return refusal() || { status: "wait", reason: "text not on the page", seen: headings() };
      }
      case "scroll": {
        return { status: "ok", value: String(scrollAgreements()) };
      }
      case "read": {
        const v = valueNextTo(req.text);
        if (v) return { status: "ok", value: v };
        return { status: "wait", reason: "no value shown next to that label", seen: headings() };
      }
      case "read-field": {
        const f = findOne(t);
        if (!f.el) return { status: "wait", reason: f.wait, seen: f.seen };
        return { status: "ok", value: f.el.value ?? "" };
      }
      case "check-exactly":
        return checkExactly();
    }
    const f = findOne(t);
    if (!f.el) {
      const refused = req.op === "see" ? refusal() : null;
      return refused || { status: "wait", reason: f.wait, seen: f.seen };
    }
    const el = f.el;
    const role = roleOf(el);
    switch (req.op) {
      case "see":
        return { status: "ok" };
      case "click": {
        if (!enabled(el)) return { status: "wait", reason: `${describe(el)} is disabled`, seen: [] };
        // Errors already shown are not what this click will cause.
        window.__cignaErrorsAtClick = fieldErrors().map(errorKey);
        window.__cignaTextAtClick = pageText();
        return clickReply(clickTarget(el));
      }
      case "fill": {
        if (!["textbox", "searchbox", "spinbutton", "combobox"].includes(role) || el.tagName === "SELECT")
          return { status: "fail", reason: `${describe(el)} is not a text field`, seen: [] };
        if (!enabled(el) || el.readOnly)
          return { status: "wait", reason: `${describe(el)} is disabled or read-only`, seen: [] };
        const at = pointFor(el);
        if (at.covered) return clickReply(el);
        el.focus();
        if (typeof el.select === "function") el.select();
        if (el.value && el.selectionStart === null) {
          setNativeValue(el, "");
          el.dispatchEvent(new Event("input", { bubbles: true }));
        }
        if (el.getRootNode().activeElement !== el)
          return { status: "wait", reason: `${describe(el)} does not take focus`, seen: [] };
        return { status: "type" };
      }
      case "select": {
        if (el.tagName !== "SELECT")
          return { status: "fail", reason: `${describe(el)} is not a drop-down list`, seen: [] };
        if (!enabled(el)) return { status: "wait", reason: `${describe(el)} is disabled`, seen: [] };
        const opts = Array.from(el.options);
        const i = opts.findIndex((o) => key(o.text) === key(req.text));
        if (i < 0)
          return {
            status: "wait",
            reason: `no option "${norm(req.text)}"`,
            seen: opts.map((o) => `option "${norm(o.text)}"`),
          };
        if (el.selectedIndex !== i) {
          el.focus();
          el.selectedIndex = i;
          el.dispatchEvent(new Event("input", { bubbles: true }));
          el.dispatchEvent(new Event("change", { bubbles: true }));
        }
        return { status: "ok" };
      }
      case "check":
      case "uncheck": {
        const want = req.op === "check";
        if (!("checked" in el) && el.getAttribute("aria-checked") === null)
          return { status: "fail", reason: `${describe(el)} cannot be ticked`, seen: [] };
        const now = "checked" in el ? el.checked : el.getAttribute("aria-checked") === "true";
        if (now === want) return { status: "ok" };
        if (!enabled(el)) {
          // A box that enables only once its agreement has been read to the end.
          scrollAgreements();
          return { status: "wait", reason: `${describe(el)} is disabled`, seen: [] };
        }
        return toggle(el);
      }
    }
    return { status: "fail", reason: "unknown operation " + req.op, seen: [] };
  }

  // Checkboxes and radios are toggled by the element's own click: it fires the events a
  // person's click fires on them, wherever the box is drawn, in this same round trip. The
  // caller's loop then checks that the state took.
  let toggles = 0;
  function toggle(el) {
    if (++toggles > 8) return { status: "fail", reason: `${describe(el)} does not keep its state`, seen: [] };
    el.click();
    return { status: "again" };
  }

  // Tick exactly the boxes whose names start with one of `want`, among those `among` selects.
  function checkExactly() {
    const boxes = [];
    for (const el of allElements(document)) {
      const r = roleOf(el);
      if (r !== "checkbox" && r !== "switch") continue;
      if (!visible(el)) continue;
      const name = accName(el);
      const inGroup = req.among.names
        ? req.among.names.some((n) => key(n) === key(name))
        : new RegExp(req.among.pattern, "i").test(name);
      if (inGroup) boxes.push(el);
    }
    const missing = req.want.filter((w) => !boxes.some((b) => namePrefixed(accName(b), w)));
    if (missing.length)
      return {
        status: "wait",
        reason: `no visible checkbox for ${missing.map((m) => `"${m}"`).join(", ")}`,
        seen: boxes.map(describe).concat(seenFor({ kind: "role", role: "checkbox" })).slice(0, MAX_SEEN),
      };
    for (const b of boxes) {
      const should = req.want.some((w) => namePrefixed(accName(b), w));
      const now = "checked" in b ? b.checked : b.getAttribute("aria-checked") === "true";
      if (now !== should) {
        if (!enabled(b)) return { status: "wait", reason: `${describe(b)} is disabled`, seen: [] };
        return toggle(b);
      }
    }
    return { status: "ok", value: String(boxes.length) };
  }

  // Retry inside the page until the slice ends: one CDP round trip covers most waits.
  const until = performance.now() + (req.slice_ms || 0);
  for (;;) {
    let r;
    try {
      r = attempt();
    } catch (e) {
      r = { status: "wait", reason: "page script error: " + e.message, seen: [] };
    }
    // A target that is still moving (content above it rendering late) would be missed by
    // the mouse: click only where it stands still across a frame.
    if (r.status === "click" && r.el) {
      const el = r.el;
      delete r.el;
      await new Promise((resolve) => {
        requestAnimationFrame(() => resolve());
        setTimeout(resolve, 50);
      });
      const again = el.isConnected ? pointFor(el) : { covered: null };
      if (!again.covered && Math.abs(again.x - r.x) < 1 && Math.abs(again.y - r.y) < 1) return r;
      r = { status: "wait", reason: "the target is moving", seen: [] };
    }
    if (r.status === "again") continue;
    if (r.status !== "wait" || performance.now() >= until) return r;
    await new Promise((resolve) => {
      const mo = new MutationObserver(() => {
        mo.disconnect();
        resolve();
      });
      mo.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
      setTimeout(() => {
        mo.disconnect();
        resolve();
      }, 40);
    });
  }
})
