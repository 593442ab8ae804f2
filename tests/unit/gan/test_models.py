"""Shapes, padding and configuration checks of the generator, discriminator and batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan.config import DiscriminatorConfig, GanConfig, GeneratorConfig
from gan.data import check_features, check_text, one_hot_text, pad_features
from gan.discriminator import Discriminator
from gan.generator import Generator, fit_clusters, predict_log_probs

VOCAB = ["a", "b", "c", "<SIL>"]


def _feats(rng: np.random.Generator, lengths: list[int], dim: int = 8) -> list[np.ndarray]:
    return [rng.standard_normal((n, dim)).astype(np.float32) for n in lengths]


@pytest.mark.parametrize("num_clusters", [0, 6])
@pytest.mark.parametrize("kernel_size", [1, 3, 4])
def test_generator_shapes_and_padding(num_clusters: int, kernel_size: int) -> None:
    rng = np.random.default_rng(0)
    feats = _feats(rng, [5, 2, 7])
    gen = Generator(GeneratorConfig(num_clusters=num_clusters, kernel_size=kernel_size), 8, VOCAB).eval()
    fit_clusters(gen, feats, rng)
    x, mask = pad_features(feats, torch.device("cpu"))
    logits = gen(x, mask)
    assert logits.shape == (3, 7, len(VOCAB))
    alone = gen(*pad_features(feats[1:2], torch.device("cpu")))
    torch.testing.assert_close(logits[1, :2], alone[0])  # padding does not leak into real segments
    out = predict_log_probs(gen, feats, batch_size=2)
    assert [o.shape for o in out] == [(5, 4), (2, 4), (7, 4)]
    np.testing.assert_allclose(np.exp(out[0]).sum(-1), 1.0, rtol=1e-5)


def test_hard_clusters_give_identical_outputs_within_a_cluster() -> None:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((3, 8)) * 10
    feats = [(centres[rng.integers(0, 3, 20)] + 0.01 * rng.standard_normal((20, 8))).astype(np.float32)]
    gen = Generator(GeneratorConfig(num_clusters=3), 8, VOCAB).eval()
    fit_clusters(gen, feats, rng)
    logits = predict_log_probs(gen, feats)[0]
    assert len(np.unique(logits.round(5), axis=0)) == 3


def test_discriminator_shapes_and_padding() -> None:
    disc = Discriminator(DiscriminatorConfig(), len(VOCAB)).eval()
    real, mask = one_hot_text([np.array([3, 0, 1, 3]), np.array([3, 2, 3])], len(VOCAB), torch.device("cpu"))
    assert real.shape == (2, 4, 4) and mask.tolist() == [[False] * 4, [False, False, False, True]]
    assert real[1, 3].sum() == 0  # padding is all zeros
    scores = disc(real, mask)
    assert scores.shape == (2,)
    alone = disc(*one_hot_text([np.array([3, 2, 3])], len(VOCAB), torch.device("cpu")))
    torch.testing.assert_close(scores[1:], alone)


def test_input_checks_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="empty"):
        check_features("train", [])
    with pytest.raises(ValueError, match="one D"):
        check_features("train", [np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match="outside"):
        check_text([np.array([0, 9])], vocab_size=4)


@pytest.mark.parametrize(
    "cfg",
    [
        GanConfig(batch_size=0),
        GanConfig(betas=(0.5, 1.0)),
        GanConfig(ema_decay=1.0),
        GanConfig(generator=GeneratorConfig(num_clusters=-1)),
        GanConfig(discriminator=DiscriminatorConfig(kernel_size=4)),
        GanConfig(device="tpu9"),
    ],
)
def test_config_validation(cfg: GanConfig) -> None:
    with pytest.raises(ValueError):
        cfg.validate()


def test_alternation_and_code_penalty_schedule() -> None:
    cfg = GanConfig(discriminator_steps=2, generator_steps=1, code_penalty=1.0, code_penalty_decay_updates=10)
    assert [cfg.is_discriminator_step(s) for s in range(6)] == [True, True, False, True, True, False]
    assert cfg.code_penalty_at(0) == 1.0 and cfg.code_penalty_at(5) == 0.5 and cfg.code_penalty_at(20) == 0.0
