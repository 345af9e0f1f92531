#!/usr/bin/env bash
# tests/browser.rs in headless Chromium: the WGSL trainer on WebGPU (SwiftShader, via
# --enable-unsafe-webgpu) against the CPU reference, one full step per config. Chromium's flags are
# in webdriver.json (read from the repository root); chromedriver gives every run a fresh temporary
# profile. Prints the measured errors; fails when no WebGPU adapter is available.
# Usage: bash scripts/browser-test.sh   (extra arguments go to the test runner, e.g. a test name)
# Needs: rustup target wasm32-unknown-unknown, wasm-bindgen-cli 0.2.130 (its wasm-bindgen-test-runner),
# Debian's chromium and chromium-driver (scripts/setup.sh installs them all).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

case ":$PATH:" in *":$HOME/.cargo/bin:"*) ;; *) PATH="$HOME/.cargo/bin:$PATH" ;; esac
export PATH

for tool in wasm-bindgen-test-runner /usr/bin/chromedriver /usr/bin/chromium; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool not found (run scripts/setup.sh)" >&2; exit 1; }
done
# The runner must be the same version as the wasm-bindgen crate in Cargo.lock.
want="$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')"
have="$(wasm-bindgen-test-runner --version | awk '{print $2}')"
if [[ "$want" != "$have" ]]; then
  echo "error: wasm-bindgen-test-runner is $have but Cargo.lock has wasm-bindgen $want" \
    "(cargo install wasm-bindgen-cli --version $want --locked)" >&2
  exit 1
fi

export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export CHROMEDRIVER=/usr/bin/chromedriver
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="${WASM_BINDGEN_TEST_WEBDRIVER_JSON:-$PWD/webdriver.json}"
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-180}"

exec cargo test --target wasm32-unknown-unknown --profile fast --test browser -- --nocapture "$@"
