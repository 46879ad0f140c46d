"""``keras-facesr enhance --runner beam``: the same enhancement as ``enhance``, as an Apache Beam
pipeline, for archives that outgrow one machine (the DirectRunner here; Dataflow, Flink or Spark
unchanged, with ``--beam-option``).

Each input file (image or video, on any Beam filesystem: a local path, ``gs://``, ``s3://``) is
one element. A worker builds its :class:`FaceEnhancer` once (``setup``), copies the file to a
local temporary folder when it is remote, runs it through :func:`keras_facesr.pipeline.jobs.run`
(so the output bytes are those ``enhance`` writes) and moves the output into place atomically
(a rename on a local disk; object stores create an object only when it is closed). Output
names follow the input names, so a retried element rewrites the same file, and an input whose
output already exists is skipped: a second run over the same output writes nothing new.
Failed inputs go to a dead-letter file, one ``PATH<TAB>ERROR`` line each; the per-file records
are merged into one JSON report like ``enhance``'s. Needs the ``[beam]`` extra.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from keras_facesr.errors import FaceSRError

SKIPPED = "skipped"


class BeamError(FaceSRError, RuntimeError):
    """The Beam pipeline cannot run (missing extra, bad option); the message says which."""


def _beam():
    try:
        import apache_beam as beam
    except ImportError as e:
        raise BeamError("--runner beam needs Apache Beam: pip install 'keras-facesr[beam]' "
                        f"({e})") from None
    return beam


def _filesystems():
    """Beam's FileSystems (local paths, gs://, s3://, ...)."""
    from apache_beam.io.filesystems import FileSystems

    return FileSystems


def _is_remote(path: str) -> bool:
    return "://" in path


def plan_inputs(inputs: list[str], output: str, aligned: bool = False) -> tuple[list[dict], list[dict]]:
    """(work items, planning errors): each item is ``{"input", "rel", "output"}``.

    Local inputs are planned by :func:`keras_facesr.pipeline.jobs.plan` (the layout ``enhance``
    gives); a remote folder (``gs://bucket/dir/``) contributes every image and video under it."""
    from keras_facesr.images import IMAGE_EXTENSIONS
    from keras_facesr.pipeline.jobs import plan
    from keras_facesr.pipeline.video import VIDEO_EXTENSIONS

    local = [p for p in inputs if not _is_remote(p)]
    items, errors = [], []
    if local:
        tasks, problems = plan(local, Path(output) if not _is_remote(output) else Path("/nonexistent"),
                               aligned)
        items += [{"input": str(t.source), "rel": t.rel.as_posix()} for t in tasks]
        errors += [{"input": str(src), "status": "error", "error": msg} for src, msg in problems]
    known = IMAGE_EXTENSIONS if aligned else IMAGE_EXTENSIONS + VIDEO_EXTENSIONS
    for prefix in (p for p in inputs if _is_remote(p)):
        base = prefix.rstrip("/") + "/"
        found = [m.path for r in _filesystems().match([base + "**"]) for m in r.metadata_list
                 if os.path.splitext(m.path)[1].lower() in known]
        if not found:
            errors.append({"input": prefix, "status": "error",
                           "error": f"{prefix}: no images or videos found"})
        items += [{"input": f, "rel": f[len(base):]} for f in sorted(found)]
    for item in items:
        item["output"] = _join(output, item["rel"])
    return items, errors


def _join(root: str, rel: str) -> str:
    return root.rstrip("/") + "/" + rel if _is_remote(root) else str(Path(root) / rel)


def _exists(path: str) -> bool:
    if _is_remote(path):
        return _filesystems().exists(path)
    return Path(path).is_file()


def _put(local: Path, target: str) -> None:
    """Move a finished local file to ``target`` atomically."""
    if _is_remote(target):
        with local.open("rb") as src, _filesystems().create(target) as dst:
            shutil.copyfileobj(src, dst)
        return
    target_path = Path(target)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    staged = target_path.with_name(f".{target_path.name}.{os.getpid()}.beam")
    shutil.copyfile(local, staged)
    os.replace(staged, target_path)


