#!/usr/bin/env bash
# A release tarball for Linux systems without dpkg: the binary, the desktop entry, icons,
# AppStream metadata and an install note. PROFILE=dev packages the dev build instead.
# Prints the tarball's path (under $CARGO_TARGET_DIR/dist, or target/dist).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-release}
version=$(grep -m1 '^version' Cargo.toml | cut -d'"' -f2)
target_dir=${CARGO_TARGET_DIR:-target}
cargo build --locked --profile "$profile" --bin inkread >&2
bin_dir=$target_dir/$([ "$profile" = dev ] && echo debug || echo "$profile")
name=inkread-$version-$(uname -m)-linux
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/$name
install -Dm755 "$bin_dir/inkread" "$root/bin/inkread"
install -Dm644 packaging/io.github.inkread.Inkread.desktop "$root/share/applications/io.github.inkread.Inkread.desktop"
install -Dm644 packaging/io.github.inkread.Inkread.metainfo.xml "$root/share/metainfo/io.github.inkread.Inkread.metainfo.xml"
install -Dm644 assets/icon-64.png "$root/share/icons/hicolor/64x64/apps/io.github.inkread.Inkread.png"
install -Dm644 assets/icon-256.png "$root/share/icons/hicolor/256x256/apps/io.github.inkread.Inkread.png"
install -Dm644 packaging/INSTALL-linux.txt "$root/README.txt"
mkdir -p "$target_dir/dist"
tar -C "$stage" -czf "$target_dir/dist/$name.tar.gz" "$name"
echo "$target_dir/dist/$name.tar.gz"
