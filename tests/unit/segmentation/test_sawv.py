from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from segmentation import SEGMENTERS
from segmentation.sawv import SawvConfig, SawvSegmenter
from segmentation.sawv.model import SawvModel
from segmentation.sawv.objective import flip_deltas
from segmentation.sawv.spans import cap_runs, expand, segments
from unsup_asr.features.frames import boundaries_to_seconds
from unsup_asr.metrics.boundary import boundary_scores

SHIFT = 0.02


def _toy(rng: np.random.Generator, n: int, protos: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Piecewise-constant 'phones' (runs of 3-8 frames, neighbours differ) plus noise, and the true
    internal boundary times in seconds."""
    feats, refs = [], []
    for _ in range(n):
        k = int(rng.integers(6, 12))
        ids = rng.integers(0, len(protos), size=k)
        for j in range(1, k):
            while ids[j] == ids[j - 1]:
                ids[j] = rng.integers(0, len(protos))
        durs = rng.integers(3, 9, size=k)
        lab = np.repeat(ids, durs)
        feats.append((protos[lab] + 0.3 * rng.normal(size=(lab.size, protos.shape[1]))).astype(np.float32))
        refs.append(np.cumsum(durs)[:-1] * SHIFT)
    return feats, refs


def _cfg(**kw: object) -> SawvConfig:
    """A small model and a short fit (about 5 s on one core)."""
    base: dict[str, object] = {"hidden_dim": 32, "embedding_dim": 8, "conv_layers": 2, "epochs": 20, "batch_size": 8,
                               "lr": 0.005, "warmup_updates": 40, "target_rate": 9.0, "max_seconds": 0.0, "seed": 0}
    base.update(kw)
    return SawvConfig(**base)  # type: ignore[arg-type]


def _segment(seg: SawvSegmenter, feats: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for f in feats:
        x = torch.from_numpy(f)[None]
        out += seg(x, torch.tensor([f.shape[0]])).unbatch(torch.tensor([f.shape[0]]))
    return out


@pytest.fixture(scope="module")
def toy() -> dict[str, object]:
    rng = np.random.default_rng(0)
    protos = rng.normal(size=(10, 12)) * 1.5
    train, _ = _toy(rng, 120, protos)
    test, refs = _toy(rng, 30, protos)
    seg = SawvSegmenter(_cfg())
    seg.fit(train)
    return {"train": train, "test": test, "refs": refs, "seg": seg}


def test_boundaries_beat_uniform_at_the_same_rate(toy: dict[str, object]) -> None:
    seg, test, refs = toy["seg"], toy["test"], toy["refs"]
    assert isinstance(seg, SawvSegmenter) and isinstance(test, list) and isinstance(refs, list)
    out = _segment(seg, test)
    hyps = [boundaries_to_seconds(b, SHIFT) for b, _ in out]
    sawv = boundary_scores(refs, hyps, tolerance_ms=20)
    frames = sum(f.shape[0] for f in test)
    step = max(1, round(frames / sum(int(b.sum()) for b, _ in out)))
    uniform = boundary_scores(refs, [list(np.arange(step, f.shape[0], step) * SHIFT) for f in test], tolerance_ms=20)
    assert sawv.f1 > uniform.f1 + 0.2, (sawv, uniform)
    # embeddings: one per segment, of the advertised size, finite
    for b, e in out:
        assert b[0] and e.shape == (int(b.sum()), seg.out_dim) and np.isfinite(e).all()
    assert seg.out_dim == 8


def test_padded_batch_equals_per_utterance(toy: dict[str, object]) -> None:
    seg, test = toy["seg"], toy["test"]
    assert isinstance(seg, SawvSegmenter) and isinstance(test, list)
    utts = test[:5]
    lens = torch.tensor([u.shape[0] for u in utts])
    x = torch.zeros(len(utts), int(lens.max()) + 3, utts[0].shape[1])  # extra padding beyond the longest
    for i, u in enumerate(utts):
        x[i, : u.shape[0]] = torch.from_numpy(u)
        x[i, u.shape[0] :] = 7.0  # padding content must not matter
    batched = seg(x, lens)
    assert batched.boundaries.shape == x.shape[:2] and not batched.boundaries[0, int(lens[0]) :].any()
    for (bb, eb), (b1, e1) in zip(batched.unbatch(lens), _segment(seg, utts), strict=True):
        np.testing.assert_array_equal(bb, b1)
        np.testing.assert_allclose(eb, e1, rtol=1e-5, atol=1e-5)


def test_save_load_round_trip(toy: dict[str, object], tmp_path: Path) -> None:
    seg, test = toy["seg"], toy["test"]
    assert isinstance(seg, SawvSegmenter) and isinstance(test, list)
    seg.save(tmp_path / "segmenter.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["segmenter.npz"]  # no temporary file left behind
    # a config with other model fields: the saved state alone decides the output
    other = SawvSegmenter(SawvConfig(hidden_dim=7, embedding_dim=3, max_segment_frames=5))
    other.load(tmp_path / "segmenter.npz")
    assert other.out_dim == seg.out_dim
    for (b0, e0), (b1, e1) in zip(_segment(seg, test[:8]), _segment(other, test[:8]), strict=True):
        np.testing.assert_array_equal(b0, b1)
        np.testing.assert_array_equal(e0, e1)


def test_rate_follows_target_and_penalty(toy: dict[str, object]) -> None:
    train, test = toy["train"], toy["test"]
    assert isinstance(train, list) and isinstance(test, list)
    frames = sum(f.shape[0] for f in test)

    def rate(cfg: SawvConfig) -> float:
        seg = SawvSegmenter(cfg)
        seg.fit(train)
        return sum(int(b.sum()) for b, _ in _segment(seg, test)) / (frames * SHIFT)

    low, high = rate(_cfg(target_rate=5.0, epochs=8)), rate(_cfg(target_rate=14.0, epochs=8))
    assert low < high - 3.0, (low, high)
    cheap, dear = (rate(_cfg(target_rate=0.0, segment_penalty=lam, epochs=8)) for lam in (0.05, 3.0))
    assert dear < cheap - 3.0, (cheap, dear)


def test_concat_mean_features(toy: dict[str, object]) -> None:
    train, test = toy["train"], toy["test"]
    assert isinstance(train, list) and isinstance(test, list)
    seg = SawvSegmenter(_cfg(concat_mean_features=True, epochs=1, warmup_updates=1))
    seg.fit(train[:20])
    assert seg.out_dim == 8 + 12
    ((b, e),) = _segment(seg, test[:1])
    starts = np.flatnonzero(b)
    assert seg.mean is not None and seg.std is not None
    first = (test[0][: (starts[1] if starts.size > 1 else b.size)] - seg.mean) / seg.std
    np.testing.assert_allclose(e[0, 8:], first.mean(0), rtol=1e-4, atol=1e-4)


def test_flip_deltas_match_brute_force() -> None:
    """Δ_t must equal cost(b with b_t = 1) - cost(b with b_t = 0), all else fixed."""
    torch.manual_seed(0)
    model = SawvModel(input_dim=4, hidden_dim=8, embedding_dim=3, conv_layers=1, kernel_size=3, init_boundary_prob=0.3)
    x = torch.randn(30, 4)
    z = model.frame_codes(x).detach()
    utt_start = torch.zeros(30, dtype=torch.bool)
    utt_start[[0, 17]] = True
    bounds = utt_start | (torch.rand(30) < 0.3)
    forced = torch.zeros(30, dtype=torch.bool)
    lam, cap = 0.7, 8

    def total(b: torch.Tensor) -> float:
        starts, lens, _ = segments(b)
        costs, _ = model.span_costs(x, z, expand(starts, lens))
        return float(costs.sum()) + lam * int(starts.numel())

    with torch.no_grad():
        starts, lens, _ = segments(bounds)
        seg_costs, _ = model.span_costs(x, z, expand(starts, lens))
        delta, valid = flip_deltas(model, x, z, bounds, forced, utt_start, seg_costs, lam, cap)
        assert not valid[utt_start].any() and valid[~bounds].all()
        for t in torch.nonzero(valid).squeeze(1).tolist():
            on, off = bounds.clone(), bounds.clone()
            on[t], off[t] = True, False
            assert float(delta[t]) == pytest.approx(total(on) - total(off), rel=1e-4, abs=1e-4)


def test_cap_runs() -> None:
    b = torch.zeros(23, dtype=torch.bool)
    b[[0, 3]] = True
    capped, forced = cap_runs(b, 8)
    assert torch.nonzero(capped).squeeze(1).tolist() == [0, 3, 11, 19]
    assert torch.nonzero(forced).squeeze(1).tolist() == [11, 19]


def test_bad_config_unfitted_and_registry(tmp_path: Path) -> None:
    for bad in ({"kernel_size": 4}, {"hidden_dim": 0}, {"target_rate": -1.0}, {"target_rate": 60.0},
                {"segment_penalty": 0.0}, {"max_segment_frames": 1}, {"device": "gpu9"}, {"max_seconds": -1.0},
                {"lr": 0.0}):
        with pytest.raises(ValueError, match="segmenter\\."):
            SawvConfig(**bad).validate()  # type: ignore[arg-type]
    entry = SEGMENTERS.get("sawv")
    assert entry.cls is SawvSegmenter and entry.config is SawvConfig
    seg = SawvSegmenter(SawvConfig())
    with pytest.raises(RuntimeError, match="not fitted"):
        seg(torch.zeros(1, 5, 3), torch.tensor([5]))
    with pytest.raises(FileNotFoundError, match="segment stage"):
        seg.load(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="no training utterances"):
        seg.fit([])
