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

# The window: start the installed app on a virtual display, wait for a top-level window
# named Inkread, then drop the two-page PDF fixture on it as a file manager does (XDND) and
# wait until both pages are read. The model store is the test run's (.ci/run sets
# INKREAD_HOME; the tests installed the default models there), else an empty one whose
# first-start install runs in the background.
home=$(mktemp -d)
export INKREAD_HOME="${INKREAD_HOME:-$home/inkread}"
pdf=$PWD/tests/fixtures/pdf/two_scans.pdf
display=:97
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap '$sudo dpkg -r inkread >/dev/null; kill $app $xvfb 2>/dev/null; rm -rf "$home"' EXIT
sleep 1
DISPLAY=$display WINIT_UNIX_BACKEND=x11 HOME=$home /usr/bin/inkread >"$home/app.log" 2>&1 &
app=$!
fail() { echo "test-deb: $*" >&2; cat "$home/app.log" >&2; exit 1; }
for _ in $(seq 60); do
  DISPLAY=$display xwininfo -root -tree 2>/dev/null | grep -q '"Inkread"' && break
  kill -0 $app 2>/dev/null || fail "the app exited"
  sleep 1
done
DISPLAY=$display xwininfo -root -tree | grep -q '"Inkread"' || fail "no Inkread window within 60 s"
echo "test-deb: the installed app opened its window"

# Debian's python3-xlib (packaging/setup.sh) belongs to the system Python.
py=/usr/bin/python3
[ -x "$py" ] || py=python3
DISPLAY=$display "$py" scripts/xdnd_drop.py --window Inkread "$pdf" || fail "the drop failed"
for _ in $(seq 300); do
  [ "$(grep -c 'inkread: read two_scans.pdf#page=' "$home/app.log")" -ge 2 ] && break
  grep -q 'inkread: could not read' "$home/app.log" && fail "a dropped page failed"
  kill -0 $app 2>/dev/null || fail "the app exited"
  sleep 1
done
[ "$(grep -c 'inkread: read two_scans.pdf#page=' "$home/app.log")" -ge 2 ] ||
  fail "the dropped PDF's two pages were not both read within 300 s"
grep 'inkread: read two_scans.pdf#page=' "$home/app.log"
echo "test-deb: a PDF of two scanned pages dropped on the window became two pages, both read"
