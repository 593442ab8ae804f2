"""k-means on frame features: the only module that imports faiss.

Used for SSL pre-training targets and cluster diagnostics (PNMI); the k-means-join segmenter
uses it too.
"""

from __future__ import annotations

import faiss
import numpy as np


def sample_frames(feats: list[np.ndarray], max_frames: int, rng: np.random.Generator) -> np.ndarray:
    """At most about ``max_frames`` frames drawn uniformly from utterances ``feats[i] (T_i, D)``,
    as one ``(N, D)`` float32 array."""
    total = sum(f.shape[0] for f in feats)
    keep = min(1.0, max_frames / max(total, 1))
    return np.concatenate([f[rng.random(f.shape[0]) < keep] for f in feats]).astype(np.float32)


def fit_kmeans(frames: np.ndarray, num_clusters: int, *, iters: int = 20, seed: int = 0) -> np.ndarray:
    """Centroids ``(K, D)`` float32 of k-means (Lloyd, faiss) on ``frames (N, D)``."""
    if frames.shape[0] < num_clusters:
        raise ValueError(f"only {frames.shape[0]} frames for {num_clusters} clusters; "
                         "use more audio or fewer clusters")
    km = faiss.Kmeans(frames.shape[1], num_clusters, niter=iters, seed=seed, verbose=False)
    km.train(np.ascontiguousarray(frames, dtype=np.float32))
    return np.array(km.centroids, dtype=np.float32)


def assign(frames: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index ``(N,)`` int64 of the nearest centroid (squared Euclidean) of each frame ``(N, D)``."""
    x = np.asarray(frames, dtype=np.float32)
    d = (x**2).sum(1, keepdims=True) - 2 * x @ centroids.T + (centroids**2).sum(1)[None]
    return np.asarray(d.argmin(1), dtype=np.int64)
