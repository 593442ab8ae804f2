"""Greedy ("Viterbi") decoding of segment-level phone distributions, as in wav2vec-U.

For each utterance: take the argmax phone of every segment, merge consecutive repeats, then drop
silence (so ``A <SIL> A`` becomes ``A A``: silence separates the two tokens before it is removed,
matching fairseq's ``w2vu_generate.py``). No language model is used.
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

    def validate(self) -> None:
        """Raise ValueError on an invalid configuration."""
        if not self.silence:
            raise ValueError("ViterbiConfig.silence must be a non-empty token, e.g. '<SIL>'")


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
    ids = log_probs.argmax(axis=1)
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
