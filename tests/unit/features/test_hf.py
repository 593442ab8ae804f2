"""The transformers featurizer on tiny randomly initialised HuBERT / WavLM / wav2vec2 models."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from transformers import AutoModel, HubertConfig, PretrainedConfig, Wav2Vec2Config, WavLMConfig

from unsup_asr.features.featurizer import FEATURIZERS
from unsup_asr.features.hf import HfConfig, HfFeaturizer, normalize_waveforms

BACKENDS: dict[str, type[PretrainedConfig]] = {"hubert": HubertConfig, "wavlm": WavLMConfig, "wav2vec2": Wav2Vec2Config}
VARIANTS = [(b, stable) for b in BACKENDS for stable in (False, True)]
"""(backend, do_stable_layer_norm); the stable (pre-LN) variants use a LayerNorm conv stack."""


def _tiny(backend: str, stable: bool) -> PretrainedConfig:
    return BACKENDS[backend](
        hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=64,
        conv_dim=(16,) * 7, conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_stride=(5, 2, 2, 2, 2, 2, 2),
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
        do_stable_layer_norm=stable, feat_extract_norm="layer" if stable else "group",
    )


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny models: intra-op threading only adds overhead (100x on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, bool], Path]:
    torch.manual_seed(0)
    dirs = {}
    for backend, stable in VARIANTS:
        d = tmp_path_factory.mktemp(f"{backend}_{int(stable)}")
        AutoModel.from_config(_tiny(backend, stable)).save_pretrained(d)  # type: ignore[no-untyped-call]
        dirs[backend, stable] = d
    return dirs


_LOADED: dict[tuple[Path, bool], HfFeaturizer] = {}


def _feat(d: Path, normalize_waveform: bool = False) -> HfFeaturizer:
    """A featurizer on ``d`` (loaded once per folder and setting: loading dominates the run time)."""
    key = (d, normalize_waveform)
    if key not in _LOADED:
        _LOADED[key] = HfFeaturizer(HfConfig(path=str(d), device="cpu", normalize_waveform=normalize_waveform))
    return _LOADED[key]


def _wav(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, generator=g) * 0.1


@pytest.mark.parametrize(("backend", "stable"), VARIANTS)
def test_layers_equal_full_model_hidden_states(
    model_dirs: dict[tuple[str, bool], Path], backend: str, stable: bool
) -> None:
    feat = _feat(model_dirs[backend, stable])
    assert (feat.num_layers, feat.dim, feat.frame_shift_s) == (3, 32, 0.02)
    wav = _wav(4000, 1)[None]
    with torch.inference_mode():
        ref = feat.model(wav, output_hidden_states=True).hidden_states
    assert len(ref) == 4
    for k in range(4):  # each layer alone (truncated), then all together
        x, lens = feat(wav, torch.tensor([4000]), [k])[k]
        assert x.dtype == torch.float32 and lens.dtype == torch.int64
        torch.testing.assert_close(x, ref[k], atol=1e-5, rtol=1e-5)
    out = feat(wav, torch.tensor([4000]), [3, 0, 2])
    assert sorted(out) == [0, 2, 3]
    for k, (x, _) in out.items():
        torch.testing.assert_close(x, ref[k], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("backend", "stable"), VARIANTS)
def test_padded_batch_matches_each_utterance_alone(
    model_dirs: dict[tuple[str, bool], Path], backend: str, stable: bool
) -> None:
    feat = _feat(model_dirs[backend, stable], normalize_waveform=True)
    ns = [4000, 1723, 3200]
    wavs = torch.zeros(3, 4100)  # extra padding past the longest utterance too
    for i, n in enumerate(ns):
        wavs[i, :n] = _wav(n, 10 + i) + 0.05
        wavs[i, n:] = 7.0  # garbage in the padding must not matter
    batch = feat(wavs, torch.tensor(ns), [0, 2, 3])
    # lengths: floor((n - 400) / 320) + 1 frames
    assert batch[0][1].tolist() == [(n - 400) // 320 + 1 for n in ns] == [12, 5, 9]
    for i, n in enumerate(ns):
        alone = feat(wavs[i : i + 1, :n], torch.tensor([n]), [0, 2, 3])
        for k in (0, 2, 3):
            x, lens = batch[k]
            t = int(lens[i])
            assert x.shape == (3, 12, 32)
            torch.testing.assert_close(x[i, :t], alone[k][0][0], atol=1e-4, rtol=1e-4)
            assert not x[i, t:].any()


def test_truncation_skips_blocks_and_restores_encoder(model_dirs: dict[tuple[str, bool], Path]) -> None:
    for stable in (False, True):
        feat = _feat(model_dirs["wavlm", stable])
        enc = feat.model.encoder
        calls = [0] * 3

        def count(i: int, counts: list[int] = calls) -> Callable[..., None]:
            return lambda *_: counts.__setitem__(i, counts[i] + 1)

        hooks = [layer.register_forward_hook(count(i)) for i, layer in enumerate(enc.layers)]
        norm = enc.layer_norm
        wav = _wav(2000, 3)[None]
        try:
            for top, expected in ((0, [0, 0, 0]), (1, [1, 0, 0]), (2, [1, 1, 0]), (3, [1, 1, 1])):
                calls[:] = [0, 0, 0]
                feat(wav, torch.tensor([2000]), [0, top])
                assert calls == expected
                assert len(enc.layers) == 3 and enc.layer_norm is norm
        finally:
            for h in hooks:
                h.remove()


def test_waveform_normalisation(model_dirs: dict[tuple[str, bool], Path], tmp_path: Path) -> None:
    d = model_dirs["hubert", False]
    wav = _wav(3000, 4)[None] * 3 + 0.2
    norm = normalize_waveforms(wav, torch.tensor([3000]))
    assert abs(float(norm.mean())) < 1e-5 and abs(float(norm.std(unbiased=False)) - 1) < 1e-3
    on = _feat(d, normalize_waveform=True)(wav, torch.tensor([3000]), [1])[1][0]
    off = _feat(d)(norm, torch.tensor([3000]), [1])[1][0]
    torch.testing.assert_close(on, off)
    # auto: no preprocessor_config.json -> on only for LayerNorm conv stacks
    assert not HfFeaturizer(HfConfig(path=str(d), device="cpu")).normalize
    assert HfFeaturizer(HfConfig(path=str(model_dirs["hubert", True]), device="cpu")).normalize
    # auto: the feature extractor's do_normalize wins
    (d / "preprocessor_config.json").write_text(json.dumps({"do_normalize": True}))
    try:
        assert HfFeaturizer(HfConfig(path=str(d), device="cpu")).normalize
    finally:
        (d / "preprocessor_config.json").unlink()


def test_cache_config_registry_and_errors(model_dirs: dict[tuple[str, bool], Path], tmp_path: Path) -> None:
    d = model_dirs["wav2vec2", True]
    entry = FEATURIZERS.get("hf")
    assert entry.cls is HfFeaturizer and entry.config is HfConfig
    feat = _feat(d)
    conf = feat.cache_config()
    assert conf["path"] == str(d.resolve()) and conf["model_type"] == "wav2vec2"
    assert "device" not in conf and "layers" not in conf
    assert _feat(model_dirs["wav2vec2", False]).cache_config()["model_files_sha1"] != conf["model_files_sha1"]
    with pytest.raises(ValueError, match=r"out of range.*0\.\.3"):
        feat(torch.zeros(1, 4000), torch.tensor([4000]), [4])
    with pytest.raises(ValueError, match="shorter"):
        feat(torch.zeros(1, 399), torch.tensor([399]), [0])
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError, match=r"nope does not exist.*save_pretrained"):
        _feat(missing)
    with pytest.raises(FileNotFoundError, match=r"not a transformers model folder.*save_pretrained"):
        _feat(tmp_path)
    with pytest.raises(ValueError, match=r"features\.path is empty"):
        HfConfig().validate()
    with pytest.raises(ValueError, match=r"features\.dtype"):
        HfConfig(path="x", dtype="float64").validate()