class EnhanceFn:
    """The DoFn body (made a ``beam.DoFn`` by :func:`run`): one input file -> its record."""

    def __init__(self, enhancer_options: dict[str, Any], run_options: dict[str, Any]):
        self.enhancer_options, self.run_options = enhancer_options, run_options
        self.enhancer = None

    def setup(self) -> None:
        from keras_facesr.pipeline.enhance import FaceEnhancer

        self.enhancer = FaceEnhancer(**self.enhancer_options)

    def process(self, item: dict):
        from keras_facesr.pipeline import jobs

        if _exists(item["output"]):
            yield {"input": item["input"], "output": item["output"], "status": SKIPPED,
                   "reason": "output exists (an earlier run wrote it)"}
            return
        with tempfile.TemporaryDirectory(prefix="keras-facesr-beam-") as tmp:
            tmp = Path(tmp)
            source = item["input"]
            if _is_remote(source):
                local = tmp / "in" / Path(item["rel"]).name
                local.parent.mkdir(parents=True)
                with _filesystems().open(source) as src, local.open("wb") as dst:
                    shutil.copyfileobj(src, dst)
                source = str(local)
            errors: list[str] = []
            report = jobs.run(self.enhancer, [source], tmp / "out", progress=False,
                              on_error=errors.append, **self.run_options)
            (entry,) = report["inputs"]
            entry = {**entry, "input": item["input"]}
            if entry.get("status") == "ok" and entry.get("output"):
                _put(Path(entry["output"]), item["output"])
                entry["output"] = item["output"]
            else:
                entry.setdefault("error", "; ".join(errors) or "failed")
            yield entry


def run(inputs: list[str], output: str, report: str | None = None,
        enhancer_options: dict[str, Any] | None = None, run_options: dict[str, Any] | None = None,
        beam_args: list[str] | None = None, dead_letter: str | None = None) -> dict:
    """Run the pipeline; returns the merged report (also written to ``report``)."""
    beam = _beam()
    from apache_beam.options.pipeline_options import PipelineOptions

    started = time.perf_counter()
    items, planning_errors = plan_inputs(inputs, output, bool((run_options or {}).get("aligned")))
    dead_letter = dead_letter or _join(output, "dead_letter.tsv")

    class _Fn(EnhanceFn, beam.DoFn):
        pass

    records: list[dict] = []
    try:
        options = PipelineOptions(beam_args or [])
    except Exception as e:  # noqa: BLE001 - argparse errors from Beam, one line
        raise BeamError(f"bad --beam-option ({e})") from None
    with tempfile.TemporaryDirectory(prefix="keras-facesr-beam-records-") as tmp:
        sink = Path(tmp) / "records"
        with beam.Pipeline(options=options) as p:
            (p | "inputs" >> beam.Create(items)
               | "enhance" >> beam.ParDo(_Fn(enhancer_options or {}, run_options or {}))
               | "json" >> beam.Map(json.dumps)
               | "records" >> beam.io.WriteToText(str(sink), file_name_suffix=".jsonl"))
        for part in sorted(Path(tmp).glob("records*.jsonl")):
            records += [json.loads(line) for line in part.read_text().splitlines() if line]
    order = {item["input"]: i for i, item in enumerate(items)}
    records.sort(key=lambda r: order.get(r["input"], -1))
    records = planning_errors + records
    failed = [r for r in records if r.get("status") not in ("ok", SKIPPED)]
    if failed:
        lines = "".join(f"{r['input']}\t{r.get('error', 'failed')}\n" for r in failed)
        _write_text(dead_letter, lines)
    from keras_facesr.pipeline.jobs import summarise

    summary = summarise(records, time.perf_counter() - started)
    summary.update(failed=len(failed), skipped=sum(r.get("status") == SKIPPED for r in records))
    result = {"runner": "beam", "inputs": records, "dead_letter": dead_letter if failed else None,
              "summary": summary}
    if report:
        _write_text(report, json.dumps(result, indent=2))
    return result


def _write_text(target: str, text: str) -> None:
    if _is_remote(target):
        with _filesystems().create(target) as f:
            f.write(text.encode())
        return
    from keras_facesr.images import write_bytes_atomic

    write_bytes_atomic(target, text.encode())
