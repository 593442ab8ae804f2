"""The generator: a small Conv1d map from segment embeddings to phone logits, and its decoding."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gan.config import GeneratorConfig
from gan.data import pad_features

SIL = "<SIL>"


class Generator(nn.Module):
    """Map segment embeddings ``(B,S,D)`` to phone logits ``(B,S,V)`` (one distribution per segment).

    Optional parameter-free LayerNorm on each embedding, input dropout, then one Conv1d of width
    ``kernel_size`` over the segment axis (a linear map per segment when the width is 1).
    Padded positions are zeroed before the convolution, so they do not leak into neighbours.
    """

    def __init__(self, cfg: GeneratorConfig, input_dim: int, vocab: list[str]) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.input_dim = input_dim
        self.vocab = list(vocab)
        self.vocab_size = vocab_size = len(vocab)
        self.dropout = nn.Dropout(cfg.input_dropout)
        self.proj = nn.Conv1d(input_dim, vocab_size, cfg.kernel_size, padding=cfg.kernel_size // 2, bias=cfg.bias)

    def forward(self, feats: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
        """Logits ``(B,S,V)`` of ``feats`` ``(B,S,D)``; ``padding_mask`` ``(B,S)`` is True at padding."""
        x = F.layer_norm(feats, (feats.shape[-1],)) if self.cfg.input_norm else feats
        x = self.dropout(x).masked_fill(padding_mask.unsqueeze(-1), 0.0)
        logits: torch.Tensor = self.proj(x.transpose(1, 2)).transpose(1, 2)
        return logits[:, : feats.shape[1]]


def kmeans(points: np.ndarray, k: int, rng: np.random.Generator, iters: int = 20) -> np.ndarray:
    """Centroids ``(k, D)`` of ``points`` ``(N, D)``: k-means++ seeding, then Lloyd iterations."""
    centroids = [points[rng.integers(len(points))]]
    dist = ((points - centroids[0]) ** 2).sum(1)
    for _ in range(1, k):
        centroids.append(points[rng.choice(len(points), p=dist / dist.sum())])
        dist = np.minimum(dist, ((points - centroids[-1]) ** 2).sum(1))
    c = np.stack(centroids)
    for _ in range(iters):
        assign = ((points**2).sum(1, keepdims=True) - 2 * points @ c.T + (c**2).sum(1)).argmin(1)
        for j in range(k):
            members = points[assign == j]
            if len(members):
                c[j] = members.mean(0)
    return c


@torch.no_grad()
def kmeans_init(gen: Generator, feats: list[np.ndarray], rng: np.random.Generator, max_points: int = 20000) -> None:
    """Data-dependent initialisation: one k-means centroid of the (normalised) segments per phone.

    The centre tap of the Conv1d becomes ``scale * centroid_k`` for phone k (other taps zero), so
    every cluster of segments starts mapped to one phone, in random order; ``scale`` makes the
    initial logits unit-variance. No labels and no text are used.
    """
    points = np.concatenate(feats)
    points = points[rng.permutation(len(points))[:max_points]].astype(np.float64)
    if gen.cfg.input_norm:
        points = (points - points.mean(1, keepdims=True)) / np.sqrt(points.var(1, keepdims=True) + 1e-5)
    centroids = kmeans(points, gen.vocab_size, rng)
    scale = 1.0 / (points @ centroids.T).std()
    weight = torch.zeros_like(gen.proj.weight)
    weight[:, :, gen.cfg.kernel_size // 2] = torch.from_numpy(scale * centroids).to(weight)
    gen.proj.weight.copy_(weight)


@torch.no_grad()
def predict_log_probs(gen: Generator, feats: list[np.ndarray], batch_size: int = 64) -> list[np.ndarray]:
    """Log-softmax outputs, one float32 ``(S_i, V)`` array per utterance of ``feats`` ``(S_i, D)``."""
    was_training = gen.training
    gen.eval()
    device = next(gen.parameters()).device
    out: list[np.ndarray] = []
    for start in range(0, len(feats), batch_size):
        chunk = feats[start : start + batch_size]
        x, mask = pad_features(chunk, device)
        log_probs = gen(x, mask).log_softmax(-1).cpu().numpy()
        out.extend(log_probs[i, : len(f)].astype(np.float32) for i, f in enumerate(chunk))
    gen.train(was_training)
    return out


def argmax_hypotheses(log_probs: list[np.ndarray], vocab: list[str]) -> list[list[str]]:
    """Viterbi (greedy) decoding: argmax per segment, merge repeats, drop ``<SIL>``."""
    hyps = []
    for lp in log_probs:
        ids = lp.argmax(-1)
        keep = np.ones(len(ids), dtype=bool)
        keep[1:] = ids[1:] != ids[:-1]
        hyps.append([vocab[i] for i in ids[keep] if vocab[i] != SIL])
    return hyps
