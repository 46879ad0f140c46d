"""benchmarks/face_size_sweep.py: the ranges it suggests, and the check where two models meet."""

import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import numpy as np  # noqa: E402
from face_size_sweep import distinct_names, suggest_ranges, worst_faces  # noqa: E402

from keras_facesr.models.info import ModelInfo  # noqa: E402


def _model(name: str, scale: int, lr_size: int) -> SimpleNamespace:
    return SimpleNamespace(info=ModelInfo(name, scale, lr_size))


def test_ranges_and_a_pick_the_judge_disagrees_with(capsys):
    x4, x8 = _model("x4", 4, 32), _model("x8", 8, 16)
    variants = [(x4, 0.5), (x8, 0.25)]
    sizes = (14, 15, 16, 17)
    won = [{s: True for s in sizes}, {14: False, 15: True, 16: True, 17: False}]
    # per size, each model's cosine on three sets: at 15 px x4 is ahead on every set,
    # at 16 px x8 is ahead on two of three
    cos_at = {14: [[0.90] * 3, [0.80] * 3], 15: [[0.91] * 3, [0.90] * 3],
              16: [[0.90, 0.92, 0.90], [0.91, 0.91, 0.91]], 17: [[0.92] * 3, [0.80] * 3]}
    suggest_ranges(variants, won, cos_at, "face_sizes")
    out = capsys.readouterr().out
    assert "x4 w=0.5: [13.5, 17.5]" in out and "x8 w=0.25: [14.5, 16.5]" in out
    # at 15 px the pipeline would pick x8 (input nearest) though x4 is ahead: flagged;
    # at 16 px it picks x8, which is ahead: not flagged
    assert "at 15 px the pipeline picks x8 (input nearest) but x4 is ahead on 3 of 3 sets" in out
    assert "at 16 px" not in out


def test_candidates_for_one_input_are_compared_not_picked_between(capsys):
    # two x4 runs beside x8: the pipeline would hold one x4, so no pick check among them
    a, b, x8 = _model("x4", 4, 32), _model("x4", 4, 32), _model("x8", 8, 16)
    variants = [(a, 0.5), (b, 0.5), (x8, 0.25)]
    won = [{15: True, 16: True}, {15: True, 16: True}, {15: True, 16: True}]
    cos_at = {15: [[0.90] * 3, [0.91] * 3, [0.80] * 3], 16: [[0.90] * 3, [0.92] * 3, [0.80] * 3]}
    suggest_ranges(variants, won, cos_at, "face_sizes")
    assert "the pipeline picks" not in capsys.readouterr().out


def test_candidates_of_one_name_get_their_file_in_the_column_name():
    names = distinct_names(["x4", "x4", "x8"], [Path("w/facesr_edge_x4.keras"),
                                                 Path("runs/x4-v5-longer/generator.keras"),
                                                 Path("w/facesr_edge_x8.keras")])
    assert names == ["x4 (facesr_edge_x4)", "x4 (x4-v5-longer)", "x8"]


def test_worst_faces_ranks_each_face_by_its_gain_averaged_over_the_sizes():
    # two sets, two sizes: a face below bicubic at one size but far above at the other is not
    # among the worst; the one a little below at both sizes is, and lowest first
    per_size = {"ids": [np.array([-0.01, 0.02, -0.03]), np.array([-0.01, 0.01, 0.05])],
                "heldout": [np.array([0.00, -0.02]), np.array([0.01, -0.01])]}
    names = {"ids": ["a.jpg", "b.jpg", "c.jpg"], "heldout": ["d.jpg", "e.jpg"]}
    worst = worst_faces(per_size, names, 2)
    assert [(s, n, b, k) for s, n, _, b, k in worst] == [("heldout", "e.jpg", 2, 2), ("ids", "a.jpg", 2, 2)]
    assert np.isclose(worst[0][2], -0.015) and np.isclose(worst[1][2], -0.01)
    assert [n for _, n, *_ in worst_faces(per_size, names, 10)][-1] == "b.jpg"
