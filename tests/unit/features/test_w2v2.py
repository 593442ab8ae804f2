"""W2v2Featurizer on tiny randomly initialised wav2vec 2.0 models (nothing downloaded)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from fairseq2.assets import AssetCard
from fairseq2.models.transformer import AttentionBiasCache
from fairseq2.models.wav2vec2 import get_wav2vec2_model_hub
from fairseq2.nn import BatchLayout

from unsup_asr.features.featurizer import FEATURIZERS
from unsup_asr.features.w2v2 import W2v2Config, W2v2Featurizer

# Standard stride-320 CNN (20 ms frames) with few channels, a 3-block encoder, no dropout.
TINY: dict[str, Any] = {
    "encoder_config": {
        "model_dim": 32, "num_encoder_layers": 3, "num_encoder_attn_heads": 2, "ffn_inner_dim": 64,
        "feature_dim": 16, "feature_extractor_layer_descs": [[16, 10, 5]] + [[16, 3, 2]] * 4 + [[16, 2, 2]] * 2,
        "pos_conv_kernel_size": 16, "num_pos_conv_groups": 4,
        "dropout_p": 0.0, "attn_dropout_p": 0.0, "layer_drop_p": 0.0,
    },
    "final_dim": 16, "quantized_dim": 16, "num_codebook_entries": 8,
}
ARCHS = ["base", "large_lv60k"]  # post-LN with GroupNorm CNN; pre-LN with LayerNorm CNN


def _frames(n: int) -> int:
    return (n - 400) // 320 + 1


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    hub = get_wav2vec2_model_hub()
    out = {}
    for arch in ARCHS:
        card = AssetCard("tiny", {"model_family": "wav2vec2", "model_arch": arch, "model_config_overrides": TINY})
        torch.manual_seed(0)
        model = hub.create_new_model(hub.get_model_config(card))
        path = tmp_path_factory.mktemp(arch) / "tiny.pt"
        torch.save({"model": model.state_dict()}, path)
        out[arch] = path
    return out


@pytest.fixture(scope="module", params=ARCHS)
def feat(request: pytest.FixtureRequest, checkpoints: dict[str, Path]) -> W2v2Featurizer:
    arch: str = request.param
    cfg = W2v2Config(checkpoint=str(checkpoints[arch]), arch=arch, config_overrides=TINY)
    return W2v2Featurizer(cfg)


def _wavs(lens: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    wavs = torch.zeros(len(lens), max(lens))
    for i, n in enumerate(lens):
        wavs[i, :n] = torch.randn(n, generator=g) * 0.1
    return wavs, torch.tensor(lens)


def test_registered_and_shapes(feat: W2v2Featurizer) -> None:
    assert FEATURIZERS.get("w2v2").cls is W2v2Featurizer
    assert (feat.num_layers, feat.dim, feat.frame_shift_s) == (3, 32, 0.02)
    assert not feat.model.training
    conf = feat.cache_config()
    assert conf["featurizer"] == "w2v2" and "fairseq2" in conf and "device" not in conf


def test_layers_match_manual_pass(feat: W2v2Featurizer) -> None:
    wavs, lens = _wavs([8000])
    out = feat(wavs, lens, [0, 1, 2, 3])
    m = feat.model
    x = (wavs - wavs.mean()) / torch.sqrt(wavs.var(unbiased=False) + 1e-5)
    with torch.inference_mode():
        seqs, layout, _ = m.encoder_frontend.extract_features(x, BatchLayout.of(x))
        seqs, _ = m.encoder_frontend.process_features(seqs, layout)
        expected = [seqs]
        for layer in m.encoder.layers:
            seqs = layer(seqs, layout, AttentionBiasCache())
            expected.append(seqs)
    for k in range(4):
        torch.testing.assert_close(out[k][0], expected[k], rtol=1e-5, atol=1e-5)
    assert out[0][0].dtype == torch.float32 and out[0][1].dtype == torch.int64


def test_only_needed_blocks_run(feat: W2v2Featurizer) -> None:
    calls = [0] * feat.num_layers
    handles = [
        layer.register_forward_hook(lambda *_, i=i: calls.__setitem__(i, calls[i] + 1))
        for i, layer in enumerate(feat.model.encoder.layers)
    ]
    try:
        wavs, lens = _wavs([4000])
        feat(wavs, lens, [1])
        assert calls == [1, 0, 0]
        feat(wavs, lens, [0])
        assert calls == [1, 0, 0]
    finally:
        for h in handles:
            h.remove()
    assert len(feat.model.encoder.layers) == 3  # stack restored


def test_padded_batch_equals_per_utterance(feat: W2v2Featurizer) -> None:
    sizes = [9600, 4000, 6001]
    wavs, lens = _wavs(sizes)
    batch = feat(wavs, lens, [0, 2, 3])
    singles = [feat(wavs[i : i + 1, :n], lens[i : i + 1], [0, 2, 3]) for i, n in enumerate(sizes)]
    for k, (feats, flens) in batch.items():
        assert flens.tolist() == [_frames(n) for n in sizes] == [29, 12, 18]
        assert feats.shape == (3, 29, 32)
        for i, single in enumerate(singles):
            t = int(flens[i])
            assert single[k][1].tolist() == [t]
            torch.testing.assert_close(feats[i, :t], single[k][0][0], rtol=1e-4, atol=1e-4)
            assert feats[i, t:].abs().sum() == 0


def test_card_dir(checkpoints: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(
        "name: tiny_w2v2\nmodel_family: wav2vec2\nmodel_arch: base\n"
        f"checkpoint: {checkpoints['base'].as_uri()}\nmodel_config_overrides:\n"
        "  encoder_config: {model_dim: 32, num_encoder_layers: 3, num_encoder_attn_heads: 2, ffn_inner_dim: 64,\n"
        "    feature_dim: 16, feature_extractor_layer_descs: [[16, 10, 5], [16, 3, 2], [16, 3, 2], [16, 3, 2],\n"
        "    [16, 3, 2], [16, 2, 2], [16, 2, 2]], pos_conv_kernel_size: 16, num_pos_conv_groups: 4}\n"
        "  final_dim: 16\n  quantized_dim: 16\n  num_codebook_entries: 8\n"
    )
    by_card = W2v2Featurizer(W2v2Config(checkpoint="tiny_w2v2", card_dir=str(tmp_path)))
    by_path = W2v2Featurizer(W2v2Config(checkpoint=str(checkpoints["base"]), arch="base", config_overrides=TINY))
    wavs, lens = _wavs([5000])
    torch.testing.assert_close(by_card(wavs, lens, [2])[2][0], by_path(wavs, lens, [2])[2][0])


def test_missing_checkpoint(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pt"
    with pytest.raises(FileNotFoundError, match=r"nope\.pt.*features\.checkpoint"):
        W2v2Featurizer(W2v2Config(checkpoint=str(missing), arch="base"))


def test_bad_config_and_layers(feat: W2v2Featurizer) -> None:
    with pytest.raises(ValueError, match="dtype"):
        W2v2Config(checkpoint="x.pt", dtype="float64").validate()
    wavs, lens = _wavs([4000])
    for bad in ([4], [-1], []):
        with pytest.raises(ValueError):
            feat(wavs, lens, bad)
    with pytest.raises(ValueError, match="wav_lens"):
        feat(wavs, torch.tensor([100]), [0])
