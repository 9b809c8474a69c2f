#!/usr/bin/env bash
# Speed on a machine with a real GPU, in one go: Inkread's page stages on wgpu and on that
# machine's CPU side by side (PP-OCRv4 on printed pages, kraken's segmenter on manuscripts),
# and the TrOCR encoders and batch jobs on wgpu against PyTorch on CUDA.
#
#   scripts/gpu_bench.sh INKREAD PAGES_DIR TROCR_CONFIG_DIR OUT_DIR
#
# PAGES_DIR holds printed pages (*.png) and manuscript pages (*.jpg); TROCR_CONFIG_DIR holds
# small.json and base.json (Hugging Face TrOCR configs: random weights, no download). Models
# come from $INKREAD_HOME (ppocr-v4-det, ppocr-v4-rec, kraken-blla). Every list of pages is
# read twice: the first pass pays wgpu's shader compilation and is reported apart.
# Each step has its own time limit and a failure does not stop the next one.
set -uo pipefail
inkread=$1 pages=$2 trocr=$3 out=$4
mkdir -p "$out"
step() { # NAME LIMIT_S COMMAND...: stdout to OUT/NAME.jsonl, stderr to OUT/NAME.err
  local name=$1 limit=$2; shift 2
  echo "== $name" >&2
  timeout "$limit" "$@" >"$out/$name.jsonl" 2>"$out/$name.err" || echo "   $name failed ($?)" >&2
  tail -n 3 "$out/$name.err" >&2
}
nvidia-smi -L >&2
python3 scripts/bench_machine.py "$inkread" "$(nproc)" gpu >"$out/machine.jsonl" 2>&1
cat "$out/machine.jsonl" >&2
printed=("$pages"/*.png "$pages"/*.png)
written=("$pages"/*.jpg "$pages"/*.jpg)
for device in gpu cpu; do
  step "ppocr-$device" 240 "$inkread" bench pages --device "$device" \
    --detector ppocr-v4-det --recognizer ppocr-v4-rec "${printed[@]}"
  step "kraken-$device" 240 "$inkread" bench pages --device "$device" \
    --detector kraken-blla --recognizer ppocr-v4-rec "${written[@]}"
done
for size in small base; do
  for batch in 1 8; do
    step "trocr-$size-b$batch-inkread" 180 "$inkread" bench trocr --device gpu \
      --config "$trocr/$size.json" --batch "$batch" --tokens 16 --repeats 5
    step "trocr-$size-b$batch-torch" 180 python3 scripts/bench_trocr_torch.py --device cuda \
      --config "$trocr/$size.json" --batch "$batch" --tokens 16 --repeats 5
  done
done
