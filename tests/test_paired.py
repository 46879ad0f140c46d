"""benchmarks/paired.py: the worse-than-bicubic rule and its chance rate."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from paired import chance_worse, paired_gain  # noqa: E402


def test_a_face_clearly_below_bicubic_is_worse_and_unlikely_by_chance():
    g = paired_gain(np.array([-0.010, -0.012, -0.008, -0.011, -0.009, -0.010, -0.013, -0.007]))
    assert g.worse and not g.better
    assert g.mean == pytest.approx(-0.01)
    # only sign patterns with almost every draw negative meet the rule: 10 of 256
    assert g.chance == pytest.approx(10 / 256)


@pytest.mark.parametrize("draws", [8, 24])
def test_chance_rate_matches_how_often_the_rule_flags_faces_that_do_not_differ(draws):
    rng = np.random.default_rng(1)
    faces = [paired_gain(rng.normal(0.0, 0.003, draws), seed=i) for i in range(1500)]
    flagged = np.mean([f.worse for f in faces])
    expected = np.mean([f.chance for f in faces])
    assert 0.01 < expected < 0.08  # near a t test's 2-SE tail, not 0 nor 1/2
    assert flagged == pytest.approx(expected, abs=0.015)
    assert np.mean([f.better for f in faces]) == pytest.approx(expected, abs=0.015)  # symmetric


def test_draws_that_did_not_count_are_left_out():
    g = paired_gain(np.array([0.004, np.nan, 0.006, 0.005, np.nan]))
    assert g.mean == pytest.approx(0.005) and g.better
    one = paired_gain(np.array([-0.02, np.nan]))
    assert (one.mean, one.se, one.chance) == (-0.02, 0.0, 0.0)  # no spread from one draw
    assert chance_worse(np.full(4, 0.01)) == pytest.approx(1 / 16)  # exact: all four flipped
