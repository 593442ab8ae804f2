from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from unsup_asr.features.cache import FeatureSet, cache_key, layer_dir, split_done, write_split
from unsup_asr.features.frames import boundaries_to_seconds, fix_length, num_frames
from unsup_asr.features.mfcc import MfccConfig, MfccFeaturizer


def _tone(seconds: float, freq: float = 440.0) -> torch.Tensor:
    t = torch.arange(int(16000 * seconds)) / 16000
    return torch.sin(2 * torch.pi * freq * t) * 0.3 + 0.01 * torch.randn(t.shape[0])


def test_mfcc_shapes_and_frame_rate() -> None:
    feat = MfccFeaturizer(MfccConfig())
    wavs = torch.zeros(2, 16000)
    wavs[0] = _tone(1.0)
    wavs[1, :8000] = _tone(0.5)
    out = feat(wavs, torch.tensor([16000, 8000]), [0])
    x, lens = out[0]
    assert x.shape == (2, int(lens.max()), feat.dim) and feat.dim == 78
    # 20 ms frames: about 50 per second (kaldi framing loses the last partial window)
    assert abs(int(lens[0]) - num_frames(16000, feat.frame_shift_s)) <= 2
    assert abs(int(lens[1]) - num_frames(8000, feat.frame_shift_s)) <= 2
    assert torch.isfinite(x).all()


def test_mfcc_rejects_bad_layer_and_short_audio() -> None:
    feat = MfccFeaturizer(MfccConfig(kind="logmel"))
    with pytest.raises(ValueError, match="out of range"):
        feat(torch.zeros(1, 16000), torch.tensor([16000]), [3])
    with pytest.raises(ValueError, match="shorter"):
        feat(torch.zeros(1, 100), torch.tensor([100]), [0])


def test_cache_roundtrip_and_config_mismatch(tmp_path: Path) -> None:
    key = cache_key({"a": 1})
    assert key != cache_key({"a": 2}) and len(key) == 8
    folder = layer_dir(tmp_path, key, 0)
    meta = {"config": {"a": 1}, "layer": 0, "dim": 3, "frame_shift_s": 0.02, "dtype": "float16"}
    items = [("u1", np.ones((4, 3), np.float32)), ("u2", np.arange(6, dtype=np.float32).reshape(2, 3))]
    write_split(folder, "train", meta, iter(items))
    fs = FeatureSet(folder, "train")
    assert fs.ids == ["u1", "u2"] and len(fs) == 2
    np.testing.assert_allclose(fs[1], items[1][1])
    with pytest.raises(ValueError, match="different config"):
        write_split(folder, "valid", {**meta, "dim": 4}, iter([]))


def test_interrupted_write_leaves_no_complete_split(tmp_path: Path) -> None:
    meta = {"config": {}, "layer": 0, "dim": 2, "frame_shift_s": 0.02, "dtype": "float16"}

    def items():  # type: ignore[no-untyped-def]
        yield "u1", np.zeros((3, 2), np.float32)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_split(tmp_path, "train", meta, items())
    assert not split_done(tmp_path, "train")
    with pytest.raises(FileNotFoundError, match="extract_features"):
        FeatureSet(tmp_path, "train")


def test_nan_features_are_refused(tmp_path: Path) -> None:
    meta = {"config": {}, "layer": 0, "dim": 2, "frame_shift_s": 0.02, "dtype": "float16"}
    bad = np.array([[0.0, np.nan]], np.float32)
    with pytest.raises(ValueError, match="NaN"):
        write_split(tmp_path, "train", meta, iter([("u1", bad)]))


def test_frames_helpers() -> None:
    b = np.array([True, False, True, False, True])
    assert boundaries_to_seconds(b, 0.02) == [0.04, 0.08]
    x = np.ones((10, 2))
    assert fix_length(x, 11).shape == (11, 2) and fix_length(x, 9).shape == (9, 2)
    with pytest.raises(ValueError):
        fix_length(x, 13)
