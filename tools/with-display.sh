#!/bin/sh
# Runs a command with a display: the current one if there is one, else a fresh Xvfb screen.
if [ -n "$DISPLAY" ] || [ "$(uname -s)" = Darwin ] || ! command -v xvfb-run >/dev/null 2>&1; then
    exec "$@"
fi
exec xvfb-run -a -s "-screen 0 1920x1080x24 -nolisten tcp" "$@"
