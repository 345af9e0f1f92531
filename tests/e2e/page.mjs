// End-to-end tests of the live page in headless Chromium (through node_modules/playwright-core),
// served from the release build in dist/ under a sub-path (/moe-playground/).
//
//   node tests/e2e/page.mjs
//
// Scenarios (each saves a screenshot under artifacts/, each fails on any console error, uncaught
// exception, CSP violation or failed request):
//   webgpu     — loads with --enable-unsafe-webgpu (SwiftShader): backend is the GPU, the step
//                counter advances, the heatmap canvas is not blank; top-k 1 → 2 gives two outlined
//                experts per probe row.
//   malformed  — a URL with bad values loads with a notice naming them, and trains.
//   no-webgpu  — without the flag: the CPU reference trains and the banner says so.
//   presets    — the "collapse" preset shows the `collapsed` badge within 90 s; then "balanced"
//                restarts and, 400 steps later, the badge is not shown.
//   regions    — ?dataset=regions: the region-map canvas is drawn (not blank).
//   export     — the CSV export downloads a file with a `step` header and data rows; the JSON and
//                PNG exports download too; "copy link" puts the page's URL on the clipboard; a
//                structural knob (experts) restarts with a notice naming it.
//   held-out   — ?eval-every=20: the CSV export carries the held-out evaluation (eval_step,
//                eval_ce, eval_accuracy) at steps 20, 40, …; the loss chart is drawn; the model
//                selector switches to the dense twin (same compute), which restarts, says so, puts
//                dense-twin=active in the URL and trains.
//   routers    — the router menu lists the registry's routers; choosing one keeps training and
//                applies its defaults with a notice (GShard: k = 2 and top-k disabled; hash: no
//                balance loss, α disabled, "switch" not selectable; aux-free: the γ slider appears);
//                the URL follows.
//   beyond     — beyond token choice: expert choice outlines each expert's picks and counts the
//                unrouted tokens; the dense mixture (a rebuild: its buffers differ) disables k and cf
//                and switches to the competitive loss live; shared + fine-grained experts state the
//                expert budget and draw the shared expert apart in the load chart.
//   upcycle, upcycle-cpu — ?init=upcycle&dense-steps=300: the phase line says "dense warm-up: step i of
//                300, then copied into the 8 experts", then that the switch happened; the CSV's
//                expert_similarity is empty in the dense phase and starts near 1 after it; the
//                similarity chart is drawn (WebGPU, then the CPU reference).
//   gpu-error  — ?debug=gpu-error: a (simulated) GPU error stops training with a message and a
//                restart button; restart trains again.
//   panic      — ?debug=panic: a deliberate panic shows the error box with a reload link.
// Env: CHROMIUM (default /usr/bin/chromium), DIST (default dist), TIMEOUT_MS (default 120000),
// ONLY (comma-separated scenario names to run).

import { mkdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { launch, root, serveDir } from "./common.mjs";

const timeout = Number(process.env.TIMEOUT_MS || 120000);
const artifacts = join(root, "artifacts");

const failures = [];
const { server, url } = await serveDir(resolve(root, process.env.DIST || "dist"));
await mkdir(artifacts, { recursive: true });

const only = process.env.ONLY ? process.env.ONLY.split(",") : null;

/** Launch a fresh Chromium, open `query` on the page, run `check(page, problems, context)`.
 *  Problems matching one of `allow` (expected errors) are not counted. */
async function scenario(name, { webgpu, query = "", allow = [] }, check) {
  if (only && !only.includes(name)) return;
  const problems = [];
  let browser = null;
  try {
    browser = await launch({ webgpu });
    const { context, page } = browser;
    page.on("console", (msg) => {
      if (msg.type() === "error" || /content security policy/i.test(msg.text())) problems.push(`console.${msg.type()}: ${msg.text()}`);
    });
    page.on("pageerror", (err) => problems.push(`uncaught exception: ${err.message}`));
    page.on("requestfailed", (req) => problems.push(`request failed: ${req.url()} (${req.failure()?.errorText})`));
    page.on("response", (res) => { if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`); });
    await page.addInitScript(() => {
      window.__csp = [];
      document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`));
    });
    await page.goto(url + query, { waitUntil: "load", timeout });
    await page.locator('[data-testid="step"]').waitFor({ state: "visible", timeout });
    await check(page, problems, context);
    for (const v of await page.evaluate(() => window.__csp)) problems.push(`CSP violation: ${v}`);
    await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  } catch (err) {
    problems.push(`error: ${err.stack || err}`);
  } finally {
    await browser?.close();
  }
  const counted = problems.filter((p) => !allow.some((re) => re.test(p)));
  console.log(`e2e ${name}: ${counted.length ? "FAILED" : "ok"}`);
  for (const p of counted) { console.log(`  ${p}`); failures.push(`${name}: ${p}`); }
}

