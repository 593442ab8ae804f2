"""Greedy ("Viterbi") decoding of segment-level phone distributions, as in wav2vec-U.

For each utterance: take the argmax phone of every segment, merge consecutive repeats, then drop
silence (so ``A <SIL> A`` becomes ``A A``: silence separates the two tokens before it is removed,
matching fairseq's ``w2vu_generate.py``). No language model is used.

For frame-level outputs (about four frames per phone) the argmax flickers between phones; with
``switch_penalty`` > 0 the path is the true Viterbi path of a model whose transitions cost
``switch_penalty`` (natural log) whenever the phone changes, i.e. the path maximising
``sum_t log p_t(y_t) - switch_penalty * #{t: y_t != y_(t-1)}`` (:func:`smooth_path`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass(kw_only=True)
class ViterbiConfig:
    """Options of :class:`ViterbiDecoder`."""

    silence: str = "<SIL>"
    """Silence token, removed from the output (a token absent from the vocabulary removes nothing)."""
    merge_repeats: bool = True
    """Merge runs of the same phone into one token (needed when segments are finer than phones)."""
    switch_penalty: float = 0.0
    """Cost (natural log) of every change of phone along the path; 0 = the argmax of each position."""

    def validate(self) -> None:
        """Raise ValueError on an invalid configuration."""
        if not self.silence:
            raise ValueError("ViterbiConfig.silence must be a non-empty token, e.g. '<SIL>'")
        if self.switch_penalty < 0:
            raise ValueError(f"ViterbiConfig.switch_penalty must be >= 0, got {self.switch_penalty}")


def smooth_path(log_probs: np.ndarray, switch_penalty: float) -> np.ndarray:
    """Best path ``(S,)`` of ``log_probs (S, V)`` when each change of phone costs ``switch_penalty``."""
    num, vocab = log_probs.shape
    if num == 0 or switch_penalty == 0:
        return np.asarray(log_probs.argmax(axis=1))
    back = np.zeros((num, vocab), dtype=np.int64)
    score = log_probs[0].astype(np.float64)
    for t in range(1, num):
        best = int(score.argmax())
        switch = score[best] - switch_penalty
        stay = score >= switch
        back[t] = np.where(stay, np.arange(vocab), best)
        score = np.where(stay, score, switch) + log_probs[t]
    path = np.zeros(num, dtype=np.int64)
    path[-1] = int(score.argmax())
    for t in range(num - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def decode_one(
    log_probs: np.ndarray, vocab: Sequence[str], config: ViterbiConfig | None = None
) -> list[str]:
    """Decode one utterance.

    Args:
        log_probs: ``(S, V)`` scores per segment (log-probabilities or logits; only the argmax
            matters), already cut to the utterance's ``S`` valid segments.
        vocab: the ``V`` output tokens, in the generator's output order.
        config: decoding options (defaults: silence ``<SIL>``, merge repeats).

    Returns:
        The phone sequence, repeats merged and silence removed.
    """
    cfg = config or ViterbiConfig()
    if log_probs.ndim != 2 or log_probs.shape[1] != len(vocab):
        raise ValueError(
            f"log_probs must have shape (S, V={len(vocab)}) to match the vocabulary, got {log_probs.shape}"
        )
    if np.isnan(log_probs).any():
        raise ValueError("log_probs contain NaN: the generator diverged; pick an earlier checkpoint")
    ids = smooth_path(log_probs, cfg.switch_penalty)
    if cfg.merge_repeats and len(ids) > 1:
        ids = ids[np.concatenate(([True], ids[1:] != ids[:-1]))]
    return [vocab[i] for i in ids.tolist() if vocab[i] != cfg.silence]


@dataclass
class ViterbiDecoder:
    """Batched greedy decoder: ``(log_probs (B,S,V), lens (B,), vocab) -> list[list[str]]``."""

    config: ViterbiConfig = field(default_factory=ViterbiConfig)
    """Decoding options."""

    def __post_init__(self) -> None:
        self.config.validate()

    def __call__(self, log_probs: torch.Tensor, lens: torch.Tensor, vocab: Sequence[str]) -> list[list[str]]:
        """Decode a batch.

        Args:
            log_probs: ``(B, S, V)`` per-segment scores; positions ``>= lens[b]`` are padding and
                ignored.
            lens: ``(B,)`` number of valid segments per utterance.
            vocab: the ``V`` output tokens.

        Returns:
            ``B`` phone sequences, repeats merged and silence removed.
        """
        if log_probs.dim() != 3:
            raise ValueError(f"log_probs must have shape (B, S, V), got {tuple(log_probs.shape)}")
        batch, max_len, _ = log_probs.shape
        if lens.shape != (batch,):
            raise ValueError(f"lens must have shape (B,)=({batch},), got {tuple(lens.shape)}")
        lengths = lens.detach().cpu().tolist()
        if any(n < 0 or n > max_len for n in lengths):
            raise ValueError(f"lens must lie in [0, S={max_len}], got {lengths}")
        scores = log_probs.detach().float().cpu().numpy()
        return [decode_one(scores[b, : int(n)], vocab, self.config) for b, n in enumerate(lengths)]
