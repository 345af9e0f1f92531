// Benchmark of the lessons on the live page (not a test): plays every lesson (or those in
// LESSONS=a,b) to its end in headless Chromium with WebGPU (SwiftShader here: a software GPU) in
// presentation mode at 1920×1080, going on at each pause at once, and prints one JSON line per
// lesson: the seconds of training until its claim is visible (the last beat's caption and the
// check of the claim shown; pauses excluded), the steps trained, and the checks as the page shows
// them. Saves artifacts/lesson-<id>.png at the end of each. With CAP_S=N, a lesson still training
// after N seconds is stopped and its time projected from its steps per second so far.
//
//   node tests/e2e/lessons.mjs
//   LESSONS=balance-loss,z-loss node tests/e2e/lessons.mjs
//   CAPTIONS=1 LESSONS=dead-experts node tests/e2e/lessons.mjs   # also print each beat's caption
//
// Env: CHROMIUM (default /usr/bin/chromium), DIST (default dist), TIMEOUT_MS per lesson (default
// 900000), WEBGPU (default 1; 0 plays them on the CPU fallback).
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { launch, root, serveDir } from "./common.mjs";

const dist = resolve(root, process.env.DIST || "dist");
const timeout = Number(process.env.TIMEOUT_MS || 900000);
const webgpu = process.env.WEBGPU !== "0";
// Seconds of training after which a lesson's time to its claim is projected from its rate instead.
const cap = Number(process.env.CAP_S || 900) * 1000;
const artifacts = join(root, "artifacts");
await mkdir(artifacts, { recursive: true });

const { server, url } = await serveDir(dist);
let failed = false;
let ids = process.env.LESSONS ? process.env.LESSONS.split(",") : null;
if (!ids) {
  // The lesson menu lists them all.
  const browser = await launch({ webgpu: false });
  await browser.page.goto(url, { waitUntil: "load", timeout });
  ids = await browser.page.locator('[data-testid="lessons"] option').evaluateAll((os) => os.map((o) => o.value).filter(Boolean));
  await browser.close();
}
for (const id of ids) {
  let browser = null;
  const problems = [];
  try {
    browser = await launch({ webgpu, viewport: { width: 1920, height: 1080 } });
    const { page } = browser;
    page.on("console", (msg) => { if (msg.type() === "error") problems.push(`console.error: ${msg.text()}`); });
    page.on("pageerror", (err) => problems.push(`uncaught exception: ${err.message}`));
    await page.goto(`${url}?lesson=${id}&present`, { waitUntil: "load", timeout });
    await page.locator('[data-testid="caption"]').waitFor({ state: "visible", timeout });
    const end = Number(await page.locator('[data-testid="lessons"]').getAttribute("data-end"));
    const stepNow = async () => Number(await page.locator('[data-testid="step"]').textContent());
    // The clock starts with the first trained step (not while the page and the GPU start).
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="step"]').textContent) > 0, null, { timeout });
    let training = 0;
    let first = await stepNow();
    let finished = true;
    for (;;) {
      const t0 = Date.now();
      // Training until the beat's end: the progress says "paused at step N", or "end of the lesson".
      const left = cap - training;
      const reached = await page.waitForFunction(() => /paused at step|end of the lesson/.test(document.querySelector('[data-testid="beat-progress"]')?.textContent || ""), null, { timeout: Math.max(left, 1) }).then(() => true, () => false);
      training += Date.now() - t0;
      if (!reached) { finished = false; break; }
      const progress = await page.locator('[data-testid="beat-progress"]').textContent();
      if (process.env.CAPTIONS) console.log(`  ${id} at step ${await stepNow()}: ${await page.locator('[data-testid="caption"]').textContent()}`);
      if (/end of the lesson/.test(progress)) break;
      await page.keyboard.press(" ");
      await page.waitForFunction(() => /training (to|until) /.test(document.querySelector('[data-testid="beat-progress"]')?.textContent || ""), null, { timeout });
    }
    const step = await stepNow();
    const backend = await page.locator('[data-testid="backend"]').textContent();
    const rate = (step - first) / (training / 1000);
    let out = { lesson: id, steps: end, backend, steps_per_s: +rate.toFixed(1) };
    if (finished) {
      out = { ...out, seconds: +(training / 1000).toFixed(1), checks: await page.locator('[data-testid="caption-verdict"]').textContent() };
      await page.screenshot({ path: join(artifacts, `lesson-${id}.png`) });
    } else {
      // Past the cap: the time to the claim projected from the rate so far (steps still to train / rate).
      out = { ...out, projected_seconds: +((training / 1000) + (end - step) / rate).toFixed(0), trained_steps: step };
    }
    console.log(JSON.stringify(out));
  } catch (err) {
    problems.push(`error: ${err.stack || err}`);
  } finally {
    await browser?.close();
  }
  for (const p of problems) { console.log(`lessons ${id}: ${p}`); failed = true; }
}
server.close();
process.exit(failed ? 1 : 0);
