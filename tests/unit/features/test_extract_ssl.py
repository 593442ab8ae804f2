"""The extract_features stage with SSL featurizers (tiny random models saved locally): cached layer
features for every split, 20 ms frames, and the same values as calling the featurizer directly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from transformers import AutoModel, HubertConfig

from unsup_asr.cli import load_config
from unsup_asr.data.manifest import Utterance, write_manifest
from unsup_asr.features.cache import FeatureSet
from unsup_asr.paths import RunPaths
from unsup_asr.stages import extract_features


def _corpus(out: Path) -> None:
    rng = np.random.default_rng(0)
    paths = RunPaths(out)
    for split, seconds in (("train", [1.0, 0.7]), ("valid", [0.5]), ("test", [0.9])):
        utts = []
        for i, s in enumerate(seconds):
            wav = out / f"{split}{i}.wav"
            sf.write(wav, (0.1 * rng.standard_normal(int(16000 * s))).astype(np.float32), 16000)
            utts.append(Utterance(id=f"{split}{i}", audio=str(wav), sample_rate=16000, num_samples=int(16000 * s)))
        write_manifest(paths.manifest(split), utts)


def test_extract_hf_layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    model_dir = tmp_path / "hubert"
    config = HubertConfig(
        hidden_size=32, num_hidden_layers=3, num_attention_heads=4, intermediate_size=64, conv_dim=(16,) * 7,
        num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
    )
    AutoModel.from_config(config).save_pretrained(model_dir)  # type: ignore[no-untyped-call]
    _corpus(tmp_path)
    cfg = load_config([f"out={tmp_path}", "features=hf", f"features.path={model_dir}", "layer=2"], None, "run")
    folder = extract_features.run(cfg)
    assert folder.name == "L2"
    train = FeatureSet(folder, "train")
    assert train.dim == 32 and train.frame_shift_s == 0.02
    assert [len(x) for x in train] == [(16000 - 400) // 320 + 1, (11200 - 400) // 320 + 1]
    feat = extract_features.build_featurizer(cfg.features)
    wav, _ = sf.read(tmp_path / "train0.wav", dtype="float32")
    direct = feat(torch.from_numpy(wav)[None], torch.tensor([len(wav)]), [2])[2][0][0].numpy()
    np.testing.assert_allclose(train[0], direct, atol=2e-3)  # the cache stores float16
    assert extract_features.run(cfg) == folder  # cached: nothing recomputed
    # Later stages find the folder through the index, without loading the model again.
    def no_model(_: object) -> None:
        raise AssertionError("features_folder loaded the model again")

    monkeypatch.setattr(extract_features, "build_featurizer", no_model)
    assert extract_features.features_folder(cfg) == folder
