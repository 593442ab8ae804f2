"""The spectral-change peak segmenter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from segmentation.peaks import PeaksConfig, PeaksSegmenter


def _steps(rng: np.random.Generator) -> tuple[np.ndarray, list[int]]:
    """Piecewise-constant frames (plus a little noise) with known change points."""
    starts = [0, 6, 11, 19, 24]
    levels = rng.normal(size=(len(starts), 10)) * 3
    frames = np.concatenate([np.repeat(levels[i : i + 1], e - s, 0) for i, (s, e) in
                             enumerate(zip(starts, [*starts[1:], 30], strict=True))])
    return (frames + rng.normal(size=frames.shape) * 0.05).astype(np.float32), starts


def test_boundaries_at_change_points_and_embeddings() -> None:
    frames, starts = _steps(np.random.default_rng(0))
    seg = PeaksSegmenter(PeaksConfig(prominence=0.2))
    bounds, emb = seg.segment_one(frames)
    assert np.flatnonzero(bounds).tolist() == starts
    assert emb.shape == (len(starts), 10)


def test_pca_fit_save_load(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    feats = [_steps(rng)[0] for _ in range(5)]
    seg = PeaksSegmenter(PeaksConfig(pca_dim=4))
    with pytest.raises(RuntimeError, match="not fitted"):
        seg.segment_one(feats[0])
    seg.fit(feats)
    seg.save(tmp_path / "s.npz")
    other = PeaksSegmenter(PeaksConfig(pca_dim=4))
    other.load(tmp_path / "s.npz")
    x = torch.from_numpy(feats[0])[None]
    a = seg(x, torch.tensor([30])).seg_embeddings
    b = other(x, torch.tensor([30])).seg_embeddings
    assert a.shape[-1] == 4
    torch.testing.assert_close(a, b)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="prominence"):
        PeaksConfig(prominence=1.5).validate()
