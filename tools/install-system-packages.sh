#!/bin/sh
# Installs the system packages a fresh machine lacks: on Debian/Ubuntu the libraries Kivy needs,
# LibreOffice Calc without its GUI (spreadsheets saved by LibreOffice itself,
# tests/unit/test_sheet_corpus.py), Xvfb for screen tests, espeak-ng (read-aloud), HAProxy
# (several hub processes behind one balancer, tests/integration) and Symbola (emoji in authored
# texts); on macOS nothing beyond Python 3.11 is needed (Kivy's wheels carry SDL). Does nothing
# when everything is there.
set -e
case "$(uname -s)" in
Linux)
    command -v dpkg-query >/dev/null 2>&1 || exit 0
    missing=""
    for pkg in xvfb xauth libgl1-mesa-dri libegl1 libmtdev1 python3-venv binutils postgresql chromium libzbar0 gettext poppler-utils fonts-dejavu-core libreoffice-calc-nogui espeak-ng haproxy fonts-symbola $EXTRA_DEBIAN_PACKAGES; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing="$missing $pkg"
    done
    [ -z "$missing" ] && exit 0
    echo "Installing Debian packages:$missing"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
    ;;
Darwin)
    command -v python3 >/dev/null 2>&1 || { echo "Install Python 3.11 (python.org or Homebrew) first." >&2; exit 1; }
    ;;
esac
