#!/bin/sh
# Renders the committed timeline pictures to PNG with headless Chromium, at
# the size each SVG declares:
#   go test ./lifecycle/timeline -update && lifecycle/timeline/testdata/render.sh
# (apt-get install -y chromium; Chromium 148 made the committed PNGs.)
set -eu
cd "$(dirname "$0")"
for svg in drain-1ms.svg drain-30s.svg; do
	w=$(sed -n 's/.*<svg [^>]*width="\([0-9]*\)".*/\1/p' "$svg" | head -1)
	h=$(sed -n 's/.*<svg [^>]*height="\([0-9.]*\)".*/\1/p' "$svg" | head -1 | cut -d. -f1)
	chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
		--window-size="$w,$h" --screenshot="$PWD/${svg%.svg}.png" "file://$PWD/$svg" 2>/dev/null
done
