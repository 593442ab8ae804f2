"""Segmenters: the interface, the registry and the built-in implementations.

Note: PyPI has an unrelated distribution named ``segmentation``; this package is installed by the
``unsup-asr`` distribution.

Every implementation module is imported here, explicitly, so that it registers itself.
"""

from segmentation import aligned, kmeans_join, peaks, sawv, uniform
from segmentation.base import SEGMENTERS, Segmentation, Segmenter
from segmentation.rl import segmenter as rl_segmenter  # noqa: F401 - registers "rl" (a trained boundary policy)

__all__ = ["SEGMENTERS", "Segmentation", "Segmenter", "aligned", "kmeans_join", "peaks", "sawv", "uniform"]
