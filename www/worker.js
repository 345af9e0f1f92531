// The training workers: the page's own module and wasm, loaded in a module Web Worker. As role
// "session" (src/ui/worker.rs) it runs the training session off the page's main thread; as role
// "trainer" (src/ui/apart.rs) it trains compare mode's run B on the CPU, started by the session.
// The first message names the build's module and wasm (their hashed names, from boot.js's <script>
// tag) and the role; messages that arrive while the wasm loads wait here, then go on in order.
const waiting = [];
let loading = null;
self.onmessage = (e) => {
  if (loading) waiting.push(e);
  else
    loading = start(e.data).catch((err) => {
      // Thrown outside the promise, so the page's Worker gets an error event (and trains itself).
      setTimeout(() => {
        throw err;
      });
    });
};
async function start({ js, wasm, role }) {
  const glue = await import(new URL(js, self.location.href).href);
  await glue.default({ module_or_path: new URL(wasm, self.location.href) });
  if (role === "trainer") glue.trainer_main();
  else glue.worker_main(js, wasm);
  for (const e of waiting) self.onmessage(e);
  waiting.length = 0;
}
