"""Evaluation metrics: PER/WER, boundary detection scores and the unsupervised selection metric.

``unsupervised`` (which needs kenlm) is not imported here; import it from its module.
"""

from unsup_asr.metrics.boundary import (
    BoundaryScores,
    alignment_boundaries,
    boundary_scores,
    segments_per_second,
)
from unsup_asr.metrics.edit import EditOps, ErrorRate, edit_ops, error_rate, per, wer

__all__ = [
    "BoundaryScores",
    "EditOps",
    "ErrorRate",
    "alignment_boundaries",
    "boundary_scores",
    "edit_ops",
    "error_rate",
    "per",
    "segments_per_second",
    "wer",
]
