#!/usr/bin/env bash
# x4 trained for longer on one GPU, through Keras' torch backend (scripts/train_torch.py; for
# machines with PyTorch and no TensorFlow), as stage 7 did for x8. Not run yet: a candidate
# for the next session lent a GPU machine (model card, "Stage 8").
#
# The recipe is the shipped x4's last stage (stage 6 of scripts/train_default_models.sh):
# NBA + the registry's other people drawn 6 times as often, faces recorded at 18-35 px and
# resampled to the 32 px input, framing jitter 0.08, grey 0.15, gamma 0.3, contrast 0.2, the
# patch critic (ragan, lambda_0 = 1e-3), lambda_1 = 0.1 with SFace, lr 1e-4 for both; at batch
# 32 instead of 16, from the shipped x4 (a fresh critic and optimizer), in two runs side by
# side on the one GPU with the same data stream:
#   people:        the recipe (the candidate)
#   people-pixel:  the same with lambda_1 = 0 (its ablation)
#
# Here (the package and TensorFlow installed), once:
#   python scripts/train_torch.py faces --data nba --data faces:6 --output .gpu/people.npz
#   cp ~/.cache/keras-facesr/models/sface.keras* .gpu/
# On the GPU machine (repo root; torch, keras, opencv):
#   FACES=.gpu/people.npz ENCODER=.gpu/sface.keras OUT=dir bash scripts/train_gpu_x4.sh
# FINE_SECONDS: the time budget (default 420); FINE_STEPS instead repeats a run by its step
# count (each log's last line records it).
set -euo pipefail
: "${FACES:?the faces file (train_torch.py faces)}" "${ENCODER:?the SFace .keras file}" "${OUT:?}"
LOGS=${LOGS:-$OUT}
PY=${PYTHON:-python3}
INIT=${INIT:-keras_facesr/weights/facesr_edge_x4.keras}
export KERAS_BACKEND=torch PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$LOGS"
if [ -n "${FINE_STEPS:-}" ]; then budget=(--steps "$FINE_STEPS"); else budget=(--max-seconds "${FINE_SECONDS:-420}"); fi

# fine NAME ARGS...: one fine-tuning run from the shipped x4, in the background
fine() {
  local name=$1
  shift
  "$PY" scripts/train_torch.py train --faces "$FACES" --scale 4 --batch-size 32 --every 100 \
    --init "$INIT" --g-lr 1e-4 --d-lr 1e-4 --adversarial 1e-3 \
    --native-size 18 35 --jitter 0.08 --grey 0.15 --gamma 0.3 --contrast 0.2 "${budget[@]}" \
    --output "$OUT/x4-gpu-$name.keras" --log "$LOGS/x4-$name.log" "$@" &
}
fine people --identity 0.1 --encoder "$ENCODER"
fine people-pixel
wait
