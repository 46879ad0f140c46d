"""Which fidelity (blend of the SR face with bicubic) keeps identity best, on several held-out sets?

    python benchmarks/fidelity_sweep.py --scale 8 [--model G.keras ...] [--data nba:val ids heldout]
        [--fidelity 1 0.75 0.5 0.25] [--judge dlib-resnet] [--degradation area] [--jitter 0]
        [--mirror]

Runs ``keras-facesr evaluate`` (in one process) on every set and prints, per set and method,
PSNR, the judge's identity cosine to the own HR face, the different-person rate and, where
the set has identity pairs, ROC AUC; then the mean over the sets of the cosine gain over
bicubic. The judge must not be in the models' training loss. ``nba:val`` is the NBA split the
models never trained on; ``ids`` and ``heldout`` are other people from other sources.
``--mirror`` averages each SR face with the SR of its mirror image, as ``enhance`` does in
photos (``evaluate --mirror``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from keras_facesr.data.sources import resolve_data_dirs  # noqa: E402
from keras_facesr.evaluate import evaluate  # noqa: E402
from keras_facesr.models.info import bundled_models, read_model_info  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=int, choices=[4, 8], required=True)
    p.add_argument("--model", action="append", type=Path,
                   help="Default: the bundled model of that scale.")
    p.add_argument("--data", nargs="+", default=["nba:val", "ids", "heldout"])
    p.add_argument("--fidelity", type=float, nargs="+", default=[1.0, 0.75, 0.5, 0.25])
    p.add_argument("--judge", default="dlib-resnet")
    p.add_argument("--degradation", default="area")
    p.add_argument("--jitter", type=float, default=0.0)
    p.add_argument("--back-project", type=int, default=0)
    p.add_argument("--mirror", action="store_true",
                   help="Mirror-average the SR faces, as `enhance` does in photos.")
    args = p.parse_args()
    models = args.model or [m for m in bundled_models() if read_model_info(m).scale == args.scale]
    gains: dict[str, list[float]] = {}
    print(f"x{args.scale}, degradation {args.degradation}, judge {args.judge}, jitter {args.jitter}"
          + (", SR faces mirror-averaged" if args.mirror else ""))
    for spec in args.data:
        name, _, split = spec.partition(":")
        result = evaluate(resolve_data_dirs(name), list(models), args.scale, None, args.degradation,
                          args.judge, aligned=True, split=split or "all", fidelity=tuple(args.fidelity),
                          back_project=args.back_project, jitter=args.jitter, mirror=args.mirror,
                          echo=lambda m: None)
        rows = result["methods"]
        base = rows["bicubic"]["id_cosine"]
        print(f"\n{spec}: {result['faces']} faces, {result['pairs']['genuine']} genuine / "
              f"{result['pairs']['impostor']} impostor pairs")
        print(f"{'method':34s} {'PSNR':>6s} {'id cos':>7s} {'diff':>6s} {'AUC':>6s}")
        for method, row in rows.items():
            if method == "hr":
                continue
            auc = row.get("roc_auc")
            print(f"{method:34s} {row['psnr']:6.2f} {row['id_cosine']:7.4f} "
                  f"{row.get('different_person_rate', float('nan')):6.1%} "
                  f"{auc if auc is not None else float('nan'):6.3f}")
            gains.setdefault(method, []).append(row["id_cosine"] - base)
    print(f"\nmean identity-cosine gain over bicubic across {len(args.data)} sets "
          f"(worst set in brackets):")
    for method, g in gains.items():
        if method != "bicubic":
            print(f"  {method:34s} {np.mean(g):+.4f} ({min(g):+.4f})")


if __name__ == "__main__":
    main()
