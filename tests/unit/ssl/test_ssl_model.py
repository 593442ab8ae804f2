"""The library's own SSL model: layer numbering, truncation, padding, masking, checkpoints and the
``ssl`` featurizer (tiny randomly initialised models)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from unsup_asr.cli import load_config
from unsup_asr.data.manifest import Utterance, write_manifest
from unsup_asr.features.cache import FeatureSet
from unsup_asr.features.featurizer import FEATURIZERS
from unsup_asr.features.ssl import SslFeaturesConfig, SslFeaturizer
from unsup_asr.paths import RunPaths
from unsup_asr.ssl.config import SslModelConfig
from unsup_asr.ssl.masking import span_mask
from unsup_asr.ssl.model import SslModel, load_checkpoint, save_checkpoint
from unsup_asr.stages import extract_features

TINY = SslModelConfig(num_mel_bins=16, dim=32, num_layers=3, num_heads=4, ffn_dim=64, pos_conv_kernel=5,
                      pos_conv_groups=4, dropout=0.0)


@pytest.fixture
def model() -> SslModel:
    torch.manual_seed(0)
    return SslModel(TINY, num_targets=7).eval()


def test_layer_numbering_and_final_norm(model: SslModel) -> None:
    x, lens = torch.randn(2, 40, 32), torch.tensor([40, 31])
    out = model(x, lens, [0, 1, 2, 3])
    assert sorted(out) == [0, 1, 2, 3] and all(h.shape == (2, 40, 32) for h in out.values())
    # layer k is block k applied to layer k-1; the last layer also passes the final LayerNorm
    pad = torch.arange(40)[None] >= lens[:, None]
    h1 = model.blocks[0](out[0], src_key_padding_mask=pad)
    torch.testing.assert_close(out[1], h1)
    h3 = model.blocks[2](out[2], src_key_padding_mask=pad)
    torch.testing.assert_close(out[3], model.final_norm(h3))
    # asking for one layer gives the same values as asking for all
    torch.testing.assert_close(model(x, lens, [2])[2], out[2])
    assert model.logits(x, lens, None).shape == (2, 40, 7)


def test_blocks_above_the_highest_layer_are_not_run(model: SslModel, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> torch.Tensor:
        raise AssertionError("block 3 ran although only layer 1 was requested")

    monkeypatch.setattr(model.blocks[2], "forward", boom)
    monkeypatch.setattr(model.blocks[1], "forward", boom)
    out = model(torch.randn(1, 20, 32), torch.tensor([20]), [1])
    assert list(out) == [1]


def test_padded_batch_matches_each_utterance_alone(model: SslModel) -> None:
    a, b = torch.randn(1, 30, 32), torch.randn(1, 18, 32)
    batch = torch.zeros(2, 30, 32)
    batch[0], batch[1, :18] = a[0], b[0]
    out = model(batch, torch.tensor([30, 18]), [0, 3])
    for k in (0, 3):
        torch.testing.assert_close(out[k][0], model(a, torch.tensor([30]), [k])[k][0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(out[k][1, :18], model(b, torch.tensor([18]), [k])[k][0], atol=1e-5, rtol=1e-5)


def test_span_mask() -> None:
    lens = torch.tensor([400, 250, 3])
    m1 = span_mask(lens, 400, 0.08, 10, torch.Generator().manual_seed(1))
    m2 = span_mask(lens, 400, 0.08, 10, torch.Generator().manual_seed(1))
    assert torch.equal(m1, m2)  # reproducible from the generator
    assert not m1[1, 250:].any() and not m1[2, 3:].any()  # never beyond an utterance's end
    assert all(int(m1[i].sum()) >= 1 for i in range(3))  # every utterance gets a span
    frac = float(m1[0].float().mean())
    assert 0.4 < frac < 0.75, frac  # expected 1 - 0.92**10 = 0.57
    # a masked run is at least `length` long unless cut at the end
    row = m1[0].int().tolist()
    runs, n = [], 0
    for v in [*row, 0]:
        if v:
            n += 1
        elif n:
            runs.append(n)
            n = 0
    assert min(runs[:-1] or [10]) >= 10


def test_checkpoint_roundtrip_and_errors(model: SslModel, tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    save_checkpoint(path, model, {"hours": 0.1})
    loaded, info = load_checkpoint(path)
    assert info == {"hours": 0.1} and loaded.head is None and loaded.cfg == TINY
    x, lens = torch.randn(1, 25, 32), torch.tensor([25])
    torch.testing.assert_close(loaded(x, lens, [2])[2], model(x, lens, [2])[2])
    with pytest.raises(FileNotFoundError, match="ssl-pretrain"):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save({"family": "fairseq2.wav2vec2", "model": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"family 'fairseq2\.wav2vec2'"):
        load_checkpoint(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not an unsup-asr SSL checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")


def test_featurizer_layers_errors_and_cache_key(model: SslModel, tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    save_checkpoint(path, model, {})
    assert FEATURIZERS.get("ssl").cls is SslFeaturizer
    feat = SslFeaturizer(SslFeaturesConfig(path=str(path), device="cpu"))
    assert feat.num_layers == 3 and feat.dim == 32 and feat.frame_shift_s == 0.02
    wav = torch.randn(1, 16000) * 0.1
    out = feat(wav, torch.tensor([16000]), [1, 3])
    (h1, lens), (h3, _) = out[1], out[3]
    assert lens.tolist() == [h1.shape[1]] and h1.shape[2] == 32
    assert abs(h1.shape[1] - 50) <= 1  # 20 ms frames
    assert not torch.allclose(h1, h3)
    with pytest.raises(ValueError, match=r"valid are 0\.\.3"):
        feat(wav, torch.tensor([16000]), [4])
    with pytest.raises(ValueError, match="shorter than"):
        feat(torch.zeros(1, 100), torch.tensor([100]), [1])
    key = feat.cache_config()
    torch.manual_seed(1)
    save_checkpoint(tmp_path / "other.pt", SslModel(TINY), {})
    assert SslFeaturizer(SslFeaturesConfig(path=str(tmp_path / "other.pt"))).cache_config() != key
    with pytest.raises(ValueError, match=r"features\.path is empty"):
        SslFeaturesConfig().validate()


def test_extract_features_with_the_ssl_featurizer(model: SslModel, tmp_path: Path) -> None:
    ckpt = tmp_path / "model.pt"
    save_checkpoint(ckpt, model, {})
    rng = np.random.default_rng(0)
    paths = RunPaths(tmp_path)
    for split, seconds in (("train", [1.0, 0.6]), ("valid", [0.5]), ("test", [0.8])):
        utts = []
        for i, s in enumerate(seconds):
            wav = tmp_path / f"{split}{i}.wav"
            sf.write(wav, (0.1 * rng.standard_normal(int(16000 * s))).astype(np.float32), 16000)
            utts.append(Utterance(id=f"{split}{i}", audio=str(wav), sample_rate=16000, num_samples=int(16000 * s)))
        write_manifest(paths.manifest(split), utts)
    cfg = load_config([f"out={tmp_path}", "features=ssl", f"features.path={ckpt}", "layer=2"], None, "run")
    folder = extract_features.run(cfg)
    train = FeatureSet(folder, "train")
    assert folder.name == "L2" and train.dim == 32 and len(train) == 2
    feat = extract_features.build_featurizer(cfg.features)
    wav, _ = sf.read(tmp_path / "train1.wav", dtype="float32")
    direct = feat(torch.from_numpy(wav)[None], torch.tensor([len(wav)]), [2])[2][0][0].numpy()
    np.testing.assert_allclose(train[1], direct, atol=5e-3)  # float16 cache
