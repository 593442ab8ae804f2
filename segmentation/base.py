"""The Segmenter interface, its output, and the SEGMENTERS registry.

A segmenter turns frame features into segments: it returns, per utterance, the frames that start a
segment (``boundaries``) and one embedding per segment. Because boundaries are always returned,
boundary precision/recall/F1 can be computed for every segmenter.

To add one: write a file with a config dataclass and a class decorated with
``@SEGMENTERS.register("my_seg", config=MySegConfig)``, and add its import to
``segmentation/__init__.py``. ``segmenter=my_seg segmenter.some_field=3`` then works on the
command line.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from unsup_asr.registry import Registry


@dataclass
class Segmentation:
    """Segments of a padded batch.

    Attributes:
        boundaries: ``(B, T)`` bool; ``True`` where a frame starts a segment (frame 0 always does).
        seg_embeddings: ``(B, S, D')`` float32, zero beyond ``seg_lens``.
        seg_lens: ``(B,)`` int64 number of segments per utterance.
    """

    boundaries: torch.Tensor
    seg_embeddings: torch.Tensor
    seg_lens: torch.Tensor

    def unbatch(self, frame_lens: torch.Tensor) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per utterance ``(boundaries (T_i,) bool, seg_embeddings (S_i, D'))`` numpy arrays."""
        out = []
        for b in range(self.boundaries.shape[0]):
            t, s = int(frame_lens[b]), int(self.seg_lens[b])
            out.append((self.boundaries[b, :t].cpu().numpy(), self.seg_embeddings[b, :s].cpu().numpy()))
        return out


class Segmenter(abc.ABC):
    """Frame features in, segments out."""

    out_dim: int
    """Dimension D' of the segment embeddings (valid after ``fit`` for fitted segmenters)."""

    def fit(self, feats: Sequence[np.ndarray]) -> None:  # noqa: B027 - optional hook
        """Train on unlabelled utterances ``feats[i] (T_i, D)``; segmenters without training skip this."""

    @abc.abstractmethod
    def __call__(self, feats: torch.Tensor, lens: torch.Tensor) -> Segmentation:
        """Segment a padded batch ``feats (B, T, D)`` with valid frames ``lens (B,)``."""

    def save(self, path: Path) -> None:  # noqa: B027 - stateless segmenters have nothing to save
        """Persist fitted state (atomically) to ``path``."""

    def load(self, path: Path) -> None:  # noqa: B027
        """Restore fitted state saved by :meth:`save`."""


SEGMENTERS: Registry[Segmenter] = Registry("segmenter")


def pool_segments(
    feats: np.ndarray, boundaries: np.ndarray, pooling: str = "mean"
) -> np.ndarray:
    """Pool ``feats (T, D)`` over the segments that start where ``boundaries (T,)`` is True.

    Returns ``(S, D)``; ``pooling`` is ``mean`` or ``sample`` (the middle frame).
    """
    starts = np.flatnonzero(boundaries)
    if starts.size == 0 or starts[0] != 0:
        raise ValueError("boundaries must mark frame 0 as the start of the first segment")
    ends = np.append(starts[1:], feats.shape[0])
    if pooling == "mean":
        sums = np.add.reduceat(feats.astype(np.float64), starts, axis=0)
        return np.asarray(sums / (ends - starts)[:, None], dtype=np.float32)
    if pooling == "sample":
        return np.asarray(feats[(starts + ends - 1) // 2], dtype=np.float32)
    raise ValueError(f"unknown pooling {pooling!r}; use 'mean' or 'sample'")


def batch_segmentation(per_utt: list[tuple[np.ndarray, np.ndarray]], max_frames: int) -> Segmentation:
    """Pad per-utterance ``(boundaries (T_i,), embeddings (S_i, D'))`` into a :class:`Segmentation`."""
    b = len(per_utt)
    dim = per_utt[0][1].shape[1]
    max_s = max(e.shape[0] for _, e in per_utt)
    bounds = torch.zeros(b, max_frames, dtype=torch.bool)
    embs = torch.zeros(b, max_s, dim)
    lens = torch.zeros(b, dtype=torch.long)
    for i, (bd, e) in enumerate(per_utt):
        bounds[i, : bd.shape[0]] = torch.from_numpy(bd)
        embs[i, : e.shape[0]] = torch.from_numpy(e)
        lens[i] = e.shape[0]
    return Segmentation(boundaries=bounds, seg_embeddings=embs, seg_lens=lens)
