"""Images per second: plain `enhance` beside `enhance --runner beam` on the DirectRunner with 1
and 2 workers, on the same folder, in one run.

    python benchmarks/beam_throughput.py [--images 24]

The folder holds ``--images`` photos, copies of the two bundled public-domain photos (the Solvay
1927 conference at half size, 27 faces; the NASA astronaut, one face) under distinct names.
Each run starts from an empty output folder; times include the workers' start (TensorFlow and
the models load in every worker), as a batch job pays them.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_facesr.pipeline import beam, jobs  # noqa: E402
from keras_facesr.pipeline.enhance import FaceEnhancer  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[1] / "keras_facesr" / "samples"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, default=24)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = tmp / "in"
        folder.mkdir()
        photos = [SAMPLES / "solvay_1927_small.jpg", SAMPLES / "astronaut.jpg"]
        for i in range(args.images):
            (folder / f"{i:03d}.jpg").write_bytes(photos[i % 2].read_bytes())
        rows = []
        t0 = time.perf_counter()
        jobs.run(FaceEnhancer(), [folder], tmp / "local", progress=False)
        rows.append(("enhance (one process, batches of 8)", time.perf_counter() - t0))
        for workers in (1, 2):
            options = [f"--direct_num_workers={workers}"]
            if workers > 1:
                options.append("--direct_running_mode=multi_processing")
            t0 = time.perf_counter()
            result = beam.run([str(folder)], str(tmp / f"beam{workers}"), beam_args=options)
            assert result["summary"]["ok"] == args.images, result["summary"]
            rows.append((f"--runner beam, DirectRunner, {workers} worker{'s' * (workers > 1)}",
                         time.perf_counter() - t0))
    print(f"{args.images} photos ({os.cpu_count()} CPU cores)")
    print("| run | seconds | images/s | vs enhance |")
    print("|---|---|---|---|")
    for label, seconds in rows:
        print(f"| {label} | {seconds:.1f} | {args.images / seconds:.2f} | {rows[0][1] / seconds:.2f}x |")


if __name__ == "__main__":
    main()
