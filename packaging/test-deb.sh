#!/usr/bin/env bash
# CI check of the Debian package: the metadata validates, the package installs with
# dpkg, `inkread --version` runs from /usr/bin, and the window opens under Xvfb.
# Removes the package afterwards. Needs root or sudo (CI runs as root).
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

appstreamcli validate --no-net packaging/io.github.inkread.Inkread.metainfo.xml
desktop-file-validate packaging/io.github.inkread.Inkread.desktop

deb=$(PROFILE=${PROFILE:-dev} bash packaging/build-deb.sh)
echo "test-deb: installing $deb"
$sudo dpkg -i "$deb"
trap '$sudo dpkg -r inkread >/dev/null' EXIT

[ "$(command -v inkread)" = /usr/bin/inkread ] || { echo "test-deb: /usr/bin/inkread missing" >&2; exit 1; }
version=$(/usr/bin/inkread --version)
echo "test-deb: $version"
[ "$version" = "inkread $(grep -m1 '^version' Cargo.toml | cut -d'"' -f2)" ]
[ -f /usr/share/applications/io.github.inkread.Inkread.desktop ]
[ -f /usr/share/metainfo/io.github.inkread.Inkread.metainfo.xml ]

# The window: start the installed app on a virtual display with an empty model store
# (its first-start install runs in the background and does not matter here) and wait
# for a top-level window named Inkread.
home=$(mktemp -d)
export INKREAD_HOME="$home/inkread"
display=:97
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap '$sudo dpkg -r inkread >/dev/null; kill $app $xvfb 2>/dev/null; rm -rf "$home"' EXIT
sleep 1
DISPLAY=$display WINIT_UNIX_BACKEND=x11 HOME=$home /usr/bin/inkread >"$home/app.log" 2>&1 &
app=$!
for _ in $(seq 60); do
  if DISPLAY=$display xwininfo -root -tree 2>/dev/null | grep -q '"Inkread"'; then
    kill -0 $app || { echo "test-deb: the app exited" >&2; cat "$home/app.log" >&2; exit 1; }
    echo "test-deb: the installed app opened its window"
    exit 0
  fi
  kill -0 $app 2>/dev/null || break
  sleep 1
done
echo "test-deb: no Inkread window within 60 s" >&2
cat "$home/app.log" >&2
exit 1
