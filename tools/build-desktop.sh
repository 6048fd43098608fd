#!/bin/sh
# Builds the one-folder desktop bundle into dist/piazzetta with PyInstaller from the venv:
#     sh tools/build-desktop.sh            (then: dist/piazzetta/piazzetta kiosk)
# Compiles the catalogs first (the bundle carries the .mo files, which git does not hold).
# VENV=path overrides the venv; PYINSTALLER_ARGS adds options (e.g. --clean).
set -eu
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"

if [ ! -x "$PY" ]; then
    echo "build-desktop: no venv at $VENV: run 'make setup' first" >&2
    exit 1
fi
if ! "$PY" -c "import PyInstaller" 2>/dev/null; then
    echo "build-desktop: no PyInstaller in $VENV: run 'make setup' (requirements/dev.lock pins it)" >&2
    exit 1
fi
# The bundle carries what the tests ran against: every package of requirements/runtime.lock at
# its locked version, or no build.
if ! "$PY" tools/locks.py check-venv; then
    echo "build-desktop: $VENV differs from requirements/runtime.lock: run 'make setup'" >&2
    exit 1
fi

"$VENV/bin/pybabel" -q compile --use-fuzzy -d locales -D piazzetta

start=$(date +%s)
# Kivy's hook helpers import Kivy: keep its config and logs out of the builder's home.
KIVY_NO_ARGS=1 KIVY_NO_CONSOLELOG=1 "$PY" -m PyInstaller --noconfirm --log-level WARN \
    --distpath dist --workpath build/pyinstaller ${PYINSTALLER_ARGS:-} buildspec/piazzetta.spec
end=$(date +%s)

if [ ! -x dist/piazzetta/piazzetta ] && [ ! -f dist/piazzetta/piazzetta.exe ]; then
    echo "build-desktop: no executable in dist/piazzetta" >&2
    exit 1
fi
echo "build-desktop: dist/piazzetta built in $((end - start)) s, size $(du -sh dist/piazzetta | cut -f1)"
