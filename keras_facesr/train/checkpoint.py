"""Crash-safe training checkpoints: weights, optimizer state and the step, written atomically.

Layout under ``RUN/checkpoints``::

    ckpt-000400/  generator.weights.h5  discriminator.weights.h5  optimizers.npz  state.json
    latest        -> the name of the newest complete checkpoint

A checkpoint is written in a hidden temporary folder, fsynced, then renamed into place, and
only then does ``latest`` (itself replaced atomically) point at it: a process killed at any
moment leaves the previous checkpoint intact and loadable.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from keras_facesr.errors import FaceSRError
from keras_facesr.images import default_permissions, write_bytes_atomic

KEEP = 3


class CheckpointError(FaceSRError, RuntimeError):
    """A checkpoint is missing or does not match the model (the message names it)."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(ckpt_dir: str | Path, gan, state: dict, keep: int = KEEP) -> Path:
    """Save generator, discriminator, both optimizers and ``state`` (must hold ``step``)."""
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    name = f"ckpt-{int(state['step']):07d}"
    tmp = Path(tempfile.mkdtemp(dir=ckpt_dir, prefix=f".{name}."))
    default_permissions(tmp, directory=True)
    try:
        gan.generator.save_weights(tmp / "generator.weights.h5")
        gan.discriminator.save_weights(tmp / "discriminator.weights.h5")
        arrays = {}
        for prefix, opt in (("g", gan.g_optimizer), ("d", gan.d_optimizer)):
            for i, v in enumerate(opt.variables):
                arrays[f"{prefix}{i:04d}"] = np.asarray(v)
        with open(tmp / "optimizers.npz", "wb") as f:
            np.savez(f, **arrays)
        (tmp / "state.json").write_text(json.dumps(state, indent=2))
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        final = ckpt_dir / name
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
        _fsync_dir(ckpt_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    write_bytes_atomic(ckpt_dir / "latest", name.encode())
    for old in sorted(ckpt_dir.glob("ckpt-*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    for stale in ckpt_dir.glob(".ckpt-*"):  # left by a process killed mid-write
        shutil.rmtree(stale, ignore_errors=True)
    return final


def latest_checkpoint(ckpt_dir: str | Path) -> Path | None:
    ckpt_dir = Path(ckpt_dir)
    pointer = ckpt_dir / "latest"
    if not pointer.is_file():
        return None
    path = ckpt_dir / pointer.read_text().strip()
    if not (path / "state.json").is_file():
        raise CheckpointError(f"{pointer}: points at {path.name}, which is incomplete or missing")
    return path


def load_checkpoint(path: str | Path, gan) -> dict:
    """Restore weights and optimizer state into a built ``gan``; returns the saved state."""
    path = Path(path)
    try:
        state = json.loads((path / "state.json").read_text())
        gan.generator.load_weights(path / "generator.weights.h5")
        gan.discriminator.load_weights(path / "discriminator.weights.h5")
        gan.build_optimizers()
        with np.load(path / "optimizers.npz") as arrays:
            for prefix, opt in (("g", gan.g_optimizer), ("d", gan.d_optimizer)):
                saved = sorted(k for k in arrays.files if k.startswith(prefix))
                if len(saved) != len(opt.variables):
                    raise CheckpointError(
                        f"{path}: optimizer '{prefix}' has {len(saved)} saved variables, "
                        f"the model needs {len(opt.variables)} (was the config changed?)"
                    )
                for key, var in zip(saved, opt.variables, strict=True):
                    var.assign(arrays[key])
    except CheckpointError:
        raise
    except (OSError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path}: cannot restore ({type(e).__name__}: {e})") from e
    return state
