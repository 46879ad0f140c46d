"""Which model helps a face of a given size? PSNR and identity against the 128 px original.

    python benchmarks/face_size_sweep.py [--data nba:val ids heldout] [--model G.keras ...]
        [--sizes 16 20 ...] [--judge dlib-resnet] [--fidelity 0.75 0.5 ...]
        [--per-face [--draws 8 --shift 0.35] [--worst N]] [--reference-scale 2] [--grey]
        [--own-size LOW HIGH | --own-size off] [--mirror] [--bands LOW HIGH ...]

Each held-out face (``nba:val``: the NBA split ``fit`` never trains on; ``ids``, ``heldout``:
other people from other sources) is shrunk with area averaging to a native size, as a camera
would record a face that small, then enlarged to 128 px by bicubic interpolation and by each
model, fed the way ``enhance`` feeds it: the face resized to the model's input side (area
averaging down, bicubic up), or as it is where the model's ``own_size`` band says so (its
``.keras.json``; ``--own-size`` tries another band, ``off`` none), refined with the model's
default fidelity. Per size and set: PSNR (dB) and the judge's identity cosine to the own 128 px
face. A model ``wins`` a size when its cosine is at least bicubic's and its PSNR above
bicubic's on every set: one range of sizes it wins (where two models win, the one with the
higher cosine on most sets) is each bundled model's ``face_sizes`` (its ``.keras.json``),
``grey_face_sizes`` from a ``--grey`` run, and the band where feeding faces at their own size
wins over resizing them is its ``own_size``. The last lines print each column's range by that
rule, and any size where two ranges meet and the pipeline's pick (the model whose input is
nearest) is not the one the judge rates higher on most sets.

``--per-face`` adds, per size and set, how many faces each model leaves below bicubic by the
judge, face by face: a mean gain can hide faces made less recognisable. ``--reference-scale F``
judges against a softer reference, the 128 px face shrunk to F times the native size and
enlarged back, as the Solvay check's reference is the same photo at twice the size: does a
soft reference favour bicubic?

One reading per face is noisy: a sub-pixel change of framing moves the judge's cosine by as
much as SR and bicubic differ. With ``--per-face --draws N`` each face is also recorded N more
times, shifted by seeded Gaussian noise (``--shift`` native px) before it is shrunk, SR and
bicubic from the same shifted face (paired), and a face counts as **worse** when its mean
SR-minus-bicubic cosine over the draws is below zero by more than twice its standard error, as
``solvay_faces.py`` counts them (``paired.py``). Below each "worse" count: how many faces the
rule would flag by chance alone were SR and bicubic alike on every face, and how many it finds
better. The last rows add each column's counts up over every size and set. ``--worst N``
then lists, per column, the N faces with the lowest gain over bicubic averaged over the sizes
(the mean over the draws where ``--draws`` is given, else the one reading), each by its set
and file, and at how many sizes it was below bicubic: which people a model fails.

``--grey`` makes every face grey first (BT.601 luma), as a night-mode camera or an old photo
records it, and the SR faces grey as ``enhance`` makes them for a grey input face.
``--mirror`` averages each SR face with the model's SR of its mirror image, as ``enhance``
does in photos (``pipeline.sr.super_resolve``); the bundled ``face_sizes`` were measured
without it, and with it the bundled models win and lose at the same sizes (README, "Mirror
averaging").
``--bands LOW HIGH`` adds a column per model blended toward bicubic by frequency band
(``bands.py``: LOW of the change the generator makes at the input's scale, HIGH of the finer
part), beside each model at its fidelity.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from keras_facesr.data.pipeline import split_files  # noqa: E402
from keras_facesr.data.sources import resolve_data_dirs  # noqa: E402
from keras_facesr.images import list_images, read_image  # noqa: E402
from keras_facesr.models import gan  # noqa: E402
from keras_facesr.models.info import bundled_models, ratio_distance, winning_range  # noqa: E402
from keras_facesr.pipeline.fidelity import refine  # noqa: E402
from keras_facesr.pipeline.paste import LUMA  # noqa: E402
from keras_facesr.pipeline.sr import KerasSR, super_resolve  # noqa: E402
from keras_facesr.recognition.encoders import get_encoder  # noqa: E402

from bands import BandBlended  # noqa: E402
from paired import paired_gain  # noqa: E402


def resize_all(faces: np.ndarray, side: int) -> np.ndarray:
    interp = cv2.INTER_AREA if side < faces.shape[1] else cv2.INTER_CUBIC
    return np.stack([cv2.resize(f, (side, side), interpolation=interp) for f in faces])


def shift_all(faces: np.ndarray, moves: np.ndarray) -> np.ndarray:
    """Each face translated by its (dx, dy) px, sub-pixel, edges reflected."""
    side = faces.shape[1]
    return np.stack([cv2.warpAffine(f, np.float32([[1, 0, dx], [0, 1, dy]]), (side, side),
                                    flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
                     for f, (dx, dy) in zip(faces, moves, strict=True)])


def to_grey(faces: np.ndarray) -> np.ndarray:
    """RGB faces as grey RGB faces (BT.601 luma in every channel)."""
    return np.repeat((faces @ LUMA)[..., None], 3, axis=-1).astype(np.float32)


def enlarge(native: np.ndarray, variants: list, grey: bool = False, mirror: bool = False
            ) -> list[np.ndarray]:
    """The faces at 128 px: bicubic, then each (model, fidelity) as ``enhance`` feeds it
    (``grey``: the SR faces made grey, as ``enhance`` does for a grey input face; ``mirror``:
    mirror-averaged, as ``enhance`` does in photos)."""
    outs = [resize_all(native, 128)]
    for m, w in variants:
        side = m.info.input_side(native.shape[1])
        lr = native if side == native.shape[1] else resize_all(native, side)
        sr = refine(lr, super_resolve(m, lr, mirror), w)
        if grey:
            sr = to_grey(sr)
        outs.append(resize_all(sr, 128) if sr.shape[1] != 128 else sr)
    return outs


def judged(outs: list[np.ndarray], judge, e_ref: np.ndarray) -> list[np.ndarray]:
    """Each output's per-face cosine to the reference embeddings."""
    return [np.sum(np.asarray(judge.embed(np.clip(o, 0, 1))) * e_ref, axis=1) for o in outs]


