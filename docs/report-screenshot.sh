#!/usr/bin/env bash
# Makes report-screenshot.png, the first page (A4 proportions) of the
# latest demo report as headless Chromium renders it. Without a demo
# report, it renders a fixture report (go run ./handover/report/internal/fixture).
#
#   bash docs/report-screenshot.sh [OUTPUT.png]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH

out=$(realpath -m "${1:-report-screenshot.png}")
chromium=${CHROMIUM:-/usr/bin/chromium}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The newest report.html under the demo's state directories.
html=$(find .handover playbooks/.handover -name report.html -printf '%T@ %p\n' 2>/dev/null | sort -rn | head -n 1 | cut -d' ' -f2- || true)
if [ -z "$html" ]; then
	echo "no demo report found (make demo writes one): rendering a fixture report" >&2
	go run ./handover/report/internal/fixture -o "$tmp/fixture" >/dev/null
	html=$tmp/fixture/report/report.html
fi
html=$(realpath "$html")
echo "screenshot of $html" >&2

# 1240x1754 is A4 at 150 dpi. The profile is throw-away; nothing reaches the network.
timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	--disable-background-networking --disable-component-update --disable-sync \
	--user-data-dir="$tmp/profile" --hide-scrollbars --window-size=1240,1754 \
	--screenshot="$out" "file://$html" 2>"$tmp/chromium.log" || {
	cat "$tmp/chromium.log" >&2
	exit 1
}
test -s "$out"
echo "$out"
