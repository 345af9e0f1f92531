#!/usr/bin/env bash
# Runs every check MoE Playground has, in order, stopping at the first failure:
# formatting, clippy (native and wasm32), the native tests (GPU tests on Mesa's lavapipe software
# Vulkan), and the release build of the web page (the wasm32 build: a separate debug build of it
# added minutes and caught nothing clippy and the release build do not). Installs missing tools first.
# Usage: bash scripts/test.sh   (from anywhere; it works from the repository root)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

started=$SECONDS
step() {
  echo
  echo "==> $*"
  "$@"
}

# A private, empty runtime dir: silences Mesa/wgpu warnings about a missing XDG_RUNTIME_DIR.
XDG_RUNTIME_DIR="$(mktemp -d "${TMPDIR:-/tmp}/moe-xdg.XXXXXX")"
chmod 0700 "$XDG_RUNTIME_DIR"
export XDG_RUNTIME_DIR
package_dir="$(mktemp -d "${TMPDIR:-/tmp}/moe-package-test.XXXXXX")"
package_dist=""
trap 'rm -rf "$XDG_RUNTIME_DIR" "$package_dir"' EXIT

# --- browser end-to-end tests -------------------------------------------------------------------
# The live page from the release build in dist/, served under a sub-path (/moe-playground/), in
# headless Chromium (node_modules/playwright-core, Debian's chromium): WebGPU on SwiftShader, and the
# CPU fallback without it; offline after one visit and a new build replacing the saved one.
# Screenshots go to artifacts/.
browser_tests() {
  node tests/e2e/page.mjs
}
# The school-server package (scripts/package.sh) of that build: the archive holds the page, its
# service worker and the README; unpacked, it is what the Firefox and WebKit tests serve.
package_test() {
  local out again
  # scripts/offline.mjs (trunk's post_build hook) run again on the built page changes nothing.
  again="$package_dir/again"
  cp -R dist "$again"
  node scripts/offline.mjs "$again" >/dev/null
  cmp dist/sw.js "$again/sw.js" && cmp dist/index.html "$again/index.html" ||
    { echo "error: scripts/offline.mjs is not idempotent on dist/" >&2; return 1; }
  out="$(bash scripts/package.sh --no-build | tail -n 1)"
  rm -rf "$package_dir"
  mkdir -p "$package_dir"
  tar -C "$package_dir" -xzf "$out"
  package_dist="$(echo "$package_dir"/moe-playground-*)"
  for f in index.html sw.js manifest.webmanifest boot.js README.txt; do
    [[ -f "$package_dist/$f" ]] || { echo "error: $out lacks $f" >&2; return 1; }
  done
  echo "ok: $out ($(find "$package_dist" -type f | wc -l) files)"
}
# The same page in headless Firefox ESR (node_modules/puppeteer-core over WebDriver BiDi): WebGPU
# switched on (lavapipe) and off (the CPU fallback), offline and update.
firefox_tests() {
  DIST="$package_dist" node tests/e2e/firefox.mjs
}
# The WebKit engine (WebKitGTK's MiniBrowser through WebKitWebDriver, under Xvfb): the CPU fallback.
webkit_tests() {
  DIST="$package_dist" node tests/e2e/webkit.mjs
}
# The WGSL trainer inside Chromium (wasm-bindgen-test, WebGPU on SwiftShader) against the CPU
# reference on one full step (tests/browser.rs; flags in webdriver.json).
browser_parity() {
  bash scripts/browser-test.sh
}
# -------------------------------------------------------------------------------------------------

step cargo fmt --check
step cargo clippy --all-targets -- -D warnings
step cargo clippy --lib --bins --target wasm32-unknown-unknown -- -D warnings
step cargo clippy --target wasm32-unknown-unknown --release --test browser -- -D warnings
step cargo test --profile fast
step trunk build --release
step browser_tests
step package_test
step firefox_tests
step webkit_tests
step browser_parity

echo
echo "all checks passed: fmt, clippy (native + wasm32), native tests, trunk release build, browser tests in Chromium, Firefox and WebKit ($((SECONDS - started))s)"
