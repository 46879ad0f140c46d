"""The README's results tables: every held-out set, both scales, two judges, as Markdown.

    python benchmarks/results_table.py [--runs runs/default-models] [--judges dlib-resnet faceres]
        [--scale 4 8]

Per scale, PSNR and SSIM, and each judge's identity cosine to the HR face, different-person
rate and (``ids``) ROC AUC, for the bundled model at its shipped fidelity and at fidelity 1
(the raw generator), and for the other runs of ``scripts/train_default_models.sh`` that
``--runs`` holds, at the same two fidelities: ``x{4,8}-identity``: stage 1 (the x8 one
shipped until stage 7);
``x{4,8}-pixel``: stage 1 without SFace's term; ``x8-identity-0.1``: stage 1 with lambda_1 =
0.1; ``x{4,8}-v2``: GAN + identity ensemble; ``x{4,8}-v2-pixel``: the same with lambda_1 = 0;
``x{4,8}-v2-clean``: lambda_1 = 0 without the camera-noise degradations; ``x{4,8}-v3-sizes``:
faces recorded at every size the model is sent; ``x4-v4-faces``: x4's stage 3 on more
registry faces; ``x{4,8}-v4-identity``: stage 3 with SFace's identity term, the x4 one shipped
until stage 6; ``x4-v4-pixel``: the x4 one without it; ``x{4,8}-v6-people``: the shipped
models of stages 4 and 1 with the registry's people weighted up, the x4 one shipped;
``x4-v6-pixel``: that x4 run without SFace's term; ``x8-v7-people``: stage 7, trained on a GPU
by ``scripts/train_gpu_x8.sh`` (shipped: skipped as identical to the bundled file);
``x8-v7-pixel``: its lambda_1 = 0 twin. All
against bicubic on faces shrunk by area averaging: NBA's held-out split, ``ids`` (with identity
pairs: ROC AUC) and the ``heldout`` sources. A judge that was in a model's training loss is
marked with * on that model's row.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_facesr.data.sources import resolve_data_dirs  # noqa: E402
from keras_facesr.evaluate import evaluate  # noqa: E402
from keras_facesr.models.info import WEIGHTS_DIR, read_model_info  # noqa: E402

SETS = ["nba:val", "ids", "heldout"]
# runs of scripts/train_default_models.sh
VARIANTS = ("identity", "pixel", "identity-0.1", "v2", "v2-pixel", "v2-clean", "v3-sizes", "v4-faces",
            "v4-identity", "v4-pixel", "v6-people", "v6-pixel", "v7-people", "v7-pixel")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=Path, default=Path("runs/default-models"))
    p.add_argument("--judges", nargs="+", default=["dlib-resnet", "faceres"])
    p.add_argument("--degradation", default="area")
    p.add_argument("--scale", type=int, nargs="+", choices=(4, 8), default=[4, 8])
    args = p.parse_args()
    for scale in args.scale:
        shipped = WEIGHTS_DIR / f"facesr_edge_x{scale}.keras"
        candidates = [args.runs / f"x{scale}-{v}" / "generator.keras" for v in VARIANTS]
        models = [shipped] + [c for c in candidates  # a run identical to the shipped file: skipped
                              if c.is_file() and c.read_bytes() != shipped.read_bytes()]
        w = read_model_info(shipped).fidelity
        trained = {m: {e for i in [read_model_info(m)] if i and i.identity_encoder
                       for e in i.identity_encoder.split("+")} for m in models}
        print(f"\n### x{scale} ({128 // scale} -> 128 px), degradation {args.degradation}\n")
        head = "| set | method | PSNR | SSIM | " + " | ".join(
            f"{j}: cosine / different person / AUC" for j in args.judges) + " |"
        print(head + "\n|" + "---|" * (4 + len(args.judges)))
        for spec in SETS:
            name, _, split = spec.partition(":")
            cells: dict[str, list[str]] = {}
            pixels: dict[str, str] = {}  # PSNR and SSIM: the same whichever judge
            for judge in args.judges:
                result = evaluate(resolve_data_dirs(name), models, scale, None, args.degradation, judge,
                                  aligned=True, split=split or "all", fidelity=(1.0, w),
                                  echo=lambda m: None)
                for method, row in result["methods"].items():
                    if method == "hr":
                        continue
                    names = {read_model_info(m).name: m for m in models}
                    owner = max((n for n in names if method.startswith(n)), key=len, default=None)
                    model = names.get(owner)
                    star = "*" if model is not None and judge in trained[model] else ""
                    diff = row.get("different_person_rate")
                    auc = row.get("roc_auc")
                    cells.setdefault(method, []).append(
                        f"{row['id_cosine']:.4f}{star} / " + (f"{diff:.0%}" if diff is not None else "-")
                        + (f" / {auc:.3f}" if auc is not None else ""))
                    pixels[method] = f"{row['psnr']:.2f} | {row['ssim']:.3f}"
                faces = result["faces"]
            for method, judged in cells.items():
                print(f"| {spec} ({faces}) | {method} | {pixels[method]} | " + " | ".join(judged) + " |")


if __name__ == "__main__":
    main()
