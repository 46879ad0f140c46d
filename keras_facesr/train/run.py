"""The run folder of ``keras-facesr fit`` (no TensorFlow here: checked before it loads)."""

from __future__ import annotations

import json
import os
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
