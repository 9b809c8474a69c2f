#!/usr/bin/env bash
# Two inkread binaries reading the same pages, alternated, wall time of each `inkread read`
# (models loading included), and whether they printed the same text:
#   scripts/bench_read_ab.sh BINARY_A BINARY_B DETECTOR RECOGNIZER ROUNDS PAGE...
set -euo pipefail
a=${1:?usage: bench_read_ab.sh BINARY_A BINARY_B DETECTOR RECOGNIZER ROUNDS PAGE...}
b=${2:?} detector=${3:?} recognizer=${4:?} rounds=${5:?}
shift 5
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "pages: $#  load: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
  for side in a b; do
    binary=$a
    [ "$side" = b ] && binary=$b
    started=$(date +%s.%N)
    "$binary" read --detector "$detector" --recognizer "$recognizer" --device cpu "$@" \
      > "$out/$side.txt"
    echo "round $round $side ($binary): $(echo "$(date +%s.%N) - $started" | bc) s"
  done
  cmp -s "$out/a.txt" "$out/b.txt" && echo "same text" || echo "the texts differ"
done
