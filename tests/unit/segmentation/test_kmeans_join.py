from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from segmentation import SEGMENTERS
from segmentation.base import pool_segments
from segmentation.kmeans_join import KMeansJoinConfig, KMeansJoinSegmenter, merge_short_runs


def _utterances(rng: np.random.Generator, n: int = 20) -> list[np.ndarray]:
    """Piecewise-constant 'phones' (8 prototypes, runs of 4-8 frames) plus noise."""
    protos = rng.normal(size=(8, 10)) * 3
    out = []
    for _ in range(n):
        ids = np.repeat(rng.integers(0, 8, size=10), rng.integers(4, 9, size=10))
        out.append((protos[ids] + 0.1 * rng.normal(size=(ids.size, 10))).astype(np.float32))
    return out


def test_kmeans_join_recovers_runs(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    feats = _utterances(rng)
    seg = KMeansJoinSegmenter(KMeansJoinConfig(pca_dim=4, num_clusters=8, seed=0))
    seg.fit(feats)
    x = torch.from_numpy(feats[0])[None]
    out = seg(x, torch.tensor([x.shape[1]]))
    (b, e), = out.unbatch(torch.tensor([x.shape[1]]))
    assert b[0] and e.shape == (int(b.sum()), 4)
    # runs of identical prototypes merge: at most 10 segments for 10 runs
    assert int(b.sum()) <= 10
    seg.save(tmp_path / "s.npz")
    other = KMeansJoinSegmenter(KMeansJoinConfig(pca_dim=4, num_clusters=8))
    other.load(tmp_path / "s.npz")
    np.testing.assert_allclose(other.segment_one(feats[0])[1], e)


def test_unfitted_and_registry() -> None:
    seg = SEGMENTERS.get("kmeans_join").cls(KMeansJoinConfig())  # type: ignore[call-arg]
    with pytest.raises(RuntimeError, match="not fitted"):
        seg.segment_one(np.zeros((5, 3), np.float32))  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="known"):
        SEGMENTERS.get("nope")


def test_merge_short_runs_and_pooling() -> None:
    b = np.array([1, 1, 0, 0, 1, 0, 1, 1, 0, 0], dtype=bool)
    m = merge_short_runs(b, 2)
    starts = np.flatnonzero(m)
    ends = np.append(starts[1:], b.size)
    assert m[0] and np.all(ends[1:] - starts[1:] >= 2)
    x = np.arange(10, dtype=np.float32)[:, None]
    pooled = pool_segments(x, m)
    assert pooled.shape == (m.sum(), 1)
    assert pooled[0, 0] == pytest.approx(x[: ends[0]].mean())
    with pytest.raises(ValueError, match="frame 0"):
        pool_segments(x, np.zeros(10, dtype=bool))
