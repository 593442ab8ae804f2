"""The discriminator: a Conv1d stack scoring phone-distribution sequences as real text or not."""

from __future__ import annotations

import torch
from torch import nn

from gan.config import DiscriminatorConfig


class Discriminator(nn.Module):
    """Score ``(B,S,V)`` phone distributions: one logit per sequence, ``(B,)``, high = real text.

    ``num_layers`` Conv1d layers of ``hidden`` channels (LeakyReLU, dropout), a Conv1d to one
    channel giving a score per position ``(B,S)``, and the mean of the scores over non-padded
    positions. All convolutions use 'same' padding over the segment axis.
    """

    def __init__(self, cfg: DiscriminatorConfig, vocab_size: int) -> None:
        super().__init__()
        cfg.validate()
        layers: list[nn.Module] = []
        channels = vocab_size
        for _ in range(cfg.num_layers):
            layers += [
                nn.Conv1d(channels, cfg.hidden, cfg.kernel_size, padding=cfg.kernel_size // 2),
                nn.LeakyReLU(0.2),
                nn.Dropout(cfg.dropout),
            ]
            channels = cfg.hidden
        layers.append(nn.Conv1d(channels, 1, cfg.kernel_size, padding=cfg.kernel_size // 2))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
        """Logits ``(B,)`` of ``x`` ``(B,S,V)``; ``padding_mask`` ``(B,S)`` is True at padding."""
        keep = (~padding_mask).to(x.dtype)
        scores = self.net((x * keep.unsqueeze(-1)).transpose(1, 2)).squeeze(1)
        return (scores * keep).sum(1) / keep.sum(1).clamp_min(1.0)
