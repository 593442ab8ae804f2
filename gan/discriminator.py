"""The discriminator: a Conv1d stack scoring phone-distribution sequences as real text or not."""

from __future__ import annotations

import itertools

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
        widths = [vocab_size] + [cfg.hidden] * cfg.num_layers + [1]
        pad = cfg.kernel_size // 2
        self.convs = nn.ModuleList(
            nn.Conv1d(w_in, w_out, cfg.kernel_size, padding=pad)
            for w_in, w_out in itertools.pairwise(widths)
        )
        self.act = nn.LeakyReLU(0.2)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
        """Logits ``(B,)`` of ``x`` ``(B,S,V)``; ``padding_mask`` ``(B,S)`` is True at padding.

        Activations at padded positions are zeroed after every layer, so a sequence gets the same
        score whatever it is batched with.
        """
        keep = (~padding_mask).to(x.dtype).unsqueeze(1)
        h = x.transpose(1, 2) * keep
        for conv in self.convs[:-1]:
            h = self.dropout(self.act(conv(h))) * keep
        scores: torch.Tensor = self.convs[-1](h).squeeze(1) * keep.squeeze(1)
        return scores.sum(1) / keep.squeeze(1).sum(1).clamp_min(1.0)
