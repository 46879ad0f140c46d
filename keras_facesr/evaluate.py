"""``keras-facesr evaluate``: does super-resolution make faces more recognisable? Measured.

Each HR face is degraded (the training degradation), reconstructed by bicubic and by each
generator, and every method is scored against the HR face: PSNR, SSIM, and the identity cosine
under a *judge* encoder that was not in the generators' training loss. With identity pairs
(LFW ``pairs.txt``, CelebA ``identity_CelebA.txt``) it also reports face verification: the
score of a pair (a, b) is cos(E(HR a), E(method b)), a high-res gallery against a reconstructed
probe; ROC AUC and TAR at FAR = 1e-2. The ``hr`` row (probe = the HR face) is the ceiling.

Layouts: a folder of face images; LFW (``NAME/NAME_0001.jpg`` + ``pairs.txt``); CelebA
(``img_align_celeba/`` + ``identity_CelebA.txt``).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from keras_facesr.errors import FaceSRError
from keras_facesr.images import (
    IMAGE_EXTENSIONS,
    ImageReadError,
    centre_square,
    list_images,
    read_image,
    upscale_bicubic,
)
from keras_facesr.pipeline.fidelity import refine

FAR = 1e-2
# Distances at which the judge calls two faces different people (its authors' thresholds).
SAME_PERSON = {
    "dlib-resnet": ("distance", 0.6),  # Euclidean on the raw 128-d descriptor
    "sface": ("cosine", 0.363),  # OpenCV's SFace cosine threshold
}


class EvaluateError(FaceSRError, ValueError):
    """The data cannot be evaluated (the message names the file and the problem)."""


@dataclass
class FaceSet:
    files: list[Path]
    identities: list[str | None]
    pairs: list[tuple[int, int, bool]] = field(default_factory=list)  # (i, j, genuine)
    layout: str = "folder"


def _lfw_file(root: Path, name: str, number: int) -> Path | None:
    for ext in IMAGE_EXTENSIONS:
        p = root / name / f"{name}_{number:04d}{ext}"
        if p.is_file():
            return p
    return None


def read_lfw(root: Path, pairs_file: Path) -> FaceSet:
    """LFW: ``NAME/NAME_0001.jpg`` and ``pairs.txt`` (3 fields: same person, 4: different)."""
    files: dict[Path, int] = {}
    ids: list[str] = []
    pairs = []
    lines = pairs_file.read_text().split("\n")
    for lineno, line in enumerate(lines[1:], 2):
        parts = line.split()
        if not parts:
            continue
        try:
            if len(parts) == 3:
                a, b = (parts[0], int(parts[1])), (parts[0], int(parts[2]))
            elif len(parts) == 4:
                a, b = (parts[0], int(parts[1])), (parts[2], int(parts[3]))
            else:
                raise ValueError
        except ValueError:
            raise EvaluateError(f"{pairs_file}:{lineno}: expected 'name i j' or 'name1 i name2 j'") from None
        index = []
        for name, number in (a, b):
            path = _lfw_file(root, name, number)
            if path is None:
                raise EvaluateError(f"{pairs_file}:{lineno}: no image {name}/{name}_{number:04d}.*")
            if path not in files:
                files[path] = len(files)
                ids.append(name)
            index.append(files[path])
        pairs.append((index[0], index[1], len(parts) == 3))
    if not pairs:
        raise EvaluateError(f"{pairs_file}: no pairs")
    return FaceSet(list(files), ids, pairs, "lfw")


def read_celeba(root: Path, max_pairs: int = 3000, seed: int = 0) -> FaceSet:
    """CelebA: ``img_align_celeba/`` + ``identity_CelebA.txt`` (``000001.jpg 2880``); genuine
    pairs within identities and as many impostor pairs, sampled with ``seed``."""
    table = root / "identity_CelebA.txt"
    images = root / "img_align_celeba"
    by_id: dict[str, list[Path]] = {}
    for lineno, line in enumerate(table.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise EvaluateError(f"{table}:{lineno}: expected 'FILE IDENTITY'")
        path = images / parts[0]
        if path.is_file():
            by_id.setdefault(parts[1], []).append(path)
    files = [p for ps in by_id.values() for p in ps]
    ids = [i for i, ps in by_id.items() for _ in ps]
    index = {p: k for k, p in enumerate(files)}
    rng = random.Random(seed)
    genuine = [(index[a], index[b], True) for ps in by_id.values() for a, b in itertools.combinations(ps, 2)]
    rng.shuffle(genuine)
    genuine = genuine[: max_pairs // 2]
    impostor, tries = set(), 0
    while len(impostor) < len(genuine) and tries < 50 * max(1, len(genuine)):
        tries += 1
        i, j = rng.randrange(len(files)), rng.randrange(len(files))
        if ids[i] != ids[j]:
            impostor.add((min(i, j), max(i, j), False))
    if not genuine:
        raise EvaluateError(f"{table}: no identity has two images present in {images}")
    return FaceSet(files, ids, genuine + sorted(impostor), "celeba")


def read_faces(data: Path | list[Path], pairs: Path | None = None) -> FaceSet:
    """The evaluation set in ``data``, its layout recognised from its files (several folders:
    one set of their faces, e.g. the ``heldout`` sources)."""
    if isinstance(data, list | tuple):
        if len(data) == 1:
            return read_faces(data[0], pairs)
        files = []
        for folder in data:
            try:
                files += list_images(folder)
            except FileNotFoundError as e:
                raise EvaluateError(str(e)) from None
        return FaceSet(files, [None] * len(files))
    data = Path(data)
    if not data.exists():
        raise EvaluateError(f"{data}: no such file or folder")
    if pairs is not None or (data / "pairs.txt").is_file():
        return read_lfw(data, pairs or data / "pairs.txt")
    if (data / "identity_CelebA.txt").is_file():
        return read_celeba(data)
    try:
        files = list_images(data)
    except FileNotFoundError as e:
        raise EvaluateError(str(e)) from None
    return FaceSet(files, [None] * len(files))


def roc(genuine: np.ndarray, impostor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FAR, TAR) over every threshold, from the highest score down."""
    scores = np.concatenate([genuine, impostor])
    labels = np.concatenate([np.ones(len(genuine)), np.zeros(len(impostor))])
    order = np.argsort(-scores, kind="stable")
    labels = labels[order]
    tar = np.concatenate([[0.0], np.cumsum(labels) / max(1, len(genuine))])
    far = np.concatenate([[0.0], np.cumsum(1 - labels) / max(1, len(impostor))])
    return far, tar