const shot = (page, name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
const visible = (page, id) => page.locator(`[data-testid="${id}"]`).isVisible();

/** Run `action` and return the download it starts: (suggested name, content as a Buffer). */
async function download(page, action) {
  const [dl] = await Promise.all([page.waitForEvent("download", { timeout: 30000 }), action()]);
  const path = await dl.path();
  return { name: dl.suggestedFilename(), body: await readFile(path) };
}

const stepOf = async (page) => Number(await page.locator('[data-testid="step"]').textContent());

/** Wait until the step counter passes `n`. */
async function waitStep(page, n) {
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid="step"]').textContent) > n, n, { timeout });
  return stepOf(page);
}

/** Non-background pixels of a canvas. */
const inked = (page, id) => page.evaluate((id) => {
  const c = document.querySelector(`[data-testid="${id}"]`);
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] < 240 || d[i + 1] < 240 || d[i + 2] < 240) n++;
  return n / (c.width * c.height);
}, id);

/** Rows of the heatmap whose outlined experts number `k` (read from the data attributes). */
const outlined = (page) => page.evaluate(() => {
  const c = document.querySelector('[data-testid="heatmap"]');
  return { k: Number(c.dataset.k), rows: Number(c.dataset.rows), outlined: Number(c.dataset.outlined) };
});

await scenario("webgpu", { webgpu: true }, async (page, problems) => {
  const backend = await page.locator('[data-testid="backend"]').textContent();
  await waitStep(page, 0);
  const a = await stepOf(page);
  const b = await waitStep(page, a);
  if (!/^gpu/.test(backend.trim()) && !/^gpu/.test((await page.locator('[data-testid="backend"]').textContent()).trim()))
    problems.push(`backend is ${backend}`);
  const ink = await inked(page, "heatmap");
  if (ink < 0.3) problems.push(`heatmap is nearly blank (${(ink * 100).toFixed(1)} % inked)`);
  for (const id of ["load", "losses", "balance", "drops", "domains"]) {
    if ((await inked(page, id)) < 0.01) problems.push(`${id} chart is blank`);
  }
  const k1 = await outlined(page);
  if (k1.k !== 1 || k1.outlined !== k1.rows) problems.push(`k = 1: ${JSON.stringify(k1)}`);
  await page.locator('[data-testid="top-k"]').fill("2");
  const s = await stepOf(page);
  await waitStep(page, s + 1);
  await page.waitForFunction(() => document.querySelector('[data-testid="heatmap"]').dataset.k === "2", null, { timeout });
  const k2 = await outlined(page);
  if (k2.outlined !== 2 * k2.rows) problems.push(`k = 2: ${JSON.stringify(k2)}`);
  console.log(`  steps ${a} → ${b}; heatmap ${(ink * 100).toFixed(0)} % inked; k=1 ${JSON.stringify(k1)}, k=2 ${JSON.stringify(k2)}`);
});

await scenario("malformed", { webgpu: true, query: "?top-k=99&lr=banana&bogus=1&experts=4" }, async (page, problems) => {
  const notice = await page.locator('[data-testid="notice"]').textContent({ timeout });
  for (const word of ["top-k", "lr", "bogus"]) if (!notice.includes(word)) problems.push(`notice does not name ${word}: ${notice}`);
  const a = await waitStep(page, 0);
  console.log(`  notice: ${notice.slice(0, 120)}…; trains (step ${a})`);
});

