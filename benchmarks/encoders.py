"""The ported identity encoders: verification ROC AUC on real identity pairs and ms per face.

    python benchmarks/encoders.py [--names sface dlib-resnet faceres] [--repeats 20]

Needs `keras-facesr models fetch --all` and `keras-facesr data fetch ids`. AUC: every pair of
`pairs.txt` scored by the cosine of the two HR faces' embeddings (aligned crops, as evaluate's
`hr` row). Time: the median of ``--repeats`` forward passes after a warm-up, batch 1 and 8.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_facesr.data import sources  # noqa: E402
from keras_facesr.evaluate import read_lfw, roc_auc, tar_at_far  # noqa: E402
from keras_facesr.images import read_image  # noqa: E402
from keras_facesr.recognition.encoders import get_encoder  # noqa: E402


def compiled(encoder):
    """``encoder.embed`` as a tf.function (the encoder captured, not traced as an argument)."""
    return tf.function(lambda x: encoder.embed(x))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--names", nargs="+", default=["sface", "dlib-resnet", "faceres"])
    p.add_argument("--repeats", type=int, default=20)
    args = p.parse_args()
    lfw = sources.cache_root() / "datasets" / "ids" / "lfw"
    faceset = read_lfw(lfw, lfw / "pairs.txt")
    faces = np.stack([tf.image.resize(read_image(f), (128, 128), antialias=True).numpy()
                      for f in faceset.files]).astype(np.float32) / 255.0
    genuine = np.array([g for *_, g in faceset.pairs])
    print(f"{len(faces)} faces of {len(set(faceset.identities))} people; "
          f"{genuine.sum()} genuine / {(~genuine).sum()} impostor pairs")
    print("| encoder | params | ROC AUC | TAR@FAR=1e-2 | genuine cos (mean) | impostor cos (mean) "
          "| ms/face, batch 1 | ms/face, batch 8 |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.names:
        enc = get_encoder(name)
        emb = np.asarray(enc.embed(faces))
        scores = np.array([emb[i] @ emb[j] for i, j, _ in faceset.pairs])
        g, imp = scores[genuine], scores[~genuine]
        run = compiled(enc)
        timings = {}
        for batch in (1, 8):
            x = tf.constant(faces[:batch])
            run(x)
            times = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                run(x).numpy()
                times.append(time.perf_counter() - t)
            timings[batch] = 1000 * float(np.median(times)) / batch
        print(f"| {name} | {enc.model.count_params():,} | {roc_auc(g, imp):.4f} | {tar_at_far(g, imp):.3f} "
              f"| {g.mean():.3f} | {imp.mean():.3f} | {timings[1]:.1f} | {timings[8]:.1f} |")


if __name__ == "__main__":
    main()
