// Evidence of a step without its secrets, computed in the page.
//
//   {op: "mask", secrets: [...], beside: [...]}  covers with opaque boxes every password field,
//       every field or piece of text holding a secret, and the area beside each label whose
//       value is captured as a secret; returns how many boxes and where the window is
//       ({boxes, x, y, width, height}, document coordinates).
//   {op: "unmask"}                                removes the boxes.
//   {op: "html", secrets: [...]}                  the page serialised with every secret replaced
//       in text nodes, attribute values and field values; markup is never touched.
// Secrets of fewer than 4 characters are matched only where they stand alone as a word.
((req) => {
  const MARK = "data-cigna-mask";
  const SHORT = 4;
  const secrets = (req.secrets || []).filter((s) => s && s.trim());

  // Where each secret occurs in `text`: [start, end) pairs.
  function occurrences(text) {
    const found = [];
    if (!text) return found;
    for (const s of secrets) {
      let at = text.indexOf(s);
      while (at !== -1) {
        const before = text[at - 1] || " ";
        const after = text[at + s.length] || " ";
        const word = /[\p{L}\p{N}]/u;
        if (s.length >= SHORT || (!word.test(before) && !word.test(after))) found.push([at, at + s.length]);
        at = text.indexOf(s, at + 1);
      }
    }
    return found;
  }
  const redact = (text) => {
    const hits = occurrences(text).sort((a, b) => a[0] - b[0]);
    if (!hits.length) return text;
    let out = "";
    let last = 0;
    for (const [a, b] of hits) {
      if (a < last) {
        last = Math.max(last, b);
        continue;
      }
      out += text.slice(last, a) + "[redacted]";
      last = b;
    }
    return out + text.slice(last);
  };

  // The document and every open shadow root in it, each once.
  function roots() {
    const out = [document];
    for (let i = 0; i < out.length; i++) {
      const walker = document.createTreeWalker(out[i], NodeFilter.SHOW_ELEMENT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) if (n.shadowRoot) out.push(n.shadowRoot);
    }
    return out;
  }
  // Nodes of one kind in every root (a TreeWalker stays inside its root).
  function* nodes(kind) {
    for (const root of roots()) {
      const walker = document.createTreeWalker(root, kind);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) yield n;
    }
  }
  const elements = () => nodes(NodeFilter.SHOW_ELEMENT);
  const textNodes = () => nodes(NodeFilter.SHOW_TEXT);

  if (req.op === "unmask") {
    for (const el of document.querySelectorAll(`[${MARK}]`)) el.remove();
    return 0;
  }

  if (req.op === "html") {
    const clone = document.documentElement.cloneNode(true);
    // Field values live in properties, which cloning does not carry: write them in, redacted.
    const live = [...document.documentElement.querySelectorAll("input, textarea")];
    const copies = [...clone.querySelectorAll("input, textarea")];
    live.forEach((el, i) => {
      const c = copies[i];
      if (!c || el.type === "file") return;
      const v = el.type === "password" ? (el.value ? "[redacted]" : "") : redact(el.value);
      if (el.localName === "textarea") c.textContent = v;
      else if (el.type !== "checkbox" && el.type !== "radio") c.setAttribute("value", v);
    });
    const walker = document.createTreeWalker(clone, NodeFilter.SHOW_TEXT | NodeFilter.SHOW_ELEMENT);
    for (let n = walker.currentNode; n; n = walker.nextNode()) {
      if (n.nodeType === 3) {
        n.data = redact(n.data);
      } else if (n.nodeType === 1) {
        for (const a of [...n.attributes]) {
          const v = redact(a.value);
          if (v !== a.value) n.setAttribute(a.name, v);
        }
        if (n.localName === "input" && n.getAttribute("type") === "password" && n.hasAttribute("value"))
          n.setAttribute("value", "[redacted]");
      }
    }
    const doctype = document.doctype ? `<!DOCTYPE ${document.doctype.name}>` : "";
    return doctype + clone.outerHTML;
  }

  // ---- mask ----
  const rects = [];
  const add = (r, pad = 3) => {
    if (r && r.width > 0 && r.height > 0) rects.push({ x: r.left - pad, y: r.top - pad, w: r.width + 2 * pad, h: r.height + 2 * pad });
  };
  for (const el of elements()) {
    const tag = el.localName;
    if (tag === "input" || tag === "textarea") {
      if (el.type === "password" || occurrences(el.value).length) add(el.getBoundingClientRect());
    } else if (el.isContentEditable && occurrences(el.textContent).length) {
      add(el.getBoundingClientRect());
    }
  }
  for (const t of textNodes()) {
    for (const [a, b] of occurrences(t.data)) {
      const range = document.createRange();
      range.setStart(t, a);
      range.setEnd(t, b);
      for (const r of range.getClientRects()) add(r);
    }
  }
  // Beside each label of a secret capture: the rest of its row, and the element after it (a
  // value in the next cell or line). Covers a value whose capture went wrong too.
  const fold = (s) => (s || "").replace(/\s+/g, " ").trim().replace(/[\s:*]+$/, "").toLowerCase();
  const wanted = new Set((req.beside || []).map(fold));
  if (wanted.size) {
    for (const el of elements()) {
      if (!wanted.has(fold(el.textContent)) || [...el.children].some((c) => wanted.has(fold(c.textContent)))) continue;
      const r = el.getBoundingClientRect();
      const row = el.parentElement ? el.parentElement.getBoundingClientRect() : r;
      add({ left: r.right, top: r.top, width: Math.max(0, row.right - r.right), height: r.height });
      const next = el.nextElementSibling;
      if (next) add(next.getBoundingClientRect());
    }
  }
  // The boxes go in a layer of their own in the top layer (a manual popover), shown last so
  // that it is drawn above a modal <dialog> or another popover, which no z-index can cover.
  // A top-layer box is placed against the initial containing block: document coordinates,
  // because the screenshot is of the whole page, not only the window.
  const html = document.documentElement;
  const layer = document.createElement("div");
  layer.setAttribute(MARK, "");
  const top = typeof layer.showPopover === "function";
  if (top) layer.setAttribute("popover", "manual");
  const width = Math.max(html.scrollWidth, window.innerWidth);
  const height = Math.max(html.scrollHeight, window.innerHeight);
  layer.style.cssText =
    `position:absolute;inset:auto;left:0;top:0;width:${width}px;height:${height}px;margin:0;padding:0;` +
    "border:0;background:transparent;overflow:visible;pointer-events:none;z-index:2147483647;display:block";
  const origin = { left: -window.scrollX, top: -window.scrollY };
  if (!top) {
    const inHtml = getComputedStyle(html).position === "static" ? origin : html.getBoundingClientRect();
    origin.left = inHtml.left;
    origin.top = inHtml.top;
  }
  for (const r of rects) {
    const box = document.createElement("div");
    box.style.cssText =
      `position:absolute;left:${r.x - origin.left}px;top:${r.y - origin.top}px;width:${r.w}px;height:${r.h}px;` +
      "background:#000;margin:0;padding:0;border:0";
    layer.appendChild(box);
  }
  html.appendChild(layer);
  if (top) {
    try {
      layer.showPopover();
    } catch (e) {
      // Left in the page's own layers: still above everything but a top-layer element.
    }
  }
  return { boxes: rects.length, x: window.scrollX, y: window.scrollY, width: window.innerWidth, height: window.innerHeight };
})
