#!/usr/bin/env bash
# Renders a report to HTML with `batchtune report REPORT --html PAGE` and
# checks the page in headless Chromium: it is self-contained (no http(s)
# references but the SVG namespace) and every chart on it drew its data (the
# page's script writes data-charts-rendered and data-charts-total on <body>).
#
# usage: html_renders.sh BATCHTUNE_BINARY REPORT_JSON [EXPECTED_CHARTS]
#   EXPECTED_CHARTS  the number of charts the page must have; without it, at least 4
#   BATCHTUNE_SCREENSHOT=path.png  also save a screenshot of the page (1280 px wide)
# Exit 0 when the page passes; otherwise one line saying what failed, exit 1.
set -euo pipefail

fail() {
  echo "html_renders: FAIL: $*" >&2
  exit 1
}

if [[ $# -lt 2 || $# -gt 3 ]]; then
  echo "usage: $0 BATCHTUNE_BINARY REPORT_JSON [EXPECTED_CHARTS]" >&2
  exit 1
fi
binary=$1
report=$2
expected=${3:-}
if [[ -n $expected && ! $expected =~ ^[0-9]+$ ]]; then
  fail "EXPECTED_CHARTS must be a whole number, not '$expected'"
fi

chromium_bin=""
for candidate in chromium chromium-browser google-chrome; do
  if command -v "$candidate" >/dev/null 2>&1; then
    chromium_bin=$(command -v "$candidate")
    break
  fi
done
[[ -n $chromium_bin ]] || fail "chromium is not installed (scripts/setup installs it)"
[[ -x $binary ]] || fail "$binary is not an executable"
[[ -r $report ]] || fail "cannot read the report $report"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/html_renders.XXXXXX")
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

page=$tmp/report.html
if ! "$binary" report "$report" --html "$page" >"$tmp/render.out" 2>&1; then
  fail "'$binary report $report --html PAGE' failed: $(tail -n 1 "$tmp/render.out")"
fi
[[ -s $page ]] || fail "'$binary report' wrote no page (or an empty one) at --html"

# Self-contained: nothing fetched from anywhere. The SVG namespace is a name,
# not a request, and is the one URL allowed.
external=$(sed 's#xmlns="http://www.w3.org/2000/svg"##g' "$page" | grep -oiE 'https?://[^"'"'"' <>)]*' | head -n 1 || true)
[[ -z $external ]] || fail "the page is not self-contained: it refers to $external"

# Chromium's first start in a fresh profile can be slow; a hang must not hang CI.
# Its own profile per run, so parallel tests do not fight over one.
chromium_flags=(--headless --no-sandbox --disable-gpu "--user-data-dir=$tmp/profile")
if ! timeout 120 "$chromium_bin" "${chromium_flags[@]}" --virtual-time-budget=5000 --dump-dom "file://$page" \
  >"$tmp/dom.html" 2>"$tmp/chromium.err"; then
  fail "chromium could not load the page: $(grep -v -e dbus -e '^$' "$tmp/chromium.err" | tail -n 1)"
fi

body=$(grep -o '<body[^>]*>' "$tmp/dom.html" | head -n 1 || true)
rendered=$(sed -n 's/.*data-charts-rendered="\([0-9]*\)".*/\1/p' <<<"$body")
total=$(sed -n 's/.*data-charts-total="\([0-9]*\)".*/\1/p' <<<"$body")
[[ -n $rendered && -n $total ]] || fail "the page's chart check did not run (no data-charts-rendered on <body>)"

if [[ -n ${BATCHTUNE_SCREENSHOT:-} ]]; then
  timeout 120 "$chromium_bin" "${chromium_flags[@]}" "--screenshot=$BATCHTUNE_SCREENSHOT" --window-size=1280,3000 \
    "file://$page" >/dev/null 2>&1 || fail "chromium could not take the screenshot $BATCHTUNE_SCREENSHOT"
fi

[[ $rendered == "$total" ]] || fail "$rendered of $total charts rendered with data"
if [[ -n $expected ]]; then
  [[ $total == "$expected" ]] || fail "the page has $total charts, expected $expected"
else
  ((total >= 4)) || fail "the page has $total charts, expected at least 4"
fi
echo "html_renders: ok: $rendered of $total charts rendered ($report)"
