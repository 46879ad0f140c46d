"""``keras-facesr benchmark``: generator speed, Keras vs TFLite, on this machine.

Median milliseconds per face (batch 1, the on-device case) over ``repeats`` runs after a
warm-up, on real face crops; faces per second = 1000 / ms. TFLite runs through LiteRT when
installed (else TensorFlow's interpreter) with 1 and 2 threads.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000.0 * float(np.median(times))


def run_benchmark(model: Path, bundle: Path | None = None, repeats: int = 50,
                  echo: Callable[[str], None] = print) -> str:
    """A markdown table: variant, threads, size, parameters, ms per face, faces per second."""
    import tensorflow as tf

    from keras_facesr.edge.bundle import read_manifest
    from keras_facesr.export import bundle as ex
    from keras_facesr.pipeline.sr import KerasSR

    keras_sr = KerasSR(model)
    side = keras_sr.info.lr_size
    faces = ex.real_face_crops(side)
    face = faces[:1]
    params = keras_sr.model.count_params()
    rows = []
    run = tf.function(lambda x: keras_sr.model(x, training=False))
    ms = _median_ms(lambda: run(face).numpy(), repeats)
    size = Path(model).stat().st_size
    rows.append(("Keras (TensorFlow, tf.function)", "all", size, ms))
    with tempfile.TemporaryDirectory() as tmp:
        if bundle is None:
            echo("exporting every quantisation to a temporary bundle...")
            bundle = Path(tmp)
            ex.export(model, bundle, [(side, side)], ex.QUANTIZATIONS, saved_model=False,
                      include_mtcnn=False, echo=lambda m: None)
        entries = read_manifest(bundle, need_detector=False)["models"]
        for entry in entries:
            if entry["input_size"] != [side, side]:
                continue
            path = Path(bundle) / entry["file"]
            for threads in (1, 2):
                interp = ex.interpreter(path, threads)
                interp.allocate_tensors()
                inp = interp.get_input_details()[0]["index"]

                def once(i=interp, k=inp):
                    i.set_tensor(k, face)
                    i.invoke()

                rows.append((f"TFLite {entry['quantize']}", str(threads), path.stat().st_size,
                             _median_ms(once, repeats)))
    head = (f"generator {keras_sr.info.describe()}, {params:,} parameters; one {side}x{side} face "
            f"(batch 1), median of {repeats} runs\n\n")
    lines = ["| variant | threads | file size | ms / face | faces / s |", "|---|---|---|---|---|"]
    for name, threads, nbytes, ms in rows:
        lines.append(f"| {name} | {threads} | {nbytes / 1024:.0f} KB | {ms:.2f} | {1000 / ms:.0f} |")
    return head + "\n".join(lines)