await scenario("no-webgpu", { webgpu: false }, async (page, problems) => {
  const banner = await page.locator('[data-testid="banner"]').textContent({ timeout });
  if (!/CPU/.test(banner)) problems.push(`banner: ${banner}`);
  const a = await waitStep(page, 0);
  const b = await waitStep(page, a);
  const backend = (await page.locator('[data-testid="backend"]').textContent()).trim();
  if (!/cpu/.test(backend)) problems.push(`backend is ${backend}`);
  console.log(`  banner shown; backend ${backend}; steps ${a} → ${b}`);
});

await scenario("presets", { webgpu: true }, async (page, problems) => {
  await waitStep(page, 0);
  await page.locator('[data-testid="preset"]').selectOption("collapse");
  const t0 = Date.now();
  await page.locator('[data-testid="collapsed"]').waitFor({ state: "visible", timeout: 90000 });
  const collapseStep = await stepOf(page);
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  await shot(page, "presets-collapse");
  await page.locator('[data-testid="preset"]').selectOption("balanced");
  // The restart resets the counter; then train 400 steps of the balanced preset.
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid="step"]').textContent) < n, collapseStep, { timeout });
  let seen = false;
  const t1 = Date.now();
  while (await stepOf(page) < 400) {
    if (await visible(page, "collapsed")) seen = true;
    if (Date.now() - t1 > timeout) throw new Error(`balanced preset: step ${await stepOf(page)} after ${timeout} ms`);
    await page.waitForTimeout(250);
  }
  const balancedStep = await stepOf(page);
  if (await visible(page, "collapsed")) problems.push(`balanced preset shows the collapsed badge at step ${balancedStep}`);
  const watch = await page.locator('[data-testid="preset-watch"]').textContent();
  if (!/1\/E/.test(watch)) problems.push(`preset description: ${watch}`);
  console.log(`  collapse: badge at step ${collapseStep} (${seconds} s); balanced: no badge at step ${balancedStep}${seen ? " (shown briefly before)" : ""}`);
});

await scenario("regions", { webgpu: true, query: "?dataset=regions" }, async (page, problems) => {
  await waitStep(page, 0);
  if (!(await visible(page, "region-map"))) problems.push("region map is not shown for regions");
  let ink = 0;
  const t0 = Date.now();
  while ((ink = await inked(page, "region-map")) < 0.3 && Date.now() - t0 < timeout) await page.waitForTimeout(500);
  if (ink < 0.3) problems.push(`region map is nearly blank (${(ink * 100).toFixed(1)} % inked)`);
  // Let the map refresh at least once after training started.
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="region-map"]').dataset.step) > 0, null, { timeout });
  const mapStep = await page.locator('[data-testid="region-map"]').getAttribute("data-step");
  console.log(`  region map ${(ink * 100).toFixed(0)} % inked; refreshed at step ${mapStep}`);
});

await scenario("export", { webgpu: true }, async (page, problems, context) => {
  await waitStep(page, 0);
  const csv = await download(page, () => page.locator('[data-testid="export-csv"]').click());
  const lines = csv.body.toString("utf8").trim().split("\n");
  if (!lines[0].split(",").includes("step")) problems.push(`CSV header: ${lines[0]}`);
  if (lines.length < 2 || !/^\d/.test(lines[1])) problems.push(`CSV has no data row: ${lines.slice(0, 2).join(" / ")}`);
  const json = await download(page, () => page.locator('[data-testid="export-json"]').click());
  const snap = JSON.parse(json.body.toString("utf8"));
  if (!snap.probe || !Array.isArray(snap.probe.topk)) problems.push(`JSON export has no probe routing: ${json.name}`);
  const png = await download(page, () => page.locator('.card:has([data-testid="load"]) button.png').click());
  if (png.body.subarray(1, 4).toString() !== "PNG") problems.push(`PNG export is not a PNG: ${png.name}`);
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  await page.locator('[data-testid="copy-link"]').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="copied"]').textContent.length > 0, null, { timeout: 10000 });
  const copied = await page.locator('[data-testid="copied"]').textContent();
  const clip = await page.evaluate(() => navigator.clipboard.readText()).catch((e) => `(unreadable: ${e})`);
  const href = await page.evaluate(() => location.href);
  if (!/copied/.test(copied) || clip !== href) problems.push(`copy link: feedback "${copied}", clipboard ${clip}, href ${href}`);
  await page.locator('[data-testid="experts"]').selectOption("4");
  const notice = await page.locator('[data-testid="notice"]').textContent({ timeout });
  if (!/restarted training: experts/.test(notice)) problems.push(`structural change notice: ${notice}`);
  if (!/experts=4/.test(await page.evaluate(() => location.search))) problems.push("URL does not carry experts=4");
  await waitStep(page, 0);
  console.log(`  CSV ${lines.length - 1} rows (${lines[0]}); ${json.name}; ${png.name} ${png.body.length} B; clipboard ok; notice "${notice}"`);
});