def psnr(out: np.ndarray, hr: np.ndarray) -> float:
    """Mean PSNR (dB) over the faces, computed as ``evaluate`` computes it."""
    return float(np.mean(gan.psnr(hr, np.clip(out, 0.0, 1.0))))


def row(size: str, spec: str, cells: list[str]) -> None:
    """One printed line: native size, set, then one right-aligned cell per column."""
    print(f"{size:>9}  {spec:8s}  " + "  ".join(f"{c:>22}" for c in cells))


def set_files(spec: str, val_fraction: float) -> list[tuple[str, Path]]:
    """A held-out set's images, each with a short name (its source folder and file)."""
    name, _, split = spec.partition(":")
    files = []
    for root in resolve_data_dirs(name):
        listed = list_images(root)
        listed = split_files(listed, root, val_fraction).val if split == "val" else listed
        files += [(f"{root.name}/{f.relative_to(root)}", f) for f in listed]
    return files


def load_faces(files: list[tuple[str, Path]]) -> np.ndarray:
    """The images of ``set_files`` at 128 px, in [0, 1]."""
    return np.stack([cv2.resize(read_image(f), (128, 128), interpolation=cv2.INTER_AREA)
                     for _, f in files]).astype(np.float32) / 255.0


def load_set(spec: str, val_fraction: float) -> np.ndarray:
    return load_faces(set_files(spec, val_fraction))


