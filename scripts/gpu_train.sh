#!/usr/bin/env bash
# Training on a machine with a real GPU, for a fixed time: checks the convolution gradient
# on the device (the run refuses a wrong one), trains from a base model on exported lines
# (`inkread train export-lines`), publishes the last checkpoint if it is better, and copies
# the model and the log to OUT_DIR.
#
#   scripts/gpu_train.sh INKREAD BASE RUN_ID SECONDS OUT_DIR MANIFEST...
#
# Models and runs live in $INKREAD_HOME. Lines per second and validation CER per epoch are
# in OUT_DIR/train.log. BATCH, LR and EPOCHS (the length of the learning-rate schedule)
# default to 16, 1e-4 and 40: a GPU step costs nearly the same at any batch (docs/TRAIN.md),
# so large batches are where its speed is.
set -uo pipefail
inkread=$1 base=$2 id=$3 seconds=$4 out=$5
shift 5
mkdir -p "$out"
home=${INKREAD_HOME:-$HOME/.local/share/inkread}
timeout "$seconds" "$inkread" train recognizer --base "$base" --data "$@" --out "$id" \
  --epochs "${EPOCHS:-40}" --batch "${BATCH:-16}" --lr "${LR:-1e-4}" --seed 1 --patience 4 \
  --checkpoint-minutes 1 --freeze-convolutions 4 --device gpu 2>&1 | stdbuf -oL tr '\r' '\n' \
  | grep --line-buffered -v '^\s*$' >"$out/train.log"
echo "training ended: ${PIPESTATUS[0]}" >>"$out/train.log"
tail -n 25 "$out/train.log" >&2
[ -d "$home/training/$id/checkpoint" ] \
  && "$inkread" train publish "$id" --device gpu >>"$out/train.log" 2>&1
tail -n 3 "$out/train.log" >&2
if [ -d "$home/models/$id" ]; then
  cp "$home/models/$id"/* "$out"/
  cat "$out/model-card.json" >&2
fi