def roc_auc(genuine: np.ndarray, impostor: np.ndarray) -> float:
    """P(genuine score > impostor score), ties counting half (Mann-Whitney)."""
    g, i = genuine[:, None], impostor[None, :]
    return float((g > i).mean() + 0.5 * (g == i).mean())


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float = FAR) -> float:
    """Share of genuine pairs accepted at the threshold that accepts ``far`` of impostors."""
    threshold = np.quantile(impostor, 1 - far, method="higher")
    return float((genuine > threshold).mean())


def prepare_faces(files: list[Path], hr_size: int, aligned: bool, echo: Callable[[str], None]):
    """Canonically aligned HR faces (N, hr, hr, 3) float32, and the indices that worked."""
    from keras_facesr.face.align import align_face, dataset_interpolation

    detector = None
    faces, ok = [], []
    for k, path in enumerate(files):
        try:
            rgb = read_image(path)
        except ImageReadError as e:
            echo(f"warning: skipped {e}")
            continue
        if aligned:  # as `fit` takes its held-out faces (data.pipeline.heldout_dataset)
            crop = centre_square(rgb, hr_size)
        else:
            if detector is None:
                from keras_facesr.face.detect import FaceDetector

                detector = FaceDetector(min_confidence=0.9, min_face=12)
            found = detector.detect(rgb)
            if not found:
                echo(f"warning: skipped {path}: no face found")
                continue
            centre = np.array(rgb.shape[1::-1]) / 2
            face = min(found[:3], key=lambda f: np.linalg.norm(f.landmarks.mean(0) - centre))
            crop, _ = align_face(rgb, face.landmarks, hr_size, interpolation=dataset_interpolation)
        faces.append(crop)
        ok.append(k)
    if not faces:
        raise EvaluateError("no usable face in the evaluation data")
    return np.stack(faces).astype(np.float32) / 255.0, ok


