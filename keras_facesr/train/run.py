"""The run folder of ``keras-facesr fit`` (no TensorFlow here: checked before it loads)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from keras_facesr.config import Config, load_config
from keras_facesr.errors import FaceSRError
from keras_facesr.images import write_bytes_atomic
from keras_facesr.train.checkpoint import latest_checkpoint


class RunError(FaceSRError, RuntimeError):
    """The run cannot start or finish (the message says why)."""


def is_chief() -> bool:
    """Whether this process writes the run: always, unless ``TF_CONFIG`` names another task the
    chief (the "chief" task, else worker 0), as MultiWorkerMirroredStrategy does."""
    try:
        spec = json.loads(os.environ.get("TF_CONFIG") or "{}")
    except json.JSONDecodeError as e:
        raise RunError(f"TF_CONFIG is not valid JSON ({e})") from None
    task, cluster = spec.get("task") or {}, spec.get("cluster") or {}
    if not task:
        return True
    if "chief" in cluster:
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0


def prepare_run(output: Path, config: str | None, overrides: list[str], resume: bool) -> Config:
    """The run's config: from the run folder when resuming, else from defaults/file/overrides.

    The folder's ``config.toml`` always holds the config the run trains with from here: a
    resume with ``--set`` overrides records them, so a later plain ``--resume`` keeps them."""
    saved = output / "config.toml"
    if resume:
        if not saved.is_file():
            raise RunError(f"{output}: nothing to resume (no config.toml)")
        if config:
            raise RunError("--config cannot be combined with --resume (the run's config is used)")
        cfg = load_config(saved, overrides)
        if overrides and is_chief():
            write_bytes_atomic(saved, cfg.to_toml().encode())
        return cfg
    if latest_checkpoint(output / "checkpoints") is not None:
        raise RunError(f"{output}: already holds a run; use --resume or another --output")
    cfg = load_config(config, overrides)
    if is_chief():  # other workers of a multi-worker run read the chief's folder, never write it
        output.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(saved, cfg.to_toml().encode())
    return cfg


DATA_RECORD = "data.json"


def data_fingerprint(sources: Sequence, splits: Sequence) -> dict:
    """What a run trains and validates on: each source (``DataSource``) with its weight and face
    counts, and a SHA-256 of every file's name within its source, size and weight, in order: the
    same faces in another cache folder give the same fingerprint, a re-cropped or added face not."""
    digest, rows = hashlib.sha256(), []
    for source, part in zip(sources, splits, strict=True):
        rows.append({"source": str(source), "train": len(part.train), "val": len(part.val)})
        for kind, files in (("train", part.train), ("val", part.val)):
            for f in map(Path, files):
                rel = f.relative_to(source.path) if f.is_relative_to(source.path) else f.name
                digest.update(f"{kind}\t{source.weight:g}\t{rel}\t{f.stat().st_size}\n".encode())
    return {"sources": rows, "sha256": digest.hexdigest()}


def _describe(entry: dict) -> str:
    train = sum(r["train"] for r in entry["sources"])
    val = sum(r["val"] for r in entry["sources"])
    return f"{', '.join(r['source'] for r in entry['sources'])}: {train} training / {val} validation faces"


def record_data(output: Path, step: int, fingerprint: dict, echo: Callable[[str], None]) -> None:
    """Keep ``data.json``, the run's data from the step it was first trained on: a run resumed
    on other faces (files added to a folder, a source added to a group, faces re-cropped) goes
    on, says so, and the record gains the step and the new data."""
    path = output / DATA_RECORD
    try:  # a run that starts afresh (step 0) starts a new record
        record = json.loads(path.read_text()) if step and path.is_file() else {"data": []}
        last = record["data"][-1] if record["data"] else None
        was = (last["sha256"], _describe(last)) if last is not None else None
    except (OSError, json.JSONDecodeError, KeyError, TypeError, IndexError) as e:
        raise RunError(f"{path}: not a data record this version wrote ({e!r})") from None
    if was is not None:
        if was[0] == fingerprint["sha256"]:
            return
        now = _describe(fingerprint)
        echo(f"note: --data holds other faces than this run trained on until step {step} "
             f"({was[1]}; now {now}{': the same counts, other files' if now == was[1] else ''}); "
             f"{path} records both")
    record["data"].append({"step": step, **fingerprint})
    if is_chief():
        write_bytes_atomic(path, json.dumps(record, indent=1).encode())