await scenario("held-out", { webgpu: true, query: "?eval-every=20&tokens=64" }, async (page, problems) => {
  await waitStep(page, 60);
  // Snapshots arrive about 4 times a second: give the latest one time to land.
  await page.waitForTimeout(1500);
  const csv = await download(page, () => page.locator('[data-testid="export-csv"]').click());
  const lines = csv.body.toString("utf8").trim().split("\n");
  const head = lines[0].split(",");
  const col = (name) => head.indexOf(name);
  for (const name of ["ce", "eval_step", "eval_ce", "eval_accuracy"]) if (col(name) < 0) problems.push(`CSV lacks ${name}: ${lines[0]}`);
  const evals = lines.slice(1).map((l) => l.split(",")).filter((r) => r[col("eval_step")] !== "");
  const steps = [...new Set(evals.map((r) => Number(r[col("eval_step")])))];
  if (!steps.length || steps.some((s) => s % 20 !== 0)) problems.push(`held-out evaluations at steps ${steps}`);
  const bad = evals.filter((r) => !(Number(r[col("eval_ce")]) > 0) || !(Number(r[col("eval_accuracy")]) >= 0));
  if (bad.length) problems.push(`held-out values: ${bad[0].join(",")}`);
  if ((await inked(page, "losses")) < 0.05) problems.push("loss chart is blank");
  await shot(page, "held-out");
  await page.locator('[data-testid="dense-twin"]').selectOption("active");
  const notice = await page.locator('[data-testid="notice"]').textContent({ timeout });
  if (!/dense twin at equal compute.*width k·H = 64/.test(notice)) problems.push(`dense twin notice: ${notice}`);
  if (!/dense-twin=active/.test(await page.evaluate(() => location.search))) problems.push("URL does not carry dense-twin=active");
  const s = await waitStep(page, 5);
  console.log(`  held-out evaluations at steps ${steps.join(", ")} (CE ${evals.at(-1)?.[col("eval_ce")]}); dense twin trains (step ${s})`);
});