def evaluate(
    data: Path,
    models: list[Path] = (),
    scale: int | None = None,
    hr_size: int | None = None,
    resize: str | None = None,
    judge: str | None = "auto",
    pairs: Path | None = None,
    aligned: bool = False,
    limit: int | None = None,
    split: str = "all",
    val_fraction: float = 0.1,
    batch_size: int = 16,
    echo: Callable[[str], None] = print,
    fidelity: tuple[float, ...] = (),
    back_project: int = 0,
    jitter: float = 0.0,
    mirror: bool = False,
) -> dict:
    """Evaluate bicubic and each generator on ``data``; returns the JSON-able result.

    Each generator is refined as ``enhance`` refines it: its default fidelity (or each of
    ``fidelity``, one row each) and ``back_project`` steps; ``mirror``: each SR face averaged
    with the SR of its mirror image, as ``enhance`` does in photos. ``jitter`` misframes every face by a
    seeded similarity warp (shift/scale up to this fraction of the side, rotation up to twice
    it in radians), as crops from other tools or MTCNN on tiny faces are framed."""

    from keras_facesr.data.degrade import Degradation
    from keras_facesr.data.pipeline import heldout_lr
    from keras_facesr.models.gan import psnr, ssim
    from keras_facesr.pipeline.sr import KerasSR, super_resolve
    from keras_facesr.recognition import encoders

    sr_models = [KerasSR(m) for m in models]
    infos = [m.info for m in sr_models]
    scales = {i.scale for i in infos}
    sizes = {i.hr_size for i in infos}
    if len(scales) > 1 or len(sizes) > 1:
        raise EvaluateError("the models differ in scale or face size; evaluate them separately")
    scale = scale or (infos[0].scale if infos else 4)
    hr_size = hr_size or (infos[0].hr_size if infos else 128)
    if infos and (scale, hr_size) != (infos[0].scale, infos[0].hr_size):
        raise EvaluateError(f"--scale {scale} / --hr-size {hr_size} differ from the model's "
                            f"x{infos[0].scale} at {infos[0].hr_size} px")

    faceset = read_faces(data, pairs)
    faceset = select_split(faceset, data, split, val_fraction)
    if limit:
        faceset = _subset(faceset, list(range(min(limit, len(faceset.files)))))
    hr, ok = prepare_faces(faceset.files, hr_size, aligned, echo)
    faceset = _subset(faceset, ok)
    if jitter:
        hr = misframe(hr, jitter)

    trained_with = {n for i in infos if i.identity_encoder for n in i.identity_encoder.split("+")}
    judge_name = _choose_judge(judge, trained_with)
    encoder = encoders.get_encoder(judge_name) if judge_name else None

    # the model's training degradation unless one is named: then `--split val` gives the
    # held-out figures `fit` printed (the same faces, LR, bicubic and PSNR: data.pipeline)
    trained_on = infos[0].degradation if infos and resize is None else None
    degradation = (Degradation.from_dict(trained_on, scale) if trained_on
                   else Degradation(scale, resize=[resize or "bilinear"]))
    lr = heldout_lr(hr, faceset.files, degradation)
    # the same bicubic enlargement as the pipeline's frames and its fidelity blend (OpenCV), so
    # a model at fidelity 0 is exactly this row
    outputs = {"hr": hr, "bicubic": upscale_bicubic(lr, (hr_size, hr_size))}
    names = [i.name for i in infos]
    for model, path in zip(sr_models, models, strict=True):
        raw = super_resolve(model, lr, mirror)
        # two models of one name (a copied sidecar) get their file beside it, not one row
        label = model.info.name if names.count(model.info.name) == 1 else f"{model.info.name} ({path})"
        for w in fidelity or (model.info.fidelity,):
            name = label + (f" w={w:g}" if w != 1 else "") + (
                f" bp{back_project}" if back_project else "") + (" mirror" if mirror else "")
            outputs[name] = refine(lr, raw, w, back_project)

    result = {
        "data": str(data), "layout": faceset.layout, "faces": len(hr), "scale": scale,
        "hr_size": hr_size, "lr_size": hr_size // scale, "degradation": degradation.describe(),
        "jitter": jitter, "mirror": mirror,
        "judge": judge_name, "judge_note": _judge_note(judge, judge_name, trained_with),
        "pairs": {"genuine": sum(p[2] for p in faceset.pairs),
                  "impostor": sum(not p[2] for p in faceset.pairs)},
        "methods": {}, "roc": {},
    }
    hr_raw = _embed(encoder, hr, batch_size) if encoder else None
    for method, out in outputs.items():
        row: dict = {}
        if method != "hr":
            row["psnr"] = float(np.mean(psnr(hr, out)))
            row["ssim"] = float(np.mean(ssim(hr, out)))
        if encoder is not None:
            raw = hr_raw if method == "hr" else _embed(encoder, out, batch_size)
            unit = raw / np.linalg.norm(raw, axis=1, keepdims=True)
            hr_unit = hr_raw / np.linalg.norm(hr_raw, axis=1, keepdims=True)
            if method != "hr":
                row["id_cosine"] = float(np.mean(np.sum(unit * hr_unit, axis=1)))
                if judge_name in SAME_PERSON:
                    kind, threshold = SAME_PERSON[judge_name]
                    if kind == "distance":
                        same = np.linalg.norm(raw - hr_raw, axis=1) < threshold
                    else:
                        same = np.sum(unit * hr_unit, axis=1) > threshold
                    row["different_person_rate"] = float(1.0 - same.mean())
            if faceset.pairs:
                scores = np.array([float(hr_unit[i] @ unit[j]) for i, j, _ in faceset.pairs])
                genuine_mask = np.array([g for _, _, g in faceset.pairs])
                g, imp = scores[genuine_mask], scores[~genuine_mask]
                if len(g) and len(imp):
                    row["roc_auc"] = roc_auc(g, imp)
                    row["tar_at_far"] = tar_at_far(g, imp)
                    far, tar = roc(g, imp)
                    result["roc"][method] = {"far": far.tolist(), "tar": tar.tolist()}
        result["methods"][method] = row
    result["far"] = FAR
    return result


