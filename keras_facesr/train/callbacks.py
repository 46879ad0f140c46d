"""Training callbacks: stop conditions, checkpoints, sample grids, a NaN guard, the history CSV.

A callback that stops training records why in ``model.stop_reason`` (shown in the summary).
"""

from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path

import cv2
import keras
import numpy as np

from keras_facesr.images import tile, write_bytes_atomic, write_image
from keras_facesr.train.checkpoint import save_checkpoint


def _stop(model, reason: str) -> None:
    if not model.stop_training:
        model.stop_reason = reason
        model.stop_training = True


def _step(model) -> int:
    return int(model.g_optimizer.iterations.numpy())


class StepBudget(keras.callbacks.Callback):
    """Stop once the generator has taken ``steps`` optimizer steps in total."""

    def __init__(self, steps: int):
        super().__init__()
        self.steps = steps

    def on_train_batch_end(self, batch, logs=None):
        if _step(self.model) >= self.steps:
            _stop(self.model, f"step budget reached ({self.steps} steps)")


class LossThreshold(keras.callbacks.Callback):
    """Stop when the running mean of a logged loss falls to ``threshold`` or below."""

    def __init__(self, threshold: float, metric: str = "loss_pixel"):
        super().__init__()
        self.threshold, self.metric = threshold, metric

    def on_train_batch_end(self, batch, logs=None):
        if logs and self.metric in logs and float(logs[self.metric]) <= self.threshold:
            _stop(self.model, f"{self.metric} = {float(logs[self.metric]):.4g} <= {self.threshold}")


class DiscriminatorThreshold(keras.callbacks.Callback):
    """Stop when the discriminator's mean probability on SR faces, sigmoid(D(SR)), reaches
    ``target``: the generator then fools it that often (for WGAN/hinge critics the sigmoid of
    the score is used as the same kind of gauge)."""

    def __init__(self, target: float):
        super().__init__()
        self.target = target

    def on_train_batch_end(self, batch, logs=None):
        if logs and "d_fake" in logs and float(logs["d_fake"]) >= self.target:
            _stop(self.model, f"D(SR) = {float(logs['d_fake']):.3f} >= {self.target}")


class NaNGuard(keras.callbacks.Callback):
    """Stop at the first non-finite loss; checkpoints are then no longer written."""

    def on_train_batch_end(self, batch, logs=None):
        for name, value in (logs or {}).items():
            if not math.isfinite(float(value)):
                self.model.nan_detected = f"{name} = {float(value)} at step {_step(self.model)}"
                _stop(self.model, f"non-finite loss: {self.model.nan_detected}")
                return


class RunCheckpoint(keras.callbacks.Callback):
    """Checkpoint at the end of every epoch and when training stops (never after a NaN)."""

    def __init__(self, ckpt_dir: str | Path, state: dict):
        super().__init__()
        self.ckpt_dir = Path(ckpt_dir)
        self.state = state  # shared with the trainer: seed, best metrics, ...
        self.saved_step = -1

    def save(self, epoch: int | None = None) -> None:
        if getattr(self.model, "nan_detected", None):
            return
        step = _step(self.model)
        if step == self.saved_step:
            return
        if epoch is not None:
            self.state["epoch"] = epoch + 1
        self.state["step"] = step
        save_checkpoint(self.ckpt_dir, self.model, self.state)
        self.saved_step = step

    def on_epoch_end(self, epoch, logs=None):
        self.save(epoch)

    def on_train_end(self, logs=None):
        self.save()


class SampleGrid(keras.callbacks.Callback):
    """Each epoch, write ``samples/step-N.png``: rows of bicubic | SR | HR for fixed faces."""

    def __init__(self, lr: np.ndarray, hr: np.ndarray, out_dir: str | Path, scale: int):
        super().__init__()
        self.lr, self.hr, self.out_dir, self.scale = lr, hr, Path(out_dir), scale

    def on_epoch_end(self, epoch, logs=None):
        sr = np.clip(np.asarray(self.model.generator(self.lr, training=False)), 0, 1)
        size = self.hr.shape[1:3]
        rows = []
        for lr, s, h in zip(self.lr, sr, self.hr, strict=True):
            bicubic = cv2.resize(lr, size[::-1], interpolation=cv2.INTER_CUBIC)
            rows.append([(np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8) for x in (bicubic, s, h)])
        write_image(self.out_dir / f"step-{_step(self.model):07d}.png", tile(rows))


class StepTimer(keras.callbacks.Callback):
    """Seconds per training step: wall time between consecutive step ends (data, dispatch and
    the step itself; the first step of each fit call, which traces the graph, excluded)."""

    def __init__(self):
        super().__init__()
        self.times: list[float] = []
        self._last: float | None = None

    def on_train_begin(self, logs=None):
        self._last = None

    def on_train_batch_end(self, batch, logs=None):
        _step(self.model)  # waits for the step to finish
        now = time.perf_counter()
        if self._last is not None:
            self.times.append(now - self._last)
        self._last = now

    def on_epoch_end(self, epoch, logs=None):
        self._last = None  # skip the validation pass

    @property
    def seconds_per_step(self) -> float:
        return float(np.median(self.times)) if self.times else float("nan")


class HistoryCSV(keras.callbacks.Callback):
    """One row per epoch, appended to ``path`` across resumed runs.

    Keras' ``CSVLogger`` keeps the header of the file it appends to, so a run resumed with a term
    it did not log before (a loss switched on) writes rows one column wider than their header.
    Here the header is the union of every epoch's names (``epoch`` first, then sorted), earlier
    rows get empty cells for the new ones, and the file is rewritten atomically each epoch: a
    crash leaves the previous epoch's file whole.
    """

    def __init__(self, path: str | Path):
        super().__init__()
        self.path = Path(path)

    def on_epoch_end(self, epoch, logs=None):
        rows = []
        if self.path.is_file():
            with self.path.open(newline="") as f:
                rows = list(csv.DictReader(f))
        rows.append({"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}})
        names = sorted({k for row in rows for k in row if k not in (None, "epoch")})
        out = io.StringIO()
        writer = csv.DictWriter(out, ["epoch", *names], restval="", extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        write_bytes_atomic(self.path, out.getvalue().encode())
