#!/usr/bin/env bash
# Runs `inkread eval` for every detector × recognizer pair on ../shared/eval and writes one
# JSON report per run, the per-page scores of page runs (.log) and the summary lines
# (tables.txt) to OUT (default docs/eval). Used for docs/EVAL.md.
#   scripts/run_eval.sh [INKREAD_BINARY] [OUT]
set -euo pipefail
bin=${1:-target/debug/inkread}
out=${2:-docs/eval}
eval_dir=${INKREAD_SHARED_DIR:-../shared}/eval
mkdir -p "$out"
run() { # name, then eval arguments
  local name=$1; shift
  echo "== $name: inkread eval $*" | tee -a "$out/tables.txt"
  local start=$(date +%s)
  # Page runs also keep their -v lines (scores per page, no text) for the per-page tables.
  local log=/dev/null
  [[ $name == pages_* ]] && log="$out/$name.log"
  "$bin" eval "$@" --device cpu --format json -v > "$out/$name.json" 2> "$log"
  python3 -c "import json,sys; r=json.load(open('$out/$name.json')); print(json.dumps(r['overall']))" | tee -a "$out/tables.txt"
  echo "wall seconds: $(( $(date +%s) - start ))" | tee -a "$out/tables.txt"
}
for rec in ppocr-v4-rec easyocr-english-g2; do
  run "lines_$rec" lines "$eval_dir/lines/manifest.tsv" --recognizer "$rec"
done
for rec in ppocr-v4-rec easyocr-english-g2; do
  run "pages_gt_$rec" pages "$eval_dir/pages/manifest.tsv" --detector gt --recognizer "$rec"
  for det in ppocr-v4-det craft-mlt-25k; do
    run "pages_${det}_$rec" pages "$eval_dir/pages/manifest.tsv" --detector "$det" --recognizer "$rec"
  done
done
