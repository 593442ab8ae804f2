"""Adversarial losses and penalties as pure functions.

Shapes: ``probs``/``logits`` ``(B,S,V)``, padding masks ``(B,S)`` bool (True at padding),
discriminator logits ``(B,)``. Every function returns a scalar tensor.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    """Discriminator loss: binary cross-entropy (real text -> 1, generator output -> 0), or with
    ``kind="wasserstein"`` the WGAN critic loss ``mean D(fake) - mean D(real)``."""
    if kind == "wasserstein":
        return fake_logits.mean() - real_logits.mean()
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    """Generator loss: non-saturating ``-log sigmoid D(fake)``, or ``-mean D(fake)`` (wasserstein)."""
    if kind == "wasserstein":
        return -fake_logits.mean()
    return F.softplus(-fake_logits).mean()


def _valid_mean(values: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` ``(B,S,...)`` over non-padded positions, per trailing element ``(...)``."""
    keep = (~padding_mask).to(values.dtype)
    while keep.dim() < values.dim():
        keep = keep.unsqueeze(-1)
    return (values * keep).sum((0, 1)) / keep.sum().clamp_min(1.0)


def gradient_penalty(
    discriminator: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    real_mask: torch.Tensor,
    fake: torch.Tensor,
    fake_mask: torch.Tensor,
) -> torch.Tensor:
    """Per-sample WGAN-GP: mean over sequences of ``(||grad_x D(x)|| - 1)^2`` on interpolates.

    ``x = a * real + (1 - a) * fake`` with one ``a ~ U(0, 1)`` per sequence; both batches are cut
    to the smaller batch size and zero-padded to the longer length, and a position counts as
    padding only where it is padding in both. The norm is taken over the whole ``(S, V)`` sequence
    of each sample (fairseq takes it over time only, per phone, and sums over the batch).
    """
    b = min(real.shape[0], fake.shape[0])
    length = max(real.shape[1], fake.shape[1])
    real = F.pad(real[:b], (0, 0, 0, length - real.shape[1]))
    fake = F.pad(fake[:b], (0, 0, 0, length - fake.shape[1]))
    real_mask = F.pad(real_mask[:b], (0, length - real_mask.shape[1]), value=True)
    fake_mask = F.pad(fake_mask[:b], (0, length - fake_mask.shape[1]), value=True)
    alpha = torch.rand(b, 1, 1, device=real.device)
    mixed = (alpha * real + (1 - alpha) * fake.detach()).requires_grad_(True)
    scores = discriminator(mixed, real_mask & fake_mask)
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()


def code_penalty(probs: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
    """wav2vec-U's diversity penalty ``(V - exp(H(p_mean))) / V`` in ``[0, 1 - 1/V]``.

    ``p_mean`` ``(V,)`` is the softmax averaged over all non-padded segments of the batch; the
    penalty is 0 when every phone is used equally and ``1 - 1/V`` when a single phone is used.
    """
    vocab_size = probs.shape[-1]
    mean = _valid_mean(probs, padding_mask)
    entropy = -(mean * torch.log(mean.clamp_min(1e-8))).sum()
    return (vocab_size - torch.exp(entropy)) / vocab_size


def smoothness_penalty(logits: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of the logits of consecutive non-padded segments."""
    if logits.shape[1] < 2:
        return logits.new_zeros(())
    diff = (logits[:, 1:] - logits[:, :-1]).pow(2).mean(-1)
    pair_mask = padding_mask[:, 1:] | padding_mask[:, :-1]
    return _valid_mean(diff, pair_mask)


def segment_entropy(probs: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
    """Mean entropy (nats) of the per-segment distributions over non-padded segments."""
    entropy = -(probs * probs.clamp_min(1e-8).log()).sum(-1)
    return _valid_mean(entropy, padding_mask)


def unigram_kl(probs: torch.Tensor, padding_mask: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``KL(target || p_mean)``: how far the batch-mean phone distribution is from the text unigram.

    ``target`` ``(V,)`` is the unigram of the unpaired text. An optional auxiliary *unsupervised*
    loss (first-order expected-statistics matching, in the spirit of Yeh et al. 2019's EODM).
    """
    vocab_size = probs.shape[-1]
    mean = 0.99 * _valid_mean(probs, padding_mask) + 0.01 / vocab_size
    target = target.clamp_min(1e-8)
    return (target * (target.log() - mean.log())).sum()


def bigram_kl(probs: torch.Tensor, padding_mask: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``KL(target || B)`` with ``B`` ``(V,V)`` the expected bigram distribution of the generator.

    ``B = mean over consecutive non-padded segment pairs of p_t p_{t+1}^T`` and ``target`` is the
    bigram distribution of the unpaired text. An optional auxiliary *unsupervised* loss (Yeh et
    al. 2019's empirical output distribution matching, EODM, for bigrams).
    """
    vocab_size = probs.shape[-1]
    keep = (~(padding_mask[:, 1:] | padding_mask[:, :-1])).to(probs.dtype)
    pairs = torch.einsum("bs,bsi,bsj->ij", keep, probs[:, :-1], probs[:, 1:]) / keep.sum().clamp_min(1.0)
    pairs = 0.99 * pairs + 0.01 / vocab_size**2
    target = target.clamp_min(1e-10)
    return (target * (target.log() - pairs.log())).sum()
