"""The ``rl`` segmenter: a trained boundary policy (``uasr rl-iterate``) applied deterministically.

A frame starts a segment where the policy's boundary probability exceeds ``threshold`` (frame 0
always does). Segment embeddings are pooled exactly as the segmenter the policy started from
pooled them (for ``kmeans_join``: its PCA, then the mean over the segment; see
:mod:`segmentation.rl.projection`), so the GAN's inputs stay comparable. Select it with
``segmenter=rl segmenter.policy=out/exp/rl/iter2/policy.pt``.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from segmentation.base import SEGMENTERS, Segmentation, Segmenter, batch_segmentation
from segmentation.rl.policy import greedy_boundaries, load_policy
from unsup_asr.io import atomic_write


@dataclass(kw_only=True)
class RlSegmenterConfig:
    """Configuration of the ``rl`` segmenter."""

    name: str = "rl"
    """Registry name."""
    policy: str = ""
    """Path of a trained policy, e.g. ``out/exp/rl/iter2/policy.pt`` (written by ``uasr rl-iterate``)."""
    threshold: float = 0.5
    """Boundary probability above which a frame starts a segment."""

    def validate(self) -> None:
        if not self.policy:
            raise ValueError("segmenter=rl needs segmenter.policy=PATH of a policy trained by `uasr rl-iterate` "
                             "(out/exp/rl/iter<i>/policy.pt)")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"segmenter.threshold must be in (0, 1), got {self.threshold}")


@SEGMENTERS.register("rl", config=RlSegmenterConfig)
class RlSegmenter(Segmenter):
    """Boundaries from a CNN policy over frame features; embeddings pooled like the starting segmenter's."""

    def __init__(self, cfg: RlSegmenterConfig) -> None:
        cfg.validate()
        self.cfg = cfg
        self._load_file(Path(cfg.policy))

    def fit(self, feats: Sequence[np.ndarray]) -> None:
        """Nothing to fit here: the policy is trained by ``uasr rl-iterate``."""

    @torch.no_grad()
    def boundaries(self, feats: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` bool boundaries of the padded batch ``feats (B, T, D)`` with ``lens (B,)`` frames."""
        if feats.ndim != 3 or feats.shape[2] != self.policy.input_dim:
            raise ValueError(f"features must have shape (B, T, {self.policy.input_dim}), got {tuple(feats.shape)}: "
                             "use the features the policy was trained on")
        valid = torch.arange(feats.shape[1])[None, :] < lens.cpu()[:, None]
        return greedy_boundaries(self.policy(feats.detach().cpu().float(), valid), valid, self.cfg.threshold)

    def __call__(self, feats: torch.Tensor, lens: torch.Tensor) -> Segmentation:
        bounds = self.boundaries(feats, lens).numpy()
        arr = feats.detach().cpu().float().numpy()
        per_utt = [(bounds[b, :n], self.projection.embed(arr[b, :n], bounds[b, :n]))
                   for b, n in enumerate(lens.tolist())]
        return batch_segmentation(per_utt, feats.shape[1])

    def save(self, path: Path) -> None:
        """Copy the policy file next to the segments (as ``<path stem>.pt``)."""
        atomic_write(Path(path).with_suffix(".pt"), lambda tmp: shutil.copyfile(self.cfg.policy, tmp))

    def load(self, path: Path) -> None:
        """Restore the policy saved by :meth:`save` (``<path stem>.pt``)."""
        self._load_file(Path(path).with_suffix(".pt"))

    def _load_file(self, path: Path) -> None:
        self.policy, self.projection = load_policy(path)
        self.out_dim = self.projection.out_dim
