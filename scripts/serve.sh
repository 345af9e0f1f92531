#!/usr/bin/env bash
# Builds the web page with trunk and serves it on http://127.0.0.1:${PORT:-8080}, rebuilding on
# changes (reload the tab yourself: trunk's auto-reload is an inline script, which the page's
# Content-Security-Policy blocks). Installs missing tools first (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Only what building needs (no browsers): MOE_SETUP=build.
# shellcheck source=scripts/setup.sh
MOE_SETUP=build source scripts/setup.sh

port="${PORT:-8080}"
echo "serving MoE Playground on http://127.0.0.1:${port}/ (Ctrl-C to stop)"
exec trunk serve index.html --address 127.0.0.1 --port "$port" --no-autoreload "$@"
