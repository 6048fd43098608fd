#!/bin/sh
# Smoke test of the desktop bundle built by tools/build-desktop.sh: starts
# dist/piazzetta/piazzetta in kiosk mode (under Xvfb when there is no display), from a foreign
# working folder and with a fresh data folder, lets it draw the welcome screen, save a
# screenshot and exit; then checks the exit status and that the screenshot is not blank, and
# prints the bundle's size and its start time.
#     sh tools/smoke-desktop.sh [extra arguments for the app, e.g. --lang it]
# Exits non-zero on any failure. SMOKE_TIMEOUT (seconds, default 120) bounds the run.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${VENV:-.venv}
APP="$ROOT/dist/piazzetta/piazzetta"
SHOT_DIR="$ROOT/build/screenshots/packaging"
SHOT="$SHOT_DIR/welcome.png"
TIMEOUT=${SMOKE_TIMEOUT:-120}

if [ ! -x "$APP" ]; then
    echo "smoke-desktop: $APP is missing: run tools/build-desktop.sh first" >&2
    exit 1
fi
mkdir -p "$SHOT_DIR"
# Kivy numbers screenshots (welcome0001.png…) when a file of that name exists: start clean.
rm -f "$SHOT_DIR"/welcome*.png

WORK=$(mktemp -d "${TMPDIR:-/tmp}/piazzetta-smoke.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
mkdir -p "$WORK/data" "$WORK/cwd"

# Run from a folder that is neither the checkout nor the bundle: the bundle must find its own
# files wherever it is started from.
start=$(date +%s%N)
status=0
(cd "$WORK/cwd" && timeout "$TIMEOUT" sh "$ROOT/tools/with-display.sh" \
    "$APP" kiosk --demo --screenshot "$SHOT" --size 1280x800 --data-dir "$WORK/data" "$@") \
    >"$WORK/app.log" 2>&1 || status=$?
end=$(date +%s%N)
elapsed_ms=$(( (end - start) / 1000000 ))

if [ "$status" -ne 0 ]; then
    echo "smoke-desktop: the bundle exited with status $status (124 = timed out after ${TIMEOUT} s)" >&2
    tail -n 40 "$WORK/app.log" >&2
    for log in "$WORK"/data/kivy/logs/*; do [ -f "$log" ] && tail -n 20 "$log" >&2; done
    exit 1
fi

# Kivy's Window.screenshot inserts a counter before the extension (welcome0001.png); accept
# either name and keep the plain one.
if [ ! -f "$SHOT" ]; then
    numbered=$(ls "$SHOT_DIR"/welcome[0-9]*.png 2>/dev/null | head -n 1 || true)
    if [ -n "$numbered" ]; then
        mv "$numbered" "$SHOT"
    else
        echo "smoke-desktop: the bundle exited 0 but wrote no screenshot in $SHOT_DIR" >&2
        tail -n 40 "$WORK/app.log" >&2
        exit 1
    fi
fi

"$VENV/bin/python" - "$SHOT" <<'EOF'
"""Not blank: many distinct colours, and no single colour covering almost all of the picture."""
import sys
from PIL import Image, ImageStat

path = sys.argv[1]
with Image.open(path) as image:
    rgb = image.convert("RGB")
    width, height = rgb.size
    colours = rgb.getcolors(maxcolors=width * height)
    distinct = len(colours)
    dominant = max(count for count, _colour in colours) / (width * height)
    spread = max(ImageStat.Stat(rgb).stddev)
print(f"smoke-desktop: screenshot {path}: {width}x{height}, {distinct} colours, "
      f"dominant colour {dominant:.0%} of the pixels, channel spread {spread:.1f}")
problems = []
if distinct < 32:
    problems.append(f"only {distinct} distinct colours")
if dominant > 0.97:
    problems.append(f"one colour covers {dominant:.0%} of the picture")
if spread < 5:
    problems.append(f"almost uniform (spread {spread:.1f})")
if problems:
    sys.exit("smoke-desktop: the screenshot looks blank: " + "; ".join(problems))
EOF

echo "smoke-desktop: bundle size $(du -sh "$ROOT/dist/piazzetta" | cut -f1)"
echo "smoke-desktop: start, draw, screenshot and exit took ${elapsed_ms} ms" \
     "(including the app's wait before its screenshot and Xvfb's start)"
echo "smoke-desktop: ok"
