#!/usr/bin/env bash
# Stage 7 ("gpu"): x8 trained for longer on one GPU, through Keras' torch backend
# (scripts/train_torch.py; for machines with PyTorch and no TensorFlow). Stage 1's recipe
# (pixel pre-training at lr 5e-4, then fine-tuning at lr 1e-4 with lambda_1 = 0.03 SFace; LR by
# area or bilinear, no antialias) at batch 32 instead of 16, run by time on the GPU, in six
# fine-tuning runs side by side on one GPU:
#   nba / nba-pixel:        NBA training faces only, lambda_1 = 0.03 / 0 (stage 1, longer)
#   people / people-pixel:  NBA + the registry's other people (`--data nba --data faces:6`)
#   people-gan / people-gan-pixel: the same + the patch critic, ragan, lambda_0 = 1e-3
# Each pair shares its pre-training and its data stream (seed 0), so "-pixel" is its ablation.
# Then nba and people go on for MORE_SECONDS (default 170) with a fresh optimizer
# ("-more"; x8-gpu-people-more is stage 7's candidate, x8-v7-people).
#
# The run of 2026-11-27 (one H100; the model card's "Stage 7"): pre-training 4,500 (nba) and
# 4,250 (people) steps; fine-tuning 8,250 steps for the pixel-only runs, 750 for nba and people
# and 500 for people-gan (the call's time ran out first: each run's file is its last save, its
# log's last "step" line), 1,250 for people-gan-pixel; then 600 more for nba and people.
#
# Here (the package and TensorFlow installed), once:
#   python scripts/train_torch.py faces --data nba --data faces:6 --output .gpu/people.npz
#   cp ~/.cache/keras-facesr/models/sface.keras* .gpu/
# On the GPU machine (repo root; torch, keras, opencv):
#   FACES=.gpu/people.npz ENCODER=.gpu/sface.keras OUT=dir bash scripts/train_gpu_x8.sh
# PRE_SECONDS / FINE_SECONDS / MORE_SECONDS: time budgets (default 150 / 300 / 170); *_STEPS instead
# repeat a run by its step counts (each log's last line records them).
set -euo pipefail
: "${FACES:?the faces file (train_torch.py faces)}" "${ENCODER:?the SFace .keras file}" "${OUT:?}"
LOGS=${LOGS:-$OUT}
PY=${PYTHON:-python3}
export KERAS_BACKEND=torch PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$LOGS"

# budget PHASE: --steps N when PHASE_STEPS is set, else --max-seconds
budget() {
  local steps_var="${1}_STEPS" seconds_var="${1}_SECONDS" default=$2
  if [ -n "${!steps_var:-}" ]; then echo "--steps ${!steps_var}"; else echo "--max-seconds ${!seconds_var:-$default}"; fi
}
run() { "$PY" scripts/train_torch.py train --faces "$FACES" --scale 8 --batch-size 32 --every 250 "$@"; }

# shellcheck disable=SC2046
run --source nba --g-lr 5e-4 $(budget PRE 150) --output "$LOGS/x8-gpu-pre-nba.keras" \
  --log "$LOGS/pre-nba.log" &
# shellcheck disable=SC2046
run --g-lr 5e-4 $(budget PRE 150) --output "$LOGS/x8-gpu-pre-people.keras" \
  --log "$LOGS/pre-people.log" &
wait

# fine NAME INIT ARGS...: one fine-tuning run, in the background
fine() {
  local name=$1 init=$2
  shift 2
  # shellcheck disable=SC2046
  run --init "$init" --g-lr 1e-4 $(budget FINE 300) --output "$OUT/x8-gpu-$name.keras" \
    --log "$LOGS/$name.log" "$@" &
}
sface=(--identity 0.03 --encoder "$ENCODER")
gan=(--adversarial 1e-3 --d-lr 1e-4)
fine nba "$LOGS/x8-gpu-pre-nba.keras" --source nba "${sface[@]}"
fine nba-pixel "$LOGS/x8-gpu-pre-nba.keras" --source nba
fine people "$LOGS/x8-gpu-pre-people.keras" "${sface[@]}"
fine people-pixel "$LOGS/x8-gpu-pre-people.keras"
fine people-gan "$LOGS/x8-gpu-pre-people.keras" "${sface[@]}" "${gan[@]}"
fine people-gan-pixel "$LOGS/x8-gpu-pre-people.keras" "${gan[@]}"
wait

# more NAME ARGS...: NAME's fine-tuning run continued (fresh Adam state), in the background
more() {
  local name=$1
  shift
  # shellcheck disable=SC2046
  run --init "$OUT/x8-gpu-$name.keras" --g-lr 1e-4 $(budget MORE 170) --every 100 \
    --output "$OUT/x8-gpu-$name-more.keras" --log "$LOGS/$name-more.log" "$@" &
}
more nba --source nba "${sface[@]}"
more people "${sface[@]}"
wait
