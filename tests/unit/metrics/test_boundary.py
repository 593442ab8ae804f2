"""Tests for boundary precision/recall/F1/OS/R-value (harsh and lenient)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from unsup_asr.metrics.boundary import alignment_boundaries, boundary_scores, segments_per_second


def test_perfect_segmentation() -> None:
    refs = [[0.1, 0.25, 0.4], [0.5]]
    for mode in ("harsh", "lenient"):
        s = boundary_scores(refs, refs, mode=mode)
        assert (s.precision, s.recall, s.f1, s.os, s.r_value) == (1.0, 1.0, 1.0, 0.0, 1.0)
        assert (s.num_ref, s.num_hyp) == (4, 4)


def test_tolerance_in_ms_with_float_slack() -> None:
    ref, hyp = [[0.10]], [[0.12]]  # exactly 20 ms apart (not exactly representable)
    assert boundary_scores(ref, hyp, tolerance_ms=20).f1 == 1.0
    assert boundary_scores(ref, hyp, tolerance_ms=19).f1 == 0.0


def test_shifted_beyond_tolerance() -> None:
    s = boundary_scores([[0.1, 0.3]], [[0.15, 0.35]], tolerance_ms=20)
    assert (s.precision, s.recall, s.f1) == (0.0, 0.0, 0.0)
    assert s.os == 0.0  # fallback: 2 predicted / 2 reference - 1
    assert s.r_value == pytest.approx(1 - (1 + 1 / math.sqrt(2)) / 2)


def test_one_to_many_harsh_vs_lenient() -> None:
    # two predictions around one reference, and one reference nobody predicted
    refs, hyps = [[0.20, 0.50]], [[0.19, 0.21]]
    harsh = boundary_scores(refs, hyps, mode="harsh")
    assert (harsh.precision, harsh.recall) == (0.5, 0.5)
    assert harsh.os == pytest.approx(0.0)
    lenient = boundary_scores(refs, hyps, mode="lenient")
    assert (lenient.precision, lenient.recall) == (1.0, 0.5)
    assert lenient.f1 == pytest.approx(2 / 3)
    assert lenient.os == pytest.approx(-0.5)
    r1 = math.sqrt(0.5**2 + 0.5**2)
    r2 = (0.5 + 0.5 - 1) / math.sqrt(2)
    assert lenient.r_value == pytest.approx(1 - (r1 + abs(r2)) / 2)


def test_corpus_counts_are_pooled() -> None:
    s = boundary_scores([[0.1], [0.2, 0.4, 0.6]], [[0.1, 0.3], [0.2]], mode="harsh")
    assert (s.num_ref, s.num_hyp) == (4, 3)
    assert s.precision == pytest.approx(2 / 3) and s.recall == pytest.approx(2 / 4)


def test_harsh_matching_is_maximal() -> None:
    rng = random.Random(0)
    tol_ms = 20.0
    for _ in range(200):
        ref = sorted(rng.uniform(0, 0.3) for _ in range(rng.randint(1, 8)))
        hyp = sorted(rng.uniform(0, 0.3) for _ in range(rng.randint(1, 8)))
        cost = (np.abs(np.subtract.outer(ref, hyp)) > tol_ms / 1000 + 1e-9).astype(float)
        rows, cols = linear_sum_assignment(cost)
        best = int((cost[rows, cols] == 0).sum())
        s = boundary_scores([ref], [hyp], tolerance_ms=tol_ms, mode="harsh")
        assert round(s.recall * len(ref)) == best
        lenient = boundary_scores([ref], [hyp], tolerance_ms=tol_ms, mode="lenient")
        assert lenient.precision >= s.precision and lenient.recall >= s.recall


def test_no_predictions_and_errors() -> None:
    s = boundary_scores([[0.1, 0.2]], [[]])
    assert (s.precision, s.recall, s.f1, s.os) == (0.0, 0.0, 0.0, -1.0)
    with pytest.raises(ValueError, match="no reference boundaries"):
        boundary_scores([[]], [[0.1]])
    with pytest.raises(ValueError, match="2 reference utterances but 1"):
        boundary_scores([[0.1], [0.2]], [[0.1]])
    with pytest.raises(ValueError, match="mode"):
        boundary_scores([[0.1]], [[0.1]], mode="strict")  # type: ignore[arg-type]


def test_alignment_boundaries_and_rate() -> None:
    # a zero-length segment ("q") gives a near-duplicate start that is merged
    ali = [(0.0, 0.1, "h#"), (0.1, 0.25, "ae"), (0.25, 0.25, "q"), (0.2500000001, 0.4, "t"), (0.4, 0.6, "h#")]
    assert alignment_boundaries(ali) == [0.1, 0.25, 0.4]
    assert alignment_boundaries([(0.0, 1.0, "sil")]) == []
    assert segments_per_second(30, 2.5) == 12.0
    with pytest.raises(ValueError, match="total_seconds"):
        segments_per_second(3, 0.0)
