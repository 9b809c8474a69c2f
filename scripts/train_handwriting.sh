#!/usr/bin/env bash
# Trains the handwriting recognizer of docs/TRAIN.md on ../shared/train, or continues it
# where it stopped (a run lasts hours on a CPU and survives being killed: run this again).
#   scripts/train_handwriting.sh [INKREAD_BINARY] [RUN_ID] [EPOCHS]
# Logs to $INKREAD_HOME/training/RUN_ID.log (default home ~/.local/share/inkread).
# INKREAD_TRAIN_BASE picks the model to start from (default easyocr-english-g2; a personal
# model such as hw-crnn-1 continues from it); INKREAD_TRAIN_EXTRA_DATA adds manifests
# (space-separated), e.g. printed lines from scripts/render_printed_lines.py --split train,
# so that the model keeps reading print. INKREAD_TRAIN_OPTIONS adds options of `inkread train
# recognizer` (space-separated), e.g. "--deslant"; INKREAD_TRAIN_FROZEN is how many of the
# CRNN's convolutions stay as the base has them (default 4); INKREAD_TRAIN_LR the peak
# learning rate (default 3e-4; lower to continue from a trained model).
set -euo pipefail
bin=${1:-${CARGO_TARGET_DIR:-target}/debug/inkread}
id=${2:-hw-crnn-1}
epochs=${3:-6}
shared=${INKREAD_SHARED_DIR:-$(dirname "$0")/../../shared}
home=${INKREAD_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/inkread}
base=${INKREAD_TRAIN_BASE:-easyocr-english-g2}
read -r -a extra <<< "${INKREAD_TRAIN_EXTRA_DATA:-}"
read -r -a options <<< "${INKREAD_TRAIN_OPTIONS:-}"
resume=()
[ -f "$home/training/$id/run.json" ] && resume=(--resume)
mkdir -p "$home/training"
"$bin" train recognizer --base "$base" --data "$shared/train/manifest.tsv" "${extra[@]}" \
  --out "$id" --epochs "$epochs" --batch 16 --lr "${INKREAD_TRAIN_LR:-3e-4}" --seed 1 --checkpoint-minutes 10 \
  --freeze-convolutions "${INKREAD_TRAIN_FROZEN:-4}" "${options[@]}" \
  --device cpu "${resume[@]}" 2>&1 | stdbuf -oL tr '\r' '\n' | grep --line-buffered -v '^\s*$' >> "$home/training/$id.log"