def worst_faces(per_size: dict[str, list[np.ndarray]], names: dict[str, list[str]], n: int
                ) -> list[tuple[str, str, float, int, int]]:
    """The ``n`` faces with the lowest gain over bicubic averaged over the sizes: (set, name,
    mean gain, sizes below bicubic, sizes), lowest first. ``per_size[spec]`` holds one array
    of per-face gains per size."""
    rows = []
    for spec, gains in per_size.items():
        g = np.stack(gains)  # sizes, faces
        rows += [(spec, names[spec][i], float(g[:, i].mean()), int(np.sum(g[:, i] < 0)), len(g))
                 for i in range(g.shape[1])]
    return sorted(rows, key=lambda r: r[2])[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["nba:val", "ids", "heldout"])
    parser.add_argument("--model", action="append", type=Path, help="Default: the bundled ones.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[12, 16, 20, 24, 28, 32, 36, 40, 48])
    parser.add_argument("--judge", default="dlib-resnet", help="An encoder not in the models' loss.")
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--fidelity", type=float, nargs="+",
                        help="One column per model and fidelity (default: each model's own).")
    parser.add_argument("--reference-scale", type=float,
                        help="Judge against the face at this multiple of the native size (default: 128 px).")
    parser.add_argument("--per-face", action="store_true",
                        help="Also count the faces whose cosine is below bicubic's.")
    parser.add_argument("--draws", type=int, default=0,
                        help="With --per-face: shifted recordings per face, to count faces worse "
                             "beyond the judge's noise.")
    parser.add_argument("--shift", type=float, default=0.35, help="Framing noise, native px.")
    parser.add_argument("--worst", type=int, default=0, metavar="N",
                        help="With --per-face: list the N faces each column gains least on.")
    parser.add_argument("--grey", action="store_true",
                        help="Grey faces (luma), as night-mode cameras and old photos record them.")
    parser.add_argument("--mirror", action="store_true",
                        help="Mirror-average the SR faces, as `enhance` does in photos.")
    parser.add_argument("--bands", nargs=2, type=float, action="append", metavar=("LOW", "HIGH"),
                        help="Also each model blended by band (bands.py); may be repeated.")
    parser.add_argument("--own-size", nargs="+", metavar="LOW HIGH | off",
                        help="Feed faces of these native sizes at their own size (default: each "
                             "model's own_size band; off: resample every face to the model's input).")
    args = parser.parse_args()
    own_size = args.own_size
    if own_size is not None and own_size != ["off"] and len(own_size) != 2:
        parser.error(f"--own-size {' '.join(own_size)}: give LOW HIGH, or off")
    if args.draws and not args.per_face:
        parser.error("--draws counts faces worse than bicubic: give it with --per-face")
    if args.draws and args.draws < 2:
        parser.error(f"--draws {args.draws}: at least 2 (a standard error needs two draws)")
    if args.worst and not args.per_face:
        parser.error("--worst lists faces by their own gain: give it with --per-face")

    paths = args.model or bundled_models()
    models = [KerasSR(p) for p in paths]
    for m, name in zip(models, distinct_names([m.info.name for m in models], paths), strict=True):
        m.info = replace(m.info, name=name)
    if own_size is not None:
        band = None if own_size == ["off"] else (float(own_size[0]), float(own_size[1]))
        for m in models:
            m.info = replace(m.info, own_size=band)
    variants = [(m, w) for m in models for w in (args.fidelity or [m.info.fidelity])]
    variants += [(BandBlended(m, low, high), 1.0) for m in models for low, high in args.bands or []]
    judge = get_encoder(args.judge)
    files = {spec: set_files(spec, args.val_fraction) for spec in args.data}
    sets = {spec: load_faces(f) for spec, f in files.items()}
    face_names = {spec: [n for n, _ in f] for spec, f in files.items()}
    if args.grey:
        sets = {spec: to_grey(hr) for spec, hr in sets.items()}
    names = ["bicubic"] + [f"{m.info.name} w={w:g}" for m, w in variants]
    # identity-cosine gain over bicubic per set, summed over sizes
    gains = {spec: [0.0] * len(variants) for spec in sets}
    against = (f"the face at {args.reference_scale:g}x the native size" if args.reference_scale
               else "the 128 px face")
    print(("Grey faces. " if args.grey else "") + ("SR faces mirror-averaged. " if args.mirror else "")
          + f"PSNR (dB) against the 128 px face / {args.judge} identity cosine against {against}; "
          + ", ".join(f"{s}: {len(f)} faces" for s, f in sets.items()))
    row("native px", "set", names)
    won: list[dict[int, bool]] = [{} for _ in variants]  # per variant: size -> wins
    # per variant, over every size and set: faces below bicubic in one reading, and with
    # --draws, faces worse / better beyond the judge's noise and the chance count
    totals = [dict(faces=0, below=0, worse=0, better=0, chance=0.0) for _ in variants]
    cos_at: dict[int, list[list[float]]] = {}  # size -> per variant, its cosine on each set
    # per variant and set: one array of per-face gains over bicubic per size (--worst)
    face_gains: list[dict[str, list[np.ndarray]]] = [{s: [] for s in sets} for _ in variants]
    for size in args.sizes:
        wins = [True] * len(variants)
        cos_at[size] = [[] for _ in variants]
        for spec, hr in sets.items():
            native = resize_all(hr, size)
            reference = hr
            if args.reference_scale:
                reference = resize_all(resize_all(hr, round(args.reference_scale * size)), 128)
            e_hr = np.asarray(judge.embed(reference))
            outs = enlarge(native, variants, args.grey, args.mirror)
            cosines = judged(outs, judge, e_hr)
            scores = [(psnr(o, hr), float(np.mean(c))) for o, c in zip(outs, cosines, strict=True)]
            for k in range(len(variants)):
                wins[k] &= scores[k + 1][0] > scores[0][0] and scores[k + 1][1] >= scores[0][1]
                gains[spec][k] += scores[k + 1][1] - scores[0][1]
                cos_at[size][k].append(scores[k + 1][1])
            row(str(size), spec, [f"{p:6.2f} / {c:.4f}" for p, c in scores])
            if args.per_face:
                row("", "", ["", *(f"{np.sum(c < cosines[0])} of {len(c)} below" for c in cosines[1:])])
                for k, (t, c) in enumerate(zip(totals, cosines[1:], strict=True)):
                    t["faces"] += len(c)
                    t["below"] += int(np.sum(c < cosines[0]))
                    if not args.draws:
                        face_gains[k][spec].append(c - cosines[0])
            if args.draws:
                rng = np.random.default_rng(size)
                drawn = []  # per draw: each variant's SR - bicubic cosine, per face
                for _ in range(args.draws):
                    moves = rng.normal(0.0, args.shift * 128 / size, (len(hr), 2))
                    shifted = resize_all(shift_all(hr, moves), size)
                    c = judged(enlarge(shifted, variants, args.grey, args.mirror), judge, e_hr)
                    drawn.append([ck - c[0] for ck in c[1:]])
                g = np.array(drawn)  # draws, variants, faces
                faces = [[paired_gain(g[:, v, i], seed=i) for i in range(len(hr))]
                         for v in range(len(variants))]
                row("", "", ["", *(f"{sum(f.worse for f in fs)} of {len(hr)} worse" for fs in faces)])
                row("", "", ["", *(f"chance {sum(f.chance for f in fs):.1f}, "
                                   f"better {sum(f.better for f in fs)}" for fs in faces)])
                for k, (t, fs) in enumerate(zip(totals, faces, strict=True)):
                    face_gains[k][spec].append(np.array([f.mean for f in fs]))
                    t["worse"] += sum(f.worse for f in fs)
                    t["better"] += sum(f.better for f in fs)
                    t["chance"] += sum(f.chance for f in fs)
        row("", "wins", ["", *("yes" if w else "no" for w in wins)])
        for k, w in enumerate(wins):
            won[k][size] = w
    print("identity-cosine gain over bicubic, summed over the sizes")
    for spec, per_set in [*gains.items(), ("all sets", [sum(g) for g in zip(*gains.values(), strict=True)])]:
        row("", spec, ["", *(f"{g:+.4f}" for g in per_set)])
    if args.per_face:
        print("faces, all sizes and sets together")
        row("", "below", ["", *(f"{t['below']} of {t['faces']}" for t in totals)])
    if args.draws:
        row("", "worse", ["", *(f"{t['worse']} (chance {t['chance']:.1f})" for t in totals)])
        row("", "better", ["", *(f"{t['better']}" for t in totals)])
    if args.worst:
        print(f"the {args.worst} faces each column gains least on, averaged over the sizes"
              + (f" and {args.draws} draws" if args.draws else ""))
        for name, gains_k in zip(names[1:], face_gains, strict=True):
            print(f"  {name}")
            for spec, face, mean, below, of in worst_faces(gains_k, face_names, args.worst):
                print(f"    {spec:8s}  {face:48s}  {mean:+.4f}  below at {below} of {of} sizes")
    suggest_ranges(variants, won, cos_at, "grey_face_sizes" if args.grey else "face_sizes")


