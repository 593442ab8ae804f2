"""Spectral-change peak segmenter: a boundary at each prominent peak of the frame-to-frame distance.

Each utterance's frames are mean- and variance-normalised (per utterance, per dimension), the
Euclidean distance between consecutive frames is divided by its largest value in the utterance,
and ``scipy.signal.find_peaks`` keeps peaks of at least ``prominence`` that are ``min_frames``
apart. Peak picking on a spectral-change curve is a strong unsupervised phone-boundary baseline
(Yang & Tang 2024, arXiv 2409.09646, on Mel spectrograms). Embedding of a segment: the mean of its
normalised frames, optionally spliced with ``splice`` neighbours on each side first and
PCA-projected (PCA fitted on training frames).

On the demo corpus (log-mel) it finds about one segment per phone with boundary F1 0.80 against
0.78 for the k-means join at the same rate (recipes/demo/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.signal import find_peaks

from segmentation.base import SEGMENTERS, Segmentation, Segmenter, batch_segmentation, pool_segments
from unsup_asr.io import atomic_write


@dataclass(kw_only=True)
class PeaksConfig:
    """Configuration of the spectral-change peak segmenter."""

    name: str = "peaks"
    """Registry name."""
    prominence: float = 0.02
    """Minimum peak prominence, relative to the utterance's largest frame-to-frame distance."""
    min_frames: int = 2
    """Minimum distance between two boundaries in frames (scipy's ``distance``)."""
    smooth: int = 1
    """Width in frames of a moving average applied to the distance curve (1 = none)."""
    splice: int = 0
    """Embed each frame with this many neighbours on each side (edge-padded) before pooling."""
    pca_dim: int = 0
    """Embedding size by PCA of the (spliced) normalised frames (fitted on training frames); 0 = no PCA."""
    max_fit_frames: int = 200_000
    """At most this many random training frames fit the PCA."""
    seed: int = 0
    """Seed of the frame sample for the PCA."""

    def validate(self) -> None:
        if not 0.0 <= self.prominence < 1.0:
            raise ValueError(f"segmenter.prominence must be in [0, 1), got {self.prominence}")
        if self.min_frames < 1 or self.smooth < 1 or self.pca_dim < 0 or self.max_fit_frames < 1 or self.splice < 0:
            raise ValueError("peaks needs min_frames >= 1, smooth >= 1, splice >= 0, pca_dim >= 0, max_fit_frames >= 1")


def normalise(feats: np.ndarray) -> np.ndarray:
    """Per-utterance mean and variance normalisation of ``feats (T, D)`` (float32)."""
    x = np.asarray(feats, dtype=np.float32)
    return np.asarray((x - x.mean(0)) / (x.std(0) + 1e-5), dtype=np.float32)


def splice(x: np.ndarray, context: int) -> np.ndarray:
    """``(T, D)`` -> ``(T, (2 context + 1) D)``: each frame with ``context`` neighbours on each side (edge-padded)."""
    if not context:
        return x
    padded = np.pad(x, ((context, context), (0, 0)), mode="edge")
    return np.concatenate([padded[j : j + len(x)] for j in range(2 * context + 1)], axis=1)


@SEGMENTERS.register("peaks", config=PeaksConfig)
class PeaksSegmenter(Segmenter):
    """Boundaries at prominent peaks of the normalised spectral change (module docstring)."""

    def __init__(self, cfg: PeaksConfig) -> None:
        cfg.validate()
        self.cfg = cfg
        self.out_dim = cfg.pca_dim
        self.mean: np.ndarray | None = None
        self.proj: np.ndarray | None = None

    def fit(self, feats: Sequence[np.ndarray]) -> None:
        if not self.cfg.pca_dim:
            return
        rng = np.random.default_rng(self.cfg.seed)
        total = sum(f.shape[0] for f in feats)
        keep = min(1.0, self.cfg.max_fit_frames / max(total, 1))
        sample = np.concatenate([splice(normalise(f), self.cfg.splice)[rng.random(f.shape[0]) < keep] for f in feats])
        self.mean = sample.mean(0)
        centred = sample - self.mean
        _, eigvec = np.linalg.eigh((centred.T @ centred / len(centred)).astype(np.float64))
        self.proj = eigvec[:, ::-1][:, : min(self.cfg.pca_dim, sample.shape[1])].astype(np.float32)
        self.out_dim = self.proj.shape[1]

    def boundaries(self, x: np.ndarray) -> np.ndarray:
        """``(T,)`` bool: True where a segment starts, for normalised frames ``x (T, D)``."""
        bounds = np.zeros(len(x), dtype=bool)
        bounds[0] = True
        if len(x) < 3:
            return bounds
        dist = np.r_[0.0, np.linalg.norm(np.diff(x, axis=0), axis=1)]
        if self.cfg.smooth > 1:
            dist = np.convolve(dist, np.ones(self.cfg.smooth) / self.cfg.smooth, mode="same")
        dist = dist / max(float(dist.max()), 1e-9)
        peaks, _ = find_peaks(dist, prominence=self.cfg.prominence, distance=self.cfg.min_frames)
        bounds[peaks] = True
        return bounds

    def segment_one(self, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``feats (T, D)`` -> ``(boundaries (T,) bool, embeddings (S, D'))``."""
        x = normalise(feats)
        bounds = self.boundaries(x)
        x = splice(x, self.cfg.splice)
        if self.cfg.pca_dim:
            if self.mean is None or self.proj is None:
                raise RuntimeError("peaks segmenter with pca_dim > 0 is not fitted: call fit() or load() first")
            x = np.asarray((x - self.mean) @ self.proj, dtype=np.float32)
        return bounds, pool_segments(x, bounds)

    def __call__(self, feats: torch.Tensor, lens: torch.Tensor) -> Segmentation:
        arr = feats.detach().cpu().float().numpy()
        per_utt = [self.segment_one(arr[b, : int(n)]) for b, n in enumerate(lens.tolist())]
        self.out_dim = per_utt[0][1].shape[1]
        return batch_segmentation(per_utt, feats.shape[1])

    def save(self, path: Path) -> None:
        mean, proj = self.mean, self.proj
        if mean is None or proj is None:
            return

        def write(p: Path) -> None:
            with p.open("wb") as f:
                np.savez(f, mean=mean, proj=proj)

        atomic_write(path, write)

    def load(self, path: Path) -> None:
        if not self.cfg.pca_dim:
            return
        if not Path(path).is_file():
            raise FileNotFoundError(f"segmenter state {path} not found; run the segment stage's fit first")
        with np.load(path) as z:
            self.mean, self.proj = z["mean"], z["proj"]
        self.out_dim = int(self.proj.shape[1])
