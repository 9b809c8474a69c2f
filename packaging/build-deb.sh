#!/usr/bin/env bash
# Builds the Debian package with cargo-deb (installed on first use).
#   packaging/build-deb.sh            # release build: what a person installs (Burn in
#                                     #   release is a second full build of Burn)
#   PROFILE=dev packaging/build-deb.sh  # packages the dev build already in the target
#                                     #   directory (CI: no second build of Burn)
# Writes target/debian/inkread_<version>_<arch>.deb (under $CARGO_TARGET_DIR when set)
# and prints its path.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-release}
command -v cargo-deb >/dev/null || cargo install --locked cargo-deb --version 3.8.0
out="${CARGO_TARGET_DIR:-target}/debian"
mkdir -p "$out"
args=(--locked --fast -o "$out" --profile "$profile")
if [ "$profile" = dev ]; then
  cargo build --locked --bin inkread
  # cargo-deb warns that dev builds are not for release; this package is only for the test.
  args+=(--no-build --no-strip -q)
fi
cargo deb "${args[@]}" >&2
ls -t "$out"/inkread_*.deb | head -1
