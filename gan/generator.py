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
        vocab_size = len(vocab)
        self.dropout = nn.Dropout(cfg.input_dropout)
        self.proj = nn.Conv1d(input_dim, vocab_size, cfg.kernel_size, padding=cfg.kernel_size // 2, bias=cfg.bias)

    def forward(self, feats: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
        """Logits ``(B,S,V)`` of ``feats`` ``(B,S,D)``; ``padding_mask`` ``(B,S)`` is True at padding."""
        x = F.layer_norm(feats, (feats.shape[-1],)) if self.cfg.input_norm else feats
        x = self.dropout(x).masked_fill(padding_mask.unsqueeze(-1), 0.0)
        logits: torch.Tensor = self.proj(x.transpose(1, 2)).transpose(1, 2)
        return logits[:, : feats.shape[1]]


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
