"""The Segmental Audio Word2Vec network: boundary policy, segment encoder and segment decoder.

Three parts, all over standardised frames ``x (B, T, D)``:

* **Boundary policy** (convolutional encoder): ``conv_layers`` masked Conv1d + ReLU layers and a
  1x1 head give one logit per frame, ``P(frame t starts a segment) = sigmoid(logit_t)``. Its
  receptive field spans both sides of a candidate boundary.
* **Segment encoder**: a frame-local MLP gives codes ``z_t (H)``; a segment ``[s, s + L)`` is pooled
  into its zeroth and first Legendre moments over the relative position ``r = (k + 0.5) / L``,
  ``m0 = mean z`` and ``m1 = mean z * sqrt(3) (2r - 1)`` (so a segment can encode a rising or a
  falling trajectory, not only a bag of frames), and an MLP maps ``[m0, m1, log L]`` to the segment
  embedding ``e (E)``. Only the segment's own frames enter its embedding, as the paper's encoder RNN
  that is reset at every boundary.
* **Segment decoder** (a conditional decoder instead of the paper's decoder RNN): an MLP predicts
  every frame of the segment from ``e`` and the frame's relative position (``2r - 1``, three sine /
  cosine pairs of ``r``, ``log L``); frames are decoded independently, so any set of spans is
  reconstructed in one batched call, which the counterfactual scoring in
  :mod:`segmentation.sawv.objective` relies on.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from segmentation.sawv.spans import Spans

NUM_POSITION_FEATURES = 8
"""``2r - 1``, ``sin(pi j r)`` and ``cos(pi j r)`` for j = 1..3, and ``log L``."""


def position_features(offset: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
    """``(F, 8)`` features of frame ``offset (F,)`` inside a segment of ``length (F,)`` frames."""
    r = (offset.float() + 0.5) / length.float()
    feats = [2.0 * r - 1.0]
    for j in (1, 2, 3):
        feats += [torch.sin(math.pi * j * r), torch.cos(math.pi * j * r)]
    feats.append(torch.log(length.float()))
    return torch.stack(feats, dim=1)


class SawvModel(nn.Module):
    """Boundary policy + segment autoencoder (see the module docstring)."""

    def __init__(
        self,
        *,
        input_dim: int,
        hidden_dim: int,
        embedding_dim: int,
        conv_layers: int,
        kernel_size: int,
        init_boundary_prob: float,
        trajectory: bool = True,
    ) -> None:
        super().__init__()
        self.input_dim = input_dim
        self.hidden_dim = hidden_dim
        self.embedding_dim = embedding_dim
        self.kernel_size = kernel_size
        self.trajectory = trajectory
        self.convs = nn.ModuleList(
            nn.Conv1d(input_dim if i == 0 else hidden_dim, hidden_dim, kernel_size, padding=kernel_size // 2)
            for i in range(conv_layers)
        )
        head = nn.Conv1d(hidden_dim, 1, 1)
        with torch.no_grad():  # start as a random segmenter at the target rate
            head.weight.mul_(0.1)
            if head.bias is not None:
                head.bias.fill_(math.log(init_boundary_prob / (1.0 - init_boundary_prob)))
        self.boundary_head = head
        self.frame_net = nn.Sequential(
            nn.Linear(input_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, hidden_dim), nn.ReLU()
        )
        self.segment_net = nn.Sequential(
            nn.Linear(2 * hidden_dim + 1, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, embedding_dim)
        )
        self.decoder = nn.Sequential(
            nn.Linear(embedding_dim + NUM_POSITION_FEATURES, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, input_dim),
        )

    def boundary_logits(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x (B, T, D)``, ``mask (B, T)`` bool -> logits ``(B, T)`` of "frame starts a segment".

        Every layer's output is zeroed beyond each utterance's length, so a padded batch gives the same
        logits as its utterances one by one.
        """
        m = mask[:, None, :].to(x.dtype)
        h = x.transpose(1, 2) * m
        for conv in self.convs:
            h = torch.relu(conv(h)) * m
        out: torch.Tensor = self.boundary_head(h)[:, 0, :]
        return out

    def frame_codes(self, x: torch.Tensor) -> torch.Tensor:
        """Frame-local codes ``z (..., H)`` of frames ``x (..., D)``."""
        out: torch.Tensor = self.frame_net(x)
        return out

    def embed(self, z: torch.Tensor, spans: Spans) -> torch.Tensor:
        """Embeddings ``(M, E)`` of the spans over flat frame codes ``z (N, H)``."""
        num, lens = spans.starts.shape[0], spans.lens.to(z.dtype)[:, None]
        r = (spans.offset.to(z.dtype) + 0.5) / lens[spans.span_id, 0]
        zf = z[spans.frame]
        m0 = torch.zeros(num, z.shape[1], dtype=z.dtype, device=z.device).index_add_(0, spans.span_id, zf) / lens
        m1 = torch.zeros_like(m0)
        if self.trajectory:
            m1.index_add_(0, spans.span_id, zf * (math.sqrt(3.0) * (2.0 * r - 1.0))[:, None])
            m1 = m1 / lens
        out: torch.Tensor = self.segment_net(torch.cat([m0, m1, torch.log(lens)], dim=1))
        return out

    def reconstruct(self, emb: torch.Tensor, spans: Spans) -> torch.Tensor:
        """Predicted frames ``(F, D)`` of every listed span frame from span embeddings ``emb (M, E)``."""
        pos = position_features(spans.offset, spans.lens[spans.span_id]).to(emb.dtype)
        if not self.trajectory:  # constant reconstruction: only the length is known
            pos = pos * (torch.arange(pos.shape[1], device=pos.device) == pos.shape[1] - 1).to(pos.dtype)
        out: torch.Tensor = self.decoder(torch.cat([emb[spans.span_id], pos], dim=1))
        return out

    def span_costs(self, x: torch.Tensor, z: torch.Tensor, spans: Spans) -> tuple[torch.Tensor, torch.Tensor]:
        """Reconstruction error of each span: ``(per-span sum (M,), per-frame (F,))``.

        The per-frame error is the mean squared error over the D standardised dimensions; a span's
        cost is the sum over its frames. ``x (N, D)`` and ``z (N, H)`` are flat frames and codes.
        """
        pred = self.reconstruct(self.embed(z, spans), spans)
        err = ((pred - x[spans.frame]) ** 2).mean(dim=1)
        per_span = torch.zeros(spans.starts.shape[0], dtype=err.dtype, device=err.device)
        return per_span.index_add_(0, spans.span_id, err), err