def distinct_names(names: list[str], paths: list[Path]) -> list[str]:
    """Column names: each model's own name, with its file (or run folder, for a run's
    ``generator.keras``) added where two candidates share a name."""
    def where(p: Path) -> str:
        return p.parent.name if p.stem == "generator" else p.stem
    return [f"{n} ({where(p)})" if names.count(n) > 1 else n
            for n, p in zip(names, paths, strict=True)]


def suggest_ranges(variants: list, won: list[dict[int, bool]], cos_at: dict[int, list[list[float]]],
                   key: str) -> None:
    """Each column's range by the rule (``winning_range``), and where two ranges meet, whether
    the pipeline's pick there (the model whose input is nearest by ratio) is the one the judge
    rates higher on most sets. Candidates for the same input (two x4 runs, or one model at two
    fidelities) are alternatives, not models the pipeline holds together: no pick among them."""
    ranges = [winning_range(won[k], m.info.lr_size) for k, (m, _) in enumerate(variants)]
    print(f"{key} by the rule (the run of winning sizes around each model's input):")
    for (m, w), r in zip(variants, ranges, strict=True):
        print(f"  {m.info.name} w={w:g}: " + (f"[{r[0]:g}, {r[1]:g}]" if r else "none (wins at no size)"))
    for size, cosines in cos_at.items():
        inside = [k for k, r in enumerate(ranges) if r and r[0] <= size < r[1]]
        held = {id(variants[k][0]): variants[k][0].info.lr_size for k in inside}  # model -> input
        if len(held) < 2 or len(set(held.values())) < len(held):
            continue
        picked = min(inside, key=lambda k: ratio_distance(size, variants[k][0].info.lr_size))
        sets = len(cosines[picked])
        ahead = {k: sum(cosines[k][i] >= max(cosines[j][i] for j in inside) for i in range(sets))
                 for k in inside}
        best = max(inside, key=lambda k: ahead[k])
        if best != picked and ahead[best] > sets / 2:
            print(f"  at {size} px the pipeline picks {variants[picked][0].info.name} (input nearest) but "
                  f"{variants[best][0].info.name} is ahead on {ahead[best]} of {sets} sets: end "
                  f"{variants[picked][0].info.name}'s range before {size} px")


if __name__ == "__main__":
    main()
