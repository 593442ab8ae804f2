"""The Featurizer interface and registry.

A featurizer maps a batch of 16 kHz waveforms to frame features for the requested **layer
indices**, all from one forward pass.

Layer numbering (one convention for every backend, as in s3prl's hooks):

=========  =============================================================
index      meaning
=========  =============================================================
0          the representation entering the first transformer block
k (>= 1)   the output of transformer block k
=========  =============================================================

So fairseq's wav2vec-U ``--layer 14`` (a 0-based block index whose *output* it returns) is our 15,
and transformers' ``hidden_states[k]`` is our ``k``. Layer-less featurizers (MFCC, log-mel) have
``num_layers == 0`` and accept only layer 0.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import torch

from unsup_asr.registry import Registry


class Featurizer(abc.ABC):
    """Waveforms in, frame features per layer out."""

    num_layers: int
    """Number of transformer blocks (0 for layer-less features)."""
    dim: int
    """Feature dimension D of every layer."""
    frame_shift_s: float
    """Frame shift in seconds (0.02 for all built-in featurizers)."""

    def check_layers(self, layers: Sequence[int]) -> list[int]:
        """Validate and sort layer indices; raises ValueError naming the valid range."""
        if not layers:
            raise ValueError("no layers requested; pass e.g. layers=[0]")
        bad = [k for k in layers if not 0 <= k <= self.num_layers]
        if bad:
            raise ValueError(
                f"layer index(es) {bad} out of range for {type(self).__name__}: valid are 0..{self.num_layers} "
                "(0 = input of the first block, k = output of block k)"
            )
        return sorted(set(layers))

    @abc.abstractmethod
    def __call__(
        self, wavs: torch.Tensor, wav_lens: torch.Tensor, layers: Sequence[int]
    ) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
        """Features for each requested layer.

        Args:
            wavs: ``(B, N)`` float waveforms at 16 kHz, zero-padded.
            wav_lens: ``(B,)`` number of valid samples per waveform.
            layers: layer indices (see the module docstring).

        Returns:
            ``{layer: (feats (B, T, D) float32, lens (B,) int64 frames)}``.
        """

    def cache_config(self) -> dict[str, Any]:
        """Everything that determines the features (used for the cache key)."""
        raise NotImplementedError


FEATURIZERS: Registry[Featurizer] = Registry("features")
