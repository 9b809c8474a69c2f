#!/usr/bin/env bash
# Runs the CPU comparison of docs/BENCH.md in one go: for each TrOCR config and batch size,
# PyTorch, Burn Flex and Burn NdArray on the same work, interleaved, same thread count.
#
#   scripts/bench_cpu.sh OUT.jsonl [TOKENS] [REPEATS] [THREADS]
# REPEATS_B8 (default REPEATS) sets the repeats at batch 8, the slow half; BURN_DEVICES
# (default "flex ndarray") the Burn devices to time.
#
# Needs: target/debug/inkread (or $INKREAD), python with torch + transformers ($PYTHON),
# and the configs in $MODELS (default ../shared/models).
set -euo pipefail
out=${1:?output file}
tokens=${2:-16}
repeats=${3:-3}
threads=${4:-2}
inkread=${INKREAD:-${CARGO_TARGET_DIR:-target}/debug/inkread}
python=${PYTHON:-python3}
models=${MODELS:-../shared/models}
export RAYON_NUM_THREADS=$threads OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
: >"$out"
for model in trocr-small-handwritten trocr-base-handwritten; do
  config=$models/$model/config.json
  for batch in 1 8; do
    reps=$repeats
    if [ "$batch" = 8 ]; then reps=${REPEATS_B8:-$repeats}; fi
    echo "== $model batch $batch ($(uptime))" >&2
    "$python" scripts/bench_trocr_torch.py --config "$config" --batch "$batch" \
      --tokens "$tokens" --threads "$threads" --repeats "$reps" \
      | sed "s/^{/{\"engine\": \"torch\", \"model\": \"$model\", /" >>"$out"
    for dev in ${BURN_DEVICES:-flex ndarray}; do
      "$inkread" bench trocr --config "$config" --batch "$batch" --tokens "$tokens" \
        --device "$dev" --repeats "$reps" \
        | sed "s/^{/{\"engine\": \"burn-$dev\", \"model\": \"$model\", /" >>"$out"
    done
  done
done
