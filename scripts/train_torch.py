"""Train a generator on a GPU machine that has PyTorch but no TensorFlow (Keras 3's torch backend).

`keras-facesr fit` trains with TensorFlow (tf.data, GradientTape) and uses a GPU when
TensorFlow sees one. This script is for machines that have a GPU and PyTorch but no
TensorFlow (this project's lent GPU machines): the same generator, discriminator, losses and
identity encoder (``keras_facesr.models``, ``keras_facesr.recognition.encoders``, which run on
any Keras backend), in a plain PyTorch loop, writing a ``.keras`` file the package loads as is.

Two steps, on two machines:

1. ``python scripts/train_torch.py faces --data nba --data faces:6 --output F.npz`` (where
   the package and TensorFlow are installed): the training split's faces, cropped to HR size
   exactly as ``fit`` crops them (``data.crop = full``), PNG-encoded, with each face's sampling
   weight (its source's ``--data`` weight). The held-out split (``data.val_fraction``) stays out.
2. ``KERAS_BACKEND=torch python scripts/train_torch.py train --faces F.npz --scale 8 ...``
   (torch + keras + opencv): pixel L1 + lambda_1 * identity (+ lambda_0 * adversarial). The LR
   faces are made on the GPU as stage 1's recipe makes them (``degrade.resize = ["area",
   "bilinear"]``, no antialias; a random left-right flip), which is all this loop implements.

Runs stop at ``--steps`` or after ``--max-seconds`` (at a multiple of ``--every`` steps); the
generator is written atomically every ``--every`` steps and at the end, and the last line of the
log is a JSON summary (steps, wall seconds, seconds per step).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def export_faces(specs: list[str], output: Path, hr_size: int, val_fraction: float) -> None:
    """Write the training faces of ``specs`` (``--data`` values) to ``output`` (.npz)."""
    import cv2
    import tensorflow as tf

    from keras_facesr.data.pipeline import crop_hr, find_splits
    from keras_facesr.data.sources import parse_data_specs
    from keras_facesr.images import ImageReadError, read_image, write_bytes_atomic

    sources = parse_data_specs(specs)
    png, weight, names, labels = [], [], [], []
    for source, split in zip(sources, find_splits(sources, val_fraction), strict=True):
        for path in split.train:
            try:
                image = read_image(path)
            except ImageReadError as e:
                print(f"skipped: {e}", file=sys.stderr)
                continue
            hr = crop_hr(tf.constant(image), hr_size, "full", None).numpy()
            rgb = np.round(hr * 255.0).astype(np.uint8)
            png.append(np.frombuffer(cv2.imencode(".png", rgb[..., ::-1])[1].tobytes(), np.uint8))
            weight.append(source.weight)
            labels.append(source.name or str(source.path))
            names.append(f"{source}/{path.name}")
        print(f"{source}: {len(split.train)} training faces", file=sys.stderr)
    offsets = np.cumsum([0] + [len(p) for p in png])
    buffer = io.BytesIO()
    np.savez(buffer, png=np.concatenate(png), offsets=offsets, weight=np.float32(weight),
             names=np.array(names), sources=np.array(labels), hr_size=hr_size)
    write_bytes_atomic(output, buffer.getvalue())
    print(f"{output}: {len(png)} faces, {offsets[-1] / 2**20:.1f} MiB", file=sys.stderr)


def load_faces(path: Path, sources: list[str] | None = None):
    """(N, S, S, 3) uint8 RGB faces and their sampling weights from ``export_faces``' file
    (only those of ``sources``, if given: a registry name as `data list` prints it, or the
    folder as given to ``--data``)."""
    import cv2

    with np.load(path) as f:
        png, offsets, weight, labels = f["png"], f["offsets"], f["weight"], f["sources"]
    keep = [i for i, label in enumerate(labels) if not sources or str(label) in sources]
    if not keep:
        raise SystemExit(f"{path}: no faces of {', '.join(sources or [])}")
    faces = [cv2.imdecode(png[offsets[i]:offsets[i + 1]], cv2.IMREAD_COLOR)[..., ::-1] for i in keep]
    return np.stack(faces), weight[keep]


def train(args: argparse.Namespace) -> dict:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    import torch
    import torch.nn.functional as F

    from keras_facesr.models.archs.discriminator import build_discriminator
    from keras_facesr.models.archs.generator import build_generator, load_generator, save_generator
    from keras_facesr.models.losses import discriminator_loss, generator_adversarial_loss
    from keras_facesr.recognition.encoders import identity_loss, load_keras_encoder

    if keras.backend.backend() != "torch":
        raise SystemExit(f"KERAS_BACKEND is {keras.backend.backend()!r}: this loop needs 'torch'")
    keras.utils.set_random_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
    faces, weight = load_faces(args.faces, args.source)
    hr_all = torch.from_numpy(faces).to(device)  # uint8, on the device once
    probs = torch.from_numpy(weight / weight.sum()).to(device)
    s = args.scale
    generator = load_generator(args.init) if args.init else build_generator("edge", s)
    g_opt = torch.optim.Adam([p for p in generator.parameters() if p.requires_grad],
                             lr=args.g_lr, eps=1e-7)
    encoder = None
    if args.identity > 0:
        encoder = load_keras_encoder(args.encoder)
        for p in encoder.model.parameters():
            p.requires_grad_(False)
    disc = None
    if args.adversarial > 0:
        disc = build_discriminator(faces.shape[1], 32, "spectral", kind="patch")
        d_opt = torch.optim.Adam([p for p in disc.parameters() if p.requires_grad],
                                 lr=args.d_lr, eps=1e-7)
    gen = torch.Generator(device=device).manual_seed(args.seed)
    log = open(args.log, "a") if args.log else sys.stdout
    print(f"{device} {torch.cuda.get_device_name() if device == 'cuda' else ''}: {len(faces)} faces; "
          f"generator {generator.count_params()} params; lambda_1 {args.identity} "
          f"({args.encoder if encoder else 'none'}); lambda_0 {args.adversarial}", file=log, flush=True)

    def batch():
        idx = torch.multinomial(probs, args.batch_size, replacement=True, generator=gen)
        hr = hr_all[idx].float() / 255.0  # NHWC
        flip = torch.rand(args.batch_size, device=device, generator=gen) < 0.5
        hr = torch.where(flip[:, None, None, None], hr.flip(2), hr)
        x = hr.permute(0, 3, 1, 2)
        side = x.shape[-1] // s
        area = F.avg_pool2d(x, s)
        bilinear = F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False)
        pick = torch.rand(args.batch_size, device=device, generator=gen) < 0.5
        lr = torch.where(pick[:, None, None, None], area, bilinear).clamp(0, 1)
        return lr.permute(0, 2, 3, 1).contiguous(), hr

    def judge(hr, sr):
        # One critic call on both halves: in training mode SpectralNormalization writes the
        # normalised kernel into its variable in place, which a second call would do again
        # after the first one's autograd graph had saved it.
        logits = disc(torch.cat([hr, sr]), training=True)
        return logits[: len(hr)], logits[len(hr):]

    start, step, last_save, summed, counted = time.time(), 0, time.time(), {}, 0
    while step < args.steps:
        lr, hr = batch()
        logs = {}
        sr = generator(lr, training=True)
        if disc is not None:
            real, fake = judge(hr, sr.detach())
            loss_d = discriminator_loss("ragan", real, fake)
            d_opt.zero_grad(set_to_none=True)
            loss_d.backward()
            d_opt.step()
            logs["loss_d"] = loss_d
        loss_pixel = torch.mean(torch.abs(hr - sr))
        total, logs["loss_pixel"] = loss_pixel, loss_pixel
        if encoder is not None:
            logs["loss_id"] = identity_loss(encoder, hr, sr)
            total = total + args.identity * logs["loss_id"]
        if disc is not None:
            logs["loss_adv"] = generator_adversarial_loss("ragan", *judge(hr, sr))
            total = total + args.adversarial * logs["loss_adv"]
        g_opt.zero_grad(set_to_none=True)
        total.backward()
        g_opt.step()
        step += 1
        counted += 1
        for k, v in logs.items():
            summed[k] = summed.get(k, 0.0) + float(v.detach())
        if step % args.every == 0 or step == args.steps:
            wall = time.time() - start
            print(f"step {step} {wall:.0f}s " + " ".join(f"{k} {v / counted:.4f}" for k, v in summed.items()),
                  file=log, flush=True)
            summed, counted = {}, 0
            if time.time() - last_save > 60:
                save_generator(generator, args.output)
                last_save = time.time()
            if args.max_seconds and wall > args.max_seconds:
                break
    save_generator(generator, args.output)
    wall = time.time() - start
    summary = {"step": step, "wall_seconds": round(wall, 1), "seconds_per_step": round(wall / step, 4),
               "device": device, "batch_size": args.batch_size, "identity": args.identity,
               "adversarial": args.adversarial, "init": str(args.init or "")}
    print(json.dumps(summary), file=log, flush=True)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("faces", help="export the training faces (needs TensorFlow and the package)")
    f.add_argument("--data", action="append", required=True, help="as `fit --data` (SOURCE[:WEIGHT])")
    f.add_argument("--output", type=Path, required=True)
    f.add_argument("--hr-size", type=int, default=128)
    f.add_argument("--val-fraction", type=float, default=0.1, help="as data.val_fraction")
    t = sub.add_parser("train", help="train on Keras' torch backend")
    t.add_argument("--faces", type=Path, required=True)
    t.add_argument("--source", action="append", help="train on this source's faces only (repeatable)")
    t.add_argument("--output", type=Path, required=True, help="the generator (.keras)")
    t.add_argument("--scale", type=int, default=8, choices=(2, 4, 8))
    t.add_argument("--init", type=Path, help="start from this generator (.keras)")
    t.add_argument("--steps", type=int, default=1_000_000)
    t.add_argument("--max-seconds", type=float, default=0.0)
    t.add_argument("--every", type=int, default=250, help="log (and check the time) every N steps")
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--g-lr", type=float, default=5e-4)
    t.add_argument("--d-lr", type=float, default=1e-4)
    t.add_argument("--identity", type=float, default=0.0, help="lambda_1")
    t.add_argument("--encoder", type=Path, help="identity encoder .keras (with its .json sidecar)")
    t.add_argument("--adversarial", type=float, default=0.0, help="lambda_0 (patch critic, ragan)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--log", type=Path)
    args = parser.parse_args()
    if args.command == "faces":
        export_faces(args.data, args.output, args.hr_size, args.val_fraction)
    else:
        if args.identity > 0 and not args.encoder:
            parser.error("--identity > 0 needs --encoder")
        for path in (args.faces, args.init, args.encoder):
            if path is not None and not path.is_file():
                parser.error(f"{path}: file not found")
        train(args)


if __name__ == "__main__":
    main()
