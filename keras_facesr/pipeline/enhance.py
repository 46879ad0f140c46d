"""The reconstruction pipeline: detect -> align -> threshold -> super-resolve -> paste back.

``FaceEnhancer(...).enhance(image)`` is the Python face of ``keras-facesr enhance``. The detector
and the super-resolution back-ends are pluggable: MTCNN + Keras generators by default,
TFLite ones in ``keras_facesr.edge`` (which must not import TensorFlow; nor does this module).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from keras_facesr.face.align import align_face, native_size
from keras_facesr.face.detect import Detector, Face, refine_each
from keras_facesr.images import MAX_PIXELS, Picture, from_rgb_float, read_picture
from keras_facesr.models.info import ratio_distance
from keras_facesr.pipeline.fidelity import refine
from keras_facesr.pipeline.paste import is_grey, match_colour, paste_face
from keras_facesr.pipeline.sr import SuperResolver, super_resolve, takes
from keras_facesr.registry import DETECTORS

KEPT, SUPER_RESOLVED = "kept", "super_resolved"
# Default threshold, as a multiple of the largest model input: faces at least this big are kept
# whatever the models, as the method keeps faces big enough to recognise (the bundled x4, fed
# such faces at their own size, still beats bicubic at 36-48 px on the held-out sets:
# benchmarks/face_size_sweep.py --sizes 36 40 44 48 --own-size 27 49). Below it a model with
# measured `face_sizes` takes only faces in its range, a grey face those in `grey_face_sizes`
# where the model has one (README "Enhancing photos and videos").
KEEP_FROM = 1.125
STAGES = ("detect", "align", "sr", "paste")
# An aligned input whose face, by the landmarks found on its enlargement, is more than this
# (as |log| of the size ratio) from the crop's side is framed off the template: its face is
# re-aligned and super-resolved as in a photo, over the crop super-resolved whole. 0.16 is
# the framing the models are trained on (degrade.jitter 0.08) plus MTCNN's landmark error on
# small faces (0.06-0.08, benchmarks/landmark_jitter.py), so crops framed as the template
# frames them stay as they are (README, "Crops framed by another tool").
REFRAME_BEYOND = 0.16
# MTCNN's box (x, y, width, height, as fractions of the side) on the enlargement of a crop
# framed as the template: the median over the held-out sets' template-framed crops shrunk to
# 32 and 16 px and enlarged x4 and x8 (x4: 0.203 0.184 0.555 0.750; x8: 0.195 0.188 0.547
# 0.734; spread 0.03-0.07 of the side; benchmarks/template_box.py). O-Net alone on it, two calls for a
# whole batch of crops, tells most such crops without reframing's full MTCNN pass, one per
# crop (README, "Crops framed by another tool").
TEMPLATE_BOX = (0.2, 0.186, 0.551, 0.742)


@dataclass
class FaceResult:
    """One detected face and what the pipeline did with it."""

    box: tuple[int, int, int, int]  # x, y, width, height in the input image
    confidence: float
    landmarks: np.ndarray  # (5, 2)
    size: float  # side of the aligned face crop at the face's own resolution, in pixels
    path: str  # KEPT or SUPER_RESOLVED
    reason: str
    model: str | None = None
    lr: np.ndarray | None = None  # aligned crop fed to the model (RGB uint8), if kept
    sr: np.ndarray | None = None  # the model's output crop (RGB uint8), if kept
    track_id: int | None = None  # video: the tracked face's id, the same from frame to frame

    def to_json(self) -> dict:
        track = {} if self.track_id is None else {"track": self.track_id}
        return {
            **track,
            "box": [int(v) for v in self.box],
            "confidence": round(self.confidence, 4),
            "landmarks": np.round(self.landmarks, 1).tolist(),
            "size": round(self.size, 1),
            "path": self.path,
            "reason": self.reason,
            "model": self.model,
        }


@dataclass
class EnhanceResult:
    image: np.ndarray  # same size, layout and dtype as the input
    faces: list[FaceResult] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))


def _as_resolvers(models) -> list[SuperResolver]:
    from keras_facesr.models.info import bundled_models
    from keras_facesr.pipeline.sr import KerasSR

    if models is None:
        models = bundled_models()
        if not models:
            raise FileNotFoundError("no bundled model in this installation; pass --model FILE.keras")
    if isinstance(models, str | Path) or hasattr(models, "info"):
        models = [models]
    return [m if hasattr(m, "info") else KerasSR(m) for m in models]


class FaceEnhancer:
    """Super-resolve the faces below ``threshold`` pixels in images, and paste them back.

    ``models``: generator files / back-ends (default: the bundled ones); a face goes to the one
    whose input size is nearest the face's (by ratio). ``threshold`` (pixels, the side of the
    aligned face crop at the face's own resolution; default ``KEEP_FROM`` times the largest
    model input): faces at least this big are kept as they are. ``upscale``: the output frame
    is this many times larger (bicubic) and the SR faces are pasted at that size; at 1
    (default) the frame keeps its size, so an SR face can hold no more detail than the pixels
    it replaces. ``detector``: a :class:`Detector`, or the name of one registered in
    ``keras_facesr.registry.DETECTORS`` (default ``mtcnn``). ``mirror``: average each SR face
    with the mirrored SR of its mirror image (:func:`keras_facesr.pipeline.sr.super_resolve`,
    twice the SR time); default ``None``: in photos and face crops, not in video frames, where
    the frame rate matters more. ``reframe``: an aligned input framed off the template
    (:data:`REFRAME_BEYOND`) has its face re-aligned before SR.
    """

    def __init__(
        self,
        models=None,
        threshold: float | None = None,
        detector: Detector | str | None = None,
        min_confidence: float = 0.9,
        min_face: int = 12,
        colour_match: bool = True,
        keep_crops: bool = False,
        max_pixels: int = MAX_PIXELS,
        upscale: float = 1.0,
        fidelity: float | None = None,
        back_project: int = 0,
        mirror: bool | None = None,
        reframe: bool = True,
    ):
        if not 1.0 <= upscale <= 8.0:
            raise ValueError(f"upscale must be between 1 and 8, got {upscale}")
        if fidelity is not None and not 0.0 <= fidelity <= 1.0:
            raise ValueError(f"fidelity must be between 0 and 1, got {fidelity}")
        if back_project < 0:
            raise ValueError(f"back-projection steps must be >= 0, got {back_project}")
        self.fidelity, self.back_project = fidelity, back_project
        self.mirror, self.reframe = mirror, reframe
        self.upscale = float(upscale)
        self.models = sorted(_as_resolvers(models), key=lambda m: m.info.lr_size)
        self.threshold = float(threshold if threshold is not None
                               else KEEP_FROM * self.models[-1].info.lr_size)
        if isinstance(detector, str):
            DETECTORS.get(detector)  # an unknown name fails here, not at the first image
        self._detector = detector
        self.min_confidence, self.min_face = min_confidence, min_face
        self.colour_match = colour_match
        self.keep_crops = keep_crops
        self.max_pixels = max_pixels

    @property
    def detector(self) -> Detector:
        """The face detector: the one given, else the registered one named (default MTCNN),
        made on first use with ``min_confidence`` and ``min_face``."""
        if self._detector is None or isinstance(self._detector, str):
            factory = DETECTORS.get(self._detector or "mtcnn")
            self._detector = factory(self.min_confidence, self.min_face)
        return self._detector

    def _output_frame(self, pixels: np.ndarray) -> np.ndarray:
        """The frame the faces are pasted into: a copy, ``upscale`` times larger (bicubic)."""
        if self.upscale == 1.0:
            return pixels.copy()
        h, w = pixels.shape[:2]
        size = (round(w * self.upscale), round(h * self.upscale))
        return cv2.resize(pixels, size, interpolation=cv2.INTER_CUBIC)

    def model_for(self, size: float, grey: bool = False) -> SuperResolver | None:
        """The model for a face of native ``size`` px, or None when no model beats bicubic there.

        Models with measured ``face_sizes`` take only faces in that range (a ``grey`` face: in
        ``grey_face_sizes``, where measured apart); among the candidates the one whose input side
        is nearest ``size`` by ratio wins (a 20 px face goes to a 16 px model rather than a 32 px
        one; how the face is fed is :meth:`input_side`'s)."""
        fits = [m for m in self.models
                if (r := m.info.sizes_for(grey)) is None or r[0] <= size < r[1]]
        if not fits:
            return None
        return min(fits, key=lambda m: ratio_distance(size, m.info.lr_size))

    @staticmethod
    def input_side(model: SuperResolver, size: float) -> int:
        """The crop side a face of native ``size`` px goes to ``model`` at: its own within the
        model's measured ``own_size`` when the back-end takes that side, else the model's input."""
        side = model.info.input_side(size)
        return side if takes(model, side) else model.info.lr_size

    def _no_model_reason(self, grey: bool) -> str:
        """Why no model takes a face: the measured ranges, for the face's colour mode."""
        ranges = [(m.info.name, r) for m in self.models if (r := m.info.sizes_for(grey)) is not None]
        return ("no model beats bicubic at this size (measured ranges"
                + (" for grey faces" if grey else "") + ": "
                + ", ".join(f"{name} {r[0]:g}-{r[1]:g} px" for name, r in ranges) + ")")

    def _grey_matters(self) -> bool:
        """Whether any model takes grey faces by another range than colour ones."""
        return any(m.info.grey_face_sizes is not None for m in self.models)

    def fidelity_for(self, model: SuperResolver) -> float:
        """The blend toward bicubic for ``model``'s faces: the caller's, else the model's default."""
        return self.fidelity if self.fidelity is not None else model.info.fidelity

    def _picture(self, image) -> Picture:
        if isinstance(image, Picture):
            return image
        if isinstance(image, str | Path):
            return read_picture(image, self.max_pixels, self.upscale)
        image = np.asarray(image)
        if image.dtype not in (np.uint8, np.uint16) or image.ndim not in (2, 3):
            raise ValueError(f"expected a grey/RGB/RGBA uint8 or uint16 image, got "
                             f"{image.dtype} {image.shape}")
        return Picture(image)

    def enhance(self, image, aligned: bool = False) -> EnhanceResult:
        """One image (array in RGB order, path, or Picture); see :meth:`enhance_batch`."""
        return self.enhance_batch([image], aligned)[0]

    def mirror_for(self, video: bool = False) -> bool:
        """Whether SR faces are mirror-averaged: as set, else in photos and not in video."""
        return self.mirror if self.mirror is not None else not video

    def enhance_batch(self, images: Sequence, aligned: bool = False,
                      faces: Sequence[list[Face]] | None = None,
                      video: bool = False) -> list[EnhanceResult]:
        """Enhance several images, their faces batched through the generators.

        With ``aligned`` every image is itself a face crop: it is super-resolved whole
        (no detection, no threshold) and the result is ``scale`` times larger. ``faces``: the
        faces of each image when already found (e.g. by :class:`keras_facesr.pipeline.track.FaceTracker`),
        else they are detected here. ``video``: the images are frames of one video (see
        ``mirror``)."""
        pictures = [self._picture(im) for im in images]
        mirror = self.mirror_for(video)
        if aligned:
            return self._enhance_crops(pictures, mirror)
        results = [EnhanceResult(self._output_frame(p.pixels)) for p in pictures]
        # by (model, crop side): faces fed at their own size batch with faces of that size
        jobs: dict[tuple[int, int], list[tuple[int, FaceResult, np.ndarray, np.ndarray]]] = {}
        for i, (pic, res) in enumerate(zip(pictures, results, strict=True)):
            rgb = pic.rgb
            if faces is None:
                t0 = time.perf_counter()
                found = self.detector.detect(rgb) if min(rgb.shape[:2]) >= 12 else []
                res.timings_ms["detect"] += _ms(t0)
            else:
                found = faces[i]
            t0 = time.perf_counter()
            for face in found:
                result, job = self._plan(rgb, face, mirror)
                res.faces.append(result)
                if job is not None:
                    model_index, crop, matrix = job
                    jobs.setdefault((model_index, crop.shape[0]), []).append((i, result, crop, matrix))
            res.timings_ms["align"] += _ms(t0)
        self._run_jobs(jobs, pictures, results, mirror)
        return results

    def _run_jobs(self, jobs: dict, pictures: list[Picture], results: list[EnhanceResult],
                  mirror: bool) -> None:
        """Super-resolve the planned faces, batched by (model, crop side), and paste each into
        its result's frame (at the frame's scale to its picture)."""
        for (model_index, _), items in jobs.items():
            model = self.models[model_index]
            lr = np.stack([c for _, _, c, _ in items]).astype(np.float32) / 255.0
            t0 = time.perf_counter()
            sr = refine(lr, super_resolve(model, lr, mirror), self.fidelity_for(model),
                        self.back_project)
            share = _ms(t0) / len(items)
            for (i, result, _, matrix), lr_face, sr_face in zip(items, lr, sr, strict=True):
                results[i].timings_ms["sr"] += share
                t0 = time.perf_counter()
                if self.colour_match:
                    sr_face = match_colour(sr_face, lr_face)
                if self.keep_crops:
                    result.sr = (sr_face * 255 + 0.5).astype(np.uint8)
                frame = results[i].image
                upscale = (frame.shape[1] / pictures[i].pixels.shape[1],
                           frame.shape[0] / pictures[i].pixels.shape[0])
                paste_face(frame, sr_face, frame_to_sr(matrix, model.info.scale, upscale))
                results[i].timings_ms["paste"] += _ms(t0)

    def _plan(self, rgb: np.ndarray, face: Face, mirror: bool = False):
        """The FaceResult for a detected face, and its SR job (model index, crop, matrix)."""
        size = native_size(face.landmarks)
        common = dict(box=face.box, confidence=face.confidence, landmarks=face.landmarks, size=size,
                      track_id=face.track_id)
        if size >= self.threshold:
            result = FaceResult(**common, path=KEPT,
                                reason=f"face is {size:.0f} px >= threshold {self.threshold:.0f} px")
            if self.keep_crops:
                result.lr, _ = align_face(rgb, face.landmarks, max(8, round(size)))
            return result, None
        grey = self._grey_matters() and is_grey(_box_pixels(rgb, face.box))
        model = self.model_for(size, grey)
        if model is None:
            result = FaceResult(**common, path=KEPT, reason=(
                f"face is {size:.0f} px{' and grey' if grey else ''}: {self._no_model_reason(grey)}"))
            if self.keep_crops:
                result.lr, _ = align_face(rgb, face.landmarks, max(8, round(size)))
            return result, None
        side = self.input_side(model, size)
        crop, matrix = align_face(rgb, face.landmarks, side)
        w = self.fidelity_for(model)
        result = FaceResult(
            **common, path=SUPER_RESOLVED, model=model.info.name,
            reason=f"{'grey ' if grey else ''}face is {size:.0f} px < threshold "
                   f"{self.threshold:.0f} px: {model.info.describe()}"
                   + (f", fed at its own {side} px" if side != model.info.lr_size else "")
                   + (f", fidelity {w:g}" if w != 1 else "")
                   + (f", {self.back_project} back-projection steps" if self.back_project else "")
                   + (", mirror-averaged" if mirror else ""),
            lr=crop if self.keep_crops else None,
        )
        return result, (self.models.index(model), crop, matrix)

    def _bicubic_crop(self, pic: Picture, nearest: SuperResolver, grey: bool) -> EnhanceResult:
        """An aligned crop no model beats bicubic on: enlarged by bicubic at ``nearest``'s scale."""
        h, w = pic.pixels.shape[:2]
        result = EnhanceResult(_enlarge(pic.pixels, nearest.info.scale))
        result.faces.append(FaceResult(
            box=(0, 0, w, h), confidence=1.0, landmarks=np.zeros((5, 2), np.float32),
            size=float(min(h, w)), path=KEPT, model=None,
            reason=f"aligned {'grey ' if grey else ''}input of {min(h, w)} px: "
                   f"{self._no_model_reason(grey)}; enlarged x{nearest.info.scale} by bicubic "
                   "interpolation"))
        return result

    def _enhance_crops(self, pictures: list[Picture], mirror: bool) -> list[EnhanceResult]:
        results: list[EnhanceResult] = []
        jobs: dict[tuple[int, int], list] = {}
        to_check: list[tuple[int, Picture, SuperResolver]] = []  # crops reframing looks at
        for pic in pictures:
            h, w = pic.pixels.shape[:2]
            grey = self._grey_matters() and is_grey(pic.rgb)
            model = self.model_for(min(h, w), grey)
            if model is None:  # bicubic at the nearest model's scale, and the report says why
                nearest = min(self.models, key=lambda m: ratio_distance(min(h, w), m.info.lr_size))
                results.append(self._bicubic_crop(pic, nearest, grey))
                continue
            rgb = pic.rgb.astype(np.float32) / 255.0
            side = self.input_side(model, min(h, w))
            if model.fixed_input and (h, w) != (side, side):
                interp = cv2.INTER_AREA if min(h, w) > side else cv2.INTER_CUBIC
                rgb = cv2.resize(rgb, (side, side), interpolation=interp)
            t0 = time.perf_counter()
            sr = refine(rgb[None], super_resolve(model, rgb[None], mirror), self.fidelity_for(model),
                        self.back_project)[0]
            res_ms = _ms(t0)
            out_h, out_w = h * model.info.scale, w * model.info.scale
            if sr.shape[:2] != (out_h, out_w):
                sr = cv2.resize(sr, (out_w, out_h), interpolation=cv2.INTER_CUBIC)
            alpha = None
            if pic.pixels.ndim == 3 and pic.pixels.shape[2] == 4:
                alpha = cv2.resize(pic.pixels[..., 3], (out_w, out_h), interpolation=cv2.INTER_CUBIC)
            image = from_rgb_float(sr, like=pic.pixels, alpha=alpha)
            result = EnhanceResult(image)
            result.timings_ms["sr"] = res_ms
            result.faces.append(FaceResult(
                box=(0, 0, w, h), confidence=1.0, landmarks=np.zeros((5, 2), np.float32),
                size=float(min(h, w)), path=SUPER_RESOLVED, model=model.info.name,
                reason=f"aligned input: {model.info.describe()}"
                       + (", mirror-averaged" if mirror else ""),
            ))
            if self.reframe:
                to_check.append((len(results), pic, model))
            results.append(result)
        if to_check:
            self._reframe(to_check, results, mirror, jobs)
        self._run_jobs(jobs, pictures, results, mirror)
        return results

    def _reframe(self, crops: list[tuple[int, Picture, SuperResolver]], results: list[EnhanceResult],
                 mirror: bool, jobs: dict) -> None:
        """Plan a re-aligned SR job for each crop (result index, picture, its model) whose face
        is framed off the template.

        The face is looked for on the crop's enlargement by its model's scale (MTCNN misses
        faces of crop size), its landmarks mapped back to the crop. Crops that O-Net alone finds
        framed as the template (:meth:`_framed_as_template`, one batch for all) stay as they
        are; the others get MTCNN's full pass. A face within :data:`REFRAME_BEYOND` of the
        crop's framing, or one the photo path would keep, leaves the crop as it is; otherwise
        the face is planned as in a photo (its size picks the model) and pasted over the crop
        super-resolved whole, replacing the crop's face entry."""
        t0 = time.perf_counter()
        bigs = [_enlarge(pic.rgb, model.info.scale) for _, pic, model in crops]
        framed = self._framed_as_template(bigs, [model.info.scale for _, _, model in crops],
                                          [min(pic.pixels.shape[:2]) for _, pic, _ in crops])
        share = _ms(t0) / len(crops)
        for (index, pic, model), big, as_template in zip(crops, bigs, framed, strict=True):
            result = results[index]
            result.timings_ms["detect"] += share
            if as_template:
                continue
            t0 = time.perf_counter()
            found = self.detector.detect(big)
            result.timings_ms["detect"] += _ms(t0)
            face = max(found, key=lambda f: f.box[2] * f.box[3], default=None)
            if face is None:
                continue
            scale, side = model.info.scale, min(pic.pixels.shape[:2])
            marks = ((face.landmarks + 0.5) / scale - 0.5).astype(np.float32)  # pixel centres
            size = native_size(marks)
            if abs(np.log(size / side)) <= REFRAME_BEYOND:
                continue
            box = tuple(int(round(v / scale)) for v in face.box)
            planned, job = self._plan(pic.rgb, Face(box, face.confidence, marks), mirror)
            if job is None:
                continue
            planned.reason = (f"aligned input of {side} px framed off the template (its face is "
                              f"{size:.0f} px by its landmarks): re-aligned and pasted over the crop "
                              f"super-resolved whole by {model.info.name}; " + planned.reason)
            result.faces[-1] = planned
            model_index, crop, matrix = job
            jobs.setdefault((model_index, crop.shape[0]), []).append((index, planned, crop, matrix))

    def _framed_as_template(self, bigs: list[np.ndarray], scales: list[int], sides: list[int]
                            ) -> list[bool]:
        """Whether each crop's enlargement (by ``scales[i]``, of a crop of side ``sides[i]``)
        holds its face as the template frames it, by the detector's last stage alone: O-Net on
        :data:`TEMPLATE_BOX`, then again on the box it refines that to, each round one batch
        for all the crops. Both times confident and within half of :data:`REFRAME_BEYOND` of
        the crop's framing: True, the crop stays as it is without the full pass. Anything else
        (a face smaller or larger in the crop, or O-Net unsure) is False: the full pass decides."""
        x, y, bw, bh = TEMPLATE_BOX
        boxes = np.array([[x * w, y * h, (x + bw) * w, (y + bh) * h]
                          for h, w in (big.shape[:2] for big in bigs)], np.float32)
        framed = np.ones(len(bigs), bool)
        for _ in range(2):
            todo = np.flatnonzero(framed)
            if not len(todo):
                break
            found = refine_each(self.detector, [bigs[i] for i in todo], boxes[todo])
            for i, face in zip(todo, found, strict=True):
                marks = ((face.landmarks + 0.5) / scales[i] - 0.5).astype(np.float32)
                if (face.confidence < self.detector.min_confidence
                        or abs(np.log(native_size(marks) / sides[i])) > REFRAME_BEYOND / 2):
                    framed[i] = False
                fx, fy, fw, fh = face.box
                boxes[i] = (fx, fy, fx + fw, fy + fh)
        return framed.tolist()


def _box_pixels(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The pixels of a detection box, clipped to the image."""
    x, y, w, h = (int(round(v)) for v in box)
    return rgb[max(0, y):max(0, y + h), max(0, x):max(0, x + w)]


def _enlarge(pixels: np.ndarray, scale: int) -> np.ndarray:
    h, w = pixels.shape[:2]
    return cv2.resize(pixels, (w * scale, h * scale), interpolation=cv2.INTER_CUBIC)


def frame_to_sr(image_to_lr: np.ndarray, scale: int,
                upscale: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """Output-frame pixel -> SR-crop pixel, from the input-image -> LR-crop alignment.

    Pixel centres throughout: the frame is the input resized by ``upscale`` (x, y factors;
    x = (u + 0.5) / f - 0.5, as ``cv2.resize``) and the generator's output pixel s covers the
    LR crop's c = (s + 0.5) / scale - 0.5, as pixel shuffle and bicubic resizing lay them out."""
    fx, fy = upscale
    frame_to_image = np.array([[1 / fx, 0, 0.5 / fx - 0.5], [0, 1 / fy, 0.5 / fy - 0.5], [0, 0, 1]])
    lr_to_sr = np.array([[scale, 0, (scale - 1) / 2], [0, scale, (scale - 1) / 2], [0, 0, 1]])
    image_to_lr = np.vstack([image_to_lr, [0, 0, 1]])
    return (lr_to_sr @ image_to_lr @ frame_to_image)[:2]


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0
