"""Uniform segmentation: a segment every ``frames`` frames (a fixed rate), mean-pooled.

The trivial baseline of segmentation studies: it uses no acoustics at all, so any segmenter
should beat its boundary F1; at 4 frames (80 ms, about one English phone) it also gives the GAN
roughly one segment per phone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from segmentation.base import SEGMENTERS, Segmentation, Segmenter, batch_segmentation, pool_segments
from unsup_asr.io import atomic_write_json


@dataclass(kw_only=True)
class UniformConfig:
    """Configuration of the uniform segmenter."""

    name: str = "uniform"
    """Registry name."""
    frames: int = 4
    """Segment length in frames (4 frames of 20 ms = 80 ms); the last segment may be shorter."""
    pooling: str = "mean"
    """Segment embedding: ``mean`` of the segment's frames, or ``sample`` (middle frame)."""

    def validate(self) -> None:
        if self.frames < 1:
            raise ValueError(f"segmenter.frames must be >= 1, got {self.frames}")
        if self.pooling not in ("mean", "sample"):
            raise ValueError(f"segmenter.pooling must be 'mean' or 'sample', got {self.pooling!r}")


@SEGMENTERS.register("uniform", config=UniformConfig)
class UniformSegmenter(Segmenter):
    """A boundary every ``cfg.frames`` frames; embeddings are the pooled input features."""

    def __init__(self, cfg: UniformConfig) -> None:
        cfg.validate()
        self.cfg = cfg
        self.out_dim = 0

    def fit(self, feats: Sequence[np.ndarray]) -> None:
        """Nothing to learn; records the feature dimension (the embedding size)."""
        if not feats:
            raise ValueError("uniform segmenter: no training utterances")
        self.out_dim = int(feats[0].shape[1])

    def segment_one(self, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``feats (T, D)`` -> ``(boundaries (T,) bool, embeddings (S, D))``."""
        bounds = np.zeros(feats.shape[0], dtype=bool)
        bounds[:: self.cfg.frames] = True
        return bounds, pool_segments(feats, bounds, self.cfg.pooling)

    def __call__(self, feats: torch.Tensor, lens: torch.Tensor) -> Segmentation:
        arr = feats.detach().cpu().float().numpy()
        self.out_dim = int(arr.shape[2])
        return batch_segmentation([self.segment_one(arr[b, : int(n)]) for b, n in enumerate(lens.tolist())],
                                  feats.shape[1])

    def save(self, path: Path) -> None:
        atomic_write_json(path.with_suffix(".json"), {"frames": self.cfg.frames, "out_dim": self.out_dim})
