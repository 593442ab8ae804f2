"""The generator: a small Conv1d map from segment embeddings to phone logits, and its decoding."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gan.config import GeneratorConfig
from gan.phone_model import PhoneModel, register_phone_model
from gan.phone_model import predict_log_probs as _predict

SIL = "<SIL>"


@register_phone_model("generator")
class Generator(PhoneModel):
    """Map segment embeddings ``(B,S,D)`` to phone logits ``(B,S,V)`` (one distribution per segment).

    Optional parameter-free LayerNorm on each embedding; then, with ``num_clusters = K > 0``, the
    embedding is replaced by its k-means cluster posterior ``(K,)`` (hard one-hot when
    ``cluster_temperature`` is 0, else ``softmax(-||x - c_k||^2 / (temperature * D))``; the
    centroids are a buffer set by :func:`fit_clusters`); input dropout; one Conv1d of width
    ``kernel_size`` over the segment axis (a linear map per segment, i.e. a cluster -> phone table
    when K > 0 and the width is 1). Padded positions are zeroed before the convolution.

    The GAN (``learner=gan``) and the matching learner (``learner=match``) both train this class.
    """

    centroids: torch.Tensor

    def __init__(self, cfg: GeneratorConfig, input_dim: int, vocab: list[str]) -> None:
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.unit = "segment"
        self.input_dim = input_dim
        self.vocab = list(vocab)
        self.vocab_size = len(vocab)
        self.register_buffer("centroids", torch.zeros(cfg.num_clusters, input_dim))
        self.dropout = nn.Dropout(cfg.input_dropout)
        in_channels = cfg.num_clusters or input_dim
        self.proj = nn.Conv1d(
            in_channels, self.vocab_size, cfg.kernel_size, padding=cfg.kernel_size // 2, bias=cfg.bias
        )
        nn.init.normal_(self.proj.weight, std=cfg.init_std)

    def spec(self) -> dict[str, Any]:
        return {"cfg": asdict(self.cfg), "input_dim": self.input_dim, "vocab": list(self.vocab)}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Generator:
        return cls(GeneratorConfig(**spec["cfg"]), spec["input_dim"], spec["vocab"])

    def encode(self, feats: torch.Tensor) -> torch.Tensor:
        """The Conv1d's input ``(B,S,K or D)``: normalised features or their cluster posteriors."""
        x = F.layer_norm(feats, (feats.shape[-1],)) if self.cfg.input_norm else feats
        if not self.cfg.num_clusters:
            return x
        dist = (x * x).sum(-1, keepdim=True) - 2 * x @ self.centroids.T + (self.centroids**2).sum(-1)
        if self.cfg.cluster_temperature == 0:
            return F.one_hot(dist.argmin(-1), self.cfg.num_clusters).to(x.dtype)
        return (-dist / (self.cfg.cluster_temperature * x.shape[-1])).softmax(-1)

    def forward(self, feats: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
        """Logits ``(B,S,V)`` of ``feats`` ``(B,S,D)``; ``padding_mask`` ``(B,S)`` is True at padding."""
        x = self.dropout(self.encode(feats)).masked_fill(padding_mask.unsqueeze(-1), 0.0)
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
def fit_clusters(gen: Generator, feats: list[np.ndarray], rng: np.random.Generator, max_points: int = 20000) -> None:
    """Fit the generator's k-means centroids on (at most ``max_points``) training segments.

    Unsupervised: uses neither labels nor text. A no-op when ``num_clusters`` is 0.
    """
    if not gen.cfg.num_clusters:
        return
    points = torch.from_numpy(np.concatenate(feats)[rng.permutation(sum(len(f) for f in feats))[:max_points]])
    if gen.cfg.input_norm:
        points = F.layer_norm(points, (points.shape[-1],))
    if len(points) < gen.cfg.num_clusters:
        raise ValueError(
            f"{len(points)} training segments cannot fit {gen.cfg.num_clusters} clusters: lower num_clusters"
        )
    centroids = kmeans(points.double().numpy(), gen.cfg.num_clusters, rng)
    gen.centroids.copy_(torch.from_numpy(centroids).to(gen.centroids))


def predict_log_probs(gen: nn.Module, feats: list[np.ndarray], batch_size: int = 64) -> list[np.ndarray]:
    """Log-softmax outputs, one float32 ``(S_i, V)`` array per utterance of ``feats`` ``(S_i, D)``
    (:func:`gan.phone_model.predict_log_probs`, kept here for existing callers)."""
    return _predict(gen, feats, batch_size)
