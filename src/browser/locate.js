// The in-page half of the browser driver: finds an element the way a person (and a screen
// reader) would: visible label, role + accessible name, visible text. It checks the element is
// actionable, and acts or reports where to click. The first request to a document installs it
// (window.__cignaSetupLocate), so a navigation needs no injection step and later requests send
// only their arguments.
//
// Roles and names follow WAI-ARIA 1.2, HTML-AAM and accname 1.2 as Chromium implements them:
// tests/it/accname.rs holds this file to Chromium's own accessibility tree over a corpus of
// markup (tests/corpus/accname/), and lists where Chromium departs from the spec and what we
// chose there. Computing them here rather than asking the accessibility tree over CDP keeps an
// action at one round trip: visibility, enablement and hit-testing are checked in the same call.
//
// Returns one of:
//   {status: "ok", value?}               done (or the state already holds)
//   {status: "click", x, y}              the caller clicks there with the real mouse, then asks again
//   {status: "type", note?}              the field is focused and emptied: the caller types
//   {status: "wait", reason, seen}       not actionable yet (missing, hidden, disabled, covered…)
//   {status: "fail", reason, seen}       can never succeed (wrong kind of element, option missing…)
// Replies to actions may carry `notes`: what stands beside each field now, so that text which
// appears there later is known to be the page's answer (see fieldNotes).
(async (req) => {
  const MAX_SEEN = 25;
  // How long the page must go without DOM changes before a one-time look trusts what it sees:
  // longer than the late rendering portals do right after a page loads (the fixture's is up to
  // 120 ms), because a look that comes too early can let the duplicate guard add a user twice.
  const QUIET_MS = 200;
  // The quiet that suffices when the page watcher (watch.js) says the page is at rest: loaded,
  // no request outstanding, no short timer or animation frame pending. A render that follows a
  // response lands within a task or two. (Outstanding requests and short timers are waited for
  // however long they take; animation frames only keep a look from going ahead early.)
  const AT_REST_QUIET_MS = 50;
  // How long two visible matches may persist before the request fails as ambiguous (a
  // re-render briefly shows old and new side by side).
  const AMBIGUOUS_MS = 600;
  // How long a box's new state may wait for the frame that brings it before the box is looked
  // at again (frames do not come to a page the browser throttles). On a loaded 2-core machine a
  // frame took longer than 50 ms, and the box was toggled back before its state had landed.
  const FRAME_FALLBACK_MS = 500;
  // How often one box may be toggled in one request before it counts as not keeping its state.
  const TOGGLES_PER_BOX = 3;
  // How many toggles one request may make in all (a list of 40 TINs needs up to 41).
  const MAX_ROUNDS = 400;
  // A value shown as mask characters only, not the value itself.
  const MASKED = /^[\u2022\u25cf\u2219\u00b7*]+$/;
  // How long a combobox that was clicked may take to show its list before it is clicked again.
  const OPENING_MS = 1500;
  // How long a look waits for a page that keeps changing without saying it is busy.
  const RESTLESS_MS = 5000;
  // How long an outline waits for the page to settle before it is taken as it stands.
  const OUTLINE_WAIT_MS = 3000;
  // How old (since its navigation began) a page must be before it is outlined.
  const OUTLINE_MIN_AGE_MS = 1000;
  // How long an animation may have left to run for a click to wait until it ends (a slide,
  // a menu opening); one that runs longer or forever gets the frame check alone.
  const ANIMATION_WAIT_MS = 1000;
  // How long a table may take to show its next page before the page is taken as the last.
  const PAGE_TURN_MS = 2000;
  const CHANGING = "the page is still changing";
  // When the verb began: its waits span several requests.
  const requestStarted = performance.now() - (req.elapsed_ms || 0);
  // A document still being built when the request was sent (it waited for a navigation to
  // bring the document, or for the parser): until the document was built, the time went on
  // the page loading, not on the request's way here.
  const loadedFor = (() => {
    if (!req.sent_at_ms) return 0;
    const began = performance.timeOrigin + performance.now();
    const nav = performance.getEntriesByType ? performance.getEntriesByType("navigation")[0] : null;
    const built = nav && nav.domContentLoadedEventEnd > 0 ? performance.timeOrigin + nav.domContentLoadedEventEnd : began;
    return Math.max(0, Math.min(began, built) - req.sent_at_ms);
  })();

  // ---- Text ----------------------------------------------------------------------------

  // Whitespace folded: how text reads. Values (a password shown on a page) are read this way.
  const squash = (s) => (s || "").replace(/[\s\u00a0\u200b\u2007\u202f]+/g, " ").trim();
  // Also without required markers and trailing colons: how names compare ("First name *").
  const norm = (s) =>
    squash(s)
      .replace(/^\*\s*/, "")
      .replace(/[\s*:]+$/, "")
      .trim();
  // Decorations a person reads past: symbols such as a menu's "▾" or a tile's "✓" (often CSS
  // generated content, which Chromium puts in names), arrows and chevrons ("Next ›"), and
  // icon-font glyphs (private use).
  const DECOR = /[\p{So}\p{Co}\u2190-\u21ff\u2039\u203a\u00ab\u00bb]/gu;
  // Case, curly quotes and apostrophes folded too: "Organization’s" matches "organization's";
  // decorations dropped unless nothing else is left.
  const key = (s) => {
    const bare = norm((s || "").replace(DECOR, " "));
    return fold(bare || norm(s));
  };
  const fold = (s) =>
    s
      .replace(/[\u2018\u2019\u201a\u201b\u2032\u00b4`]/g, "'")
      .replace(/[\u201c\u201d\u201e\u201f\u2033]/g, '"')
      .replace(/[\u2010-\u2015\u2212]/g, "-")
      .replace(/\u2026/g, "...")
      .toLowerCase();
  const quote = (s) => `"${s}"`;

  // ---- The flat tree: shadow roots, slots, same-origin frames ----------------------------

  function flatChildren(node) {
    if (node.shadowRoot) return node.shadowRoot.childNodes;
    if (node.localName === "slot") {
      const assigned = node.assignedNodes();
      return assigned.length ? assigned : node.childNodes;
    }
    return node.childNodes;
  }

  // The parent a node renders under; null past the document.
  function flatParent(node) {
    if (node.assignedSlot) return node.assignedSlot;
    const p = node.parentNode;
    if (!p) return null;
    if (p.nodeType === 11) return p.host || null;
    if (p.nodeType === 9) return null;
    return p;
  }

  // Every element, through open shadow roots and same-origin frames.
  function* allElements(root) {
    for (const el of root.querySelectorAll("*")) {
      yield el;
      if (el.shadowRoot) yield* allElements(el.shadowRoot);
      if (el.localName === "iframe" || el.localName === "frame") {
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

  // Per attempt: styles, roles and names are read many times while the page stands still.
  let memo = null;
  let popups = null;
  const fresh = () => {
    memo = { style: new Map(), gone: new Map(), role: new Map(), name: new Map() };
    popups = null;
  };
  fresh();

  const styleOf = (el) => {
    let s = memo.style.get(el);
    if (!s) {
      s = el.ownerDocument.defaultView.getComputedStyle(el);
      memo.style.set(el, s);
    }
    return s;
  };

  // ---- Hidden from the accessibility tree ------------------------------------------------

  // Not rendered (display:none here or above, an unslotted child of a shadow host, inside a
  // closed <details>), marked aria-hidden, or inert: absent for a screen reader and a person.
  function gone(el) {
    if (memo.gone.has(el)) return memo.gone.get(el);
    let out = false;
    if (el.getAttribute("aria-hidden") === "true" || el.hasAttribute("inert")) out = true;
    else if (styleOf(el).display === "none") out = true;
    else {
      const p = el.parentNode;
      if (p && p.nodeType === 1 && p.shadowRoot && !el.assignedSlot) out = true;
      else {
        const fp = flatParent(el);
        if (fp && fp.nodeType === 1) {
          if (fp.localName === "details" && !fp.open && el.localName !== "summary") {
            // Only the first <summary> shows in a closed <details>.
            out = el.parentNode === fp;
          }
          if (!out) out = gone(fp);
        }
      }
    }
    memo.gone.set(el, out);
    return out;
  }
  const invisibleStyle = (el) => {
    const v = styleOf(el).visibility;
    return v === "hidden" || v === "collapse";
  };
  const hiddenFromTree = (el) => gone(el) || invisibleStyle(el);

  // ---- Roles ---------------------------------------------------------------------------

  const ARIA_ROLES = new Set(
    (
      "alert alertdialog application article banner blockquote button caption cell checkbox " +
      "code columnheader combobox complementary contentinfo definition deletion dialog " +
      "directory document emphasis feed figure form generic grid gridcell group heading img " +
      "image insertion link list listbox listitem log main mark marquee math menu menubar " +
      "menuitem menuitemcheckbox menuitemradio meter navigation none note option paragraph " +
      "presentation progressbar radio radiogroup region row rowgroup rowheader scrollbar search " +
      "searchbox separator slider spinbutton status strong subscript superscript switch tab " +
      "table tablist tabpanel term textbox time timer toolbar tooltip tree treegrid treeitem"
    ).split(" "),
  );
  const GLOBAL_ARIA = [
    "aria-atomic", "aria-busy", "aria-controls", "aria-current", "aria-describedby",
    "aria-details", "aria-dropeffect", "aria-flowto", "aria-grabbed", "aria-haspopup",
    "aria-keyshortcuts", "aria-label", "aria-labelledby", "aria-live", "aria-owns",
    "aria-relevant", "aria-roledescription",
  ];

  const INPUT_ROLES = {
    button: "button",
    submit: "button",
    reset: "button",
    image: "button",
    checkbox: "checkbox",
    radio: "radio",
    range: "slider",
    number: "spinbutton",
    color: "ColorWell",
    date: "date",
    "datetime-local": "DateTime",
    month: "DateTime",
    week: "DateTime",
    time: "InputTime",
    file: "button",
  };

  function focusable(el) {
    if (el.hasAttribute("tabindex")) return true;
    if (el.disabled) return false;
    const t = el.localName;
    if (t === "button" || t === "select" || t === "textarea") return true;
    if (t === "input") return el.type !== "hidden";
    if ((t === "a" || t === "area") && el.hasAttribute("href")) return true;
    return el.isContentEditable && el.getAttribute("contenteditable") !== null;
  }

  function thRole(el) {
    const scope = (el.getAttribute("scope") || "").toLowerCase();
    if (scope === "row" || scope === "rowgroup") return "rowheader";
    if (scope === "col" || scope === "colgroup") return "columnheader";
    const row = el.parentElement;
    if (!row) return "columnheader";
    if (row.parentElement && row.parentElement.localName === "thead") return "columnheader";
    // A header in a row of data cells heads that row.
    for (const c of row.children) if (c.localName === "td") return "rowheader";
    return "columnheader";
  }

  function tableOf(el) {
    for (let n = el.parentElement; n; n = n.parentElement) if (n.localName === "table") return n;
    return null;
  }

  function implicitRole(el) {
    const tag = el.localName;
    switch (tag) {
      case "a":
        return el.hasAttribute("href") ? "link" : "generic";
      case "area":
        return el.hasAttribute("href") ? "link" : "";
      case "button":
        return "button";
      case "input": {
        const t = (el.getAttribute("type") || "text").toLowerCase();
        if (t === "hidden") return "";
        if (INPUT_ROLES[t]) return INPUT_ROLES[t];
        const list = el.hasAttribute("list");
        if (t === "search") return list ? "combobox" : "searchbox";
        return list ? "combobox" : "textbox";
      }
      case "textarea":
        return "textbox";
      case "select":
        return el.multiple || el.size > 1 ? "listbox" : "combobox";
      case "option":
        return el.closest("select, datalist") ? "option" : "";
      case "optgroup":
        return "group";
      case "h1":
      case "h2":
      case "h3":
      case "h4":
      case "h5":
      case "h6":
        return "heading";
      case "table":
        return "table";
      case "tr":
        return "row";
      case "td": {
        const table = tableOf(el);
        const tr = table ? roleOf(table) : "";
        return tr === "grid" || tr === "treegrid" ? "gridcell" : "cell";
      }
      case "th":
        return thRole(el);
      case "thead":
      case "tbody":
      case "tfoot":
        return "rowgroup";
      case "caption":
        return "caption";
      case "dialog":
        return "dialog";
      case "img":
        return el.getAttribute("alt") === "" && !el.hasAttribute("title") ? "none" : "image";
      case "ul":
      case "ol":
      case "menu":
        return "list";
      case "li":
        return "listitem";
      case "nav":
        return "navigation";
      case "main":
        return "main";
      case "aside":
        return "complementary";
      case "article":
        return "article";
      case "form":
        return "form";
      case "section":
        return el.hasAttribute("aria-label") || el.hasAttribute("aria-labelledby") ? "region" : "generic";
      case "fieldset":
      case "details":
        return "group";
      case "summary":
        return "DisclosureTriangle";
      case "hr":
        return "separator";
      case "output":
        return "status";
      case "progress":
        return "progressbar";
      case "meter":
        return "meter";
      case "p":
        return "paragraph";
      case "label":
        return "LabelText";
      case "legend":
        return "legend";
      case "div":
      case "span":
        return el.isContentEditable && el.getAttribute("contenteditable") !== null ? "textbox" : "generic";
      default:
        return el.isContentEditable && el.getAttribute("contenteditable") !== null ? "textbox" : "";
    }
  }

  function roleOf(el) {
    let r = memo.role.get(el);
    if (r !== undefined) return r;
    r = "";
    for (const t of (el.getAttribute("role") || "").trim().toLowerCase().split(/\s+/)) {
      if (ARIA_ROLES.has(t)) {
        r = t === "image" ? "img" : t;
        break;
      }
    }
    if (r === "presentation") r = "none";
    // A presentational role yields to focusability and global ARIA attributes (ARIA 1.2,
    // presentational role conflict resolution).
    if (r === "none" && (focusable(el) || GLOBAL_ARIA.some((a) => el.hasAttribute(a)))) r = "";
    if (!r) r = implicitRole(el);
    if (r === "image") r = "img";
    memo.role.set(el, r);
    return r;
  }

  // Roles whose name may come from their content (ARIA 1.2 "name from: contents").
  const NAME_FROM_CONTENT = new Set([
    "button", "cell", "checkbox", "columnheader", "gridcell", "heading", "link", "menuitem",
    "menuitemcheckbox", "menuitemradio", "option", "radio", "row", "rowheader", "switch", "tab",
    "tooltip", "treeitem", "DisclosureTriangle", "caption", "legend", "LabelText", "term",
  ]);
  // Controls whose value stands in for them inside another element's name.
  const EMBEDDED = new Set(["textbox", "searchbox", "combobox", "listbox", "slider", "spinbutton", "scrollbar"]);

  const CONTROL_ROLES = new Set([
    "textbox", "searchbox", "combobox", "listbox", "checkbox", "radio", "switch", "spinbutton",
    "slider", "date", "DateTime", "InputTime",
  ]);
  const CLICKABLE_ROLES = new Set([
    "button", "link", "menuitem", "menuitemcheckbox", "menuitemradio", "tab", "option",
    "treeitem", "DisclosureTriangle",
  ]);
  const TOGGLE_ROLES = new Set(["checkbox", "radio", "switch", "menuitemcheckbox", "menuitemradio"]);

  // ---- Accessible names (accname 1.2, as Chromium computes it) ---------------------------

  function idRefs(el, attr) {
    const ids = (el.getAttribute(attr) || "").trim();
    if (!ids) return [];
    const root = el.getRootNode();
    return ids
      .split(/\s+/)
      .map((id) => (root.getElementById ? root.getElementById(id) : el.ownerDocument.getElementById(id)))
      .filter(Boolean);
  }

  // CSS generated content (`content: "x"`, `attr(y)`, with `/ "alt"` alternative text).
  function pseudoText(el, which) {
    let st;
    try {
      st = el.ownerDocument.defaultView.getComputedStyle(el, which);
    } catch (_) {
      return "";
    }
    const c = st && st.content;
    if (!c || c === "none" || c === "normal" || st.display === "none") return "";
    const block = !st.display.startsWith("inline");
    let spec = c;
    const alt = c.match(/\/\s*((?:"(?:[^"\\]|\\.)*"\s*)+)$/);
    if (alt) spec = alt[1];
    let out = "";
    const re = /"((?:[^"\\]|\\.)*)"|attr\(\s*([\w-]+)\s*\)/g;
    let m;
    while ((m = re.exec(spec))) {
      if (m[1] !== undefined) {
        out += m[1].replace(/\\([0-9a-fA-F]{1,6})\s?/g, (_, h) => String.fromCodePoint(parseInt(h, 16))).replace(/\\(.)/g, "$1");
      } else out += el.getAttribute(m[2]) || "";
    }
    // Chromium joins inline generated text to the content without a space, block-level with one.
    return block && out ? ` ${out} ` : out;
  }

  const inlineLevel = (el) => styleOf(el).display.startsWith("inline") || styleOf(el).display === "contents";

  // The value an embedded control lends to the name of what contains it.
  function embeddedValue(el, role) {
    const tag = el.localName;
    if (tag === "select") {
      return Array.from(el.selectedOptions || [], (o) => o.label || o.text).join(" ");
    }
    if (role === "listbox") {
      const sel = Array.from(el.querySelectorAll('[role="option"][aria-selected="true"]'));
      return sel.map((o) => textAlt(o, { root: o, recursion: true })).join(" ");
    }
    if (role === "slider" || role === "spinbutton" || role === "scrollbar") {
      return el.getAttribute("aria-valuetext") || el.getAttribute("aria-valuenow") || el.value || "";
    }
    if (tag === "input" || tag === "textarea") return el.value || "";
    return el.textContent || "";
  }

  // A submenu inside a menu item is the item's popup, not part of its name (Chromium skips it).
  const MENUS = new Set(["menu", "menubar"]);

  function contentText(el, c) {
    let out = pseudoText(el, "::before");
    for (const k of flatChildren(el)) {
      let t = "";
      let block = false;
      if (k.nodeType === 3) t = k.data;
      else if (k.nodeType === 1) {
        if (k.localName === "br") t = "\n";
        else if (MENUS.has(roleOf(k))) continue;
        else {
          t = textAlt(k, { ...c, recursion: true, direct: false });
          block = !inlineLevel(k);
        }
      }
      if (!t) continue;
      out += block ? ` ${t} ` : t;
    }
    return out + pseudoText(el, "::after");
  }

  function nativeName(el, role, c) {
    const tag = el.localName;
    if (tag === "input") {
      const type = (el.getAttribute("type") || "text").toLowerCase();
      if (type === "submit" || type === "reset" || type === "button") {
        if (el.labels && el.labels.length && el === c.root) {
          const l = labelsText(el, c);
          if (l.trim()) return l;
        }
        if (el.hasAttribute("value")) return el.getAttribute("value");
        return type === "submit" ? "Submit" : type === "reset" ? "Reset" : "";
      }
      if (type === "image") {
        const alt = el.getAttribute("alt");
        if (alt && alt.trim()) return alt;
        const v = el.getAttribute("value");
        if (v && v.trim()) return v;
        const title = el.getAttribute("title");
        if (title && title.trim()) return title;
        return "Submit";
      }
    }
    if (el === c.root && el.labels && el.labels.length) {
      const l = labelsText(el, c);
      if (l.trim()) return l;
    }
    if (tag === "fieldset") {
      const legend = Array.from(el.children).find((k) => k.localName === "legend");
      if (legend) return textAlt(legend, { ...c, recursion: true, direct: false });
    }
    if (tag === "table") {
      const cap = Array.from(el.children).find((k) => k.localName === "caption");
      if (cap) {
        const t = textAlt(cap, { ...c, recursion: true, direct: false });
        if (t.trim()) return t;
      }
    }
    if (tag === "img" || tag === "area") {
      const alt = el.getAttribute("alt");
      if (alt !== null) return alt;
    }
    if (tag === "svg") {
      const title = Array.from(el.children).find((k) => k.localName === "title");
      if (title) return title.textContent;
    }
    if (tag === "option" || tag === "optgroup") {
      const label = el.getAttribute("label");
      if (label && label.trim()) return label;
      if (tag === "option") return el.text;
    }
    return "";
  }

  function labelsText(el, c) {
    return Array.from(el.labels, (l) => textAlt(l, { root: el, recursion: true, direct: false, labelledby: c.labelledby }))
      .map(squash)
      .filter(Boolean)
      .join(" ");
  }

  // The text alternative of `node` (accname 1.2 §4.3.2). `c`: root (the element being named),
  // recursion (inside another's computation), labelledby (inside an aria-labelledby traversal),
  // hiddenOk (the directly referenced node was hidden: its hidden content counts), direct (this
  // node is the one aria-labelledby pointed at).
  function textAlt(node, c) {
    if (node.nodeType === 3) {
      const p = node.parentNode && node.parentNode.nodeType === 1 ? node.parentNode : null;
      if (!c.hiddenOk && p && hiddenFromTree(p)) return "";
      return node.data;
    }
    if (node.nodeType !== 1) return "";
    const el = node;
    const tag = el.localName;
    if (tag === "script" || tag === "style" || tag === "template" || tag === "noscript") return "";
    if (!c.hiddenOk && hiddenFromTree(el)) return "";
    if (!c.labelledby) {
      const refs = idRefs(el, "aria-labelledby");
      if (refs.length) {
        const parts = refs.map((r) =>
          squash(
            textAlt(r, {
              root: c.root,
              recursion: true,
              labelledby: true,
              hiddenOk: c.hiddenOk || hiddenFromTree(r),
              direct: true,
            }),
          ),
        );
        const s = parts.filter(Boolean).join(" ");
        if (s) return s;
      }
    }
    const role = roleOf(el);
    if (c.recursion && el === c.root && !c.direct) return "";
    if (c.recursion && el !== c.root && EMBEDDED.has(role)) return embeddedValue(el, role);
    const aria = el.getAttribute("aria-label");
    if (aria && aria.trim()) return aria;
    if (role !== "none") {
      const n = nativeName(el, role, c);
      if (n && n.trim()) return n;
      if ((tag === "img" || tag === "area") && el.getAttribute("alt") === "") return "";
    }
    // Chromium names a row from its content only when the row can take focus (for speed, it
    // says); ARIA would always.
    const fromContent = NAME_FROM_CONTENT.has(role) && (role !== "row" || el.hasAttribute("tabindex") || inGrid(el));
    if (c.recursion || fromContent) {
      const t = contentText(el, c);
      if (t.trim()) return t;
    }
    const title = el.getAttribute("title");
    if (title && title.trim()) return title;
    if (!c.recursion && (tag === "input" || tag === "textarea")) {
      const ph = el.getAttribute("placeholder");
      if (ph && ph.trim()) return ph;
    }
    const aph = el.getAttribute("aria-placeholder");
    if (!c.recursion && aph && aph.trim()) return aph;
    return "";
  }

  function inGrid(el) {
    for (let n = flatParent(el); n && n.nodeType === 1; n = flatParent(n)) {
      const r = roleOf(n);
      if (r === "grid" || r === "treegrid") return true;
      if (r === "table") return false;
    }
    return false;
  }

  function nameOf(el) {
    let n = memo.name.get(el);
    if (n === undefined) {
      n = squash(textAlt(el, { root: el, recursion: false, labelledby: false, hiddenOk: false }));
      memo.name.set(el, n);
    }
    return n;
  }

  // ---- Visible, enabled, where to click --------------------------------------------------

  function boxVisible(el) {
    if (!el || !el.isConnected) return false;
    if (
      el.checkVisibility &&
      !el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true, opacityProperty: true, visibilityProperty: true })
    )
      return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  }

  // Visually hidden on purpose (the clip / 1px "sr-only" pattern): read by screen readers,
  // never seen.
  function visuallyHidden(el) {
    const st = styleOf(el);
    if (st.position !== "absolute" && st.position !== "fixed") return false;
    const r = el.getBoundingClientRect();
    if (r.width <= 1.5 || r.height <= 1.5) return true;
    const clip = st.clip || "";
    if (/rect\(\s*0(px)?[\s,]+0(px)?[\s,]+0(px)?[\s,]+0(px)?\s*\)/.test(clip)) return true;
    return /inset\(\s*(50%|100%)/.test(st.clipPath || "");
  }

  // Custom-styled checkboxes and selects hide the native control and show something else (the
  // label, an overlay): such a control counts as visible and is reached through its label.
  function clickTarget(el) {
    if (boxVisible(el)) return el;
    const native = el.localName === "input" || el.localName === "select";
    if (native && (isToggle(el) || el.localName === "select") && el.labels) {
      for (const l of el.labels) if (boxVisible(l)) return l;
    }
    return null;
  }
  const visible = (el) => !gone(el) && clickTarget(el) !== null;

  const isToggle = (el) => el.localName === "input" && (el.type === "checkbox" || el.type === "radio");

  function enabled(el) {
    if (el.disabled) return false;
    if (el.closest && el.closest("fieldset[disabled]")) return false;
    for (let n = el; n && n.nodeType === 1; n = flatParent(n)) {
      if (n.getAttribute("aria-disabled") === "true") return false;
    }
    return true;
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

  // Whether `hit` (what a click at a point lands on) is `el` or acts for it.
  function landsOn(hit, el) {
    if (!hit) return false;
    if (hit === el || el.contains(hit)) return true;
    // Shadow DOM: the hit may be inside el's shadow tree, or el inside hit's slot.
    for (let n = hit; n; n = flatParent(n)) if (n === el) return true;
    if (hit.contains(el) && hit.localName === "label") return true;
    return !!(el.labels && Array.from(el.labels).some((l) => l === hit || l.contains(hit)));
  }

  // Brings el to the middle of its window unless it is there already.
  function centre(el) {
    const r = el.getBoundingClientRect();
    const h = el.ownerDocument.defaultView.innerHeight;
    if (r.top < h * 0.2 || r.bottom > h * 0.6) el.scrollIntoView({ block: "center", inline: "nearest", behavior: "instant" });
  }

  // Scrolls el into view and checks that a click at its centre lands on it (not on a banner).
  function pointFor(el) {
    const r0 = el.getBoundingClientRect();
    const win = el.ownerDocument.defaultView;
    if (r0.top < 0 || r0.left < 0 || r0.bottom > win.innerHeight || r0.right > win.innerWidth) {
      el.scrollIntoView({ block: "center", inline: "center", behavior: "instant" });
    } else {
      // Inside a scrolled list (an option below a panel's fold): into the list's view.
      el.scrollIntoView({ block: "nearest", inline: "nearest", behavior: "instant" });
    }
    const r = el.getBoundingClientRect();
    const x = r.left + r.width / 2;
    const y = r.top + r.height / 2;
    const root = el.getRootNode();
    let hit = (root.elementFromPoint ? root : el.ownerDocument).elementFromPoint(x, y);
    // Into open shadow roots under the point.
    while (hit && hit.shadowRoot) {
      const inner = hit.shadowRoot.elementFromPoint(x, y);
      if (!inner || inner === hit) break;
      hit = inner;
    }
    if (!landsOn(hit, el)) return { covered: hit };
    const off = frameOffset(el);
    return { x: x + off.x, y: y + off.y };
  }

  // ---- Describing and matching ------------------------------------------------------------

  const describe = (el) => {
    const role = roleOf(el) || el.localName;
    const name = nameOf(el);
    return name ? `${role} ${quote(name)}` : role;
  };

  const sameName = (el, want) => key(nameOf(el)) === key(want);

  // A combobox is often labelled by its label *and* its own value element (Angular Material's
  // mat-select, MUI's Select): "Job role Dentist". Its label alone names the field too.
  function labelOnlyName(el) {
    const refs = idRefs(el, "aria-labelledby").filter((r) => !flatContains(el, r));
    if (!refs.length) return null;
    return squash(
      refs
        .map((r) => squash(textAlt(r, { root: el, recursion: true, labelledby: true, hiddenOk: hiddenFromTree(r), direct: true })))
        .filter(Boolean)
        .join(" "),
    );
  }
  const fieldNamed = (el, r, want) =>
    sameName(el, want) || ((r === "combobox" || r === "listbox") && key(labelOnlyName(el) || "") === key(want));

  // A name equal to `want`, or starting with it followed by a non-word character ("12-3456789
  // Zuub Dental" starts with "12-3456789").
  const namePrefixed = (name, want) => {
    const n = key(name);
    const w = key(want);
    return n === w || (n.startsWith(w) && /^[^a-z0-9]/.test(n.slice(w.length)));
  };

  // How alike two names are, 0..1: shared words, then shared characters in order.
  function likeness(a, b) {
    const x = key(a);
    const y = key(b);
    if (!x || !y) return 0;
    if (x.includes(y) || y.includes(x)) return 0.9 + 0.1 * (Math.min(x.length, y.length) / Math.max(x.length, y.length));
    const wa = new Set(x.split(/\W+/).filter(Boolean));
    const wb = new Set(y.split(/\W+/).filter(Boolean));
    let common = 0;
    for (const w of wa) if (wb.has(w)) common++;
    const words = common / Math.max(1, new Set([...wa, ...wb]).size);
    // Levenshtein over at most 80 characters each.
    const s = x.slice(0, 80);
    const t = y.slice(0, 80);
    let prev = Array.from({ length: t.length + 1 }, (_, i) => i);
    for (let i = 1; i <= s.length; i++) {
      const cur = [i];
      for (let j = 1; j <= t.length; j++) {
        cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (s[i - 1] === t[j - 1] ? 0 : 1));
      }
      prev = cur;
    }
    const chars = 1 - prev[t.length] / Math.max(s.length, t.length);
    return Math.max(words, chars);
  }

  // A combobox's popup listbox is part of the combobox, not a field of its own (it often
  // carries the same label).
  function isPopup(el) {
    if (!popups) {
      popups = new Set();
      for (const c of allElements(document)) {
        if (roleOf(c) !== "combobox") continue;
        for (const attr of ["aria-controls", "aria-owns"]) for (const n of idRefs(c, attr)) popups.add(n);
      }
    }
    return popups.has(el);
  }

  function kindFilter(target) {
    switch (target.kind) {
      case "label":
        return (r, el) => CONTROL_ROLES.has(r) && !(r === "listbox" && el.localName !== "select" && isPopup(el));
      case "role":
        return (r) => r === target.role;
      case "clickable":
        return (r) => CLICKABLE_ROLES.has(r);
      default:
        throw new Error("unknown target kind " + target.kind);
    }
  }

  // ---- Regions (`within`) ---------------------------------------------------------------

  const LANDMARKS = new Set(["banner", "complementary", "contentinfo", "form", "main", "navigation", "region", "search"]);

  // The elements a `within` names: by role (and name), a form, a landmark, or a heading's
  // section (what follows the heading up to the next heading of its level or higher).
  function regions(within) {
    const out = [];
    for (const el of allElements(document)) {
      if (gone(el)) continue;
      const r = roleOf(el);
      if (within.heading !== undefined) {
        if (r === "heading" && sameName(el, within.heading)) out.push({ heading: el });
      } else if (within.role !== undefined) {
        const want = within.role === "landmark" ? LANDMARKS.has(r) : r === within.role || (within.role === "form" && el.localName === "form");
        if (want && (within.name === undefined || sameName(el, within.name))) out.push({ el });
      }
    }
    return out;
  }

  const levelOf = (h) => parseInt(h.getAttribute("aria-level") || h.localName.slice(1), 10) || 2;

  function inRegion(el, region) {
    if (region.el) {
      for (let n = el; n; n = flatParent(n)) if (n === region.el) return true;
      return false;
    }
    const h = region.heading;
    if (!(h.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING)) return false;
    const lvl = levelOf(h);
    for (const other of allElements(document)) {
      if (other === h || roleOf(other) !== "heading" || levelOf(other) > lvl) continue;
      const afterH = h.compareDocumentPosition(other) & Node.DOCUMENT_POSITION_FOLLOWING;
      const beforeEl = other.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING;
      if (afterH && beforeEl) return false;
    }
    return true;
  }

  function describeWithin(w) {
    if (w.heading !== undefined) return `the section under heading ${quote(w.heading)}`;
    return w.name !== undefined ? `${w.role} ${quote(w.name)}` : `the ${w.role}`;
  }

  // ---- Finding ----------------------------------------------------------------------------

  function scoped(target) {
    if (!target.within) return () => true;
    const rs = regions(target.within);
    return (el) => rs.some((r) => inRegion(el, r));
  }

  function candidates(target) {
    const want = kindFilter(target);
    const inside = scoped(target);
    const all = [];
    for (const el of allElements(document)) {
      const r = roleOf(el);
      if (want(r, el) && (target.kind === "label" ? fieldNamed(el, r, target.name) : sameName(el, target.name)) && inside(el)) all.push(el);
    }
    return all;
  }

  // What a person would see instead, nearest names first, for the error message.
  function seenFor(target) {
    const want = kindFilter(target);
    const inside = scoped(target);
    const found = [];
    const names = new Set();
    for (const el of allElements(document)) {
      const r = roleOf(el);
      if (!want(r, el) || !visible(el) || !inside(el)) continue;
      const d = describe(el);
      if (names.has(d)) continue;
      names.add(d);
      found.push({ d, score: likeness(nameOf(el), target.name) });
    }
    found.sort((a, b) => b.score - a.score);
    return found.slice(0, MAX_SEEN);
  }

  function nothingMatches(target) {
    const seen = seenFor(target);
    const near = seen.filter((s) => s.score >= 0.5).slice(0, 3);
    let reason = "nothing matches";
    if (target.within && !regions(target.within).length) reason += ` (no ${describeWithin(target.within)} on the page)`;
    if (near.length) reason += `; did you mean ${near.map((s) => s.d).join(" or ")}?`;
    return { wait: reason, seen: seen.map((s) => s.d) };
  }

  const headings = () => {
    const out = [];
    for (const el of allElements(document)) {
      if (out.length >= 8) break;
      if (roleOf(el) === "heading" && visible(el)) out.push(`heading ${quote(nameOf(el))}`);
    }
    return out;
  };

  function findOne(target) {
    const all = candidates(target);
    const shown = all.filter(visible);
    if (shown.length === 1) {
      window.__cignaAmbiguousSince = undefined;
      return { el: shown[0] };
    }
    if (shown.length > 1) {
      const now = performance.now();
      if (window.__cignaAmbiguousSince === undefined) window.__cignaAmbiguousSince = now;
      const seen = shown.map((el) => describe(el) + where(el));
      if (now - window.__cignaAmbiguousSince >= AMBIGUOUS_MS) {
        window.__cignaAmbiguousSince = undefined;
        return {
          fail: `${shown.length} visible elements match: ${seen.join("; ")} (narrow the target with \`within\`)`,
          seen: [],
        };
      }
      return { wait: `${shown.length} visible elements match`, seen };
    }
    window.__cignaAmbiguousSince = undefined;
    // What was seen instead is worked out only when the wait is reported, not on every retry.
    if (all.length)
      return { wait: `${all.length} matching element(s), none visible`, lazy: () => ({ wait: `${all.length} matching element(s), none visible`, seen: seenFor(target).map((s) => s.d) }) };
    return { wait: "nothing matches", lazy: () => nothingMatches(target) };
  }

  // Where an element stands, for telling two matches apart: its dialog, landmark or heading.
  function where(el) {
    for (let n = flatParent(el); n && n.nodeType === 1; n = flatParent(n)) {
      const r = roleOf(n);
      if (r === "dialog" || r === "alertdialog" || LANDMARKS.has(r) || r === "table" || r === "menu") {
        const nm = nameOf(n);
        return ` in ${r}${nm ? " " + quote(nm) : ""}`;
      }
    }
    return "";
  }

  // Whatever the dismiss list names and is visible (a cookie banner's button), clicked away.
  function dismissTarget() {
    for (const d of req.dismiss || []) {
      for (const el of candidates(d)) {
        const at = visible(el) ? clickTarget(el) : null;
        if (at && enabled(el)) return at;
      }
    }
    return null;
  }

  // A click on the dismiss target (a cookie banner's button) when one shows uncovered.
  function dismissReply() {
    const d = dismissTarget();
    if (!d) return null;
    const p = pointFor(d);
    return p.covered ? null : { status: "click", x: p.x, y: p.y, el: d, dismissing: describe(d) };
  }

  function clickReply(el) {
    let at = pointFor(el);
    if (!window.__cignaCentred) window.__cignaCentred = new WeakSet();
    if (at.covered && !window.__cignaCentred.has(el)) {
      // Something fixed (a header, a banner) lies over it where it stands: try it in the middle
      // of the window, once.
      window.__cignaCentred.add(el);
      centre(el);
      at = pointFor(el);
    }
    if (at.covered) {
      const away = dismissReply();
      if (away) return away;
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
    return { status: "click", x: at.x, y: at.y, el, notes: fieldNotes() };
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

  // ---- What the page shows ---------------------------------------------------------------

  // Text a person sees in a subtree: no hidden, aria-hidden (icon ligatures), visually hidden
  // or control text (a "Copy" or "Show" button beside a value), form fields' contents skipped.
  function shownText(node) {
    let out = "";
    const walk = (n) => {
      if (n.nodeType === 3) {
        out += n.data;
        return;
      }
      if (n.nodeType !== 1) return;
      const tag = n.localName;
      if (tag === "script" || tag === "style" || tag === "template" || tag === "noscript") return;
      if (tag === "select" || tag === "textarea" || tag === "input" || tag === "button") return;
      if (hiddenFromTree(n) || visuallyHidden(n)) return;
      const r = roleOf(n);
      if (r === "button" || r === "switch" || r === "checkbox" || r === "radio" || r === "menuitem" || r === "tab") return;
      if (tag === "br") {
        out += " ";
        return;
      }
      if (tag === "img") {
        out += " " + (n.getAttribute("alt") || "") + " ";
        return;
      }
      const block = !inlineLevel(n);
      if (block) out += " ";
      out += pseudoText(n, "::before");
      for (const c of flatChildren(n)) walk(c);
      out += pseudoText(n, "::after");
      if (block) out += " ";
    };
    walk(node);
    return squash(out);
  }

  // The words of the page a person sees, folded for comparison.
  function pageText() {
    let t = document.body ? document.body.innerText : "";
    for (const el of allElements(document)) {
      if (el.shadowRoot) t += " " + shownText(el.shadowRoot);
    }
    return key(t);
  }

  // The value shown next to a label: "Temporary Password" followed by its value, however the
  // page lays it out (dt/dd, th/td, "Label: value" in one element, a read-only field, a value
  // with a Copy button beside it).
  function labelElement(label) {
    const want = key(label);
    let best = null;
    for (const el of allElements(document)) {
      const tag = el.localName;
      if (tag === "script" || tag === "style" || tag === "html" || tag === "body" || tag === "head") continue;
      if (!boxVisible(el) || gone(el)) continue;
      const t = key(shownText(el));
      if (t === want || (t.startsWith(want) && /^[\s:]/.test(t.slice(want.length)))) {
        // The innermost element carrying the label wins.
        if (!best || best.contains(el) || (best.shadowRoot && flatContains(best, el))) best = el;
      }
    }
    return best;
  }

  function valueNextTo(label) {
    const want = key(label);
    const best = labelElement(label);
    if (!best) return null;
    if (best.localName === "label" && best.control) return fieldValue(best.control) || null;
    const own = shownText(best);
    if (key(own) !== want) {
      // "Label: value" in one element: what follows the label, markers and all.
      const at = key(own).indexOf(want);
      const rest = own.slice(at + want.length).replace(/^[\s:]+/, "");
      if (rest) return rest;
    }
    for (let n = best; n && n !== document.body; n = flatParent(n)) {
      if (n.nodeType !== 1) break;
      for (let s = n.nextElementSibling; s; s = s.nextElementSibling) {
        if (!boxVisible(s) || gone(s)) continue;
        if (s.matches("input, textarea")) return fieldValue(s) || null;
        const t = shownText(s);
        if (t) return t;
        const field = s.querySelector("input:not([type=hidden]), textarea");
        if (field) return fieldValue(field) || null;
      }
      // Climb only while the label is alone in its container.
      const up = flatParent(n);
      if (!up || up.nodeType !== 1 || shownText(up) !== shownText(n)) break;
    }
    // Described by id: the label's element names the value's (aria-labelledby on the value).
    for (const el of allElements(document)) {
      if (idRefs(el, "aria-labelledby").includes(best)) {
        const v = el.matches("input, textarea") ? fieldValue(el) : shownText(el);
        if (v && key(v) !== want) return v;
      }
    }
    return null;
  }

  // The one `reveal` control in the smallest container around the label that holds one.
  function revealNear(labelEl, reveal) {
    if (!labelEl) return null;
    const all = candidates(reveal).filter(visible);
    for (let n = labelEl; n && n.nodeType === 1 && n !== document.body; n = flatParent(n)) {
      const inside = all.filter((el) => flatContains(n, el));
      if (inside.length === 1) return inside[0];
      if (inside.length > 1) return null;
    }
    return null;
  }

  function flatContains(a, b) {
    for (let n = b; n; n = flatParent(n)) if (n === a) return true;
    return false;
  }

  // What a field holds, as a person reads it back.
  function fieldValue(el) {
    if (el.localName === "input" && el.type === "date" && /^\d{4}-\d{2}-\d{2}$/.test(el.value)) {
      const [y, m, d] = el.value.split("-");
      return `${m}/${d}/${y}`;
    }
    if ("value" in el && (el.localName === "input" || el.localName === "textarea" || el.localName === "select")) {
      return el.value ?? "";
    }
    if (el.isContentEditable) return squash(el.innerText);
    const r = roleOf(el);
    if (r === "combobox" || r === "listbox") return shownValue(el);
    return el.value ?? squash(el.textContent);
  }

  // ---- Errors the page shows next to fields ------------------------------------------------

  // The smallest box around a field that holds no other field: where its label, hint and error
  // stand.
  function fieldBox(el) {
    let box = el;
    for (let i = 0; i < 4; i++) {
      const up = flatParent(box);
      if (!up || up.nodeType !== 1 || up === document.body || up.localName === "form") break;
      let others = 0;
      for (const c of up.querySelectorAll("input:not([type=hidden]), select, textarea, [role=textbox], [role=combobox], [role=listbox], [role=checkbox], [role=radio], [role=switch]")) {
        if (c !== el && !el.contains(c) && !c.contains(el) && !gone(c)) others++;
      }
      if (others) break;
      box = up;
    }
    return box;
  }

  const QUIET_ROLES = new Set(["button", "link", "meter", "progressbar", "status", "timer", "switch", "checkbox", "radio", "tab", "menuitem"]);
  // A piece that differs from an earlier one only in its numbers ("12/256", "Resend in 27s")
  // is the same piece: counters and countdowns are not the page's answer.
  const shape = (t) => t.replace(/\d+/g, "#");

  // The separate pieces of text a person sees in a box, the field's own value excluded.
  function textPieces(box, field) {
    const out = [];
    const walk = (n) => {
      if (n.nodeType === 3) {
        const t = squash(n.data);
        if (t) out.push(t);
        return;
      }
      if (n.nodeType !== 1 || n === field) return;
      const tag = n.localName;
      if (tag === "script" || tag === "style" || tag === "template" || tag === "option") return;
      // Not what the page says about the field: a button's or a meter's own text, a timer.
      if (n !== box && QUIET_ROLES.has(roleOf(n))) return;
      if (gone(n) || invisibleStyle(n) || (n !== box && !boxVisible(n) && styleOf(n).display !== "contents")) return;
      for (const c of flatChildren(n)) walk(c);
    };
    walk(box);
    return out;
  }

  // Each visible field with its note key: its name, and its place among fields of the same
  // name (two "Street" fields, billing and mailing).
  function fieldIds() {
    const seen = new Map();
    const out = [];
    for (const el of allElements(document)) {
      if (!CONTROL_ROLES.has(roleOf(el)) || !visible(el)) continue;
      const name = norm(nameOf(el));
      if (!name) continue;
      const n = (seen.get(name) || 0) + 1;
      seen.set(name, n);
      out.push([el, n === 1 ? name : `${name} #${n}`]);
    }
    return out;
  }

  const noteId = (el) => {
    const hit = fieldIds().find(([f]) => f === el);
    return hit ? hit[1] : norm(nameOf(el));
  };

  // What stands next to each visible field now, and which alerts show: sent back with every
  // action so that text appearing there later is known to be the page's answer.
  function fieldNotes(only) {
    const notes = {};
    for (const [el, id] of fieldIds()) {
      if (only && el !== only) continue;
      notes[id] = { invalid: el.getAttribute("aria-invalid") === "true", pieces: textPieces(fieldBox(el), el) };
    }
    if (!only) notes["#alerts"] = { invalid: false, pieces: alertPieces() };
    return notes;
  }

  function alertPieces() {
    const out = [];
    for (const el of allElements(document)) {
      const r = roleOf(el);
      // A polite live region announces news (a list that grew); only one beside a field
      // (seen as text beside it) or an assertive one says something went wrong.
      const live = el.getAttribute("aria-live");
      if ((r === "alert" || r === "alertdialog" || live === "assertive") && visible(el)) {
        const t = shownText(el);
        if (t) out.push(t);
      }
    }
    return out;
  }

  // Errors next to fields: a field newly marked aria-invalid (its aria-errormessage or
  // aria-describedby text, or the text beside it), or text that appeared beside a field since
  // the last action that noted it, or a new alert while the form is still shown.
  function fieldErrors() {
    const base = req.notes || {};
    const out = [];
    let formStillShown = false;
    for (const [el, id] of fieldIds()) {
      const field = norm(nameOf(el));
      const before = base[id];
      if (before) formStillShown = true;
      const invalid = el.getAttribute("aria-invalid") === "true";
      const pieces = textPieces(fieldBox(el), el);
      const known = before ? new Set(before.pieces.map(shape)) : null;
      const fresh = before ? pieces.filter((p) => !known.has(shape(p))) : [];
      const newlyInvalid = invalid && !(before && before.invalid);
      if (!newlyInvalid && !fresh.length) continue;
      let message = squash(idRefs(el, "aria-errormessage").map(shownText).join(" "));
      if (!message && invalid) {
        message = squash(
          idRefs(el, "aria-describedby")
            .filter((n) => boxVisible(n))
            .map(shownText)
            .filter((t) => !before || !before.pieces.includes(t))
            .join(" "),
        );
      }
      if (!message) message = fresh.join(" ");
      if (!message && invalid) {
        for (let n = el.nextElementSibling; n; n = n.nextElementSibling) {
          if (boxVisible(n) && (n.getAttribute("role") === "alert" || /error|invalid/i.test(n.className))) {
            message = shownText(n);
            break;
          }
        }
      }
      out.push({ field, message: message || "(no message shown)" });
    }
    const alertsBefore = base["#alerts"];
    if (formStillShown && alertsBefore) {
      const fresh = alertPieces().filter((p) => !alertsBefore.pieces.includes(p));
      if (fresh.length) out.push({ field: null, message: fresh.join(" ") });
    }
    return out;
  }

  // Why the expected page will not come: a text the flow says means refusal (`unless`), or an
  // error next to a field that was not there when the last action was taken.
  function refusal() {
    const text = pageText();
    // The portal's own error page (HTTP 5xx): worth a reload, not a failed step.
    for (const t of req.transient || []) {
      if (text.includes(key(t))) {
        return { status: "fail", reason: `the portal showed an error page (${quote(norm(t))})`, said: norm(t), transient: true, seen: headings() };
      }
    }
    // A refusal already shown when the last click was made (the page before a form's answer
    // arrives, or a retry on the page that refused before) is not this click's answer.
    const atClick = window.__cignaTextAtClick || "";
    for (const u of req.unless || []) {
      if (text.includes(key(u)) && !atClick.includes(key(u))) {
        let said = norm(u);
        for (const el of allElements(document)) {
          if (!boxVisible(el)) continue;
          const t = shownText(el);
          if (key(t).includes(key(u)) && t.length < 400) said = t;
        }
        return { status: "fail", reason: `the page says ${quote(said)}`, said, seen: [] };
      }
    }
    const fresh = fieldErrors();
    if (fresh.length) {
      const e = fresh[0];
      return {
        status: "fail",
        reason: fresh
          .map((e) => (e.field ? `the page shows an error next to ${quote(e.field)}: ${quote(e.message)}` : `the page shows the alert ${quote(e.message)}`))
          .join("; "),
        said: e.message,
        field: e.field,
        seen: [],
      };
    }
    return null;
  }

  // `want` in `text` as a whole: not "ann@x.com" inside "joann@x.com".
  function containsWord(text, want) {
    const inWord = /[a-z0-9@._+-]/;
    for (let i = text.indexOf(want); i >= 0; i = text.indexOf(want, i + 1)) {
      const before = i > 0 ? text[i - 1] : " ";
      const after = text[i + want.length] || " ";
      const edgeOk = (c, end) => !inWord.test(c) || (c === "." && !inWord.test(end));
      if (edgeOk(before, " ") && edgeOk(after, text[i + want.length + 1] || " ")) return true;
    }
    return false;
  }

  // ---- Settling --------------------------------------------------------------------------

  // Whether nothing the page has set going can move what stands on it: loaded, no request
  // outstanding, no short timer or animation frame pending (watch.js), no animation or
  // transition running, no image or font still loading. A target's place measured now then
  // holds until something acts on the page, so a click need not wait a frame to see it stand
  // still.
  function nothingScheduled(doc, el) {
    const a = window.__cignaActivity;
    if (doc !== document || !a || document.readyState !== "complete") return false;
    if (a.inflight > 0 || a.timers.size > 0 || a.frames.size > 0) return false;
    if (document.fonts && document.fonts.status === "loading") return false;
    if (motions(doc, el).length) return false;
    for (const img of document.images) if (!img.complete) return false;
    return true;
  }

  // Properties whose animation repaints but moves nothing: colour, opacity, shadows.
  const PAINT_ONLY =
    /^(color|background(-color|-image|-position)?|opacity|visibility|filter|box-shadow|text-shadow|outline(-color)?|border(-[a-z]+)?-color|fill|stroke|caret-color|text-decoration-color|accent-color)$/;
  // Properties that move only the element they are on and what it holds (no layout change).
  const TRANSFORMS = /^(transform|translate|scale|rotate|offset(-[a-z]+)?)$/;
  const KEYFRAME_KEYS = new Set(["offset", "computedOffset", "easing", "composite"]);

  // The CSS animations and transitions (and scripts' Web Animations) running on the page that
  // can move `el`, however long ago the DOM last changed: one that changes layout anywhere, or
  // a transform of `el` or of what holds it (a button's ripple elsewhere moves nothing).
  function motions(doc, el) {
    if (typeof doc.getAnimations !== "function") return [];
    return doc.getAnimations().filter((a) => {
      if (a.playState !== "running") return false;
      const frames = a.effect && typeof a.effect.getKeyframes === "function" ? a.effect.getKeyframes() : [];
      const props = frames.flatMap((k) => Object.keys(k).filter((p) => !KEYFRAME_KEYS.has(p)));
      const dashed = props.map((p) => p.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase()));
      // Nothing known of what it animates: it may move anything.
      if (!dashed.length) return true;
      const moving = dashed.filter((p) => !PAINT_ONLY.test(p));
      if (moving.some((p) => !TRANSFORMS.test(p))) return true;
      if (!moving.length) return false;
      const on = a.effect && a.effect.target;
      for (let n = el; n; n = flatParent(n)) if (n === on) return true;
      return false;
    });
  }

  // How long until an animation ends (Infinity for one that repeats forever).
  function timeLeft(a) {
    const t = a.effect && typeof a.effect.getComputedTiming === "function" ? a.effect.getComputedTiming() : null;
    if (!t || !Number.isFinite(t.endTime)) return Infinity;
    return t.endTime - (t.localTime || 0);
  }

  // Why the page is not settled yet, or null: a region marked busy, a progress bar or a
  // "Loading…" row showing, or the DOM changed within the quiet period.
  function unsettled() {
    for (const el of allElements(document)) {
      if (gone(el)) continue;
      if (el.getAttribute("aria-busy") === "true" && boxVisible(el)) return `${describe(el)} is busy`;
      // A spinner, not a wizard's "step 2 of 5": a progress bar without a value.
      const r = roleOf(el);
      const indeterminate = el.localName === "progress" ? !el.hasAttribute("value") : !el.hasAttribute("aria-valuenow");
      if (r === "progressbar" && indeterminate && boxVisible(el)) return "a progress bar shows";
    }
    for (const l of req.loading || []) {
      if (pageText().includes(key(l))) return `the page says ${quote(l)}`;
    }
    const now = performance.now();
    const quietFor = now - window.__cignaLastMutation;
    const a = window.__cignaActivity;
    // Content on its way: a response the page waits for, or a timer it set to run shortly.
    // Waited for past the quiet period (a page that never ends them is trusted after
    // RESTLESS_MS, as one that never stops changing).
    if (a && (a.inflight > 0 || a.timers.size > 0)) return CHANGING;
    if (quietFor >= QUIET_MS) return null;
    const atRest =
      a &&
      document.readyState === "complete" &&
      a.frames.size === 0 &&
      now - a.lastNetwork >= AT_REST_QUIET_MS &&
      quietFor >= AT_REST_QUIET_MS;
    return atRest ? null : CHANGING;
  }

  // Why a look must wait still, or null. A page that never stops changing (a clock, a
  // carousel) is trusted after a while; busy and loading marks never are.
  function settling() {
    const why = unsettled();
    if (why === CHANGING && performance.now() - requestStarted > RESTLESS_MS) return null;
    return why;
  }

  // ---- Controls ----------------------------------------------------------------------------

  // Whether `n`, referenced by el's aria-labelledby, is el's value rather than its label: inside
  // el, and not a <label>.
  const isValueOf = (el, n) => flatContains(el, n) && n.localName !== "label";

  // What a custom combobox shows as chosen: its value text, not its label.
  function shownValue(el) {
    if ("value" in el && (el.localName === "input" || el.localName === "textarea")) return el.value || "";
    if (el.localName === "select") return el.selectedOptions.length ? el.selectedOptions[0].text : "";
    const labelledBy = idRefs(el, "aria-labelledby");
    let out = "";
    const walk = (n) => {
      if (n.nodeType === 3) {
        out += n.data + " ";
        return;
      }
      // Its label may be inside it too; the value element it also points at is what it shows.
      if (n.nodeType !== 1 || (labelledBy.includes(n) && !isValueOf(el, n)) || gone(n) || invisibleStyle(n)) return;
      if (roleOf(n) === "listbox") return;
      for (const c of flatChildren(n)) walk(c);
    };
    for (const c of flatChildren(el)) walk(c);
    return squash(out);
  }

  // The listbox a combobox opens: the one it controls or owns, else the only visible one.
  function popupOf(el) {
    for (const attr of ["aria-controls", "aria-owns"]) {
      for (const n of idRefs(el, attr)) {
        if (roleOf(n) === "listbox" && !gone(n)) return n;
        const inner = n.querySelector && n.querySelector('[role="listbox"]');
        if (inner && !gone(inner)) return inner;
      }
    }
    const shown = [];
    for (const n of allElements(document)) if (roleOf(n) === "listbox" && n.localName !== "select" && visible(n)) shown.push(n);
    return shown.length === 1 ? shown[0] : null;
  }

  function optionsOf(listbox) {
    const out = [];
    const walk = (root) => {
      for (const n of root.querySelectorAll("*")) {
        if (roleOf(n) === "option") out.push(n);
        if (n.shadowRoot) walk(n.shadowRoot);
      }
    };
    walk(listbox);
    for (const n of idRefs(listbox, "aria-owns")) if (roleOf(n) === "option") out.push(n);
    return out;
  }

  function selectNative(el) {
    const opts = Array.from(el.options);
    const i = opts.findIndex((o) => key(o.label || o.text) === key(req.text));
    if (i < 0)
      return {
        status: "wait",
        reason: `no option ${quote(norm(req.text))}`,
        seen: opts.map((o) => `option ${quote(norm(o.label || o.text))}`),
      };
    if (el.selectedIndex !== i) {
      el.focus();
      el.selectedIndex = i;
      el.dispatchEvent(new Event("input", { bubbles: true }));
      el.dispatchEvent(new Event("change", { bubbles: true }));
    }
    return { status: "ok" };
  }

  // An ARIA combobox (Angular Material's mat-select and its kin): open it, click the option
  // by its name, and check that the combobox then shows it.
  function selectCustom(el) {
    const want = key(req.text);
    const shown = key(shownValue(el));
    const expanded = el.getAttribute("aria-expanded") === "true";
    const popup = popupOf(el);
    if (shown === want && !(popup && expanded)) return { status: "ok" };
    if (!popup || !visible(popup)) {
      if (!enabled(el)) return { status: "wait", reason: `${describe(el)} is disabled`, seen: [] };
      // Opening (its list may render a moment later): clicking again would close it.
      const justClicked = window.__cignaOpened === el && performance.now() - window.__cignaOpenedAt < OPENING_MS;
      if (expanded || justClicked) return { status: "wait", reason: `the list of ${describe(el)} is opening`, seen: [] };
      // Its list opens below it, where a cookie banner may lie: clear the way first, as a
      // person would, and bring the field to the middle of the window.
      const away = dismissReply();
      if (away) return away;
      centre(el);
      window.__cignaOpened = el;
      window.__cignaOpenedAt = performance.now();
      return clickReply(clickTarget(el) || el);
    }
    const found = optionIn(popup);
    if (found.wait) return found.wait;
    const option = found.option;
    if (option.getAttribute("aria-disabled") === "true")
      return { status: "wait", reason: `${describe(option)} is disabled`, seen: [] };
    if (shown === want && option.getAttribute("aria-selected") === "true") {
      // Chosen already; the list is only still open. Close it as a person would.
      el.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
      return { status: "ok" };
    }
    return clickReply(option);
  }

  // Any option the list offers but `req.avoid` (what earlier picks took), in the page's
  // order; never a placeholder: a disabled option, a native one without a value, one named as a
  // prompt ("Select a question", "-- choose --"), or what the field showed while it displayed
  // its placeholder. A field that already holds a free option keeps it (a step run again on a
  // page that kept its values), once its list shows that it is one. The reply's value is the
  // option chosen. A custom list shows its options only once open, so the choice is made then
  // and kept for the verb's later requests.
  function pickAny(el, role) {
    const avoid = new Set((req.avoid || []).map(key));
    const prompt = (name) => /^\s*(select|choose|pick|please)\b/i.test(name) || /^\s*-{2,}/.test(name);
    const free = (name) => norm(name) !== "" && !avoid.has(key(name)) && !prompt(name);
    const noneLeft = (names) => ({
      status: "wait",
      reason: `no option of ${describe(el)} is left to choose`,
      seen: names.map((n) => `option ${quote(norm(n))}`).slice(0, MAX_SEEN),
    });
    if (el.localName === "select") {
      const opts = Array.from(el.options);
      const usable = (o) => !o.disabled && o.value !== "" && free(o.label || o.text);
      const current = el.selectedOptions[0];
      const o = current && usable(current) ? current : opts.find(usable);
      if (!o) return noneLeft(opts.map((o) => o.label || o.text));
      req.text = norm(o.label || o.text);
      const r = selectNative(el);
      return r.status === "ok" ? { status: "ok", value: req.text } : r;
    }
    if (role !== "combobox") return { status: "fail", reason: `${describe(el)} is not a drop-down list`, seen: [] };
    if (window.__cignaPickVerb !== req.verb_id) {
      window.__cignaPickVerb = req.verb_id;
      window.__cignaPicked = undefined;
      const shown = key(shownValue(el));
      const placeholder = el.hasAttribute("aria-placeholder") || !!el.querySelector('[class*="placeholder" i]');
      window.__cignaPickBlank = placeholder ? shown : null;
      window.__cignaPickHeld = placeholder ? null : shown;
    }
    if (window.__cignaPicked === undefined) {
      const popup = popupOf(el);
      if (popup && visible(popup)) {
        const opts = optionsOf(popup).filter(visible);
        const blank = window.__cignaPickBlank;
        const usable = opts.filter((o) => o.getAttribute("aria-disabled") !== "true" && free(nameOf(o)) && key(nameOf(o)) !== blank);
        // What the field held is kept only if the list offers it: a dash or a blank is no option.
        const o = usable.find((o) => key(nameOf(o)) === window.__cignaPickHeld) || usable[0];
        if (!o) return noneLeft(opts.map(nameOf));
        window.__cignaPicked = norm(nameOf(o));
      } else {
        // No option is named yet: the list opens, and the choice is made on the next look.
        req.text = "\u0000";
        return selectCustom(el);
      }
    }
    req.text = window.__cignaPicked;
    const r = selectCustom(el);
    return r.status === "ok" ? { ...r, value: req.text } : r;
  }

  // The visible option of a listbox named as the request says, or the wait naming the ones
  // it has.
  function optionIn(listbox) {
    const opts = optionsOf(listbox).filter(visible);
    const option = opts.find((o) => key(nameOf(o)) === key(req.text));
    if (option) return { option };
    return {
      wait: {
        status: "wait",
        reason: `no option ${quote(norm(req.text))} in ${describe(listbox)}`,
        seen: opts.map((o) => `option ${quote(nameOf(o))}`).slice(0, MAX_SEEN),
      },
    };
  }

  // Checkboxes and radios are toggled by the element's own click: it fires the events a
  // person's click fires on them, wherever the box is drawn, in this same round trip. The
  // caller's loop then checks that the state took; a box that flips back every time is a page
  // problem, counted per box.
  // Counted per box by its name, across the requests of one verb: a list re-rendered as new
  // nodes is still the same boxes.
  if (window.__cignaToggleVerb !== req.verb_id) {
    window.__cignaToggleVerb = req.verb_id;
    window.__cignaToggles = new Map();
  }
  const toggles = window.__cignaToggles;
  function toggle(el) {
    const who = describe(el);
    const n = (toggles.get(who) || 0) + 1;
    toggles.set(who, n);
    if (n > TOGGLES_PER_BOX) return { status: "fail", reason: `${describe(el)} does not keep its state`, seen: [] };
    const was = isChecked(el);
    el.click();
    // A native box has its new state at once; one drawn by a framework may take it a
    // microtask or a frame later: only then is the page given its turn.
    return { status: isChecked(el) !== was ? "again-now" : "again" };
  }

  const isChecked = (el) =>
    "checked" in el && el.localName === "input" ? el.checked : el.getAttribute("aria-checked") === "true";

  // Tick exactly the boxes whose names start with one of `want`, among those `among` selects.
  let amongRe = null;
  function checkExactly() {
    if (req.among.pattern !== undefined && !amongRe) amongRe = new RegExp(req.among.pattern, "i");
    const boxes = [];
    for (const el of allElements(document)) {
      const r = roleOf(el);
      if (r !== "checkbox" && r !== "switch") continue;
      if (!visible(el)) continue;
      const name = nameOf(el);
      const inGroup = req.among.names ? req.among.names.some((n) => key(n) === key(name)) : amongRe.test(name);
      if (inGroup) boxes.push(el);
    }
    const missing = req.want.filter((w) => !boxes.some((b) => namePrefixed(nameOf(b), w)));
    if (missing.length)
      return {
        status: "wait",
        reason: `no visible checkbox for ${missing.map(quote).join(", ")}`,
        seen: boxes.map(describe).concat(seenFor({ kind: "role", role: "checkbox", name: missing[0] }).map((s) => s.d)).slice(0, MAX_SEEN),
      };
    for (const b of boxes) {
      const should = req.want.some((w) => namePrefixed(nameOf(b), w));
      if (isChecked(b) !== should) {
        if (!enabled(b)) return { status: "wait", reason: `${describe(b)} is disabled`, seen: [] };
        return toggle(b);
      }
    }
    return { status: "ok", value: String(boxes.length) };
  }

  // ---- Outline (page snapshot) and the names as this engine sees them -----------------

  function stateOf(el) {
    const s = {};
    const r = roleOf(el);
    if (TOGGLE_ROLES.has(r)) s.checked = isChecked(el);
    if (!enabled(el)) s.disabled = true;
    const exp = el.getAttribute("aria-expanded");
    if (exp !== null) s.expanded = exp === "true";
    if (el.getAttribute("aria-busy") === "true") s.busy = true;
    if (el.getAttribute("aria-invalid") === "true") s.invalid = true;
    if (r === "heading") s.level = levelOf(el);
    return s;
  }

  const OUTLINED = new Set([
    ...CONTROL_ROLES, ...CLICKABLE_ROLES, "heading", "table", "row", "columnheader", "rowheader",
    "cell", "gridcell", "dialog", "alertdialog", "alert", "menu", "menubar", "tablist", "listbox",
    "form", "navigation", "main", "region", "group", "radiogroup", "status", "img", "progressbar",
  ]);

  // The page as a tree of what the engine sees: roles, names, labels, states and values
  // (password fields and values that look secret masked), plus visible text outside controls.
  function outline() {
    // Words that may be a credential or a code: letters mixed with digits (a User ID, a
    // password), or six digits alone (a verification code).
    const secretWord = (w) => (w.length >= 6 && /\d/.test(w) && /[A-Za-z]/.test(w)) || /^\d{6}$/.test(w);
    const maskWords = (t) => t.replace(/\S+/g, (w) => (secretWord(w) ? "••••••" : w));
    const looksSecret = (el, v) =>
      (el.localName === "input" && el.type === "password") || /pass|secret|token|code|answer/i.test(nameOf(el)) || secretWord(v);
    const nodeFor = (el) => {
      const r = roleOf(el);
      const node = { role: r, name: maskWords(nameOf(el)) };
      if (CONTROL_ROLES.has(r) && !TOGGLE_ROLES.has(r)) {
        const v = fieldValue(el) || "";
        if (v) node.value = looksSecret(el, String(v)) ? "••••••" : String(v).slice(0, 200);
        if (el.labels && el.labels.length) node.label = squash(Array.from(el.labels, shownText).join(" "));
      }
      const st = stateOf(el);
      if (Object.keys(st).length) node.state = st;
      return node;
    };
    const walk = (n, out) => {
      for (const c of flatChildren(n)) {
        if (c.nodeType === 3) {
          const t = squash(c.data);
          const p = c.parentNode;
          if (t && p && p.nodeType === 1 && !hiddenFromTree(p)) {
            const last = out[out.length - 1];
            if (last && last.role === "text" && last.from === n) last.name = squash(last.name + " " + maskWords(t)).slice(0, 300);
            else out.push({ role: "text", name: maskWords(t).slice(0, 300), from: n });
          }
          continue;
        }
        if (c.nodeType !== 1) continue;
        const tag = c.localName;
        if (tag === "script" || tag === "style" || tag === "template" || tag === "noscript" || tag === "head") continue;
        if (hiddenFromTree(c)) continue;
        const r = roleOf(c);
        if (OUTLINED.has(r) && (visible(c) || styleOf(c).display === "contents")) {
          const node = nodeFor(c);
          if (!CONTROL_ROLES.has(r) && !CLICKABLE_ROLES.has(r) && r !== "heading" && r !== "cell" && r !== "columnheader" && r !== "rowheader" && r !== "gridcell") {
            node.children = [];
            walk(c, node.children);
            if (!node.children.length) delete node.children;
          }
          out.push(node);
        } else if (tag === "iframe" || tag === "frame") {
          let doc = null;
          try {
            doc = c.contentDocument;
          } catch (_) {
            doc = null;
          }
          if (doc && doc.body) walk(doc.body, out);
        } else {
          walk(c, out);
        }
      }
    };
    const nodes = [];
    if (document.body) walk(document.body, nodes);
    const clean = (list) => {
      for (const n of list) {
        delete n.from;
        if (n.children) clean(n.children);
      }
    };
    clean(nodes);
    return nodes;
  }

  function describeMarked(attr) {
    const out = [];
    for (const el of allElements(document)) {
      if (!el.hasAttribute(attr)) continue;
      const role = roleOf(el);
      out.push({ key: el.getAttribute(attr), role, name: nameOf(el), exposed: !hiddenFromTree(el) && role !== "none" });
    }
    return out;
  }

  // ---- Requests --------------------------------------------------------------------------

  function attempt() {
    fresh();
    if (req.op === "landed") {
      // A new document (undefined) means the click navigated: it landed.
      return { status: "ok", value: window.__cignaPressLanded === false ? "no" : "yes" };
    }
    if (req.op === "describe") return { status: "ok", value: JSON.stringify(describeMarked(req.attr)) };
    if (!document.body || document.readyState === "loading") {
      return { status: "wait", reason: "the page is still loading", seen: [] };
    }
    const t = req.target;
    switch (req.op) {
      case "outline": {
        // What a person would see once the page has settled, not a half-rendered one.
        // A page just opened may still have content on a timer: give it a second from its
        // start (a diagnostic can afford it), then the quiet period.
        const young = performance.now() < OUTLINE_MIN_AGE_MS ? "the page has only just opened" : null;
        const why = young || settling();
        if (why && performance.now() - requestStarted < OUTLINE_WAIT_MS) return { status: "wait", reason: why, seen: [] };
        const out = { url: location.href, title: document.title, nodes: outline() };
        if (why) out.unsettled = why;
        return { status: "ok", value: JSON.stringify(out) };
      }
      case "expect": {
        const text = pageText();
        if ([req.text, ...(req.or || [])].some((t) => text.includes(key(t)))) return { status: "ok" };
        return refusal() || { status: "wait", reason: "text not on the page", seen: headings() };
      }
      case "present": {
        // Whether a control is there at all. One that shows is there; its absence is decided
        // only once the page has settled: a menu that lacks an entry (a login without a
        // right) is not a slow one.
        if (candidates(req.target).some(visible)) return { status: "ok", value: "yes" };
        // The portal's error page lacks every control: that is worth a reload, not an answer.
        const errorPage = refusal();
        if (errorPage && errorPage.transient) return errorPage;
        const why = settling();
        if (why) return { status: "wait", reason: why, seen: [] };
        return { status: "ok", value: "no" };
      }
      case "look": {
        // One look that a later decision rests on: only once the page has settled, and
        // through every page of a paged table.
        const why = settling();
        if (why) return { status: "wait", reason: why, seen: [] };
        const text = pageText();
        if (containsWord(text, key(req.text))) return { status: "ok", value: "yes" };
        if (req.next) {
          // The same page again after a click on Next: that was the last page.
          if (window.__cignaLookVerb !== req.verb_id) {
            window.__cignaLookVerb = req.verb_id;
            window.__cignaPagedFrom = undefined;
          }
          if (window.__cignaPagedFrom === text) {
            // A slow page turn leaves the old page standing a while.
            if (performance.now() - window.__cignaPagedAt < PAGE_TURN_MS) return { status: "wait", reason: "the next page is loading", seen: [] };
            return { status: "ok", value: "no" };
          }
          // Paginators above and below a table are one control twice.
          const next = candidates(req.next).filter(visible);
          if (next.length && next.every(enabled)) {
            window.__cignaPagedFrom = text;
            window.__cignaPagedAt = performance.now();
            return clickReply(clickTarget(next[0]));
          }
        }
        return { status: "ok", value: "no" };
      }
      case "scroll": {
        return { status: "ok", value: String(scrollAgreements()) };
      }
      case "read": {
        const v = valueNextTo(req.text);
        if (v && MASKED.test(v)) {
          // Shown as bullets until its "Show" beside it is clicked, as a person would.
          const near = req.reveal ? revealNear(labelElement(req.text), req.reveal) : null;
          if (near && enabled(near)) return clickReply(clickTarget(near));
          return { status: "wait", reason: `the value is masked (${v})${req.reveal ? `; no ${quote(req.reveal.name)} beside it` : ""}`, seen: [] };
        }
        if (v) return { status: "ok", value: v };
        return { status: "wait", reason: "no value shown next to that label", seen: headings() };
      }
      case "read-field": {
        const f = findOne(t);
        if (f.fail) return { status: "fail", reason: f.fail, seen: [] };
        if (!f.el) return { status: "wait", reason: f.wait, seen: f.seen, lazy: f.lazy };
        return { status: "ok", value: String(fieldValue(f.el) ?? "") };
      }
      case "check-exactly":
        return checkExactly();
    }
    const f = findOne(t);
    if (f.fail) return { status: "fail", reason: f.fail, seen: [] };
    if (!f.el) {
      const refused = req.op === "see" ? refusal() : null;
      return refused || { status: "wait", reason: f.wait, seen: f.seen, lazy: f.lazy };
    }
    const el = f.el;
    const role = roleOf(el);
    const r = act(el, role);
    // What the page shows beside a field this action just set is no answer to a later click.
    if (r.status === "ok" && (req.op === "select" || req.op === "check" || req.op === "uncheck")) {
      r.notes = fieldNotes(el);
      r.filled = noteId(el);
    }
    return r;
  }

  function act(el, role) {
    switch (req.op) {
      case "see":
        return { status: "ok" };
      case "click": {
        if (!enabled(el)) return { status: "wait", reason: `${describe(el)} is disabled`, seen: [] };
        window.__cignaTextAtClick = pageText();
        return clickReply(clickTarget(el));
      }
      case "fill": {
        const tag = el.localName;
        const editable = el.isContentEditable;
        if (!["textbox", "searchbox", "spinbutton", "combobox", "date"].includes(role) || tag === "select")
          return { status: "fail", reason: `${describe(el)} is not a text field`, seen: [] };
        // A combobox that takes no typing (mat-select and its kin) is chosen from, not filled.
        if (role === "combobox" && tag !== "input" && tag !== "textarea" && !editable)
          return { status: "fail", reason: `${describe(el)} is a drop-down list: choose from it with \`select\``, seen: [] };
        if (!enabled(el) || el.readOnly || el.getAttribute("aria-readonly") === "true")
          return { status: "wait", reason: `${describe(el)} is disabled or read-only`, seen: [] };
        const at = pointFor(el);
        if (at.covered) return clickReply(el);
        // Only this field's surroundings: the others are noted when they are acted on.
        const notes = fieldNotes(el);
        if (tag === "input" && el.type === "date") {
          // A native date field takes ISO dates from script; the contract's dates are
          // MM/DD/YYYY.
          const m = String(req.value || "").match(/^(\d{2})\/(\d{2})\/(\d{4})$/);
          if (!m) return { status: "fail", reason: `${describe(el)} takes a date as MM/DD/YYYY`, seen: [] };
          el.focus();
          setNativeValue(el, `${m[3]}-${m[1]}-${m[2]}`);
          el.dispatchEvent(new Event("input", { bubbles: true }));
          el.dispatchEvent(new Event("change", { bubbles: true }));
          return { status: "ok", value: "set", notes, filled: noteId(el) };
        }
        el.focus();
        if (editable) {
          const range = document.createRange();
          range.selectNodeContents(el);
          const sel = el.ownerDocument.getSelection();
          sel.removeAllRanges();
          sel.addRange(range);
          if (el.textContent) document.execCommand("delete");
        } else {
          if (typeof el.select === "function") el.select();
          if (el.value) {
            setNativeValue(el, "");
            el.dispatchEvent(new Event("input", { bubbles: true }));
          }
        }
        let active = el.ownerDocument.activeElement;
        while (active && active.shadowRoot && active.shadowRoot.activeElement) active = active.shadowRoot.activeElement;
        if (active !== el && !(editable && el.contains(active)))
          return { status: "wait", reason: `${describe(el)} does not take focus`, seen: [] };
        return { status: "type", notes, filled: noteId(el) };
      }
      case "select": {
        if (!enabled(el)) return { status: "wait", reason: `${describe(el)} is disabled`, seen: [] };
        if (req.avoid) return pickAny(el, role);
        if (el.localName === "select") return selectNative(el);
        if (role !== "combobox" && role !== "listbox")
          return { status: "fail", reason: `${describe(el)} is not a drop-down list`, seen: [] };
        if (role === "listbox") {
          const found = optionIn(el);
          if (found.wait) return found.wait;
          if (found.option.getAttribute("aria-selected") === "true") return { status: "ok" };
          return clickReply(found.option);
        }
        return selectCustom(el);
      }
      case "check":
      case "uncheck": {
        const want = req.op === "check";
        if (!("checked" in el && el.localName === "input") && el.getAttribute("aria-checked") === null)
          return { status: "fail", reason: `${describe(el)} cannot be ticked`, seen: [] };
        if (isChecked(el) === want) return { status: "ok" };
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

  // Retry inside the page until the slice ends: one CDP round trip covers most waits. The reply
  // says how long of it went on waiting for the page (`waited_ms`): what is left of the round
  // trip is the engine's own cost.
  const until = performance.now() + (req.slice_ms || 0);
  let rounds = 0;
  let waited = loadedFor;
  const pageTurn = async (wait) => {
    const from = performance.now();
    await new Promise(wait);
    waited += performance.now() - from;
  };
  const answer = (r) => {
    r.waited_ms = Math.round(waited);
    return r;
  };
  for (;;) {
    let r;
    try {
      r = attempt();
    } catch (e) {
      r = { status: "wait", reason: "page script error: " + e.message, seen: [] };
    }
    // A target that is still moving (content above it rendering late, a transition) would be
    // missed by the mouse: click only where it stands still across a frame. An animation
    // that ends soon is waited out, as a person waits for a slide to finish. Without one, a
    // page that has not changed for a frame's time, or that has nothing under way that could
    // change it, cannot have moved it.
    if (r.status === "click" && r.el) {
      const el = r.el;
      delete r.el;
      const doc = el.ownerDocument;
      const moving = motions(doc, el);
      const recent = performance.now() - window.__cignaLastMutation < 50;
      if (moving.some((a) => timeLeft(a) <= ANIMATION_WAIT_MS) && performance.now() - requestStarted < 2 * ANIMATION_WAIT_MS) {
        r = { status: "wait", reason: "the page is animating", seen: [] };
      } else if (moving.length || (recent && !nothingScheduled(doc, el))) {
        // An animation only just created moves from the frame after its first: let it start.
        const starting = moving.filter((a) => a.pending).map((a) => a.ready.catch(() => {}));
        if (starting.length) await Promise.race([Promise.all(starting), new Promise((resolve) => setTimeout(resolve, 100))]);
        await new Promise((resolve) => {
          requestAnimationFrame(() => resolve());
          setTimeout(resolve, 50);
        });
        const again = el.isConnected ? pointFor(el) : { covered: null };
        if (again.covered || Math.abs(again.x - r.x) >= 1 || Math.abs(again.y - r.y) >= 1) {
          r = { status: "wait", reason: "the target is moving", seen: [] };
        }
      }
      if (r.status === "click") return answer(r);
    }
    if (r.status === "again-now") {
      if (++rounds > MAX_ROUNDS) return answer({ status: "fail", reason: "the page keeps changing what was set", seen: [] });
      continue;
    }
    if (r.status === "again") {
      // Give the page its turn: frameworks update a box's state a microtask or a frame later.
      if (++rounds > MAX_ROUNDS) return answer({ status: "fail", reason: "the page keeps changing what was set", seen: [] });
      await pageTurn((resolve) => {
        requestAnimationFrame(() => setTimeout(resolve, 0));
        setTimeout(resolve, FRAME_FALLBACK_MS);
      });
      continue;
    }
    if (r.status !== "wait" || performance.now() >= until) {
      if (r.lazy) {
        const d = r.lazy();
        r.reason = d.wait;
        r.seen = d.seen;
      }
      delete r.lazy;
      return answer(r);
    }
    await pageTurn((resolve) => {
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
