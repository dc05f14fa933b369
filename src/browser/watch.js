// The page watcher, defined in every new document before the page's own scripts run.
//
// A look that reads a page once (a `when`, the duplicate guard) must not read it before late
// content has arrived. Without signals, the only safe rule is a quiet period with no DOM change
// (locate.js's QUIET_MS). With them, a page is known to be at rest sooner: nothing it asked the
// network for is outstanding and nothing it scheduled to run shortly is pending. This records
// both, and when the DOM last changed. It changes no behaviour of the page: each wrapper calls
// the original with the same arguments and returns what it returns.
(() => {
  if (window.__cignaObserver) return;
  window.__cignaLastMutation = performance.now();
  window.__cignaObserver = new MutationObserver(() => {
    window.__cignaLastMutation = performance.now();
  });
  window.__cignaObserver.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });

  // Timers longer than this are not "shortly" (a banner that hides itself after seconds).
  const SHORT_TIMER_MS = 1000;
  const activity = { inflight: 0, timers: new Set(), frames: new Set(), lastNetwork: 0 };
  window.__cignaActivity = activity;
  const settled = () => {
    activity.inflight = Math.max(0, activity.inflight - 1);
    activity.lastNetwork = performance.now();
  };

  const { setTimeout: st, clearTimeout: ct, requestAnimationFrame: raf, cancelAnimationFrame: caf } = window;
  window.setTimeout = function (fn, ms, ...args) {
    if (typeof fn !== "function" || Number(ms) > SHORT_TIMER_MS) return st.call(this, fn, ms, ...args);
    const id = st.call(
      this,
      function (...a) {
        activity.timers.delete(id);
        return fn.apply(this, a);
      },
      ms,
      ...args,
    );
    activity.timers.add(id);
    return id;
  };
  window.clearTimeout = function (id) {
    activity.timers.delete(id);
    return ct.call(this, id);
  };
  window.requestAnimationFrame = function (fn) {
    if (typeof fn !== "function") return raf.call(this, fn);
    const id = raf.call(this, function (t) {
      activity.frames.delete(id);
      return fn.call(this, t);
    });
    activity.frames.add(id);
    return id;
  };
  window.cancelAnimationFrame = function (id) {
    activity.frames.delete(id);
    return caf.call(this, id);
  };

  const f = window.fetch;
  if (typeof f === "function") {
    window.fetch = function (...args) {
      activity.inflight++;
      let p;
      try {
        p = f.apply(this, args);
      } catch (e) {
        settled();
        throw e;
      }
      // Reading the body is part of the answer: count until it is read or the page drops it.
      return p.then(
        (response) => {
          for (const m of ["json", "text", "arrayBuffer", "blob", "formData"]) {
            const read = response[m];
            if (typeof read !== "function") continue;
            response[m] = function () {
              activity.inflight++;
              return read.call(this).finally(settled);
            };
          }
          settled();
          return response;
        },
        (e) => {
          settled();
          throw e;
        },
      );
    };
  }
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function (...args) {
    activity.inflight++;
    this.addEventListener("loadend", settled, { once: true });
    try {
      return send.apply(this, args);
    } catch (e) {
      settled();
      throw e;
    }
  };
})();
