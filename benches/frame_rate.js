// Benchmark: what Chromium's frame-rate limit costs a step's picture, and what lifting it costs
// in CPU, for the headless shell and for Chromium's new headless mode. Why only the shell runs
// with `--disable-frame-rate-limit` (src/browser/launch.rs, SHELL_FLAGS).
//
// For each browser, with and without the flag, on a page without animation and on one with an
// endless main-thread animation (a CSS animation of `margin-left` and a requestAnimationFrame
// loop, as carousels and clocks do): the median time of a 0.3-scale JPEG capture after a DOM
// change (15 of them), of a move-press-release click, and the browser's CPU over 2 s idle
// (percent of one core). Figures only.
//
// Run: `node benches/frame_rate.js` (Node 18+; BROWSERS=path:path to choose the browsers).
"use strict";
const { spawn } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

function launch(bin, extra) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "frame-rate-"));
  const args = ["--headless=new", "--remote-debugging-pipe", "--no-first-run", "--disable-gpu", "--hide-scrollbars",
    "--window-size=1280,900", `--user-data-dir=${profile}`, ...extra];
  if (process.getuid && process.getuid() === 0) args.push("--no-sandbox");
  const p = spawn(bin, args, { stdio: ["ignore", "ignore", "ignore", "pipe", "pipe"] });
  let id = 0, buf = "";
  const pending = new Map();
  p.stdio[4].on("data", (d) => {
    buf += d.toString();
    for (let i; (i = buf.indexOf("\0")) >= 0; ) {
      const m = JSON.parse(buf.slice(0, i));
      buf = buf.slice(i + 1);
      if (m.id && pending.has(m.id)) { pending.get(m.id)(m); pending.delete(m.id); }
    }
  });
  const send = (method, params = {}, sessionId) => new Promise((res) => {
    const n = ++id;
    pending.set(n, res);
    p.stdio[3].write(JSON.stringify({ id: n, method, params, sessionId }) + "\0");
  });
  return { p, send, profile };
}

// utime + stime of every process of this browser (its profile is on their command lines).
function cpuTicks(profile) {
  let t = 0;
  for (const pid of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (!fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(profile)) continue;
      const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      t += Number(f[11]) + Number(f[12]);
    } catch (e) { /* gone */ }
  }
  return t;
}

const median = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
const ms = (t) => Number(process.hrtime.bigint() - t) / 1e6;

async function measure(bin, extra, animated) {
  const b = launch(bin, extra);
  const { result: { targetId } } = await b.send("Target.createTarget", { url: "about:blank" });
  const { result: { sessionId } } = await b.send("Target.attachToTarget", { targetId, flatten: true });
  const s = (m, p) => b.send(m, p, sessionId);
  await s("Page.enable");
  await s("Emulation.setDeviceMetricsOverride", { width: 1280, height: 900, deviceScaleFactor: 1, mobile: false });
  const animation = animated
    ? "<div id=a>moving</div><style>#a{animation:slide 1s linear infinite alternate}@keyframes slide{to{margin-left:300px}}</style>" +
      "<script>(function f(){document.title=performance.now();requestAnimationFrame(f)})()</script>"
    : "";
  const html = "<h1>Hello</h1>" + animation + "<p>Lorem ipsum dolor sit amet</p>".repeat(40) +
    "<button id=b onclick='this.textContent=Date.now()'>Go</button>";
  await s("Page.navigate", { url: "data:text/html," + encodeURIComponent(html) });
  await s("Runtime.evaluate", { expression: "new Promise(r => document.readyState === 'complete' ? r() : onload = r)", awaitPromise: true });
  const shots = [], clicks = [];
  for (let i = 0; i < 15; i++) {
    await s("Runtime.evaluate", { expression: `document.querySelector('h1').textContent = 'Hello ${i}'` });
    let t = process.hrtime.bigint();
    await s("Page.captureScreenshot", { format: "jpeg", quality: 60, optimizeForSpeed: true,
      clip: { x: 0, y: 0, width: 1280, height: 900, scale: 0.3 } });
    shots.push(ms(t));
    const r = await s("Runtime.evaluate", { returnByValue: true,
      expression: "(() => { const r = document.getElementById('b').getBoundingClientRect(); return [r.x + 5, r.y + 5]; })()" });
    const [x, y] = r.result.result.value;
    t = process.hrtime.bigint();
    await Promise.all(["mouseMoved", "mousePressed", "mouseReleased"].map((type) =>
      s("Input.dispatchMouseEvent", { type, x, y, button: type === "mouseMoved" ? "none" : "left", clickCount: 1 })));
    clicks.push(ms(t));
  }
  const before = cpuTicks(b.profile);
  await new Promise((r) => setTimeout(r, 2000));
  const cpu = (cpuTicks(b.profile) - before) / 2; // ticks are 1/100 s: per second = % of a core
  b.p.kill("SIGKILL");
  await new Promise((r) => b.p.on("exit", r));
  fs.rmSync(b.profile, { recursive: true, force: true });
  return { shot: median(shots), click: median(clicks), cpu };
}

(async () => {
  const browsers = (process.env.BROWSERS || "/usr/lib/chromium/chromium-headless-shell:/usr/lib/chromium/chromium")
    .split(":").filter((b) => fs.existsSync(b));
  console.log("browser".padEnd(44), "flag".padEnd(28), "page".padEnd(9), "picture ms  click ms  idle CPU %");
  for (const bin of browsers) {
    for (const extra of [[], ["--disable-frame-rate-limit"]]) {
      for (const animated of [false, true]) {
        const r = await measure(bin, extra, animated);
        console.log(bin.padEnd(44), (extra[0] || "(none)").padEnd(28), (animated ? "animated" : "still").padEnd(9),
          r.shot.toFixed(1).padStart(10), r.click.toFixed(1).padStart(9), r.cpu.toFixed(1).padStart(12));
      }
    }
  }
})();
