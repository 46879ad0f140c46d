"""Seconds per training step (GAN phase and pixel pre-training) at batch 16, LR 32 -> HR 128.

    python benchmarks/train_step.py [--steps 10] [--generators edge srresnet]
        [--discriminators srgan patch unet] [--encoders none sface sface+faceres]

Synthetic batches (timing does not depend on content); the first step (graph tracing) is
excluded; the median of the rest is printed. ``ratio`` is the GAN step over the pixel step.
An encoder other than ``none`` puts the identity loss (lambda_1 = 0.1) in the GAN phase; it
must have been fetched (``keras-facesr models fetch``).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_facesr.config import load_config  # noqa: E402
from keras_facesr.train.fit import build_gan, resolve_losses  # noqa: E402


def time_steps(gan, batch, steps: int) -> float:
    step = tf.function(gan.train_step)
    float(step(batch)["loss_g"])  # trace
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        float(step(batch)["loss_g"])
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--generators", nargs="+", default=["edge", "srresnet"])
    p.add_argument("--discriminators", nargs="+", default=["srgan", "patch", "unet"])
    p.add_argument("--encoders", nargs="+", default=["none"])
    args = p.parse_args()
    hr = tf.random.stateless_uniform((args.batch_size, 128, 128, 3), (0, 1))
    batch = (tf.image.resize(hr, (32, 32), "bilinear"), hr)
    print(f"batch {args.batch_size}, 32 -> 128, {os.cpu_count()} CPU cores, TF {tf.__version__}")
    print(f"{'generator':10s} {'discriminator':13s} {'encoder':14s} {'G params':>10s} {'D params':>11s} "
          f"{'pretrain s/step':>16s} {'GAN s/step':>11s} {'ratio':>6s}")
    for kind in args.generators:
        for disc in args.discriminators:
            for enc in args.encoders:
                identity = [f'loss.encoder="{enc}"', "loss.identity=0.1"] if enc != "none" else [
                    "loss.identity=0"]
                cfg = load_config(None, [f"model.generator={kind}", f"model.discriminator={disc}",
                                         "loss.content=0", *identity])
                encoder, content, weights, _ = resolve_losses(cfg)
                gan = build_gan(cfg, encoder, content, weights)
                gan.pretraining = True
                pre = time_steps(gan, batch, args.steps)
                gan.pretraining = False
                full = time_steps(gan, batch, args.steps)
                print(f"{kind:10s} {disc:13s} {enc:14s} {gan.generator.count_params():10,d} "
                      f"{gan.discriminator.count_params():11,d} {pre:16.3f} {full:11.3f} "
                      f"{full / pre:6.1f}")


if __name__ == "__main__":
    main()
