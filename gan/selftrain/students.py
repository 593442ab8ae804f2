"""Self-training students: phone models trained with cross-entropy on pseudo-labels.

* :class:`SegmentStudent` (unit ``segment``): an MLP of each layer-normalised segment embedding;
* :class:`FrameStudent` (unit ``frame``): an MLP of each 20 ms frame spliced with ``splice`` frames
  on each side, after per-utterance mean and variance normalisation. It is not bounded by the
  segmentation: decoding merges its repeated frame labels, and its LM-decoded frame paths give new
  phone boundaries (:mod:`segmentation.aligned`).

:func:`train_student` is the training loop (batches of utterances, Adam, ``epochs`` passes).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from gan.data import pad_features
from gan.phone_model import PhoneModel, register_phone_model

logger = logging.getLogger(__name__)


def _mlp(in_dim: int, hidden: int, layers: int, out_dim: int, dropout: float) -> nn.Sequential:
    mods: list[nn.Module] = []
    for i in range(layers):
        mods += [nn.Linear(in_dim if i == 0 else hidden, hidden), nn.ReLU(), nn.Dropout(dropout)]
    mods.append(nn.Linear(hidden if layers else in_dim, out_dim))
    return nn.Sequential(*mods)


@register_phone_model("segment_mlp")
class SegmentStudent(PhoneModel):
    """Segment embeddings ``(B, S, D)`` -> logits ``(B, S, V)``: LayerNorm (no affine), then an MLP."""

    def __init__(self, input_dim: int, vocab: list[str], *, hidden: int, layers: int, dropout: float) -> None:
        super().__init__()
        self.unit, self.vocab, self.input_dim = "segment", list(vocab), input_dim
        self.hparams = {"hidden": hidden, "layers": layers, "dropout": dropout}
        self.net = _mlp(input_dim, hidden, layers, len(vocab), dropout)

    def forward(self, feats: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.net(F.layer_norm(feats, (feats.shape[-1],)))
        return logits

    def spec(self) -> dict[str, Any]:
        return {"input_dim": self.input_dim, "vocab": self.vocab} | self.hparams

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> SegmentStudent:
        return cls(spec["input_dim"], spec["vocab"], hidden=spec["hidden"], layers=spec["layers"],
                   dropout=spec["dropout"])


@register_phone_model("frame_mlp")
class FrameStudent(PhoneModel):
    """Frames ``(B, T, D)`` -> logits ``(B, T, V)``: per-utterance mean/variance normalisation over the
    valid frames, ``2 * splice + 1`` frames stacked (zeros beyond the edges), then an MLP."""

    def __init__(self, input_dim: int, vocab: list[str], *, hidden: int, layers: int, dropout: float,
                 splice: int) -> None:
        super().__init__()
        self.unit, self.vocab, self.input_dim = "frame", list(vocab), input_dim
        self.hparams = {"hidden": hidden, "layers": layers, "dropout": dropout, "splice": splice}
        self.splice = splice
        self.net = _mlp(input_dim * (2 * splice + 1), hidden, layers, len(vocab), dropout)

    def forward(self, feats: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
        keep = (~padding_mask).to(feats.dtype)[..., None]
        n = keep.sum(1, keepdim=True).clamp_min(1.0)
        mean = (feats * keep).sum(1, keepdim=True) / n
        std = ((((feats - mean) * keep) ** 2).sum(1, keepdim=True) / n).sqrt().clamp_min(1e-5)
        x = ((feats - mean) / std) * keep
        padded = F.pad(x, (0, 0, self.splice, self.splice))
        stacked = torch.cat([padded[:, j : j + x.shape[1]] for j in range(2 * self.splice + 1)], -1)
        logits: torch.Tensor = self.net(stacked)
        return logits

    def spec(self) -> dict[str, Any]:
        return {"input_dim": self.input_dim, "vocab": self.vocab} | self.hparams

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> FrameStudent:
        return cls(spec["input_dim"], spec["vocab"], hidden=spec["hidden"], layers=spec["layers"],
                   dropout=spec["dropout"], splice=spec["splice"])


def train_student(model: PhoneModel, inputs: list[np.ndarray], labels: list[np.ndarray], *, epochs: int,
                  batch_size: int, lr: float, weight_decay: float, seed: int,
                  device: torch.device | None = None) -> list[dict[str, float]]:
    """Cross-entropy training of ``model`` on ``inputs[i] (S_i, D)`` with ``labels[i] (S_i,)`` ids,
    ``epochs`` passes over the utterances in batches of ``batch_size`` utterances; returns the mean
    loss and label accuracy of each epoch (``losses/ce``, ``charts/train_acc``)."""
    if len(inputs) != len(labels) or any(len(x) != len(y) for x, y in zip(inputs, labels, strict=True)):
        raise ValueError("pseudo-labels must give one label per position of every training utterance")
    device = device or torch.device("cpu")
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    history = []
    for epoch in tqdm(range(epochs), desc=f"student ({model.unit})", leave=False):
        order = rng.permutation(len(inputs))
        total = correct = count = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            x, mask = pad_features([inputs[i] for i in idx], device)
            y = torch.zeros(mask.shape, dtype=torch.int64, device=device)
            for row, i in enumerate(idx):
                y[row, : len(labels[i])] = torch.from_numpy(labels[i])
            logits = model(x, mask)[~mask]
            loss = F.cross_entropy(logits, y[~mask])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            n = float(logits.shape[0])
            total += loss.item() * n
            correct += float((logits.argmax(-1) == y[~mask]).sum())
            count += n
        history.append({"epoch": float(epoch + 1), "losses/ce": total / count, "charts/train_acc": correct / count})
    model.eval()
    return history
