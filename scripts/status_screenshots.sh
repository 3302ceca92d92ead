#!/bin/sh
# The status page's screenshots in docs/ (docs/PROBE.md, "Status page"):
# the unit suite's sample page (made-up targets and a fake 90-day history,
# as a store would feed it; tests/unit/test_statuspage.c) in Debian's
# headless Chromium, 1280 px and 390 px (a phone) wide.
#   scripts/status_screenshots.sh [BUILD_DIR]     (after make; default build)
set -eu
build=${1:-build}
dir=$(mktemp -d /tmp/twkit-shots-XXXXXX)
trap 'rm -rf "$dir"' EXIT INT TERM
TW_STATUS_SAMPLE="$dir/page.html" "$build/tests/test_unit" \
    --filter 'statuspage/sample_page_for_the_docs' >"$dir/unit.log" 2>&1 ||
    { cat "$dir/unit.log" >&2; exit 1; }
# --no-sandbox: Chromium's sandbox refuses to run as root; the page is our
# own file. A fresh profile each time, and a bound on how long it may take.
shot() {
    timeout 60 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --user-data-dir="$dir/profile" --window-size="$1" --screenshot="$2" \
        "file://$dir/page.html" >"$dir/chromium.log" 2>&1 ||
        { cat "$dir/chromium.log" >&2; exit 1; }
    echo "$2: $(wc -c <"$2") bytes"
}
shot 1280,960 docs/status-page.png
shot 390,1200 docs/status-page-phone.png
