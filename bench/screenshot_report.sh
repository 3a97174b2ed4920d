#!/usr/bin/env bash
# Renders the HTML report of the embedded PBMC demo data and screenshots it with headless Chromium, so that a
# person can check by eye that the page and its pictures are legible.
#
#   bench/screenshot_report.sh [OUT_DIR] [METRICS_JSON]     (default /tmp/scgan_report_demo, made-up metrics)
#
# Writes OUT_DIR/report/{index.html,metrics.json,figures/*.png} (by the ignored test `render_pbmc_report` in
# tests/report.rs: "generated" cells are noisy training cells; the metrics are made up unless METRICS_JSON, e.g. the
# metrics.json of a real `scgan evaluate`, is given; the training log is made up unless SCGAN_REPORT_RUN names a
# run folder) and the screenshots
# OUT_DIR/report_top.png (first screen) and OUT_DIR/report_full.png (the whole page).
# Needs chromium: `apt-get install -y chromium` (Debian); it is installed when missing and apt-get is available.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT="${1:-/tmp/scgan_report_demo}"
mkdir -p "$OUT"

if [ -n "${2:-}" ]; then export SCGAN_REPORT_METRICS="$(realpath "$2")"; fi
SCGAN_REPORT_DIR="$OUT" cargo test --release --test report -- --ignored render_pbmc_report --nocapture

if ! command -v chromium >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
    else
        echo "chromium is not installed; open $OUT/report/index.html in a browser instead" >&2
        exit 1
    fi
fi

shot() { # shot OUTPUT.png WIDTH HEIGHT
    local profile
    profile="$(mktemp -d)"
    chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
        --disable-sync --no-first-run --hide-scrollbars --user-data-dir="$profile" \
        --screenshot="$1" --window-size="$2,$3" "file://$OUT/report/index.html" 2>/dev/null
    rm -rf "$profile"
}

shot "$OUT/report_top.png" 1400 1000
shot "$OUT/report_full.png" 1400 9000
echo "screenshots: $OUT/report_top.png $OUT/report_full.png"
