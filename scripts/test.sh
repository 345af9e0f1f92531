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
trap 'rm -rf "$XDG_RUNTIME_DIR"' EXIT

# --- browser end-to-end tests -------------------------------------------------------------------
# The live page from the release build in dist/, in headless Chromium (node_modules/playwright-core,
# Debian's chromium): WebGPU on SwiftShader, and the CPU fallback without it. Screenshots go to
# artifacts/.
browser_tests() {
  node tests/e2e/page.mjs
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
step browser_parity

echo
echo "all checks passed: fmt, clippy (native + wasm32), native tests, trunk release build, browser tests ($((SECONDS - started))s)"