await scenario("routers", { webgpu: true, query: "?tokens=64" }, async (page, problems) => {
  const search = () => page.evaluate(() => location.search);
  const notice = () => page.locator('[data-testid="notice"]').textContent({ timeout });
  const waitUrl = (re) => page.waitForFunction((src) => new RegExp(src).test(location.search), re.source, { timeout: 10000 })
    .catch(async () => problems.push(`URL ${await search()} does not match ${re}`));
  await waitStep(page, 3);
  if (await visible(page, "gamma")) problems.push("γ is shown with the softmax-topk router");
  const options = await page.locator('[data-testid="router"] option').evaluateAll((os) => os.map((o) => o.value));
  if (options.join() !== "softmax-topk,noisy-topk,gshard-top2,hash,aux-free,expert-choice,dense-mixture") problems.push(`router options: ${options}`);
  // GShard: k = 2, said in plain words; training goes on (live).
  await page.locator('[data-testid="router"]').selectOption("gshard-top2");
  if (!/k set to 2/.test(await notice())) problems.push(`gshard-top2 notice: ${await notice()}`);
  if (!(await page.locator('[data-testid="top-k"]').isDisabled())) problems.push("top-k is not disabled with gshard-top2");
  let s = await stepOf(page);
  const after = await waitStep(page, s + 3);
  if (after < s) problems.push(`the router change restarted training (step ${s} → ${after})`);
  await waitUrl(/router=gshard-top2/);
  // Hash: no balance loss; α disabled with a reason; "switch" cannot be chosen.
  await page.locator('[data-testid="router"]').selectOption("hash");
  if (!/balance loss set to none/.test(await notice())) problems.push(`hash notice: ${await notice()}`);
  if (!(await page.locator('[data-testid="alpha"]').isDisabled())) problems.push("α is not disabled without a balance loss");
  if (!(await page.locator('[data-testid="balance-loss"] option[value="switch"]').isDisabled())) problems.push("hash allows the switch loss on the page");
  // Aux-free: γ appears, α = 0.
  await page.locator('[data-testid="router"]').selectOption("aux-free");
  await page.locator('[data-testid="gamma"]').waitFor({ state: "visible", timeout: 10000 }).catch(() => problems.push("γ is not shown with aux-free"));
  const help = await page.locator('[data-testid="router-help"]').textContent();
  if (!/bias/.test(help)) problems.push(`router help: ${help}`);
  await page.locator('[data-testid="drop-policy"]').selectOption("random");
  await waitUrl(/router=aux-free.*drop-policy=random/);
  s = await stepOf(page);
  await waitStep(page, s + 3);
  await shot(page, "routers");
  console.log(`  routers ${options.join(", ")}; live switches, URL ${await search()}`);
});

