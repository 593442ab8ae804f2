"""Span masks for masked prediction (wav2vec 2.0 / HuBERT style)."""

from __future__ import annotations

import torch


def span_mask(lens: torch.Tensor, max_len: int, prob: float, length: int, generator: torch.Generator) -> torch.Tensor:
    """``(B, max_len)`` bool mask: each valid frame starts a masked span of ``length`` frames with
    probability ``prob`` (expected masked fraction ``1 - (1 - prob) ** length``, 0.57 for 0.08
    and 10); spans are cut at the utterance end and every utterance gets at least one span.

    Args:
        lens: ``(B,)`` valid frames per utterance (on CPU).
        generator: the CPU random generator (makes masks reproducible).
    """
    valid = torch.arange(max_len)[None, :] < lens[:, None]
    starts = (torch.rand(lens.shape[0], max_len, generator=generator) < prob) & valid
    empty = ~starts.any(1)
    if empty.any():
        first = (torch.rand(lens.shape[0], generator=generator) * lens.clamp(min=1)).long()
        starts[empty, first[empty]] = True
    # frame t is masked if a span started in [t - length + 1, t]: a causal running max
    padded = torch.nn.functional.pad(starts.float()[:, None], (length - 1, 0))
    mask = torch.nn.functional.max_pool1d(padded, kernel_size=length, stride=1)[:, 0] > 0
    return mask & valid
