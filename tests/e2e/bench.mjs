// Benchmark of the live page (not a test): opens ?bench in headless Chromium with WebGPU
// (SwiftShader here, so the numbers measure a software GPU), waits for the page to train the
// default model (T = 256, E = 8, k = 1) for a fixed number of steps, and prints its result as one
// JSON line (on the GPU with `kernels`: each kernel's time per step, which the page measures over
// 50 more steps after the timed ones), the same as a table, then the release wasm size (raw and
// gzip) as another JSON line.
//
//   node tests/e2e/bench.mjs            # 600 steps
//   STEPS=1000 node tests/e2e/bench.mjs
//
// Exits 0 unless the page fails (an uncaught exception, a console error, no result in time).
// Env: CHROMIUM (default /usr/bin/chromium), DIST (default dist), STEPS, TIMEOUT_MS (default 300000),
// WEBGPU (default 1; 0 benchmarks the CPU fallback), QUERY (more URL keys: another model).
import { readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { launch, root, serveDir } from "./common.mjs";

const dist = resolve(root, process.env.DIST || "dist");
const timeout = Number(process.env.TIMEOUT_MS || 300000);
const steps = process.env.STEPS ? `&steps=${Number(process.env.STEPS)}` : "";
// Extra query keys, e.g. QUERY='tokens=1024&top-k=2' (the model's knobs, as in a shared link).
const query = process.env.QUERY ? `&${process.env.QUERY}` : "";
const webgpu = process.env.WEBGPU !== "0";

const { server, url } = await serveDir(dist);
const problems = [];
let browser = null;
try {
  // Developer features: WebGPU timestamps at full resolution (else quantised to 100 µs) for the
  // per-kernel profile the page runs after the timed steps.
  browser = await launch({ webgpu, extraArgs: ["--enable-webgpu-developer-features"] });
  const { page } = browser;
  page.on("console", (msg) => { if (msg.type() === "error") problems.push(`console.error: ${msg.text()}`); });
  page.on("pageerror", (err) => problems.push(`uncaught exception: ${err.message}`));
  await page.goto(`${url}?bench${steps}${query}`, { waitUntil: "load", timeout });
  const bench = page.locator('[data-testid="bench"]');
  await page.waitForFunction(() => document.querySelector('[data-testid="bench"]')?.textContent.trim().startsWith("{"), null, { timeout });
  const result = JSON.parse(await bench.textContent());
  console.log(JSON.stringify(result));
  const table = await page.locator('[data-testid="bench-kernels"]').textContent();
  if (table.trim()) console.log(table.trim());
  else if (webgpu) problems.push("no per-kernel profile on the GPU");
} catch (err) {
  problems.push(`error: ${err.stack || err}`);
} finally {
  await browser?.close();
  server.close();
}

const sizes = {};
for (const f of (await readdir(dist)).filter((f) => f.endsWith(".wasm"))) {
  const body = await readFile(join(dist, f));
  sizes[f] = { bytes: body.length, gzip_bytes: gzipSync(body, { level: 9 }).length };
}
console.log(JSON.stringify({ wasm: sizes }));

if (problems.length) {
  for (const p of problems) console.log(`bench: ${p}`);
  process.exit(1);
}
