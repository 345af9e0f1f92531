// Makes a built page work offline: writes DIR/sw.js (the service worker, from the template
// www/sw.js) listing every file of the build, and stamps DIR/index.html with the build's id.
//
//   node scripts/offline.mjs DIR        (trunk runs it as a post_build hook on its staging dir)
//
// The build id is a hash of every file's name and bytes (index.html without its stamp, sw.js left
// out), so a build that changes any file is a new service worker, and the browser replaces the old
// one's cache with the new build's files on the next visit. Running it twice on a folder gives the
// same result.
import { createHash } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dir = resolve(process.argv[2] || process.env.TRUNK_STAGING_DIR || "");
if (!process.argv[2] && !process.env.TRUNK_STAGING_DIR) {
  console.error("usage: node scripts/offline.mjs DIR   (or as a trunk hook, with TRUNK_STAGING_DIR set)");
  process.exit(2);
}

/** The stamp in index.html: <meta name="moe-build" content="ID">. */
const STAMP = /\s*<meta name="moe-build" content="[^"]*" \/>/;
/** trunk's content-hashed names: NAME-<16 hex>.EXT or NAME-<16 hex>_bg.wasm. */
const HASHED = /-[0-9a-f]{16}(_bg)?\.[a-z0-9]+$/;

async function files(d) {
  const out = [];
  for (const e of await readdir(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.isDirectory()) out.push(...(await files(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

const all = (await files(dir))
  .map((p) => relative(dir, p).split(sep).join("/"))
  .filter((rel) => rel !== "sw.js" && !rel.endsWith(".map"))
  .sort();
if (!all.includes("index.html")) {
  console.error(`offline.mjs: ${dir} has no index.html`);
  process.exit(1);
}

const indexPath = join(dir, "index.html");
const index = (await readFile(indexPath, "utf8")).replace(STAMP, "");
const hash = createHash("sha256");
for (const rel of all) {
  hash.update(rel + "\0");
  hash.update(rel === "index.html" ? Buffer.from(index) : await readFile(join(dir, rel)));
  hash.update("\0");
}
const build = hash.digest("hex").slice(0, 16);

const immutable = all.filter((rel) => HASHED.test(rel));
// The page itself is cached under the scope's own address ("") as well as index.html.
const mutable = ["", ...all.filter((rel) => !HASHED.test(rel))];
const template = await readFile(join(here, "..", "www", "sw.js"), "utf8");
const sw = template
  .replace('"__BUILD__"', JSON.stringify(build))
  .replace('["__IMMUTABLE__"]', JSON.stringify(immutable))
  .replace('["__MUTABLE__"]', JSON.stringify(mutable));
if (sw.includes("__BUILD__") || sw.includes("__IMMUTABLE__") || sw.includes("__MUTABLE__")) {
  console.error("offline.mjs: www/sw.js lacks a placeholder");
  process.exit(1);
}
await writeFile(join(dir, "sw.js"), sw);
const stamped = index.replace(/(<meta charset="utf-8" \/>)/, `$1\n    <meta name="moe-build" content="${build}" />`);
if (stamped === index) {
  console.error('offline.mjs: index.html has no <meta charset="utf-8" /> to stamp after');
  process.exit(1);
}
await writeFile(indexPath, stamped);
console.log(`offline.mjs: build ${build}: sw.js caches ${immutable.length} hashed and ${mutable.length} other files`);
