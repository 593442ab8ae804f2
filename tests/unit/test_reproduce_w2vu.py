"""The ``reproduce_w2vu`` configs of recipes/timit and recipes/librispeech compose, validate and carry
wav2vec-U's published settings (fairseq examples/wav2vec/unsupervised: prepare_audio.sh, config/gan/w2vu.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gan.config import GanConfig
from gan.discriminator import Discriminator
from gan.generator import Generator
from segmentation.kmeans_join import KMeansJoinConfig
from unsup_asr.cli import load_config
from unsup_asr.config import RunConfig
from unsup_asr.features.w2v2 import W2v2Config

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
NAMES = ["timit", "librispeech"]


def _compose(name: str, out: Path) -> RunConfig:
    cfg = load_config([f"out={out}"], str(RECIPES / name / "conf"), "reproduce_w2vu")
    cfg.validate()
    return cfg


@pytest.mark.parametrize("name", NAMES)
def test_reproduce_w2vu_has_the_published_settings(name: str, tmp_path: Path) -> None:
    cfg = _compose(name, tmp_path)
    assert cfg.layer == 15  # fairseq's --layer 14
    assert isinstance(cfg.features, W2v2Config) and cfg.features.allow_pickle
    assert cfg.features.checkpoint.endswith("wav2vec_vox_new.pt")  # wav2vec 2.0 Large LV-60, not fine-tuned
    seg = cfg.segmenter
    assert isinstance(seg, KMeansJoinConfig)
    assert (seg.pca_dim, seg.num_clusters, seg.min_frames, seg.pooling) == (512, 128, 1, "mean")
    gan = cfg.learner
    assert isinstance(gan, GanConfig)
    assert (gan.num_updates, gan.batch_size, gan.num_seeds, gan.max_seconds) == (150_000, 160, 5, 0)
    assert (gan.lr_generator, gan.lr_discriminator, tuple(gan.betas)) == (4e-4, 5e-4, (0.5, 0.98))
    assert (gan.gradient_penalty, gan.code_penalty, gan.smoothness_weight) == (1.5, 4.0, 0.5)
    assert gan.code_penalty_decay_updates == 0 and gan.ema_decay == 0 and not gan.straight_through
    g = gan.generator
    assert (g.kernel_size, g.bias, g.input_dropout, g.num_clusters, g.input_norm) == (4, False, 0.1, 0, False)
    d = gan.discriminator
    assert (d.hidden, d.num_layers, d.kernel_size, d.dropout) == (384, 2, 7, 0.0)  # fairseq: kernel 6 (even)
    assert cfg.self_train.students == []
    assert cfg.text.sil_prob == 0.25 and cfg.text.lm_order == 4


def test_timit_is_the_matched_setting(tmp_path: Path) -> None:
    cfg = _compose("timit", tmp_path)
    assert cfg.data.sources[0].timit is not None and cfg.data.sources[0].timit.split_mode == "matched"
    assert not cfg.data.vad.enabled  # prepare_timit.sh removes no silence
    assert cfg.text.kind == "phones" and cfg.text.decode_lm_order == 4
    assert cfg.segmenter.max_fit_frames >= 600_000  # every TIMIT training frame (3696 utterances, ~3.1 h)


def test_librispeech_is_960_hours_without_silence(tmp_path: Path) -> None:
    cfg = _compose("librispeech", tmp_path)
    source = cfg.data.sources[0]
    assert source.librispeech is not None
    train = sorted(k for k, v in source.splits.items() if v == "train")
    assert train == ["train-clean-100", "train-clean-360", "train-other-500"]
    assert set(cfg.splits.all()) <= set(source.splits.values())
    assert cfg.data.vad.enabled and cfg.text.phone_set == "arpabet" and cfg.text.word_lm_order == 4


def test_model_sizes_match_wav2vec_u(tmp_path: Path) -> None:
    """With TIMIT's / ARPAbet's 44 outputs (REFERENCES.md section 2): fairseq's generator has 90,112 parameters
    and its discriminator about 0.99 M; our odd kernel 7 makes the discriminator 17 % larger."""
    gan = _compose("timit", tmp_path).learner
    gen = Generator(gan.generator, 512, [f"p{i}" for i in range(43)] + ["<SIL>"])
    assert sum(p.numel() for p in gen.parameters()) == 90_112
    disc = Discriminator(gan.discriminator, 44)
    assert 0.99e6 < sum(p.numel() for p in disc.parameters()) < 1.2e6
    feats, pad = torch.randn(3, 20, 512), torch.zeros(3, 20, dtype=torch.bool)
    logits = gen(feats, pad)
    assert logits.shape == (3, 20, 44) and disc(logits.softmax(-1), pad).shape == (3,)


@pytest.mark.parametrize("name", NAMES)
def test_readme_states_the_anchor_and_that_nothing_was_reproduced_here(name: str) -> None:
    readme = (RECIPES / name / "README.md").read_text()
    assert "--config-name reproduce_w2vu" in readme and "extract.device=cuda" in readme
    assert ("17.8" if name == "timit" else "13.8") in readme
    assert "none of these figures was reproduced" in readme.lower()
