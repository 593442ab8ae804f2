"""Supervised training of the GAN's generator: a *diagnostic ceiling only*, never part of the
unsupervised pipeline. It tells how well the generator architecture can map these segment
features to phones when the labels are known."""

from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F

from gan.config import GanConfig
from gan.data import check_features, pad_features
from gan.generator import Generator, fit_clusters

logger = logging.getLogger(__name__)


def train_supervised(
    cfg: GanConfig,
    feats: list[np.ndarray],
    labels: list[np.ndarray],
    vocab: list[str],
    *,
    num_updates: int,
    seed: int,
    lr: float | None = None,
) -> Generator:
    """Train ``Generator(cfg.generator)`` with cross-entropy on labelled segments (its k-means
    centroids, if any, are fitted on ``feats`` first, as in :func:`gan.train_gan`).

    Args:
        cfg: GAN config; its generator architecture, ``batch_size``, ``lr_generator``, ``betas``
            and device are used.
        feats: segment features, one ``(S_i, D)`` array per utterance.
        labels: gold phone ids, one ``(S_i,)`` int array per utterance (indices into ``vocab``).
        vocab: phone inventory.
        num_updates: Adam updates.
        seed: seed of initialisation and batching.
        lr: Adam learning rate (``None``: ``cfg.lr_generator``, which is tuned for the GAN and slow).

    Returns:
        The trained generator, in eval mode.
    """
    cfg.validate()
    dim = check_features("feats", feats)
    if len(labels) != len(feats) or any(len(y) != len(f) for y, f in zip(labels, feats, strict=False)):
        raise ValueError("labels must hold one phone id per segment of feats (same count and lengths)")
    if num_updates < 1:
        raise ValueError(f"num_updates must be >= 1, got {num_updates}")
    device = cfg.resolved_device()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    gen = Generator(cfg.generator, dim, vocab)
    fit_clusters(gen, feats, rng)
    gen = gen.to(device)
    opt = torch.optim.Adam(gen.parameters(), lr=lr or cfg.lr_generator, betas=cfg.betas)
    gen.train()
    for step in range(num_updates):
        idx = rng.integers(0, len(feats), size=cfg.batch_size)
        x, mask = pad_features([feats[i] for i in idx], device)
        y = pad_features([labels[i].astype(np.float32)[:, None] for i in idx], device)[0][..., 0].long()
        logits = gen(x, mask)
        loss = F.cross_entropy(logits[~mask], y[~mask])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % 100 == 0:
            logger.debug("supervised step %d: cross-entropy %.4f", step + 1, loss.item())
    return gen.eval()
