#!/usr/bin/env bash
# Every speed comparison of docs/BENCH.md in one go, on the same inputs and thread count, and
# one table of ratios (Inkread's time / the peer's) with the machine, load and versions:
#
#   ppocr   PP-OCRv4 det + rec, Inkread against RapidOCR 1.4.4 (onnxruntime), printed pages
#   easyocr CRAFT + english_g2 CRNN, Inkread against EasyOCR (PyTorch), the same pages
#   trocr   TrOCR small and base, encoder and batch job, Inkread against transformers (PyTorch)
#   kraken  blla segmentation, Inkread against kraken 7.1.1, one printed and one manuscript page
#
#   scripts/bench_all.sh OUT_DIR
#
# Writes OUT_DIR/runs.jsonl (every run, one JSON line each) and OUT_DIR/table.md.
# Environment (defaults in brackets):
#   INKREAD        the inkread binary [$CARGO_TARGET_DIR/debug/inkread, else target/debug/inkread]
#   PYTHON         python with the peers [python3]: `pip install -r scripts/requirements-fixtures.txt
#                  rapidocr_onnxruntime==1.4.4 easyocr==1.7.2` (transformers 4.57 as pinned
#                  there; bench_trocr_torch.py also runs with 5.17)
#   KRAKEN_PYTHON  python with kraken 7.1.1 [$PYTHON]
#   SHARED         the shared folder with eval/ and models/ [../shared]
#   THREADS [2]  REPEATS [1]  SUITES ["ppocr easyocr trocr kraken"]
#   PAGES          pages for ppocr and easyocr [the printed pages of the eval manifest]
#   DEVICE         Inkread's device, cpu or gpu (the GPU variant; peers stay on the CPU) [cpu]
# Models: `inkread models pull M` first for each M of ppocr-v4-det ppocr-v4-rec craft-mlt-25k
# easyocr-english-g2 kraken-blla (into $INKREAD_HOME, default ~/.local/share/inkread).
set -euo pipefail
out=${1:?usage: scripts/bench_all.sh OUT_DIR}
inkread=${INKREAD:-${CARGO_TARGET_DIR:-target}/debug/inkread}
python=${PYTHON:-python3}
kraken_python=${KRAKEN_PYTHON:-$python}
shared=${SHARED:-../shared}
threads=${THREADS:-2}
repeats=${REPEATS:-1}
suites=${SUITES:-ppocr easyocr trocr kraken}
device=${DEVICE:-cpu}
models=${INKREAD_HOME:-$HOME/.local/share/inkread}/models
export RAYON_NUM_THREADS=$threads OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
mkdir -p "$out"
runs=$out/runs.jsonl
: >"$runs"

if [ -z "${PAGES:-}" ]; then
  PAGES=$(awk -F'\t' -v s="$shared/eval/pages" 'NR > 1 && $1 ~ /^printed\// {print s "/" $1}' \
    "$shared/eval/pages/manifest.tsv")
fi

# Puts `"suite": ..., ` (and more fields) at the front of every JSON line read.
tag() { sed "s|^{|{\"suite\": \"$1\", $2|"; }
load() { cut -d' ' -f1 /proc/loadavg; }

"$python" scripts/bench_machine.py "$inkread" "$threads" "$device" | tag machine "" >>"$runs"

for suite in $suites; do
  echo "== $suite (load $(load))" >&2
  case $suite in
    ppocr)
      for page in $PAGES; do
        INKREAD_DEVICE=$device "$python" scripts/bench_page.py "$inkread" "$page" "$repeats" \
          | tag ppocr "\"page\": \"$(basename "$page")\", \"load\": $(load), " >>"$runs"
      done ;;
    easyocr)
      # shellcheck disable=SC2086  # PAGES is a list
      "$python" scripts/bench_easyocr.py "$inkread" "$models" $PAGES --repeats "$repeats" \
        --device "$device" | tag easyocr "\"load\": $(load), " >>"$runs" ;;
    trocr)
      burn=flex
      [ "$device" = gpu ] && burn=gpu
      INKREAD=$inkread PYTHON=$python MODELS=$shared/models BURN_DEVICES=$burn \
        bash scripts/bench_cpu.sh "$out/trocr.jsonl" 16 "$repeats" "$threads"
      tag trocr "\"load\": $(load), " <"$out/trocr.jsonl" >>"$runs" ;;
    kraken)
      for page in kraken_spanish/170025120000003_0074.jpg printed/fondue_05dracula_pdf_page_52.png; do
        stem=${page%.*}
        "$kraken_python" scripts/kraken_segment_reference.py "$shared/eval/pages/manifest.tsv" \
          --out "$out/kraken" --threads "$threads" --page "$stem" >/dev/null
        "$python" scripts/bench_table.py --seconds-of "$out/kraken/${stem//\//__}.json" \
          | tag kraken "\"engine\": \"kraken\", \"page\": \"$page\", \"load\": $(load), " >>"$runs"
        for _ in $(seq "$repeats"); do
          "$inkread" read --mode page --device "$device" --format json --detector kraken-blla \
            --recognizer ppocr-v4-rec "$shared/eval/pages/$page" \
            | "$python" scripts/bench_table.py --seconds-of - \
            | tag kraken "\"engine\": \"inkread-burn-$device\", \"page\": \"$page\", \"load\": $(load), " >>"$runs"
        done
      done ;;
    *) echo "unknown suite $suite" >&2; exit 2 ;;
  esac
done
"$python" scripts/bench_table.py "$runs" | tee "$out/table.md"
