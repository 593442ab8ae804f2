"""Original fairseq checkpoints through the featurizers, layer by layer against fairseq's own outputs.

``tests/fixtures/fairseq/`` was written by fairseq's own code (``scripts/make_fairseq_fixtures.py``, run in a separate
environment; fairseq is never needed here): tiny random wav2vec 2.0 (post-LN ``base``-style, pre-LN
``large_lv60k``-style, and a CTC model fine-tuned from the latter) and HuBERT checkpoints, each in fairseq's three
formats (trainer ``cfg`` dict, omegaconf ``DictConfig`` ``cfg``, legacy ``argparse.Namespace`` ``args``), with
fairseq's output of every layer on one waveform. Each file is loaded as a user would: the run config with only the
path and ``allow_pickle``.
"""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from unsup_asr.cli import load_config
from unsup_asr.features.fairseq_ckpt import load_checkpoint, parse_conv_layers, read_fairseq_checkpoint
from unsup_asr.features.featurizer import Featurizer
from unsup_asr.features.hf import HfFeaturizer
from unsup_asr.features.w2v2 import W2v2Config, W2v2Featurizer
from unsup_asr.stages.extract_features import build_featurizer

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "fairseq"
CHECKPOINTS = sorted(FIXTURES.glob("*.pt"))
PICKLED = [p for p in CHECKPOINTS if not p.name.endswith(".cfg_dict.pt")]
FORMATS = {"cfg_dict": "cfg dict", "cfg_dictconfig": "cfg DictConfig", "args_namespace": "args Namespace"}
ATOL = 1e-5


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny models: intra-op threading only adds overhead."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _reference(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """fairseq's outputs for ``path`` and their metadata (see the fixture script's docstring)."""
    with np.load(path.with_suffix(".npz")) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return arrays, json.loads(str(arrays.pop("meta")))


def _featurizer(*overrides: str) -> Featurizer:
    return build_featurizer(load_config(list(overrides), None, "run").features)


def _run(feat: Featurizer, wav: np.ndarray) -> dict[int, np.ndarray]:
    x = torch.from_numpy(wav)[None]
    out = feat(x, torch.tensor([x.shape[1]]), list(range(feat.num_layers + 1)))
    for feats, lens in out.values():
        assert lens.tolist() == [feats.shape[1]] == [(x.shape[1] - 400) // 320 + 1]
    return {k: feats[0].numpy() for k, (feats, _) in out.items()}


def test_fixtures_are_complete() -> None:
    assert len(CHECKPOINTS) == 12, f"run scripts/make_fairseq_fixtures.py; found {[p.name for p in CHECKPOINTS]}"
    assert all(p.with_suffix(".npz").is_file() for p in CHECKPOINTS)
    assert sum(p.stat().st_size for p in FIXTURES.iterdir()) < 5e6


@pytest.mark.parametrize("path", CHECKPOINTS, ids=lambda p: p.stem)
def test_w2v2_equals_fairseq_at_every_layer(path: Path) -> None:
    ref, meta = _reference(path)
    feat = _featurizer("features=w2v2", f"features.checkpoint={path}", "features.allow_pickle=true")
    assert isinstance(feat, W2v2Featurizer) and feat.fairseq is not None
    assert (feat.num_layers, feat.dim, feat.normalize) == (meta["num_layers"], meta["dim"], meta["normalize"])
    assert (feat.fairseq.format, feat.fairseq.fine_tuned) == (FORMATS[meta["format"]], meta["fine_tuned"])
    assert feat.fairseq.arch.model == meta["kind"] and feat.fairseq.arch.layer_norm_first == meta["layer_norm_first"]
    out = _run(feat, ref["wav"])
    for k in range(feat.num_layers + 1):  # layer k = fairseq's extract_features(layer=k - 1); 0 = block 1's input
        np.testing.assert_allclose(out[k], ref[f"layer_{k}"], atol=ATOL, rtol=ATOL, err_msg=f"layer {k}")
    assert feat.cache_config()["normalize_waveform"] == meta["normalize"]


@pytest.mark.parametrize("path", CHECKPOINTS, ids=lambda p: p.stem)
def test_hf_equals_fairseq_at_every_layer(path: Path) -> None:
    ref, meta = _reference(path)
    feat = _featurizer("features=hf", f"features.path={path}", "features.allow_pickle=true",
                       "features.device=cpu")  # fairseq's outputs were computed on the CPU
    assert isinstance(feat, HfFeaturizer) and feat.fairseq is not None
    assert type(feat.model).__name__ == {"hubert": "HubertModel", "wav2vec2": "Wav2Vec2Model"}[meta["kind"]]
    assert (feat.num_layers, feat.dim, feat.normalize) == (meta["num_layers"], meta["dim"], meta["normalize"])
    out = _run(feat, ref["wav"])
    top = feat.num_layers
    for k in range(top):
        np.testing.assert_allclose(out[k], ref[f"layer_{k}"], atol=ATOL, rtol=ATOL, err_msg=f"layer {k}")
    # the last layer is transformers' hidden_states[L]: fairseq's encoder output (final LayerNorm for pre-LN models)
    np.testing.assert_allclose(out[top], ref["final"], atol=ATOL, rtol=ATOL, err_msg=f"layer {top}")
    if not meta["layer_norm_first"]:
        np.testing.assert_array_equal(ref["final"], ref[f"layer_{top}"])
    assert feat.cache_config()["model_type"] == meta["kind"]


@pytest.mark.parametrize("path", PICKLED, ids=lambda p: p.stem)
def test_pickled_config_needs_allow_pickle(path: Path) -> None:
    for overrides in (["features=w2v2", f"features.checkpoint={path}"], ["features=hf", f"features.path={path}"]):
        with pytest.raises(ValueError, match=r"DictConfig \(cfg\) or an argparse Namespace \(args\).*"
                                             r"features\.allow_pickle=true") as e:
            _featurizer(*overrides)
        assert str(path) in str(e.value) and "weights_only" in str(e.value)


def test_trainer_dict_needs_no_pickle() -> None:
    for path in CHECKPOINTS:
        if path.name.endswith(".cfg_dict.pt"):
            feat = _featurizer("features=w2v2", f"features.checkpoint={path}")
            assert isinstance(feat, W2v2Featurizer) and feat.fairseq is not None
    hf = _featurizer("features=hf", f"features.path={FIXTURES / 'hubert_base.cfg_dict.pt'}", "features.device=cpu")
    assert isinstance(hf, HfFeaturizer) and type(hf.model).__name__ == "HubertModel"


def test_architecture_comes_from_the_checkpoint() -> None:
    path = FIXTURES / "wav2vec2_large_lv60k_ctc.args_namespace.pt"
    state = load_checkpoint(path, allow_pickle=True)
    assert not hasattr(state["args"].w2v_args, "layer_type")  # legacy file: fairseq's default fills it
    ckpt = read_fairseq_checkpoint(state, path)
    a = ckpt.arch
    assert (ckpt.format, ckpt.fine_tuned, ckpt.normalize) == ("args Namespace", True, True)
    assert (a.model, a.encoder_layers, a.encoder_embed_dim, a.encoder_ffn_embed_dim, a.encoder_attention_heads) == (
        "wav2vec2", 2, 24, 40, 3)
    assert (a.extractor_mode, a.conv_bias, a.layer_norm_first, a.conv_pos, a.conv_pos_groups) == (
        "layer_norm", True, True, 15, 3)
    assert a.conv_layers == ((12, 10, 5),) + ((12, 3, 2),) * 4 + ((12, 2, 2),) * 2
    assert not any(k.startswith("w2v_encoder.") for k in ckpt.state_dict) and "mask_emb" in ckpt.state_dict


def test_unsupported_and_conflicting_settings(tmp_path: Path) -> None:
    path = FIXTURES / "wav2vec2_base.cfg_dict.pt"
    with pytest.raises(ValueError, match=r"config_overrides"):
        W2v2Featurizer(W2v2Config(checkpoint=str(path), config_overrides={"encoder_config": {"model_dim": 8}}))
    state = torch.load(path, weights_only=True)
    state["cfg"]["model"]["layer_type"] = "conformer"
    torch.save(state, tmp_path / "conformer.pt")
    with pytest.raises(ValueError, match=r"layer_type='conformer'"):
        _featurizer("features=w2v2", f"features.checkpoint={tmp_path / 'conformer.pt'}")
    state["cfg"]["model"] = {"_name": "data2vec_audio"}
    torch.save(state, tmp_path / "d2v.pt")
    with pytest.raises(ValueError, match=r"'data2vec_audio' is not supported"):
        _featurizer("features=hf", f"features.path={tmp_path / 'd2v.pt'}")
    for bad in ("__import__('os').system('true')", "[(512, 10, 5)] * n", "[]"):
        with pytest.raises(ValueError, match="conv_feature_layers"):
            parse_conv_layers(bad)


def test_fairseq_classes_load_without_fairseq(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Training-state leftovers pickled as fairseq objects become placeholders (fairseq is not installed)."""
    state = torch.load(FIXTURES / "hubert_base.args_namespace.pt", weights_only=False)
    names = ["fairseq", "fairseq.logging", "fairseq.logging.meters"]
    for name in names:
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    meter = type("AverageMeter", (), {"__module__": names[-1]})
    monkeypatch.setattr(sys.modules[names[-1]], "AverageMeter", meter, raising=False)
    state["extra_state"]["meter"] = meter()
    torch.save(state, tmp_path / "meters.pt")
    for name in names:
        monkeypatch.delitem(sys.modules, name)
    feat = _featurizer("features=w2v2", f"features.checkpoint={tmp_path / 'meters.pt'}", "features.allow_pickle=true")
    ref, _ = _reference(FIXTURES / "hubert_base.args_namespace.pt")
    np.testing.assert_allclose(_run(feat, ref["wav"])[2], ref["layer_2"], atol=ATOL, rtol=ATOL)
