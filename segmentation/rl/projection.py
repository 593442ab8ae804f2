"""How frames become the GAN's segment embeddings: a linear frame projection, then pooling per segment.

The RL segmenter only moves boundaries; to feed the existing generator inputs it was trained on,
its segment embeddings are computed exactly as the segmenter it starts from computes them. For
``kmeans_join`` that is its PCA (``(x - mean) @ proj``, float32) followed by
:func:`segmentation.base.pool_segments` with its ``pooling``; for ``uniform`` the identity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from segmentation.base import Segmenter, pool_segments
from segmentation.kmeans_join import KMeansJoinSegmenter
from segmentation.uniform import UniformSegmenter


@dataclass(frozen=True)
class FrameProjection:
    """``(T, D)`` frames -> ``(T, D')`` projected frames -> ``(S, D')`` pooled segment embeddings."""

    mean: np.ndarray
    """``(D,)`` float32 subtracted from every frame."""
    proj: np.ndarray
    """``(D, D')`` float32 projection matrix."""
    pooling: str
    """``mean`` or ``sample`` (see :func:`segmentation.base.pool_segments`)."""

    @property
    def in_dim(self) -> int:
        """Frame feature dimension D."""
        return int(self.proj.shape[0])

    @property
    def out_dim(self) -> int:
        """Segment embedding dimension D'."""
        return int(self.proj.shape[1])

    def project(self, feats: np.ndarray) -> np.ndarray:
        """``feats (T, D)`` -> ``(T, D')`` float32 (the same arithmetic as ``KMeansJoinSegmenter.project``)."""
        if feats.ndim != 2 or feats.shape[1] != self.in_dim:
            raise ValueError(f"frame features must have shape (T, {self.in_dim}), got {feats.shape}: "
                             "use the features the starting segmenter was fitted on")
        return np.asarray((feats - self.mean) @ self.proj, dtype=np.float32)

    def embed(self, feats: np.ndarray, boundaries: np.ndarray) -> np.ndarray:
        """Segment embeddings ``(S, D')`` of ``feats (T, D)`` for ``boundaries (T,)`` bool."""
        return pool_segments(self.project(feats), boundaries, self.pooling)

    def state(self) -> dict[str, torch.Tensor | str]:
        """A ``torch.save``-able (``weights_only``) description; :meth:`from_state` rebuilds it."""
        return {"mean": torch.from_numpy(self.mean.copy()), "proj": torch.from_numpy(self.proj.copy()),
                "pooling": self.pooling}

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor | str]) -> FrameProjection:
        mean, proj, pooling = state["mean"], state["proj"], state["pooling"]
        if not isinstance(mean, torch.Tensor) or not isinstance(proj, torch.Tensor) or not isinstance(pooling, str):
            raise ValueError("not a FrameProjection state: expected tensors 'mean', 'proj' and a string 'pooling'")
        return cls(mean=mean.numpy(), proj=proj.numpy(), pooling=pooling)

    @classmethod
    def from_segmenter(cls, seg: Segmenter, dim: int) -> FrameProjection:
        """The projection of a fitted ``kmeans_join`` (its PCA) or ``uniform`` (identity over ``dim`` features)."""
        if isinstance(seg, KMeansJoinSegmenter):
            if seg.mean is None or seg.proj is None:
                raise ValueError("the kmeans_join segmenter is not fitted: load() its segmenter.npz first")
            return cls(mean=seg.mean.astype(np.float32), proj=seg.proj.astype(np.float32), pooling=seg.cfg.pooling)
        if isinstance(seg, UniformSegmenter):
            return cls(mean=np.zeros(dim, np.float32), proj=np.eye(dim, dtype=np.float32), pooling=seg.cfg.pooling)
        raise ValueError(f"the RL segmenter starts from a kmeans_join or uniform segmentation, not {type(seg).__name__}"
                         ": its segment embeddings must be reproducible from boundaries")
