// Stamina benchmark of the live page (not a test; an hour by default): trains the default model in
// headless Chromium with WebGPU (SwiftShader here) and samples, once a minute:
//   - the JS heap after a forced garbage collection, the wasm linear memory, DOM nodes;
//   - the GPU buffers alive (created minus destroyed, on devices not destroyed) and their bytes,
//     and the devices alive, from a wrapper around the page's WebGPU calls;
//   - the points the history charts hold (data-history on the root element);
//   - steps, steps/s and the frame time (median, p99) over the minute.
// Prints one JSON line per sample, then a summary: each measure at the first sample after the
// warm-up and at the end, and the largest value seen.
//
//   node tests/e2e/stamina.mjs                  # 60 minutes
//   MINUTES=5 SAMPLE_S=30 node tests/e2e/stamina.mjs
//
// Env: CHROMIUM, DIST (default dist), MINUTES (60), SAMPLE_S (60), WARMUP_MIN (5), QUERY (more URL
// keys: another model). Exits 1 if the page fails (uncaught exception, console error, stall).
import { resolve } from "node:path";
import { launch, root, serveDir } from "./common.mjs";

const dist = resolve(root, process.env.DIST || "dist");
const minutes = Number(process.env.MINUTES || 60);
const sampleS = Number(process.env.SAMPLE_S || 60);
const warmupMin = Number(process.env.WARMUP_MIN || Math.min(5, minutes / 4));
const query = process.env.QUERY ? `?${process.env.QUERY}` : "";

const { server, url } = await serveDir(dist);
const problems = [];
const samples = [];
let browser = null;
try {
  browser = await launch({ webgpu: true });
  const { page, context } = browser;
  page.on("console", (msg) => { if (msg.type() === "error") problems.push(`console.error: ${msg.text()}`); });
  page.on("pageerror", (err) => problems.push(`uncaught exception: ${err.message}`));
  await page.addInitScript(() => {
    // GPU memory as the page holds it: every buffer created, minus those destroyed, on devices
    // that are alive (destroying a device frees its buffers).
    const gpu = { devices: [] };
    window.__gpu = gpu;
    if (self.GPUAdapter) {
      const request = GPUAdapter.prototype.requestDevice;
      GPUAdapter.prototype.requestDevice = async function (...args) {
        const device = await request.apply(this, args);
        const rec = { alive: true, buffers: new Map() };
        gpu.devices.push(rec);
        const create = device.createBuffer.bind(device);
        device.createBuffer = (desc) => {
          const b = create(desc);
          rec.buffers.set(b, desc.size);
          const destroy = b.destroy.bind(b);
          b.destroy = () => { rec.buffers.delete(b); destroy(); };
          return b;
        };
        const destroyDevice = device.destroy.bind(device);
        device.destroy = () => { rec.alive = false; rec.buffers.clear(); destroyDevice(); };
        return device;
      };
    }
    // The wasm module's linear memory.
    const inst = WebAssembly.instantiate;
    WebAssembly.instantiate = async (...args) => {
      const r = await inst(...args);
      const exports = (r.instance || r).exports;
      if (exports?.memory) window.__wasmMemory = exports.memory;
      return r;
    };
    const streaming = WebAssembly.instantiateStreaming;
    WebAssembly.instantiateStreaming = async (...args) => {
      const r = await streaming(...args);
      if (r.instance.exports.memory) window.__wasmMemory = r.instance.exports.memory;
      return r;
    };
    // Frame intervals since the last sample.
    window.__frames = [];
    let last = null;
    const tick = (t) => { if (last !== null) window.__frames.push(t - last); last = t; requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send("Performance.enable");
  await page.goto(url + query, { waitUntil: "load", timeout: 120000 });
  await page.locator('[data-testid="step"]').waitFor({ state: "visible", timeout: 120000 });
  const started = Date.now();
  let prev = { t: started, step: 0 };
  const quantile = (xs, q) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : 0; };
  while (Date.now() - started < minutes * 60000) {
    await page.waitForTimeout(Math.min(sampleS * 1000, started + minutes * 60000 - Date.now()));
    await cdp.send("HeapProfiler.collectGarbage");
    const m = Object.fromEntries((await cdp.send("Performance.getMetrics")).metrics.map((x) => [x.name, x.value]));
    const p = await page.evaluate(() => {
      const live = window.__gpu.devices.filter((d) => d.alive);
      const frames = window.__frames.splice(0);
      return {
        step: Number(document.querySelector('[data-testid="step"]').textContent),
        history: Number(document.documentElement.dataset.history || 0),
        wasm: window.__wasmMemory?.buffer.byteLength ?? 0,
        devices: live.length,
        buffers: live.reduce((n, d) => n + d.buffers.size, 0),
        gpuBytes: live.reduce((n, d) => n + [...d.buffers.values()].reduce((a, b) => a + b, 0), 0),
        frames,
        error: document.querySelector('[data-testid="gpu-error"]')?.textContent || null,
      };
    });
    const t = Date.now();
    const s = {
      minute: +((t - started) / 60000).toFixed(2),
      step: p.step,
      steps_per_s: +((p.step - prev.step) / ((t - prev.t) / 1000)).toFixed(1),
      frame_ms_p50: +quantile(p.frames, 0.5).toFixed(1),
      frame_ms_p99: +quantile(p.frames, 0.99).toFixed(1),
      js_heap_mb: +(m.JSHeapUsedSize / 2 ** 20).toFixed(2),
      wasm_mb: +(p.wasm / 2 ** 20).toFixed(2),
      dom_nodes: m.Nodes,
      gpu_devices: p.devices,
      gpu_buffers: p.buffers,
      gpu_mb: +(p.gpuBytes / 2 ** 20).toFixed(2),
      history_points: p.history,
    };
    samples.push(s);
    console.log(JSON.stringify(s));
    if (p.error) { problems.push(`GPU error: ${p.error}`); break; }
    if (p.step <= prev.step) { problems.push(`no progress in the last ${sampleS} s (step ${p.step})`); break; }
    prev = { t, step: p.step };
  }
} catch (err) {
  problems.push(`error: ${err.stack || err}`);
} finally {
  await browser?.close();
  server.close();
}

if (samples.length) {
  const after = samples.filter((s) => s.minute >= warmupMin);
  const first = after[0] || samples[0];
  const last = samples[samples.length - 1];
  const keys = ["js_heap_mb", "wasm_mb", "dom_nodes", "gpu_devices", "gpu_buffers", "gpu_mb", "history_points", "steps_per_s", "frame_ms_p99"];
  const summary = Object.fromEntries(keys.map((k) => [k, { after_warmup: first[k], end: last[k], max: Math.max(...samples.map((s) => s[k])) }]));
  console.log(JSON.stringify({ summary: { minutes: last.minute, steps: last.step, warmup_min: warmupMin, ...summary } }));
}
if (problems.length) {
  for (const p of problems) console.log(`stamina: ${p}`);
  process.exit(1);
}
