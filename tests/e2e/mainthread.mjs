// Benchmark of the page's main thread while it trains (not a test): for each build given, each path
// (WebGPU on SwiftShader, and the CPU fallback) and each mode (one run, compare mode), opens the
// page in headless Chromium, lets it train 3 s, then for 10 s records every animation frame's
// duration and every long task (> 50 ms, PerformanceObserver "longtask") of the main thread, and
// the step counter. Prints one JSON line per case and a table: frame time p50 / p99, long tasks
// (count, longest), steps/s, where training ran (`<html data-engine>`: worker or main) and where
// compare mode's run B did (`<html data-run-b>`: apart, in a worker of its own, or beside A), and
// the time from navigation to the first step shown (the page's start, the worker's included).
//
//   node tests/e2e/mainthread.mjs                       # dist/, training in its worker
//   DISTS=old-dist,dist,dist#engine=main node tests/e2e/mainthread.mjs
//
// Env: DISTS (comma-separated build folders, default dist; `DIR#KEYS` adds URL keys for that one,
// e.g. dist#engine=main to train on the main thread), SECONDS (default 10), PATHS (default
// webgpu,cpu).
import { resolve } from "node:path";
import { launch, root, serveDir } from "./common.mjs";

const dists = (process.env.DISTS || "dist").split(",").map((d) => d.split("#"));
const seconds = Number(process.env.SECONDS || 10);
const paths = (process.env.PATHS || "webgpu,cpu").split(",");
const cases = [
  { path: "webgpu", webgpu: true, query: "" },
  { path: "webgpu", webgpu: true, query: "compare&b.alpha=0" },
  { path: "cpu", webgpu: false, query: "" },
  { path: "cpu", webgpu: false, query: "compare&b.alpha=0" },
].filter((c) => paths.includes(c.path));

const pct = (sorted, q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : 0);
const rows = [];
// Every build served at once, and each case run on every build in turn (the machine's load drifts;
// interleaving spreads it over the builds alike).
const served = [];
for (const [dir, keys] of dists) served.push({ dir, keys, ...(await serveDir(resolve(root, dir))) });
for (const c of cases) {
  for (const { dir, keys, url } of served) {
    const extra = keys ? `&${keys}` : "";
    const browser = await launch({ webgpu: c.webgpu });
    try {
      const { page } = browser;
      const t0 = Date.now();
      await page.goto(`${url}?${c.query}${extra}`, { waitUntil: "load", timeout: 60000 });
      const step = () => page.evaluate(() => Number(document.querySelector('[data-testid="step"]')?.textContent || 0));
      await page.waitForFunction(() => Number(document.querySelector('[data-testid="step"]')?.textContent || 0) > 0, null, { timeout: 120000, polling: 10 });
      const firstStep = Date.now() - t0;
      await page.waitForTimeout(3000);
      const s0 = await step();
      const m = await page.evaluate((ms) => new Promise((ok) => {
        const frames = [];
        const long = [];
        const obs = new PerformanceObserver((l) => l.getEntries().forEach((e) => long.push(e.duration)));
        obs.observe({ type: "longtask", buffered: false });
        let last = performance.now();
        const t0 = last;
        const frame = (t) => {
          frames.push(t - last);
          last = t;
          if (t - t0 < ms) requestAnimationFrame(frame);
          else {
            obs.disconnect();
            ok({ frames, long, engine: document.documentElement.dataset.engine || "main (before the worker)", ms: t - t0 });
          }
        };
        requestAnimationFrame(frame);
      }), seconds * 1000);
      const s1 = await step();
      const f = m.frames.slice(1).sort((a, b) => a - b);
      const row = {
        build: keys ? `${dir}#${keys}` : dir,
        path: c.path,
        mode: c.query ? "compare" : "single",
        engine: m.engine,
        frame_p50_ms: +pct(f, 0.5).toFixed(1),
        frame_p99_ms: +pct(f, 0.99).toFixed(1),
        long_tasks: m.long.length,
        longest_ms: Math.round(Math.max(0, ...m.long)),
        steps_per_s: +(((s1 - s0) / m.ms) * 1000).toFixed(1),
        first_step_ms: firstStep,
        run_b: await page.evaluate(() => document.documentElement.dataset.runB || "-"),
      };
      console.log(JSON.stringify(row));
      rows.push(row);
    } finally {
      await browser.close();
    }
  }
}
for (const { server } of served) server.close();
console.table(rows);