def misframe(faces: np.ndarray, jitter: float, seed: int = 11) -> np.ndarray:
    """Every face warped by its own seeded random similarity (``keras_facesr.data.augment``)."""
    import tensorflow as tf

    from keras_facesr.data.augment import Augmentation

    aug = Augmentation(jitter=jitter)
    return np.stack([aug(tf.constant(f), tf.constant([seed, k], tf.int64)).numpy()
                     for k, f in enumerate(faces)])


def select_split(faceset: FaceSet, data: Path | list[Path], split: str = "all",
                 val_fraction: float = 0.1) -> FaceSet:
    """The faces of ``split`` ("all", "val", "train"), each root of ``data`` split as `fit` splits it."""
    from keras_facesr.data.pipeline import split_files

    if split == "all":
        return faceset
    keep = set()
    for root in (data if isinstance(data, list | tuple) else [data]):
        root = Path(root)
        chosen = split_files([f for f in faceset.files if f.is_relative_to(root)], root, val_fraction)
        keep |= set(chosen.val if split == "val" else chosen.train)
    return _subset(faceset, [k for k, f in enumerate(faceset.files) if f in keep])


def _subset(faceset: FaceSet, keep: list[int]) -> FaceSet:
    new_index = {old: new for new, old in enumerate(keep)}
    pairs = [(new_index[i], new_index[j], g) for i, j, g in faceset.pairs
             if i in new_index and j in new_index]
    return FaceSet([faceset.files[k] for k in keep], [faceset.identities[k] for k in keep], pairs,
                   faceset.layout)


