"""Running the pipeline over files: images, folders (recursive) and videos -> an output folder
and a JSON report. Shared by ``keras-facesr enhance`` and ``keras-facesr edge run``.

Every input is independent: a bad one gets a one-line error naming it and the rest complete.
Outputs are written atomically and never over an input.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from keras_facesr.images import (
    IMAGE_EXTENSIONS,
    ImageReadError,
    check_output_size,
    read_picture,
    write_bytes_atomic,
    write_image,
)
from keras_facesr.pipeline.enhance import KEPT, STAGES, SUPER_RESOLVED, EnhanceResult, FaceEnhancer
from keras_facesr.pipeline.track import KEY_INTERVAL, FaceTracker
from keras_facesr.pipeline.video import (
    VIDEO_EXTENSIONS,
    AtomicVideoWriter,
    BackgroundWriter,
    Dropped,
    VideoReader,
    VideoReadError,
    is_live,
    live_name,
    read_ahead,
)


@dataclass(frozen=True)
class Task:
    source: Path
    rel: Path  # the output's path relative to the output folder
    kind: str  # "image", "video" or "live" (a camera index or stream URL, in ``url``)
    url: str | None = None


def plan(inputs: Iterable[str | Path], output: Path, aligned: bool = False
         ) -> tuple[list[Task], list[tuple[Path, str]]]:
    """Tasks for the inputs, and (path, error) for those that cannot be run at all.

    A single folder's layout is kept under ``output``; with several inputs each folder gets a
    sub-folder of its own name. Outputs that would land on an input or on another output are
    refused."""
    inputs = list(inputs)
    tasks, errors = [], []
    known = IMAGE_EXTENSIONS if aligned else IMAGE_EXTENSIONS + VIDEO_EXTENSIONS
    for src in inputs:
        if isinstance(src, str) and is_live(src) and not Path(src).exists():
            if aligned:
                errors.append((Path(live_name(src)), f"{src}: --aligned takes face crops, not live video"))
            else:
                tasks.append(Task(Path(live_name(src)), Path(live_name(src)), "live", src))
            continue
        src = Path(src)
        if src.is_dir():
            found = sorted(p for p in src.rglob("*") if p.is_file() and p.suffix.lower() in known)
            if not found:
                errors.append((src, f"{src}: no images{'' if aligned else ' or videos'} found"))
            prefix = Path(src.resolve().name) if len(inputs) > 1 else Path()
            tasks += [Task(p, prefix / p.relative_to(src), _kind(p)) for p in found]
        elif src.is_file():
            if src.suffix.lower() in known:
                tasks.append(Task(src, Path(src.name), _kind(src)))
            elif aligned and src.suffix.lower() in VIDEO_EXTENSIONS:
                errors.append((src, f"{src}: --aligned takes face crops (images), not videos"))
            else:
                errors.append((src, f"{src}: unsupported format '{src.suffix}' (images: "
                               f"{', '.join(IMAGE_EXTENSIONS)}; videos: {', '.join(VIDEO_EXTENSIONS)})"))
        else:
            errors.append((src, f"{src}: no such file or folder"))
    sources = {t.source.resolve() for t in tasks if t.url is None}
    seen: dict[Path, Path] = {}
    kept = []
    for t in tasks:
        out = (output / t.rel).resolve()
        if out in sources:
            errors.append((t.source, f"{t.source}: the output would overwrite an input; "
                           "choose another --output"))
        elif out in seen:
            errors.append((t.source, f"{t.source}: same output name as {seen[out]}; skipped"))
        else:
            seen[out] = t.source
            kept.append(t)
    return kept, errors


def _kind(path: Path) -> str:
    return "video" if path.suffix.lower() in VIDEO_EXTENSIONS else "image"


def run(
    enhancer: FaceEnhancer,
    inputs: Iterable[str | Path],
    output: str | Path,
    report: str | Path | None = None,
    save_crops: bool = False,
    aligned: bool = False,
    batch_size: int = 8,
    progress: bool = True,
    on_error: Callable[[str], None] | None = None,
    key_interval: int = KEY_INTERVAL,
    max_fps: float | None = None,
) -> dict:
    """Enhance every input into ``output``; returns the report (also written to ``report``).

    ``batch_size`` images or video frames go through the models together; in a video, faces
    are found by full detection every ``key_interval`` frames and tracked in between. Live
    sources (camera indices, stream URLs) run until they end or Ctrl-C, at most ``max_fps``
    frames a second, dropping frames rather than falling behind. On Ctrl-C the video in hand is
    closed and kept (it plays), the report is written, and KeyboardInterrupt goes on up."""
    output = Path(output)
    on_error = on_error or (lambda msg: click.echo(f"error: {msg}", err=True))
    started = time.perf_counter()
    tasks, problems = plan(inputs, output, aligned)
    entries = []
    for src, msg in problems:
        on_error(msg)
        entries.append({"input": str(src), "status": "error", "error": msg})
    enhancer.keep_crops = save_crops
    images = [t for t in tasks if t.kind == "image"]
    videos = [t for t in tasks if t.kind in ("video", "live")]
    try:
        with _bar(progress and len(images) > 1, len(images), "images") as bar:
            for i in range(0, len(images), batch_size):
                chunk = images[i : i + batch_size]
                entries += _run_images(enhancer, chunk, output, save_crops, aligned, on_error)
                bar.update(len(chunk))
        for task in videos:
            entries.append(_run_video(enhancer, task, output, save_crops, progress, on_error,
                                      batch_size, key_interval, max_fps))
            if entries[-1].get("status") == "interrupted":
                raise KeyboardInterrupt
    finally:
        result = {
            "models": [m.info.describe() for m in enhancer.models],
            "threshold": enhancer.threshold,
            "aligned": aligned,
            "inputs": entries,
            "summary": summarise(entries, time.perf_counter() - started),
        }
        if report:
            write_bytes_atomic(report, json.dumps(result, indent=2).encode())
    return result


def _bar(enabled: bool, length: int, label: str):
    return click.progressbar(length=length, label=label, file=sys.stderr if enabled else _Null())


class _Null:
    """A sink for progress bars that are switched off."""

    def write(self, _: str) -> None:
        pass

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _run_images(enhancer, chunk: list[Task], output: Path, save_crops: bool, aligned: bool,
                on_error) -> list[dict]:
    entries, good, pictures = [], [], []
    for task in chunk:
        try:
            pictures.append(read_picture(task.source, enhancer.max_pixels, enhancer.upscale))
            good.append(task)
        except ImageReadError as e:
            on_error(str(e))
            entries.append({"input": str(task.source), "kind": "image", "status": "error",
                            "error": str(e)})
    if not good:
        return entries
    results = enhancer.enhance_batch(pictures, aligned)
    for task, pic, res in zip(good, pictures, results, strict=True):
        target = output / task.rel
        try:
            write_image(target, res.image)
            if save_crops and not aligned:
                _write_crops(output / "crops" / task.rel.parent, task.rel.stem, res)
        except (OSError, ValueError) as e:
            msg = f"{task.source}: cannot write {target} ({e})"
            on_error(msg)
            entries.append({"input": str(task.source), "kind": "image", "status": "error",
                            "error": msg})
            continue
        entries.append({
            "input": str(task.source), "output": str(target), "kind": "image", "status": "ok",
            "width": pic.size[0], "height": pic.size[1],
            "faces": [f.to_json() for f in res.faces],
            "timings_ms": {k: round(v, 2) for k, v in res.timings_ms.items()},
        })
    return entries


def _write_crops(folder: Path, stem: str, result: EnhanceResult) -> None:
    for j, face in enumerate(result.faces):
        if face.path == SUPER_RESOLVED and face.lr is not None:
            write_image(folder / f"{stem}.face{j}.lr.png", face.lr)
            write_image(folder / f"{stem}.face{j}.sr.png", face.sr)
        elif face.lr is not None:
            write_image(folder / f"{stem}.face{j}.png", face.lr)


def _run_video(enhancer, task: Task, output: Path, save_crops: bool, progress: bool,
               on_error, batch_size: int = 8, key_interval: int = KEY_INTERVAL,
               max_fps: float | None = None) -> dict:
    """One video: frames decoded ahead and encoded behind in threads, faces tracked
    (:class:`FaceTracker`) and super-resolved ``batch_size`` frames at a time."""
    live = task.kind == "live"
    entry = {"input": task.url or str(task.source), "kind": task.kind}
    target = output / task.rel
    try:
        reader = VideoReader(task.url or task.source)
        check_output_size(task.source, reader.width, reader.height, enhancer.upscale,
                          enhancer.max_pixels, VideoReadError)
        size = (round(reader.width * enhancer.upscale), round(reader.height * enhancer.upscale))
        fps = min(reader.fps, max_fps) if live and max_fps else reader.fps
        writer = AtomicVideoWriter(target, fps, size)
    except VideoReadError as e:
        on_error(str(e))
        return {**entry, "status": "error", "error": str(e)}
    tracker = FaceTracker(enhancer.detector, key_interval, reader.fps)
    totals = dict.fromkeys(STAGES, 0.0)
    frames, counts, tracks = [], {KEPT: 0, SUPER_RESOLVED: 0}, set()
    batch: list[np.ndarray] = []
    found: list[list] = []

    def flush() -> None:
        start = tracker.frame + 1 - len(batch)  # index of the batch's first frame
        for k, res in enumerate(enhancer.enhance_batch(batch, faces=found, video=True)):
            encoder.write(res.image)
            for stage, ms in res.timings_ms.items():
                totals[stage] += ms
            for face in res.faces:
                counts[face.path] += 1
                tracks.add(face.track_id)
            if res.faces:
                frames.append({"frame": start + k, "faces": [f.to_json() for f in res.faces]})
                if save_crops:
                    _write_crops(output / "crops" / task.rel.parent / task.rel.stem,
                                 f"frame{start + k:06d}", res)
        bar.update(len(batch))
        batch.clear()
        found.clear()

    dropped, interrupted = Dropped(), False
    with writer, BackgroundWriter(writer) as encoder, \
            _bar(progress and not live, reader.frame_count or 1, task.source.name) as bar:
        try:
            for frame in read_ahead(reader, live=live, max_fps=max_fps if live else None,
                                    dropped=dropped):
                t0 = time.perf_counter()
                found.append(tracker.update(frame))
                totals["detect"] += (time.perf_counter() - t0) * 1000
                batch.append(frame)
                if len(batch) == (1 if live else batch_size):
                    flush()
        except KeyboardInterrupt:  # stop cleanly: what was read is enhanced, written and kept
            interrupted = True
        reader.close()
        if batch:
            flush()
        encoder.close()
        if writer.frames:
            writer.commit()
        else:
            writer.discard()
    n = max(writer.frames, 1)
    entry.update({
        "output": str(target) if writer.frames else None, "status": "ok", "fps": reader.fps,
        "width": reader.width, "height": reader.height, "frames": writer.frames, "faces_kept": counts[KEPT],
        "faces_super_resolved": counts[SUPER_RESOLVED],
        "tracks": len(tracks), "key_frames": tracker.key_frames, "key_interval": key_interval,
        **({"frames_dropped": dropped.count} if live else {}),
        "ms_per_frame": {k: round(v / n, 2) for k, v in totals.items()},
        "frames_with_faces": frames,
    })
    if interrupted:
        on_error(f"{entry['input']}: interrupted after {writer.frames} frames; "
                 f"{'the frames so far are in ' + str(target) if writer.frames else 'nothing written'}")
        entry.update(status="interrupted")
        return entry
    problem = None if live and writer.frames else reader.problem()
    if problem:
        on_error(problem)
        entry.update(status="error", error=problem)
    return entry


def summarise(entries: list[dict], seconds: float) -> dict:
    """The report's summary of its per-input entries."""
    ok = [e for e in entries if e.get("status") == "ok"]
    faces = [f for e in ok for f in e.get("faces", [])]
    return {
        "inputs": len(entries),
        "ok": len(ok),
        "failed": len(entries) - len(ok),
        "faces_super_resolved": sum(f["path"] == SUPER_RESOLVED for f in faces)
        + sum(e.get("faces_super_resolved", 0) for e in ok),
        "faces_kept": sum(f["path"] == KEPT for f in faces) + sum(e.get("faces_kept", 0) for e in ok),
        "seconds": round(seconds, 2),
    }
