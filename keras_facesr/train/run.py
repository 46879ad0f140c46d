"""The run folder of ``keras-facesr fit`` (no TensorFlow here: checked before it loads)."""

from __future__ import annotations

from pathlib import Path

from keras_facesr.config import Config, load_config
from keras_facesr.errors import FaceSRError
from keras_facesr.images import write_bytes_atomic
from keras_facesr.train.checkpoint import latest_checkpoint


class RunError(FaceSRError, RuntimeError):
    """The run cannot start or finish (the message says why)."""


def prepare_run(output: Path, config: str | None, overrides: list[str], resume: bool) -> Config:
    """The run's config: from the run folder when resuming, else from defaults/file/overrides."""
    saved = output / "config.toml"
    if resume:
        if not saved.is_file():
            raise RunError(f"{output}: nothing to resume (no config.toml)")
        if config:
            raise RunError("--config cannot be combined with --resume (the run's config is used)")
        return load_config(saved, overrides)
    if latest_checkpoint(output / "checkpoints") is not None:
        raise RunError(f"{output}: already holds a run; use --resume or another --output")
    cfg = load_config(config, overrides)
    output.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(saved, cfg.to_toml().encode())
    return cfg
