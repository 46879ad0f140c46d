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
   (torch + keras + opencv): pixel L1 + lambda_1 * identity (+ lambda_0 * adversarial). The
   pairs are made on the GPU as ``fit`` makes them with ``degrade.resize = ["area",
   "bilinear"]`` and no antialias, the shrinking of every shipped model: a random left-right
   flip, then (as ``--jitter``, ``--gamma``, ``--contrast``, ``--grey`` ask)
   ``data.augment``'s framing jitter and photometric changes on the HR face, then the shrink,
   straight to the LR size or (``--native-size LOW HIGH``, x4's recipe from stage 3 on) to a
   face recorded at LOW..HIGH px and resampled to the LR size as alignment does (bicubic up,
   area down). The same distributions as ``data.augment`` and ``data.degrade``, not the same
   numbers: torch's bicubic is OpenCV's (a = -0.75, as ``face.align`` resamples) where
   ``tf.image.resize`` uses a = -0.5. Blur, noise and JPEG are not implemented.

Runs stop at ``--steps`` or after ``--max-seconds`` (at a multiple of ``--every`` steps). The
generator is written atomically at the end and, at most once a minute, every ``--every`` steps,
with its ``.keras.json`` sidecar as ``fit`` writes one (name, scale, LR size, the identity
encoder, the degradation), so ``evaluate`` and the benchmarks shrink held-out faces as it was
trained; the last line of the log is a JSON summary (steps, wall seconds, seconds per step, and
the recipe: every training argument).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import TextIO

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
        png, offsets, weight = f["png"], f["offsets"], f["weight"]
        labels = f["sources"] if "sources" in f.files else None
    if labels is None:
        if sources:
            raise SystemExit(f"{path}: no 'sources' field (an older faces file): run "
                             "`train_torch.py faces` again to use --source")
        labels = np.full(len(weight), "")
    keep = [i for i, label in enumerate(labels) if not sources or str(label) in sources]
    if not keep:
        raise SystemExit(f"{path}: no faces of {', '.join(sources or [])}")
    faces = [cv2.imdecode(png[offsets[i]:offsets[i + 1]], cv2.IMREAD_COLOR)[..., ::-1] for i in keep]
    return np.stack(faces), weight[keep]


def similarity_warp(x, shift, zoom, angle):
    """``data.augment.similarity_warp`` on an NCHW batch, one warp per face: output(p) =
    input(c + R(angle) (p - c) / zoom - shift * side), borders reflected; ``shift`` is (N, 2)."""
    import torch
    import torch.nn.functional as F

    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    # in affine_grid's coordinates (-1..1 across the image) a shift of one side is 2
    theta = torch.stack([torch.stack([cos, -sin, -2 * shift[:, 0]], 1),
                         torch.stack([sin, cos, -2 * shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


@functools.lru_cache(maxsize=256)
def _area_weights(n_in: int, size: int, dtype, device):
    """The (size, n_in) matrix of area resizing along one axis: each output pixel's share of
    each input pixel it overlaps (made once per sizes, dtype and device)."""
    import torch

    edges = torch.arange(size + 1, dtype=torch.float64) * (n_in / size)
    lo, hi = edges[:-1, None], edges[1:, None]
    j = torch.arange(n_in, dtype=torch.float64)[None]
    overlap = (torch.minimum(hi, j + 1) - torch.maximum(lo, j)).clamp_min(0)
    return (overlap / (n_in / size)).to(dtype).to(device)


def area_resize(x, size: int):
    """Area (box) resizing of an NCHW batch to ``size`` px with fractional pixel overlaps, as
    ``tf.image.resize(method="area")`` and OpenCV's INTER_AREA do (torch's ``mode="area"`` uses
    whole-pixel bins, which differ from them at ratios that are not whole numbers)."""
    import torch

    return torch.einsum("ih,nchw,jw->ncij", _area_weights(x.shape[-2], size, x.dtype, x.device), x,
                        _area_weights(x.shape[-1], size, x.dtype, x.device))


def make_pairs(hr, scale: int, gen, native_size: tuple[int, int] | None = None, jitter: float = 0.0,
               gamma: float = 0.0, contrast: float = 0.0, grey: float = 0.0):
    """(LR, HR) float NHWC batches from (N, S, S, 3) HR faces in [0, 1], drawn from ``gen``:
    flip, the HR augmentations of ``data.augment.Augmentation`` (same order and ranges), then
    area or aliased-bilinear shrinking, through ``native_size`` if given (``data.degrade``)."""
    import torch
    import torch.nn.functional as F

    n, device = hr.shape[0], hr.device

    def uniform(low: float, high: float, *shape: int):
        return low + (high - low) * torch.rand(n, *shape, device=device, generator=gen)

    flip = torch.rand(n, device=device, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], hr.flip(2), hr).permute(0, 3, 1, 2)  # NCHW
    if jitter:
        x = similarity_warp(x, uniform(-jitter, jitter, 2), torch.exp(uniform(-jitter, jitter)),
                            uniform(-2 * jitter, 2 * jitter)).clamp(0, 1)
    if gamma:
        x = x.clamp_min(1e-6) ** (2.0 ** uniform(-gamma, gamma))[:, None, None, None]
    if contrast:
        c = 1.0 + uniform(-contrast, contrast)[:, None, None, None]
        mean = x.mean(dim=(2, 3), keepdim=True)
        x = ((x - mean) * c + mean).clamp(0, 1)
    if grey:
        luma = (x * torch.tensor([0.2989, 0.5870, 0.1140], device=device)[None, :, None, None]).sum(
            1, keepdim=True).expand_as(x)
        x = torch.where((torch.rand(n, device=device, generator=gen) < grey)[:, None, None, None], luma, x)
    side = x.shape[-1] // scale

    def shrink(faces, size: int):
        area = area_resize(faces, size)
        bilinear = F.interpolate(faces, size=(size, size), mode="bilinear", align_corners=False)
        pick = torch.rand(len(faces), device=device, generator=gen) < 0.5
        return torch.where(pick[:, None, None, None], area, bilinear)

    if native_size:
        low, high = native_size
        native = torch.randint(low, high + 1, (n,), device=device, generator=gen)
        lr = torch.empty(n, 3, side, side, device=device)
        for size in native.unique().tolist():
            idx = (native == size).nonzero()[:, 0]
            recorded = shrink(x[idx], size)
            lr[idx] = (F.interpolate(recorded, size=(side, side), mode="bicubic", align_corners=False)
                       if size < side else area_resize(recorded, side))
    else:
        lr = shrink(x, side)
    return lr.clamp(0, 1).permute(0, 2, 3, 1).contiguous(), x.permute(0, 2, 3, 1).contiguous()


def model_info(args: argparse.Namespace, lr_size: int, encoder_name: str | None):
    """The sidecar ``fit`` would write for this run: the generator's name (``--name``, else its
    run folder's name for a ``generator.keras``, else the file's stem), scale and LR size, the
    identity encoder when lambda_1 > 0, and the shrinking ``make_pairs`` does, in
    ``data.degrade.Degradation.to_config``'s keys."""
    from keras_facesr.models.info import ModelInfo

    output = args.output.resolve()
    name = args.name or (output.parent.name if output.stem == "generator" else output.stem)
    degradation = {"resize": ["area", "bilinear"], "antialias": False, "blur": ["none"],
                   "blur_radius": 2.0, "noise": 0.0, "jpeg_quality": [],
                   "native_size": list(args.native_size or [])}
    return ModelInfo(name=name, scale=args.scale, lr_size=lr_size,
                     identity_encoder=encoder_name if args.identity > 0 else None,
                     degradation=degradation)


def recipe(args: argparse.Namespace) -> dict:
    """Every training argument, JSON-able: the summary's record of how the generator was made."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in sorted(vars(args).items())
            if k not in ("command", "log")}


def save(generator, args: argparse.Namespace, info) -> None:
    """The generator, then its sidecar, each written atomically."""
    from keras_facesr.models.archs.generator import save_generator
    from keras_facesr.models.info import write_model_info

    save_generator(generator, args.output)
    write_model_info(args.output, info)


def train(args: argparse.Namespace, log: TextIO = sys.stdout) -> dict:
    """Train as ``args`` say, writing progress lines and the JSON summary to ``log``."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    import torch

    from keras_facesr.models.archs.discriminator import build_discriminator
    from keras_facesr.models.archs.generator import build_generator, load_generator
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
    info = model_info(args, faces.shape[1] // s, encoder.name if encoder is not None else None)
    gen = torch.Generator(device=device).manual_seed(args.seed)
    print(f"{device} {torch.cuda.get_device_name() if device == 'cuda' else ''}: {len(faces)} faces; "
          f"generator {generator.count_params()} params; lambda_1 {args.identity} "
          f"({args.encoder if encoder else 'none'}); lambda_0 {args.adversarial}", file=log, flush=True)

    def batch():
        idx = torch.multinomial(probs, args.batch_size, replacement=True, generator=gen)
        return make_pairs(hr_all[idx].float() / 255.0, s, gen, args.native_size, args.jitter,
                          args.gamma, args.contrast, args.grey)

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
                save(generator, args, info)
                last_save = time.time()
            if args.max_seconds and wall > args.max_seconds:
                break
    save(generator, args, info)
    wall = time.time() - start
    summary = {"step": step, "wall_seconds": round(wall, 1), "seconds_per_step": round(wall / step, 4),
               "device": device, "recipe": recipe(args)}
    print(json.dumps(summary), file=log, flush=True)
    return summary


def build_parser() -> argparse.ArgumentParser:
    """The command line: ``faces`` (export the training faces) and ``train``."""
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
    t.add_argument("--name", help="its name in the sidecar (default: the run folder's, for a "
                   "generator.keras, else the file's stem)")
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
    t.add_argument("--native-size", type=int, nargs=2, metavar=("LOW", "HIGH"),
                   help="record each face at LOW..HIGH px, then resample to the LR size "
                   "(degrade.native_size)")
    for name, what in (("jitter", "framing jitter"), ("gamma", "gamma range (log2)"),
                       ("contrast", "contrast range"), ("grey", "probability of a grey face")):
        t.add_argument(f"--{name}", type=float, default=0.0, help=f"{what}, as degrade.{name}")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--log", type=Path)
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    if args.command == "faces":
        export_faces(args.data, args.output, args.hr_size, args.val_fraction)
    else:
        if args.identity > 0 and not args.encoder:
            parser.error("--identity > 0 needs --encoder")
        for name in ("jitter", "gamma", "contrast", "grey"):
            if not 0 <= getattr(args, name) <= 1:
                parser.error(f"--{name} {getattr(args, name)}: must be in [0, 1]")
        if args.native_size and not 0 < args.native_size[0] <= args.native_size[1]:
            parser.error(f"--native-size {args.native_size[0]} {args.native_size[1]}: need 0 < LOW <= HIGH")
        for path in (args.faces, args.init, args.encoder):
            if path is not None and not path.is_file():
                parser.error(f"{path}: file not found")
        with args.log.open("a") if args.log else contextlib.nullcontext(sys.stdout) as log:
            train(args, log)


if __name__ == "__main__":
    main()
