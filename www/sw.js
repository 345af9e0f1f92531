// MoE Playground's service worker: the page opens and trains with the network off after one visit.
//
// This file is a template: scripts/offline.mjs (a trunk post_build hook) writes dist/sw.js from it
// with BUILD (a hash of every file of this build) and the build's file lists filled in, so a new
// build is a new service worker and the browser installs it on the next visit.
//
// One cache per build ("moe-playground-" + BUILD) holding exactly this build's files; older
// builds' caches are deleted once this one is active. Never mixing builds:
// - content-hashed files (trunk names them NAME-<hash>.EXT): from the cache, else the network;
//   a name belongs to exactly one build, so whichever page asks for it gets that build's bytes;
// - the rest (the page itself, boot.js, the manifest and icons): from the network first, falling
//   back to this build's cached copy when there is no network (or it takes over NETWORK_WAIT_MS).
//   A page fetched from the network names its own build's hashed files, which the network serves
//   until this worker's successor has cached them; a page from the cache names this build's.
// Only same-origin GET requests inside the worker's scope are answered; nothing else is touched.
"use strict";

const BUILD = "__BUILD__";
/** Content-hashed files of this build, relative to the scope. */
const IMMUTABLE = ["__IMMUTABLE__"];
/** The other files of this build ("" is the page itself). */
const MUTABLE = ["__MUTABLE__"];
const PREFIX = "moe-playground-";
const CACHE = PREFIX + BUILD;
const NETWORK_WAIT_MS = 4000;

const scope = new URL(self.registration.scope);
const url = (rel) => new URL(rel, scope).href;
const immutable = new Set(IMMUTABLE.map(url));
const mutable = new Set(MUTABLE.map(url));

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // `reload`: straight from the server, never from the HTTP cache (which may hold another build's).
      await cache.addAll([...IMMUTABLE, ...MUTABLE].map((rel) => new Request(url(rel), { cache: "reload" })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
      await self.clients.claim();
    })(),
  );
});

/** The network's answer, or null after NETWORK_WAIT_MS or on a network error. */
async function network(request) {
  let timer;
  const late = new Promise((resolve) => (timer = setTimeout(() => resolve(null), NETWORK_WAIT_MS)));
  try {
    return await Promise.race([fetch(request).catch(() => null), late]);
  } finally {
    clearTimeout(timer);
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const u = new URL(request.url);
  if (u.origin !== scope.origin || !u.pathname.startsWith(scope.pathname)) return;
  const key = u.origin + u.pathname;
  const page = request.mode === "navigate" || key === scope.href || key === url("index.html");
  if (immutable.has(key)) {
    event.respondWith(
      (async () => (await caches.match(key, { cacheName: CACHE })) || fetch(request))(),
    );
  } else if (page || mutable.has(key)) {
    event.respondWith(
      (async () => {
        const fresh = await network(request);
        if (fresh && fresh.ok) return fresh;
        const cached = await caches.match(page ? scope.href : key, { cacheName: CACHE });
        return cached || fresh || Response.error();
      })(),
    );
  }
});