await scenario("beyond", { webgpu: true, query: "?tokens=64&router=expert-choice" }, async (page, problems) => {
  const notice = () => page.locator('[data-testid="notice"]').textContent({ timeout });
  await waitStep(page, 5);
  await page.waitForTimeout(1000);
  const heat = await outlined(page);
  // Expert choice: each expert picks C = ceil(1.25·64·1/8) = 10 of the 64 probe rows, so some of
  // the rows shown are outlined, and not every cell.
  if (!(heat.outlined > 0 && heat.outlined < heat.rows * heat.k)) problems.push(`expert choice outlines ${heat.outlined} of ${heat.rows}×${heat.k}`);
  const note = await page.locator('[data-testid="drops-note"]').textContent();
  if (!/unrouted/.test(note)) problems.push(`drops note: ${note}`);
  if ((await inked(page, "drops")) < 0.02) problems.push("drops chart is blank with expert choice");
  await shot(page, "beyond-expert-choice");
  // The dense mixture: every expert, k and cf do not apply; the competitive loss is live.
  await page.locator('[data-testid="router"]').selectOption("dense-mixture");
  if (!/restarted training/.test(await notice())) problems.push(`dense mixture notice: ${await notice()}`);
  await waitStep(page, 3);
  if (!(await page.locator('[data-testid="top-k"]').isDisabled())) problems.push("top-k is not disabled with the dense mixture");
  await page.locator('[data-testid="mixture-loss"]').waitFor({ state: "visible", timeout: 10000 }).catch(() => problems.push("mixture loss menu not shown"));
  let s = await stepOf(page);
  await page.locator('[data-testid="mixture-loss"]').selectOption("competitive");
  const after = await waitStep(page, s + 5);
  if (after < s) problems.push(`the mixture-loss change restarted training (step ${s} → ${after})`);
  if (!/mixture-loss=competitive/.test(await page.evaluate(() => location.search))) problems.push("URL lacks mixture-loss=competitive");
  await shot(page, "beyond-dense-mixture");
  // Shared and fine-grained experts: the budget sentence and the shared expert in the load chart.
  await page.goto(url + "?tokens=64&shared=1&granularity=2&top-k=2", { waitUntil: "load", timeout });
  await waitStep(page, 5);
  const budget = await page.locator('[data-testid="expert-budget"]').textContent();
  if (!/16 fine-grained experts of width 32 \(8 split in 2\) \+ 1 shared; 4 routed per token \+ 1 shared/.test(budget)) problems.push(`budget: ${budget}`);
  if ((await inked(page, "load")) < 0.05) problems.push("load chart is blank with shared experts");
  await shot(page, "beyond-shared");
  console.log(`  expert choice outlines ${heat.outlined}/${heat.rows * heat.k}; dense mixture competitive trains; ${budget}`);
});
// Upcycling: the phase line during the dense warm-up, the switch, then the MoE with its expert
// similarity starting near 1 (CSV and chart); on WebGPU and on the CPU reference.
for (const [name, webgpu] of [["upcycle", true], ["upcycle-cpu", false]]) {
  await scenario(name, { webgpu, query: "?init=upcycle&dense-steps=300&tokens=64&top-k=2" }, async (page, problems) => {
    const phase = () => page.locator('[data-testid="phase"]').textContent({ timeout });
    const first = await phase();
    if (!/^dense warm-up: step \d+ of 300, then copied into the 8 experts$/.test(first)) problems.push(`phase line: ${first}`);
    await page.waitForFunction(() => /upcycled at step 300/.test(document.querySelector('[data-testid="phase"]')?.textContent), null, { timeout });
    await waitStep(page, 360);
    await page.waitForTimeout(1500);
    const csv = await download(page, () => page.locator('[data-testid="export-csv"]').click());
    const lines = csv.body.toString("utf8").trim().split("\n");
    const head = lines[0].split(",");
    const [cs, csim] = [head.indexOf("step"), head.indexOf("expert_similarity")];
    if (csim < 0) problems.push(`CSV lacks expert_similarity: ${lines[0]}`);
    const rows = lines.slice(1).map((l) => l.split(",")).map((r) => [Number(r[cs]), r[csim]]);
    const dense = rows.filter((r) => r[0] <= 300);
    const moe = rows.filter((r) => r[0] > 300);
    if (!dense.length || dense.some((r) => r[1] !== "")) problems.push(`dense rows: ${JSON.stringify(dense.slice(-3))}`);
    if (!moe.length || !(Number(moe[0][1]) > 0.9 && Number(moe[0][1]) <= 1.000001)) problems.push(`first MoE row: ${JSON.stringify(moe[0])}`);
    if ((await inked(page, "similarity")) < 0.01) problems.push("similarity chart is blank");
    if (!/init=upcycle/.test(await page.evaluate(() => location.search))) problems.push("URL does not carry init=upcycle");
    console.log(`  phase "${first}" → "${await phase()}"; similarity ${moe[0]?.[1]} at step ${moe[0]?.[0]}, ${moe.at(-1)?.[1]} at ${moe.at(-1)?.[0]}`);
  });
}

await scenario("gpu-error", { webgpu: true, query: "?debug=gpu-error" }, async (page, problems) => {
  const box = page.locator('[data-testid="gpu-error"]');
  await box.waitFor({ state: "visible", timeout });
  const text = await box.textContent();
  if (!/simulated device error/.test(text)) problems.push(`GPU error message: ${text}`);
  await shot(page, "gpu-error-shown");
  await page.locator('[data-testid="restart"]').click();
  await box.waitFor({ state: "hidden", timeout });
  const a = await waitStep(page, 0);
  console.log(`  error shown ("${text.slice(0, 60)}…"); restart trains again (step ${a})`);
});

await scenario("panic", { webgpu: false, query: "?debug=panic", allow: [/deliberate panic/, /unreachable/] }, async (page, problems) => {
  const box = page.locator('[data-testid="fatal"]');
  await box.waitFor({ state: "visible", timeout: 30000 });
  const text = await box.textContent();
  if (!/deliberate panic/.test(text)) problems.push(`error box: ${text}`);
  const href = await page.locator('[data-testid="reload"]').getAttribute("href");
  if (!href || !href.includes("debug=panic")) problems.push(`reload link: ${href}`);
  console.log(`  error box shown: ${text.slice(0, 90)}…`);
});

server.close();
if (failures.length) {
  console.log(`e2e: ${failures.length} problem(s)`);
  process.exit(1);
}
console.log("e2e: all scenarios passed");
