#!/usr/bin/env bash
# Installs everything MoE Playground needs to build, serve and test, on Debian 12 with rustup.
# Idempotent: every step checks first and prints one "ok: ..." line, or installs what is missing.
#
# Run it (`bash scripts/setup.sh`) or source it (`source scripts/setup.sh`, as scripts/serve.sh and
# scripts/test.sh do); sourcing also leaves ~/.cargo/bin and node_modules/.bin on PATH, and the
# project-local wasm-opt (npm binaryen 132) must win over Debian's binaryen (wasm-opt 108).
#
# MOE_SETUP=build installs only what building the page needs (scripts/serve.sh, scripts/package.sh,
# the publishing workflow); the default also installs what the tests drive: Mesa's software Vulkan,
# Chromium, Firefox ESR, WebKitGTK's WebDriver and a virtual display for it.
set -euo pipefail

_setup_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

case ":$PATH:" in *":$HOME/.cargo/bin:"*) ;; *) PATH="$HOME/.cargo/bin:$PATH" ;; esac
case ":$PATH:" in *":$_setup_root/node_modules/.bin:"*) ;; *) PATH="$_setup_root/node_modules/.bin:$PATH" ;; esac
export PATH

_setup_have() { command -v "$1" >/dev/null 2>&1; }

_setup_apt() {
  # Always: a C toolchain for `cargo install` (some crates build C code). For the tests: the Vulkan
  # loader and Mesa's lavapipe (native GPU tests, WebGPU in Firefox), Chromium (tests/e2e/page.mjs,
  # tests/browser.rs), Firefox ESR (tests/e2e/firefox.mjs; 153 comes with Debian 12's security
  # updates), WebKitGTK's WebDriver and MiniBrowser under Xvfb (tests/e2e/webkit.mjs).
  local wanted=(build-essential pkg-config)
  if [[ "${MOE_SETUP:-}" != "build" ]]; then
    wanted+=(mesa-vulkan-drivers libvulkan1 chromium chromium-driver fonts-liberation firefox-esr webkit2gtk-driver xvfb xauth)
  fi
  # Node.js and npm only if there is no node/npm at all (any other installation is left alone).
  _setup_have node || wanted+=(nodejs)
  _setup_have npm || wanted+=(npm)

  local missing=() pkg
  for pkg in "${wanted[@]}"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]]; then
      missing+=("$pkg")
    fi
  done
  if ((${#missing[@]} == 0)); then
    echo "ok: apt packages (${wanted[*]})"
    return
  fi

  local sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then sudo=(sudo); fi
  echo "installing apt packages: ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

_setup_rust() {
  if ! _setup_have rustup || ! _setup_have cargo; then
    echo "error: rustup/cargo not found; install Rust with rustup (https://rustup.rs) first" >&2
    return 1
  fi

  local installed missing=() component
  installed="$(rustup component list --installed)"
  for component in rustfmt clippy; do
    grep -q "^${component}" <<<"$installed" || missing+=("$component")
  done
  if ((${#missing[@]} == 0)); then
    echo "ok: rustup components rustfmt, clippy"
  else
    rustup component add "${missing[@]}"
  fi

  if rustup target list --installed | grep -qx 'wasm32-unknown-unknown'; then
    echo "ok: rustup target wasm32-unknown-unknown"
  else
    rustup target add wasm32-unknown-unknown
  fi
}

_setup_trunk() {
  local version
  version="$(trunk --version 2>/dev/null || true)"
  if [[ "$version" =~ ^trunk\ 0\.21\. ]]; then
    echo "ok: $version"
  else
    echo "installing trunk ^0.21 (found: ${version:-none})"
    cargo install trunk --locked --version "^0.21"
  fi
}

_setup_wasm_bindgen() {
  # The CLI must match the wasm-bindgen crate in Cargo.lock exactly (Trunk.toml names it too).
  local want have
  want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$_setup_root/Cargo.lock")"
  if [[ -z "$want" ]]; then
    echo "error: no wasm-bindgen version found in $_setup_root/Cargo.lock" >&2
    return 1
  fi
  have="$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)"
  if [[ "$have" == "$want" ]]; then
    echo "ok: wasm-bindgen-cli $have"
  else
    echo "installing wasm-bindgen-cli $want (found: ${have:-none})"
    cargo install wasm-bindgen-cli --version "$want"
  fi
}

_setup_npm() {
  # node_modules is current when every package pinned in package-lock.json is installed at its
  # locked version (npm ci reinstalls from scratch otherwise).
  local stale node_major
  node_major="$(node -p 'process.versions.node.split(".")[0]')"
  if ((node_major < 20)); then
    # Debian 12's own nodejs is 18: enough for wasm-opt, not for playwright-core (browser tests).
    echo "warning: Node.js $(node --version) found; playwright-core needs Node.js >= 20 for the browser tests" >&2
  fi
  stale="$(
    cd "$_setup_root" && node -e '
      const fs = require("fs");
      let lock;
      try { lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8")); }
      catch (e) { console.log("no package-lock.json"); process.exit(0); }
      for (const [path, meta] of Object.entries(lock.packages || {})) {
        if (!path) continue;
        let got = null;
        try { got = JSON.parse(fs.readFileSync(path + "/package.json", "utf8")).version; } catch (e) {}
        if (got !== meta.version) { console.log(path + " " + (got || "missing") + " != " + meta.version); process.exit(0); }
      }
    '
  )"
  if [[ -z "$stale" && -x "$_setup_root/node_modules/.bin/wasm-opt" ]]; then
    echo "ok: node_modules ($(cd "$_setup_root" && node -p '
      const l = require("./package-lock.json").packages[""];
      Object.entries({ ...l.dependencies, ...l.devDependencies }).map(([n, v]) => n + "@" + v).join(", ")'))"
  else
    echo "installing node_modules with npm ci (${stale:-wasm-opt missing})"
    (cd "$_setup_root" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

_setup_check_wasm_opt() {
  local version
  version="$(wasm-opt --version 2>/dev/null || true)"
  if [[ "$(command -v wasm-opt || true)" != "$_setup_root/node_modules/.bin/wasm-opt" || "$version" != *"(version_132)"* ]]; then
    echo "error: wasm-opt on PATH is $(command -v wasm-opt || echo none) (${version:-no version}), expected node_modules/.bin/wasm-opt version_132" >&2
    return 1
  fi
  echo "ok: $version"
}

_setup_apt
_setup_rust
_setup_trunk
_setup_wasm_bindgen
_setup_npm
_setup_check_wasm_opt
unset -f _setup_have _setup_apt _setup_rust _setup_trunk _setup_wasm_bindgen _setup_npm _setup_check_wasm_opt
unset _setup_root
