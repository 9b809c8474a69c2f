#!/usr/bin/env bash
# One convolution at a time, Burn's (Flex and NdArray) and Inkread's own (nn::conv_gemm, on
# Flex) against PyTorch, on the layer shapes where the convolutional networks spend their
# time (CRAFT at Inkread's 1280-px canvas, kraken's first layer), same thread count. One
# JSON line a run; for docs/BENCH.md.
#
#   scripts/bench_conv.sh OUT.jsonl [REPEATS] [THREADS]
# Needs INKREAD (default $CARGO_TARGET_DIR/debug/inkread) and PYTHON with torch.
set -euo pipefail
out=${1:?output file}
repeats=${2:-3}
threads=${3:-2}
inkread=${INKREAD:-${CARGO_TARGET_DIR:-target}/debug/inkread}
python=${PYTHON:-python3}
export RAYON_NUM_THREADS=$threads OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
: >"$out"
# in out kernel stride height width: CRAFT's VGG at 1/1, 1/2, 1/4, 1/8 of a 1280 x 992
# canvas (banded: a band is about 100 rows at full size), kraken's 7 x 7 stride-2 first layer.
while read -r cin cout k s h w; do
  echo "== $cin -> $cout, ${k}x$k /$s, ${h}x$w ($(cut -d' ' -f1 /proc/loadavg))" >&2
  "$python" scripts/bench_conv_torch.py --in "$cin" --out "$cout" --kernel "$k" --stride "$s" \
    --height "$h" --width "$w" --repeats "$repeats" --threads "$threads" \
    | sed 's/^{/{"engine": "torch", /' >>"$out"
  for run in ${CONV_RUNS:-burn-flex inkread-flex burn-ndarray}; do
    "$inkread" bench conv --in "$cin" --out "$cout" --kernel "$k" --stride "$s" \
      --height "$h" --width "$w" --repeats "$repeats" --conv "${run%-*}" --device "${run#*-}" \
      | sed "s/^{/{\"engine\": \"$run\", /" >>"$out"
  done
done <<'SHAPES'
3 64 3 1 128 992
64 64 3 1 128 992
128 128 3 1 128 496
256 256 3 1 160 248
512 512 3 1 160 124
3 64 7 2 256 1552
SHAPES
