"""Paired draws of one face: is SR worse than bicubic beyond the judge's noise?

A face is judged over several draws (re-alignments or shifted framings), SR and bicubic on the
same crops, so each draw gives one SR-minus-bicubic cosine. The face is **worse** when the mean
over its draws is below zero by more than twice its standard error (``better``: above zero by
as much). Over many faces the rule flags some by chance alone: ``chance_worse`` is the
probability that it flags a face whose SR and bicubic are interchangeable, found by flipping
the signs of the face's own draws at random (every sign pattern for up to 12 draws, else 4,096
sampled). Summed over faces, it is the count of worse faces expected if no face differed.
Used by ``solvay_faces.py`` and ``face_size_sweep.py --draws``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

EXACT_UP_TO = 12  # draws; 2**12 sign patterns
SAMPLED = 4096


@dataclass
class PairedGain:
    """One face's SR-minus-bicubic gain over its draws."""

    mean: float
    se: float  # standard error of the mean (0 from fewer than two draws)
    chance: float  # probability that the rule flags this face by chance (sign-flip null)

    @property
    def worse(self) -> bool:
        """Below bicubic beyond the judge's noise (two standard errors)."""
        return self.mean < -2 * self.se

    @property
    def better(self) -> bool:
        return self.mean > 2 * self.se


def paired_gain(draws: np.ndarray, seed: int = 0) -> PairedGain:
    """The gain of one face from its per-draw gains (NaN: a draw that did not count)."""
    g = np.asarray(draws, np.float64)
    g = g[~np.isnan(g)]
    if len(g) < 2:
        return PairedGain(float(g.mean()) if len(g) else float("nan"), 0.0, 0.0)
    se = float(g.std(ddof=1) / np.sqrt(len(g)))
    return PairedGain(float(g.mean()), se, chance_worse(g, seed))


def chance_worse(g: np.ndarray, seed: int = 0) -> float:
    """P(mean < -2 SE) over random sign flips of the draws ``g`` (the null: SR ~ bicubic)."""
    n = len(g)
    if n <= EXACT_UP_TO:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
    else:
        signs = np.random.default_rng(seed).choice((1.0, -1.0), size=(SAMPLED, n))
    x = signs * g
    return float(np.mean(x.mean(axis=1) < -2 * x.std(axis=1, ddof=1) / np.sqrt(n)))
