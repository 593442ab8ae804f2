"""Adversarial losses and penalties as pure functions.

Shapes: ``probs``/``logits`` ``(B,S,V)``, padding masks ``(B,S)`` bool (True at padding),
discriminator logits ``(B,)``. Every function returns a scalar tensor.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the discriminator: real text -> 1, generator output -> 0."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss ``-log sigmoid D(fake)``: make generator output look real."""
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
    penalty: torch.Tensor = ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()
    return penalty


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
