"""Phone-boundary detection scores: precision, recall, F1, over-segmentation and R-value.

Inputs are, per utterance, lists of boundary times in **seconds**; the tolerance is given in
**milliseconds** (default 20 ms, i.e. one 20 ms SSL frame or two 10 ms frames as in Kreuk et al.
2020). A predicted boundary ``h`` and a reference boundary ``r`` match when ``|h - r| <= tolerance``
(plus 1e-9 s, so that frame-derived times such as 0.04 - 0.02 are not lost to float rounding).
Counts are summed over the corpus before the ratios are taken (micro-average), as both reference
implementations do.

**Internal boundaries only.** Both lists must hold the *internal* boundaries of each utterance:
the utterance start (t = 0, or the first phone's onset) and end are excluded, because every
segmenter gets them for free and they would inflate all scores. :func:`alignment_boundaries`
builds such a list from a gold phone alignment; a predicted segmentation must likewise drop its
first segment's start and its last segment's end.

Two matching schemes, following the ambiguity documented by Strgar & Harwath (SLT 2022):

* ``"harsh"`` (Strgar & Harwath): one-to-one matching. Each reference boundary matches at most
  one predicted boundary and vice versa, and the number of matches is the *maximum* possible
  (computed by a two-pointer scan over both sorted lists, which is optimal on a line because the
  tolerance windows are intervals). Precision = matches / #predicted, recall = matches / #reference.
* ``"lenient"`` (Kreuk et al. 2020, ``felixkreuk/UnsupSeg``): precision and recall are counted
  separately. A predicted boundary is a hit if *any* reference lies within tolerance, and a
  reference is found if *any* prediction lies within tolerance, so several predictions near one
  reference all count as hits (lenient scores are >= harsh scores).

From precision P and recall R: F1 = 2PR / (P + R); over-segmentation OS = R / P - 1; and the
R-value (Räsänen et al. 2009) = 1 - (|r1| + |r2|) / 2 with r1 = sqrt((1 - R)^2 + OS^2) and
r2 = (-OS + R - 1) / sqrt(2). A perfect segmentation has F1 = R-value = 1 and OS = 0. When there
are no hits, P = R = 0 and OS falls back to #predicted / #reference - 1 (what R / P - 1 equals
under one-to-one matching), so a segmenter that predicts nothing gets OS = -1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

_EPS_S = 1e-9
"""Slack (seconds) added to the tolerance against float rounding of frame-derived times."""


@dataclass(frozen=True)
class BoundaryScores:
    """Corpus-level boundary detection scores (fractions in [0, 1] except ``os``)."""

    precision: float
    """Hit predicted boundaries / predicted boundaries."""
    recall: float
    """Found reference boundaries / reference boundaries."""
    f1: float
    """Harmonic mean of precision and recall."""
    os: float
    """Over-segmentation ``recall / precision - 1`` (> 0: too many boundaries)."""
    r_value: float
    """R-value (Räsänen et al. 2009); 1 for a perfect segmentation."""
    num_ref: int
    """Number of reference boundaries in the corpus."""
    num_hyp: int
    """Number of predicted boundaries in the corpus."""


def _one_to_one_matches(ref: np.ndarray, hyp: np.ndarray, tol: float) -> int:
    """Maximum number of one-to-one matches between sorted 1-D arrays ``ref`` and ``hyp``."""
    i = j = matches = 0
    while i < len(ref) and j < len(hyp):
        if abs(hyp[j] - ref[i]) <= tol:
            matches += 1
            i += 1
            j += 1
        elif hyp[j] < ref[i]:
            j += 1
        else:
            i += 1
    return matches


def _num_near(points: np.ndarray, others: np.ndarray, tol: float) -> int:
    """How many of ``points`` have at least one of the sorted ``others`` within ``tol``."""
    if len(points) == 0 or len(others) == 0:
        return 0
    idx = np.searchsorted(others, points)
    left = others[np.clip(idx - 1, 0, len(others) - 1)]
    right = others[np.clip(idx, 0, len(others) - 1)]
    nearest = np.minimum(np.abs(points - left), np.abs(points - right))
    return int((nearest <= tol).sum())


def _r_value(recall: float, os: float) -> float:
    r1 = math.sqrt((1.0 - recall) ** 2 + os**2)
    r2 = (-os + recall - 1.0) / math.sqrt(2.0)
    return 1.0 - (abs(r1) + abs(r2)) / 2.0


def boundary_scores(
    refs: Sequence[Sequence[float]],
    hyps: Sequence[Sequence[float]],
    *,
    tolerance_ms: float = 20.0,
    mode: Literal["harsh", "lenient"] = "harsh",
) -> BoundaryScores:
    """Score predicted boundaries against reference boundaries over a corpus.

    Args:
        refs: per utterance, internal reference boundary times in seconds (any order).
        hyps: per utterance (same order as ``refs``), internal predicted boundary times in seconds.
        tolerance_ms: matching tolerance in milliseconds.
        mode: ``"harsh"`` (one-to-one) or ``"lenient"`` (Kreuk-style); see the module docstring.
    """
    if len(refs) != len(hyps):
        raise ValueError(
            f"got {len(refs)} reference utterances but {len(hyps)} predicted: pass one list per utterance"
        )
    if tolerance_ms < 0 or not math.isfinite(tolerance_ms):
        raise ValueError(f"tolerance_ms must be a finite number >= 0, got {tolerance_ms}")
    if mode not in ("harsh", "lenient"):
        raise ValueError(f"mode must be 'harsh' or 'lenient', got {mode!r}")
    tol = tolerance_ms / 1000.0 + _EPS_S
    num_ref = num_hyp = ref_hits = hyp_hits = 0
    for ref_times, hyp_times in zip(refs, hyps, strict=True):
        ref = np.sort(np.asarray(ref_times, dtype=np.float64))
        hyp = np.sort(np.asarray(hyp_times, dtype=np.float64))
        num_ref += len(ref)
        num_hyp += len(hyp)
        if mode == "harsh":
            matches = _one_to_one_matches(ref, hyp, tol)
            ref_hits += matches
            hyp_hits += matches
        else:
            ref_hits += _num_near(ref, hyp, tol)
            hyp_hits += _num_near(hyp, ref, tol)
    if num_ref == 0:
        raise ValueError(
            f"no reference boundaries in {len(refs)} utterances: boundary scores are undefined; "
            "check that the gold alignments were loaded (single-phone utterances have none)"
        )
    precision = hyp_hits / num_hyp if num_hyp else 0.0
    recall = ref_hits / num_ref
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    os = recall / precision - 1.0 if precision > 0 else num_hyp / num_ref - 1.0
    return BoundaryScores(
        precision=precision,
        recall=recall,
        f1=f1,
        os=os,
        r_value=_r_value(recall, os),
        num_ref=num_ref,
        num_hyp=num_hyp,
    )


def segments_per_second(num_segments: int, total_seconds: float) -> float:
    """Segment frequency: segments per second of audio (phones are ~10-15 per second)."""
    if total_seconds <= 0:
        raise ValueError(f"total_seconds must be > 0, got {total_seconds}: pass the summed audio duration")
    return num_segments / total_seconds


def alignment_boundaries(alignment: Sequence[tuple[float, float, str]]) -> list[float]:
    """Internal boundary times (seconds) of a gold segmentation ``[(start_s, end_s, label), ...]``.

    Every segment start except the first one, sorted, with boundaries closer than 1e-6 s merged.
    The utterance start and end are not boundaries (see the module docstring).
    """
    starts = sorted(start for start, _, _ in alignment)
    out: list[float] = []
    for t in starts[1:]:
        if t - starts[0] > 1e-6 and (not out or t - out[-1] > 1e-6):
            out.append(float(t))
    return out
