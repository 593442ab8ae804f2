"""The wav2vec-U baseline segmenter: PCA, k-means on frames, merge runs of equal cluster ids.

Fit: PCA (to ``pca_dim``) and k-means (``num_clusters``, :mod:`unsup_asr.kmeans`) on up to
``max_fit_frames`` random training frames. Apply: each frame gets its nearest centroid; a segment
starts wherever the cluster id changes (wav2vec-U's JOIN), optionally absorbing runs shorter than
``min_frames`` into the previous segment; each segment's embedding is the mean of its PCA-projected
frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from segmentation.base import SEGMENTERS, Segmentation, Segmenter, batch_segmentation, pool_segments
from unsup_asr.io import atomic_write
from unsup_asr.kmeans import fit_kmeans


@dataclass(kw_only=True)
class KMeansJoinConfig:
    """Configuration of the k-means-join segmenter."""

    name: str = "kmeans_join"
    """Registry name."""
    pca_dim: int = 64
    """PCA output dimension (wav2vec-U: 512 for 1024-dim SSL features); also the embedding size."""
    num_clusters: int = 128
    """Number of k-means clusters (wav2vec-U: 128)."""
    min_frames: int = 1
    """Runs shorter than this many frames are merged into the previous segment (1 = plain JOIN)."""
    pooling: str = "mean"
    """Segment embedding: ``mean`` of the segment's PCA frames, or ``sample`` (middle frame)."""
    max_fit_frames: int = 300_000
    """At most this many random frames are used to fit PCA and k-means."""
    kmeans_iters: int = 25
    """k-means iterations."""
    seed: int = 0
    """Random seed for frame sampling and k-means."""

    def validate(self) -> None:
        if self.pca_dim < 1 or self.num_clusters < 2 or self.min_frames < 1:
            raise ValueError("kmeans_join needs pca_dim >= 1, num_clusters >= 2, min_frames >= 1")
        if self.pooling not in ("mean", "sample"):
            raise ValueError(f"segmenter.pooling must be 'mean' or 'sample', got {self.pooling!r}")


@SEGMENTERS.register("kmeans_join", config=KMeansJoinConfig)
class KMeansJoinSegmenter(Segmenter):
    """wav2vec-U's JOIN segmenter over PCA + k-means clusters."""

    def __init__(self, cfg: KMeansJoinConfig) -> None:
        cfg.validate()
        self.cfg = cfg
        self.out_dim = cfg.pca_dim
        self.mean: np.ndarray | None = None
        self.proj: np.ndarray | None = None
        self.centroids: np.ndarray | None = None

    def fit(self, feats: Sequence[np.ndarray]) -> None:
        cfg = self.cfg
        rng = np.random.default_rng(cfg.seed)
        total = sum(f.shape[0] for f in feats)
        keep = min(1.0, cfg.max_fit_frames / max(total, 1))
        sample = np.concatenate([f[rng.random(f.shape[0]) < keep] for f in feats]).astype(np.float32)
        if sample.shape[0] < cfg.num_clusters:
            raise ValueError(
                f"only {sample.shape[0]} training frames for {cfg.num_clusters} clusters; "
                "use more audio or fewer clusters"
            )
        dim_in = sample.shape[1]
        pca_dim = min(cfg.pca_dim, dim_in)
        self.mean = sample.mean(0)
        centred = sample - self.mean
        # PCA by SVD of the covariance; keep the top components (whitening off, as wav2vec-U's pca.py).
        cov = centred.T @ centred / centred.shape[0]
        _, eigvec = np.linalg.eigh(cov.astype(np.float64))
        self.proj = eigvec[:, ::-1][:, :pca_dim].astype(np.float32)
        self.out_dim = pca_dim
        x = np.ascontiguousarray(centred @ self.proj)
        self.centroids = fit_kmeans(x, cfg.num_clusters, iters=cfg.kmeans_iters, seed=cfg.seed)

    def _require_fit(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.mean is None or self.proj is None or self.centroids is None:
            raise RuntimeError("kmeans_join segmenter is not fitted: call fit() or load() first")
        return self.mean, self.proj, self.centroids

    def project(self, feats: np.ndarray) -> np.ndarray:
        """PCA-project ``feats (T, D)`` -> ``(T, pca_dim)``."""
        mean, proj, _ = self._require_fit()
        return np.asarray((feats - mean) @ proj, dtype=np.float32)

    def cluster_ids(self, projected: np.ndarray) -> np.ndarray:
        """Nearest centroid per frame ``(T,)`` of PCA-projected frames ``(T, pca_dim)``."""
        _, _, cent = self._require_fit()
        d = (projected**2).sum(1, keepdims=True) - 2 * projected @ cent.T + (cent**2).sum(1)[None]
        return np.asarray(d.argmin(1))

    def segment_one(self, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``feats (T, D)`` -> ``(boundaries (T,) bool, embeddings (S, pca_dim))``."""
        x = self.project(feats)
        ids = self.cluster_ids(x)
        bounds = np.ones(ids.shape[0], dtype=bool)
        bounds[1:] = ids[1:] != ids[:-1]
        if self.cfg.min_frames > 1:
            bounds = merge_short_runs(bounds, self.cfg.min_frames)
        return bounds, pool_segments(x, bounds, self.cfg.pooling)

    def __call__(self, feats: torch.Tensor, lens: torch.Tensor) -> Segmentation:
        arr = feats.detach().cpu().float().numpy()
        per_utt = [self.segment_one(arr[b, : int(n)]) for b, n in enumerate(lens.tolist())]
        return batch_segmentation(per_utt, feats.shape[1])

    def save(self, path: Path) -> None:
        mean, proj, cent = self._require_fit()
        atomic_write(
            path,
            lambda p: np.savez(p.open("wb"), mean=mean, proj=proj, centroids=cent, config=str(asdict(self.cfg))),
        )

    def load(self, path: Path) -> None:
        if not Path(path).is_file():
            raise FileNotFoundError(f"segmenter state {path} not found; run the segment stage's fit first")
        z = np.load(path)
        self.mean, self.proj, self.centroids = z["mean"], z["proj"], z["centroids"]
        self.out_dim = int(self.proj.shape[1])


def merge_short_runs(bounds: np.ndarray, min_frames: int) -> np.ndarray:
    """Drop segment starts so that every segment (but possibly the first) spans ``>= min_frames``."""
    out = np.zeros_like(bounds)
    out[0] = True
    last = 0
    starts = np.flatnonzero(bounds)
    ends = np.append(starts[1:], bounds.shape[0])
    for s, e in zip(starts[1:], ends[1:], strict=True):
        if s - last >= min_frames and e - s >= min_frames:
            out[s] = True
            last = s
    return out
