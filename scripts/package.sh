#!/usr/bin/env bash
# Packs the release page for a school's own web server: target/package/moe-playground-VERSION-BUILD.tar.gz,
# one folder holding dist/ (the page: static files, no server code) and a short README.txt on
# hosting it. VERSION is Cargo.toml's, BUILD the build id scripts/offline.mjs stamped into the page.
# Builds the release page first (trunk build --release; installs the build tools if missing) unless
# --no-build is given, which packs the dist/ that is there.
# Usage: bash scripts/package.sh [--no-build]   (prints the archive's path on its last line)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ "${1:-}" != "--no-build" ]]; then
  # shellcheck source=scripts/setup.sh
  MOE_SETUP=build source scripts/setup.sh
  trunk build --release
fi
[[ -f dist/index.html && -f dist/sw.js ]] || { echo "error: no built page in dist/ (run without --no-build)" >&2; exit 1; }

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
build="$(sed -n 's/.*<meta name="moe-build" content="\([0-9a-f]*\)".*/\1/p' dist/index.html)"
[[ -n "$version" && -n "$build" ]] || { echo "error: no version in Cargo.toml or no build stamp in dist/index.html" >&2; exit 1; }
name="moe-playground-${version}-${build:0:8}"

stage="$(mktemp -d "${TMPDIR:-/tmp}/moe-package.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name"
cp -R dist/. "$stage/$name/"
cat >"$stage/$name/README.txt" <<EOF
MoE Playground ${version} (build ${build})
A small Mixture-of-Experts model that trains live in the browser, with lessons for a class.

Hosting it yourself
- These files are the whole page: static files, no server-side code, nothing fetched from
  anywhere else. Copy the folder's contents to any web server, at the site's root or under a
  sub-path (https://school.example/moe-playground/ works as well as https://school.example/).
- Serve .wasm files as application/wasm and .webmanifest as application/manifest+json (most
  servers already do; nginx: add "application/manifest+json webmanifest;" to mime.types).
- Use HTTPS (or http://localhost): browsers keep the page for use without a network, and
  offer "Install app", only on a secure address.
- Updating: replace the files with a newer package's. Each browser that opened the old one
  opens the new version on its next visit with a network and keeps it in place of the old one,
  never mixing files of the two; nothing needs clearing.
- Trying it on one computer: python3 -m http.server 8080 in this folder, then open
  http://localhost:8080/ .

Browsers
- Trains on the graphics chip (WebGPU): Chrome and Edge 113+ (Windows, macOS, ChromeOS),
  Chrome 121+ on Android, Safari 26 (macOS, iOS, iPadOS), Firefox 141+ on Windows.
  Firefox elsewhere: about:config, set dom.webgpu.enabled to true, reload (if WebGPU is still
  off, Firefox blocks that graphics driver: gfx.webgpu.ignore-blocklist = true overrides it).
- Every other browser trains the same model on the processor, with a smaller batch; the page
  says so and how to switch WebGPU on.
EOF

mkdir -p target/package
out="target/package/${name}.tar.gz"
tar -C "$stage" --owner=0 --group=0 --numeric-owner -czf "$out" "$name"
echo "packed $(du -h "$out" | cut -f1) ($(find "$stage/$name" -type f | wc -l) files)"
echo "$out"