def _choose_judge(judge: str | None, trained_with: set[str]) -> str | None:
    from keras_facesr.recognition import JUDGE_PREFERENCE, encoders

    if judge in (None, "none"):
        return None
    if judge != "auto":
        return judge
    available = encoders.available_encoders()
    for name in JUDGE_PREFERENCE:
        if name in available and name not in trained_with:
            return name
    raise EvaluateError("no judge encoder is available that the models were not trained with: "
                        "run `keras-facesr models fetch dlib-resnet` (or pass --judge none)")


def _judge_note(requested: str | None, chosen: str | None, trained_with: set[str]) -> str:
    if chosen is None:
        return "no judge: identity metrics skipped"
    used = ", ".join(sorted(trained_with)) or "no identity encoder"
    how = "chosen automatically" if requested == "auto" else "chosen with --judge"
    warn = " (WARNING: the models were trained with this judge)" if chosen in trained_with else ""
    return f"judge {chosen} {how}; models trained with {used}{warn}"


def _embed(encoder, faces: np.ndarray, batch_size: int) -> np.ndarray:
    """Raw (not normalised) embeddings, so distance-based thresholds apply."""
    from keras import ops

    out = []
    for i in range(0, len(faces), batch_size):
        e = encoder.model(encoder.prepare(faces[i : i + batch_size]), training=False)
        out.append(np.asarray(ops.reshape(e, (ops.shape(e)[0], -1)), np.float32))
    return np.concatenate(out)


METRICS = ("psnr", "ssim", "id_cosine", "different_person_rate", "roc_auc", "tar_at_far")


def table(result: dict) -> str:
    """The result as an aligned text table."""
    cols = [m for m in METRICS if any(m in row for row in result["methods"].values())]
    head = ["method", *cols]
    rows = [[name] + [_fmt(row.get(c), c) for c in cols] for name, row in result["methods"].items()]
    widths = [max(len(str(r[k])) for r in [head, *rows]) for k in range(len(head))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)) for r in [head, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value, metric: str) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if metric == "psnr" else f"{value:.4f}"


def plot_roc(result: dict, path: Path, size: int = 520) -> None:
    """Draw the ROC curves (TAR against FAR) as a PNG with OpenCV."""
    from keras_facesr.images import write_image

    img = np.full((size, size, 3), 255, np.uint8)
    m0, m1 = 60, 20  # margins: left/bottom, top/right
    span = size - m0 - m1

    def xy(far: float, tar: float) -> tuple[int, int]:
        return int(m0 + far * span), int(size - m0 - tar * span)

    cv2.rectangle(img, xy(0, 0), xy(1, 1), (0, 0, 0), 1)
    for t in np.linspace(0, 1, 6):
        cv2.putText(img, f"{t:.1f}", (xy(t, 0)[0] - 12, size - m0 + 18), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(img, f"{t:.1f}", (m0 - 32, xy(0, t)[1] + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "false accept rate", (size // 2 - 60, size - 15), cv2.FONT_HERSHEY_SIMPLEX,
                0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "TAR", (8, size // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    colours = [(40, 40, 40), (200, 60, 40), (40, 120, 220), (40, 170, 80), (160, 60, 200)]
    for k, (method, curve) in enumerate(result["roc"].items()):
        colour = colours[k % len(colours)]
        pts = np.array([xy(f, t) for f, t in zip(curve["far"], curve["tar"], strict=True)], np.int32)
        cv2.polylines(img, [pts], False, colour, 2, cv2.LINE_AA)
        auc = result["methods"][method].get("roc_auc", float("nan"))
        cv2.putText(img, f"{method} (AUC {auc:.3f})", (m0 + 150, size - m0 - 20 - 18 * k),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
    cv2.putText(img, f"judge: {result['judge']}", (m0 + 5, m1 + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                (0, 0, 0), 1, cv2.LINE_AA)
    write_image(path, img)
